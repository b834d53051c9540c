-- migrate:up
-- Users get an email (unique ignoring case) and limits; posts belong to users.
create schema if not exists extensions;
create extension if not exists pg_trgm with schema extensions;

alter table data.users
  add column email text,
  add constraint users_name_check check (length(btrim(name)) between 1 and 200),
  add constraint users_email_check
    check (email is null or (length(email) <= 254 and email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'));
create unique index users_email_key on data.users (lower(email));
-- case-insensitive substring search on names (ILIKE '%...%')
create index users_name_trgm_idx on data.users using gin (name extensions.gin_trgm_ops);

create table data.posts (
  id bigint generated always as identity primary key,
  user_id bigint not null references data.users (id) on delete cascade,
  title text not null check (length(btrim(title)) between 1 and 200),
  content text not null check (length(content) <= 100000),
  created_at timestamptz not null default now()
);
comment on table data.posts is 'Posts written by users; deleted with their user.';
create index posts_user_created_idx on data.posts (user_id, created_at desc, id desc);
create index posts_created_idx on data.posts (created_at desc, id desc);

create trigger posts_notify after insert or update or delete or truncate on data.posts
  for each statement execute function data.notify_table_changed();

-- migrate:down
drop table data.posts;
drop index data.users_name_trgm_idx;
drop index data.users_email_key;
alter table data.users
  drop constraint users_email_check,
  drop constraint users_name_check,
  drop column email;
drop extension if exists pg_trgm;
drop schema if exists extensions;
