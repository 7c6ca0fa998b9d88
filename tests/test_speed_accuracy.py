"""The speed model's held-out error, per class: a ratchet at the values measured when it was last
improved. A change that makes any class worse fails here; one that improves a class should lower
its line. Errors are ratio errors |ln(predicted / measured)| as percentages, held out
leave-one-source-out (see macros/accuracy.py); `make accuracy` prints the same table."""

from __future__ import annotations

import pytest

from macros.accuracy import accuracy_table

SLACK = 1.05  # 5% of the value plus one percentage point: room for a catalog row added elsewhere,
SLACK_POINTS = 1.0  # not for a worse formula

# (kind, models, setup): (held-out median %, held-out p90 %), as printed by `make accuracy`.
RATCHET = {
    ("decode", "all", "all"): (12.2, 60.3),
    ("decode", "Qwen 3.5 family", "all"): (14.0, 76.9),
    ("decode", "other models", "all"): (7.0, 23.2),
    ("decode", "Qwen 3.5 family", "one NVIDIA GPU"): (11.2, 69.7),
    ("decode", "Qwen 3.5 family", "one NVIDIA datacenter GPU (HBM)"): (10.2, 60.3),
    ("decode", "Qwen 3.5 family", "several GPUs"): (48.3, 147.9),
    ("decode", "Qwen 3.5 family", "GPU + system RAM"): (12.9, 25.9),
    ("decode", "Qwen 3.5 family", "Apple"): (6.1, 26.8),
    ("decode", "Qwen 3.5 family", "AMD"): (19.4, 36.6),
    ("decode", "Qwen 3.5 family", "Intel"): (13.7, 53.0),
    ("decode", "Qwen 3.5 family", "vLLM / SGLang"): (9.7, 21.7),
    ("decode", "other models", "one NVIDIA GPU"): (10.7, 21.6),
    ("decode", "other models", "Apple"): (6.2, 20.9),
    ("decode", "other models", "AMD"): (9.5, 57.0),
    ("prefill", "all", "all"): (50.3, 361.2),
    ("prefill", "Qwen 3.5 family", "all"): (99.5, 409.4),
    ("prefill", "other models", "all"): (22.4, 86.3),
    ("prefill", "Qwen 3.5 family", "one NVIDIA GPU"): (38.5, 111.7),
    ("prefill", "Qwen 3.5 family", "one NVIDIA datacenter GPU (HBM)"): (372.1, 491.6),
    ("prefill", "Qwen 3.5 family", "several GPUs"): (131.3, 601.0),
    ("prefill", "Qwen 3.5 family", "GPU + system RAM"): (180.8, 431.6),
    ("prefill", "Qwen 3.5 family", "Apple"): (49.3, 92.2),
    ("prefill", "Qwen 3.5 family", "AMD"): (44.9, 155.7),
    ("prefill", "Qwen 3.5 family", "Intel"): (101.8, 207.1),
    ("prefill", "Qwen 3.5 family", "vLLM / SGLang"): (233.7, 361.2),
    ("prefill", "other models", "one NVIDIA GPU"): (36.0, 133.7),
    ("prefill", "other models", "Apple"): (19.2, 32.6),
    ("prefill", "other models", "AMD"): (58.4, 100.8),
}


@pytest.fixture(scope="module")
def summary(engine):
    return {(s["kind"], s["family"], s["class"]): s for s in accuracy_table(engine)["summary"]}


@pytest.mark.parametrize("key", sorted(RATCHET))
def test_held_out_error_does_not_grow(summary, key):
    median, p90 = RATCHET[key]
    held = summary[key]["held_out"]
    assert held["count"] >= 5
    assert held["median"] <= median * SLACK + SLACK_POINTS, \
        f"{key}: held-out median {held['median']:.1f}% (ratchet {median}%)"
    assert held["p90"] <= p90 * SLACK + SLACK_POINTS, f"{key}: held-out p90 {held['p90']:.1f}% (ratchet {p90}%)"


def test_engine_beats_the_naive_baseline(summary):
    """The engine's held-out error is below the hand calculation's for decode and prefill alike."""
    for kind in ("decode", "prefill"):
        s = summary[(kind, "all", "all")]
        assert s["held_out"]["median"] < s["naive"]["median"] / 2


def test_sizes_and_memory_stay_exact(summary):
    """File sizes within 1% at the median (published listings); KV cache and recurrent state exact."""
    assert summary[("file_size", "all", "all")]["engine"]["median"] <= 1.0
    assert summary[("memory", "all", "all")]["engine"]["median"] <= 0.1
