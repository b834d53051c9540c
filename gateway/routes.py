"""The route table: data, not handlers. A new endpoint is a SQL function plus a row here.

Caching, time-validity, statement timeout and row limit belong to the function and are
declared in SQL (its `@http` comment tag); a row can only switch caching off (`cached`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

RPC = "{function}"  # the function named by the path: /rpc/{function}


@dataclass(frozen=True)
class Route:
    """One HTTP route mapped to one api function.

    args maps HTTP argument names (query string, JSON body or path) to the function's
    parameter names; names not listed pass through unchanged. auth names who may call.
    """

    method: str
    path: str
    function: str
    summary: str
    args: dict[str, str] = field(default_factory=dict)
    cached: bool = True
    auth: str = "public"
    status: int = 200
    tag: str = "stats"

    @property
    def is_rpc(self) -> bool:
        return self.function == RPC


ROUTES: tuple[Route, ...] = (
    Route(
        method="GET",
        path="/stats/registrations",
        function="monthly_registrations",
        summary="New users per month for the last 12 months, oldest first",
    ),
    Route("GET", "/rpc/{function}", RPC, "Call a stable api function", tag="rpc"),
    Route("POST", "/rpc/{function}", RPC, "Call an api function", tag="rpc"),
)
