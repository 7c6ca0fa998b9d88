"""Money and power: pure functions of an estimate's machine and speed.

Watts are watts, prices US dollars, token volumes in millions of tokens (Mtok) where named so.
"""

from __future__ import annotations

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
