"""`python -m macros diff`: one GPU's memory bandwidth raised in a catalog copy lists exactly the
figures that depend on it, and nothing else."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from macros.catalog import load_catalog  # noqa: E402
from macros.diff import catalog_at, compare, figures, renderings  # noqa: E402


def _quiet_gpu(catalog) -> str:
    """A GPU whose bandwidth feeds nothing but its own estimates: not featured (no other page lists
    it), in no measurement (the speed fit does not move), no rig and no claim."""
    used = set()
    for m in catalog.measurements.values():
        used |= {m.hardware, m.host} | {getattr(d, "hardware", d) for d in (m.devices or [])}
    for rig in catalog.rigs.values():
        used |= {p.hardware for p in rig.parts} | {rig.cpu_platform}
    used |= {c.query.hardware for c in catalog.claims.values() if c.query}
    quiet = [h.id for h in catalog.hardware.values() if h.kind == "gpu" and not h.featured and h.id not in used]
    assert quiet, "no GPU outside the fit, the rigs, the claims and the featured set"
    return quiet[0]


def _number(text: str) -> float:
    return float(re.search(r"\d[\d,]*(?:\.\d+)?", text).group(0).replace(",", ""))


@pytest.fixture(scope="module")
def bandwidth_edit(tmp_path_factory):
    base = tmp_path_factory.mktemp("diff")
    old_dir, new_dir = base / "old" / "catalog", base / "new" / "catalog"
    shutil.copytree(ROOT / "catalog", old_dir)
    shutil.copytree(ROOT / "catalog", new_dir)
    catalog = load_catalog(old_dir)
    gpu = _quiet_gpu(catalog)
    old_bw = catalog.hardware[gpu].memory_bandwidth_gb_s
    new_bw = round(old_bw * 1.25)
    path = new_dir / "hardware.yaml"
    text = path.read_text()
    start = text.index(f"- id: {gpu}\n")
    end = text.find("\n- id:", start + 1)
    record = re.sub(r"memory_bandwidth_gb_s: [^\n]*", f"memory_bandwidth_gb_s: {new_bw}", text[start:end], count=1)
    path.write_text(text[:start] + record + text[end:])
    old, new = renderings(old_dir, new_dir)
    return {"gpu": gpu, "name": catalog.hardware[gpu].name, "old_bw": old_bw, "new_bw": new_bw,
            "old": old, "result": compare(old, new)}


def test_only_pages_that_name_the_gpu_change(bandwidth_edit):
    e = bandwidth_edit
    naming = {src for src, md in e["old"]["pages"].items() if e["name"] in md}
    assert f"hardware/{e['gpu']}.md" in e["result"]["pages"]
    assert set(e["result"]["pages"]) <= naming, set(e["result"]["pages"]) - naming
    assert e["result"]["claims"] == []  # no claim names it


def test_the_bandwidth_and_each_decode_figure_move_and_nothing_else(bandwidth_edit):
    """Decode time per token = bytes read / (efficiency x bandwidth) + a fixed cost per layer, so a
    bandwidth x1.25 raises every decode speed by more than 1 and at most 1.25 (the fixed part does
    not shrink); prefill (compute-bound), memory and fit do not move at all."""
    e = bandwidth_edit
    changes = e["result"]["pages"][f"hardware/{e['gpu']}.md"]
    ratio = e["new_bw"] / e["old_bw"]
    assert any(f"{e['old_bw']:g} GB/s -> {e['new_bw']:g} GB/s" in c for c in changes), changes
    decode = [c for c in changes if "decode" in c.lower()]
    assert decode and len(decode) == len(changes) - 1, changes
    for change in decode:
        old, new = change.rsplit(": ", 1)[1].split(" -> ")[:2]
        assert 1 < _number(new) / _number(old) <= ratio * 1.01, change
    # a line holding both speeds lists only the decode figure as moved: one "old -> new" pair each
    assert all(c.count(" -> ") == 1 for c in decode), decode


def test_figures_name_table_cells_by_row_and_column():
    md = "## Speeds\n\n| model | decode | note |\n|---|---:|---|\n| [A](a.md) | **12.5** tok/s | fits |\n"
    assert figures(md) == [("Speeds › A › decode", "12.5 tok/s"), ("Speeds › A › note", "fits")]
    assert figures("It decodes at 12 tok/s on the RTX 4090.") == [
        (" › It decodes at # tok/s on the RTX #.", "12, 4090")]


def test_the_catalog_at_a_revision_comes_from_git(tmp_path):
    catalog = catalog_at("HEAD", tmp_path)
    assert (catalog / "hardware.yaml").is_file() and (catalog / "models.yaml").is_file()
