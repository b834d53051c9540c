"""The route table: data, not handlers. A new endpoint is a SQL function plus a row here.

Caching, time-validity, statement timeout and row limit belong to the function and are
declared in SQL (its `@http` comment tag); a row can only switch caching off (`cached`).
auth is who may call: public, owner (X-API-Token), operator (JWT, any operator role) or
admin (JWT, admin role). For /rpc/{function} it comes from the function's `auth=` option.
"""

from __future__ import annotations

from dataclasses import dataclass, field

RPC = "{function}"  # the function named by the path: /rpc/{function}
CALLER = "caller_id"  # a parameter of this name receives the authenticated account id


@dataclass(frozen=True)
class Route:
    """One HTTP route mapped to one api function (or to a built-in handler).

    args maps HTTP argument names (query string, JSON body or path) to the function's
    parameter names; names not listed pass through unchanged. passwords maps HTTP names to
    the parameter that receives the argon2 hash of the value. single answers the first row
    of a set as an object.
    """

    method: str
    path: str
    function: str
    summary: str
    auth: str = "public"
    args: dict[str, str] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)
    cached: bool = True
    single: bool = False
    status: int = 200
    tag: str = "stats"
    builtin: str | None = None  # name of a handler in gateway.app.BUILTINS

    @property
    def is_rpc(self) -> bool:
        return self.function == RPC


PAGE = {"limit": "take"}  # `limit` is a reserved word in SQL
USER_ID = {"id": "user_id"}
ACCOUNT_ID = {"id": "account_id"}

# fmt: off
ROUTES: tuple[Route, ...] = (
    Route("GET", "/health", "", "PostgreSQL and Redis status", tag="meta", builtin="health"),
    Route("GET", "/openapi.json", "", "This document", tag="meta", builtin="openapi"),
    Route(
        method="GET",
        path="/stats/registrations",
        function="monthly_registrations",
        summary="New users per month for the last 12 months, oldest first",
    ),
    Route("GET", "/rpc/{function}", RPC, "Call a stable api function", tag="rpc"),
    Route("POST", "/rpc/{function}", RPC, "Call an api function", tag="rpc"),
    # accounts
    Route(
        "POST",
        "/api/users/create",
        "owner_signup",
        "Sign up a repository owner; returns the API token once",
        single=True,
        tag="accounts",
    ),
    Route(
        "POST",
        "/auth/token",
        "",
        "Log in an operator: username and password (JSON or OAuth2 form) for a JWT",
        tag="accounts",
        builtin="token",
    ),
    # users and posts: any operator reads, admins write
    Route("POST", "/users", "user_create", "Create a user", auth="admin", single=True, status=201,
          tag="users"),
    Route("GET", "/users", "users_list", "A page of users by id; X-Total-Count", auth="operator",
          args=PAGE, tag="users"),
    Route("GET", "/users/search", "users_search", "Search users by name and registration date",
          auth="operator", args=PAGE, tag="users"),
    Route("GET", "/users/stats", "users_stats", "User counts", auth="operator", single=True,
          tag="users"),
    Route("GET", "/users/{id}", "user_get", "One user", auth="operator", args=USER_ID,
          single=True, tag="users"),
    Route("PUT", "/users/{id}", "user_update", "Change a user's name and/or email", auth="admin",
          args=USER_ID, single=True, tag="users"),
    Route("DELETE", "/users/{id}", "user_delete", "Delete a user and their posts", auth="admin",
          args=USER_ID, status=204, tag="users"),
    Route("POST", "/posts", "post_create", "Create a post", auth="admin", single=True,
          status=201, tag="posts"),
    Route("GET", "/posts", "posts_list", "Posts, newest first, of a user or all; X-Total-Count",
          auth="operator", args=PAGE, tag="posts"),
    Route("GET", "/posts/stats", "posts_stats", "Posts per user", auth="operator", tag="posts"),
    # tracked GitHub accounts
    Route("PUT", "/v1/users", "", "Track a GitHub account; loads its repositories now",
          auth="admin", tag="github", builtin="track"),
    Route("GET", "/v1/users", "github_accounts_list", "Tracked GitHub accounts", auth="operator",
          tag="github"),
    Route("GET", "/v1/users/{id}", "github_account_get", "A tracked GitHub account",
          auth="operator", args=ACCOUNT_ID, single=True, tag="github"),
    Route("DELETE", "/v1/users/{id}", "github_account_delete",
          "Stop tracking an account; delete its statistics", auth="admin", args=ACCOUNT_ID,
          status=204, tag="github"),
    Route("GET", "/v1/users/{id}/stats", "github_account_stats_parts",
          "Daily repository statistics of an account", auth="operator", args=ACCOUNT_ID,
          tag="github"),
    # repository traffic, for owners (X-API-Token)
    Route("POST", "/api/repos/create", "repo_create", "Track a GitHub repository's traffic",
          auth="owner", single=True, tag="traffic"),
    Route("GET", "/api/repos", "repos_list", "The caller's repositories", auth="owner",
          tag="traffic"),
    Route("GET", "/api/repos/{id}", "repo_traffic", "A repository with its stored traffic",
          auth="owner", args={"id": "repo_id", "start": "date_from", "end": "date_to"},
          tag="traffic"),
    Route("POST", "/api/repos/{id}/delete", "repo_delete", "Delete a repository and its data",
          auth="owner", args={"id": "repo_id"}, status=202, tag="traffic"),
    Route("GET", "/admin/operators", "operator_list", "List operators", auth="admin", tag="admin"),
    Route(
        "POST",
        "/admin/operators",
        "operator_create",
        "Create an operator",
        auth="admin",
        args={"username": "operator_name", "role": "operator_role"},
        passwords={"password": "password_hash"},
        single=True,
        status=201,
        tag="admin",
    ),
    Route(
        "DELETE",
        "/admin/operators/{id}",
        "operator_delete",
        "Delete an operator",
        auth="admin",
        args={"id": "account_id"},
        status=204,
        tag="admin",
    ),
    Route(
        "POST",
        "/admin/operators/{id}/password",
        "operator_password_set",
        "Reset an operator's password",
        auth="admin",
        args={"id": "account_id"},
        passwords={"password": "password_hash"},
        status=204,
        tag="admin",
    ),
)
# fmt: on
