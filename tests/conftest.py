"""Shared fixtures: the real catalog loaded once, one engine, and a helper to plant mistakes in a copy."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from macros.catalog import load_catalog  # noqa: E402
from macros.build import source_date_epoch  # noqa: E402
from macros.engine import Engine  # noqa: E402

CATALOG = ROOT / "catalog"


@pytest.fixture(scope="session")
def catalog():
    return load_catalog(CATALOG)


@pytest.fixture(scope="session")
def engine(catalog):
    return Engine(catalog)


def plant(root: Path, file: str, pattern: str, replacement: str) -> int:
    """Replace the first match of `pattern` in catalog/`file`; return the line it is on."""
    path = root / file
    text = path.read_text()
    match = re.search(pattern, text, flags=re.M)
    assert match, f"pattern {pattern!r} not in {file}"
    path.write_text(text[:match.start()] + match.expand(replacement) + text[match.end():])
    return text.count("\n", 0, match.start()) + 1


@pytest.fixture
def catalog_copy(tmp_path):
    """A writable copy of the catalog in a temporary folder."""
    dest = tmp_path / "catalog"
    shutil.copytree(CATALOG, dest)
    return dest


NETGUARD = Path(__file__).parent / "netguard"


def build_env(**extra: str) -> dict[str, str]:
    """Environment for a build under test: the network guard on, MkDocs' banner off."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "SOURCE_DATE_EPOCH": source_date_epoch(), **extra}
    env["PYTHONPATH"] = os.pathsep.join([str(NETGUARD), str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def start_build(site_dir: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "--site-dir", str(site_dir)],
                            cwd=ROOT, env=build_env(**env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


CHANGED_HW, OLD_GB, NEW_GB = "rtx-4090", "24", "48"


def change_memory(catalog: Path, hardware_id: str = CHANGED_HW, old: str = OLD_GB, new: str = NEW_GB) -> None:
    """Edit one device's memory_gb in a catalog copy, in place."""
    path = catalog / "hardware.yaml"
    text = path.read_text()
    start = text.index(f"- id: {hardware_id}\n")
    end = text.find("\n- id:", start + 1)
    record = text[start:end]
    changed = re.sub(rf"memory_gb: {old}(\.0)?\b", f"memory_gb: {new}", record, count=1)
    assert changed != record, "could not find the memory_gb line to change"
    path.write_text(text[:start] + changed + text[end:])


# Markup planted in catalog strings of the changed copy: none of it may reach a page as live HTML.
PLANTED = {
    "models.yaml": ("  name: Qwen3.5-9B\n", "  name: 'Qwen3.5-9B <script>alert(\"planted\")</script> \"q\" &amp;'\n"),
    "hardware.yaml": ("  name: GeForce RTX 3090\n", "  name: 'GeForce RTX 3090 <img src=x onerror=alert(2)>'\n"),
}


# Markdown in catalog strings (issue 15): it must publish as literal text, never as a link, an image or an attribute.
PLANTED_MARKDOWN = [
    ("models.yaml", "  name: Qwen3.5-4B\n", "  name: 'Qwen3.5-4B [link](javascript:alert(1)) $x$'\n"),
    ("hardware.yaml", "  name: GeForce RTX 5080\n",
     "  name: 'GeForce RTX 5080 ![i](http://203.0.113.9/c.png) {: onclick=alert(5) }'\n"),
    ("claims/craftrigs-397b-multi-gpu.yaml", "  quote: The model requires ~243 GB of VRAM at Q4 quantization.\n",
     "  quote: '![i](http://203.0.113.9/c.png) The model requires ~243 GB of VRAM at Q4 quantization.'\n"),
]


def plant_markup(catalog: Path) -> None:
    for file, (old, new) in [*PLANTED.items(), *((f, (o, n)) for f, o, n in PLANTED_MARKDOWN)]:
        path = catalog / file
        text = path.read_text()
        assert old in text, f"{old!r} not in {file}"
        path.write_text(text.replace(old, new, 1))
    # and a source address that tries to close its attribute
    path = catalog / "hardware.yaml"
    text = path.read_text()
    start = text.index("- id: rtx-4060-ti-16gb\n")
    at = text.index("  - url: ", start)
    path.write_text(text[:at] + "  - url: 'https://example.com/\"><script>alert(3)</script>'\n    read: 2026-11-25\n"
                    + text[at:])


@pytest.fixture(scope="session")
def site_builds(tmp_path_factory) -> dict:
    """Three builds run side by side once per session, with the network guard on: the real site
    (twice, to compare bytes), and the site from a catalog copy whose RTX 4090 has 48 GB and whose
    strings carry planted markup. Keys: real, again, changed, changed_catalog, seconds, network_log."""
    base = tmp_path_factory.mktemp("site")
    changed_catalog = base / "catalog"
    shutil.copytree(CATALOG, changed_catalog)
    change_memory(changed_catalog)
    plant_markup(changed_catalog)
    log = base / "network.log"
    t0 = time.monotonic()
    procs = {"real": start_build(base / "real", NETGUARD_LOG=str(log)),
             "again": start_build(base / "again", NETGUARD_LOG=str(log)),
             "changed": start_build(base / "changed", GUIDE_CATALOG=str(changed_catalog), NETGUARD_LOG=str(log))}
    for name, p in procs.items():
        out, _ = p.communicate(timeout=900)
        assert p.returncode == 0, f"{name} build failed:\n{out[-4000:]}"
    return {"real": base / "real", "again": base / "again", "changed": base / "changed",
            "changed_catalog": changed_catalog, "seconds": time.monotonic() - t0, "network_log": log}


@pytest.fixture(scope="session")
def built_site(site_builds) -> Path:
    """The real site, built once per test session."""
    return site_builds["real"]
