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


def test_the_bandwidth_and_the_speeds_move_and_nothing_else(bandwidth_edit):
    """Decode time per token = bytes read / (efficiency x bandwidth) + a fixed cost per layer, so a
    bandwidth x1.25 raises every decode speed (and its band's ends, which scale with it) by more than 1
    and at most 1.25 (the fixed part does not shrink). Prefill is compute-bound and memory and fit do
    not depend on bandwidth: every other change is a speed, or a recommendation that rests on one."""
    e = bandwidth_edit
    changes = e["result"]["pages"][f"hardware/{e['gpu']}.md"]
    ratio = e["new_bw"] / e["old_bw"]
    spec = [c for c in changes if f"{e['old_bw']:g} GB/s -> {e['new_bw']:g} GB/s" in c]
    assert len(spec) == 1, changes

    def row(change: str) -> tuple[str, str]:
        parts = change.split(": ", 1)[0].split(" › ")
        return (parts[1], parts[2]) if len(parts) == 3 else ("", "")

    # rows where the faster machine lets the policy pick another quant or verdict: everything in them moves
    repicked = {row(c)[0] for c in changes if row(c)[1] in ("quant", "verdict")}
    for change in changes:
        if change in spec:
            continue
        key, column = row(change)
        assert "tok/s" in change or "decode" in change.lower() or key in repicked, change
        if "decode" in column and key not in repicked:  # same quant, same bytes: only the bandwidth moved
            pairs = re.findall(r"(\d[\d,]*(?:\.\d+)?)(?: tok/s)? -> (\d[\d,]*(?:\.\d+)?)", change.split(": ", 1)[1])
            assert pairs, change
            for old, new in pairs:
                assert 1 < _number(new) / _number(old) <= ratio * 1.01, change
    assert any("decode" in row(c)[1] and row(c)[0] not in repicked for c in changes), changes


def test_figures_name_table_cells_by_row_and_column():
    md = "## Speeds\n\n| model | decode | note |\n|---|---:|---|\n| [A](a.md) | **12.5** tok/s | fits |\n"
    assert figures(md) == [("Speeds › A › decode", "12.5 tok/s"), ("Speeds › A › note", "fits")]
    assert figures("It decodes at 12 tok/s on the RTX 4090.") == [
        (" › It decodes at # tok/s on the RTX #.", "12, 4090")]


def test_the_catalog_at_a_revision_comes_from_git(tmp_path):
    catalog = catalog_at("HEAD", tmp_path)
    assert (catalog / "hardware.yaml").is_file() and (catalog / "models.yaml").is_file()
