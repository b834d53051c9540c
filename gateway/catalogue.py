"""The api functions as the database describes them, and argument conversion."""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from gateway.errors import ApiError

INT_RANGES = {
    "smallint": (-(2**15), 2**15 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
}
TEXT_TYPES = {"text", "character varying", "character", "citext", "name"}


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Argument:
    name: str
    type: str
    required: bool


@dataclass(frozen=True)
class Column:
    name: str
    type: str


@dataclass(frozen=True)
class CachePolicy:
    """From the function's `@http cache=... valid_until=...` tag.

    reads: the tables (in schema data) the function reads; a write to any of them
    evicts the entry. valid_until: an api function taking the same arguments that
    returns the moment the result can change by time alone.
    """

    reads: tuple[str, ...]
    valid_until: str | None = None


@dataclass(frozen=True)
class Function:
    """One api function: its input arguments, what it returns, and its @http tag."""

    name: str
    args: tuple[Argument, ...]
    returns_set: bool
    return_type: str
    columns: tuple[Column, ...] | None
    volatility: str
    exposed: bool
    options: dict[str, str]
    description: str

    def argument(self, name: str) -> Argument | None:
        return next((a for a in self.args if a.name == name), None)

    @property
    def read_only(self) -> bool:
        return self.volatility != "volatile"

    @property
    def in_parts(self) -> bool:
        """Returns setof api.json_text: one JSON body in pieces, to be joined in order."""
        return self.returns_set and self.return_type == JSON_TEXT

    @functools.cached_property  # read on every request; a Function never changes
    def cache(self) -> CachePolicy | None:
        if "cache" not in self.options:
            return None
        reads = tuple(t for t in self.options["cache"].split(",") if t)
        return CachePolicy(reads, self.options.get("valid_until"))

    def option_int(self, name: str, default: int) -> int:
        value = self.options.get(name, "")
        return int(value) if value.isdigit() and int(value) > 0 else default


JSON_TEXT = "api.json_text"  # a return type: the function's text is the JSON body as it is


class Catalogue:
    """Signatures of the api functions, read from pg_catalog via api.function_catalogue()."""

    def __init__(self, functions: Mapping[str, Function], version: str) -> None:
        self.functions = dict(functions)
        self.version = version
        # SQL text per call shape, built once (gateway.calls.statement)
        self.statements: dict[tuple[object, ...], tuple[Function, str]] = {}
        # GET calls bound once per route, caller and URL (gateway.calls.Bound)
        self.calls: dict[tuple[object, ...], Any] = {}

    @classmethod
    async def load(cls, connection: asyncpg.Connection | asyncpg.Pool) -> Catalogue:
        rows = await connection.fetch("select * from api.function_catalogue()")
        version = await connection.fetchval("select api.version()")
        functions = {row["name"]: _function(row) for row in rows}
        return cls(functions, version)

    def replace_with(self, other: Catalogue) -> None:
        """Take another catalogue's contents (the app holds one object for its lifetime)."""
        self.functions = other.functions
        self.version = other.version
        self.statements = {}
        self.calls = {}

    def companion(self, name: str | None) -> Function | None:
        """A function named by an @http option (valid_until=, total=); it must exist."""
        if name is None:
            return None
        function = self.functions.get(name)
        if function is None:
            raise ApiError(500, f"api.{name}, named in an @http line, does not exist")
        return function

    def get(self, name: str) -> Function:
        function = self.functions.get(name)
        if function is None:
            raise LookupError(f"api.{name} does not exist")
        return function


def _function(row: asyncpg.Record) -> Function:
    columns = json.loads(row["columns"]) if row["columns"] else None
    return Function(
        name=row["name"],
        args=tuple(Argument(a["name"], a["type"], a["required"]) for a in json.loads(row["args"])),
        returns_set=row["returns_set"],
        return_type=row["return_type"],
        columns=tuple(Column(c["name"], c["type"]) for c in columns) if columns else None,
        volatility=row["volatility"],
        exposed=row["exposed"],
        options=json.loads(row["options"]),
        description=row["description"] or "",
    )


def _reject(name: str, expected: str) -> ApiError:
    return ApiError(400, f"argument '{name}' must be {expected}", code="PGRST_ARG", details=name)


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError
    if "\x00" in value:
        raise ValueError
    value.encode()  # lone surrogates from JSON escapes are no text PostgreSQL can take
    return value


def _integer(value: object) -> int:
    if isinstance(value, bool):
        raise TypeError
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d{1,20}\s*", value):
        return int(value)
    raise ValueError


def _boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false", "t", "f", "1", "0"}:
        return value.lower() in {"true", "t", "1"}
    raise ValueError


def _decimal(value: object) -> Decimal:
    if isinstance(value, bool):
        raise TypeError
    if isinstance(value, (int, float, str)):
        try:
            result = Decimal(str(value))
        except InvalidOperation:
            raise ValueError from None
        if not result.is_finite():
            raise ValueError
        return result
    raise TypeError


def _date(value: object) -> dt.date:
    return dt.date.fromisoformat(_text(value))


def _timestamp(value: object) -> dt.datetime:
    text = _text(value).strip().replace(" ", "T", 1)
    if text.endswith(("z", "Z")):
        text = text[:-1] + "+00:00"
    return dt.datetime.fromisoformat(text)


def _uuid(value: object) -> uuid.UUID:
    return uuid.UUID(_text(value))


def _json(value: object) -> str:
    if isinstance(value, str):
        json.loads(value)
        return value
    return json.dumps(value)


CONVERTERS: dict[str, tuple[Callable[[object], Any], str]] = {
    "boolean": (_boolean, "true or false"),
    "numeric": (_decimal, "a number"),
    "real": (lambda v: float(_decimal(v)), "a number"),
    "double precision": (lambda v: float(_decimal(v)), "a number"),
    "date": (_date, "a date (YYYY-MM-DD)"),
    "timestamp without time zone": (_timestamp, "a timestamp (ISO 8601)"),
    "uuid": (_uuid, "a UUID"),
    "json": (_json, "JSON"),
    "jsonb": (_json, "JSON"),
}


def convert(argument: Argument, value: object, timezone: str, label: str | None = None) -> object:
    """Convert one HTTP value to the Python object asyncpg sends as the argument's type;
    errors name the argument as the caller wrote it (label)."""
    kind = argument.type
    if value is None:  # JSON null is SQL NULL
        return None
    try:
        if kind in INT_RANGES:
            number = _integer(value)
            low, high = INT_RANGES[kind]
            if not low <= number <= high:
                raise ValueError
            return number
        if kind in TEXT_TYPES or kind.startswith(("character varying(", "character(")):
            return _text(value)
        if kind == "timestamp with time zone":
            moment = _timestamp(value)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=ZoneInfo(timezone))
            return moment
        if kind in CONVERTERS:
            return CONVERTERS[kind][0](value)
        return _text(value)
    except (TypeError, ValueError, OverflowError):
        raise _reject(label or argument.name, _expected(kind)) from None


def _expected(kind: str) -> str:
    if kind in INT_RANGES:
        low, high = INT_RANGES[kind]
        return f"an integer between {low} and {high}"
    if kind in CONVERTERS:
        return CONVERTERS[kind][1]
    if kind == "timestamp with time zone":
        return "a timestamp (ISO 8601)"
    return f"a value of type {kind}"


def placeholder(argument: Argument, position: int) -> str:
    """$n with the cast that makes PostgreSQL read it as the argument's type."""
    known = (
        argument.type in INT_RANGES
        or argument.type in TEXT_TYPES
        or argument.type in CONVERTERS
        or argument.type == "timestamp with time zone"
    )
    if known:
        return f"${position}::{argument.type}"
    return f"${position}::text::{argument.type}"


def canonical(value: object) -> object:
    """A JSON-able form of a converted argument, equal for equal inputs (cache keys)."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, (dt.date, dt.datetime, Decimal, uuid.UUID)):
        return str(value)
    return value
