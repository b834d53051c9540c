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
    -- local times: the window starts mid-hour; whole hours follow until the first full
    -- day, whole days until the second month, whole months until local_end
    select b.*,
           date_trunc('month', b.local_start) as first_month,
           date_trunc('hour', b.local_start) + interval '1 hour' as first_full_hour,
           date_trunc('day', b.local_start) + interval '1 day' as first_full_day,
           date_trunc('month', b.local_start) + interval '1 month' as second_month
    from bounds b
  ), parts as (
    select r.bucket as month, r.registrations as n
    from edges e
    join data.registrations_rollup r
      on r.width = 'month' and r.bucket >= e.second_month and r.bucket < e.local_end
    union all
    select e.first_month, r.registrations
    from edges e
    join data.registrations_rollup r
      on r.width = 'day' and r.bucket >= e.first_full_day and r.bucket < e.second_month
    union all
    select e.first_month, r.registrations
    from edges e
    join data.registrations_rollup r
      on r.width = 'hour' and r.bucket >= e.first_full_hour and r.bucket < e.first_full_day
    union all
    select e.first_month, count(*)
    from edges e
    join data.users u
      on u.created_at >= e.local_start at time zone e.tz
     and u.created_at < e.first_full_hour at time zone e.tz
    group by e.first_month
  )
  select to_char(m, 'YYYY-MM'), coalesce(sum(p.n), 0)::bigint
  from edges e
  cross join generate_series(e.first_month, e.local_end - interval '1 month', interval '1 month') m
  left join parts p on p.month = m
  group by m
  order by m
$$;

comment on function api.monthly_registrations(timestamptz) is
$$New users per month for the 12 months before the month of as_of (default: now), oldest first.
The window is [as_of - 12 months, start of as_of's month) in APP_TIMEZONE: the first month is partial
and counts only registrations at or after as_of - 12 months. Months without registrations give 0.
@http auth=public cache=users,settings valid_until=monthly_registrations_valid_until$$;

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
