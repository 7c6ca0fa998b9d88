"""`make serve` (python -m macros.serve) on a copy of the project: edits are served, a broken edit
shows its one-line error on the page and in the terminal without stopping the server, the fix
clears it, and SIGTERM leaves no temporary folder behind."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> str:
    try:
        return urllib.request.urlopen(url, timeout=60).read().decode()
    except OSError as err:  # 404 pages carry the error banner too
        body = getattr(err, "read", None)
        return body().decode() if body else ""


def _wait_for(url: str, predicate, limit_s: float = 30) -> str:
    deadline = time.monotonic() + limit_s
    page = ""
    while time.monotonic() < deadline:
        page = _get(url)
        if predicate(page):
            return page
        time.sleep(0.1)
    raise AssertionError(f"{url} never matched within {limit_s} s; last page starts:\n{page[:600]}")


def _banner(page: str) -> str:
    m = re.search(r'<div class="guide-dev-problems"[^>]*>(.*?)</div>', page, re.S)
    return m.group(1) if m else ""


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1))


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The project copied into a temporary folder and served from there."""
    work = tmp_path_factory.mktemp("serve")
    for part in ("catalog", "docs", "macros", "mkdocs.yml"):
        src = ROOT / part
        (shutil.copytree if src.is_dir() else shutil.copy)(src, work / part, **(
            {"ignore": shutil.ignore_patterns("__pycache__")} if src.is_dir() else {}))
    tmp = work / "tmp"
    tmp.mkdir()
    port = _free_port()
    log = (work / "serve.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "macros.serve", "--dev-addr", f"127.0.0.1:{port}"], cwd=work,
                            env={**os.environ, "NO_MKDOCS_2_WARNING": "1", "TMPDIR": str(tmp)},
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        page = _wait_for(base + "/hardware/rtx-4090/", lambda p: "RTX 4090" in p or "error:" in _banner(p),
                         limit_s=600)
        if "error:" in _banner(page):  # the project itself does not build: say why, do not wait
            pytest.fail(f"the first build under serve failed:\n{_banner(page)}")
        yield {"base": base, "work": work, "proc": proc, "tmp": tmp, "log": work / "serve.log"}
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


def test_catalog_and_markdown_edits_are_served(served):
    base, work = served["base"], served["work"]
    hw = work / "catalog" / "hardware.yaml"
    _replace(hw, "  name: GeForce RTX 4090\n", "  name: GeForce RTX 4090 (serve test)\n")
    page = _wait_for(base + "/hardware/rtx-4090/", lambda p: "RTX 4090 (serve test)" in p)
    assert not _banner(page)
    # a page the browser has not asked for yet is rendered on demand from the new catalog too
    _wait_for(base + "/hardware/", lambda p: "RTX 4090 (serve test)" in p)
    faq = work / "docs" / "faq.md"
    faq.write_text(faq.read_text() + "\nA sentence added by the serve test.\n")
    _wait_for(base + "/faq/", lambda p: "A sentence added by the serve test." in p)


def test_broken_catalog_shows_its_error_and_recovers(served):
    base, work, proc = served["base"], served["work"], served["proc"]
    hw = work / "catalog" / "hardware.yaml"
    good = hw.read_text()
    start = good.index("- id: rtx-4090\n")
    line = good.count("\n", 0, good.index("memory_bandwidth_gb_s:", start)) + 1
    broken = re.sub(r"memory_bandwidth_gb_s: [^\n]*", "memory_bandwidth_gb_s: fast", good[start:], count=1)
    hw.write_text(good[:start] + broken)
    page = _wait_for(base + "/hardware/rtx-4090/", lambda p: "error:" in _banner(p))
    banner = _banner(page)
    assert f"hardware.yaml:{line}" in banner and "memory_bandwidth_gb_s" in banner, banner
    assert "Traceback" not in banner and "RTX 4090" in page  # the last good page is still there
    assert proc.poll() is None
    assert "memory_bandwidth_gb_s" in served["log"].read_text()  # and the terminal says it too
    hw.write_text(good.replace("  name: GeForce RTX 4090", "  name: GeForce RTX 4090 (fixed)", 1))
    page = _wait_for(base + "/hardware/rtx-4090/", lambda p: "RTX 4090 (fixed)" in p)
    assert not _banner(page)


def test_broken_macro_and_warning_keep_the_server_up(served):
    base, work, proc = served["base"], served["work"], served["proc"]
    faq = work / "docs" / "faq.md"
    good = faq.read_text()
    faq.write_text(good + "\n{{ no_such_macro() }}\n")
    banner = _banner(_wait_for(base + "/faq/", lambda p: "error:" in _banner(p)))
    assert "no_such_macro" in banner and banner.count("\n") <= 3, banner
    assert "error:" not in _banner(_get(base + "/methodology/"))  # other pages are not blamed
    faq.write_text(good + "\nSee [a page that is not there](not-there.md).\n")
    banner = _banner(_wait_for(base + "/faq/", lambda p: "not-there.md" in _banner(p)))
    assert "warning" in banner and "error:" not in banner
    assert proc.poll() is None
    faq.write_text(good)
    _wait_for(base + "/faq/", lambda p: not _banner(p) and "not-there" not in p)


def test_sigterm_stops_the_server_and_removes_its_folder(served):
    proc, tmp = served["proc"], served["tmp"]
    assert any(tmp.iterdir())  # the served site lives there while it runs
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    assert not any(tmp.iterdir()), list(tmp.iterdir())


def test_engine_results_are_carried_only_when_the_fit_inputs_are_unchanged(tmp_path):
    """The served engine keeps its fitted speed model and error bands across a catalog edit the fit
    never reads (a name, a price, the bandwidth of a GPU no measurement ran on); a measured GPU's
    bandwidth refits."""
    sys.path.insert(0, str(ROOT))
    from macros.catalog import load_catalog
    from macros.serve import speed_fingerprint

    shutil.copytree(ROOT / "catalog", tmp_path / "catalog")
    hw = tmp_path / "catalog" / "hardware.yaml"
    catalog = load_catalog(tmp_path / "catalog")
    base = speed_fingerprint(catalog)
    measured = {m.hardware for m in catalog.measurements.values()}
    quiet = next(h for h in catalog.hardware.values() if h.kind == "gpu" and h.id not in measured)
    assert "rtx-4090" in measured

    def bump(hardware_id: str, field: str) -> None:
        text = hw.read_text()
        start = text.index(f"- id: {hardware_id}\n")
        end = text.find("\n- id:", start + 1)
        record, n = re.subn(rf"{field}: (\d+(?:\.\d+)?)", lambda m: f"{field}: {float(m.group(1)) + 1:g}",
                            text[start:end], count=1)
        assert n, (hardware_id, field)
        hw.write_text(text[:start] + record + text[end:])

    _replace(hw, "  name: GeForce RTX 4090\n", "  name: GeForce RTX 4090 (renamed)\n")
    bump(quiet.id, "memory_bandwidth_gb_s")
    priced = next(h.id for h in catalog.hardware.values() if h.id in measured and h.price_usd)
    bump(priced, "price_usd")
    assert speed_fingerprint(load_catalog(tmp_path / "catalog")) == base
    bump("rtx-4090", "memory_bandwidth_gb_s")
    assert speed_fingerprint(load_catalog(tmp_path / "catalog")) != base
