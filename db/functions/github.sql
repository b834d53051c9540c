-- Tracked GitHub accounts and their daily repository statistics. The collector
-- (gateway/collector.py) is the only writer of what comes from GitHub, through these.

-- idempotent for a DBA re-running this file; `make migrate` rebuilds the schema anyway
do $$ begin
  create type api.github_account_row as (id bigint, login text, name text);
exception when duplicate_object then null;
end $$;
comment on type api.github_account_row is 'A tracked GitHub account as callers see it.';

create or replace function api.github_account_upsert(account_id bigint, login text, name text)
returns table (id bigint, login text, name text, created boolean)
language sql
volatile
set search_path = pg_catalog
as $$
  insert into data.github_accounts as a (id, login, name)
  values (account_id, github_account_upsert.login, github_account_upsert.name)
  on conflict (id) do update
    set login = excluded.login, name = excluded.name, updated_at = now()
  returning a.id, a.login, a.name, (xmax = 0)
$$;
comment on function api.github_account_upsert(bigint, text, text) is
  'Track a GitHub account (or refresh its login and name); created is true when it is new.';

create or replace function api.github_accounts_list()
returns setof api.github_account_row
language sql
stable
set search_path = pg_catalog
as $$
  select a.id, a.login, a.name from data.github_accounts a order by a.id
$$;
comment on function api.github_accounts_list() is
$$Every tracked GitHub account.
@http auth=operator cache=github_accounts$$;

create or replace function api.github_account_get(account_id bigint)
returns setof api.github_account_row
language plpgsql
stable
set search_path = pg_catalog
as $$
begin
  return query select a.id, a.login, a.name from data.github_accounts a where a.id = account_id;
  if not found then
    raise sqlstate 'PT404' using message = 'user not found';
  end if;
end
$$;
comment on function api.github_account_get(bigint) is
$$One tracked GitHub account by GitHub id, or 404 "user not found".
@http auth=operator cache=github_accounts$$;

create or replace function api.github_account_delete(account_id bigint)
returns void
language plpgsql
volatile
set search_path = pg_catalog
as $$
begin
  -- the statistics first, then the repositories, then the account: one transaction
  delete from data.github_repo_stats s
  using data.github_repos r
  where r.id = s.repo_id and r.account_id = github_account_delete.account_id;
  delete from data.github_repos r where r.account_id = github_account_delete.account_id;
  delete from data.github_accounts a where a.id = github_account_delete.account_id;
  if not found then
    raise sqlstate 'PT404' using message = 'user not found';
  end if;
end
$$;
comment on function api.github_account_delete(bigint) is
$$Stop tracking an account and delete its statistics; 404 when it is not tracked.
@http auth=admin$$;

create or replace function api.github_account_stats_parts(
  account_id bigint, date_from date default null, date_to date default null)
returns setof api.json_text
language plpgsql
stable
set search_path = pg_catalog
set work_mem = '32MB'  -- return query keeps the ~6 MB of parts in memory, not in a temp file
as $$
declare
  head text;
begin
  if date_from > date_to then
    raise sqlstate 'PT400' using message = 'date_from is later than date_to', detail = 'date_from';
  end if;
  select '{"user":' || json_build_object('id', a.id, 'login', a.login, 'name', a.name)::text
         || ',"stats":['
  into head
  from data.github_accounts a
  where a.id = github_account_stats_parts.account_id;
  if head is null then
    raise sqlstate 'PT404' using message = 'user not found';
  end if;
  -- One part per repository (about 30 kB for a year), in order: a single value of 6 MB was
  -- copied several times on its way out (the aggregate, the assignment, the return, the
  -- output function), each copy into fresh memory; the gateway joins the parts once.
  -- The snapshots come pre-rendered per repository and month (data.github_stat_months); a
  -- month the dates cut through is rendered here from its snapshots.
  return query
    select (case when row_number() over (order by x.repo_id) = 1 then head else ',' end
            || x.body)::api.json_text
    from (
      select m.repo_id,
             string_agg(case when f.partial then p.body else m.body end, ','
                        order by m.month) as body
      from data.github_repos r
      join data.github_stat_months m on m.repo_id = r.id
      cross join lateral (
        select not ((date_from is null or date_from <= m.first_day)
                    and (date_to is null or date_to >= m.last_day)) as partial
      ) f
      left join lateral (
        select string_agg(data.github_stat_json(s.repo_id, s.day, s.stargazers, s.forks,
                                                s.watchers), ',' order by s.day) as body
        from data.github_repo_stats s
        where f.partial
          and s.repo_id = m.repo_id
          and s.day >= m.month and s.day < m.month + interval '1 month'
          and (date_from is null or s.day >= date_from)
          and (date_to is null or s.day <= date_to)
      ) p on true
      where r.account_id = github_account_stats_parts.account_id
        and (date_from is null or m.last_day >= date_from)
        and (date_to is null or m.first_day <= date_to)
      group by m.repo_id
    ) x
    where x.body is not null  -- a repository with no snapshot between the dates
    order by x.repo_id;
  if not found then
    return next head::api.json_text;
  end if;
  return next ']}'::api.json_text;
