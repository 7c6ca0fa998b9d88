"""The engine against independent references: published files, llama.cpp's printed sizes, hand arithmetic."""

from __future__ import annotations

import statistics

import pytest

from macros.accuracy import accuracy_table
from macros.engine import EngineInputError, custom_machine
from macros.engine.memory import kv_bytes_per_token, kv_cache_bytes, recurrent_state_bytes

MiB = 2**20
GiB = 2**30

# KV cache bytes per token at f16, worked out by hand from the model cards:
# 2 (K and V) x full-attention layers x KV heads x head_dim 256 x 2 bytes
# (shared/reference/qwen-models.md section 2.9).
KV_PER_TOKEN_F16 = {
    "qwen3.5-397b-a17b": 2 * 15 * 2 * 256 * 2,  # 30,720 B
    "qwen3.5-122b-a10b": 2 * 12 * 2 * 256 * 2,
    "qwen3.5-35b-a3b": 2 * 10 * 2 * 256 * 2,
    "qwen3.5-27b": 2 * 16 * 4 * 256 * 2,  # 65,536 B
    "qwen3.5-9b": 2 * 8 * 4 * 256 * 2,
    "qwen3.5-2b": 2 * 6 * 2 * 256 * 2,
    "llama-2-7b": 2 * 32 * 32 * 128 * 2,  # every layer full attention, 32 KV heads of 128
    "llama-3-70b": 2 * 80 * 8 * 128 * 2,
}


@pytest.mark.parametrize("model_id, expected", KV_PER_TOKEN_F16.items())
def test_kv_bytes_per_token(catalog, model_id, expected):
    assert kv_bytes_per_token(catalog.models[model_id].architecture, "f16") == expected


def test_kv_cache_as_llama_cpp_prints_it(catalog):
    """llama.cpp prints 'KV self size = 1024.00 MiB' for Llama-2-7B at 2048 tokens, f16."""
    a = catalog.models["llama-2-7b"].architecture
    assert kv_cache_bytes(a, 2048, "f16") == 1024 * MiB


def test_kv_cache_q8_0_for_qwen36_27b(catalog):
    """llama.cpp log (catalog measurement): K q8_0 2176 MiB + V 2176 MiB at 131,072 cells."""
    a = catalog.models["qwen3.6-27b"].architecture
    assert kv_cache_bytes(a, 131072, "q8_0") == pytest.approx(4352 * MiB, rel=1e-9)


def test_recurrent_state_as_llama_cpp_prints_it(catalog):
    """llama.cpp log for Qwen3.6-27B: 'RS ... 4 cells ... R 22.50 MiB + S 576.00 MiB' (f32)."""
    a = catalog.models["qwen3.6-27b"].architecture
    assert recurrent_state_bytes(a, batch=4) == pytest.approx((22.5 + 576.0) * MiB, rel=1e-9)


def test_recurrent_state_does_not_grow_with_context(engine):
    short = engine.estimate("qwen3.5-397b-a17b", "Q4_K_M", context=4096)
    long = engine.estimate("qwen3.5-397b-a17b", "Q4_K_M", context=262144)
    assert short.memory["recurrent_state"] == long.memory["recurrent_state"] > 180 * MiB  # 45 x 64 x 128 x 128 x 4 B
    assert long.memory["kv_cache"] == 64 * short.memory["kv_cache"]


def test_every_kv_measurement_within_one_percent(catalog, engine):
    checked = 0
    for m in catalog.measurements.values():
        if m.kind == "memory" and m.memory_part in ("kv_cache", "recurrent_state"):
            assert engine.predict_measurement(m) == pytest.approx(m.value, rel=0.01), m.id
            checked += 1
    assert checked >= 4


# --------------------------------------------------------------------------- weights


def test_llama2_7b_q4_0_by_hand(engine):
    """Q4_0 stores 32 weights in 18 bytes (4.5 bits); llama.cpp keeps the output matrix at Q6_K
    (210 bytes per 256 weights). Llama-2-7B: 6,738,415,616 params, of which the output matrix
    and the token embeddings are 32000 x 4096 each."""
    emb = out = 32000 * 4096
    body = 6_738_415_616 - emb - out
    expected = (body + emb) * 18 / 32 + out * 210 / 256
    assert engine.artifact_bytes("llama-2-7b", "Q4_0") == pytest.approx(expected, rel=0.002)


