-- Helpers for the SQL tests (\ir _helpers.sql after begin): temporary, gone at rollback.

create function pg_temp.expect(label text, actual anyelement, expected anyelement) returns void
language plpgsql as $$
begin
  if actual is distinct from expected then
    raise exception '%: expected %, got %', label, expected, actual;
  end if;
end
$$;

-- the SQLSTATE a statement raises, or 'ok'
create function pg_temp.sqlstate_of(statement text) returns text
language plpgsql as $$
begin
  execute statement;
  return 'ok';
exception when others then
  return sqlstate;
end
$$;
