"""OpenAPI 3.1 document generated from the route table and the api function signatures."""

from __future__ import annotations

from typing import Any

from gateway import __version__
from gateway.catalogue import INT_RANGES, Catalogue, Column, Function
from gateway.routes import Route

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
}

ERROR_STATUSES = {
    "400": "Bad input: an unknown, missing or malformed argument",
    "404": "Not found",
    "405": "Method not allowed",
    "415": "The body is not JSON",
    "503": "The database is unavailable; retry",
    "504": "The call took longer than its statement timeout",
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
    if function.columns:
        item = row_schema(function.columns)
    elif function.return_type == "void":
        return {"type": "null"}
    else:
        item = nullable(type_schema(function.return_type))
    return {"type": "array", "items": item} if function.returns_set else item


def parameters(route: Route, function: Function, path_names: set[str]) -> list[JSON]:
    reverse = {v: k for k, v in route.args.items()}
    found = []
    for argument in function.args:
        name = reverse.get(argument.name, argument.name)
        where = "path" if name in path_names else "query"
        found.append(
            {
                "name": name,
                "in": where,
                "required": where == "path" or argument.required,
                "schema": type_schema(argument.type),
            }
        )
    return found


def request_body(route: Route, function: Function, path_names: set[str]) -> JSON:
    reverse = {v: k for k, v in route.args.items()}
    properties = {}
    required = []
    for argument in function.args:
        name = reverse.get(argument.name, argument.name)
        if name in path_names:
            continue
        properties[name] = type_schema(argument.type)
        if argument.required:
            required.append(name)
    schema: JSON = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    return {"required": bool(required), "content": {"application/json": {"schema": schema}}}


def operation(route: Route, function: Function, path: str) -> JSON:
    path_names = {part[1:-1] for part in path.split("/") if part.startswith("{")}
    responses: JSON = {
        str(route.status): {
            "description": "The function's result",
            "headers": {
                "X-Cache": {
                    "description": "HIT, MISS or BYPASS",
                    "schema": {"type": "string", "enum": ["HIT", "MISS", "BYPASS"]},
                }
            },
            "content": {"application/json": {"schema": result_schema(function)}},
        }
    }
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
        "security": [],
    }
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
        if route.is_rpc:
            for function in catalogue.functions.values():
                if not function.exposed:
                    continue
                if route.method == "GET" and not function.read_only:
                    continue
                path = f"/rpc/{function.name}"
                paths.setdefault(path, {})[route.method.lower()] = operation(route, function, path)
            continue
        function = catalogue.get(route.function)
        paths.setdefault(route.path, {})[route.method.lower()] = operation(
            route, function, route.path
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
