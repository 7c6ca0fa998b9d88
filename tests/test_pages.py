"""The built site: figures on each kind of page match the engine, every catalog item has its page,
no hand-typed figures in docs/, nothing unrendered, nothing fetched from another host, and a catalog
change reaches the pages. The site is built once per session (two builds, in parallel: the real
catalog and a copy with one fact changed)."""

from __future__ import annotations

import html
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
MKDOCS = Path(sys.executable).with_name("mkdocs")

from macros.catalog import load_catalog  # noqa: E402
from macros.engine import Engine  # noqa: E402
from macros.engine import advice, money
from macros.render import fmt  # noqa: E402
from macros.render.common import COMMON_QUANTS  # noqa: E402

from conftest import CHANGED_HW, NEW_GB, OLD_GB  # noqa: E402


@pytest.fixture(scope="session")
def built(site_builds):
    """{'real': site dir, 'changed': site dir, 'changed_catalog': path, 'seconds': build time}."""
    return site_builds


def page_text(site: Path, path: str) -> str:
    """The article's text, tags stripped and entities decoded, whitespace collapsed."""
    raw = (site / path).read_text()
    body = raw[raw.index("<article"):raw.index("</article>")] if "<article" in raw else raw
    body = re.sub(r"<figure class=\"chart\".*?</figure>", " ", body, flags=re.S)
    body = re.sub(r"</?(?:code|abbr|a|strong|em|span)\b[^>]*>", "", body)  # inline: no gap
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


def squash(s: str) -> str:
    return re.sub(r"\s+", " ", s)


@pytest.fixture(scope="session")
def eng():
    return Engine(load_catalog(ROOT / "catalog"))


def best(engine, model, machine, use="chat"):
    """(quant, estimate, context) the recommendation policy picks for chat, as every page shows it; None
    when it picks nothing."""
    quants = [q for q in COMMON_QUANTS if q in engine.catalog.quants]
    rec = advice.recommend(engine, model, machine, use, quants)
    return (rec.quant, rec.estimate, rec.context) if rec.pick else None


def cell(r) -> str:
    """A home-matrix cell as the page text reads once tags are stripped."""
    return squash(f"{r[0]}, {fmt.tokens(r[2])} ctx, {fmt.tok_s(r[1].decode_tok_s)}")


# ------------------------------------------------------------------ no hand-typed figures

UNIT = r"(?:GB|GiB|MB|TB|tok/s|t/s|W|kWh|TFLOPS|ms|%)"
FIGURE = re.compile(rf"(?<![\w.])\d[\d,]*(?:\.\d+)?\s?{UNIT}(?![\w])|(?<![\w.])\d[\d,]*(?:\.\d+)?\s+s\b|\$\s?\d")


def _strip_templates(text: str) -> str:
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    text = re.sub(r"\{\{.*?\}\}", "", text, flags=re.S)
    return re.sub(r"\{%.*?%\}", "", text, flags=re.S)


def test_no_hand_typed_figures_in_docs():
    bad = []
    for path in sorted(DOCS.rglob("*.md")):
        for n, line in enumerate(_strip_templates(path.read_text()).splitlines(), 1):
            if "number-ok" in line:
                continue
            for m in FIGURE.finditer(line):
                bad.append(f"{path.relative_to(ROOT)}: {m.group(0)!r} in {line.strip()[:80]!r}")
    assert not bad, "figures typed into docs/ (compute them with a macro):\n" + "\n".join(bad)


def test_scanner_catches_figures():
    for s in ("needs 243 GB", "48 tok/s", "575 W", "$1,999", "12.5%", "takes 15 s"):
        assert FIGURE.search(s), s
    for s in ("Qwen 3.5 first", "RTX 5090s", "397B-A17B", "Q4_K_M"):
        assert not FIGURE.search(s), s


# ------------------------------------------------------------------ the built site

def test_build_time_and_every_page(built, eng):
    print(f"\nboth builds in parallel: {built['seconds']:.1f} s")
    site = built["real"]
    for mid in eng.catalog.models:
        assert (site / "models" / mid / "index.html").exists(), mid
    for hid in list(eng.catalog.hardware) + list(eng.catalog.rigs):
        assert (site / "hardware" / hid / "index.html").exists(), hid


