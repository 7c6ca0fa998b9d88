"""Memory in bytes, by part: weights, KV cache, recurrent state, compute buffers."""

from __future__ import annotations

import dataclasses
from typing import Mapping

from ..catalog.schema import Architecture, Model, Quant, StorageType
from .params import (ParamCounts, count_params, head_dim, n_full_attention_layers,
                     n_linear_attention_layers, text_params)
from .parts import EngineInputError, Parts

# Bytes per cached element for each KV cache type (ggml block sizes: q8_0 34 B per 32, q4_0 18 B per 32).
KV_BYTES_PER_ELEMENT = {"f16": 2.0, "q8_0": 34 / 32, "q4_0": 18 / 32, "fp8": 1.0}
RECURRENT_STATE_BYTES_PER_ELEMENT = 4.0  # Gated DeltaNet state kept in fp32 (mamba_ssm_dtype float32)
ACTIVATION_BYTES = 4.0  # llama.cpp compute buffers hold f32 activations
VISION_BYTES_PER_PARAM = 2.0  # the mmproj / vision tower is shipped in 16-bit


def storage_bpw(st: StorageType) -> float:
    """Bits per weight of a storage type, from its block layout."""
    return st.block_bytes * 8 / st.block_weights


@dataclasses.dataclass(frozen=True)
class QuantBits:
    """Bits per weight a quantization gives each kind of tensor."""

    quant_id: str
    body_bpw: float  # layer weights (attention, FFN, experts, MTP)
    embedding_bpw: float
    output_bpw: float
    body_formula: str


def resolve_quant(quant: Quant, storage_types: Mapping[str, StorageType],
                  models: Mapping[str, Model]) -> QuantBits:
    """Bits per weight for each tensor kind. A mix's body bpw is derived from its published
    whole-file bpw on a reference model, less that model's embedding and output tensors."""
    emb = storage_bpw(storage_types[quant.embedding_type])
    out = storage_bpw(storage_types[quant.output_type])
    if quant.body_type:
        body = storage_bpw(storage_types[quant.body_type])
        formula = f"{quant.body_type}: block bytes x 8 / block weights = {body:.4f}"
        return QuantBits(quant.id, body, emb, out, formula)
    ref = quant.reference_file_bpw
    counts = count_params(models[ref.model].architecture)
    n = text_params(counts)
    e, o = counts.total["embeddings"], counts.total["lm_head"]
    out_eff = out if o else 0.0
    body = (ref.bpw * n - e * emb - o * out_eff) / (n - e - o)
    formula = (f"({ref.bpw} bpw x {n / 1e9:.3f} B params of {ref.model} - embeddings {e / 1e9:.3f} B x {emb:.4f}"
               f" - output {o / 1e9:.3f} B x {out_eff:.4f}) / {(n - e - o) / 1e9:.3f} B body params = {body:.4f}")
    return QuantBits(quant.id, body, emb, out, formula)


BODY_PARTS = ("attention", "linear_attention", "dense_ffn", "routed_experts", "shared_expert", "router", "norms")


def weight_bytes(counts: ParamCounts, bits: QuantBits, include_vision: bool = False,
                 include_mtp: bool = False) -> Parts:
    """Weight memory by part, bytes: each part's parameters x its bits per weight / 8.
    GGUF files leave out the MTP layer and ship the vision tower as a separate file."""
    p = counts.total.values
    values = {name: p[name] * bits.body_bpw / 8 for name in BODY_PARTS}
    # A tied table doubles as the output matrix, and llama.cpp stores it at the output type.
    emb_bpw = bits.output_bpw if p["lm_head"] == 0 else bits.embedding_bpw
    values["embeddings"] = p["embeddings"] * emb_bpw / 8
    values["lm_head"] = p["lm_head"] * bits.output_bpw / 8
    values["vision"] = p["vision"] * VISION_BYTES_PER_PARAM if include_vision else 0.0
    values["mtp"] = counts.mtp * bits.body_bpw / 8 if include_mtp else 0.0
    formulas = {name: f"params x {bits.body_bpw:.3f} bits / 8" for name in BODY_PARTS}
    formulas["embeddings"] = f"vocab x hidden x {emb_bpw:.3f} bits / 8"
    formulas["lm_head"] = f"hidden x vocab x {bits.output_bpw:.3f} bits / 8 (0 when tied)"
    formulas["vision"] = "vision params x 2 bytes (only when images are used)"
    return Parts("bytes", values, formulas)


