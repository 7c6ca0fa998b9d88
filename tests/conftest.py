"""Shared fixtures: the real catalog loaded once, one engine, and a helper to plant mistakes in a copy."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from macros.catalog import load_catalog  # noqa: E402
from macros.engine import Engine  # noqa: E402

CATALOG = ROOT / "catalog"


@pytest.fixture(scope="session")
def catalog():
    return load_catalog(CATALOG)


@pytest.fixture(scope="session")
def engine(catalog):
    return Engine(catalog)


@pytest.fixture
def catalog_copy(tmp_path):
    """A writable copy of the catalog in a temporary folder."""
    dest = tmp_path / "catalog"
    shutil.copytree(CATALOG, dest)
    return dest


NETGUARD = Path(__file__).parent / "netguard"


def build_env(**extra: str) -> dict[str, str]:
    """Environment for a build under test: the network guard on, MkDocs' banner off."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", **extra}
    env["PYTHONPATH"] = os.pathsep.join([str(NETGUARD), str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def mkdocs_build(site_dir: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)],
                          cwd=ROOT, env=build_env(**env), capture_output=True, text=True)


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> Path:
    """The real site, built once per test session with the network guard on."""
    out = tmp_path_factory.mktemp("built") / "site"
    log = out.parent / "network.log"
    result = mkdocs_build(out, NETGUARD_LOG=str(log))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out
