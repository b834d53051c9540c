"""Collect db/tests/*.sql: each file is one test, run by psql in a rolled-back transaction."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gateway.config import ROOT
from gateway.servers import pg_tool

SQL_TESTS = sorted(p for p in (ROOT / "db" / "tests").glob("*.sql") if not p.name.startswith("_"))


@pytest.mark.parametrize("path", SQL_TESTS, ids=[p.name for p in SQL_TESTS])
def test_sql_file(path: Path, database_url: str) -> None:
    result = subprocess.run(
        [pg_tool("psql"), database_url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr


def test_sql_tests_exist() -> None:
    assert SQL_TESTS, "db/tests holds no SQL tests"
