"""The sizing engine: pure functions from catalog records to numbers (no MkDocs, no I/O)."""

from .estimate import KV_TYPES, Engine, Estimate, summarize_errors
from .machine import Machine, custom_machine
from .parts import EngineInputError, Parts

__all__ = ["KV_TYPES", "Engine", "Estimate", "EngineInputError", "Machine", "Parts", "custom_machine",
           "summarize_errors"]
