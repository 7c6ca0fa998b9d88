"""macros/engine/money.py and macros/engine/search.py against values worked out by hand."""

import types

import pytest

from macros.engine import money, search


def _dev(power):
    return types.SimpleNamespace(power_w=power)


def test_power_draw_sums_tdps_and_platform():
    # two 575 W cards on a 350 W platform: 575 + 575 + 350 = 1500 W
    m = types.SimpleNamespace(accelerators=(_dev(575.0), _dev(575.0)), host=_dev(None), extra_power_w=350.0)
    assert money.power_draw_w(m) == 1500.0
    m2 = types.SimpleNamespace(accelerators=(_dev(None),), host=None, extra_power_w=0.0)
    assert money.power_draw_w(m2) is None


def test_psu_and_circuit():
    assert money.psu_rating_w(1200.0) == pytest.approx(1500.0)  # 1200 / 0.8
    assert money.circuit_share(720.0, 1440.0) == pytest.approx(0.5)


def test_electricity_per_month():
    # 500 W for 240 h = 120 kWh; at $0.20 = $24
    assert money.energy_kwh_per_month(500.0, 240.0) == pytest.approx(120.0)
    assert money.electricity_usd_per_month(500.0, 240.0, 0.20) == pytest.approx(24.0)


def test_cost_per_tok_s():
    assert money.cost_per_tok_s(2000.0, 40.0) == pytest.approx(50.0)


def test_energy_per_mtok():
    # 1e6 tokens at 100 tok/s = 10,000 s = 2.777.. h; at 360 W that is 1.0 kWh; at $0.30/kWh = $0.30
    assert money.energy_usd_per_mtok(360.0, 100.0, 0.30) == pytest.approx(0.30)


def test_blended_and_break_even():
    # 90% input at $1, 10% output at $5 -> $1.40 per Mtok
    assert money.blended_usd_per_mtok(1.0, 5.0, 0.9) == pytest.approx(1.4)
    # $3,600 over 36 months = $100/month; margin $1.40 - $0.40 = $1.00 per Mtok -> 100 Mtok/month
    assert money.break_even_mtok_per_month(3600.0, 36, 1.4, 0.4) == pytest.approx(100.0)
    assert money.break_even_mtok_per_month(3600.0, 36, 0.4, 0.4) is None


def test_largest_bisection():
    values = [1, 2, 4, 8, 16, 32, 64]
    calls = []

    def ok(v):
        calls.append(v)
        return v <= 10

    assert search.largest(values, ok) == 8
    assert len(calls) <= 4  # 1 + ceil(log2(7))
    assert search.largest(values, lambda v: False) is None
    assert search.largest(values, lambda v: True) == 64


def test_context_grid_and_headroom():
    assert search.context_grid(10000, 2048) == [2048, 4096, 8192, 10000]
    # 4096 tokens + 1 GB headroom at 100,000 B/token = 4096 + 10,000 = 14,096 -> 13,312 (13 x 1024)
    assert search.context_from_headroom(4096, 1e9, 1e5, 262144) == 13312
    assert search.context_from_headroom(4096, 1e12, 1e5, 32768) == 32768


class _Est:
    def __init__(self, fits, runs):
        self.placement = types.SimpleNamespace(fits=fits, runs=runs)


class _StubEngine:
    """bits: Q8 8.5, Q4 4.5, Q2 2.6; fits when bits <= fit_max, runs when bits <= run_max;
    context fits up to 10,000 tokens."""

    BITS = {"Q8": 8.5, "Q4": 4.5, "Q2": 2.6}

    def __init__(self, fit_max, run_max):
        self.fit_max, self.run_max = fit_max, run_max
        self.catalog = types.SimpleNamespace(models={"m": types.SimpleNamespace(
            architecture=types.SimpleNamespace(max_position_embeddings=32768))})

    def bits(self, q):
        return types.SimpleNamespace(body_bpw=self.BITS[q])

    def estimate(self, model, q, context=4096, machine=None, **kw):
        b = self.BITS[q]
        return _Est(b <= self.fit_max and context <= 10000, b <= self.run_max)


def test_largest_context():
    # grid 2048, 4096, 8192, 16384, 32768: fits up to 10,000 -> 8192
    assert search.largest_context(_StubEngine(9, 9), "m", "Q4", None) == 8192


def test_cheapest():
    options = [("a", 1000.0, 10.0), ("b", 800.0, 4.0), ("c", 1000.0, 12.0), ("d", None, 50.0)]
    assert search.cheapest(options, 5.0) == ("c", 1000.0, 12.0)  # same price as a, faster
    assert search.cheapest(options, 100.0) is None
