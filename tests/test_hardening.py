"""Bad input never publishes a wrong page; the engine never returns nonsense for valid input."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT, plant
from macros.catalog import CatalogError, load_catalog
from macros.catalog.schema import Architecture, Model
from macros.engine import custom_machine

# (file, pattern, replacement, words the one message about it must contain)
BROKEN = [
    # malformed YAML
    ("models.yaml", r"^(  name: Qwen3.5-397B-A17B)$", r"\1\n  name: [unclosed", ["malformed YAML"]),
    ("hardware.yaml", r"^(- id: rtx-5090)$", r"\1\n\t  tab: indented", ["malformed YAML"]),
    ("quants.yaml", r"^(- id: Q4_K_M)$", r"\1: : :", ["malformed YAML"]),
    # duplicate keys and ids
    ("models.yaml", r"^(    hidden_size: 4096)$", r"\1\n    hidden_size: 4096", ["duplicate key 'hidden_size'"]),
    ("hardware.yaml", r"^(  memory_gb: 32)$", r"\1\n  memory_gb: 48", ["duplicate key 'memory_gb'"]),
    ("models.yaml", r"^(- id: )qwen3.5-27b$", r"\1qwen3.5-397b-a17b", ["duplicate models id"]),
    ("hardware.yaml", r"^(- id: )rtx-4090$", r"\1rtx-5090", ["duplicate hardware id"]),
    # unknown fields
    ("hardware.yaml", r"^  memory_gb: 32$", "  memory_gigs: 32", ["memory_gigs", "unknown field"]),
    ("models.yaml", r"^(    num_hidden_layers: 60)$", r"\1\n    num_layers: 60", ["num_layers", "unknown field"]),
    ("rigs.yaml", r"^(  name: .*)$", r"\1\n  colour: black", ["colour", "unknown field"]),
    # wrong types
    ("hardware.yaml", r"^(  memory_gb: )32$", r"\1thirty-two", ["memory_gb", "valid number"]),
    ("models.yaml", r"^(    tie_word_embeddings: )false$", r"\1perhaps", ["tie_word_embeddings", "valid boolean"]),
    ("hardware.yaml", r"^(  kind: )gpu$", r"\1tpu", ["kind", "'gpu', 'unified' or 'cpu'"]),
    ("measurements.yaml", r"^(  value: )\S+$", r"\1[1, 2]", ["value", "valid number"]),
    # missing facts and sources
    ("hardware.yaml", r"^  memory_bandwidth_gb_s: 1792\n", "", ["memory_bandwidth_gb_s", "missing"]),
    ("models.yaml", r"^    vocab_size: 248320\n", "", ["vocab_size", "missing"]),
    ("runtimes.yaml", r"^(  source:)", r"  sauce:", ["source", "missing"]),
    ("constants/engine.yaml", r"^(    - url: https://github.com/ggml-org/llama.cpp/pull/23604)\n      read: 2026-11-25",
     r"\1", ["read", "missing"]),
    # unknown references
    ("rigs.yaml", r"^(\s+- hardware: )rtx-5090$", r"\1rtx-5090-48gb", ["unknown hardware id 'rtx-5090-48gb'"]),
    ("measurements.yaml", r"^(  model: )llama-2-7b$", r"\1llama-2-7", ["unknown models id 'llama-2-7'"]),
    ("quants.yaml", r"^(  embedding_type: )\S+$", r"\1Q9_K", ["unknown storage_types id 'Q9_K'"]),
    ("artifacts.yaml", r"^(  quant: )Q8_0$", r"\1Q8_1", ["unknown quants id 'Q8_1'"]),
    ("claims/craftrigs-397b-multi-gpu.yaml", r"^(    model: )qwen3.5-397b-a17b$", r"\1qwen3.5-400b",
     ["unknown models id 'qwen3.5-400b'"]),
    ("api_prices.yaml", r"^(  model: )qwen3.5-397b-a17b$", r"\1qwen-max", ["unknown models id 'qwen-max'"]),
    # out of range
    ("hardware.yaml", r"^(  memory_bandwidth_gb_s: )1792$", r"\1-1792", ["memory_bandwidth_gb_s", "greater than 0"]),
    ("models.yaml", r"^(    num_hidden_layers: )60$", r"\g<1>0", ["num_hidden_layers", "greater than 0"]),
    ("models.yaml", r"^(    num_key_value_heads: )2$", r"\g<1>3", ["num_key_value_heads", "divide"]),
    ("models.yaml", r"^(  params_active_official_b: )17(\.0)?$", r"\g<1>499", ["params_active_official_b", "above"]),
    ("models.yaml", r"^(    num_experts_per_tok: )10$", r"\g<1>600", ["num_experts_per_tok"]),
    ("storage_types.yaml", r"^(  block_bytes: )\S+$", r"\g<1>0", ["block_bytes", "greater than 0"]),
    # unit mistakes
    ("hardware.yaml", r"^(  memory_gb: )32$", r"\g<1>1792", ["memory_gb", "bandwidth"]),
    ("hardware.yaml", r"^(  memory_bandwidth_gb_s: )1792$", r"\g<1>1.792", ["memory_bandwidth_gb_s", "TB/s"]),
    # a claim with neither a query nor a reason
    ("claims/craftrigs-397b-multi-gpu.yaml", r"^  query: null$", "  query: null\n  not_checkable_why: null",
     ["not_checkable_why"]),
    # an unknown catalog file
    ("gpus.yaml", None, "- id: x\n", ["unknown catalog file"]),
    # plausible but wrong (issue 15): parameters against the official figure for every model
    ("models.yaml", r"^(- id: gpt-oss-120b\n(?:.*\n)*?    num_experts: )128$", r"\g<1>256",
     ["gpt-oss-120b: params_total_official_b", "+9"]),
    # bandwidth against bus width and rate: an RTX 4070 (192-bit, 21 Gbps = 504 GB/s) typed as 5,040
    ("hardware.yaml", r"^(- id: rtx-4070\n(?:  .*\n)*?  memory_bandwidth_gb_s: )504$", r"\g<1>5040",
     ["rtx-4070: memory_bandwidth_gb_s", "504.0 GB/s"]),
    # and against the memory type when no bus is given (GDDR6X tops out near 1,150 GB/s)
    ("hardware.yaml", r"^(- id: rtx-4070\n(?:  .*\n)*?  memory_type: )GDDR6X \(192-bit, 21 Gbps\)\n(  memory_bandwidth_gb_s: )504$",
     r"\1GDDR6X\n\g<2>5040", ["memory_bandwidth_gb_s", "GDDR6X memory's range"]),
    # capacity units on a unified machine: 128,000 GB on a DGX Spark
    ("hardware.yaml", r"^(- id: gb10-dgx-spark\n(?:  .*\n)*?  memory_gb: )128$", r"\g<1>128000",
     ["gb10-dgx-spark: memory_gb", "unified"]),
    # constants have ranges; a missing or mistyped one is named
    ("constants/engine.yaml", r"^(- id: os_reserve_gib\n  value: )6$", r"\g<1>-1000", ["os_reserve_gib: value", "range"]),
    ("constants/engine.yaml", r"^(- id: os_reserve_gib\n  value: )6$", r"\g<1>six GiB", ["os_reserve_gib: value", "a number"]),
    ("constants/engine.yaml", r"^- id: os_reserve_gib$", "- id: os_reserve_gigs", ["os_reserve_gigs", "range"]),
    # dates: not in the future, and real
    ("hardware.yaml", r"^(  price_date: )2022-10-12$", r"\g<1>2031-01-01", ["price_date", "future"]),
    ("hardware.yaml", r"^(  price_date: )2022-10-12$", r"\g<1>2021-02-30", ["2021-02-30", "not a real date"]),
    # YAML 1.2: no sexagesimal numbers, no yes/no booleans; finite numbers only
    ("hardware.yaml", r"^(  fp16_tflops: )165.2$", r"\g<1>15:36", ["fp16_tflops", "'15:36'"]),
    ("models.yaml", r"^(    tie_word_embeddings: )false$", r"\1no", ["YAML 1.1", "true or false"]),
    ("hardware.yaml", r"^(  fp16_tflops: )165.2$", r"\g<1>.inf", ["fp16_tflops", "finite"]),
    ("measurements.yaml", r"^(  value: )\S+$", r"\g<1>.nan", ["value", "finite"]),
    # ids: compared case-insensitively, reserved names refused
    ("hardware.yaml", r"^(- id: )rtx-4090$", r"\1RTX-5090", ["RTX-5090", "case"]),
    ("models.yaml", r"^(- id: )qwen3.5-27b$", r"\1index", ["index", "reserved"]),
    # claim queries are validated like any record
    ("claims/craftrigs-397b-multi-gpu.yaml", r"^(    output: )weights_gb$", r"\1weights_bg",
     ["query.output", "unknown output 'weights_bg'", "weights_gb"]),
    ("claims/craftrigs-397b-multi-gpu.yaml", r"^(    output: fact:hardware\.)memory_gb$", r"\1memory_gib",
     ["query.output", "no field 'memory_gib'"]),
    ("claims/craftrigs-397b-multi-gpu.yaml", r"^(    output: weights_gb\n)", r"\1    context: 99000000\n",
     ["query.context", "above", "limit"]),
]


def _apply(root: Path, file: str, pattern: str | None, replacement: str) -> int:
    if pattern is None:
        (root / file).write_text(replacement)
        return 1
    return plant(root, file, pattern, replacement)


@pytest.mark.parametrize("file, pattern, replacement, words", BROKEN, ids=[f"{b[0]}:{b[3][0]}" for b in BROKEN])
def test_broken_catalog_stops_with_a_clear_message(catalog_copy, file, pattern, replacement, words):
    line = _apply(catalog_copy, file, pattern, replacement)
    with pytest.raises(CatalogError) as err:
        load_catalog(catalog_copy)
    problems = err.value.problems
    mine = [p for p in problems if p.file.endswith(Path(file).name)]
    assert mine, str(err.value)
    text = "\n".join(str(p) for p in mine)
    for word in words:
        assert word in text, text
    # The planted line, its record's first line, or (for a duplicate) named as the other occurrence.
    assert any(abs(p.line - line) <= 60 or f":{line})" in p.message for p in mine), text
    for p in mine:
        assert p.file and p.line >= 1  # every message names a file and a line


def test_corpus_is_large_enough():
    assert len(BROKEN) >= 50


def test_failed_build_leaves_the_previous_site(tmp_path, catalog_copy):
    """`make build` swaps the new site in only on success: a broken catalog leaves the old one."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("previous site")
    plant(catalog_copy, "hardware.yaml", r"^(  memory_bandwidth_gb_s: )1792$", r"\1-1")
    env = {**os.environ, "GUIDE_CATALOG": str(catalog_copy), "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run([sys.executable, "-m", "macros", "build", "--site-dir", str(site)], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "memory_bandwidth_gb_s" in result.stdout + result.stderr
    assert (site / "index.html").read_text() == "previous site"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catalog", "site"]  # no staging folder left behind


# --------------------------------------------------------------------------- properties of the engine


@st.composite
def architectures(draw):
    kv = draw(st.sampled_from([1, 2, 4, 8]))
    heads = kv * draw(st.integers(1, 8))
    head_dim = draw(st.sampled_from([64, 128, 256]))
    layers = draw(st.integers(1, 96))
    hidden = draw(st.sampled_from([512, 1024, 2048, 4096, 8192]))
    moe = draw(st.booleans())
    hybrid = draw(st.booleans())
    fields = dict(num_hidden_layers=layers, hidden_size=hidden, num_attention_heads=heads, num_key_value_heads=kv,
                  head_dim=head_dim, vocab_size=draw(st.integers(1000, 260000)),
                  tie_word_embeddings=draw(st.booleans()), max_position_embeddings=262144)
    if moe:
        experts = draw(st.sampled_from([8, 64, 128, 512]))
        fields.update(num_experts=experts, num_experts_per_tok=draw(st.integers(1, min(experts, 16))),
                      moe_intermediate_size=draw(st.sampled_from([256, 512, 1024, 2048])),
                      shared_expert_intermediate_size=draw(st.sampled_from([0, 512, 1024])))
    else:
        fields["intermediate_size"] = draw(st.integers(256, 30000))
    if hybrid:
        fields.update(full_attention_interval=draw(st.integers(2, 8)), linear_num_key_heads=16,
                      linear_num_value_heads=16 * draw(st.integers(1, 4)), linear_key_head_dim=128,
                      linear_value_head_dim=128, linear_conv_kernel_dim=4)
    return Architecture(**fields)


def _model(arch: Architecture) -> Model:
    return Model(id="prop", name="prop", family="test", params_total_official_b=1, params_active_official_b=1,
                 architecture=arch, source=[{"doc": "hypothesis", "read": "2026-11-25"}])


machines = st.builds(
    lambda kind, mem, bw, tf, count, ram: custom_machine(kind, mem, bw, tf, count if kind == "gpu" else 1, ram),
    st.sampled_from(["gpu", "unified", "cpu"]), st.floats(4, 512), st.floats(20, 8000),
    st.one_of(st.none(), st.floats(1, 2000)), st.integers(1, 8), st.sampled_from([0.0, 32.0, 256.0]))

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _finite_nonneg(x) -> bool:
    return x is None or (math.isfinite(x) and x >= 0)


@SETTINGS
@given(arch=architectures(), machine=machines, quant=st.sampled_from(["Q4_K_M", "Q8_0", "F16", "IQ2_XXS"]),
       context=st.integers(0, 262144), kv=st.sampled_from(["f16", "q8_0", "q4_0"]), batch=st.integers(1, 8))
def test_engine_never_returns_nonsense(engine, arch, machine, quant, context, kv, batch):
    e = engine.estimate(_model(arch), quant, context=context, kv_type=kv, batch=batch, machine=machine)
    for value in [*e.memory.values.values(), *e.weights.values.values(), e.decode_tok_s, e.prefill_tok_s,
                  e.placement.ram_bytes, e.placement.gpu_bytes, e.placement.offloaded_fraction]:
        assert _finite_nonneg(value), e.to_json()
    assert 0 <= e.placement.offloaded_fraction <= 1
    assert e.placement.runs or e.decode_tok_s is None
    if e.placement.gpu_layers is not None:
        assert 0 <= e.placement.gpu_layers <= arch.num_hidden_layers


@SETTINGS
@given(arch=architectures(), machine=machines, c1=st.integers(0, 131072), c2=st.integers(0, 131072))
def test_more_context_never_less_memory_or_faster_decode(engine, arch, machine, c1, c2):
    lo, hi = sorted((c1, c2))
    a = engine.estimate(_model(arch), "Q4_K_M", context=lo, machine=machine)
    b = engine.estimate(_model(arch), "Q4_K_M", context=hi, machine=machine)
    assert b.memory.total >= a.memory.total
    assert a.placement.runs or not b.placement.runs  # if the short context does not run, the long one neither
    if a.decode_tok_s and b.decode_tok_s and a.placement.placement == b.placement.placement \
            and a.placement.placement in ("gpu", "layer_split", "unified", "cpu"):
        assert b.decode_tok_s <= a.decode_tok_s * (1 + 1e-9)


@SETTINGS
@given(arch=architectures(), mem=st.floats(8, 200), bw=st.floats(100, 4000), n=st.integers(1, 4))
def test_what_fits_on_n_gpus_fits_on_more(engine, arch, mem, bw, n):
    small = engine.estimate(_model(arch), "Q4_K_M", context=4096, machine=custom_machine("gpu", mem, bw, 100, n))
    large = engine.estimate(_model(arch), "Q4_K_M", context=4096, machine=custom_machine("gpu", mem, bw, 100, n + 1))
    assert large.placement.fits or not small.placement.fits


@SETTINGS
@given(arch=architectures(), mem=st.floats(8, 400), bw=st.floats(50, 4000))
def test_more_bandwidth_decodes_faster(engine, arch, mem, bw):
    slow = engine.estimate(_model(arch), "Q4_K_M", context=4096, machine=custom_machine("gpu", mem, bw, 100))
    fast = engine.estimate(_model(arch), "Q4_K_M", context=4096, machine=custom_machine("gpu", mem, bw * 2, 100))
    if slow.decode_tok_s is not None:
        assert fast.decode_tok_s >= slow.decode_tok_s


# --------------------------------------------------------------------------- catalog strings are text

LINK = "[link](javascript:alert(1))"
IMAGE = "![i](http://203.0.113.9/c.png)"
EXTENSIONS = ["abbr", "admonition", "attr_list", "def_list", "footnotes", "md_in_html", "tables", "toc",
              "pymdownx.details", "pymdownx.superfences"]


def _markdown_to_html(text: str) -> str:
    import markdown
    return markdown.markdown(text, extensions=EXTENSIONS)


@pytest.fixture(scope="module")
def injected_site(tmp_path_factory):
    """A catalog copy whose strings carry Markdown: a link in a model name, an image in a hardware note and
    in a claim quote, mathtext and an attribute list in names."""
    import shutil
    from macros.render.common import site_for
    from macros.context import BuildContext
    root = tmp_path_factory.mktemp("inject") / "catalog"
    shutil.copytree(ROOT / "catalog", root)
    plant(root, "models.yaml", r"^  name: Qwen3.5-27B$", f"  name: 'Qwen3.5-27B {LINK} $x$'")
    plant(root, "hardware.yaml", r"^(- id: rtx-4090\n  name: )(GeForce RTX 4090)$",
          r"\1'\2 {: onclick=alert(5) } *em* _u_'")
    plant(root, "hardware.yaml", r"^(- id: rtx-4090\n(?:  .*\n)*?  notes: ')", r"\1" + IMAGE + ' --8<-- "mkdocs.yml" ')
    plant(root, "claims/craftrigs-397b-multi-gpu.yaml", r"^(  quote: )(The model requires .*)$",
          r"\1'" + IMAGE + r" \2'")
    catalog = load_catalog(root)
    from macros.engine import Engine
    return site_for(BuildContext(catalog=catalog, engine=Engine(catalog)))


def _no_live_markup(page_html: str) -> None:
    import re
    assert not re.search(r"<a\b[^>]*href=[\"']?(javascript|http:)", page_html), page_html
    assert "<img" not in page_html
    assert not re.search(r"<[^>]*\sonclick=", page_html)  # text, never an attribute
    assert "<code>&#" not in page_html  # ids in code spans stay readable
    assert "site_name" not in page_html  # no snippet pulled in


def test_markdown_in_a_model_name_is_literal_text(injected_site):
    from macros.render import model_page
    page = _markdown_to_html(model_page.model_page(injected_site, "qwen3.5-27b"))
    _no_live_markup(page)
    heading = page[page.index("<h1"):page.index("</h1>")]
    import html as _html
    assert f"Qwen3.5-27B {LINK} $x$" in _html.unescape(heading), heading


def test_markdown_in_a_hardware_note_is_literal_text(injected_site):
    import html as _html
    from macros.render import hardware_page
    page = _markdown_to_html(hardware_page.hardware_page(injected_site, "rtx-4090"))
    _no_live_markup(page)
    text = _html.unescape(page)
    assert "{: onclick=alert(5) } *em* _u_" in text  # the note may stay off the page; if shown, it is text


def test_markdown_in_a_claim_quote_is_literal_text(injected_site):
    import html as _html
    from macros.claims import check_all
    from macros.render.factcheck import claims_by_guide
    page = _markdown_to_html(claims_by_guide(check_all(injected_site.engine)))
    _no_live_markup(page)
    assert IMAGE in _html.unescape(page)


def test_dollar_in_a_chart_title_is_not_mathtext():
    """`$x$` in a name is a dollar sign, not matplotlib mathtext (which would set it as an italic x)."""
    from macros.render.charts import _render
    svg = _render("t", lambda fig, ax: ax.set_title("Qwen $x$ and $10^3$ $\\frac{"), 3, 2)
    assert "Qwen $x$ and $10^3$ $\\frac{" in svg.replace("&#36;", "$")


def test_only_https_sources_become_links(injected_site):
    """A source address is the only link catalog data makes, and only an https: one."""
    import dataclasses as dc
    cat = injected_site.catalog
    hw = cat.hardware["rtx-4090"]
    http = hw.source[0].model_copy(update={"url": "http://203.0.113.9/x"})
    js = hw.source[0].model_copy(update={"url": "javascript:alert(1)"})
    for src, linked in [(http, False), (js, False), (hw.source[0], hw.source[0].url.startswith("https://"))]:
        fake = dc.replace(cat, hardware={**cat.hardware, "rtx-4090": hw.model_copy(update={"source": [src]})})
        site = type(injected_site).__new__(type(injected_site))
        site.__dict__.update(injected_site.__dict__, catalog=fake)
        out = site.source_link("hardware", "rtx-4090")
        assert ("<a href=" in out) == linked, out


# --------------------------------------------------------------------------- more planted mistakes (issue 15)


def _problems(root: Path) -> list:
    with pytest.raises(CatalogError) as err:
        load_catalog(root)
    return err.value.problems


def test_missing_constant_is_named(catalog_copy):
    """A constant the engine reads, deleted: one line naming it at load (it used to be a KeyError later)."""
    path = catalog_copy / "constants/engine.yaml"
    text = path.read_text()
    start = text.index("- id: os_reserve_gib\n")
    end = text.index("\n- id:", start) + 1
    path.write_text(text[:start] + text[end:])
    text = "\n".join(map(str, _problems(catalog_copy)))
    assert "os_reserve_gib" in text and "missing constant" in text, text


def test_yaml_is_read_as_yaml_1_2(catalog_copy):
    """`024` is 24 (YAML 1.1 read it as octal 20); 0o24 is the octal spelling."""
    plant(catalog_copy, "hardware.yaml", r"^(- id: rtx-4090\n(?:  .*\n)*?  memory_gb: )24$", r"\g<1>024")
    assert load_catalog(catalog_copy).hardware["rtx-4090"].memory_gb == 24


def test_alias_bomb_is_refused_quickly(catalog_copy):
    """Nine levels of nine aliases (a billion laughs) stop at the value budget, in well under a second or two."""
    import time
    lines = ['- id: a0', '  notes: &a0 "lol"']
    bomb = "\n".join(lines) + "\n" + "\n".join(
        f"- id: a{i}\n  notes: &a{i}x [{', '.join([f'*a{i - 1}' if i > 1 else '*a0'] * 9)}]".replace(
            f"*a{i - 1}", f"*a{i - 1}x" if i > 1 else "*a0") for i in range(1, 10)) + "\n"
    (catalog_copy / "storage_types").mkdir()
    (catalog_copy / "storage_types" / "bomb.yaml").write_text(bomb)
    t0 = time.perf_counter()
    text = "\n".join(map(str, _problems(catalog_copy)))
    assert time.perf_counter() - t0 < 20
    assert "bomb.yaml" in text and "alias bomb" in text, text[:2000]


def test_self_referencing_alias_is_refused(catalog_copy):
    (catalog_copy / "storage_types").mkdir()
    (catalog_copy / "storage_types" / "loop.yaml").write_text("- &x\n  id: loop\n  again: *x\n")
    text = "\n".join(map(str, _problems(catalog_copy)))
    assert "loop.yaml" in text and "contains it" in text, text


def test_long_strings_refused_and_not_echoed(catalog_copy):
    """A 5 MB name: refused, and the error line does not echo it."""
    plant(catalog_copy, "hardware.yaml", r"^(- id: rtx-4090\n  name: )GeForce RTX 4090$", r"\1" + "x" * 5_000_000)
    problems = _problems(catalog_copy)
    text = "\n".join(map(str, problems))
    assert "rtx-4090: name" in text and "4000 characters" in text
    assert max(len(str(p)) for p in problems) < 1000


def test_deep_nesting_is_one_problem(catalog_copy):
    (catalog_copy / "storage_types").mkdir()
    (catalog_copy / "storage_types" / "deep.yaml").write_text("- " + "[" * 50000 + "]" * 50000 + "\n")
    text = "\n".join(map(str, _problems(catalog_copy)))
    assert "deep.yaml" in text, text


def test_one_bad_id_does_not_bury_the_rest(catalog_copy):
    """Renaming a much-cited device: three lines name the references, one more counts the rest."""
    plant(catalog_copy, "hardware.yaml", r"^(- id: )rtx-4090$", r"\1rtx-4090-renamed")
    problems = _problems(catalog_copy)
    named = [p for p in problems if "unknown hardware id 'rtx-4090'" in p.message]
    assert 3 <= len(named) <= 5, "\n".join(map(str, problems))  # three, plus a claim output naming it
    assert any("more references to the unknown hardware id 'rtx-4090'" in p.message for p in problems)


def test_every_model_checked_against_official_figures(catalog):
    """The loader's check covers every model, not a fixed list: a tolerance wider than the default carries
    its reason, and the default stays tight (3% total, 5% active)."""
    from macros.catalog.plausible import DEFAULT_PARAMS_TOLERANCE_PCT
    assert DEFAULT_PARAMS_TOLERANCE_PCT == {"total": 3.0, "active": 5.0}
    for m in catalog.models.values():
        if m.params_total_tolerance_pct or m.params_active_tolerance_pct:
            assert m.params_tolerance_why and len(m.params_tolerance_why) > 20, m.id


def test_model_only_in_system_ram_runs_on_the_cpu(engine):
    """Issue 15 item 8: a 1 GB GPU beside 64 GB of RAM cannot hold one layer of Qwen3.5-27B at Q4_K_M (about
    16.5 GB of weights over 64 layers, 0.26 GB a layer, while the GPU's budget after its 0.5 GiB runtime
    overhead and compute buffer is nearly nothing): it runs on the CPU with -ngl 0 at the RAM's speed, not
    "short by 0.00 GB"."""
    small_gpu = custom_machine("gpu", 1, 200, None, 1, 64)
    e = engine.estimate("qwen3.5-27b", "Q4_K_M", context=4096, machine=small_gpu)
    p = e.placement
    assert (p.placement, p.runs, p.gpu_layers, p.shortfall_bytes) == ("cpu", True, 0, 0.0)
    assert p.ram_bytes >= e.memory["weights"] + e.memory["kv_cache"] + e.memory["recurrent_state"]
    # The same RAM (custom_machine's host: 60 GB/s) as a CPU-only machine decodes at the same speed.
    cpu_only = engine.estimate("qwen3.5-27b", "Q4_K_M", context=4096, machine=custom_machine("cpu", 64, 60))
    assert e.decode_tok_s == pytest.approx(cpu_only.decode_tok_s, rel=0.05)
    # Too little RAM as well: does not run, and says by how much.
    tight = engine.estimate("qwen3.5-27b", "Q4_K_M", context=4096, machine=custom_machine("gpu", 1, 200, None, 1, 16))
    assert not tight.placement.runs and tight.placement.shortfall_bytes > 0


def test_markdown_in_catalog_strings_publishes_as_text(site_builds):
    """The real MkDocs build of a catalog with Markdown planted in a model name, a hardware name and a claim
    quote (conftest.PLANTED_MARKDOWN): no javascript: link, no image from another host, no onclick attribute, and
    the planted words readable on the pages."""
    import html as _html
    import re
    site = site_builds["changed"]
    seen = {"[link](javascript:alert(1)) $x$": False, "![i](http://203.0.113.9/c.png)": False}
    for page in site.rglob("*.html"):
        text = page.read_text()
        where = page.relative_to(site)
        assert not re.search(r"""href=["']?javascript:""", text, re.I), where
        assert not re.search(r"""<img[^>]+203\.0\.113\.9""", text), where
        assert not re.search(r"<[^>]*\sonclick=", text), where
        plain = _html.unescape(text)
        for words in seen:
            seen[words] |= words in plain
    assert all(seen.values()), seen
