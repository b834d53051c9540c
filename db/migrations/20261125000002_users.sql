-- migrate:up
create table data.users (
  id bigint generated always as identity primary key,
  name text not null,
  created_at timestamptz not null default now()
);
comment on table data.users is 'Registered users of the site; created_at is the registration time.';
create index users_created_at_idx on data.users (created_at);

-- Registrations per hour, day and month of local time (APP_TIMEZONE), kept by statement
-- triggers on data.users: a 12-month window is a sum of at most ~65 rows (11 months, the
-- days and hours of the first month) plus one partial hour counted from data.users, so its
-- cost does not grow with the table.
create table data.registrations_rollup (
  width text not null check (width in ('hour', 'day', 'month')),
  bucket timestamp not null,
  registrations bigint not null,
  primary key (width, bucket)
);
comment on table data.registrations_rollup is
  'Rollup: users registered per hour, day and month of local time (APP_TIMEZONE), bucket = local start; kept by triggers.';

-- Add counts[i] registrations (negative: remove) in local hour hours[i], at every width.
create function data.registrations_rollup_merge(hours timestamp[], counts bigint[])
returns void
language sql
set search_path = pg_catalog
as $$
  insert into data.registrations_rollup as r (width, bucket, registrations)
  select w.width, date_trunc(w.width, u.hour), sum(u.n)
  from unnest(hours, counts) u(hour, n)
  cross join (values ('hour'), ('day'), ('month')) w(width)
  group by 1, 2
  on conflict (width, bucket) do update set registrations = r.registrations + excluded.registrations
$$;

create function data.registrations_rollup_maintain() returns trigger
language plpgsql
set search_path = pg_catalog
as $$
declare
  tz constant text := data.app_timezone();
  hours timestamp[];
  counts bigint[];
begin
  if tg_op = 'TRUNCATE' then  -- no transition table: start again from nothing
    delete from data.registrations_rollup;
    return null;
  end if;
  -- signed registrations per local hour: new rows count +1, old rows -1
  if tg_op = 'INSERT' then
    select array_agg(hour), array_agg(n) into hours, counts
    from (select date_trunc('hour', created_at at time zone tz) as hour, count(*) as n
          from new_rows group by 1) per_hour;
  elsif tg_op = 'DELETE' then
    select array_agg(hour), array_agg(-n) into hours, counts
    from (select date_trunc('hour', created_at at time zone tz) as hour, count(*) as n
          from old_rows group by 1) per_hour;
  else -- UPDATE: only rows whose registration time moved
    select array_agg(hour), array_agg(n) into hours, counts
    from (select date_trunc('hour', moved.moment at time zone tz) as hour, sum(moved.sign) as n
          from old_rows o
          join new_rows r on r.id = o.id and r.created_at is distinct from o.created_at
          cross join lateral (values (r.created_at, 1), (o.created_at, -1)) moved(moment, sign)
          group by 1) per_hour
    where n <> 0;
  end if;
  if hours is not null then
    perform data.registrations_rollup_merge(hours, counts);
  end if;
  return null;
end
$$;
comment on function data.registrations_rollup_maintain() is 'Statement trigger on data.users: keeps data.registrations_rollup.';

create trigger users_rollup_insert after insert on data.users
  referencing new table as new_rows
  for each statement execute function data.registrations_rollup_maintain();
create trigger users_rollup_delete after delete on data.users
  referencing old table as old_rows
  for each statement execute function data.registrations_rollup_maintain();
create trigger users_rollup_update after update on data.users
  referencing old table as old_rows new table as new_rows
  for each statement execute function data.registrations_rollup_maintain();
create trigger users_rollup_truncate after truncate on data.users
  for each statement execute function data.registrations_rollup_maintain();

create function data.registrations_rollup_rebuild() returns void
language plpgsql
set search_path = pg_catalog
as $$
declare
  tz constant text := data.app_timezone();
begin
  lock table data.users in share mode;
  delete from data.registrations_rollup;
  insert into data.registrations_rollup (width, bucket, registrations)
  select w.width, date_trunc(w.width, h.local_hour), sum(h.n)
  from (
    select date_trunc('hour', u.created_at at time zone tz) as local_hour, count(*) as n
    from data.users u
    group by 1
  ) h
  cross join (values ('hour'), ('day'), ('month')) w(width)
  group by 1, 2;
end
$$;
comment on function data.registrations_rollup_rebuild() is 'Recompute the registrations rollup from data.users (after a time zone change).';

create trigger users_notify after insert or update or delete or truncate on data.users
  for each statement execute function data.notify_table_changed();

-- Changing APP_TIMEZONE moves every local hour: rebuild the rollup in the same transaction.
create function data.app_timezone_set(tz text) returns boolean
language plpgsql
set search_path = pg_catalog
as $$
begin
  if not exists (select 1 from pg_timezone_names where name = tz)
     and not exists (select 1 from pg_timezone_abbrevs where abbrev = tz) then
    raise exception 'unknown time zone: %', tz using errcode = '22023';
  end if;
  if data.app_timezone() = tz then
    return false;
  end if;
  update data.settings set value = tz where name = 'app_timezone';
  perform data.registrations_rollup_rebuild();
  return true;
end
$$;
comment on function data.app_timezone_set(text) is 'Set APP_TIMEZONE and rebuild the rollups keyed by local time; returns whether it changed.';

-- migrate:down
drop function data.app_timezone_set(text);
drop table data.users;
drop table data.registrations_rollup;
drop function data.registrations_rollup_maintain();
drop function data.registrations_rollup_merge(timestamp[], bigint[]);
drop function data.registrations_rollup_rebuild();
