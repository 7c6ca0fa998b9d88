"""Decode and prefill speed from bytes read, FLOPs, and a few fitted factors with physical meaning.

Decode is bound by memory bandwidth: each token reads the active weights (MoE: top-k routed
experts plus the shared expert; the embedding table one row; the output head in full), the KV
cache up to its current fill, and the recurrent state (read and written). Each device in the
path reads its share at its effective bandwidth (a quantized KV cache costs more per byte than
its size: it is dequantized as it is read); a fixed cost per layer (kernel launches; MoE and Gated
DeltaNet layers run more kernels) and per token (graph, sampling) is added. Weights in system RAM
are read at the host's bandwidth, and every layer whose experts sit in RAM costs a round trip.

Prefill is bound by compute: 2 FLOPs per active weight per token, attention's term that grows
with the context, a fixed cost per Gated DeltaNet layer and per expert matmul per micro-batch
(few tokens per expert), over the rated dense rate times a fitted share. Weights held in RAM are
streamed once per micro-batch at a fitted rate.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Mapping

from ..catalog.schema import Architecture
from .machine import Device, Machine
from .memory import QuantBits, kv_bytes_per_token, recurrent_state_bytes
from .params import (ParamCounts, expert_params, head_dim, n_full_attention_layers, n_linear_attention_layers,
                     n_moe_layers)
from .parts import Parts
from .placement import Placement


# Runtimes that share llama.cpp's kernels (ggml) are one family; vLLM and SGLang another; MLX its own.
RUNTIME_FAMILY = {"llama.cpp": "", "ollama": "", "lm-studio": "", "vllm": "vllm", "sglang": "vllm", "mlx-lm": "mlx"}


def speed_key(device: Device, backend: str | None = None, runtime: str | None = None) -> str:
    """The class of setup a set of factors is fitted for: the backend; HBM datacenter parts apart
    (batch-1 kernels reach a smaller share of HBM bandwidth, and llama.cpp's kernels a smaller share
    of their FP16-accumulate tensor rating); and the runtime's kernels (llama.cpp, vLLM/SGLang, MLX)."""
    backend = backend or device.backend
    key = f"{backend}/hbm" if device.hbm and backend != "cpu" else backend
    family = RUNTIME_FAMILY.get(runtime or "llama.cpp", "")
    return f"{key}/{family}" if family else key


@functools.lru_cache(maxsize=None)
def key_chain(key: str) -> tuple[str, ...]:
    """A speed key and the wider classes that stand in for it, nearest first: the runtime matters
    more than HBM. "cuda/hbm/vllm" -> ["cuda/hbm/vllm", "cuda/vllm", "cuda/hbm", "cuda"]."""
    parts = key.split("/")
    backend, rest = parts[0], parts[1:]
    hbm = "hbm" in rest
    runtime = [r for r in rest if r != "hbm"]
    chain = [key]
    if hbm and runtime:
        chain.append("/".join([backend, *runtime]))
    if runtime and hbm:
        chain.append(f"{backend}/hbm")
    if len(parts) > 1:
        chain.append(backend)
    return tuple(chain)


@dataclasses.dataclass(frozen=True)
class BackendFactors:
    """Fitted efficiency of one class of device (see speed_key)."""

    bandwidth_efficiency: float  # share of rated bandwidth reached while streaming weights
    layer_overhead_s: float  # fixed time per layer unit per decoded token
    token_overhead_s: float  # fixed time per decoded token (graph, sampling, synchronisation)
    compute_efficiency: float | None  # share of rated dense FP16 FLOP/s reached in prefill
    decode_points: int = 0  # measurements behind the decode factors (0: borrowed from a wider class)
    prefill_points: int = 0
    source: str = "fitted"
    linear_layer_s: float = 0.0  # decode: extra time per Gated DeltaNet layer per token (recurrent update)
    linear_layer_prefill_flops: float = 0.0  # prefill: FLOP-equivalents per Gated DeltaNet layer per token
    expert_call_flops: float = 0.0  # prefill: FLOP-equivalents per expert matmul per layer per micro-batch
    attention_flops_weight: float = 1.0  # prefill: cost of an attention FLOP over a weight-matmul FLOP


