"""gateway-admin: manage operators from a shell (create, list, delete, reset a password).

It talks to DATABASE_URL, or to the database `make run` started. Passwords are read from
standard input (without echo on a terminal), never from the command line.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys

import asyncpg

from gateway.auth import hash_password
from gateway.cli import state_file
from gateway.config import Config, ConfigError
from gateway.errors import ApiError


def database_url(config: Config) -> str:
    if config.database_url:
        return config.database_url
    if state_file(config).exists():
        return str(json.loads(state_file(config).read_text())["database_url"])
    raise ConfigError("set DATABASE_URL, or start the gateway with `make run` first")


def read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise ConfigError("the passwords differ")
        return first
    return sys.stdin.readline().rstrip("\n")


async def run(options: argparse.Namespace, url: str) -> str:
    connection = await asyncpg.connect(url)
    try:
        if options.command == "create-user":
            row = await connection.fetchrow(
                "select * from api.operator_create($1, $2, $3)",
                options.username,
                hash_password(read_password()),
                options.role,
            )
            assert row is not None
            return f"created {row['username']} (id {row['id']}, role {row['role']})"
        if options.command == "list-users":
            rows = await connection.fetch("select * from api.operator_list()")
            lines = [
                f"{r['id']}\t{r['username']}\t{r['role']}\t{r['created_at']:%Y-%m-%d}" for r in rows
            ]
            return "\n".join(["id\tusername\trole\tcreated", *lines])
        account = await connection.fetchval("select api.operator_id($1)", options.username)
        if account is None:
            raise ConfigError(f"no operator named {options.username}")
        if options.command == "delete-user":
            await connection.execute("select api.operator_delete($1)", account)
            return f"deleted {options.username}"
        await connection.execute(
            "select api.operator_password_set($1, $2)", account, hash_password(read_password())
        )
        return f"password of {options.username} replaced"
    finally:
        await connection.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gateway-admin", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create-user", help="create an operator; password on stdin")
    create.add_argument("username")
    create.add_argument("--role", choices=["admin", "operator"], default="operator")
    sub.add_parser("list-users", help="list operators")
    for name, text in (("delete-user", "delete an operator"), ("reset-password", "new password")):
        sub.add_parser(name, help=text).add_argument("username")
    options = parser.parse_args(argv)
    try:
        print(asyncio.run(run(options, database_url(Config.from_env()))))
    except (ConfigError, ApiError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except asyncpg.PostgresError as error:
        print(f"error: {getattr(error, 'message', error)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
