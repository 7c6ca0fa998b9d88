"""The speed fit recovers known factors from synthetic measurements, and its fast path matches the plain one."""

from __future__ import annotations

import random

import numpy as np
import pytest

from macros.engine import calibrate
from macros.engine.calibrate import DecodePoint, PrefillPoint


def synthetic(efficiency, layer_s, moe_w, lin_w, backend="cuda", n=30, seed=1):
    rng = random.Random(seed)
    points = []
    for i in range(n):
        layers = rng.choice([24, 32, 48, 60, 80])
        moe = layers if rng.random() < 0.4 else 0
        lin = 3 * layers // 4 if rng.random() < 0.3 else 0
        x = rng.uniform(0.002, 0.1)  # bytes / rated bandwidth, seconds
        t = x / efficiency + layer_s * (layers + moe_w * moe + lin_w * lin)
        points.append(DecodePoint(backend, f"hw{i % 7}", x, layers, t, moe, lin))
    return points


def test_decode_fit_recovers_known_factors():
    points = synthetic(0.8, 40e-6, 0.5, 2.0)
    model = calibrate.fit_speed_model(points, [], 0.0, {"pcie": 0.0})
    f = model.backends["cuda"]
    assert f.bandwidth_efficiency == pytest.approx(0.8, rel=1e-6)
    assert f.layer_overhead_s == pytest.approx(40e-6, rel=1e-6)
    assert (model.moe_layer_weight, model.linear_layer_weight) == (0.5, 2.0)


def test_grid_loss_matches_plain_fit():
    points = synthetic(0.7, 60e-6, 1.0, 0.0, seed=3)
    points = [DecodePoint(p.backend, p.hardware, p.bytes_over_bandwidth_s, p.layers,
                          p.seconds_per_token * random.Random(i).uniform(0.9, 1.1), p.moe_layers, p.linear_layers)
              for i, p in enumerate(points)]
    for mw, lw in [(0.0, 0.0), (0.75, 1.5), (3.0, 6.0)]:
        grid = calibrate._group_loss_grid(points, np.array([mw]), np.array([lw]))[0]
        plain = calibrate._decode_loss(points, *calibrate.fit_decode(points, mw, lw), mw, lw)
        assert grid == pytest.approx(plain, rel=1e-9)


def test_efficiency_never_above_one():
    # Measurements faster than rated bandwidth allows (a mis-rated device) clamp at 100%.
    points = [DecodePoint("metal", "x", 0.01, 32, 0.005, 0, 0) for _ in range(5)]
    model = calibrate.fit_speed_model(points, [], 0.0, {"pcie": 0.0})
    assert model.backends["metal"].bandwidth_efficiency <= 1.0


def test_prefill_expert_weight_recovered():
    rng = random.Random(5)
    points = []
    for i in range(20):
        x = rng.uniform(1e-4, 1e-3)
        xe = x * rng.choice([0.0, 0.0, 0.6])
        points.append(PrefillPoint("cuda", f"h{i}", x, (x + 4.0 * xe) / 0.5, expert_flops_over_rate_s=xe))
    model = calibrate.fit_speed_model([], points, 0.0, {"pcie": 0.0})
    assert model.expert_flops_weight == 4.0
    assert model.backends["cuda"].compute_efficiency == pytest.approx(0.5, rel=1e-6)
