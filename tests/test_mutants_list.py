"""`make mutants` plants each bug by replacing one exact fragment of engine code: every fragment must
still occur exactly once, or the mutant would silently test nothing."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("mutants", ROOT / "scripts" / "mutants.py")
mutants = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mutants)


@pytest.mark.parametrize("name, old, new, what", mutants.MUTANTS, ids=[m[3] for m in mutants.MUTANTS])
def test_fragment_occurs_once(name, old, new, what):
    text = (ROOT / "macros" / "engine" / name).read_text()
    assert text.count(old) == 1, f"{what}: the fragment occurs {text.count(old)} times in {name}"
    assert old != new


def test_at_least_twenty_mutants():
    assert len(mutants.MUTANTS) >= 20
