from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import Config, ConfigError


def test_defaults() -> None:
    config = Config.from_mapping({})
    assert (config.host, config.port, config.app_timezone) == ("127.0.0.1", 8000, "UTC")
    assert config.database_url is None and config.redis_url is None


def test_env_file_is_read_and_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("PORT=9000\nAPP_TIMEZONE=Europe/Berlin\n# comment\nHOST=0.0.0.0\n")
    config = Config.from_env({"PORT": "9100"}, env_file)
    assert config.port == 9100
    assert config.app_timezone == "Europe/Berlin"
    assert config.host == "0.0.0.0"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PORT", "eighty", "PORT must be a number"),
        ("PORT", "-1", "PORT must be at least"),
        ("APP_TIMEZONE", "Mars/Base", "APP_TIMEZONE"),
        ("CACHE_PREFIX", "a b", "CACHE_PREFIX"),
        ("LOG_LEVEL", "loud", "LOG_LEVEL"),
        ("REDIS_TIMEOUT", "0", "REDIS_TIMEOUT must be at least"),
    ],
)
def test_bad_values_are_refused_with_the_variable_name(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Config.from_mapping({name: value})


def test_pool_bounds() -> None:
    with pytest.raises(ConfigError, match="DB_POOL_MAX"):
        Config.from_mapping({"DB_POOL_MIN": "5", "DB_POOL_MAX": "2"})
