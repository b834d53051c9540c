-- Introspection of the api schema, read by the gateway at start-up and on reload.

create or replace function api.function_catalogue()
returns table (
  name text,
  args jsonb,
  returns_set boolean,
  return_type text,
  volatility text,
  description text
)
language sql
stable
set search_path = pg_catalog
as $$
  select p.proname::text,
         coalesce((
           select jsonb_agg(jsonb_build_object(
                    'name', a.name,
                    'type', format_type(a.type, null),
                    'required', a.position <= p.pronargs - p.pronargdefaults)
                  order by a.position)
           from (
             select all_args.name, all_args.type,
                    row_number() over (order by all_args.i) as position
             from (
               select i,
                      p.proargnames[i] as name,
                      coalesce(p.proallargtypes[i], (p.proargtypes::oid[])[i - 1]) as type,
                      coalesce(p.proargmodes[i], 'i') as mode
               -- proargtypes is an oidvector, indexed from 0
               from generate_series(1, coalesce(array_length(p.proallargtypes, 1), p.pronargs)) i
             ) all_args
             where all_args.mode in ('i', 'b', 'v')
           ) a
         ), '[]'::jsonb),
         p.proretset,
         format_type(p.prorettype, null),
         case p.provolatile when 'i' then 'immutable' when 's' then 'stable' else 'volatile' end,
         obj_description(p.oid, 'pg_proc')
  from pg_proc p
  join pg_namespace n on n.oid = p.pronamespace
  where n.nspname = 'api'
    and p.prokind = 'f'
  order by p.proname
$$;

comment on function api.function_catalogue() is
'Every function of the api schema with its input arguments, return shape, volatility and comment.';
