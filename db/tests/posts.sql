-- Tests of the posts functions. Run: psql -v ON_ERROR_STOP=1 -f db/tests/posts.sql
begin;
\ir _helpers.sql

delete from data.users;

do $$
declare
  ada bigint;
  bob bigint;
begin
  select id into ada from api.user_create('Ada', 'ada@example.com');
  select id into bob from api.user_create('Bob', 'bob@example.com');
  perform api.post_create(ada, 'one', 'x');
  perform api.post_create(bob, 'two', 'x');
  perform api.post_create(ada, 'three', 'x');
  perform pg_temp.expect('newest first', (select string_agg(title, ',') from api.posts_list(ada)), 'three,one');
  perform pg_temp.expect('all posts', (select count(*) from api.posts_list()), 3::bigint);
  perform pg_temp.expect('count', api.posts_count(ada), 2::bigint);
  perform pg_temp.expect('stats order', (select string_agg(user_id || ':' || posts, ',') from api.posts_stats()),
    ada || ':2,' || bob || ':1');
  perform pg_temp.expect('unknown user', pg_temp.sqlstate_of($q$select api.post_create(-1, 't', 'c')$q$), 'PT400');
  perform api.user_delete(ada);
  perform pg_temp.expect('posts deleted with the user', (select count(*) from data.posts), 1::bigint);
end
$$;

rollback;