def test_nothing_unrendered_or_remote(built):
    for page in built["real"].rglob("*.html"):
        raw = page.read_text()
        assert "{{" not in raw and "{%" not in raw, page
        assert "Macro Rendering Error" not in raw and "_Macro" not in raw, page
        remote = re.findall(r'<(?:script|img|link|iframe|source)\b[^>]*(?:src|href)="(?:https?:)?//[^"]*"', raw)
        remote = [r for r in remote if not r.startswith("<link rel=\"canonical\"")]
        assert not remote, (page, remote[:3])
        assert "@import url(http" not in raw and "fonts.googleapis" not in raw, page


def test_home_matrix(built, eng):
    text = page_text(built["real"], "index.html")
    for model, machine in (("qwen3.5-27b", "rtx-4090"), ("qwen3.5-397b-a17b", "mac-studio-m3-ultra-512gb")):
        r = best(eng, model, eng.machine(machine))
        assert r and cell(r) in text


def test_family_page(built, eng):
    text = page_text(built["real"], "family/index.html")
    e = eng.estimate("qwen3.5-397b-a17b", "Q4_K_M")
    assert fmt.gb(e.memory["weights"]) in text
    from macros.engine.memory import kv_bytes_per_token
    a = eng.catalog.models["qwen3.5-27b"].architecture
    assert fmt.gb(kv_bytes_per_token(a) * 131072) in text
    assert fmt.params(eng.params("qwen3.5-122b-a10b").active.total) in text


def test_model_page(built, eng):
    text = page_text(built["real"], "models/qwen3.5-397b-a17b/index.html")
    for section in ("Specs", "Memory by quantization and context", "KV cache and recurrent state",
                    "Quality by quantization", "Hardware that runs it", "Best for you", "Commands", "Caveats"):
        assert section in text
    assert fmt.params(eng.params("qwen3.5-397b-a17b").total.total) in text
    e = eng.estimate("qwen3.5-397b-a17b", "Q4_K_M", context=32768)
    assert fmt.gb(e.memory.total) in text
    q, e, _ = best(eng, "qwen3.5-397b-a17b", eng.machine("2x-rtx-5090-512gb-ddr5"))
    assert fmt.tok_s(e.decode_tok_s) in text
    assert "-ngl" in text and "-c" in text


def test_hardware_page(built, eng):
    text = page_text(built["real"], "hardware/rtx-5090/index.html")
    m = eng.machine("rtx-5090")
    assert "Memory 32 GB" in squash(text)  # as NVIDIA sells it (catalog memory_gb: 32), not 34.4 GB of 10^9 bytes
    q, e, ctx = best(eng, "qwen3.5-27b", m)
    assert squash(f"{q} {fmt.tokens(ctx)} {fmt.placement(e.placement.placement)}") in text
    assert fmt.tok_s(e.decode_tok_s) in text
    rig = page_text(built["real"], "hardware/2x-rtx-5090-512gb-ddr5/index.html")
    assert fmt.watts(money.power_draw_w(eng.machine("2x-rtx-5090-512gb-ddr5"))) in rig


def test_cross_lists_only_featured(built, eng):
    """Model pages list the featured machines and hardware pages the featured models (bounded work per
    page as the catalog grows); every item still has its own page and its index row."""
    site = built["real"]
    assert not eng.catalog.models["tinyllama-1.1b"].featured and eng.catalog.models["llama-3.1-8b"].featured
    assert (site / "models/tinyllama-1.1b/index.html").exists()
    raw = (site / "hardware/rtx-5090/index.html").read_text()
    fits = raw[raw.index('id="what-fits"'):raw.index('id="caveats"')]
    assert "models/llama-3.1-8b/" in fits and best(eng, "llama-3.1-8b", eng.machine("rtx-5090"))
    assert "models/tinyllama-1.1b/" not in fits and best(eng, "tinyllama-1.1b", eng.machine("rtx-5090"))
    assert 'href="../../calculator/"' in fits and 'href="../../models/"' in fits
    assert 'href="tinyllama-1.1b/"' in (site / "models/index.html").read_text()
    model = (site / "models/qwen3.5-27b/index.html").read_text()
    runs = model[model.index('id="hardware-that-runs-it"'):model.index('id="commands"')]
    assert not eng.catalog.hardware["rtx-3090-ti"].featured and eng.catalog.hardware["rtx-3090"].featured
    assert "hardware/rtx-3090/" in runs and "hardware/rtx-3090-ti/" not in runs
    assert 'href="rtx-3090-ti/"' in (site / "hardware/index.html").read_text()


