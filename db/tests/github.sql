-- Tests of api.github_account_stats and its pre-rendered months (data.github_stat_months).
-- Run: psql -v ON_ERROR_STOP=1 -f db/tests/github.sql
begin;
\ir _helpers.sql

-- what api.github_account_stats must return, built the slow and obvious way
create function pg_temp.reference(account bigint, date_from date, date_to date) returns jsonb
language sql as $$
  select jsonb_build_object(
           'user', jsonb_build_object('id', a.id, 'login', a.login, 'name', a.name),
           'stats', coalesce((
             select jsonb_agg(x order by x.repo_id, x.date)
             from (select s.repo_id, s.day as date, s.stargazers, s.forks, s.watchers
                   from data.github_repos r
                   join data.github_repo_stats s on s.repo_id = r.id
                   where r.account_id = account
                     and (date_from is null or s.day >= date_from)
                     and (date_to is null or s.day <= date_to)) x), '[]'::jsonb))
  from data.github_accounts a where a.id = account
$$;

-- every range of interest gives the reference's answer, and valid JSON in that order
create function pg_temp.check_ranges(label text) returns void
language plpgsql as $$
declare
  bounds record;
  got text;
begin
  for bounds in
    select * from (values
      (null::date, null::date), ('2026-01-01', '2026-03-31'), ('2026-01-15', '2026-02-10'),
      ('2026-02-10', '2026-02-10'), ('2025-01-01', '2026-01-31'), ('2026-03-01', null),
      (null, '2026-01-01'), ('2027-01-01', null), ('2026-02-03', '2026-02-06')) b (date_from, date_to)
  loop
    got := api.github_account_stats(77, bounds.date_from, bounds.date_to);
    perform pg_temp.expect(format('%s: %s..%s', label, bounds.date_from, bounds.date_to),
      got::jsonb, pg_temp.reference(77, bounds.date_from, bounds.date_to));
    -- jsonb sorts nothing inside arrays, but make the order explicit: repository, then date
    perform pg_temp.expect(label || ': order', (
      select coalesce(bool_and(prev is null or (e->>'repo_id')::bigint > (prev->>'repo_id')::bigint
                      or ((e->>'repo_id') = (prev->>'repo_id') and e->>'date' > prev->>'date')), true)
      from (select e, lag(e) over (order by i) as prev
            from json_array_elements(got::json->'stats') with ordinality t (e, i)) q), true);
  end loop;
end
$$;

select api.github_account_upsert(77, 'octo-"quoted"', 'Octo \ Cat');
insert into data.github_repos (id, account_id, full_name, first_seen, last_seen)
values (7701, 77, 'octo/a', '2026-01-01', '2026-03-31'),
       (7702, 77, 'octo/b', '2026-01-01', '2026-03-31');

select pg_temp.check_ranges('no snapshot yet');

-- bulk insert: three months of two repositories
insert into data.github_repo_stats (repo_id, day, stargazers, forks, watchers)
select r, d::date, (extract(doy from d) * 10 + r % 10)::integer, 1, 2
from unnest(array[7701, 7702]) r, generate_series('2026-01-01'::date, '2026-03-31', '1 day') d;
select pg_temp.check_ranges('after insert');
select pg_temp.expect('one text per repository and month',
  (select count(*) from data.github_stat_months where repo_id in (7701, 7702)), 6::bigint);

-- the collector's upsert of a day: an update through on conflict
insert into data.github_repo_stats as s (repo_id, day, stargazers, forks, watchers)
values (7701, '2026-02-10', 99999, 5, 6), (7702, '2026-04-01', 1, 1, 1)
on conflict (repo_id, day) do update set stargazers = excluded.stargazers;
select pg_temp.check_ranges('after upsert');

-- a hole inside a month, a whole month gone, a plain update
delete from data.github_repo_stats where day between '2026-02-04' and '2026-02-08';
delete from data.github_repo_stats where repo_id = 7702 and day < '2026-02-01';
update data.github_repo_stats set forks = forks + 1 where day = '2026-03-15';
select pg_temp.check_ranges('after deletes and update');
select pg_temp.expect('a month without snapshots has no text',
  (select count(*) from data.github_stat_months where repo_id = 7702 and month = '2026-01-01'),
  0::bigint);

select pg_temp.expect('date_from after date_to',
  pg_temp.sqlstate_of($q$select api.github_account_stats(77, '2026-02-01', '2026-01-01')$q$), 'PT400');
select pg_temp.expect('unknown account',
  pg_temp.sqlstate_of('select api.github_account_stats(-5)'), 'PT404');

truncate data.github_repo_stats;
select pg_temp.expect('truncate empties the texts',
  (select count(*) from data.github_stat_months), 0::bigint);
select pg_temp.check_ranges('after truncate');

rollback;
