"""The speed fit recovers known factors from synthetic measurements made with those factors."""

from __future__ import annotations

import random

import numpy as np
import pytest

from macros.engine import calibrate
from macros.engine.calibrate import DecodePoint, OffloadPoint, PrefillPoint


def synthetic_decode(efficiency, layer_s, linear_s, token_s, moe_w, key="cuda", n=40, seed=1, kv_factor=1.0):
    """Seconds per token = x / efficiency + layer_s (layers + moe_w x MoE layers) + linear_s x linear
    layers + token_s, with x = bytes / rated bandwidth; a third of the points with a q8_0 KV cache."""
    rng = random.Random(seed)
    points = []
    for i in range(n):
        layers = rng.choice([24, 32, 40, 48, 64, 80])
        moe = layers if rng.random() < 0.4 else 0
        lin = 3 * layers // 4 if rng.random() < 0.5 else 0
        x = rng.uniform(0.002, 0.1)
        kv = rng.uniform(0.0, 0.01)
        quant = i % 3 == 0
        t = ((x + kv * (kv_factor if quant else 1.0)) / efficiency + layer_s * (layers + moe_w * moe)
             + linear_s * lin + token_s)
        points.append(DecodePoint(key, f"g{i % 5}", f"hw{i % 7}", x, kv, quant, layers, t, moe, lin))
    return points


def test_decode_fit_recovers_known_factors():
    """Exact synthetic data: every factor comes back (efficiency 0.8, 40 us per layer, 90 us extra
    per Gated DeltaNet layer, 300 us per token, an MoE layer counts 1.5, a q8_0 byte 4 f16 bytes)."""
    points = synthetic_decode(0.8, 40e-6, 90e-6, 300e-6, 0.5, kv_factor=4.0)
    model = calibrate.fit_speed_model(points, [], 0.0, {"pcie": 0.0})
    f = model.factors("cuda")
    assert f.bandwidth_efficiency == pytest.approx(0.8, rel=1e-6)
    assert f.layer_overhead_s == pytest.approx(40e-6, rel=1e-6)
    assert f.linear_layer_s == pytest.approx(90e-6, rel=1e-6)
    assert f.token_overhead_s == pytest.approx(300e-6, rel=1e-6)
    assert (model.moe_layer_weight, model.kv_quant_read_factor) == (0.5, 4.0)


def test_efficiency_never_above_one():
    """Measurements faster than rated bandwidth allows (a mis-rated device) clamp at 100%."""
    points = [DecodePoint("metal", "g", "x", 0.01, 0.0, False, 32, 0.005) for _ in range(5)]
    model = calibrate.fit_speed_model(points, [], 0.0, {"pcie": 0.0})
    assert model.factors("metal").bandwidth_efficiency <= 1.0


def test_prefill_fit_recovers_known_factors():
    """Seconds = (weight FLOPs + 2 x attention FLOPs + 0.3e9 per Gated DeltaNet layer + 0.2e9 per expert
    call per token) / (rated FLOP/s x 0.5): efficiency 0.5 and both fixed costs come back."""
    rng = random.Random(5)
    points = []
    for i in range(30):
        rate = rng.choice([100e12, 200e12, 400e12])
        dense = rng.uniform(1e9, 60e9)
        attention = dense * rng.choice([0.0, 0.1, 0.5])
        lin = rng.choice([0, 24, 36, 48])
        calls = rng.choice([0.0, 0.0, 40 * 256 / 512])
        t = (dense + 2.0 * attention + 0.3e9 * lin + 0.2e9 * calls) / (rate * 0.5)
        points.append(PrefillPoint("cuda", f"g{i % 4}", f"h{i}", dense / rate, attention / rate, lin / rate,
                                   calls / rate, t))
    model = calibrate.fit_speed_model([], points, 0.0, {"pcie": 0.0})
    f = model.factors("cuda")
    assert f.compute_efficiency == pytest.approx(0.5, rel=1e-6)
    assert f.attention_flops_weight == 2.0
    assert f.linear_layer_prefill_flops == pytest.approx(0.3e9, rel=1e-6)
    assert f.expert_call_flops == pytest.approx(0.2e9, rel=1e-6)


def test_class_with_few_points_borrows_its_backend():
    """A key with fewer than MIN_POINTS points is fitted with its backend's points, and a key never
    seen resolves through the chain: cuda/hbm/vllm -> cuda/vllm -> cuda/hbm -> cuda."""
    points = synthetic_decode(0.8, 40e-6, 0.0, 0.0, 0.0, n=20)
    points += [DecodePoint("cuda/hbm", "h", "h100", 0.01, 0.0, False, 32, 0.02)]
    model = calibrate.fit_speed_model(points, [], 0.0, {"pcie": 0.0})
    cuda = model.factors("cuda")
    for key in ("cuda/hbm", "cuda/hbm/vllm"):
        f = model.factors(key)
        assert (f.bandwidth_efficiency, f.layer_overhead_s) == (cuda.bandwidth_efficiency, cuda.layer_overhead_s)
    assert calibrate.key_chain("cuda/hbm/vllm") == ("cuda/hbm/vllm", "cuda/vllm", "cuda/hbm", "cuda")


def test_bounded_lsq_matches_a_plain_solve_when_unconstrained():
    """With the true solution inside the bounds, the bounded fit equals numpy's least squares."""
    rng = np.random.default_rng(0)
    Z = rng.uniform(0.1, 1.0, size=(1, 30, 3))
    theta, _ = calibrate.bounded_lsq(Z, np.array([-10.0, -10.0, -10.0]))
    plain, *_ = np.linalg.lstsq(Z[0], np.ones(30), rcond=None)
    assert theta[0] == pytest.approx(plain, rel=1e-8)


def test_offload_term_recovered():
    """base + s x unit = measured, with s = 100 us per layer: s comes back exactly."""
    points = [OffloadPoint("decode", "expert", "g", base, layers, base + 100e-6 * layers)
              for base, layers in ((0.01, 40), (0.02, 20), (0.005, 48))]
    assert calibrate.fit_offload_term(points) == pytest.approx(100e-6, rel=1e-9)
