-- New-user registrations per month, gap-filled, in APP_TIMEZONE.

create or replace function api.monthly_registrations(as_of timestamptz default null)
returns table (month text, registrations bigint)
language sql
stable
set search_path = pg_catalog
as $$
  with bounds as (
    select s.tz,
           (s.t at time zone s.tz) - interval '12 months' as local_start,
           date_trunc('month', s.t at time zone s.tz) as local_end
    from (select data.app_timezone() as tz, coalesce(as_of, now()) as t) s
  ), edges as (
    select b.*,
           b.local_start at time zone b.tz as window_start,
           date_trunc('hour', b.local_start) + interval '1 hour' as first_full_hour
    from bounds b
  ), months as (
    select m as month_start, m + interval '1 month' as month_end
    from edges e,
         generate_series(date_trunc('month', e.local_start), e.local_end - interval '1 month', interval '1 month') m
  ), rolled as (
    select m.month_start, coalesce(sum(h.registrations), 0)::bigint as n
    from months m
    cross join edges e
    left join data.registrations_hourly h
      on h.local_hour >= greatest(m.month_start, e.first_full_hour)
     and h.local_hour < m.month_end
    group by m.month_start
  ), head as (
    -- the partial hour at the start of the window, counted exactly
    select count(*) as n
    from edges e
    join data.users u
      on u.created_at >= e.window_start
     and u.created_at < e.first_full_hour at time zone e.tz
  )
  select to_char(r.month_start, 'YYYY-MM'),
         r.n + case when r.month_start = (select min(month_start) from months)
                    then (select n from head) else 0 end
  from rolled r
  order by r.month_start
$$;

comment on function api.monthly_registrations(timestamptz) is
$$New users per month for the 12 months before the month of as_of (default: now), oldest first.
The window is [as_of - 12 months, start of as_of's month) in APP_TIMEZONE: the first month is partial
and counts only registrations at or after as_of - 12 months. Months without registrations give 0.
@http cache=users,settings valid_until=monthly_registrations_valid_until$$;

create or replace function api.monthly_registrations_valid_until(as_of timestamptz default null)
returns timestamptz
language sql
stable
set search_path = pg_catalog
as $$
  -- An explicit as_of never changes by time alone. Otherwise the answer changes at
  -- the next month start, or when the oldest registration in the window leaves it.
  select case
    when as_of is not null then 'infinity'::timestamptz
    else least(
      (date_trunc('month', now() at time zone s.tz) + interval '1 month') at time zone s.tz,
      (select ((min(u.created_at) at time zone s.tz) + interval '12 months') at time zone s.tz
       from data.users u
       where u.created_at >= ((now() at time zone s.tz) - interval '12 months') at time zone s.tz)
    )
  end
  from (select data.app_timezone() as tz) s
$$;

comment on function api.monthly_registrations_valid_until(timestamptz) is
'The moment until which api.monthly_registrations(as_of) can change only by writes, not by time alone.';
