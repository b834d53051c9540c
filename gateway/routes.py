"""The route table: data, not handlers. A new endpoint is a SQL function plus a row here."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CachePolicy:
    """How a route's result may be cached.

    reads: the tables (in schema data) the function reads; a write to any of them
    evicts the entry. valid_until: an api function taking the same arguments that
    returns the moment the result can change by time alone.
    """

    reads: tuple[str, ...]
    valid_until: str | None = None


@dataclass(frozen=True)
class Route:
    """One HTTP route mapped to one api function.

    args maps HTTP argument names (query string, JSON body or path) to the
    function's parameter names; names not listed pass through unchanged.
    """

    method: str
    path: str
    function: str
    summary: str
    args: dict[str, str] = field(default_factory=dict)
    cache: CachePolicy | None = None
    auth: str = "public"
    status: int = 200


ROUTES: tuple[Route, ...] = (
    Route(
        method="GET",
        path="/stats/registrations",
        function="monthly_registrations",
        summary="New users per month for the last 12 months, oldest first",
        cache=CachePolicy(
            reads=("users", "settings"), valid_until="monthly_registrations_valid_until"
        ),
    ),
)
