"""The calculator's exported data (no browser): complete, equal to the engine's numbers, small and safe.

tests/test_calculator_browser.py checks the page's arithmetic against the engine on random inputs;
this checks the data that arithmetic starts from.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from macros import calculator  # noqa: E402
from macros.catalog import load_catalog  # noqa: E402
from macros.engine import KV_TYPES, Engine, custom_machine  # noqa: E402
from macros.engine.memory import kv_bytes_per_token, recurrent_state_bytes  # noqa: E402

REL = 1e-10  # exported numbers keep 12 significant digits


@pytest.fixture(scope="module")
def calc_engine():
    return Engine(load_catalog(Path(os.environ.get("GUIDE_CATALOG") or ROOT / "catalog")))


@pytest.fixture(scope="module")
def data(calc_engine):
    return json.loads(calculator.data_json(calc_engine).replace("<\\/", "</"))


def _close(a: float, b: float, rel: float = REL) -> bool:
    return a == b or abs(a - b) <= rel * max(abs(a), abs(b))


def _pick(ids, *preferred):
    """The first preferred id in the catalog, else the first id (the catalog may grow or shrink)."""
    ids = list(ids)
    return next((p for p in preferred if p in ids), ids[0])


def test_every_catalog_record_is_exported(calc_engine, data):
    cat = calc_engine.catalog
    assert [m["id"] for m in data["models"]] == list(cat.models)
    assert [q["id"] for q in data["quants"]] == list(cat.quants)
    assert [h["id"] for h in data["hardware"]] == list(cat.hardware)
    assert [r["id"] for r in data["rigs"]] == list(cat.rigs)
    assert [r["id"] for r in data["runtimes"]] == list(cat.runtimes)
    assert set(data["mq"]) == set(cat.models)
    for model_id, rows in data["mq"].items():
        assert len(rows) == len(cat.quants), model_id
        assert all(len(r) == 8 and all(isinstance(x, (int, float)) for x in r) for r in rows), model_id
    assert data["kv_types"] == list(KV_TYPES)
    assert data["defaults"]["model"] in cat.models and data["defaults"]["quant"] in cat.quants
    assert data["defaults"]["hardware"] in cat.hardware and data["defaults"]["runtime"] in cat.runtimes


@pytest.mark.parametrize("model_pref, quant_pref", [
    (("qwen3.5-122b-a10b",), ("Q4_K_M",)),
    (("qwen3.5-27b",), ("Q8_0",)),
    (("qwen3.5-397b-a17b",), ("UD-Q2_K_XL", "Q2_K")),
    (("llama-3.1-70b", "llama-3-70b"), ("IQ4_XS",)),
])
def test_model_quant_numbers_equal_the_engines(calc_engine, data, model_pref, quant_pref):
    cat = calc_engine.catalog
    model_id, quant_id = _pick(cat.models, *model_pref), _pick(cat.quants, *quant_pref)
    m = next(x for x in data["models"] if x["id"] == model_id)
    row = data["mq"][model_id][list(cat.quants).index(quant_id)]
    a = cat.models[model_id].architecture
    context, hardware = 32768, _pick(cat.hardware, "rtx-4090")
    e = calc_engine.estimate(model_id, quant_id, context=context, kv_type="q8_0",
                             machine=calc_engine.machine(hardware, 1, 512))
    assert e.placement.runs
    assert _close(row[0], e.weights.total)
    assert _close(row[1], e.weights.get("lm_head")) and _close(row[2], e.weights.get("embeddings"))
    assert _close(row[3], e.weights.get("routed_experts"))
    # bytes read per token: the static part plus the KV cache at its fill
    read = e.decode.bytes_read
    assert _close(row[4] + m["kv"][KV_TYPES.index("q8_0")] * context, read.total, 1e-9)
    assert _close(row[5], read["routed_experts"]) and _close(row[6], read["lm_head"])
    assert _close(row[7], read["embeddings"])
    for i, kv in enumerate(KV_TYPES):
        assert _close(m["kv"][i], kv_bytes_per_token(a, kv))
    assert _close(m["rs"], recurrent_state_bytes(a, 1))
    logits, scores, act = m["cb"]
    assert _close(max(logits, scores * context) + act, e.memory["compute_buffer"])
    assert m["layers"] == a.num_hidden_layers and m["moe"] == bool(a.num_experts)
    # prefill: the exported work over the device's effective rate gives the engine's compute term (a
    # default prompt into an empty cache, as the page computes it)
    p = calc_engine.estimate(model_id, quant_id, context=context, kv_type="q8_0",
                             machine=calc_engine.machine(hardware, 1, 512), context_fill=0)
    dev = p.machine.accelerators[0]
    f = calc_engine.speed_model.device_factors(dev)
    dense, attention, linear, calls = m["pw"]
    ub = data["settings"]["ubatch"]
    work = dense + f.attention_flops_weight * attention + f.linear_layer_prefill_flops * linear + \
        f.expert_call_flops * calls / ub
    assert _close(work / (dev.flops * f.compute_efficiency), p.prefill.terms["compute"], 1e-9)


def test_machines_equal_the_engines(calc_engine, data):
    cat = calc_engine.catalog
    s = calc_engine.settings
    for h in data["hardware"]:
        d = calc_engine.machine(h["id"]).accelerators or (calc_engine.machine(h["id"]).host,)
        kind, mem, bw, flops, backend, link, hbm, vendor = h["dev"]
        assert (hbm, vendor) == (d[0].hbm, d[0].vendor), h["id"]
        assert (kind, backend) == (d[0].kind, d[0].backend), h["id"]
        assert _close(mem, d[0].memory_bytes) and _close(bw, d[0].bandwidth_bytes_s), h["id"]
        assert (flops is None) == (d[0].flops is None) and (flops is None or _close(flops, d[0].flops))
        if kind == "gpu":
            assert _close(h["usable"][0], d[0].memory_bytes - s.gpu_runtime_overhead_bytes), h["id"]
    for r in data["rigs"]:
        mach = calc_engine.machine(r["id"])
        assert len(r["acc"]) == mach.count and r["link"] == mach.gpu_link, r["id"]
        assert (r["host"] is None) == (mach.host is None), r["id"]
        if mach.host:
            assert _close(r["host"][1], mach.host.memory_bytes) and _close(r["host"][2], mach.host.bandwidth_bytes_s)
        assert all(p in cat.hardware for p in r["parts"])
    sm = calc_engine.speed_model
    for key, f in data["speed"]["keys"].items():
        g = sm.factors(key)
        assert _close(f[0], g.bandwidth_efficiency) and _close(f[1], g.layer_overhead_s), key
        assert _close(f[3], g.token_overhead_s) and _close(f[4], g.linear_layer_s), key
    for name, (factor, enough) in data["speed"]["bands"].items():
        kind, cls = name.split("|")
        band = calc_engine.band_table[(kind, cls)]
        assert _close(factor, band.factor) and enough == band.enough, name
    assert _close(data["settings"]["os"], s.os_reserve_bytes)
    assert data["settings"]["ubatch"] == s.ubatch_tokens
    # a custom machine's units are the engine's
    probe = custom_machine("gpu", 2.0, 3.0, 4.0, 1, 5.0)
    c = data["custom"]
    assert _close(2.0 * c["mem_unit"], probe.accelerators[0].memory_bytes)
    assert _close(3.0 * c["bw_unit"], probe.accelerators[0].bandwidth_bytes_s)
    assert _close(4.0 * c["tflops_unit"], probe.accelerators[0].flops)
    assert _close(5.0 * c["ram_unit"], probe.host.memory_bytes)


def test_largest_context_reference_is_monotone(calc_engine):
    """The reference the browser test uses: the context found fits, one token more does not."""
    cat = calc_engine.catalog
    model_id, quant_id = _pick(cat.models, "qwen3.5-27b"), _pick(cat.quants, "Q4_K_M")
    machine = calc_engine.machine(_pick(cat.hardware, "rtx-4090"))
    best = calculator.largest_context(calc_engine, model_id, quant_id, "f16", machine, "fits")
    limit = cat.models[model_id].context_extended or cat.models[model_id].architecture.max_position_embeddings
    assert best is not None
    assert calc_engine.estimate(model_id, quant_id, context=best, machine=machine).placement.fits
    if best < limit:
        assert not calc_engine.estimate(model_id, quant_id, context=best + 1, machine=machine).placement.fits


def test_data_is_small(calc_engine):
    raw, gz = calculator.data_size(calculator.data_json(calc_engine))
    assert gz < calculator.DATA_BUDGET_GZIP_BYTES, f"embedded data {gz:,} B gzipped"
    assert raw < 1_000_000, f"embedded data {raw:,} B raw"


def test_flag_names_from_runtime_records():
    assert calculator._flag_names("-ngl (--n-gpu-layers)") == ["-ngl"]
    assert calculator._flag_names("-ctk/-ctv (--cache-type-k/--cache-type-v)") == ["-ctk", "-ctv"]
    assert calculator._flag_names("--n-cpu-moe N (or --cpu-moe for all experts)") == ["--n-cpu-moe"]
    assert calculator._flag_names("num_ctx (option)") == []
    assert calculator._flag_names(None) == []


def test_rendered_block_is_raw_html_and_escapes_catalog_strings(calc_engine):
    """Names with markup are escaped in the options and cannot close the data <script>; the block has
    no blank line (Markdown would otherwise treat what follows as Markdown)."""
    cat = calc_engine.catalog
    first = next(iter(cat.models.values()))
    evil = '</script><img src=x onerror=alert(1)> & "quoted"'
    models = dict(cat.models)
    models[first.id] = first.model_copy(update={"name": evil})
    engine = Engine(dataclasses.replace(cat, models=models))
    html_text = calculator.render_calculator(engine)
    assert "\n\n" not in html_text
    assert evil not in html_text
    assert "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt; &amp; &quot;quoted&quot;" in html_text
    assert html_text.count("</script>") == 2  # the data block and the script tag, nothing injected
    data = html_text.split('id="calc-data">', 1)[1].split("</script>", 1)[0]
    assert json.loads(data.replace("<\\/", "</"))["models"][0]["name"] == evil


def test_page_macros_are_registered(calc_engine):
    from macros.context import BuildContext
    ctx = BuildContext(catalog=calc_engine.catalog, engine=calc_engine)
    fns = calculator.macros(ctx)
    assert set(fns) == {"calculator", "calculator_data_size"}
    assert "kB gzipped" in fns["calculator_data_size"]()
    assert (ROOT / "docs" / "calculator.md").read_text().count("{{ calculator() }}") == 1
    assert (ROOT / "docs" / "assets" / "calculator.js").exists() and (ROOT / "docs" / "assets" / "calculator.css").exists()
