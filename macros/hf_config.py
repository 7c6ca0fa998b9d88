"""Read a Hugging Face config.json into the catalog's Model record (for models not in the catalog)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from pydantic import ValidationError

from .engine.params import count_params
from .catalog.schema import Architecture, Model, VisionTower

_ARCH_FIELDS = set(Architecture.model_fields) - {"vision"}
_VISION_FIELDS = set(VisionTower.model_fields)
# Names some configs use for the same quantity.
_ALIASES = {
    "n_layer": "num_hidden_layers", "n_embd": "hidden_size", "n_head": "num_attention_heads",
    "num_local_experts": "num_experts", "n_routed_experts": "num_experts",
    "shared_expert_intermediate_size": "shared_expert_intermediate_size",
}


MAX_CONFIG_BYTES = 1 << 20  # real config.json files are a few KB
# Shapes far above any published model: a config beyond them is a mistake, not a model to size.
CONFIG_LIMITS = {"num_hidden_layers": 1024, "hidden_size": 131072, "num_attention_heads": 4096,
                 "intermediate_size": 1 << 20, "moe_intermediate_size": 1 << 20, "vocab_size": 1 << 23,
                 "num_experts": 16384, "max_position_embeddings": 1 << 27, "head_dim": 4096}
MAX_PARAMS = 50e12


class ConfigError(ValueError):
    pass


def _json_kind(value) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false", int: "a number",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number a config may hold (JSON has no NaN or Infinity)")


def _positive(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and x > 0


def unsupported_features(cfg: dict) -> list[str]:
    """The architecture features of a config that the engine does not model, each named (empty: supported).
    Full attention, Gated DeltaNet hybrids (full_attention_interval) and MoE on every layer (Qwen-style with
    moe_intermediate_size, or Mixtral-style with intermediate_size per expert) are supported."""
    out = []
    window = cfg.get("sliding_window")
    types = cfg.get("layer_types")
    sliding_types = isinstance(types, list) and any("sliding" in str(t) for t in types)
    if sliding_types or (_positive(window) and cfg.get("use_sliding_window", True) is not False
                         and window < (cfg.get("max_position_embeddings") or float("inf"))):
        out.append(f"sliding-window attention (sliding_window {window}: layers that cache only the last tokens, "
                   "as in Gemma 2/3 and gpt-oss)")
    if "kv_lora_rank" in cfg and not all(_positive(cfg.get(k)) for k in ("qk_nope_head_dim", "qk_rope_head_dim",
                                                                           "v_head_dim")):
        out.append("MLA attention without qk_nope_head_dim, qk_rope_head_dim and v_head_dim")
    if cfg.get("n_group") not in (None, 1) and cfg.get("topk_method") not in (None, "noaux_tc", "group_limited_greedy"):
        out.append(f"expert routing {cfg.get('topk_method')!r}")
    for key, what in (("moe_layer_freq", "MoE on only some layers"),):
        value = cfg.get(key)
        if _positive(value) and not (key == "moe_layer_freq" and value == 1):
            out.append(f"{what} ({key} {value})")
    if _positive(cfg.get("decoder_sparse_step")) and cfg["decoder_sparse_step"] != 1:
        out.append(f"MoE on only some layers (decoder_sparse_step {cfg['decoder_sparse_step']})")
    if cfg.get("mlp_only_layers"):
        out.append("dense layers among the MoE layers (mlp_only_layers)")
    if cfg.get("is_encoder_decoder"):
        out.append("an encoder-decoder model")
    for key in ("state_size", "ssm_cfg", "mamba_d_state", "hybrid_override_pattern", "attn_layer_period"):
        if cfg.get(key) is not None:
            out.append(f"state-space (Mamba) layers ({key})")
            break
    return out


def model_from_config(path: Path | str) -> Model:
    """A Model from a config.json; official parameter figures are the computed ones."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: {path.stat().st_size:,} bytes is too large for a config.json "
                              f"(at most {MAX_CONFIG_BYTES:,})")
        raw = json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constant)
    except ConfigError:
        raise
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file (a config.json is UTF-8 JSON)") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a config.json") from None
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path}:{err.lineno}: not valid JSON ({err.msg})") from None
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err.strerror or err}") from None
    except ValueError as err:
        raise ConfigError(f"{path}: {err}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a config.json is one JSON object ({{...}}), found {_json_kind(raw)}")
    text = raw.get("text_config") or raw
    if not isinstance(text, dict):
        raise ConfigError(f"{path}: text_config must be a JSON object, found {_json_kind(text)}")
    text = dict(text)
    unsupported = unsupported_features(text)
    if unsupported:
        raise ConfigError(f"{path}: not supported: {'; '.join(unsupported)}. The engine would misjudge this "
                          "model's parameters or KV cache, so it does not estimate it")
    for old, new in _ALIASES.items():
        if old in text and new not in text:
            text[new] = text[old]
    if _positive(text.get("n_shared_experts")) and _positive(text.get("moe_intermediate_size")):
        # DeepSeek-style: n shared experts, each moe_intermediate_size wide, as one shared FFN
        text.setdefault("shared_expert_intermediate_size", text["n_shared_experts"] * text["moe_intermediate_size"])
    if _positive(text.get("num_nextn_predict_layers")):
        text.setdefault("mtp_num_hidden_layers", text["num_nextn_predict_layers"])
    if text.get("num_experts") and not text.get("moe_intermediate_size"):
        # Mixtral-style MoE: every layer's FFN is the experts, each `intermediate_size` wide; no dense FFN
        text["moe_intermediate_size"], text["intermediate_size"] = text.get("intermediate_size"), 0
    if "num_key_value_heads" not in text and "num_attention_heads" in text:
        text["num_key_value_heads"] = text["num_attention_heads"]
    if text.get("tie_word_embeddings") is None:
        text["tie_word_embeddings"] = bool(raw.get("tie_word_embeddings", False))
    if "rope_parameters" in text and isinstance(text["rope_parameters"], dict):
        rope = text["rope_parameters"]
        text.setdefault("rope_theta", rope.get("rope_theta"))
        if rope.get("partial_rotary_factor"):
            text.setdefault("partial_rotary_factor", rope["partial_rotary_factor"])
    arch = {k: v for k, v in text.items() if k in _ARCH_FIELDS and v is not None}
    vision = raw.get("vision_config")
    if isinstance(vision, dict) and {"depth", "hidden_size", "intermediate_size", "num_heads", "patch_size"} <= set(vision):
        v = {k: val for k, val in vision.items() if k in _VISION_FIELDS}
        v.setdefault("out_hidden_size", arch.get("hidden_size"))
        arch["vision"] = v
    try:
        architecture = Architecture.model_validate(arch)
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        raise ConfigError(f"{path}: not a config this engine can read ({problems})") from err
    for field, limit in CONFIG_LIMITS.items():
        value = getattr(architecture, field, None)
        if isinstance(value, (int, float)) and value > limit:
            shown = f"{value:,}" if value < 1e15 else f"{value:.3g}"
            raise ConfigError(f"{path}: {field} {shown} is above any real model's ({limit:,}); not a config to estimate")
    counts = count_params(architecture)
    if counts.total.total > MAX_PARAMS:
        raise ConfigError(f"{path}: {counts.total.total / 1e12:,.1f} trillion parameters is above any real model's "
                          f"({MAX_PARAMS / 1e12:g} trillion)")
    name = raw.get("_name_or_path") or path.parent.name or path.stem
    return Model(
        id="custom-config", name=str(name), family=str(raw.get("model_type", "custom")),
        params_total_official_b=counts.total.total / 1e9, params_active_official_b=counts.active.total / 1e9,
        architecture=architecture,
        source=[{"doc": str(path), "read": dt.date.today().isoformat(), "note": "read from a local config.json"}],
    )
