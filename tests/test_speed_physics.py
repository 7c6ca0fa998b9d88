"""Decode bytes, prefill FLOPs, and the speed terms of split and offloaded setups, worked on paper.

Three small made-up architectures with round numbers (a dense model, an MoE model and a hybrid
Gated DeltaNet MoE model), 8 bits per weight everywhere so a parameter is a byte, and a speed model
whose factors are set by hand. Every expected value is computed in the docstring, not by the engine.
"""

from __future__ import annotations

import dataclasses

import pytest

from macros.catalog.schema import Architecture
from macros.engine.machine import Device, Machine
from macros.engine.memory import QuantBits
from macros.engine.params import count_params
from macros.engine.parts import Parts
from macros.engine.placement import ModelMemory, Placement, Settings, place, place_given
from macros.engine.speed import (BackendFactors, SpeedModel, decode_bytes_per_token, decode_speed, prefill_speed,
                                 prefill_work)

BITS8 = QuantBits("8bit", 8.0, 8.0, 8.0, "8 bits")

# Dense: 4 layers, hidden 1000, 8 heads of 125 (2 KV heads), FFN 3000, vocab 10,000, untied.
DENSE = Architecture(num_hidden_layers=4, hidden_size=1000, num_attention_heads=8, num_key_value_heads=2,
                     intermediate_size=3000, vocab_size=10_000, tie_word_embeddings=False,
                     max_position_embeddings=4096)
# MoE: as DENSE but every layer has 16 experts of width 500, top 2, and a shared expert of width 1000.
MOE = Architecture(num_hidden_layers=4, hidden_size=1000, num_attention_heads=8, num_key_value_heads=2,
                   vocab_size=10_000, tie_word_embeddings=False, max_position_embeddings=4096, num_experts=16,
                   num_experts_per_tok=2, moe_intermediate_size=500, shared_expert_intermediate_size=1000)
# Hybrid: MOE with every 2nd layer full attention, the others Gated DeltaNet (2 key heads, 4 value heads, 100 wide,
# conv kernel 4).
HYBRID = MOE.model_copy(update=dict(full_attention_interval=2, linear_num_key_heads=2, linear_num_value_heads=4,
                                    linear_key_head_dim=100, linear_value_head_dim=100, linear_conv_kernel_dim=4))

UNIT = BackendFactors(bandwidth_efficiency=0.5, layer_overhead_s=10e-6, token_overhead_s=100e-6,
                      compute_efficiency=0.5, linear_layer_s=20e-6)
MODEL = SpeedModel(factors_by_key={"cuda": UNIT, "cpu": dataclasses.replace(UNIT, bandwidth_efficiency=0.8)},
                   pooled=UNIT, gpu_hop_s=50e-6, allreduce_s={"pcie": 30e-6, "nvlink": 5e-6, "none": 0.0},
                   moe_layer_weight=1.0, offload_sync_s=200e-6, offload_prefill_share={"expert": 0.5, "layer": 0.1},
                   split_sync_s={"decode_moe": 40e-6})


def gpu(bandwidth_gb_s=1000.0, memory_gib=24.0, tflops=100.0) -> Device:
    return Device(id="g", name="test GPU", kind="gpu", memory_bytes=memory_gib * 2**30,
                  bandwidth_bytes_s=bandwidth_gb_s * 1e9, flops=tflops * 1e12, backend="cuda", power_w=None,
                  host_link_bytes_s=32e9, vendor="NVIDIA")


def host(bandwidth_gb_s=100.0, memory_gib=256.0) -> Device:
    return Device(id="h", name="RAM", kind="cpu", memory_bytes=memory_gib * 2**30,
                  bandwidth_bytes_s=bandwidth_gb_s * 1e9, flops=None, backend="cpu", power_w=None)


def machine(n=1, link="pcie", ram=False, **kw) -> Machine:
    return Machine(id="m", name="m", accelerators=tuple(gpu(**kw) for _ in range(n)), host=host() if ram else None,
                   gpu_link=link if n > 1 else "none")


def whole(kind="gpu", layers=4) -> Placement:
    return Placement(kind, True, True, (), 0.0, 0.0, layers, None, 1e12, 1e12, 0.0)


def test_dense_decode_bytes():
    """Per layer: q 1000x1000 + k, v 1000x250 each + o 1000x1000 = 2.5e6; FFN 3 x 1000 x 3000 = 9e6.
    Four layers: attention 10e6, FFN 36e6 bytes at 8 bits. The output head is read whole (10,000 x 1000
    = 10e6), the embeddings one row (1000). KV: 2 x 4 layers x 2 heads x 125 x 2 bytes = 4000 B per
    token, x 1000 tokens = 4e6. Norms: 2 x 1000 x 4 + 1000 = 9000. Total 60,010,000 bytes."""
    b = decode_bytes_per_token(DENSE, count_params(DENSE), BITS8, context_fill=1000)
    assert b["attention"] == 10e6 and b["dense_ffn"] == 36e6
    assert b["lm_head"] == 10e6 and b["embeddings"] == 1000 and b["kv_cache"] == 4e6
    assert b.total == 60_010_000


