"""docker-compose.yml is validated here; no Docker engine runs on the development machines."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from gateway.config import ROOT

SECRETS = {"POSTGRES_PASSWORD": "secret", "JWT_SECRET": "a-deployment-secret-of-at-least-32-chars"}


def compose(*args: str, **secrets: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("docker-compose is missing in CI: .ci/run must install it")
        pytest.skip("docker-compose not installed (apt-get install docker-compose)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTGRES_", "JWT_"))}
    env.update(secrets)
    return subprocess.run(
        [binary, "-f", str(ROOT / "docker-compose.yml"), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )


def test_compose_file_is_valid() -> None:
    result = compose("config", "-q", **SECRETS)
    assert result.returncode == 0, result.stderr


def test_compose_services_and_ports() -> None:
    result = compose("config", **SECRETS)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    for service in ("postgres", "redis", "migrate", "functions", "gateway", "collector"):
        assert f"\n  {service}:\n" in text, service
    for port in ("5432", "6379", "8000"):
        assert f"published: {port}" in text or f"{port}:{port}" in text, port
    assert "ghcr.io/amacneil/dbmate" in text
    assert "service_completed_successfully" in text


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_compose_requires_its_secrets(missing: str) -> None:
    given = {k: v for k, v in SECRETS.items() if k != missing}
    result = compose("config", "-q", **given)
    assert result.returncode != 0
    assert missing in result.stderr