CALL = re.compile(r"\{\{\s*(\w+)(.*?)\}\}", re.S)
ARG = re.compile(r"""(?:(\w+)\s*=\s*)?(['"])([^'"]*)\2""")


def test_machines_named_in_docs_are_featured(eng):
    """Every machine a docs/ macro call names exists in the catalog and is featured, so the pages that
    cross-list machines show the ones the guides talk about."""
    cat = eng.catalog
    named = set()
    for path in sorted(DOCS.rglob("*.md")):
        for name, args in CALL.findall(path.read_text()):
            if name == "index_list":
                continue
            for key, _, val in ARG.findall(args):
                if key in ("hardware", "rig") or (not key and re.fullmatch(r"[a-z0-9][a-z0-9.+-]*", val)
                                                  and val not in cat.models):
                    named.add((path.relative_to(ROOT), val))
    assert len({v for _, v in named}) >= 20, "found too few machine ids; the scan checks nothing"
    unknown = [f"{p}: {v}" for p, v in sorted(named) if v not in cat.hardware and v not in cat.rigs]
    assert not unknown, "machine ids in docs/ that the catalog lacks:\n" + "\n".join(unknown)
    plain = [f"{p}: {v}" for p, v in sorted(named) if not (cat.hardware.get(v) or cat.rigs.get(v)).featured]
    assert not plain, "machines named in docs/ but not featured (add `featured: true`):\n" + "\n".join(plain)


def test_guide_397b(built, eng):
    text = page_text(built["real"], "guides/397b/index.html")
    m = eng.machine("2x-rtx-5090-512gb-ddr5")
    e = eng.estimate("qwen3.5-397b-a17b", "Q4_K_M", machine=m)
    assert fmt.tok_s(e.decode_tok_s) in text
    assert fmt.pct(e.placement.offloaded_fraction) in text
    w = money.power_draw_w(m)
    assert fmt.watts(money.psu_rating_w(w)) in text


def test_faq(built, eng):
    text = page_text(built["real"], "faq/index.html")
    e = eng.estimate("qwen3.5-397b-a17b", "Q4_K_M")
    assert f"Q4_K_M {fmt.gb(e.memory['weights'])} of weights" in text
    e = eng.estimate("qwen3.5-27b", "Q4_K_M", machine=eng.machine("rtx-4090"))
    assert fmt.tok_s(e.decode_tok_s) in text


def test_methodology(built, eng):
    text = page_text(built["real"], "methodology/index.html")
    f = eng.speed_model.factors_by_key.get("cuda") or eng.speed_model.pooled
    assert fmt.pct(f.bandwidth_efficiency) in text
    c = eng.catalog.constants["electricity_usd_per_kwh"]
    assert "electricity_usd_per_kwh" in text and f"{c.value:g}" in text
    assert '<figure class="chart"' in (built["real"] / "methodology/index.html").read_text()


def test_catalog_change_reaches_pages(built, eng):
    new = Engine(load_catalog(built["changed_catalog"]))
    old_m, new_m = eng.machine(CHANGED_HW), new.machine(CHANGED_HW)
    assert new_m.accelerators[0].memory_bytes > old_m.accelerators[0].memory_bytes
    hw = page_text(built["changed"], f"hardware/{CHANGED_HW}/index.html")
    assert f"Memory {NEW_GB} GB" in squash(hw)  # capacities print as sold: the catalog's memory_gb
    assert f"{OLD_GB} GB" not in hw[hw.index("Specs"):hw.index("What fits")]
    # a fit elsewhere changes: the home matrix cell of some Qwen 3.5 model on this card
    home_old, home_new = page_text(built["real"], "index.html"), page_text(built["changed"], "index.html")
    changed = 0
    for model in [m for m, r in eng.catalog.models.items() if r.family == "qwen3.5"]:
        a, b = best(eng, model, old_m), best(new, model, new_m)
        if a and b and a[0] != b[0]:
            assert cell(b) in home_new and cell(a) in home_old
            changed += 1
    assert changed, "doubling the card's memory changed no recommended quant"


def test_charts_are_deterministic(built):
    a = (built["real"] / "family/index.html").read_text()
    b = (built["again"] / "family/index.html").read_text()
    svg = lambda s: re.findall(r"<svg.*?</svg>", s, flags=re.S)
    assert svg(a) and svg(a) == svg(b)  # a second build of the same catalog draws the same bytes