@dataclasses.dataclass(frozen=True)
class SpeedModel:
    factors_by_key: Mapping[str, BackendFactors]  # speed_key -> factors
    pooled: BackendFactors  # a class with no measurements of its own
    gpu_hop_s: float  # layer split: handing activations to the next GPU, per token per boundary
    allreduce_s: Mapping[str, float]  # tensor parallel: one all-reduce, by link (pcie, nvlink)
    moe_layer_weight: float = 0.0  # extra fixed cost of an MoE layer, in plain-layer units
    kv_quant_read_factor: float = 1.0  # decode: time per byte of a q8_0/q4_0 KV cache over an f16 one
    offload_sync_s: float = 0.0  # decode: round trip GPU -> CPU -> GPU per layer whose experts sit in RAM
    # prefill: RAM-held weights stream through each micro-batch at this share of the host's RAM bandwidth
    # (staged copies to the GPU), by kind of offload: layer | expert
    offload_prefill_share: Mapping[str, float] = dataclasses.field(default_factory=dict)
    # Splitting a model across GPUs with llama.cpp: an MoE layer in a layer split, and any layer in a row
    # (tensor) split, costs a synchronisation per token in decode and per micro-batch in prefill.
    split_sync_s: Mapping[str, float] = dataclasses.field(default_factory=dict)  # decode|prefill x moe|row

    def layer_units(self, a: Architecture, layers: float) -> float:
        """Fixed-cost units of `layers` of this architecture (an MoE layer counts 1 + moe_layer_weight)."""
        return layers * (1 + (self.moe_layer_weight if a.num_experts else 0.0))

    def layer_seconds(self, a: Architecture, layers: float, f: BackendFactors) -> float:
        """Fixed time per token of `layers` of this architecture (an average layer of its mix)."""
        linear_share = n_linear_attention_layers(a) / a.num_hidden_layers
        return self.layer_units(a, layers) * f.layer_overhead_s + layers * linear_share * f.linear_layer_s

    def factors(self, key: str) -> BackendFactors:
        """Factors for a speed key ("cuda/hbm/vllm"), else the nearest wider class, else the pooled fit."""
        for candidate in key_chain(key):
            if candidate in self.factors_by_key:
                return self.factors_by_key[candidate]
        return self.pooled

    def device_factors(self, device: Device, backend: str | None = None, runtime: str | None = None) -> BackendFactors:
        return self.factors(speed_key(device, backend, runtime))


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
        "routed_experts": n_moe_layers(a) * routed_per_layer,  # DeepSeek-style: not the first dense layers
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


@dataclasses.dataclass(frozen=True)
class PrefillWork:
    """What one prompt token costs, before dividing by a device's rate."""

    dense_flops: float  # 2 x active weights (embeddings and vision excluded)
    attention_flops: float  # 4 x full-attention layers x heads x head dim x average context
    linear_layers: int  # Gated DeltaNet layers (fixed cost each)
    expert_calls_per_ubatch: float  # MoE layers x experts touched per micro-batch
    layers: int = 0
    moe_layers: int = 0

    def flop_equivalents(self, model: "SpeedModel", f: "BackendFactors", ubatch: int) -> float:
        return (self.dense_flops + f.attention_flops_weight * self.attention_flops
                + f.linear_layer_prefill_flops * self.linear_layers
                + f.expert_call_flops * self.expert_calls_per_ubatch / ubatch)


def prefill_work(a: Architecture, counts: ParamCounts, context_avg: float, ubatch: int = 512) -> PrefillWork:
    """The work of one prompt token at an average cache fill of `context_avg` tokens."""
    active = counts.active.total - counts.active["embeddings"] - counts.active["vision"]
    attention = 4 * n_full_attention_layers(a) * a.num_attention_heads * head_dim(a) * context_avg
    calls = 0.0
    if a.num_experts:
        routed = ubatch * a.num_experts_per_tok
        touched = a.num_experts * (1 - (1 - a.num_experts_per_tok / a.num_experts) ** ubatch)
        calls = a.num_hidden_layers * min(touched, routed)
    return PrefillWork(2 * active, attention, n_linear_attention_layers(a), calls, a.num_hidden_layers,
                       a.num_hidden_layers if a.num_experts else 0)


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


def host_bandwidth_bytes_s(machine: Machine, model: SpeedModel) -> float:
    """The host RAM's effective streaming rate: measured, or rated x the CPU class's bandwidth efficiency."""
    host = machine.host
    return host.bandwidth_bytes_s * (1.0 if host.bandwidth_measured else model.factors("cpu").bandwidth_efficiency)


def _shares(machine: Machine) -> list[float]:
    """Each accelerator's share of the layers in a layer split: in proportion to its memory."""
    sizes = [d.memory_bytes for d in machine.accelerators]
    return [s / sum(sizes) for s in sizes]


