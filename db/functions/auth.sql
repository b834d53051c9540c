-- Accounts: owner sign-up with API tokens, operators with passwords, and the look-ups
-- the gateway makes to authenticate a request. Passwords arrive already hashed (argon2,
-- which PostgreSQL does not have); API tokens are made and hashed here.

create or replace function api.owner_signup(email text)
returns table (token text)
language plpgsql
volatile
set search_path = pg_catalog
as $$
declare
  clean constant text := btrim(email);
begin
  if clean is null or clean = '' then
    raise sqlstate 'PT400' using message = 'email is required';
  end if;
  if length(clean) > 254 or clean !~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' then
    raise sqlstate 'PT400' using message = 'email is not a valid address';
  end if;
  -- 32 hex characters from 244 bits of pg_strong_random (via gen_random_uuid)
  token := left(encode(sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text, 'UTF8')), 'hex'), 32);
  insert into data.accounts (email, role, api_token_hash)
  values (clean, 'owner', sha256(convert_to(token, 'UTF8')));
  return next;
exception
  when unique_violation then
    raise sqlstate 'PT400' using message = 'email is already registered';
end
$$;
comment on function api.owner_signup(text) is
$$Sign up a repository owner by email (unique, ignoring case). Returns the API token: 32 hex
characters, shown once; only its sha256 is stored.$$;

create or replace function api.account_by_token(token text)
returns table (id bigint, role text)
language sql
stable
set search_path = pg_catalog
as $$
  select a.id, a.role
  from data.accounts a
  where a.api_token_hash = sha256(convert_to(token, 'UTF8'))
$$;
comment on function api.account_by_token(text) is 'The account an API token belongs to (none when unknown).';

create or replace function api.account_role(account_id bigint)
returns text
language sql
stable
set search_path = pg_catalog
as $$
  select a.role from data.accounts a where a.id = account_id
$$;
comment on function api.account_role(bigint) is 'The role of an account, or null when it no longer exists (JWT check).';

create or replace function api.operator_credentials(username text)
returns table (id bigint, role text, password_hash text)
language sql
stable
set search_path = pg_catalog
as $$
  select a.id, a.role, a.password_hash
  from data.accounts a
  where lower(a.username) = lower(operator_credentials.username)
    and a.password_hash is not null
$$;
comment on function api.operator_credentials(text) is
  'Id, role and argon2 hash of an operator, for the gateway to check a password (login).';

create or replace function api.operator_create(
  operator_name text, password_hash text, operator_role text default 'operator')
returns table (id bigint, username text, role text, created_at timestamptz)
language plpgsql
volatile
set search_path = pg_catalog
as $$
begin
  if operator_role is null or operator_role not in ('admin', 'operator') then
    raise sqlstate 'PT400' using message = 'role must be admin or operator';
  end if;
  if operator_name is null or operator_name !~ '^[A-Za-z0-9_.-]{1,64}$' then
    raise sqlstate 'PT400' using message = 'username must be 1-64 letters, digits, ".", "_" or "-"';
  end if;
  return query
    insert into data.accounts as a (username, password_hash, role)
    values (operator_name, operator_create.password_hash, operator_role)
    returning a.id, a.username, a.role, a.created_at;
exception
  when unique_violation then
    raise sqlstate 'PT409' using message = 'username is already taken';
end
$$;
comment on function api.operator_create(text, text, text) is
  'Create an operator (role admin or operator) with an argon2 password hash.';

create or replace function api.operator_list()
returns table (id bigint, username text, role text, created_at timestamptz)
language sql
stable
set search_path = pg_catalog
as $$
  select a.id, a.username, a.role, a.created_at
  from data.accounts a
  where a.role in ('admin', 'operator')
  order by a.id
$$;
comment on function api.operator_list() is 'Every operator, oldest first.';

create or replace function api.operator_delete(account_id bigint)
returns void
language plpgsql
volatile
set search_path = pg_catalog
as $$
begin
  delete from data.accounts a where a.id = account_id and a.role in ('admin', 'operator');
  if not found then
    raise sqlstate 'PT404' using message = 'operator not found';
  end if;
end
$$;
comment on function api.operator_delete(bigint) is 'Delete an operator; their JWTs stop working at once.';

create or replace function api.operator_password_set(account_id bigint, password_hash text)
returns void
language plpgsql
volatile
set search_path = pg_catalog
as $$
begin
  update data.accounts a set password_hash = operator_password_set.password_hash
  where a.id = account_id and a.role in ('admin', 'operator');
  if not found then
    raise sqlstate 'PT404' using message = 'operator not found';
  end if;
end
$$;
comment on function api.operator_password_set(bigint, text) is 'Replace an operator''s argon2 password hash.';

create or replace function api.operator_id(username text)
returns bigint
language sql
stable
set search_path = pg_catalog
as $$
  select a.id from data.accounts a
  where lower(a.username) = lower(operator_id.username) and a.role in ('admin', 'operator')
$$;
comment on function api.operator_id(text) is 'The id of the operator with this username (any letter case), or null.';
