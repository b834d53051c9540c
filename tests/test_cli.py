"""`gateway run` as `make run` uses it: embedded servers, migrations, serving, clean stop."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from gateway.servers import free_port


def fetch(url: str) -> tuple[int, object]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, json.loads(response.read())


def test_run_serves_registrations_and_stops_everything(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update({"PORT": str(port), "DATA_DIR": str(tmp_path / "data")})
    gateway = Path(sys.executable).parent / "gateway"
    process = subprocess.Popen(
        [str(gateway), "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                status, health = fetch(f"http://127.0.0.1:{port}/health")
                if status == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "gateway did not come up"
            time.sleep(0.3)
        assert health["postgres"]["ok"] and health["redis"]["ok"]  # type: ignore[index]
        status, body = fetch(f"http://127.0.0.1:{port}/stats/registrations")
        assert status == 200 and isinstance(body, list) and len(body) == 12

        state = json.loads((tmp_path / "data" / "servers.json").read_text())
        # the DBA's view: the same function through psql (what `make psql` opens)
        psql = subprocess.run(
            [
                str(gateway),
                "psql",
                "-qAtc",
                "select sum(registrations) from api.monthly_registrations()",
            ],
            env={**env, "DATABASE_URL": ""},
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert psql.returncode == 0, psql.stderr
        assert int(psql.stdout.strip()) == sum(item["registrations"] for item in body)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(60)
    assert process.returncode == 0
    assert not (tmp_path / "data" / "postgres" / "postmaster.pid").exists()
    assert not (tmp_path / "data" / "servers.json").exists()
    for url in (state["database_url"], state["redis_url"]):
        assert_port_closed(int(url.rsplit(":", 1)[1].split("/")[0]))


def assert_port_closed(port: int) -> None:
    with socket.socket() as probe:
        probe.settimeout(1)
        assert probe.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still open"


def test_malloc_tuning_applies_unless_the_environment_sets_it() -> None:
    # mallopt answers 1 for each setting it took; a setting in the environment wins, since
    # glibc read it at start (gateway.servers.tune_malloc)
    script = "from gateway.servers import tune_malloc; print(tune_malloc())"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    applied = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True
    )
    assert applied.stdout.strip() == "True", applied.stderr
    env["MALLOC_TOP_PAD_"] = "0"
    left = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert left.stdout.strip() == "False", left.stderr
