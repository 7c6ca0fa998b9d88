"""Money, power and search, derived from the engine's estimates. Pure functions, no I/O.

Watts are watts, prices US dollars, token volumes in millions of tokens (Mtok) where named so.
"""

from __future__ import annotations

from typing import Callable, Iterable, Sequence, TypeVar

T = TypeVar("T")

# Size a power supply so the sustained load stays at or under this share of its rating
# (a common sizing rule: efficiency and fan noise are best there, transients have room).
PSU_LOAD_FRACTION = 0.8


def power_draw_w(machine) -> float | None:
    """Power at full load, W: the sum of the accelerators' TDPs plus the CPU platform's (if known).
    None when an accelerator's TDP is not in the catalog."""
    devices = list(machine.accelerators) or ([machine.host] if machine.host else [])
    if not devices or any(d.power_w is None for d in devices):
        return None
    return float(sum(d.power_w for d in devices)) + float(machine.extra_power_w or 0.0)


def psu_rating_w(draw_w: float, load_fraction: float = PSU_LOAD_FRACTION) -> float:
    """Smallest PSU rating, W, that keeps `draw_w` at `load_fraction` of it."""
    return draw_w / load_fraction


def circuit_share(draw_w: float, circuit_w: float) -> float:
    """Share of one household circuit's continuous capacity a load takes (1.0 = all of it)."""
    return draw_w / circuit_w


def energy_kwh_per_month(draw_w: float, hours_per_month: float) -> float:
    return draw_w * hours_per_month / 1000


def electricity_usd_per_month(draw_w: float, hours_per_month: float, usd_per_kwh: float) -> float:
    """Electricity cost of running at `draw_w` for `hours_per_month`, USD."""
    return energy_kwh_per_month(draw_w, hours_per_month) * usd_per_kwh


def cost_per_tok_s(price_usd: float, tok_s: float) -> float:
    """Hardware price per token/s of decode speed, USD per (tok/s)."""
    return price_usd / tok_s


def energy_usd_per_mtok(draw_w: float, tok_s: float, usd_per_kwh: float) -> float:
    """Electricity to generate one million tokens at `tok_s` while drawing `draw_w`, USD."""
    hours = 1e6 / tok_s / 3600
    return draw_w / 1000 * hours * usd_per_kwh


def blended_usd_per_mtok(input_usd: float, output_usd: float, input_share: float) -> float:
    """API price per million tokens for a mix with `input_share` input tokens."""
    return input_usd * input_share + output_usd * (1 - input_share)


def break_even_mtok_per_month(hardware_usd: float, months: float, api_usd_per_mtok: float,
                              local_usd_per_mtok: float) -> float | None:
    """Monthly volume (millions of tokens) above which owning is cheaper than the API, with the
    hardware paid off over `months`. None when each local token costs at least the API's."""
    margin = api_usd_per_mtok - local_usd_per_mtok
    if margin <= 0:
        return None
    return hardware_usd / months / margin


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


def best_quant(engine, model_id: str, machine, quant_ids: Iterable[str], context: int = 4096):
    """(quant id, estimate) for the most bits per weight that fits entirely in accelerator memory;
    failing that, the most bits that runs at all; None when nothing runs."""
    ranked = sorted(quant_ids, key=lambda q: engine.bits(q).body_bpw, reverse=True)
    runs = None
    for q in ranked:
        e = engine.estimate(model_id, q, context=context, machine=machine)
        if e.placement.fits:
            return q, e
        if runs is None and e.placement.runs:
            runs = (q, e)
    return runs


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
