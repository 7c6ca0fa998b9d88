"""What every page shares during one build: the validated catalog and one Engine."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from .catalog import Catalog, load_catalog
from .engine import Engine


@dataclasses.dataclass
class SiteContext:
    catalog: Catalog
    engine: Engine

    @classmethod
    def load(cls, default_root: Path) -> "SiteContext":
        """Load the catalog ($GUIDE_CATALOG overrides the folder, for tests on a copy)."""
        root = Path(os.environ.get("GUIDE_CATALOG") or default_root)
        catalog = load_catalog(root)
        return cls(catalog=catalog, engine=Engine(catalog))
