"""Parameter counts from the architecture, by part.

Shapes follow the Hugging Face implementations (Qwen3.5 / Qwen3-Next / Llama).
Norm weights are counted; they are a few parameters per layer.
"""

from __future__ import annotations

import dataclasses

from ..catalog.schema import Architecture
from .parts import Parts


def head_dim(a: Architecture) -> int:
    """Width of one attention head."""
    return a.head_dim or a.hidden_size // a.num_attention_heads


def n_full_attention_layers(a: Architecture) -> int:
    """Layers with softmax attention (and a KV cache): every `full_attention_interval`-th layer."""
    if not a.full_attention_interval:
        return a.num_hidden_layers
    return a.num_hidden_layers // a.full_attention_interval


def n_linear_attention_layers(a: Architecture) -> int:
    """Gated DeltaNet layers: a fixed-size recurrent state, no KV cache."""
    return a.num_hidden_layers - n_full_attention_layers(a)


def is_moe(a: Architecture) -> bool:
    return a.num_experts > 0


def mla_attention_layer_params(a: Architecture) -> int:
    """Multi-head latent attention (DeepSeek-V3): low-rank query and key/value projections with their norms."""
    h, n = a.hidden_size, a.num_attention_heads
    qk = a.qk_nope_head_dim + a.qk_rope_head_dim
    if a.q_lora_rank:
        q = h * a.q_lora_rank + a.q_lora_rank + a.q_lora_rank * n * qk  # q_a_proj, q_a_layernorm, q_b_proj
    else:
        q = h * n * qk
    kv_a = h * (a.kv_lora_rank + a.qk_rope_head_dim) + a.kv_lora_rank  # kv_a_proj_with_mqa, kv_a_layernorm
    kv_b = a.kv_lora_rank * n * (a.qk_nope_head_dim + a.v_head_dim)
    o_proj = n * a.v_head_dim * h
    return q + kv_a + kv_b + o_proj


def n_moe_layers(a: Architecture) -> int:
    """Layers whose FFN is the experts (all of them, or all after the first `first_k_dense_replace`)."""
    return a.num_hidden_layers - a.first_k_dense_replace if is_moe(a) else 0


def full_attention_layer_params(a: Architecture) -> int:
    if a.kv_lora_rank:
        return mla_attention_layer_params(a)
    h, hd = a.hidden_size, head_dim(a)
    q_width = a.num_attention_heads * hd
    kv_width = a.num_key_value_heads * hd
    q_proj = h * q_width * (2 if a.attn_output_gate else 1)  # gated: a gate per query channel
    k_proj = v_proj = h * kv_width
    o_proj = q_width * h
    bias = (q_width + 2 * kv_width) if a.attention_bias else 0
    return q_proj + k_proj + v_proj + o_proj + bias


def linear_attention_layer_params(a: Architecture) -> int:
    h = a.hidden_size
    key_dim = a.linear_num_key_heads * a.linear_key_head_dim
    value_dim = a.linear_num_value_heads * a.linear_value_head_dim
    in_proj_qkvz = h * (2 * key_dim + 2 * value_dim)  # q, k, v and the output gate z
    in_proj_ba = h * 2 * a.linear_num_value_heads  # beta and alpha (decay) per value head
    conv1d = (2 * key_dim + value_dim) * a.linear_conv_kernel_dim  # depthwise causal conv
    decay = 2 * a.linear_num_value_heads  # A_log and dt_bias
    norm = a.linear_value_head_dim  # gated RMSNorm on the output
    out_proj = value_dim * h
    return in_proj_qkvz + in_proj_ba + conv1d + decay + norm + out_proj


def expert_params(a: Architecture) -> int:
    """One routed expert: gate, up and down projections."""
    return 3 * a.hidden_size * a.moe_intermediate_size


def shared_expert_params(a: Architecture) -> int:
    if not a.shared_expert_intermediate_size:
        return 0
    return 3 * a.hidden_size * a.shared_expert_intermediate_size + a.hidden_size  # + its sigmoid gate


def ffn_layer_params(a: Architecture) -> dict[str, int]:
    """One layer's feed-forward block, by part."""
    if is_moe(a):
        return {
            "routed_experts": a.num_experts * expert_params(a),
            "router": a.hidden_size * a.num_experts,
            "shared_expert": shared_expert_params(a),
        }
    return {"dense_ffn": 3 * a.hidden_size * a.intermediate_size}


def vision_params(a: Architecture) -> int:
    v = a.vision
    if v is None:
        return 0
    patch_embed = v.in_channels * v.temporal_patch_size * v.patch_size**2 * v.hidden_size + v.hidden_size
    block = (
        3 * v.hidden_size * v.hidden_size + 3 * v.hidden_size  # qkv
        + v.hidden_size * v.hidden_size + v.hidden_size  # proj
        + 2 * v.hidden_size * v.intermediate_size + v.intermediate_size + v.hidden_size  # mlp
        + 4 * v.hidden_size  # two LayerNorms
    )
    merged = v.hidden_size * v.spatial_merge_size**2
    merger = 2 * v.hidden_size + merged * merged + merged + merged * v.out_hidden_size + v.out_hidden_size
    return patch_embed + v.depth * block + merger + v.num_position_embeddings * v.hidden_size


@dataclasses.dataclass(frozen=True)
class ParamCounts:
    total: Parts  # every parameter as publishers count them (text model and vision tower), by part
    active: Parts  # read for one token, by part (top-k experts only; no vision tower)
    mtp: int  # multi-token-prediction layers: shipped in safetensors, left out of counts and GGUF files


def count_params(a: Architecture) -> ParamCounts:
    """Total and per-token active parameters of the text model and vision tower (MTP apart)."""
    h, L = a.hidden_size, a.num_hidden_layers
    n_full, n_lin = n_full_attention_layers(a), n_linear_attention_layers(a)
    ffn = ffn_layer_params(a)
    n_moe = n_moe_layers(a)
    layer_norms = 2 * h * L + h  # two RMSNorms per layer and the final norm
    mtp_layer = full_attention_layer_params(a) + sum(ffn.values()) + 2 * h * h + 4 * h  # fc 2h->h, norms
    total = {
        "embeddings": a.vocab_size * h,  # [vocab, hidden]
        "attention": n_full * full_attention_layer_params(a),
        "linear_attention": n_lin * linear_attention_layer_params(a),
        "dense_ffn": L * ffn.get("dense_ffn", 0) + a.first_k_dense_replace * 3 * h * a.intermediate_size,
        "routed_experts": n_moe * ffn.get("routed_experts", 0),
        "shared_expert": n_moe * ffn.get("shared_expert", 0),
        "router": n_moe * ffn.get("router", 0),
        "norms": layer_norms,
        "lm_head": 0 if a.tie_word_embeddings else a.vocab_size * h,  # [hidden, vocab]
        "vision": vision_params(a),
    }
    active = dict(total)
    if is_moe(a):
        active["routed_experts"] = n_moe * a.num_experts_per_tok * expert_params(a)
    active["vision"] = 0
    return ParamCounts(total=Parts("params", total), active=Parts("params", active),
                       mtp=a.mtp_num_hidden_layers * mtp_layer)


def text_params(counts: ParamCounts) -> float:
    """Parameters of the language model proper (no vision tower, no MTP)."""
    return counts.total.total - counts.total["vision"]
