-- Repository traffic for owners (API token): add, list, read, delete repositories, and the
-- collector's writes. Tenancy is here: every owner function takes caller_id and filters by it.

create or replace function api.github_repo_parse(url text)
returns table (owner text, name text)
language plpgsql
immutable
set search_path = pg_catalog
as $$
declare
  parts text[];
begin
  -- the forms people paste: http(s), www., a trailing slash, .git
  parts := regexp_match(btrim(url),
    '^(?:https?://)?(?:www\.)?github\.com/([A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38})/([A-Za-z0-9._-]{1,100}?)(?:\.git)?/?$',
    'i');
  if parts is null or parts[2] in ('.', '..') then
    raise sqlstate 'PT400'
      using message = 'url must be a GitHub repository: https://github.com/OWNER/NAME', detail = 'url';
  end if;
  owner := parts[1];
  name := parts[2];
  return next;
end
$$;
comment on function api.github_repo_parse(text) is
  'OWNER and NAME of a github.com repository URL in the forms people paste; 400 for anything else.';

create or replace function api.repo_create(caller_id bigint, url text)
returns table (id text)
language plpgsql
volatile
set search_path = pg_catalog
as $$
declare
  parsed record;
  repo bigint;
  link bigint;
begin
  select * into parsed from api.github_repo_parse(url);
  insert into data.traffic_repos as r (owner, name) values (parsed.owner, parsed.name)
  on conflict (lower(owner), lower(name)) do nothing
  returning r.id into repo;
  if repo is null then
    select r.id into repo from data.traffic_repos r
    where lower(r.owner) = lower(parsed.owner) and lower(r.name) = lower(parsed.name);
  end if;
  insert into data.owner_repos as o (account_id, repo_id) values (caller_id, repo)
  on conflict (account_id, repo_id) do nothing
  returning o.id into link;
  if link is null then  -- added before: the same id again
    select o.id into link from data.owner_repos o where o.account_id = caller_id and o.repo_id = repo;
  end if;
  id := link::text;
  return next;
end
$$;
comment on function api.repo_create(bigint, text) is
$$Track a GitHub repository's traffic for the calling owner; adding it again returns the same id.
@http auth=owner$$;

-- idempotent for a DBA re-running this file; `make migrate` rebuilds the schema anyway
do $$ begin
  create type api.owner_repo_row as (id text, url text, created_at timestamptz);
exception when duplicate_object then null;
end $$;
comment on type api.owner_repo_row is 'An owner''s repository as the API shows it.';

create or replace function api.repos_list(caller_id bigint)
returns setof api.owner_repo_row
language sql
stable
set search_path = pg_catalog
as $$
  select o.id::text, 'https://github.com/' || r.owner || '/' || r.name, o.created_at
  from data.owner_repos o
  join data.traffic_repos r on r.id = o.repo_id
  where o.account_id = caller_id
  order by o.id
$$;
comment on function api.repos_list(bigint) is
$$The calling owner's repositories.
@http auth=owner cache=owner_repos,traffic_repos$$;

create or replace function api.repo_traffic(caller_id bigint, repo_id bigint,
                                            date_from date default null, date_to date default null)
returns json
language plpgsql
stable
set search_path = pg_catalog
as $$
declare
  result json;
begin
  if date_from > date_to then
    raise sqlstate 'PT400' using message = 'start is later than end', detail = 'start';
  end if;
  select json_build_object(
    'id', o.id::text,
    'url', 'https://github.com/' || r.owner || '/' || r.name,
    'created_at', o.created_at,
    'traffic', coalesce((
      select json_agg(json_build_object('date', t.day, 'views', t.views, 'uniques', t.uniques,
                                        'clones', t.clones, 'clone_uniques', t.clone_uniques)
                      order by t.day)
      from data.traffic_daily t
      where t.repo_id = r.id
        and (date_from is null or t.day >= date_from)
        and (date_to is null or t.day <= date_to)), '[]'::json),
    'fetch', json_build_object('fetched_at', r.fetched_at, 'error_status', r.error_status,
                               'error', r.error, 'error_at', r.error_at),
    'popular', (
      select json_build_object(
        'as_of', max(p.day),
        'note', 'referrers and paths are GitHub''s 14-day aggregates as of that day, not daily values',
        'referrers', coalesce(json_agg(json_build_object('referrer', p.item, 'count', p.count, 'uniques', p.uniques)
                                       order by p.count desc, p.item) filter (where p.kind = 'referrer'), '[]'::json),
        'paths', coalesce(json_agg(json_build_object('path', p.item, 'title', p.title, 'count', p.count, 'uniques', p.uniques)
                                   order by p.count desc, p.item) filter (where p.kind = 'path'), '[]'::json))
      from data.traffic_popular p
      where p.repo_id = r.id
        and p.day = (select max(q.day) from data.traffic_popular q where q.repo_id = r.id)))
  into result
  from data.owner_repos o
  join data.traffic_repos r on r.id = o.repo_id
  where o.id = repo_traffic.repo_id and o.account_id = caller_id;
  if result is null then  -- another owner's id looks exactly like a missing one
    raise sqlstate 'PT404' using message = 'repository not found';
  end if;
  return result;
end
$$;
comment on function api.repo_traffic(bigint, bigint, date, date) is
$$One of the calling owner's repositories with every stored day of traffic, oldest first
(between date_from and date_to when given), the last fetch and its error, and the latest
popular referrers and paths (14-day aggregates).
@http auth=owner cache=owner_repos,traffic_repos,traffic_daily,traffic_popular$$;

