"""Searches over the engine: the largest context that fits, the cheapest option. (Which setup to
recommend is engine/advice.py's one policy.)

Each runs `Engine.estimate` a few times (bisection); pure computation, no I/O.
"""

from __future__ import annotations

from typing import Callable, Iterable, Sequence, TypeVar

T = TypeVar("T")


def largest(values: Sequence[T], ok: Callable[[T], bool]) -> T | None:
    """The largest of sorted `values` for which `ok` holds, assuming ok is true up to a point and
    false after it (bisection: log2(n) calls). None if it fails for the smallest."""
    lo, hi = 0, len(values) - 1
    if hi < 0 or not ok(values[0]):
        return None
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ok(values[mid]):
            lo = mid
        else:
            hi = mid - 1
    return values[lo]


def context_grid(limit: int, start: int = 2048) -> list[int]:
    """Context sizes to try: powers of two from `start`, then the model's limit itself."""
    grid, c = [], start
    while c < limit:
        grid.append(c)
        c *= 2
    grid.append(limit)
    return grid


def largest_context(engine, model_id: str, quant_id: str, machine, kv_type: str = "f16",
                    need: str = "fits", grid: Sequence[int] | None = None) -> int | None:
    """Largest context (tokens, from `grid`) at which the model fits (`need='fits'`: accelerator
    memory only) or runs (`need='runs'`: counting system RAM) on `machine`."""
    limit = engine.catalog.models[model_id].architecture.max_position_embeddings  # native, no YaRN
    values = list(grid) if grid is not None else context_grid(limit, start=min(2048, limit))

    def ok(context: int) -> bool:
        p = engine.estimate(model_id, quant_id, context=context, kv_type=kv_type, machine=machine).placement
        return bool(getattr(p, need))

    return largest(values, ok)


def cheapest(options: Iterable[tuple[T, float | None, float | None]], target_tok_s: float) -> tuple[T, float, float] | None:
    """(key, price, tok/s) of the cheapest option reaching `target_tok_s`; ties go to the faster.
    Options without a price or a speed are skipped."""
    ok = [(k, p, s) for k, p, s in options if p is not None and s is not None and s >= target_tok_s]
    if not ok:
        return None
    return min(ok, key=lambda o: (o[1], -o[2]))


def context_from_headroom(context: int, headroom_bytes: float, kv_bytes_per_token: float, limit: int,
                          step: int = 1024) -> int:
    """Largest context (tokens, a multiple of `step`, at most `limit`) the headroom left at `context`
    can hold, when only the KV cache grows with the context (flash attention: buffers do not)."""
    if kv_bytes_per_token <= 0:
        return limit
    extra = max(headroom_bytes, 0.0) / kv_bytes_per_token
    return int(min(limit, (context + extra) // step * step))