def test_moe_decode_bytes_read_top_k_and_shared_expert():
    """Routed: 4 layers x top 2 x (3 x 1000 x 500) = 12e6 bytes (not all 16 experts: 96e6). Shared expert:
    4 x (3 x 1000 x 1000 + 1000 gate) = 12,004,000; router 4 x 1000 x 16 = 64,000."""
    b = decode_bytes_per_token(MOE, count_params(MOE), BITS8, context_fill=0)
    assert b["routed_experts"] == 12e6
    assert b["shared_expert"] == 12_004_000 + 64_000
    assert b["dense_ffn"] == 0


def test_hybrid_reads_its_recurrent_state_twice_and_caches_half_the_layers():
    """Two Gated DeltaNet layers, each state 4 value heads x 100 x 100 = 40,000 + conv (2x2x100 + 4x100 =
    800 channels x 3) = 2,400, so 42,400 fp32 values = 169,600 B per layer, 339,200 B for two; read and
    written: 678,400 B per token. KV only in the 2 full-attention layers: 2 x 2 x 2 x 125 x 2 = 2000 B/token."""
    b = decode_bytes_per_token(HYBRID, count_params(HYBRID), BITS8, context_fill=100)
    assert b["recurrent_state"] == 678_400
    assert b["kv_cache"] == 2000 * 100


def test_prefill_flops():
    """Dense active weights without embeddings: 10e6 + 36e6 + 9000 norms + 10e6 head = 56,009,000, so
    2 x that = 112,018,000 FLOPs per token; attention at an average context of 1000: 4 x 4 layers x 8
    heads x 125 x 1000 = 16e6. MoE at a micro-batch of 512: 512 x 2 routes touch all 16 experts, so
    4 layers x 16 = 64 expert calls."""
    w = prefill_work(DENSE, count_params(DENSE), context_avg=1000)
    assert w.dense_flops == 112_018_000 and w.attention_flops == 16e6
    assert prefill_work(MOE, count_params(MOE), 0, ubatch=512).expert_calls_per_ubatch == pytest.approx(64, rel=1e-9)


def test_decode_time_on_one_gpu():
    """60,010,000 B / (1000 GB/s x 0.5) = 120.02 us; 4 layers x 10 us = 40 us; 100 us per token: 260.02 us."""
    b = decode_bytes_per_token(DENSE, count_params(DENSE), BITS8, context_fill=1000)
    r = decode_speed(machine(), whole(), b, DENSE, MODEL)
    assert r.seconds_per_token == pytest.approx(260.02e-6, rel=1e-9)


def test_quantized_kv_costs_its_read_factor():
    """With a q8_0 cache read 3x as slowly per byte: KV 4e6 B counts 12e6, so +8e6 / 5e11 = +16 us."""
    b = decode_bytes_per_token(DENSE, count_params(DENSE), BITS8, context_fill=1000)
    slow = dataclasses.replace(MODEL, kv_quant_read_factor=3.0)
    f16 = decode_speed(machine(), whole(), b, DENSE, slow, kv_type="f16").seconds_per_token
    q8 = decode_speed(machine(), whole(), b, DENSE, slow, kv_type="q8_0").seconds_per_token
    assert q8 - f16 == pytest.approx(16e-6, rel=1e-9)


def test_layer_split_pays_a_hop_per_boundary_and_reads_in_turn():
    """Two equal GPUs in a layer split each read half in turn: the same 120.02 us and 40 us of layers and
    100 us per token, plus one hop (50 us): 310.02 us. A dense model pays no MoE split sync."""
    b = decode_bytes_per_token(DENSE, count_params(DENSE), BITS8, context_fill=1000)
    r = decode_speed(machine(n=2), whole("layer_split"), b, DENSE, MODEL)
    assert r.seconds_per_token == pytest.approx(310.02e-6, rel=1e-9)


def test_moe_layer_split_pays_its_sync_per_layer():
    """The MoE model over two GPUs: 4 layers x 40 us of split sync on top of the same terms; layers count
    1 + 1 (MoE weight) = 2 units each: 4 x 2 x 10 us = 80 us."""
    b = decode_bytes_per_token(MOE, count_params(MOE), BITS8, context_fill=0)
    r = decode_speed(machine(n=2), whole("layer_split"), b, MOE, MODEL)
    assert r.terms["moe_split_sync"] == pytest.approx(160e-6, rel=1e-9)
    assert r.terms["layer_overhead"] == pytest.approx(80e-6, rel=1e-9)


def test_tensor_parallel_reads_in_parallel_and_all_reduces_twice_per_layer():
    """Two GPUs in tensor parallel each read half at once: 60,010,000 / 2 / 5e11 = 60.01 us; two
    all-reduces per layer over PCIe: 4 x 2 x 30 us = 240 us; vLLM pays no llama.cpp row-split sync."""
    b = decode_bytes_per_token(DENSE, count_params(DENSE), BITS8, context_fill=1000)
    r = decode_speed(machine(n=2), whole("layer_split"), b, DENSE, MODEL, mode="tensor_parallel", runtime="vllm")
    assert r.terms["accelerator_read"] == pytest.approx(60.01e-6, rel=1e-9)
    assert r.terms["allreduce"] == pytest.approx(240e-6, rel=1e-9)
    assert "row_split_sync" not in r.terms.values


