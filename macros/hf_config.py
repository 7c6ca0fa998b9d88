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


class ConfigError(ValueError):
    pass


def model_from_config(path: Path | str) -> Model:
    """A Model from a config.json; official parameter figures are the computed ones."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ConfigError(f"cannot read {path}: {err}") from err
    text = dict(raw.get("text_config") or raw)
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
