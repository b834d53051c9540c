"""The contract: /openapi.json is valid OpenAPI 3.1, covers every route, and real responses
match it. /docs is Swagger UI served by the gateway itself."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from gateway.keys import CATALOGUE
from gateway.routes import ROUTES
from tests.conftest import wait_until


@pytest.fixture
async def documented(client, rpc_layer: str):
    await wait_until(lambda: client.app[CATALOGUE].version == rpc_layer)
    response = await client.get("/openapi.json")
    assert response.status == 200
    return client, await response.json()


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        for part in node["$ref"].removeprefix("#/").split("/"):
            document = document[part]
        node = document  # type: ignore[assignment]
    return node


def schema_of(document: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    response = resolve(document, response)
    schema = response["content"]["application/json"]["schema"]
    if "$ref" in schema:
        return resolve(document, schema)
    return schema


async def test_document_is_valid_openapi_31(documented) -> None:
    _, document = documented
    assert document["openapi"] == "3.1.0"
    validate(document)


async def test_every_route_and_exposed_function_is_documented(documented) -> None:
    client, document = documented
    catalogue = client.app[CATALOGUE]
    for route in ROUTES:
        if route.is_rpc:
            continue
        assert route.method.lower() in document["paths"][route.path], route.path
    exposed = [f for f in catalogue.functions.values() if f.exposed]
    assert {"test_add", "test_series", "monthly_registrations"} <= {f.name for f in exposed}
    for function in exposed:
        operations = document["paths"][f"/rpc/{function.name}"]
        assert "post" in operations
        assert ("get" in operations) == function.read_only
    assert "/rpc/test_hidden" not in document["paths"]


async def test_descriptions_come_from_comment_on_function(documented) -> None:
    _, document = documented
    description = document["paths"]["/stats/registrations"]["get"]["description"]
    assert description.startswith("New users per month")
    assert "@http" not in description
    assert document["paths"]["/rpc/test_add"]["get"]["description"] == "Adds two numbers."


async def test_parameters_have_types_and_formats(documented) -> None:
    _, document = documented
    parameters = {p["name"]: p for p in document["paths"]["/rpc/test_echo"]["get"]["parameters"]}
    assert parameters["ts"]["schema"] == {"type": "string", "format": "date-time"}
    assert parameters["u"]["schema"] == {"type": "string", "format": "uuid"}
    assert parameters["flag"]["schema"] == {"type": "boolean"}
    add = {p["name"]: p for p in document["paths"]["/rpc/test_add"]["get"]["parameters"]}
    assert add["a"]["required"] is True and add["b"]["required"] is False
    assert add["a"]["schema"]["format"] == "int32"
    body = document["paths"]["/rpc/test_add"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["required"] == ["a"]


CALLS = [
    ("get", "/stats/registrations", {}, 200),
    ("get", "/stats/registrations", {"as_of": "bad"}, 400),
    ("get", "/rpc/monthly_registrations", {"as_of": "2025-01-01T00:00:00Z"}, 200),
    ("get", "/rpc/test_add", {"a": "2"}, 200),
    ("get", "/rpc/test_add", {}, 400),
    ("get", "/rpc/test_series", {"n": "2"}, 200),
    ("get", "/rpc/test_echo", {"t": "x", "ts": "2025-01-01", "d": "2025-01-01", "flag": "1",
                               "x": "1", "u": str(uuid.uuid4()), "j": "1"}, 200),
    ("get", "/rpc/test_sleep", {"seconds": "2"}, 504),
    ("post", "/rpc/test_fail", {"kind": "notfound"}, 404),
    ("post", "/rpc/test_nothing", {}, 200),
]  # fmt: skip


async def test_real_responses_match_their_schemas(documented) -> None:
    client, document = documented
    for method, path, arguments, status in CALLS:
        if method == "get":
            response = await client.get(path, params=arguments)
        else:
            response = await client.post(path, json=arguments)
        assert response.status == status, (path, arguments)
        operation = document["paths"][path][method]
        declared = operation["responses"][str(status)]
        schema = schema_of(document, declared)
        errors = list(Draft202012Validator(schema).iter_errors(await response.json()))
        assert not errors, (path, [e.message for e in errors])


async def test_docs_page_is_served_without_internet(client) -> None:
    page = await client.get("/docs")
    assert page.status == 200 and page.content_type == "text/html"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert "script-src 'self';" in page.headers["Content-Security-Policy"]
    html = await page.text()
    assert not re.search(r"(src|href)=\"https?://", html)
    for asset in re.findall(r"(?:src|href)=\"(/docs/[^\"]+)\"", html):
        response = await client.get(asset)
        assert response.status == 200, asset
        if asset.endswith(".js"):
            text = await response.text()
            assert len(text) > 100
    bundle = await client.get("/docs/assets/swagger-ui-bundle.js")
    assert bundle.status == 200


# Changing the api surface means changing these lists, on purpose.
API_FUNCTIONS = {
    "account_by_token",
    "account_role",
    "collector_day_done",
    "collector_run_begin",
    "collector_run_finish",
    "collector_runs",
    "collector_try_lock",
    "collector_unlock",
    "function_catalogue",
    "github_account_delete",
    "github_account_get",
    "github_account_stats",
    "github_account_stats_parts",
    "github_account_upsert",
    "github_accounts_list",
    "github_etag_get",
    "github_etag_put",
    "github_repos_sync",
    "github_tracked_accounts",
    "github_repo_parse",
    "owner_by_page_token",
    "owner_traffic_page",
    "repo_create",
    "repo_delete",
    "repo_traffic",
    "repos_list",
    "traffic_fetch_failed",
    "traffic_repos_due",
    "traffic_store",
    "operator_create",
    "operator_credentials",
    "operator_delete",
    "operator_id",
    "operator_list",
    "operator_password_set",
    "owner_signup",
    "page_check",
    "like_pattern",
    "post_create",
    "posts_count",
    "posts_list",
    "posts_stats",
    "user_check",
    "user_create",
    "user_delete",
    "user_get",
    "user_update",
    "users_count",
    "users_list",
    "users_name_matches",
    "users_search",
    "users_search_count",
    "users_stats",
    "users_stats_valid_until",
    "monthly_registrations",
    "monthly_registrations_valid_until",
    "version",
}
EXPOSED = {
    "collector_runs",
    "owner_traffic_page",
    "repo_create",
    "repo_delete",
    "repo_traffic",
    "repos_list",
    "github_account_delete",
    "github_account_get",
    "github_account_stats",
    "github_account_stats_parts",
    "github_accounts_list",
    "monthly_registrations",
    "post_create",
    "posts_list",
    "posts_stats",
    "user_create",
    "user_delete",
    "user_get",
    "user_update",
    "users_list",
    "users_search",
    "users_stats",
}


async def test_api_surface_is_pinned(db) -> None:
    rows = await db.fetch("select name, exposed from api.function_catalogue()")
    assert {r["name"] for r in rows} == API_FUNCTIONS
    assert {r["name"] for r in rows if r["exposed"]} == EXPOSED
    undocumented = await db.fetch(
        "select name from api.function_catalogue() where coalesce(description, '') = ''"
    )
    assert undocumented == []
