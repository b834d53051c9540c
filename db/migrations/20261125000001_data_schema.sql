-- migrate:up
-- Private data layer: tables live here; callers use the api schema.
create schema data;
comment on schema data is 'Private tables and data-maintenance triggers. Callers use the api schema.';

create table data.settings (
  name text primary key,
  value text not null
);
comment on table data.settings is 'Deployment settings the SQL layer reads, written by the migrate step.';
insert into data.settings (name, value) values ('app_timezone', 'UTC');

create function data.app_timezone() returns text
language sql stable
as $$
  select value from data.settings where name = 'app_timezone'
$$;
comment on function data.app_timezone() is 'The time zone in which days and months begin (APP_TIMEZONE).';

-- Every write to a table the cache may depend on announces itself once per
-- transaction (PostgreSQL folds identical notifications of one transaction).
create function data.notify_table_changed() returns trigger
language plpgsql
set search_path = pg_catalog
as $$
begin
  perform pg_notify('table_changed', tg_table_name);
  return null;
end
$$;
comment on function data.notify_table_changed() is 'Statement trigger: NOTIFY table_changed with the table name, for cache eviction.';

create trigger settings_notify after insert or update or delete or truncate on data.settings
  for each statement execute function data.notify_table_changed();

-- migrate:down
drop schema data cascade;
