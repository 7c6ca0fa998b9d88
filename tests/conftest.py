"""Shared fixtures: the real catalog loaded once, one engine, and a helper to plant mistakes in a copy."""

from __future__ import annotations

import shutil
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
