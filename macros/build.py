"""`make build`: build into a temporary folder and swap it in only when the build succeeded."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def source_date_epoch() -> str:
    """The last commit's time, so two builds of one commit carry the same dates (reproducible builds)."""
    if os.environ.get("SOURCE_DATE_EPOCH"):
        return os.environ["SOURCE_DATE_EPOCH"]
    try:
        out = subprocess.run(["git", "log", "-1", "--format=%ct"], cwd=ROOT, capture_output=True, text=True)
        return out.stdout.strip() or "0"
    except OSError:
        return "0"


def build_site(site_dir: Path) -> int:
    """Run `mkdocs build --strict` into a fresh folder beside `site_dir`; replace `site_dir` on success."""
    site_dir = site_dir.resolve()
    site_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="site.tmp-", dir=site_dir.parent))
    try:
        env = {**os.environ, "SOURCE_DATE_EPOCH": source_date_epoch(), "NO_MKDOCS_2_WARNING": "1"}
        result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--clean",
                                 "--config-file", str(ROOT / "mkdocs.yml"), "--site-dir", str(staging)], cwd=ROOT,
                                env=env)
        if result.returncode != 0:
            print(f"build failed: {site_dir} left as it was", file=sys.stderr)
            return result.returncode
        artifacts = site_dir / "artifacts"  # screenshots written by the test run
        if artifacts.is_dir():
            shutil.copytree(artifacts, staging / "artifacts", dirs_exist_ok=True)
        old = site_dir.with_name(site_dir.name + ".old")
        if old.exists():
            shutil.rmtree(old)
        if site_dir.exists():
            site_dir.rename(old)
        staging.rename(site_dir)
        if old.exists():
            shutil.rmtree(old)
        print(f"site built in {site_dir}")
        return 0
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
