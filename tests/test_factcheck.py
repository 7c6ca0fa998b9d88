"""The fact-check: verdicts against hand-worked values, the page against the CLI, checked sentences."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from macros.claims import check_all, check_claim, judge
from macros.catalog.schema import Claim


def _claim(**kw):
    base = {"id": "t", "quote": "q", "published_in": "test", "place": "here", "topic": "memory"}
    return Claim.model_validate({**base, **kw})


def test_verdict_rules():
    q = {"output": "weights_gb", "model": "qwen3.5-9b", "quant": "Q4_K_M"}
    assert judge(_claim(query=q, claimed_value=104), 100) == ("holds", pytest.approx(4.0))
    assert judge(_claim(query=q, claimed_value=110), 100)[0] == "close"
    assert judge(_claim(query=q, claimed_value=150), 100)[0] == "wrong"
    assert judge(_claim(query=q, claimed_low=90, claimed_high=120), 100)[0] == "holds"
    assert judge(_claim(query=q, claimed_low=1, claimed_high=6), 100)[0] == "wrong"
    assert judge(_claim(query=q, claimed_bool=True), False)[0] == "wrong"


def _by_id(engine):
    return {v.claim.id: v for v in check_all(engine)}


def test_registry_size_and_coverage(engine):
    verdicts = check_all(engine)
    checkable = [v for v in verdicts if v.claim.query is not None]
    assert len(checkable) >= 60
    assert {v.claim.topic for v in checkable} >= {"specs", "memory", "fit", "speed", "context", "power", "cost"}
    assert {v.verdict for v in verdicts} >= {"holds", "close", "wrong", "not checkable"}


def test_rtx_5090_memory_claims(engine):
    """The RTX 5090 has 32 GB (NVIDIA's spec page): a guide's 48 GB is wrong, 32 GB holds."""
    for v in check_all(engine):
        q = v.claim.query
        if q and q.output == "fact:hardware.memory_gb" and q.hardware == "rtx-5090":
            expected = "holds" if v.claim.claimed_value == 32 else "wrong"
            assert v.verdict == expected, v.claim.id


def test_397b_weights_claim_by_hand(engine):
    """397B parameters at Q8_0 (34 bytes per 32 weights) is 397e9 x 8.5 / 8 = 421.8 GB; a claim of
    421.58 GB (bartowski's published file) must hold."""
    claim = _claim(query={"output": "weights_gb", "model": "qwen3.5-397b-a17b", "quant": "Q8_0"},
                   claimed_value=397e9 * 8.5 / 8 / 1e9, tolerance_pct=1)
    assert check_claim(engine, claim).verdict == "holds"


def test_speed_for_a_setup_that_does_not_run_is_wrong(engine):
    claim = _claim(topic="speed", query={"output": "decode_tok_s", "model": "qwen3.5-397b-a17b", "quant": "Q4_K_M",
                                         "hardware": "rtx-5090", "count": 2}, claimed_value=48)
    v = check_claim(engine, claim)
    assert v.verdict == "wrong" and v.ours is None and "does not run" in v.why


def test_alibi_claim_is_wrong(engine):
    claim = _claim(topic="specs", query={"output": "fact:model.architecture.position_encoding",
                                         "model": "qwen3.5-397b-a17b"}, claimed_text="alibi")
    assert check_claim(engine, claim).verdict == "wrong"


def test_cli_json_matches_checker(engine):
    out = subprocess.run([sys.executable, "-m", "macros", "claims", "--json"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    cli = {row["id"]: row for row in json.loads(out)}
    for cid, v in _by_id(engine).items():
        assert cli[cid]["verdict"] == v.verdict
        if isinstance(v.ours, float):
            assert cli[cid]["ours"] == pytest.approx(v.ours)


MINI_CONFIG = """
site_name: check
docs_dir: docs
site_dir: site
plugins:
  - macros:
      module_name: macros/glue
      on_undefined: strict
      on_error_fail: true
"""


def _mini_site(tmp_path: Path, page: str) -> Path:
    """A one-page site using the project's macros (no generated pages), for fast build checks."""
    (tmp_path / "docs").mkdir(parents=True)
    (tmp_path / "docs" / "index.md").write_text(page)
    (tmp_path / "mkdocs.yml").write_text(MINI_CONFIG)
    (tmp_path / "macros").symlink_to(ROOT / "macros")
    return tmp_path


def _build(site: Path, catalog: Path):
    env = {**os.environ, "GUIDE_CATALOG": str(catalog), "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict"], cwd=site, env=env,
                          capture_output=True, text=True)


SENTENCE = ('{{ checked("Qwen3.5-27B at Q4_K_M fits entirely on one RTX 4090 at an 8K context.", True, '
            'output="fits", model="qwen3.5-27b", quant="Q4_K_M", hardware="rtx-4090", context=8192) }}')


def test_checked_sentence_renders_when_true(tmp_path, catalog_copy):
    site = _mini_site(tmp_path / "s", SENTENCE)
    result = _build(site, catalog_copy)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "fits entirely on one RTX 4090" in (site / "site" / "index.html").read_text()


def test_checked_sentence_fails_the_build_when_false(tmp_path, catalog_copy):
    path = catalog_copy / "hardware.yaml"
    text = path.read_text()
    start = text.index("- id: rtx-4090\n")
    block_end = text.index("\n- id:", start + 1)
    block = text[start:block_end].replace("memory_gb: 24\n", "memory_gb: 12\n", 1)
    path.write_text(text[:start] + block + text[block_end:])
    site = _mini_site(tmp_path / "s", SENTENCE)
    result = _build(site, catalog_copy)
    assert result.returncode != 0
    log = result.stdout + result.stderr
    assert "is no longer true" in log and "fits entirely on one RTX 4090" in log and "index.md" in log