def test_expert_offload_reads_experts_from_ram_with_a_round_trip_per_layer():
    """--n-cpu-moe 2 of 4 layers: half the routed bytes (12e6 / 2 = 6e6) come from RAM at 100 GB/s x 0.8
    = 75 us, and 2 round trips x 200 us = 400 us."""
    b = decode_bytes_per_token(MOE, count_params(MOE), BITS8, context_fill=0)
    p = Placement("moe_expert_offload", False, True, (), 48e6, 0.5, 4, 2, 1e12, 1e12, 0.0)
    r = decode_speed(machine(ram=True), p, b, MOE, MODEL)
    assert r.terms["ram_read"] == pytest.approx(75e-6, rel=1e-9)
    assert r.terms["offload_round_trips"] == pytest.approx(400e-6, rel=1e-9)


def test_prefill_streams_ram_held_weights_per_micro_batch():
    """48e6 bytes of experts in RAM, streamed at 100 GB/s x 0.8 (CPU efficiency) x 0.5 (expert share)
    = 40 GB/s once per 512-token micro-batch: 48e6 / 4e10 / 512 = 2.34375 us per token."""
    w = prefill_work(MOE, count_params(MOE), 0, 512)
    p = Placement("moe_expert_offload", False, True, (), 48e6, 0.5, 4, 2, 1e12, 1e12, 0.0)
    r = prefill_speed(machine(ram=True), p, w, 48e6, MODEL, 512)
    assert r.terms["ram_weight_stream"] == pytest.approx(2.34375e-6, rel=1e-9)


def test_prefill_compute_term():
    """112,018,000 + 16e6 attention FLOPs at 100 TFLOPS x 0.5 = 2.56036 us per token."""
    w = prefill_work(DENSE, count_params(DENSE), context_avg=1000)
    r = prefill_speed(machine(), whole(), w, 0.0, MODEL, 512)
    assert r.seconds_per_token == pytest.approx(2.56036e-6, rel=1e-9)


SETTINGS = Settings(gpu_runtime_overhead_bytes=1 * 2**30, macos_gpu_fractions=((float("inf"), 0.75),),
                    unified_gpu_fraction=0.75, os_reserve_bytes=8 * 2**30, ubatch_tokens=512, flash_attention=True)


def _memory(weights_gib: float, experts_gib: float, layers: int = 40) -> ModelMemory:
    w = Parts("bytes", {"routed_experts": experts_gib * 2**30, "rest": (weights_gib - experts_gib) * 2**30})
    return ModelMemory(weights=w, kv_cache_bytes=0.0, recurrent_state_bytes=0.0, compute_buffer_bytes=0.0,
                       vision_bytes=0.0, n_layers=layers, routed_experts_bytes=experts_gib * 2**30, is_moe=True)


def test_n_cpu_moe_rounds_up():
    """A 30 GiB MoE model (20 GiB of experts over 40 layers: 0.5 GiB each) on a 24 GiB GPU less 1 GiB for
    the driver: 7 GiB must leave, 14 layers' experts exactly; at 30.2 GiB 7.2 GiB must leave, so 15 (not 14)."""
    m = Machine(id="m", name="m", accelerators=(gpu(),), host=host())
    assert place(m, _memory(30.0, 20.0), SETTINGS).n_cpu_moe == 14
    assert place(m, _memory(30.2, 20.0), SETTINGS).n_cpu_moe == 15


def test_os_reserve_and_driver_overhead_count():
    """A CPU-only machine with 64 GiB keeps 8 GiB for the OS: a 57 GiB model does not fit, 55 GiB does;
    a 24 GiB GPU gives 23 GiB after the driver: 23.5 GiB does not fit fully."""
    cpu = Machine(id="c", name="c", accelerators=(), host=host(memory_gib=64))
    assert not place(cpu, _memory(57, 20), SETTINGS).runs and place(cpu, _memory(55, 20), SETTINGS).runs
    g = Machine(id="m", name="m", accelerators=(gpu(),), host=None)
    assert not place(g, _memory(23.5, 20), SETTINGS).fits and place(g, _memory(22.5, 20), SETTINGS).fits


def test_given_placement_is_evaluated_as_given():
    """--n-cpu-moe 16 of 40 layers puts 16 x 0.5 GiB = 8 GiB in RAM (the engine alone would choose 14),
    leaving 22 GiB on the 23 GiB budget; --n-cpu-moe 0 of the 30 GiB model does not run, 7 GiB short."""
    m = Machine(id="m", name="m", accelerators=(gpu(),), host=host())
    p = place_given(m, _memory(30.0, 20.0), SETTINGS, n_cpu_moe=16)
    assert p.ram_bytes == 8 * 2**30 and p.runs and p.n_cpu_moe == 16
    short = place_given(m, _memory(30.0, 20.0), SETTINGS, n_cpu_moe=0)
    assert not short.runs and short.shortfall_bytes == pytest.approx(7 * 2**30)
