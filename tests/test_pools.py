"""Connections go to waiting callers in the order they asked (gateway.pools.FairPool)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from gateway.app import keep_session  # the read-only pool's release: no reset query
from gateway.pools import FairPool


async def waiters_served(database_url: str, fair: bool) -> list[str]:
    """Three callers wait for the pool's only connection; as its holder gives it back, a
    fourth one arrives. The order in which they got it."""
    raw = await asyncpg.create_pool(database_url, min_size=1, max_size=1, reset=keep_session)
    pool = FairPool(raw)
    order: list[str] = []

    async def take() -> asyncpg.Connection:
        return await pool.take(5) if fair else await raw.acquire()  # as calls.execute did

    async def give(connection: asyncpg.Connection) -> None:
        await (pool.give(connection, 5) if fair else raw.release(connection))

    async def caller(name: str) -> None:
        connection = await take()
        order.append(name)
        await give(connection)

    try:
        held = await take()
        callers = [asyncio.create_task(caller(f"waiter {i}")) for i in range(3)]
        await asyncio.sleep(0.1)  # all three wait
        giving = asyncio.ensure_future(give(held))
        # the newcomer's first step runs right after asyncpg has put the connection back,
        # before the waiter it was put back for resumes
        asyncio.get_running_loop().call_soon(
            lambda: callers.append(asyncio.create_task(caller("newcomer")))
        )
        await giving
        while not all(task.done() for task in callers):
            await asyncio.gather(*callers)
    finally:
        await raw.close()
    return order


async def test_a_caller_that_just_arrived_waits_its_turn(database_url: str) -> None:
    order = await waiters_served(database_url, fair=True)
    assert order == ["waiter 0", "waiter 1", "waiter 2", "newcomer"]


async def test_asyncpg_alone_lets_it_jump_the_queue(database_url: str) -> None:
    # why FairPool exists: if asyncpg ever serves in order, this fails and the gate can go
    order = await waiters_served(database_url, fair=False)
    assert order[0] == "newcomer", order


async def test_a_caller_that_waits_too_long_gives_up_its_place(database_url: str) -> None:
    raw = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    pool = FairPool(raw)
    try:
        held = await pool.take(5)
        with pytest.raises(TimeoutError):
            await pool.take(0.2)
        await pool.give(held, 5)
        async with pool.acquire(5) as connection:  # the gate was not left short
            assert await connection.fetchval("select 1") == 1
    finally:
        await raw.close()