def test_published_file_sizes(engine):
    """Every published file the quant's bits were not derived from: median within 3%."""
    table = accuracy_table(engine)
    errors = [abs(r["error_pct"]) for r in table["rows"] if r["kind"] == "file_size"]
    assert len(errors) >= 30
    assert statistics.median(errors) <= 3.0
    assert sorted(errors)[int(0.8 * len(errors))] <= 10.0


def test_q4_k_m_is_not_four_bits(engine):
    """The naive 4 bits/weight under-counts: K-quant mixes keep some tensors at 6 bits."""
    weights = engine.estimate("qwen3.5-397b-a17b", "Q4_K_M").memory["weights"]
    assert weights > 397e9 * 4.5 / 8


def test_more_bits_more_memory(engine):
    order = ["Q2_K", "Q3_K_M", "Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0", "BF16"]
    sizes = [engine.estimate("qwen3.5-27b", q).memory["weights"] for q in order]
    assert sizes == sorted(sizes)


def test_memory_grows_with_context(engine):
    totals = [engine.estimate("qwen3.5-27b", "Q4_K_M", context=c).memory.total for c in (1024, 8192, 65536, 262144)]
    assert totals == sorted(totals) and len(set(totals)) == 4


# --------------------------------------------------------------------------- fit and placement


def test_27b_q4_fits_one_24gb_card(engine):
    e = engine.estimate("qwen3.5-27b", "Q4_K_M", context=8192, machine=engine.machine("rtx-4090"))
    assert e.placement.fits and e.placement.placement == "gpu"


def test_fits_on_one_fits_on_two(engine):
    one = engine.estimate("qwen3.5-35b-a3b", "Q4_K_M", context=32768, machine=engine.machine("rtx-5090"))
    two = engine.estimate("qwen3.5-35b-a3b", "Q4_K_M", context=32768, machine=engine.machine("rtx-5090", count=2))
    assert one.placement.fits and two.placement.fits and two.placement.placement == "layer_split"
    assert two.placement.headroom_bytes > one.placement.headroom_bytes


def test_397b_does_not_fit_two_5090s_without_ram(engine):
    """Two RTX 5090s hold 64 GB; the 397B at Q4_K_M needs well over 200 GB."""
    e = engine.estimate("qwen3.5-397b-a17b", "Q4_K_M", context=4096, machine=engine.machine("rtx-5090", count=2))
    assert not e.placement.runs and e.placement.placement == "does_not_fit"
    assert e.placement.shortfall_bytes > 150e9
    assert e.decode_tok_s is None


def test_397b_runs_on_two_5090s_with_experts_in_ram(engine):
    e = engine.estimate("qwen3.5-397b-a17b", "Q4_K_M", context=32768,
                        machine=engine.machine("rtx-5090", count=2, ram_gb=512))
    p = e.placement
    assert p.runs and not p.fits and p.placement == "moe_expert_offload"
    assert 0 < p.n_cpu_moe <= 60
    assert p.ram_bytes + p.gpu_bytes == pytest.approx(e.memory.total, rel=0.05)
    assert 0.6 < p.offloaded_fraction < 0.95
    # Slower than on GPUs alone, but bounded by the RAM read: below 1 / (RAM bytes per token / DDR5 bandwidth).
    assert 1 < e.decode_tok_s < 60


def test_dense_model_offloads_layers(engine):
    e = engine.estimate("qwen2.5-72b", "Q4_K_M", context=8192, machine=engine.machine("rtx-4090", ram_gb=64))
    assert e.placement.placement == "layer_offload"
    assert 0 < e.placement.gpu_layers < 80


def test_unified_memory_cap(engine, catalog):
    """macOS lets the GPU wire only part of unified memory by default: a 128 GB Mac reports
    recommendedMaxWorkingSetSize 107.52 GiB (catalog constant macos_gpu_wired_fraction_128gb)."""
    e = engine.estimate("qwen3.5-9b", "Q4_K_M", context=4096, machine=engine.machine("apple-m4-max-128gb"))
    share = catalog.constant("macos_gpu_wired_fraction_128gb")
    assert share == pytest.approx(107.52 / 128, abs=0.005)
    # Unified memory is sold in binary units: "128 GB" is 128 GiB.
    assert e.placement.budget_bytes == pytest.approx(107.52 * GiB - e.memory["compute_buffer"], rel=0.005)
    # A model that fits the whole memory but not the GPU share needs the limit raised.
    big = engine.estimate("qwen3.5-122b-a10b", "Q8_0", context=4096, machine=engine.machine("apple-m4-max-128gb"))
    assert big.placement.placement == "unified_raised_cap" and not big.placement.fits and big.placement.runs


# --------------------------------------------------------------------------- speed