create or replace function api.repo_delete(caller_id bigint, repo_id bigint)
returns void
language plpgsql
volatile
set search_path = pg_catalog
as $$
begin
  -- the link goes; the repository and its data go too unless another owner tracks it
  delete from data.owner_repos o where o.id = repo_delete.repo_id and o.account_id = caller_id;
  if not found then
    raise sqlstate 'PT400' using message = 'no such repository of yours', detail = 'id';
  end if;
end
$$;
comment on function api.repo_delete(bigint, bigint) is
$$Stop tracking a repository and delete its data (kept while another owner tracks it).
@http auth=owner$$;

create or replace function api.owner_by_page_token(token text)
returns bigint
language sql
stable
set search_path = pg_catalog
as $$
  select a.id from data.accounts a
  where a.api_token_hash = sha256(convert_to(token, 'UTF8')) and a.role = 'owner'
$$;
comment on function api.owner_by_page_token(text) is 'The owner whose API token is in a page URL.';

create or replace function api.owner_traffic_page(token text, repo_id bigint default null,
                                                  date_from date default null, date_to date default null)
returns json
language plpgsql
stable
set search_path = pg_catalog
as $$
declare
  owner bigint := api.owner_by_page_token(token);
begin
  if owner is null then
    raise sqlstate 'PT404' using message = 'page not found';
  end if;
  if repo_id is not null then
    return json_build_object('repos', json_build_array(api.repo_traffic(owner, repo_id, date_from, date_to)));
  end if;
  return json_build_object('repos', coalesce((
    select json_agg(api.repo_traffic(owner, o.id, date_from, date_to) order by o.id)
    from data.owner_repos o where o.account_id = owner), '[]'::json));
end
$$;
comment on function api.owner_traffic_page(text, bigint, date, date) is
$$Data of the owner pages (/users/{token}/repos[/{id}]): the repositories with their traffic.
@http auth=public cache=accounts,owner_repos,traffic_repos,traffic_daily,traffic_popular$$;

-- the collector's side

create or replace function api.traffic_repos_due()
returns table (id bigint, owner text, name text)
language sql
stable
set search_path = pg_catalog
as $$
  select r.id, r.owner, r.name from data.traffic_repos r order by r.id
$$;
comment on function api.traffic_repos_due() is 'Repositories whose traffic the collector fetches.';

create or replace function api.traffic_store(repo_id bigint, day date, views jsonb, clones jsonb,
                                             referrers jsonb, paths jsonb)
returns integer
language plpgsql
volatile
set search_path = pg_catalog
as $$
declare
  days integer;
begin
  -- views/clones: GitHub's {"views"|"clones": [{"timestamp","count","uniques"}]}, per=day.
  -- Every day of the 14-day window is upserted: the latest fetch wins (today is partial),
  -- and an outage shorter than 14 days is filled in.
  with v as (
    select (e->>'timestamp')::timestamptz at time zone 'UTC' as moment, (e->>'count')::int as n, (e->>'uniques')::int as u
    from jsonb_array_elements(coalesce(views->'views', '[]')) e
  ), c as (
    select (e->>'timestamp')::timestamptz at time zone 'UTC' as moment, (e->>'count')::int as n, (e->>'uniques')::int as u
    from jsonb_array_elements(coalesce(clones->'clones', '[]')) e
  ), merged as (
    select coalesce(v.moment, c.moment)::date as day, coalesce(v.n, 0) as views, coalesce(v.u, 0) as uniques,
           coalesce(c.n, 0) as clones, coalesce(c.u, 0) as clone_uniques
    from v full join c on c.moment = v.moment
  ), upserted as (
    insert into data.traffic_daily as t (repo_id, day, views, uniques, clones, clone_uniques)
    select traffic_store.repo_id, m.day, m.views, m.uniques, m.clones, m.clone_uniques from merged m
    on conflict on constraint traffic_daily_pkey do update
      set views = excluded.views, uniques = excluded.uniques, clones = excluded.clones,
          clone_uniques = excluded.clone_uniques, fetched_at = now()
    returning 1
  )
  select count(*) into days from upserted;
  delete from data.traffic_popular p where p.repo_id = traffic_store.repo_id and p.day = traffic_store.day;
  insert into data.traffic_popular (repo_id, day, kind, item, title, count, uniques)
  select traffic_store.repo_id, traffic_store.day, 'referrer', e->>'referrer', null, (e->>'count')::int, (e->>'uniques')::int
  from jsonb_array_elements(coalesce(referrers, '[]')) e
  union all
  select traffic_store.repo_id, traffic_store.day, 'path', e->>'path', e->>'title', (e->>'count')::int, (e->>'uniques')::int
  from jsonb_array_elements(coalesce(paths, '[]')) e;
  update data.traffic_repos r set fetched_at = now(), error_status = null, error = null, error_at = null
  where r.id = traffic_store.repo_id;
  return days;
end
$$;
comment on function api.traffic_store(bigint, date, jsonb, jsonb, jsonb, jsonb) is
  'Store a fetch of a repository''s traffic (collector): daily views and clones, popular referrers and paths.';

create or replace function api.traffic_fetch_failed(repo_id bigint, status integer, message text)
returns void
language sql
volatile
set search_path = pg_catalog
as $$
  update data.traffic_repos r
  set error_status = status, error = message, error_at = now()
  where r.id = repo_id
$$;
comment on function api.traffic_fetch_failed(bigint, integer, text) is
  'Record why a repository''s traffic could not be fetched (403: no push access; 404: gone or private).';
