-- Posts of users: create, list (newest first), statistics.

-- idempotent for a DBA re-running this file; `make migrate` rebuilds the schema anyway
do $$ begin
  create type api.post_row as (id bigint, user_id bigint, title text, content text, created_at timestamptz);
exception when duplicate_object then null;
end $$;
comment on type api.post_row is 'A post as callers see it.';

create or replace function api.post_create(user_id bigint, title text, content text)
returns setof api.post_row
language plpgsql
volatile
set search_path = pg_catalog
as $$
begin
  if post_create.title is null or length(btrim(post_create.title)) not between 1 and 200 then
    raise sqlstate 'PT400' using message = 'title must be 1 to 200 characters, not blank', detail = 'title';
  end if;
  if post_create.content is null or length(post_create.content) > 100000 then
    raise sqlstate 'PT400' using message = 'content is required, at most 100000 characters', detail = 'content';
  end if;
  return query
    insert into data.posts as p (user_id, title, content)
    values (post_create.user_id, btrim(post_create.title), post_create.content)
    returning p.id, p.user_id, p.title, p.content, p.created_at;
exception
  when foreign_key_violation then  -- the foreign key decides, not a racing look-up
    raise sqlstate 'PT400' using message = 'user not found', detail = 'user_id';
end
$$;
comment on function api.post_create(bigint, text, text) is
$$Create a post for an existing user (400 "user not found" otherwise).
@http auth=admin$$;

create or replace function api.posts_list(user_id bigint default null, skip integer default 0, take integer default 10)
returns setof api.post_row
language plpgsql
stable
set search_path = pg_catalog
as $$
begin
  perform api.page_check(skip, take);
  return query
    select p.id, p.user_id, p.title, p.content, p.created_at
    from data.posts p
    where posts_list.user_id is null or p.user_id = posts_list.user_id
    order by p.created_at desc, p.id desc
    offset skip limit least(take, 100);
end
$$;
comment on function api.posts_list(bigint, integer, integer) is
$$Posts, newest first, of one user or of everybody; paginated like users.
@http auth=operator cache=posts total=posts_count$$;

create or replace function api.posts_count(user_id bigint default null)
returns bigint
language sql
stable
set search_path = pg_catalog
as $$
  select count(*) from data.posts p
  where posts_count.user_id is null or p.user_id = posts_count.user_id
$$;
comment on function api.posts_count(bigint) is 'How many posts api.posts_list pages through.';

create or replace function api.posts_stats()
returns table (user_id bigint, posts bigint)
language sql
stable
set search_path = pg_catalog
as $$
  select p.user_id, count(*) as posts
  from data.posts p
  group by p.user_id
  order by posts desc, p.user_id
$$;
comment on function api.posts_stats() is
$$Posts per user, most first (ties by user id); users without posts are left out.
@http auth=operator cache=posts$$;
