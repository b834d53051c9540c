-- Tests of api.monthly_registrations. Run: psql -v ON_ERROR_STOP=1 -f db/tests/registrations.sql
-- Everything happens in one transaction that is rolled back.
begin;
\ir _helpers.sql

delete from data.users;

-- naive reference: count straight from data.users, no rollup
create function pg_temp.reference(as_of timestamptz)
returns table (month text, registrations bigint)
language sql stable as $$
  with b as (
    select data.app_timezone() as tz,
           (as_of at time zone data.app_timezone()) - interval '12 months' as local_start,
           date_trunc('month', as_of at time zone data.app_timezone()) as local_end
  )
  select to_char(m, 'YYYY-MM'),
         (select count(*) from data.users u
          where u.created_at >= b.local_start at time zone b.tz
            and u.created_at >= m at time zone b.tz
            and u.created_at < (m + interval '1 month') at time zone b.tz)
  from b, generate_series(date_trunc('month', b.local_start), b.local_end - interval '1 month', interval '1 month') m
  order by m
$$;

create function pg_temp.count_in(as_of timestamptz, wanted text) returns bigint
language sql stable as $$
  select registrations from api.monthly_registrations(as_of) where month = wanted
$$;

create procedure pg_temp.expect_same_as_reference(as_of timestamptz)
language plpgsql as $$
declare
  diff text;
begin
  select string_agg(format('%s: %s vs %s', coalesce(f.month, r.month), f.registrations, r.registrations), '; ')
  into diff
  from api.monthly_registrations(as_of) f
  full join pg_temp.reference(as_of) r on r.month = f.month
  where f.registrations is distinct from r.registrations;
  if diff is not null then
    raise exception 'as_of %: function and reference differ: %', as_of, diff;
  end if;
end
$$;

-- shape: exactly 12 months, oldest first, gap-filled with 0
do $$
declare
  months text[];
begin
  select array_agg(month order by ordinality)
  into months
  from api.monthly_registrations('2025-03-15 12:00:00+00') with ordinality;
  perform pg_temp.expect('months', months, array['2024-03','2024-04','2024-05','2024-06','2024-07',
    '2024-08','2024-09','2024-10','2024-11','2024-12','2025-01','2025-02']);
  perform pg_temp.expect('empty table gives zeros',
    (select sum(registrations) from api.monthly_registrations('2025-03-15 12:00:00+00')), 0::numeric);
end
$$;

-- window start: exactly as_of - 12 months counts, one microsecond before does not
insert into data.users (name, created_at) values
  ('at start', '2024-03-15 12:00:00+00'),
  ('just before start', '2024-03-15 11:59:59.999999+00');
do $$
begin
  perform pg_temp.expect('first month is partial',
    pg_temp.count_in('2025-03-15 12:00:00+00', '2024-03'), 1::bigint);
  perform pg_temp.expect('one microsecond later the start user leaves',
    pg_temp.count_in('2025-03-15 12:00:00.000001+00', '2024-03'), 0::bigint);
end
$$;

-- month edges, and the current month is not counted
delete from data.users;
insert into data.users (name, created_at) values
  ('last of march', '2024-03-31 23:59:59.999999+00'),
  ('first of april', '2024-04-01 00:00:00+00'),
  ('last of february', '2025-02-28 23:59:59.999999+00'),
  ('current month', '2025-03-01 00:00:00+00'),
  ('future', '2025-03-20 00:00:00+00');
do $$
declare
  as_of constant timestamptz := '2025-03-15 12:00:00+00';
begin
  perform pg_temp.expect('march edge', pg_temp.count_in(as_of, '2024-03'), 1::bigint);
  perform pg_temp.expect('april edge', pg_temp.count_in(as_of, '2024-04'), 1::bigint);
  perform pg_temp.expect('last month', pg_temp.count_in(as_of, '2025-02'), 1::bigint);
  perform pg_temp.expect('empty month', pg_temp.count_in(as_of, '2024-07'), 0::bigint);
  perform pg_temp.expect('total', (select sum(registrations) from api.monthly_registrations(as_of)), 3::numeric);
