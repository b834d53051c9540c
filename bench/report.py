"""What every part of the bench shares: progress lines, the shape of a result row, and
stopping a server it started."""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

STARTED = time.monotonic()


def say(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


def row(
    name: str,
    figure: float,
    unit: str,
    baseline: float | None = None,
    goal: tuple[str, str, float] | None = None,
) -> dict[str, Any]:
    """One result; goal is (figure|ratio, <=|>=, limit)."""
    ratio = figure / baseline if baseline else None
    met, text = None, None
    if goal:
        what, op, limit = goal
        value = figure if what == "figure" else ratio
        met = value is not None and (value <= limit if op == "<=" else value >= limit)
        text = f"{what} {op} {limit:g}" + (f" {unit}" if what == "figure" else "")
    return {
        "name": name,
        "figure": round(figure, 3),
        "unit": unit,
        "baseline": None if baseline is None else round(baseline, 3),
        "ratio": None if ratio is None else round(ratio, 3),
        "goal": text,
        "met": met,
    }


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 15)
        except TimeoutError:
            process.kill()
            await process.wait()
