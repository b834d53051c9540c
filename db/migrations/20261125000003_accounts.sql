-- migrate:up
-- One accounts model: repository owners (email + API token) and operators
-- (username + password, JWT). Secrets are stored only as hashes.
create table data.accounts (
  id bigint generated always as identity primary key,
  email text,
  username text,
  password_hash text,
  role text not null check (role in ('admin', 'operator', 'owner')),
  api_token_hash bytea unique,
  created_at timestamptz not null default now(),
  check (email is not null or username is not null),
  check (email is null or (length(email) <= 254 and email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$')),
  check (username is null or username ~ '^[A-Za-z0-9_.-]{1,64}$'),
  check (role = 'owner' or password_hash is not null)
);
comment on table data.accounts is
  'Owners (email, API token kept as sha256) and operators (username, argon2 password hash).';
create unique index accounts_email_key on data.accounts (lower(email));
create unique index accounts_username_key on data.accounts (lower(username));

create trigger accounts_notify after insert or update or delete or truncate on data.accounts
  for each statement execute function data.notify_table_changed();

-- migrate:down
drop table data.accounts;