def decode_speed(machine: Machine, placement: Placement, bytes_read: Parts, a: Architecture,
                 model: SpeedModel, backend: str | None = None, mode: str = "layer_split",
                 batch: int = 1, kv_type: str = "f16", runtime: str | None = None) -> SpeedResult:
    """Aggregate decode tokens/s (batch sequences x steps/s) for a placement on a machine."""
    if not placement.runs:
        return SpeedResult(None, float("inf"), Parts("s", {}), bytes_read)
    gpu_bytes, ram_bytes, gpu_layers, ram_layers = _split_resident(bytes_read, placement, a)
    kv_weight = model.kv_quant_read_factor if kv_type != "f16" else 1.0
    kv = bytes_read["kv_cache"]
    terms: dict[str, float] = {}
    if machine.accelerators and gpu_bytes:
        # The KV cache lives with the layers: its share on the accelerators follows theirs.
        kv_gpu = kv * gpu_layers / a.num_hidden_layers
        read = gpu_bytes - kv_gpu + kv_weight * kv_gpu
        devs = machine.accelerators
        first = model.device_factors(devs[0], backend, runtime)
        if mode == "tensor_parallel" and len(devs) > 1:
            slowest = max(devs, key=lambda d: 1 / (d.bandwidth_bytes_s * model.device_factors(d, backend, runtime).bandwidth_efficiency))
            f = model.device_factors(slowest, backend, runtime)
            terms["accelerator_read"] = read / len(devs) / (slowest.bandwidth_bytes_s * f.bandwidth_efficiency)
            terms["layer_overhead"] = model.layer_seconds(a, gpu_layers, f)
            per_layer = 2 * model.allreduce_s.get(machine.gpu_link, model.allreduce_s["pcie"])
            terms["allreduce"] = gpu_layers * per_layer
            if not RUNTIME_FAMILY.get(runtime or "llama.cpp", ""):
                terms["row_split_sync"] = gpu_layers * model.split_sync_s.get("decode_row", 0.0)
        else:
            reads = layers = 0.0
            for d, share in zip(devs, _shares(machine)):
                f = model.device_factors(d, backend, runtime)
                reads += read * share / (d.bandwidth_bytes_s * f.bandwidth_efficiency)
                layers += model.layer_seconds(a, gpu_layers * share, f)
            terms["accelerator_read"] = reads
            terms["layer_overhead"] = layers
            if len(devs) > 1:
                terms["gpu_hops"] = (len(devs) - 1) * model.gpu_hop_s
                if a.num_experts and not RUNTIME_FAMILY.get(runtime or "llama.cpp", ""):
                    terms["moe_split_sync"] = gpu_layers * model.split_sync_s.get("decode_moe", 0.0)
        terms["token_overhead"] = first.token_overhead_s
    if ram_bytes:
        cpu = model.factors("cpu")
        terms["ram_read"] = ram_bytes / host_bandwidth_bytes_s(machine, model)
        if placement.placement == "moe_expert_offload":
            terms["offload_round_trips"] = ram_layers * model.offload_sync_s
        else:
            terms["cpu_layer_overhead"] = model.layer_seconds(a, ram_layers, cpu)
            if machine.accelerators:
                terms["offload_round_trips"] = model.offload_sync_s
            else:
                terms["token_overhead"] = cpu.token_overhead_s
    seconds = sum(terms.values())
    return SpeedResult(batch / seconds if seconds > 0 else None, seconds, Parts("s", terms), bytes_read)


def prefill_speed(machine: Machine, placement: Placement, work: PrefillWork, weights_in_ram_bytes: float,
                  model: SpeedModel, ubatch: int, backend: str | None = None,
                  mode: str = "layer_split", runtime: str | None = None) -> SpeedResult:
    """Prompt tokens/s: compute-bound on the accelerators; RAM-held weights streamed per micro-batch."""
    if not placement.runs:
        return SpeedResult(None, float("inf"), Parts("s", {}))
    devices = machine.accelerators or ((machine.host,) if machine.host else ())
    if not devices or any(d.flops is None for d in devices):
        return SpeedResult(None, float("nan"), Parts("s", {}))
    seconds_each = []  # the whole token's work on each device alone
    for d in devices:
        f = model.device_factors(d, backend, runtime)
        if f.compute_efficiency is None:
            return SpeedResult(None, float("nan"), Parts("s", {}))
        seconds_each.append(work.flop_equivalents(model, f, ubatch) / (d.flops * f.compute_efficiency))
    if mode == "tensor_parallel" and len(devices) > 1:
        compute = 1 / sum(1 / t for t in seconds_each)
    else:
        shares = _shares(machine) if machine.accelerators else [1.0]
        compute = sum(t * s for s, t in zip(shares, seconds_each))  # layers run one device after another
    terms = {"compute": compute}
    ggml = not RUNTIME_FAMILY.get(runtime or "llama.cpp", "")
    if len(machine.accelerators) > 1 and ggml:
        if mode == "tensor_parallel":
            terms["row_split_sync"] = work.layers * model.split_sync_s.get("prefill_row", 0.0) / ubatch
        elif work.moe_layers:
            terms["moe_split_sync"] = work.moe_layers * model.split_sync_s.get("prefill_moe", 0.0) / ubatch
    if weights_in_ram_bytes and machine.accelerators and machine.host:
        kind = "expert" if placement.placement == "moe_expert_offload" else "layer"
        rate = host_bandwidth_bytes_s(machine, model) * model.offload_prefill_share.get(kind, 1.0)
        terms["ram_weight_stream"] = weights_in_ram_bytes / rate / ubatch
    seconds = sum(terms.values())
    return SpeedResult(1 / seconds, seconds, Parts("s", terms))
