"""Accounts and authentication: sign-up, API tokens, operator JWTs, roles, throttling."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import jwt
import pytest

from gateway.app import init_app
from gateway.auth import hash_password, issue_token
from gateway.keys import CACHE, VERIFIED
from gateway.routes import ROUTES, Route
from tests.conftest import make_config, wait_until

SECRET = make_config("postgresql://unused", None).jwt_secret
assert SECRET


@pytest.fixture
async def accounts(db: asyncpg.Connection):
    await db.execute("delete from data.accounts")
    yield db
    await db.execute("delete from data.accounts")


async def make_operator(db: asyncpg.Connection, username: str, role: str) -> int:
    row = await db.fetchrow(
        "select * from api.operator_create($1, $2, $3)",
        username,
        hash_password("pw-" + username),
        role,
    )
    return int(row["id"])


async def login(client, username: str, password: str) -> tuple[int, dict]:
    response = await client.post("/auth/token", json={"username": username, "password": password})
    return response.status, await response.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- sign-up -------------------------------------------------------------------------


async def test_signup_returns_a_token_and_stores_only_its_hash(client, accounts) -> None:
    response = await client.post("/api/users/create", json={"email": "someuser@example.com"})
    assert response.status == 200
    body = await response.json()
    assert set(body) == {"token"}
    assert re.fullmatch(r"[0-9a-f]{32}", body["token"])
    row = await accounts.fetchrow("select * from data.accounts")
    assert row["email"] == "someuser@example.com" and row["role"] == "owner"
    assert body["token"] not in json.dumps({k: str(v) for k, v in dict(row).items()})
    assert row["api_token_hash"] == await accounts.fetchval(
        "select sha256($1::bytea)", body["token"].encode()
    )
    other = await (await client.post("/api/users/create", json={"email": "b@example.com"})).json()
    assert other["token"] != body["token"]


@pytest.mark.parametrize(
    "body",
    [
        {"email": "SomeUser@Example.COM"},  # same address, other letter case
        {"email": "not-an-email"},
        {"email": "a@b"},
        {"email": "two@@example.com"},
        {"email": ""},
        {"email": None},
        {"email": 42},
        {},
        {"email": "x@example.com", "role": "admin"},
    ],
)
async def test_signup_refusals_are_400_with_an_error(client, accounts, body) -> None:
    await client.post("/api/users/create", json={"email": "someuser@example.com"})
    response = await client.post("/api/users/create", json=body)
    assert response.status == 400, body
    assert isinstance((await response.json())["error"], str)
    assert await accounts.fetchval("select count(*) from data.accounts") == 1


@pytest.mark.parametrize(
    ("data", "content_type"),
    [("{not json", "application/json"), ("email=a@b.co", "text/plain"), ("", "application/json"),
     ('["a@b.co"]', "application/json")],
)  # fmt: skip
async def test_signup_without_a_json_object_is_400(client, accounts, data, content_type) -> None:
    response = await client.post(
        "/api/users/create", data=data, headers={"Content-Type": content_type}
    )
    assert response.status == 400
    assert "error" in await response.json()


# --- operators and JWTs --------------------------------------------------------------


async def test_login_json_and_oauth2_form(client, accounts) -> None:
    await make_operator(accounts, "alice", "admin")
    status, body = await login(client, "alice", "pw-alice")
    assert status == 200
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    claims = jwt.decode(body["access_token"], SECRET, algorithms=["HS256"])
    assert claims["role"] == "admin" and claims["exp"] - claims["iat"] == 3600
    form = await client.post(
        "/auth/token", data={"grant_type": "password", "username": "ALICE", "password": "pw-alice"}
    )
    assert form.status == 200
    token = (await form.json())["access_token"]
    assert (await client.get("/admin/operators", headers=bearer(token))).status == 200


async def test_wrong_password_and_unknown_user_look_the_same(client, accounts) -> None:
    await make_operator(accounts, "alice", "admin")
    wrong = await login(client, "alice", "nope")
    unknown = await login(client, "nobody", "nope")
    assert wrong == unknown
    assert wrong[0] == 401


async def test_password_is_stored_as_argon2(accounts) -> None:
    await make_operator(accounts, "alice", "admin")
    stored = await accounts.fetchval("select password_hash from data.accounts")
    assert stored.startswith("$argon2") and "pw-alice" not in stored


def forged(claims: dict, secret: str | None = SECRET, alg: str = "HS256") -> str:
    if alg == "none":

        def part(data: dict) -> str:
            return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

        return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."
    return jwt.encode(claims, secret, algorithm=alg)


async def test_jwt_failure_modes_are_401(client, accounts) -> None:
    admin = await make_operator(accounts, "alice", "admin")
    now = int(time.time())
    good = {"sub": str(admin), "role": "admin", "iat": now, "exp": now + 600}
    assert (await client.get("/admin/operators", headers=bearer(forged(good)))).status == 200
    valid = forged(good)
    head, payload, signature = valid.split(".")
    tampered_payload = (
        base64.urlsafe_b64encode(json.dumps({**good, "sub": "999"}).encode()).rstrip(b"=").decode()
    )
    cases = {
        "alg none": forged(good, alg="none"),
        "expired": forged({**good, "iat": now - 7200, "exp": now - 3600}),
        "wrong secret": forged(good, secret="another-secret-that-is-long-enough-000000"),
        "tampered payload": f"{head}.{tampered_payload}.{signature}",
        "tampered signature": f"{head}.{payload}.{signature[:-2]}AA",
        "no exp": forged({"sub": str(admin), "iat": now}),
        "garbage": "not.a.jwt",
    }
    for name, token in cases.items():
        response = await client.get("/admin/operators", headers=bearer(token))
        assert response.status == 401, name
        assert "error" in await response.json()
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    for header in ({}, {"Authorization": "Basic YWxpY2U6cHc="}, {"Authorization": "Bearer "}):
        assert (await client.get("/admin/operators", headers=header)).status == 401


async def test_token_of_a_deleted_account_is_refused(client, accounts) -> None:
    admin = await make_operator(accounts, "alice", "admin")
    other = await make_operator(accounts, "bob", "admin")
    token = issue_token(make_config("x", None), other, "admin")
    headers = bearer(str(token["access_token"]))
    assert (await client.get("/admin/operators", headers=headers)).status == 200
    cache = client.app[CACHE]
    hits = cache.memo_hits
    assert (await client.get("/admin/operators", headers=headers)).status == 200
    assert cache.memo_hits == hits + 1  # the role was remembered, not looked up again
    await accounts.execute("select api.operator_delete($1)", other)  # NOTIFY accounts
    assert (await client.get("/admin/operators", headers=headers)).status == 401
    assert admin != other


async def test_role_in_the_database_wins_over_the_claim(client, accounts) -> None:
    viewer = await make_operator(accounts, "vera", "operator")
    now = int(time.time())
    token = forged({"sub": str(viewer), "role": "admin", "iat": now, "exp": now + 600})
    assert (await client.get("/admin/operators", headers=bearer(token))).status == 403


# --- the role matrix, generated from the route table --------------------------------


def sample_path(route: Route) -> str:
    return re.sub(r"\{[^}]+\}", "1", route.path).replace("/rpc/1", "/rpc/test_whoami")


async def test_every_route_enforces_its_role(client, accounts, rpc_layer) -> None:
    from gateway.keys import CATALOGUE

    await wait_until(lambda: client.app[CATALOGUE].version == rpc_layer)
    admin = await make_operator(accounts, "alice", "admin")
    viewer = await make_operator(accounts, "vera", "operator")
    config = make_config("x", None)
    owner = (
        await (await client.post("/api/users/create", json={"email": "o@example.com"})).json()
    )["token"]
    credentials = {
        "none": {},
        "owner": {"X-API-Token": owner},
        "operator": bearer(str(issue_token(config, viewer, "operator")["access_token"])),
        "admin": bearer(str(issue_token(config, admin, "admin")["access_token"])),
    }
    allowed = {
        "public": {"none", "owner", "operator", "admin"},
        "owner": {"owner"},
        "operator": {"operator", "admin"},
        "admin": {"admin"},
    }
    checked = 0
    for route in ROUTES:
        level = "operator" if route.is_rpc else route.auth
        for who, headers in credentials.items():
            response = await client.request(
                route.method,
                sample_path(route),
                headers=headers,
                json={} if route.method != "GET" else None,
            )
            if who in allowed[level]:
                assert response.status not in (401, 403), (route.path, who, response.status)
            else:
                expected = 403 if who == "operator" and level == "admin" else 401
                assert response.status == expected, (route.path, who, response.status)
            checked += 1
    assert checked == 4 * len(ROUTES)


async def test_caller_id_comes_from_the_token_never_from_the_client(
    client, accounts, rpc_layer
) -> None:
    from gateway.keys import CATALOGUE

    await wait_until(lambda: client.app[CATALOGUE].version == rpc_layer)
    viewer = await make_operator(accounts, "vera", "operator")
    headers = bearer(str(issue_token(make_config("x", None), viewer, "operator")["access_token"]))
    response = await client.get("/rpc/test_whoami", headers=headers)
    assert (response.status, await response.json()) == (200, viewer)
    spoofed = await client.get("/rpc/test_whoami", params={"caller_id": "1"}, headers=headers)
    assert spoofed.status == 400


async def test_owner_token_auth(
    aiohttp_client, database_url, redis_url, accounts, rpc_layer
) -> None:
    route = Route("GET", "/test/mine", "test_whoami", "test", auth="owner")
    client = await aiohttp_client(init_app(make_config(database_url, redis_url), (*ROUTES, route)))
    from gateway.keys import CATALOGUE

    await wait_until(lambda: client.app[CATALOGUE].version == rpc_layer)
    token = (
        await (await client.post("/api/users/create", json={"email": "o@example.com"})).json()
    )["token"]
    owner_id = await accounts.fetchval("select id from data.accounts where email = 'o@example.com'")
    ok = await client.get("/test/mine", headers={"X-API-Token": token})
    assert (ok.status, await ok.json()) == (200, owner_id)
    padded = await client.get("/test/mine", headers={"X-API-Token": f"  {token} "})
    assert padded.status == 200  # surrounding whitespace is not part of a header value
    for bad in ({}, {"X-API-Token": ""}, {"X-API-Token": token.upper()}, {"X-API-Token": "0" * 32},
                {"X-API-Token": token[:-1]}):  # fmt: skip
        response = await client.get("/test/mine", headers=bad)
        assert response.status == 401, bad
        assert "error" in await response.json()


# --- throttling ----------------------------------------------------------------------


async def test_failed_logins_are_throttled(client, accounts) -> None:
    await make_operator(accounts, "alice", "admin")
    for _ in range(5):
        assert (await login(client, "alice", "wrong"))[0] == 401
    response = await client.post("/auth/token", json={"username": "alice", "password": "pw-alice"})
    assert response.status == 429
    assert int(response.headers["Retry-After"]) > 0
    # another username from the same address is not locked out
    await make_operator(accounts, "bob", "admin")
    assert (await login(client, "bob", "pw-bob"))[0] == 200


# --- operators managed over HTTP and from the shell -----------------------------------


async def test_admin_routes_manage_operators(client, accounts) -> None:
    admin = await make_operator(accounts, "alice", "admin")
    headers = bearer(str(issue_token(make_config("x", None), admin, "admin")["access_token"]))
    created = await client.post(
        "/admin/operators",
        json={"username": "carol", "password": "s3cret", "role": "operator"},
        headers=headers,
    )
    assert created.status == 201
    carol = await created.json()
    assert carol["username"] == "carol" and carol["role"] == "operator"
    assert "password" not in json.dumps(carol) and "hash" not in json.dumps(carol)
    duplicate = await client.post(
        "/admin/operators", json={"username": "CAROL", "password": "x"}, headers=headers
    )
    assert duplicate.status == 409
    hashed = await client.post(
        "/admin/operators", json={"username": "dave", "password_hash": "x"}, headers=headers
    )
    assert hashed.status == 400
    assert (await login(client, "carol", "s3cret"))[0] == 200
    reset = await client.post(
        f"/admin/operators/{carol['id']}/password", json={"password": "n3w"}, headers=headers
    )
    assert reset.status == 204
    assert (await login(client, "carol", "s3cret"))[0] == 401
    assert (await login(client, "carol", "n3w"))[0] == 200
    listed = await (await client.get("/admin/operators", headers=headers)).json()
    assert [o["username"] for o in listed] == ["alice", "carol"]
    assert (await client.delete(f"/admin/operators/{carol['id']}", headers=headers)).status == 204
    assert (await client.delete(f"/admin/operators/{carol['id']}", headers=headers)).status == 404


def admin_cli(database_url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "gateway-admin"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"},
        timeout=60,
    )


async def test_gateway_admin_cli(client, accounts, database_url: str) -> None:
    created = admin_cli(database_url, "create-user", "root", "--role", "admin", stdin="hunter22\n")
    assert created.returncode == 0, created.stderr
    assert "hunter22" not in created.stdout + created.stderr
    assert (await login(client, "root", "hunter22"))[0] == 200
    listed = admin_cli(database_url, "list-users")
    assert "root\tadmin" in listed.stdout
    assert admin_cli(database_url, "reset-password", "root", stdin="other-pw\n").returncode == 0
    assert (await login(client, "root", "other-pw"))[0] == 200
    assert admin_cli(database_url, "delete-user", "root").returncode == 0
    assert (await login(client, "root", "other-pw"))[0] == 401
    missing = admin_cli(database_url, "delete-user", "root")
    assert missing.returncode == 1 and "no operator" in missing.stderr


async def test_a_verified_token_is_still_refused_once_expired(client, accounts) -> None:
    # a token's signature and claims are verified once; its expiry is checked every time
    admin = await make_operator(accounts, "alice", "admin")
    expires = int(time.time()) + 4  # 3 to 4 s from now
    token = forged({"sub": str(admin), "role": "admin", "iat": expires - 4, "exp": expires})
    assert (await client.get("/admin/operators", headers=bearer(token))).status == 200
    assert (await client.get("/admin/operators", headers=bearer(token))).status == 200
    assert token in client.app[VERIFIED]
    await asyncio.sleep(expires + 0.2 - time.time())  # past its expiry
    response = await client.get("/admin/operators", headers=bearer(token))
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    huge = forged({"sub": str(admin), "role": "admin", "iat": expires, "exp": 10**400})
    assert (await client.get("/admin/operators", headers=bearer(huge))).status == 401