end
$$;

-- 29 February
delete from data.users;
insert into data.users (name, created_at) values ('leap day', '2024-02-29 10:00:00+00');
do $$
begin
  perform pg_temp.expect('leap day inside the window',
    pg_temp.count_in('2025-02-28 10:00:00+00', '2024-02'), 1::bigint);
  perform pg_temp.expect('leap day outside the window',
    (select sum(registrations) from api.monthly_registrations('2025-03-01 00:00:00+00')), 0::numeric);
  perform pg_temp.expect('as_of on a leap day starts on 28 February',
    (select min(month) from api.monthly_registrations('2024-02-29 12:00:00+00')), '2023-02'::text);
  perform pg_temp.expect('leap day as a full month member',
    pg_temp.count_in('2024-03-10 00:00:00+00', '2024-02'), 1::bigint);
end
$$;

-- the rollup follows inserts, updates (moves) and deletes; checked against the reference
delete from data.users;
insert into data.users (name, created_at)
select 'user ' || g,
       timestamptz '2023-06-01 00:00:00+00'
         + (('x' || substr(md5(g::text), 1, 8))::bit(32)::bigint % (730 * 86400)) * interval '1 second'
         + (g % 1000) * interval '1 microsecond'
from generate_series(1, 5000) g;
update data.users set created_at = created_at + interval '40 days' where id % 7 = 0;
delete from data.users where id % 11 = 0;
call pg_temp.expect_same_as_reference('2025-03-15 12:34:56.789+00');
call pg_temp.expect_same_as_reference('2024-12-31 23:59:59.999999+00');
call pg_temp.expect_same_as_reference('2025-01-01 00:00:00+00');

-- a non-UTC time zone with a half-hour offset: months begin at local midnight
do $$ begin perform data.app_timezone_set('Asia/Kolkata'); end $$;
call pg_temp.expect_same_as_reference('2025-03-15 12:34:56.789+00');
call pg_temp.expect_same_as_reference('2024-10-27 01:30:00+00');
delete from data.users;
insert into data.users (name, created_at) values
  ('23:59 IST on 31 March', '2024-03-31 18:29:59.999999+00'),
  ('00:00 IST on 1 April', '2024-03-31 18:30:00+00'),
  ('window start', '2024-03-15 12:10:00+00'),
  ('just before window start', '2024-03-15 12:09:59.999999+00');
do $$
declare
  as_of constant timestamptz := '2025-03-15 12:10:00+00';  -- 17:40 IST
begin
  perform pg_temp.expect('IST march', pg_temp.count_in(as_of, '2024-03'), 2::bigint);
  perform pg_temp.expect('IST april', pg_temp.count_in(as_of, '2024-04'), 1::bigint);
end
$$;

-- a time zone with daylight saving time
do $$ begin perform data.app_timezone_set('America/New_York'); end $$;
call pg_temp.expect_same_as_reference('2025-03-09 07:30:00+00');
call pg_temp.expect_same_as_reference('2024-11-03 06:30:00+00');

-- validity: explicit as_of never expires by time; otherwise at most the next month start
do $$ begin perform data.app_timezone_set('UTC'); end $$;
do $$
declare
  next_month constant timestamp := date_trunc('month', now() at time zone 'UTC') + interval '1 month';
begin
  perform pg_temp.expect('explicit as_of', api.monthly_registrations_valid_until(now()), 'infinity'::timestamptz);
  delete from data.users;
  perform pg_temp.expect('empty: next month start',
    api.monthly_registrations_valid_until(), next_month at time zone 'UTC');
  insert into data.users (name, created_at) values ('leaves soon', now() - interval '12 months' + interval '1 hour');
  perform pg_temp.expect('oldest registration leaves the window',
    api.monthly_registrations_valid_until(), least(now() + interval '1 hour', next_month at time zone 'UTC'));
end
$$;

rollback;
