-- Users of the site: create, read, update, delete, list, search, statistics.
-- Reads are cached (cache=users) and evicted by any write to data.users.

-- idempotent for a DBA re-running this file; `make migrate` rebuilds the schema anyway
do $$ begin
  create type api.user_row as (id bigint, name text, email text, created_at timestamptz);
exception when duplicate_object then null;
end $$;
comment on type api.user_row is 'A user as callers see it.';

create or replace function api.page_check(skip integer, take integer)
returns void
language plpgsql
immutable
set search_path = pg_catalog
as $$
begin
  if skip is null or skip < 0 then
    raise sqlstate 'PT400' using message = 'skip must be 0 or more', detail = 'skip';
  end if;
  if take is null or take < 1 then
    raise sqlstate 'PT400' using message = 'limit must be 1 or more', detail = 'limit';
  end if;
end
$$;
comment on function api.page_check(integer, integer) is
  'Raise 400 unless skip >= 0 and take >= 1 (lists cap take at 100).';

create or replace function api.user_check(name text, email text)
returns void
language plpgsql
immutable
set search_path = pg_catalog
as $$
begin
  if name is not null and length(btrim(name)) not between 1 and 200 then
    raise sqlstate 'PT400' using message = 'name must be 1 to 200 characters, not blank', detail = 'name';
  end if;
  if email is not null and (length(email) > 254 or email !~ '^[^@\s]+@[^@\s]+\.[^@\s]+$') then
    raise sqlstate 'PT400' using message = 'email is not a valid address', detail = 'email';
  end if;
end
$$;
comment on function api.user_check(text, text) is 'Raise 400 when a name or an email breaks the rules.';

create or replace function api.user_create(name text, email text)
returns setof api.user_row
language plpgsql
volatile
set search_path = pg_catalog
as $$
begin
  if user_create.name is null or user_create.email is null then
    raise sqlstate 'PT400' using message = 'name and email are required';
  end if;
  perform api.user_check(user_create.name, user_create.email);
  return query
    insert into data.users as u (name, email)
    values (btrim(user_create.name), btrim(user_create.email))
    returning u.id, u.name, u.email, u.created_at;
exception
  when unique_violation then
    raise sqlstate 'PT409' using message = 'email is already in use', detail = 'email';
end
$$;
comment on function api.user_create(text, text) is
$$Create a user; created_at is set by the database. The email is unique ignoring case (409).
@http auth=admin$$;

create or replace function api.user_get(user_id bigint)
returns setof api.user_row
language plpgsql
stable
set search_path = pg_catalog
as $$
begin
  return query select u.id, u.name, u.email, u.created_at from data.users u where u.id = user_id;
  if not found then
    raise sqlstate 'PT404' using message = 'user not found';
  end if;
end
$$;
comment on function api.user_get(bigint) is
$$One user, or 404 "user not found".
@http auth=operator cache=users$$;

create or replace function api.user_update(user_id bigint, name text default null, email text default null)
returns setof api.user_row
language plpgsql
volatile
set search_path = pg_catalog
as $$
begin
  if user_update.name is null and user_update.email is null then
    raise sqlstate 'PT400' using message = 'give a name and/or an email to change';
  end if;
  perform api.user_check(user_update.name, user_update.email);
  return query
    update data.users u
    set name = coalesce(btrim(user_update.name), u.name),
        email = coalesce(btrim(user_update.email), u.email)
    where u.id = user_id
    returning u.id, u.name, u.email, u.created_at;
  if not found then
    raise sqlstate 'PT404' using message = 'user not found';
  end if;
exception
  when unique_violation then
    raise sqlstate 'PT409' using message = 'email is already in use', detail = 'email';
end
$$;
comment on function api.user_update(bigint, text, text) is
$$Change a user's name and/or email (null: unchanged). 404 when absent, 409 on a taken email.
@http auth=admin$$;

create or replace function api.user_delete(user_id bigint)
returns void
language plpgsql
volatile
set search_path = pg_catalog
as $$
begin
  delete from data.users u where u.id = user_id;  -- posts go with it (on delete cascade)
  if not found then
    raise sqlstate 'PT404' using message = 'user not found';
  end if;
end
$$;
comment on function api.user_delete(bigint) is
$$Delete a user and their posts; 404 when absent.
@http auth=admin$$;

create or replace function api.users_list(skip integer default 0, take integer default 10)
returns setof api.user_row
language plpgsql
stable
set search_path = pg_catalog
as $$
begin
  perform api.page_check(skip, take);
  return query
    select u.id, u.name, u.email, u.created_at
    from data.users u
    order by u.id
    offset skip limit least(take, 100);
