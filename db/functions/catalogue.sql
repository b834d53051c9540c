-- Introspection of the api schema, read by the gateway at start-up and on reload.
--
-- A function is exposed over HTTP (/rpc/<name>) when its comment has a line
--   @http [cache=table,table] [valid_until=function] [timeout_ms=N] [max_rows=N]
-- The other lines of the comment are its description.

-- A function that returns api.json_text renders its JSON itself: the gateway sends the text
-- as the response body as it is, neither parsed again nor quoted as a JSON string. The
-- function vouches that it is valid JSON (psql shows it as text; cast it with ::json).
do $$ begin
  create domain api.json_text as text;
exception when duplicate_object then null;
end $$;
comment on domain api.json_text is
  'JSON rendered by the function itself; the gateway sends it as the response body unchanged.';

create or replace function api.function_catalogue()
returns table (
  name text,
  args jsonb,
  returns_set boolean,
  return_type text,
  columns jsonb,
  volatility text,
  exposed boolean,
  options jsonb,
  description text
)
language sql
stable
set search_path = pg_catalog
as $$
  with functions as (
    select p.*, coalesce(obj_description(p.oid, 'pg_proc'), '') as comment
    from pg_proc p
    join pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'api'
      and p.prokind = 'f'
  ), arguments as (
    -- every declared argument; proargtypes is an oidvector, indexed from 0
    select f.oid,
           i as position,
           f.proargnames[i] as name,
           coalesce(f.proallargtypes[i], (f.proargtypes::oid[])[i - 1]) as type,
           coalesce(f.proargmodes[i], 'i') as mode
    from functions f,
         generate_series(1, coalesce(array_length(f.proallargtypes, 1), f.pronargs)) i
  ), tags as (
    select f.oid, substring(f.comment from '(?m)^@http\M(.*)$') as tag
    from functions f
  )
  select f.proname::text,
         coalesce((
           select jsonb_agg(jsonb_build_object(
                    'name', a.name,
                    'type', format_type(a.type, null),
                    'required', a.n <= f.pronargs - f.pronargdefaults)
                  order by a.n)
           from (
             select arguments.*, row_number() over (order by position) as n
             from arguments
             where arguments.oid = f.oid and mode in ('i', 'b', 'v')
           ) a
         ), '[]'::jsonb),
         f.proretset,
         format_type(f.prorettype, null),
         coalesce(
           (select jsonb_agg(jsonb_build_object('name', a.name, 'type', format_type(a.type, null))
                             order by a.position)
            from arguments a
            where a.oid = f.oid and a.mode in ('o', 'b', 't')),
           (select jsonb_agg(jsonb_build_object('name', att.attname, 'type', format_type(att.atttypid, att.atttypmod))
                             order by att.attnum)
            from pg_type t
            join pg_attribute att on att.attrelid = t.typrelid
            where t.oid = f.prorettype and t.typrelid <> 0 and att.attnum > 0 and not att.attisdropped)
         ),
         case f.provolatile when 'i' then 'immutable' when 's' then 'stable' else 'volatile' end,
         t.tag is not null,
         coalesce(
           (select jsonb_object_agg(m[1], m[2])
            from regexp_matches(t.tag, '([a-z_]+)=(\S+)', 'g') m),
           '{}'::jsonb),
         btrim(regexp_replace(f.comment, '(?m)^@http\M.*$\n?', '', 'g'), e' \n')
  from functions f
  join tags t on t.oid = f.oid
  order by f.proname
$$;

comment on function api.function_catalogue() is
$$Every function of the api schema: input arguments, result shape and columns, volatility,
whether it is exposed over HTTP (an @http line in its comment) with the line's options, and
its description.$$;
