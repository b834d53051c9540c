"""Settings from environment variables and an optional .env file."""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values

ROOT = Path(__file__).resolve().parent.parent


class ConfigError(ValueError):
    """A setting has a value the gateway cannot use."""


@dataclass(frozen=True)
class Config:
    """Validated settings. Every field is documented in the README."""

    database_url: str | None = None
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    app_timezone: str = "UTC"
    data_dir: Path = ROOT / ".data"
    db_pool_min: int = 2
    db_pool_max: int = 10
    db_timeout: float = 5.0
    statement_timeout_ms: int = 5000
    redis_timeout: float = 0.25
    redis_retry_after: float = 1.0
    cache_max_ttl: int = 3600
    max_rows: int = 10000
    cache_barrier: bool = True
    jwt_secret: str | None = None
    jwt_expire_minutes: int = 60
    login_max_failures: int = 5
    login_window_seconds: int = 300
    github_api_url: str = "https://api.github.com"
    github_token: str | None = None
    github_concurrency: int = 8
    github_timeout: float = 10.0
    github_retries: int = 4
    collect_at: dt.time = dt.time(3, 0)
    rate_limit_per_ip: int = 6000
    rate_limit_per_token: int = 3000
    rate_limit_window: int = 60
    cache_prefix: str = "gw"
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, env_file: Path | None = None) -> Config:
        """Read settings: real environment variables win over the .env file."""
        values: dict[str, str] = {}
        dotenv = env_file if env_file is not None else ROOT / ".env"
        if dotenv.is_file():
            values.update({k: v for k, v in dotenv_values(dotenv).items() if v is not None})
        values.update(os.environ if env is None else env)
        return cls.from_mapping(values)

    @classmethod
    def from_mapping(cls, values: dict[str, str]) -> Config:
        def text(name: str, default: str | None) -> str | None:
            value = values.get(name, "").strip()
            return value or default

        def number(name: str, default: float, kind: type = int, minimum: float = 0) -> float:
            raw = text(name, None)
            if raw is None:
                return default
            try:
                value = kind(raw)
            except ValueError:
                raise ConfigError(f"{name} must be a number, got {raw!r}") from None
            if value < minimum:
                raise ConfigError(f"{name} must be at least {minimum}, got {raw!r}")
            return value

        def flag(name: str, default: bool) -> bool:
            raw = (text(name, None) or "").lower()
            if not raw:
                return default
            if raw not in {"on", "off", "true", "false", "1", "0", "yes", "no"}:
                raise ConfigError(f"{name} must be on or off, got {raw!r}")
            return raw in {"on", "true", "1", "yes"}

        timezone = text("APP_TIMEZONE", "UTC") or "UTC"
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"APP_TIMEZONE is not a known time zone: {timezone!r}") from None
        prefix = text("CACHE_PREFIX", "gw") or "gw"
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", prefix):
            raise ConfigError("CACHE_PREFIX may hold letters, digits, '_', '.' and '-' only")
        level = (text("LOG_LEVEL", "INFO") or "INFO").upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ConfigError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {level!r}")
        raw_at = text("COLLECT_AT", "03:00") or "03:00"
        try:
            collect_at = dt.time.fromisoformat(raw_at)
        except ValueError:
            raise ConfigError(f"COLLECT_AT must be HH:MM (UTC), got {raw_at!r}") from None
        if not (text("GITHUB_API_URL", "https://x") or "").startswith(("http://", "https://")):
            raise ConfigError("GITHUB_API_URL must be an http(s) URL")
        secret = text("JWT_SECRET", None)
        if secret is not None and len(secret) < 32:
            raise ConfigError("JWT_SECRET must be at least 32 characters")
        pool_min = int(number("DB_POOL_MIN", 2, minimum=1))
        pool_max = int(number("DB_POOL_MAX", 10, minimum=1))
        if pool_max < pool_min:
            raise ConfigError("DB_POOL_MAX must be at least DB_POOL_MIN")
        return cls(
            database_url=text("DATABASE_URL", None),
            redis_url=text("REDIS_URL", None),
            host=text("HOST", "127.0.0.1") or "127.0.0.1",
            port=int(number("PORT", 8000, minimum=0)),
            app_timezone=timezone,
            data_dir=Path(text("DATA_DIR", str(ROOT / ".data")) or ".data").resolve(),
            db_pool_min=pool_min,
            db_pool_max=pool_max,
            db_timeout=float(number("DB_TIMEOUT", 5.0, float, 0.1)),
            statement_timeout_ms=int(number("STATEMENT_TIMEOUT_MS", 5000, minimum=1)),
            redis_timeout=float(number("REDIS_TIMEOUT", 0.25, float, 0.01)),
            redis_retry_after=float(number("REDIS_RETRY_AFTER", 1.0, float, 0.0)),
            cache_max_ttl=int(number("CACHE_MAX_TTL", 3600, minimum=1)),
            max_rows=int(number("MAX_ROWS", 10000, minimum=1)),
            cache_barrier=flag("CACHE_BARRIER", True),
            jwt_secret=secret,
            jwt_expire_minutes=int(number("JWT_EXPIRE_MINUTES", 60, minimum=1)),
            login_max_failures=int(number("LOGIN_MAX_FAILURES", 5, minimum=1)),
            login_window_seconds=int(number("LOGIN_WINDOW_SECONDS", 300, minimum=1)),
            github_api_url=text("GITHUB_API_URL", "https://api.github.com") or "",
            github_token=text("GITHUB_TOKEN", None),
            github_concurrency=int(number("GITHUB_CONCURRENCY", 8, minimum=1)),
            github_timeout=float(number("GITHUB_TIMEOUT", 10.0, float, 0.1)),
            github_retries=int(number("GITHUB_RETRIES", 4, minimum=0)),
            collect_at=collect_at,
            rate_limit_per_ip=int(number("RATE_LIMIT_PER_IP", 6000, minimum=0)),
            rate_limit_per_token=int(number("RATE_LIMIT_PER_TOKEN", 3000, minimum=0)),
            rate_limit_window=int(number("RATE_LIMIT_WINDOW", 60, minimum=1)),
            cache_prefix=prefix,
            log_level=level,
        )
