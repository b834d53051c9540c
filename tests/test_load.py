"""Load: 500 concurrent connections for 30 seconds on cached and uncached routes, from wrk (a
separate process) against `gateway serve` (another one): no error, no 5xx, stable memory."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from gateway.servers import free_port

SCRIPT = Path(__file__).with_name("load.lua")
SECONDS = 30
CONNECTIONS = 500


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_500_connections_for_30_seconds(database_url: str, redis_url: str, tmp_path: Path) -> None:
    wrk = shutil.which("wrk")
    if wrk is None:
        if os.environ.get("CI"):
            pytest.fail("wrk is missing in CI: .ci/run must install it")
        pytest.skip("wrk not installed (apt-get install wrk)")
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "PORT": str(port),
        "JWT_SECRET": "load-test-secret-that-is-long-enough-000",
        "CACHE_PREFIX": f"load{port}",
        "RATE_LIMIT_PER_IP": "0",  # all load comes from one address
        "LOG_LEVEL": "WARNING",
        "DB_POOL_MAX": "20",
    }
    # the gateway's log goes to a file: a pipe nobody reads would block it once full
    log_file = tmp_path / "gateway.log"
    log = log_file.open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert server.poll() is None, log_file.read_text()
            assert time.monotonic() < deadline, "gateway did not start"
            time.sleep(0.2)
        samples: list[tuple[float, float]] = []
        done = threading.Event()

        def sample() -> None:
            started = time.monotonic()
            while not done.is_set():
                samples.append((time.monotonic() - started, rss_mb(server.pid)))
                done.wait(0.5)

        sampler = threading.Thread(target=sample)
        sampler.start()
        result = subprocess.run(
            [wrk, "-t2", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency", "--timeout", "5s",
             "-s", str(SCRIPT), base],
            capture_output=True,
            text=True,
            timeout=SECONDS + 60,
        )  # fmt: skip
        done.set()
        sampler.join()
    finally:
        server.terminate()
        server.wait(20)
        log.close()
    output = result.stdout
    print(output)
    print("gateway log (warnings):", log_file.read_text()[-3000:])
    assert result.returncode == 0, result.stderr
    assert not result.stderr.strip(), result.stderr  # a script wrk cannot load: it loads "/"
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    assert requests > SECONDS * 100, output  # the load really ran
    assert "Non-2xx or 3xx responses" not in output, output
    assert "Socket errors" not in output, output
    first = max(mb for t, mb in samples if t <= 10)
    last = max(mb for t, mb in samples if t >= SECONDS - 10)
    print(f"requests {requests}, peak RSS first 10 s {first:.0f} MB, last 10 s {last:.0f} MB")
    assert last <= first * 1.15 + 5, (first, last)
    assert max(mb for _, mb in samples) < 200
