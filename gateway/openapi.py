"""OpenAPI 3.1 document generated from the route table and the api function signatures."""

from __future__ import annotations

from typing import Any

from gateway import __version__
from gateway.catalogue import INT_RANGES, JSON_TEXT, Catalogue, Column, Function
from gateway.routes import CALLER, Route

JSON = dict[str, Any]

SCALARS: dict[str, JSON] = {
    "smallint": {"type": "integer", "format": "int32"},
    "integer": {"type": "integer", "format": "int32"},
    "bigint": {"type": "integer", "format": "int64"},
    "numeric": {"type": "number"},
    "real": {"type": "number", "format": "float"},
    "double precision": {"type": "number", "format": "double"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "timestamp with time zone": {"type": "string", "format": "date-time"},
    "timestamp without time zone": {"type": "string"},
    "uuid": {"type": "string", "format": "uuid"},
    "json": {},
    "jsonb": {},
    JSON_TEXT: {},  # JSON the function rendered itself
}

ERROR_STATUSES = {
    "400": "Bad input: an unknown, missing or malformed argument",
    "401": "Missing, unknown or expired credentials",
    "403": "The caller's role may not use this route",
    "404": "Not found",
    "405": "Method not allowed",
    "409": "Conflict with existing data",
    "413": "The body is larger than 1 MiB",
    "429": "Too many requests; see Retry-After",
    "502": "GitHub failed",
    "503": "The database is unavailable; retry",
    "504": "The call took longer than its statement timeout",
}
SECURITY = {
    "public": [],
    "owner": [{"apiToken": []}],
    "operator": [{"bearer": []}],
    "admin": [{"bearer": []}],
}
BUILTIN_RESPONSES: dict[str, JSON] = {
    "health": {"type": "object", "required": ["status", "postgres", "redis", "cache"]},
    "openapi": {"type": "object", "required": ["openapi", "info", "paths"]},
    "track": {
        "type": "object",
        "properties": {
            "id": {"type": "integer", "format": "int64"},
            "login": {"type": "string"},
            "name": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        },
        "required": ["id", "login", "name"],
    },
    "token": {
        "type": "object",
        "properties": {
            "access_token": {"type": "string"},
            "token_type": {"type": "string", "enum": ["bearer"]},
            "expires_in": {"type": "integer"},
        },
        "required": ["access_token", "token_type", "expires_in"],
    },
}
LOGIN_BODY: JSON = {
    "type": "object",
    "properties": {"login": {"type": "string", "pattern": "^[A-Za-z0-9-]{1,39}$"}},
    "required": ["login"],
    "additionalProperties": False,
}
TOKEN_BODY: JSON = {
    "type": "object",
    "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
    "required": ["username", "password"],
}


def type_schema(pg_type: str) -> JSON:
    if pg_type.endswith("[]"):
        return {"type": "array", "items": type_schema(pg_type[:-2])}
    schema = dict(SCALARS.get(pg_type, {"type": "string"}))
    if pg_type in INT_RANGES:
        low, high = INT_RANGES[pg_type]
        schema.update(minimum=low, maximum=high)
    return schema


def nullable(schema: JSON) -> JSON:
    if "type" not in schema:
        return schema  # any JSON value, null included
    return {"anyOf": [schema, {"type": "null"}]}


def row_schema(columns: tuple[Column, ...]) -> JSON:
    return {
        "type": "object",
        "properties": {c.name: nullable(type_schema(c.type)) for c in columns},
        "required": [c.name for c in columns],
    }


def result_schema(function: Function) -> JSON:
    if function.in_parts:  # pieces of one body
        return type_schema(JSON_TEXT)
    if function.columns:
        item = row_schema(function.columns)
    elif function.return_type == "void":
        return {"type": "null"}
    else:
        item = nullable(type_schema(function.return_type))
    return {"type": "array", "items": item} if function.returns_set else item


def http_arguments(route: Route, function: Function) -> list[tuple[str, JSON, bool]]:
    """(HTTP name, schema, required) of what a caller sends: not caller_id, and passwords
    under their HTTP name."""
    reverse = {v: k for k, v in route.args.items()}
    reverse.update({v: k for k, v in route.passwords.items()})
    found = []
    for argument in function.args:
        if argument.name == CALLER:
            continue
        schema = {"type": "string"} if argument.name in route.passwords.values() else None
        name = reverse.get(argument.name, argument.name)
        found.append((name, schema or type_schema(argument.type), argument.required))
    return found


def parameters(route: Route, function: Function, path_names: set[str]) -> list[JSON]:
    found = []
    for name, schema, required in http_arguments(route, function):
        where = "path" if name in path_names else "query"
        found.append(
            {"name": name, "in": where, "required": where == "path" or required, "schema": schema}
        )
    return found


def request_body(route: Route, function: Function, path_names: set[str]) -> JSON:
    properties = {}
    required = []
    for name, schema, needed in http_arguments(route, function):
        if name in path_names:
            continue
        properties[name] = schema
        if needed:
            required.append(name)
    schema: JSON = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    return {"required": bool(required), "content": {"application/json": {"schema": schema}}}


def success(route: Route, schema: JSON, counted: bool = False) -> JSON:
    if route.status == 204 or (route.status == 202 and schema == {"type": "null"}):
        return {str(route.status): {"description": "Done"}}
    headers: JSON = {
        "X-Cache": {
            "description": "HIT, MISS or BYPASS",
            "schema": {"type": "string", "enum": ["HIT", "MISS", "BYPASS"]},
        }
    }
    if counted:
        headers["X-Total-Count"] = {
            "description": "How many rows there are in all pages",
            "schema": {"type": "integer", "minimum": 0},
        }
    return {
        str(route.status): {
            "description": "The result",
            "headers": headers,
            "content": {"application/json": {"schema": schema}},
        }
    }


def builtin_operation(route: Route) -> JSON:
    assert route.builtin is not None
    result: JSON = {
        "operationId": route.builtin,
        "summary": route.summary,
        "tags": [route.tag],
        "responses": {
            "200": {
                "description": route.summary,
                "content": {"application/json": {"schema": BUILTIN_RESPONSES[route.builtin]}},
            },
            **{s: {"$ref": f"#/components/responses/{s}"} for s in ("400", "401", "429", "503")},
        },
        "security": [],
    }
    if route.builtin == "track":
        responses = result["responses"]
        responses["201"] = {**responses["200"], "description": "Now tracked"}
        responses["200"]["description"] = "Already tracked"
        for status in ("403", "404"):
            responses[status] = {"$ref": f"#/components/responses/{status}"}
        responses["502"] = {"$ref": "#/components/responses/502"}
        result["security"] = SECURITY[route.auth]
        result["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": LOGIN_BODY}},
        }
    if route.builtin == "token":
        result["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {"schema": TOKEN_BODY},
                "application/x-www-form-urlencoded": {"schema": TOKEN_BODY},
            },
        }
    return result


