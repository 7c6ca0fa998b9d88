"""The catalog: complete, right against independent references, and loud about mistakes."""

from __future__ import annotations

import pytest

from conftest import plant
from macros.catalog import CatalogError, load_catalog
from macros.engine.params import count_params

# Facts checked by hand against vendors' pages (shared/reference/hardware-facts.md, "Headline
# answers"): memory in GB and bandwidth in GB/s. The seeds disagree on some (a "48 GB" RTX 5090).
HARDWARE_FACTS = {
    "rtx-5090": (32, 1792),
    "rtx-4090": (24, 1008),
    "rtx-3090": (24, 936),
    "h200-sxm": (141, 4800),
    "mi300x": (192, 5300),
    "mi325x": (256, 6000),
}

# Qwen3.5 architecture facts from the model cards (shared/reference/qwen-models.md section 2).
QWEN35_LAYERS = {"qwen3.5-397b-a17b": 60, "qwen3.5-122b-a10b": 48, "qwen3.5-35b-a3b": 40, "qwen3.5-27b": 64,
                 "qwen3.5-9b": 32, "qwen3.5-4b": 32, "qwen3.5-2b": 24, "qwen3.5-0.8b": 24}

REQUIRED_MODELS = [
    "qwen3.5-0.8b", "qwen3.5-2b", "qwen3.5-4b", "qwen3.5-9b", "qwen3.5-27b", "qwen3.5-35b-a3b",
    "qwen3.5-122b-a10b", "qwen3.5-397b-a17b", "qwen3.6-27b", "qwen3.6-35b-a3b", "qwen3-next-80b-a3b",
    "qwen3-coder-next", "qwen3-235b-a22b", "qwen3-30b-a3b", "qwen3-32b", "qwen2.5-72b", "llama-2-7b",
    "llama-3.1-8b", "llama-3-70b",
]
REQUIRED_QUANTS = ["F16", "BF16", "Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q4_0", "IQ4_XS", "Q3_K_M", "Q2_K",
                   "UD-Q4_K_XL", "FP8", "GPTQ-INT4", "AWQ-INT4", "MLX-4bit", "MLX-8bit"]
REQUIRED_RUNTIMES = ["llama.cpp", "vllm", "ollama", "mlx-lm"]


def test_catalog_has_what_the_guides_need(catalog):
    assert set(REQUIRED_MODELS) <= set(catalog.models)
    assert set(REQUIRED_QUANTS) <= set(catalog.quants)
    assert set(REQUIRED_RUNTIMES) <= set(catalog.runtimes)
    assert len(catalog.hardware) >= 45
    assert len(catalog.rigs) >= 10
    assert len(catalog.measurements) >= 200


@pytest.mark.parametrize("hardware_id, facts", HARDWARE_FACTS.items())
def test_hardware_specs_match_vendor_figures(catalog, hardware_id, facts):
    hw = catalog.hardware[hardware_id]
    assert (hw.memory_gb, hw.memory_bandwidth_gb_s) == facts


def test_every_fact_has_a_source_with_a_date(catalog):
    for kind in ("models", "storage_types", "quants", "artifacts", "hardware", "rigs", "runtimes",
                 "measurements", "api_prices", "constants"):
        for record in getattr(catalog, kind).values():
            assert record.source, (kind, record.id)
            for s in record.source:
                assert (s.url or s.doc) and s.read, (kind, record.id)


@pytest.mark.parametrize("model_id, layers", QWEN35_LAYERS.items())
def test_qwen35_architecture_as_published(catalog, model_id, layers):
    a = catalog.models[model_id].architecture
    assert a.num_hidden_layers == layers
    assert a.full_attention_interval == 4  # three Gated DeltaNet layers to one attention layer
    assert a.head_dim == 256 and a.vocab_size == 248320
    assert a.max_position_embeddings == 262144
    assert a.position_encoding == "rope"  # not ALiBi, whatever a guide says


def test_397b_experts_as_published(catalog):
    a = catalog.models["qwen3.5-397b-a17b"].architecture
    assert (a.num_experts, a.num_experts_per_tok, a.shared_expert_intermediate_size) == (512, 10, 1024)
    assert catalog.models["qwen3.5-397b-a17b"].params_active_official_b == 17


def _tolerance(official_b: float) -> float:
    # Small models' official figures are rounded labels ("0.8B", "4B", "9B"): allow the rounding.
    return 0.03 if official_b >= 10 else 0.20


@pytest.mark.parametrize("model_id", REQUIRED_MODELS)
def test_total_params_from_architecture_match_official(catalog, model_id):
    m = catalog.models[model_id]
    computed = count_params(m.architecture).total.total / 1e9
    assert computed == pytest.approx(m.params_total_official_b, rel=_tolerance(m.params_total_official_b))


@pytest.mark.parametrize("model_id", REQUIRED_MODELS)
def test_active_params_from_architecture_match_official(catalog, model_id):
    m = catalog.models[model_id]
    computed = count_params(m.architecture).active.total / 1e9
    # "A3B"-style labels are rounded and publishers differ on counting embeddings: 30% or 0.6 B.
    assert abs(computed - m.params_active_official_b) <= max(0.3 * m.params_active_official_b, 0.6)


# --------------------------------------------------------------------------- planted mistakes
# The corpus of broken catalogs (each kind of mistake, file, line and field) is tests/test_hardening.py.


def test_missing_source_is_an_error(catalog_copy):
    path = catalog_copy / "hardware.yaml"
    text = path.read_text()
    first = text.index("\n  source:")
    end = text.index("\n- id:", first)
    path.write_text(text[:first] + text[end:])
    with pytest.raises(CatalogError) as err:
        load_catalog(catalog_copy)
    assert "source" in str(err.value) and "missing" in str(err.value)


def test_all_problems_reported_in_one_run(catalog_copy):
    plant(catalog_copy, "hardware.yaml", r"^(  memory_bandwidth_gb_s: )1792$", r"\1-1")
    plant(catalog_copy, "models.yaml", r"^(    num_hidden_layers: )60$", r"\g<1>0")
    with pytest.raises(CatalogError) as err:
        load_catalog(catalog_copy)
    files = {p.file for p in err.value.problems}
    assert any(f.endswith("hardware.yaml") for f in files) and any(f.endswith("models.yaml") for f in files)