def kv_bytes_per_token(a: Architecture, kv_type: str = "f16") -> float:
    """KV cache per token of context: K and V for every full-attention layer."""
    if kv_type not in KV_BYTES_PER_ELEMENT:
        raise EngineInputError(f"unknown KV cache type {kv_type!r}; choose one of {', '.join(KV_BYTES_PER_ELEMENT)}")
    if a.kv_lora_rank:  # MLA: one compressed latent plus the rotary key part per layer (llama.cpp's c^KV)
        return n_full_attention_layers(a) * (a.kv_lora_rank + a.qk_rope_head_dim) * KV_BYTES_PER_ELEMENT[kv_type]
    return 2 * n_full_attention_layers(a) * a.num_key_value_heads * head_dim(a) * KV_BYTES_PER_ELEMENT[kv_type]


def kv_cache_bytes(a: Architecture, context: int, kv_type: str = "f16", batch: int = 1) -> float:
    """KV cache for `batch` sequences of `context` tokens each, bytes."""
    return kv_bytes_per_token(a, kv_type) * context * batch


def recurrent_state_bytes(a: Architecture, batch: int = 1) -> float:
    """Fixed Gated DeltaNet state per sequence (independent of context), bytes, fp32:
    the delta-rule state [v_heads, k_dim, v_dim] plus the conv state [(kernel-1), conv channels]."""
    n_lin = n_linear_attention_layers(a)
    if not n_lin:
        return 0.0
    ssm = a.linear_num_value_heads * a.linear_key_head_dim * a.linear_value_head_dim
    conv_channels = 2 * a.linear_num_key_heads * a.linear_key_head_dim + a.linear_num_value_heads * a.linear_value_head_dim
    conv = conv_channels * max(a.linear_conv_kernel_dim - 1, 0)
    return n_lin * (ssm + conv) * RECURRENT_STATE_BYTES_PER_ELEMENT * batch


def compute_buffer_terms(a: Architecture, ubatch: int, flash_attention: bool = True) -> tuple[float, float, float]:
    """The three terms of llama.cpp's compute buffer, bytes: the logits ([vocab, ubatch] f32), the
    attention scores per token of context ([ubatch, heads] f32; 0 with flash attention) and the FFN
    and residual activations. The buffer is max(logits, scores x context) + activations."""
    logits = ubatch * a.vocab_size * ACTIVATION_BYTES
    scores_per_token = 0.0 if flash_attention else ubatch * a.num_attention_heads * ACTIVATION_BYTES
    ffn_width = max(a.intermediate_size,
                    a.num_experts_per_tok * a.moe_intermediate_size + a.shared_expert_intermediate_size)
    activations = ubatch * (ffn_width + 3 * a.hidden_size) * ACTIVATION_BYTES
    return logits, scores_per_token, activations


def compute_buffer_bytes(a: Architecture, context: int, ubatch: int, flash_attention: bool = True) -> float:
    """llama.cpp compute buffer per device, bytes (f32 activations for one micro-batch).

    The largest live set is the logits ([vocab, ubatch]) or, without flash attention,
    the attention scores ([context, ubatch, heads]); plus the FFN and residual activations."""
    logits, scores_per_token, activations = compute_buffer_terms(a, ubatch, flash_attention)
    return max(logits, scores_per_token * context) + activations


def check_context(model: Model, context: int) -> None:
    if context < 0:
        raise EngineInputError(f"context must be 0 or more tokens, got {context}")
    limit = model.context_extended or model.architecture.max_position_embeddings
    if context > limit:
        raise EngineInputError(
            f"context {context} is above {model.id}'s limit of {limit} tokens "
            f"(native {model.architecture.max_position_embeddings})")