def operation(route: Route, function: Function, path: str, auth: str) -> JSON:
    path_names = {part[1:-1] for part in path.split("/") if part.startswith("{")}
    schema = result_schema(function)
    if route.single and schema.get("type") == "array":
        schema = schema["items"]
    responses: JSON = success(route, schema, "total" in function.options)
    for status in ERROR_STATUSES:
        responses[status] = {"$ref": f"#/components/responses/{status}"}
    summary = route.summary if not route.is_rpc else f"api.{function.name}"
    words = path.strip("/").replace("{", "").replace("}", "").replace("/", "_")
    result: JSON = {
        "operationId": f"{route.method.lower()}_{words}",
        "summary": summary,
        "description": function.description,
        "tags": [route.tag],
        "responses": responses,
        "security": SECURITY[auth],
    }
    if auth in ("operator", "admin"):
        result["description"] += (
            f"\n\nNeeds a JWT of role {'admin' if auth == 'admin' else 'admin or operator'}."
        )
    if route.method in {"GET", "DELETE"}:
        result["parameters"] = parameters(route, function, path_names)
    else:
        path_parameters = [p for p in parameters(route, function, path_names) if p["in"] == "path"]
        if path_parameters:
            result["parameters"] = path_parameters
        result["requestBody"] = request_body(route, function, path_names)
    return result


def document(routes: tuple[Route, ...], catalogue: Catalogue) -> JSON:
    paths: dict[str, JSON] = {}
    for route in routes:
        if route.builtin:
            paths.setdefault(route.path, {})[route.method.lower()] = builtin_operation(route)
            continue
        if route.is_rpc:
            for function in catalogue.functions.values():
                if not function.exposed:
                    continue
                if route.method == "GET" and not function.read_only:
                    continue
                path = f"/rpc/{function.name}"
                auth = function.options.get("auth", "operator")
                paths.setdefault(path, {})[route.method.lower()] = operation(
                    route, function, path, auth
                )
            continue
        function = catalogue.get(route.function)
        paths.setdefault(route.path, {})[route.method.lower()] = operation(
            route, function, route.path, route.auth
        )
    error_schema: JSON = {
        "type": "object",
        "properties": {
            "error": {"type": "string"},
            "code": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "message": {"type": "string"},
            "details": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "hint": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        },
        "required": ["error", "code", "message", "details", "hint"],
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "analytics-gateway",
            "version": __version__,
            "description": "HTTP routes mapped to PostgreSQL functions of the api schema."
            f" Function layer {catalogue.version}.",
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "securitySchemes": {
                "apiToken": {"type": "apiKey", "in": "header", "name": "X-API-Token"},
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            },
            "schemas": {"Error": error_schema},
            "responses": {
                status: {
                    "description": text,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                }
                for status, text in ERROR_STATUSES.items()
            },
        },
    }