end
$$;
comment on function api.github_account_stats_parts(bigint, date, date) is
$$Daily snapshots (stargazers, forks, watchers = people watching) of every repository of a
tracked account between date_from and date_to (inclusive, both optional), by repository then
date: one JSON document in parts, to be joined in order (api.github_account_stats joins them).
@http auth=operator cache=github_accounts,github_repos,github_repo_stats$$;

create or replace function api.github_account_stats(
  account_id bigint, date_from date default null, date_to date default null)
returns api.json_text
language sql
stable
set search_path = pg_catalog
as $$
  select string_agg(p.part, '' order by p.n)::api.json_text
  from api.github_account_stats_parts(account_id, date_from, date_to)
       with ordinality as p (part, n)
$$;
comment on function api.github_account_stats(bigint, date, date) is
$$Daily snapshots (stargazers, forks, watchers = people watching) of every repository of a
tracked account between date_from and date_to (inclusive, both optional), by repository then
date, as one JSON document (`::json` it in psql).
@http auth=operator cache=github_accounts,github_repos,github_repo_stats$$;

create or replace function api.github_repos_sync(account_id bigint, day date, repos jsonb)
returns table (repo_id bigint, full_name text, event text)
language sql
volatile
set search_path = pg_catalog
as $$
  -- repos: [{"id", "full_name", "stargazers", "forks", "watchers"}] as GitHub lists them today.
  -- Upserts the repositories (renames and transfers keep their id and history), upserts
  -- today's snapshot (a second run the same day updates it), and marks repositories that
  -- GitHub no longer lists for this account as gone. Returns what changed, for the logs.
  with incoming as (
    select (r->>'id')::bigint as id, r->>'full_name' as full_name,
           (r->>'stargazers')::integer as stargazers, (r->>'forks')::integer as forks,
           (r->>'watchers')::integer as watchers
    from jsonb_array_elements(repos) r
  ), before as (
    select g.id, g.full_name, g.account_id, g.gone_since
    from data.github_repos g
    where g.id in (select id from incoming) or g.account_id = github_repos_sync.account_id
  ), upserted as (
    insert into data.github_repos as g (id, account_id, full_name, first_seen, last_seen)
    select i.id, github_repos_sync.account_id, i.full_name, day, day from incoming i
    on conflict (id) do update
      set account_id = excluded.account_id, full_name = excluded.full_name,
          last_seen = greatest(g.last_seen, excluded.last_seen), gone_since = null
    returning g.id
  ), snapshots as (
    insert into data.github_repo_stats as s (repo_id, day, stargazers, forks, watchers)
    select i.id, day, i.stargazers, i.forks, i.watchers
    from incoming i
    where i.id in (select id from upserted)
    on conflict (repo_id, day) do update
      set stargazers = excluded.stargazers, forks = excluded.forks,
          watchers = excluded.watchers, collected_at = now()
    returning s.repo_id
  ), gone as (
    update data.github_repos g
    set gone_since = day
    where g.account_id = github_repos_sync.account_id
      and g.gone_since is null
      and g.id not in (select id from incoming)
    returning g.id, g.full_name
  )
  select i.id, i.full_name,
         case
           when b.id is null then 'added'
           when b.account_id <> github_repos_sync.account_id then 'transferred'
           when b.full_name <> i.full_name then 'renamed'
           when b.gone_since is not null then 'back'
           else 'updated'
         end
  from incoming i
  left join before b on b.id = i.id
  union all
  select g.id, g.full_name, 'gone' from gone g
