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


class ConfigError(ValueError):
    pass


def _json_kind(value) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false", int: "a number",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number a config may hold (JSON has no NaN or Infinity)")


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
    for old, new in _ALIASES.items():
        if old in text and new not in text:
            text[new] = text[old]
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
    counts = count_params(architecture)
    name = raw.get("_name_or_path") or path.parent.name or path.stem
    return Model(
        id="custom-config", name=str(name), family=str(raw.get("model_type", "custom")),
        params_total_official_b=counts.total.total / 1e9, params_active_official_b=counts.active.total / 1e9,
        architecture=architecture,
        source=[{"doc": str(path), "read": dt.date.today().isoformat(), "note": "read from a local config.json"}],
    )