end
$$;
comment on function api.users_list(integer, integer) is
$$A page of users ordered by id: skip rows, then at most take (capped at 100).
@http auth=operator cache=users total=users_count$$;

create or replace function api.users_count()
returns bigint
language sql
stable
set search_path = pg_catalog
as $$
  -- exact, from the registrations rollup: no scan of data.users
  select coalesce(sum(r.registrations), 0)::bigint
  from data.registrations_rollup r
  where r.width = 'month'
$$;
comment on function api.users_count() is 'How many users there are (from the rollup, exact).';

create or replace function api.users_name_matches(fragment text, up_to integer)
returns integer
language sql
stable
-- a plain scan of the trigram index, which stops at up_to matches: a sequential scan could
-- read the whole table for a fragment nobody has, a bitmap scan would collect every match
set enable_seqscan = off
set enable_bitmapscan = off
set search_path = pg_catalog
as $$
  select count(*)::integer
  from (select 1 from data.users u
        where u.name ilike api.like_pattern(fragment)
        limit up_to) m
$$;
comment on function api.users_name_matches(text, integer) is
  'How many users have `fragment` in their name, counting no further than up_to.';

create or replace function api.users_search(
  name text default null,
  created_after date default null,
  skip integer default 0,
  take integer default 10)
returns setof api.user_row
language plpgsql
stable
set search_path = pg_catalog
as $$
begin
  perform api.page_check(skip, take);
  -- No fragment, or one with many matches: walk the primary key in order, testing names,
  -- which finds a page quickly (also under 3 characters: no trigram, no index can help). A
  -- rare fragment: take its matches from the trigram index and sort them (order by u.id + 0).
  -- The planner, left to itself, sometimes walked the key for a rare fragment (320 ms instead
  -- of 3 ms at 1M users); a probe of at most 1,000 matches decides instead.
  if users_search.name is null or length(users_search.name) < 3
     or api.users_name_matches(users_search.name, 1000) >= 1000 then
    return query
      select u.id, u.name, u.email, u.created_at
      from data.users u
      where (users_search.name is null or u.name ilike api.like_pattern(users_search.name))
        and (created_after is null
             or u.created_at >= (created_after::timestamp at time zone data.app_timezone()))
      order by u.id
      offset skip limit least(take, 100);
    return;
  end if;
  return query
    select u.id, u.name, u.email, u.created_at
    from data.users u
    where u.name ilike api.like_pattern(users_search.name)
      and (created_after is null
           or u.created_at >= (created_after::timestamp at time zone data.app_timezone()))
    order by u.id + 0
    offset skip limit least(take, 100);
end
$$;
comment on function api.users_search(text, date, integer, integer) is
$$Users whose name contains `name` (any letter case; %, _ and \ are plain characters) and who
registered on or after `created_after` (a date in APP_TIMEZONE); both optional; paginated.
@http auth=operator cache=users,settings total=users_search_count$$;

create or replace function api.users_search_count(name text default null, created_after date default null)
returns bigint
language sql
stable
set search_path = pg_catalog
as $$
  select count(*)
  from data.users u
  where (users_search_count.name is null or u.name ilike api.like_pattern(users_search_count.name))
    and (created_after is null
         or u.created_at >= (created_after::timestamp at time zone data.app_timezone()))
$$;
comment on function api.users_search_count(text, date) is 'How many users api.users_search matches.';

create or replace function api.like_pattern(fragment text)
returns text
language sql
immutable
set search_path = pg_catalog
as $$
  select '%' || replace(replace(replace(fragment, '\', '\\'), '%', '\%'), '_', '\_') || '%'
$$;
comment on function api.like_pattern(text) is 'A LIKE pattern matching `fragment` literally anywhere.';

create or replace function api.users_stats()
returns table (total_users bigint, new_users_last_7_days bigint)
language sql
stable
set search_path = pg_catalog
as $$
  select api.users_count(),
         (select count(*) from data.users u where u.created_at > now() - interval '7 days')
$$;
comment on function api.users_stats() is
$$How many users there are, and how many registered in the last 7 days (7 x 24 hours).
@http auth=operator cache=users valid_until=users_stats_valid_until$$;

create or replace function api.users_stats_valid_until()
returns timestamptz
language sql
stable
set search_path = pg_catalog
as $$
  -- the last-7-days count drops when its oldest registration turns 7 days old
  select min(u.created_at) + interval '7 days'
  from data.users u
  where u.created_at > now() - interval '7 days'
$$;
comment on function api.users_stats_valid_until() is
  'Until when api.users_stats() cannot change without a write.';