$$;
comment on function api.github_repos_sync(bigint, date, jsonb) is
  'Record today''s list of an account''s repositories and their statistics (collector).';

create or replace function api.github_tracked_accounts()
returns setof api.github_account_row
language sql
stable
set search_path = pg_catalog
as $$
  select * from api.github_accounts_list()
$$;
comment on function api.github_tracked_accounts() is 'The accounts the collector visits.';

create or replace function api.github_etag_get(url text)
returns table (etag text, body jsonb)
language sql
stable
set search_path = pg_catalog
as $$
  select e.etag, e.body from data.github_etags e where e.url = github_etag_get.url
$$;
comment on function api.github_etag_get(text) is 'The stored ETag and body of a GitHub URL (conditional requests).';

create or replace function api.github_etag_put(url text, etag text, body jsonb)
returns void
language sql
volatile
set search_path = pg_catalog
as $$
  insert into data.github_etags as e (url, etag, body) values (url, etag, body)
  on conflict (url) do update set etag = excluded.etag, body = excluded.body, updated_at = now()
$$;
comment on function api.github_etag_put(text, text, jsonb) is 'Remember the ETag and body of a GitHub URL.';

create or replace function api.collector_try_lock()
returns boolean
language sql
volatile
set search_path = pg_catalog
as $$
  -- session-level: held until api.collector_unlock() or the session ends (a crash frees it)
  select pg_try_advisory_lock(hashtext('github collector'))
$$;
comment on function api.collector_try_lock() is
  'Take the collector lock for this session; false when another collector holds it.';

create or replace function api.collector_unlock()
returns boolean
language sql
volatile
set search_path = pg_catalog
as $$
  select pg_advisory_unlock(hashtext('github collector'))
$$;
comment on function api.collector_unlock() is 'Release the collector lock of this session.';

create or replace function api.collector_run_begin(day date)
returns bigint
language sql
volatile
set search_path = pg_catalog
as $$
  insert into data.collector_runs (day) values (day) returning id
$$;
comment on function api.collector_run_begin(date) is 'Record the start of a collector run for a day.';

create or replace function api.collector_run_finish(
  run_id bigint, repositories integer, requests integer, not_modified integer, errors integer,
  error text default null)
returns void
language sql
volatile
set search_path = pg_catalog
as $$
  update data.collector_runs r
  set finished_at = now(), repositories = collector_run_finish.repositories,
      requests = collector_run_finish.requests, not_modified = collector_run_finish.not_modified,
      errors = collector_run_finish.errors, error = collector_run_finish.error
  where r.id = run_id
$$;
comment on function api.collector_run_finish(bigint, integer, integer, integer, integer, text) is
  'Record the end of a collector run and its counts.';

create or replace function api.collector_day_done(day date)
returns boolean
language sql
stable
set search_path = pg_catalog
as $$
  select exists (
    select 1 from data.collector_runs r
    where r.day = collector_day_done.day and r.finished_at is not null and r.errors = 0)
$$;
comment on function api.collector_day_done(date) is
  'Whether a run for this day finished without errors (else the collector catches up).';

create or replace function api.collector_runs(how_many integer default 30)
returns table (id bigint, day date, started_at timestamptz, finished_at timestamptz,
               repositories integer, requests integer, not_modified integer, errors integer,
               error text)
language sql
stable
set search_path = pg_catalog
as $$
  select r.id, r.day, r.started_at, r.finished_at, r.repositories, r.requests, r.not_modified,
         r.errors, r.error
  from data.collector_runs r
  order by r.id desc
  limit least(greatest(how_many, 0), 1000)
$$;
comment on function api.collector_runs(integer) is
$$The collector's last runs (at most 1000), newest first.
@http auth=operator$$;
