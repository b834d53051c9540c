-- migrate:up
create table data.users (
  id bigint generated always as identity primary key,
  name text not null,
  created_at timestamptz not null default now()
);
comment on table data.users is 'Registered users of the site; created_at is the registration time.';
create index users_created_at_idx on data.users (created_at);

-- Registrations per local hour (in APP_TIMEZONE), kept by statement triggers on
-- data.users, so that a month is a sum of at most ~744 rows whatever the table size.
create table data.registrations_hourly (
  local_hour timestamp primary key,
  registrations bigint not null
);
comment on table data.registrations_hourly is 'Rollup: users registered per hour of local time (APP_TIMEZONE); maintained by triggers.';

create function data.registrations_hourly_add() returns trigger
language plpgsql
set search_path = pg_catalog
as $$
declare
  tz text := data.app_timezone();
begin
  insert into data.registrations_hourly as r (local_hour, registrations)
  select date_trunc('hour', created_at at time zone tz), count(*)
  from new_rows
  group by 1
  on conflict (local_hour) do update set registrations = r.registrations + excluded.registrations;
  return null;
end
$$;

create function data.registrations_hourly_remove() returns trigger
language plpgsql
set search_path = pg_catalog
as $$
declare
  tz text := data.app_timezone();
begin
  update data.registrations_hourly r
  set registrations = r.registrations - gone.n
  from (
    select date_trunc('hour', created_at at time zone tz) as local_hour, count(*) as n
    from old_rows
    group by 1
  ) gone
  where r.local_hour = gone.local_hour;
  return null;
end
$$;

create function data.registrations_hourly_move() returns trigger
language plpgsql
set search_path = pg_catalog
as $$
declare
  tz text := data.app_timezone();
begin
  with moved as (
    select o.created_at as old_at, n.created_at as new_at
    from old_rows o
    join new_rows n on n.id = o.id
    where o.created_at is distinct from n.created_at
  ), delta as (
    select date_trunc('hour', new_at at time zone tz) as local_hour, 1 as n from moved
    union all
    select date_trunc('hour', old_at at time zone tz), -1 from moved
  )
  insert into data.registrations_hourly as r (local_hour, registrations)
  select local_hour, sum(n) from delta group by 1
  on conflict (local_hour) do update set registrations = r.registrations + excluded.registrations;
  return null;
end
$$;

create function data.registrations_hourly_rebuild() returns void
language plpgsql
set search_path = pg_catalog
as $$
declare
  tz text := data.app_timezone();
begin
  lock table data.users in share mode;
  delete from data.registrations_hourly;
  insert into data.registrations_hourly (local_hour, registrations)
  select date_trunc('hour', created_at at time zone tz), count(*)
  from data.users
  group by 1;
end
$$;
comment on function data.registrations_hourly_rebuild() is 'Recompute the registrations rollup from data.users (after a time zone change).';

create trigger users_rollup_insert after insert on data.users
  referencing new table as new_rows
  for each statement execute function data.registrations_hourly_add();
create trigger users_rollup_delete after delete on data.users
  referencing old table as old_rows
  for each statement execute function data.registrations_hourly_remove();
create trigger users_rollup_update after update on data.users
  referencing old table as old_rows new table as new_rows
  for each statement execute function data.registrations_hourly_move();
-- truncate has no transition table: empty the rollup with it.
create function data.registrations_hourly_clear() returns trigger
language plpgsql
set search_path = pg_catalog
as $$
begin
  delete from data.registrations_hourly;
  return null;
end
$$;
create trigger users_rollup_truncate after truncate on data.users
  for each statement execute function data.registrations_hourly_clear();

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
  perform data.registrations_hourly_rebuild();
  return true;
end
$$;
comment on function data.app_timezone_set(text) is 'Set APP_TIMEZONE and rebuild the rollups keyed by local time; returns whether it changed.';

-- migrate:down
drop function data.app_timezone_set(text);
drop table data.users;
drop table data.registrations_hourly;
drop function data.registrations_hourly_add();
drop function data.registrations_hourly_remove();
drop function data.registrations_hourly_move();
drop function data.registrations_hourly_clear();
drop function data.registrations_hourly_rebuild();
