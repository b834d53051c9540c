-- migrate:up
-- Tracked GitHub accounts, their repositories (by GitHub's id, so renames and transfers keep
-- history), one statistics snapshot per repository per day, stored ETags and collector runs.
create table data.github_accounts (
  id bigint primary key,
  login text not null,
  name text,
  tracked_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table data.github_accounts is 'GitHub users/organisations tracked by operators; id is GitHub''s.';
create unique index github_accounts_login_key on data.github_accounts (lower(login));

create table data.github_repos (
  id bigint primary key,
  account_id bigint not null references data.github_accounts (id) on delete cascade,
  full_name text not null,
  first_seen date not null,
  last_seen date not null,
  gone_since date
);
comment on table data.github_repos is
  'Repositories of tracked accounts by GitHub id; gone_since is set when GitHub stops listing one.';
create index github_repos_account_idx on data.github_repos (account_id);

create table data.github_repo_stats (
  repo_id bigint not null references data.github_repos (id) on delete cascade,
  day date not null,
  stargazers integer not null,
  forks integer not null,
  watchers integer not null,
  collected_at timestamptz not null default now(),
  primary key (repo_id, day)
);
comment on table data.github_repo_stats is
  'One snapshot per repository per UTC day; watchers = subscribers_count (people watching).';

create table data.github_etags (
  url text primary key,
  etag text not null,
  body jsonb not null,
  updated_at timestamptz not null default now()
);
comment on table data.github_etags is 'Last ETag and body per GitHub URL, for conditional requests across restarts.';

create table data.collector_runs (
  id bigint generated always as identity primary key,
  day date not null,
  started_at timestamptz not null default now(),
  finished_at timestamptz,
  repositories integer not null default 0,
  requests integer not null default 0,
  not_modified integer not null default 0,
  errors integer not null default 0,
  error text
);
comment on table data.collector_runs is 'One row per collector run: when, how many repositories, requests, 304s and errors.';
create index collector_runs_day_idx on data.collector_runs (day, finished_at);

create trigger github_accounts_notify after insert or update or delete or truncate on data.github_accounts
  for each statement execute function data.notify_table_changed();
create trigger github_repos_notify after insert or update or delete or truncate on data.github_repos
  for each statement execute function data.notify_table_changed();
create trigger github_repo_stats_notify after insert or update or delete or truncate on data.github_repo_stats
  for each statement execute function data.notify_table_changed();

-- migrate:down
drop table data.collector_runs;
drop table data.github_etags;
drop table data.github_repo_stats;
drop table data.github_repos;
drop table data.github_accounts;
