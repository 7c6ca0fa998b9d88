"""Guides and FAQ: each a macro computing its answer from the engine."""

from __future__ import annotations


def macros(site) -> dict:
    return {}
