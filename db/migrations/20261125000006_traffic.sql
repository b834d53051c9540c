-- migrate:up
-- Repository traffic kept beyond GitHub's 14 days. A GitHub repository is stored once,
-- whoever tracks it (traffic_repos); owners link to it (owner_repos), so that one owner
-- deleting it does not delete another owner's history.
create table data.traffic_repos (
  id bigint generated always as identity primary key,
  owner text not null,
  name text not null,
  fetched_at timestamptz,
  error_status integer,
  error text,
  error_at timestamptz
);
comment on table data.traffic_repos is
  'GitHub repositories whose traffic is collected, once per repository; the last fetch error is kept.';
create unique index traffic_repos_name_key on data.traffic_repos (lower(owner), lower(name));

create table data.owner_repos (
  id bigint generated always as identity primary key,
  account_id bigint not null references data.accounts (id) on delete cascade,
  repo_id bigint not null references data.traffic_repos (id),
  created_at timestamptz not null default now(),
  unique (account_id, repo_id)
);
comment on table data.owner_repos is 'Which owner tracks which repository; id is the owner''s repository id.';
create index owner_repos_repo_idx on data.owner_repos (repo_id);

create table data.traffic_daily (
  repo_id bigint not null references data.traffic_repos (id) on delete cascade,
  day date not null,
  views integer not null default 0,
  uniques integer not null default 0,
  clones integer not null default 0,
  clone_uniques integer not null default 0,
  fetched_at timestamptz not null default now(),
  primary key (repo_id, day)
);
comment on table data.traffic_daily is 'Views and clones per repository per UTC day; the latest fetch of a day wins.';

create table data.traffic_popular (
  repo_id bigint not null references data.traffic_repos (id) on delete cascade,
  day date not null,
  kind text not null check (kind in ('referrer', 'path')),
  item text not null,
  title text,
  count integer not null,
  uniques integer not null,
  primary key (repo_id, day, kind, item)
);
comment on table data.traffic_popular is
  'Daily snapshot of GitHub''s popular referrers and paths: each row is a 14-day aggregate, not a day''s value.';

-- a repository nobody tracks any more goes, with its data
create function data.traffic_repos_prune() returns trigger
language plpgsql
set search_path = pg_catalog
as $$
begin
  delete from data.traffic_repos r
  where r.id in (select o.repo_id from old_rows o)
    and not exists (select 1 from data.owner_repos x where x.repo_id = r.id);
  return null;
end
$$;
create trigger owner_repos_prune after delete on data.owner_repos
  referencing old table as old_rows
  for each statement execute function data.traffic_repos_prune();

-- a new repository is fetched at once: the collector listens
create function data.traffic_repo_added() returns trigger
language plpgsql
set search_path = pg_catalog
as $$
begin
  perform pg_notify('traffic_repo_added', new.id::text);
  return null;
end
$$;
create trigger traffic_repos_added after insert on data.traffic_repos
  for each row execute function data.traffic_repo_added();

create trigger traffic_repos_notify after insert or update or delete or truncate on data.traffic_repos
  for each statement execute function data.notify_table_changed();
create trigger owner_repos_notify after insert or update or delete or truncate on data.owner_repos
  for each statement execute function data.notify_table_changed();
create trigger traffic_daily_notify after insert or update or delete or truncate on data.traffic_daily
  for each statement execute function data.notify_table_changed();
create trigger traffic_popular_notify after insert or update or delete or truncate on data.traffic_popular
  for each statement execute function data.notify_table_changed();

-- migrate:down
drop table data.traffic_popular;
drop table data.traffic_daily;
drop table data.owner_repos;
drop table data.traffic_repos;
drop function data.traffic_repos_prune();
drop function data.traffic_repo_added();
