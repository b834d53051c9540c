-- Tests of the users functions. Run: psql -v ON_ERROR_STOP=1 -f db/tests/users.sql
begin;
\ir _helpers.sql

delete from data.users;

do $$
declare
  ada api.user_row;
begin
  select * into ada from api.user_create(' Ada ', 'Ada@Example.com');
  perform pg_temp.expect('trimmed name', ada.name, 'Ada');
  perform pg_temp.expect('duplicate email, other case',
    pg_temp.sqlstate_of($q$select api.user_create('Eve', 'ada@EXAMPLE.com')$q$), 'PT409');
  perform pg_temp.expect('blank name', pg_temp.sqlstate_of($q$select api.user_create(' ', 'x@y.io')$q$), 'PT400');
  perform pg_temp.expect('bad email', pg_temp.sqlstate_of($q$select api.user_create('X', 'x@y')$q$), 'PT400');
  perform pg_temp.expect('missing user', pg_temp.sqlstate_of('select api.user_get(-1)'), 'PT404');
  perform pg_temp.expect('update nothing', pg_temp.sqlstate_of(format('select api.user_update(%s)', ada.id)), 'PT400');
  perform pg_temp.expect('partial update keeps the email',
    (select email from api.user_update(ada.id, name => 'Ada L.')), 'Ada@Example.com');
  perform pg_temp.expect('negative skip', pg_temp.sqlstate_of('select api.users_list(-1, 10)'), 'PT400');
  perform pg_temp.expect('zero take', pg_temp.sqlstate_of('select api.users_list(0, 0)'), 'PT400');
end
$$;

-- users_count comes from the rollup and must equal a real count
insert into data.users (name, created_at)
select 'bulk ' || g, now() - g * interval '1 day' from generate_series(1, 400) g;
delete from data.users where id % 5 = 0;
do $$
begin
  perform pg_temp.expect('count from the rollup', api.users_count(), (select count(*) from data.users));
  perform pg_temp.expect('stats', (select new_users_last_7_days from api.users_stats()),
    (select count(*) from data.users where created_at > now() - interval '7 days'));
  perform pg_temp.expect('list is capped at 100', (select count(*) from api.users_list(0, 1000)), 100::bigint);
end
$$;

-- search treats %, _ and \ as plain characters
insert into data.users (name) values ('50% off'), ('a_b'), ('axb'), ('c\d');
do $$
begin
  perform pg_temp.expect('percent', (select string_agg(name, ',') from api.users_search('%')), '50% off');
  perform pg_temp.expect('underscore', (select string_agg(name, ',') from api.users_search('_')), 'a_b');
  perform pg_temp.expect('backslash', (select string_agg(name, ',') from api.users_search('\')), 'c\d');
  perform pg_temp.expect('search count', api.users_search_count('BULK 1'),
    (select count(*) from data.users where lower(name) like '%bulk 1%'));
end
$$;

-- search: many matches (walks the key) and few (sorted from the trigram index) page alike
insert into data.users (name, created_at)
select 'Probe ' || g, now() - g * interval '1 minute' from generate_series(1, 1500) g;
do $$
declare
  fragment text;
begin
  perform pg_temp.expect('matches are counted up to the cap', api.users_name_matches('probe', 1000), 1000);
  perform pg_temp.expect('fewer than the cap', api.users_name_matches('probe 14', 1000), 111);
  foreach fragment in array array['probe', 'PROBE 1', 'probe 14', 'obe 1499', 'no such name', 'ob', 'q'] loop
    perform pg_temp.expect('page of ' || fragment,
      (select array_agg(s.id) from api.users_search(fragment, skip => 5, take => 20) s),
      (select array_agg(id) from (select u.id from data.users u where u.name ilike '%' || fragment || '%'
                                  order by u.id offset 5 limit 20) r));
    perform pg_temp.expect('total of ' || fragment, api.users_search_count(fragment),
      (select count(*) from data.users u where u.name ilike '%' || fragment || '%'));
  end loop;
end
$$;

rollback;
