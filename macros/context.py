"""What every page shares during one build: the validated catalog and one Engine.

(Named a build context, not a "site": in this project the site is only the output folder.)
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from .catalog import Catalog, load_catalog
from .engine import Engine


@dataclasses.dataclass
class BuildContext:
    catalog: Catalog
    engine: Engine

    @classmethod
    def load(cls, default_root: Path) -> "BuildContext":
        """Load the catalog ($GUIDE_CATALOG overrides the folder, for tests on a copy)."""
        root = Path(os.environ.get("GUIDE_CATALOG") or default_root)
        catalog = load_catalog(root)
        return cls(catalog=catalog, engine=Engine(catalog))
