"""Catalog loading and validation: YAML in, frozen typed records out."""

from .loader import Catalog, CatalogError, Problem, load_catalog

__all__ = ["Catalog", "CatalogError", "Problem", "load_catalog"]