def test_decode_slows_as_the_context_fills(engine):
    m = engine.machine("rtx-4090")
    speeds = [engine.estimate("qwen3.5-27b", "Q4_K_M", context=c, machine=m).decode_tok_s for c in (1024, 16384, 65536)]
    assert speeds == sorted(speeds, reverse=True)


def test_decode_is_bounded_by_bandwidth(engine):
    """No estimate may beat rated bandwidth / bytes read per token."""
    for hw in ("rtx-3090", "rtx-5090", "apple-m4-max-128gb"):
        e = engine.estimate("qwen3.5-9b", "Q4_K_M", context=4096, machine=engine.machine(hw))
        bound = engine.catalog.hardware[hw].memory_bandwidth_gb_s * 1e9 / e.decode.bytes_read.total
        assert 0 < e.decode_tok_s < bound


def test_moe_decodes_faster_than_dense_of_same_size(engine):
    m = engine.machine("rtx-5090")
    moe = engine.estimate("qwen3.5-35b-a3b", "Q4_K_M", context=4096, machine=m).decode_tok_s
    dense = engine.estimate("qwen3.5-27b", "Q4_K_M", context=4096, machine=m).decode_tok_s
    assert moe > 2 * dense


def test_custom_machine(engine):
    m = custom_machine("gpu", memory_gb=24, bandwidth_gb_s=1000, tflops=100)
    e = engine.estimate("qwen3.5-9b", "Q4_K_M", context=4096, machine=m)
    assert e.placement.fits and e.decode_tok_s > 0 and e.prefill_tok_s > 0


@pytest.mark.parametrize("kwargs, words", [
    ({"context": -1}, "context must be"),
    ({"context": 10_000_000}, "above"),
    ({"kv_type": "q3"}, "KV cache type"),
    ({"batch": 0}, "batch"),
])
def test_impossible_input(engine, kwargs, words):
    with pytest.raises(EngineInputError, match=words):
        engine.estimate("qwen3.5-9b", "Q4_K_M", **kwargs)


def test_unknown_ids_name_the_choices(engine):
    with pytest.raises(EngineInputError, match="qwen3.5-9b"):
        engine.estimate("qwen3.5-10b", "Q4_K_M")
    with pytest.raises(EngineInputError, match="Q4_K_M"):
        engine.estimate("qwen3.5-9b", "Q4_K_Q")


def test_a_build_is_not_priced_at_its_gpus_alone(engine, catalog):
    """A rig with system RAM on an unpriced CPU platform has no price, rather than the GPUs' price."""
    rig = catalog.rigs["2x-rtx-5090-256gb-ddr5"]
    assert rig.price_usd is None and catalog.hardware[rig.cpu_platform].price_usd is None
    assert engine.machine(rig.id).price_usd is None
    # A priced build keeps its own figure: the seed guide's $14,000 for two RTX 5090s with 512 GB.
    assert engine.machine("2x-rtx-5090-512gb-ddr5").price_usd == 14000


def test_compute_buffer_as_llama_cpp_prints_it(catalog, engine):
    """llama.cpp logs 'compute buffer size = 560.00 MiB' for Llama-2-7B and Llama-3.1-8B at 8,192
    tokens (flash attention off in those builds): the engine's buffer model lands within 2%."""
    rows = [m for m in catalog.measurements.values() if m.kind == "memory" and m.memory_part == "compute_buffer"
            and not (m.notes and "flash attention on" in m.notes)]
    assert len(rows) >= 2
    for m in rows:
        assert m.value == 560 * MiB
        assert engine.predict_measurement(m) == pytest.approx(m.value, rel=0.02), m.id


def test_compute_buffer_with_flash_attention(catalog, engine):
    """The project's H100 runs printed 'CUDA0 compute buffer size' 505.00, 521.00 and 498.54 MiB for the
    27B, 35B-A3B and 122B-A10B at 33,280 tokens with flash attention on (no score matrix): the logits
    ([vocab 248,320 x 512] f32 = 485 MiB) plus FFN activations, within 10%."""
    rows = {m.model: m for m in catalog.measurements.values() if m.kind == "memory"
            and m.memory_part == "compute_buffer" and m.notes and "flash attention on" in m.notes}
    assert {"qwen3.5-27b": 505.0, "qwen3.5-35b-a3b": 521.0}.items() <= {k: round(v.value / MiB, 2) for k, v in rows.items()}.items()
    for m in rows.values():
        assert engine.predict_measurement(m) == pytest.approx(m.value, rel=0.10), m.id
