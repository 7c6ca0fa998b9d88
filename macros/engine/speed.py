"""Decode and prefill speed from bytes read, FLOPs, and a few fitted efficiency factors.

Decode is bound by memory bandwidth: each token reads the active weights (MoE: top-k routed
experts plus the shared expert; the embedding table one row; the output head in full), the KV
cache up to its current fill, and the recurrent state (read and written). Each device in the
path reads its share at its effective bandwidth; a fixed cost per layer (kernel launches,
synchronisation) is added. Prefill is bound by compute: 2 FLOPs per active weight per token plus
attention's term that grows with the context; weights held in RAM cross PCIe once per micro-batch.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

from ..catalog.schema import Architecture
from .machine import Machine
from .memory import QuantBits, kv_bytes_per_token, recurrent_state_bytes
from .params import ParamCounts, expert_params, head_dim, n_full_attention_layers
from .parts import Parts
from .placement import Placement


@dataclasses.dataclass(frozen=True)
class BackendFactors:
    """Efficiency of one backend (cuda, metal, ...), fitted to measurements."""

    bandwidth_efficiency: float  # share of rated bandwidth reached while streaming weights
    layer_overhead_s: float  # fixed time per layer per decoded token
    compute_efficiency: float | None  # share of rated dense FP16 FLOP/s reached in prefill
    decode_points: int = 0  # measurements behind the decode factors (0: pooled fallback)
    prefill_points: int = 0
    source: str = "fitted"


@dataclasses.dataclass(frozen=True)
class SpeedModel:
    backends: Mapping[str, BackendFactors]
    pooled: BackendFactors  # used for a backend with too few measurements
    gpu_hop_s: float  # layer split: handing activations to the next GPU, per token per boundary
    allreduce_s: Mapping[str, float]  # tensor parallel: one all-reduce, by link (pcie, nvlink)
    moe_layer_weight: float = 0.0  # extra fixed cost of an MoE layer, in plain-layer units
    linear_layer_weight: float = 0.0  # extra fixed cost of a Gated DeltaNet layer, in plain-layer units
    expert_flops_weight: float = 0.0  # prefill: extra cost of a routed-expert FLOP over a dense one

    def layer_units(self, a: Architecture, layers: float) -> float:
        """Fixed-cost units of `layers` of this architecture (an average layer of its mix)."""
        L = a.num_hidden_layers
        moe = L if a.num_experts else 0
        linear = L - n_full_attention_layers(a)
        per_layer = (L + self.moe_layer_weight * moe + self.linear_layer_weight * linear) / L
        return layers * per_layer

    def factors(self, backend: str) -> BackendFactors:
        return self.backends.get(backend, self.pooled)


def decode_bytes_per_token(a: Architecture, counts: ParamCounts, bits: QuantBits, context_fill: float,
                           kv_type: str = "f16", batch: int = 1) -> Parts:
    """Bytes read from memory to decode one step for `batch` sequences (weights are read once per step)."""
    t = counts.total.values
    body = bits.body_bpw / 8
    routed_per_layer = 0.0
    if a.num_experts:
        # Distinct experts touched by `batch` tokens routed uniformly at random.
        touched = a.num_experts * (1 - (1 - a.num_experts_per_tok / a.num_experts) ** batch)
        routed_per_layer = touched * expert_params(a) * body
    output = (t["embeddings"] if a.tie_word_embeddings else t["lm_head"]) * bits.output_bpw / 8
    values = {
        "attention": t["attention"] * body,
        "linear_attention": t["linear_attention"] * body,
        "dense_ffn": t["dense_ffn"] * body,
        "routed_experts": a.num_hidden_layers * routed_per_layer,
        "shared_expert": (t["shared_expert"] + t["router"]) * body,
        "norms": t["norms"] * body,
        "embeddings": batch * a.hidden_size * bits.embedding_bpw / 8,
        "lm_head": output,
        "kv_cache": kv_bytes_per_token(a, kv_type) * context_fill * batch,
        "recurrent_state": 2 * recurrent_state_bytes(a, batch),
    }
    formulas = {
        "routed_experts": "layers x experts touched x 3 x hidden x expert width x bits / 8",
        "embeddings": "one row per token: hidden x bits / 8",
        "lm_head": "the whole output matrix: vocab x hidden x bits / 8",
        "kv_cache": "KV bytes per token x tokens already in the cache",
        "recurrent_state": "Gated DeltaNet state read and written once per token",
    }
    return Parts("bytes", values, formulas)


def prefill_flops_per_token(a: Architecture, counts: ParamCounts, context_avg: float) -> float:
    """FLOPs to process one prompt token: 2 per active weight, plus attention over the cache."""
    active = counts.active.total - counts.active["embeddings"] - counts.active["vision"]
    attention = 4 * n_full_attention_layers(a) * a.num_attention_heads * head_dim(a) * context_avg
    return 2 * active + attention


def prefill_expert_flops_per_token(counts: ParamCounts) -> float:
    """The part of the prefill FLOPs spent in routed experts (small, gathered matmuls)."""
    return 2 * counts.active["routed_experts"]


@dataclasses.dataclass(frozen=True)
class SpeedResult:
    tok_s: float | None
    seconds_per_token: float
    terms: Parts  # seconds per token, by term
    bytes_read: Parts | None = None


def _split_resident(bytes_read: Parts, placement: Placement, a: Architecture) -> tuple[float, float, int, int]:
    """Per-token bytes read from accelerator memory and from system RAM, and layers on each."""
    total = bytes_read.total
    L = a.num_hidden_layers
    if placement.placement == "cpu":
        return 0.0, total, 0, L
    if placement.placement == "moe_expert_offload":
        n = placement.n_cpu_moe or 0
        ram = bytes_read["routed_experts"] * n / L
        return total - ram, ram, L, n
    if placement.placement == "layer_offload":
        gl = placement.gpu_layers or 0
        layered = total - bytes_read["lm_head"] - bytes_read["embeddings"]
        ram = layered * (L - gl) / L + bytes_read["embeddings"]
        return total - ram, ram, gl, L - gl
    return total, 0.0, L, 0


def decode_speed(machine: Machine, placement: Placement, bytes_read: Parts, a: Architecture,
                 model: SpeedModel, backend: str | None = None, mode: str = "layer_split",
                 batch: int = 1) -> SpeedResult:
    """Aggregate decode tokens/s (batch sequences x steps/s) for a placement on a machine."""
    if not placement.runs:
        return SpeedResult(None, float("inf"), Parts("s", {}), bytes_read)
    gpu_bytes, ram_bytes, gpu_layers, ram_layers = _split_resident(bytes_read, placement, a)
    terms: dict[str, float] = {}
    if machine.accelerators and gpu_bytes:
        f = model.factors(backend or machine.accelerators[0].backend)
        n = machine.count
        bw = [d.bandwidth_bytes_s * f.bandwidth_efficiency for d in machine.accelerators]
        if mode == "tensor_parallel" and n > 1:
            terms["accelerator_read"] = gpu_bytes / sum(bw)
            terms["layer_overhead"] = model.layer_units(a, gpu_layers) * f.layer_overhead_s
            per_layer = 2 * model.allreduce_s.get(machine.gpu_link, model.allreduce_s["pcie"])
            terms["allreduce"] = gpu_layers * per_layer
        else:
            shares = [d.memory_bytes for d in machine.accelerators]
            terms["accelerator_read"] = sum(gpu_bytes * s / sum(shares) / b for s, b in zip(shares, bw))
            terms["layer_overhead"] = model.layer_units(a, gpu_layers) * f.layer_overhead_s
            if n > 1:
                terms["gpu_hops"] = (n - 1) * model.gpu_hop_s
    if ram_bytes:
        host = machine.host
        cpu = model.factors("cpu")
        terms["ram_read"] = ram_bytes / (host.bandwidth_bytes_s * cpu.bandwidth_efficiency)
        terms["cpu_layer_overhead"] = model.layer_units(a, ram_layers) * cpu.layer_overhead_s
    seconds = sum(terms.values())
    return SpeedResult(batch / seconds if seconds > 0 else None, seconds, Parts("s", terms), bytes_read)


def prefill_speed(machine: Machine, placement: Placement, flops_per_token: float, weights_in_ram_bytes: float,
                  model: SpeedModel, ubatch: int, backend: str | None = None,
                  mode: str = "layer_split", expert_flops_per_token: float = 0.0) -> SpeedResult:
    """Prompt tokens/s: compute-bound on the accelerators; RAM-held weights cross PCIe per micro-batch."""
    if not placement.runs:
        return SpeedResult(None, float("inf"), Parts("s", {}))
    devices = machine.accelerators or ((machine.host,) if machine.host else ())
    if not devices or any(d.flops is None for d in devices):
        return SpeedResult(None, float("nan"), Parts("s", {}))
    f = model.factors(backend or devices[0].backend)
    if f.compute_efficiency is None:
        return SpeedResult(None, float("nan"), Parts("s", {}))
    if mode == "tensor_parallel" and len(devices) > 1:
        flops = sum(d.flops for d in devices) * f.compute_efficiency
    else:
        flops = min(d.flops for d in devices) * f.compute_efficiency  # layers run one device after another
    terms = {"compute": (flops_per_token + model.expert_flops_weight * expert_flops_per_token) / flops}
    if weights_in_ram_bytes and machine.accelerators:
        link = min(d.host_link_bytes_s or 16e9 for d in machine.accelerators)
        terms["pcie_weight_upload"] = weights_in_ram_bytes / link / ubatch
    seconds = sum(terms.values())
    return SpeedResult(1 / seconds, seconds, Parts("s", terms))
