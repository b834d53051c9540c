-- Functions the RPC tests add to the api layer (applied from a copy of db/functions).

create function api.test_add(a integer, b integer default 10) returns integer
language sql immutable as $$ select a + b $$;
comment on function api.test_add(integer, integer) is e'Adds two numbers.\n@http auth=public';

create function api.test_series(n integer) returns table (i integer, label text, day date)
language sql stable as $$
  select g, 'n' || g, date '2025-01-01' + g from generate_series(1, n) g
$$;
comment on function api.test_series(integer) is e'Numbered rows.\n@http auth=public max_rows=5';

create function api.test_echo(t text, ts timestamptz, d date, flag boolean, x numeric, u uuid, j jsonb)
returns jsonb
language sql immutable as $$
  select jsonb_build_object('t', t, 'ts', ts, 'd', d, 'flag', flag, 'x', x, 'u', u, 'j', j)
$$;
comment on function api.test_echo(text, timestamptz, date, boolean, numeric, uuid, jsonb) is e'Echo.\n@http auth=public';

create function api.test_hidden() returns integer language sql immutable as $$ select 1 $$;
comment on function api.test_hidden() is 'Not exposed: no @http line.';

create function api.test_fail(kind text) returns integer
language plpgsql as $$
begin
  case kind
    when 'notfound' then raise sqlstate 'PT404' using message = 'thing not found', detail = 'no such thing', hint = 'try another';
    when 'conflict' then raise sqlstate 'PT409' using message = 'already there';
    when 'plain' then raise exception 'plain failure';
    when 'unique' then raise unique_violation using message = 'duplicate key internals';
    when 'division' then return 1 / 0;
    else return 0;
  end case;
end
$$;
comment on function api.test_fail(text) is e'Raises what it is asked to.\n@http auth=public';

create function api.test_sleep(seconds float8) returns integer
language sql stable as $$ select 1 from pg_sleep(seconds) $$;
comment on function api.test_sleep(float8) is e'Sleeps.\n@http auth=public timeout_ms=300';

create function api.test_read_only() returns text
language sql stable as $$ select current_setting('transaction_read_only') $$;
comment on function api.test_read_only() is e'Is the transaction read-only?\n@http auth=public';

create function api.test_user_add(name text) returns bigint
language sql volatile as $$ insert into data.users (name) values (name) returning id $$;
comment on function api.test_user_add(text) is e'Adds a user.\n@http auth=public';

create function api.test_nothing() returns void language sql volatile as $$ select $$;
comment on function api.test_nothing() is e'Does nothing.\n@http auth=public';

create function api.test_whoami(caller_id bigint) returns bigint
language sql stable as $$ select caller_id $$;
comment on function api.test_whoami(bigint) is e'The caller''s account id.\n@http';
