"""docker-compose.yml is validated here; no Docker engine runs on the development machines."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from gateway.config import ROOT


def compose(*args: str, password: str | None = "secret") -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("docker-compose is missing in CI: .ci/run must install it")
        pytest.skip("docker-compose not installed (apt-get install docker-compose)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTGRES_")}
    if password is not None:
        env["POSTGRES_PASSWORD"] = password
    return subprocess.run(
        [binary, "-f", str(ROOT / "docker-compose.yml"), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )


def test_compose_file_is_valid() -> None:
    result = compose("config", "-q")
    assert result.returncode == 0, result.stderr


def test_compose_services_and_ports() -> None:
    result = compose("config")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    for service in ("postgres", "redis", "migrate", "functions", "gateway"):
        assert f"\n  {service}:\n" in text, service
    for port in ("5432", "6379", "8000"):
        assert f"published: {port}" in text or f"{port}:{port}" in text, port
    assert "ghcr.io/amacneil/dbmate" in text
    assert "service_completed_successfully" in text


def test_compose_requires_a_database_password() -> None:
    result = compose("config", "-q", password=None)
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr
