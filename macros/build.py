"""`make build`: build into a temporary folder and swap it in only when the build succeeded.

Safe to run twice at once (the second waits for the first: one lock per output folder), to stop
with Ctrl-C or SIGTERM (the MkDocs process and its chart renderers are stopped and the temporary
folder removed), and after a failure of any kind: leftovers of an earlier build are cleared
before the next one, and an old site that cannot be deleted is moved aside, never in the way.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK_WAIT_S = 900


def files_and_nav(config):
    """MkDocs' own start of a build after `on_config`: the files (the theme's included), run through the
    plugins' `on_files`, and the navigation through `on_nav`. Returns (files, theme env, nav); shared by
    `macros diff` and `make serve`, which drive MkDocs page by page."""
    from mkdocs.structure.files import get_files, set_exclusions
    from mkdocs.structure.nav import get_navigation

    files = get_files(config)
    env = config.theme.get_env()
    files.add_files_from_theme(env, config)
    files = config.plugins.on_files(files, config=config)
    set_exclusions(files, config)
    nav = get_navigation(files, config)
    nav = config.plugins.on_nav(nav, config=config, files=files)
    return files, env, nav


def source_date_epoch() -> str:
    """The last commit's time, so two builds of one commit carry the same dates (reproducible builds)."""
    if os.environ.get("SOURCE_DATE_EPOCH"):
        return os.environ["SOURCE_DATE_EPOCH"]
    try:
        out = subprocess.run(["git", "log", "-1", "--format=%ct"], cwd=ROOT, capture_output=True, text=True)
        return out.stdout.strip() or "0"
    except OSError:
        return "0"


class Stopped(Exception):
    """SIGTERM or SIGINT arrived during a build."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def build_lock(site_dir: Path, wait_s: float = LOCK_WAIT_S):
    """Hold the output folder's lock (a file beside it) for one build; wait while another holds it."""
    path = site_dir.with_name(f".{site_dir.name}.build-lock")
    with open(path, "a+") as handle:
        deadline = time.monotonic() + wait_s
        told = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"another build of {site_dir} held its lock for {wait_s:.0f} s") from None
                if not told:
                    print(f"another build of {site_dir} is running; waiting for it", file=sys.stderr)
                    told = True
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def _signals_raise():
    """Turn SIGTERM and SIGINT into `Stopped` while a build runs (main thread only)."""
    def handler(signum, frame):
        raise Stopped(signum)

    previous = {}
    try:
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, handler)
    except ValueError:  # not the main thread: leave signals alone
        pass
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _remove(path: Path) -> bool:
    """Delete a folder; True when it is gone."""
    shutil.rmtree(path, ignore_errors=True)
    return not path.exists()


def _clear_leftovers(site_dir: Path) -> None:
    """Folders an interrupted or failed build left beside the site (only ever called under the lock)."""
    for path in site_dir.parent.glob(f"{site_dir.name}.tmp-*"):
        _remove(path)
    for path in site_dir.parent.glob(f"{site_dir.name}.old*"):
        if not _remove(path):
            print(f"warning: could not delete {path} (left from an earlier build); remove it by hand",
                  file=sys.stderr)


def _stop(proc: subprocess.Popen) -> None:
    """Stop the MkDocs process and everything it started (it leads its own process group)."""
    for sig, wait_s in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        if proc.poll() is not None:
            break
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=wait_s)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # chart renderers the leader left behind


def swap_in(staging: Path, site_dir: Path) -> None:
    """Put `staging` where `site_dir` is. The old site is moved to a fresh name first, so an old site
    that cannot be deleted (a file without permission) is left beside it, never in the way."""
    old = None
    if site_dir.exists():
        old = Path(tempfile.mkdtemp(prefix=f"{site_dir.name}.old-", dir=site_dir.parent))
        site_dir.rename(old / site_dir.name)
    staging.rename(site_dir)
    if old is not None and not _remove(old):
        print(f"warning: could not delete the previous site, moved to {old}; remove it by hand", file=sys.stderr)


def mkdocs_command(staging: Path) -> list[str]:
    return [sys.executable, "-m", "mkdocs", "build", "--strict", "--clean",
            "--config-file", str(ROOT / "mkdocs.yml"), "--site-dir", str(staging)]


def build_site(site_dir: Path) -> int:
    """Run `mkdocs build --strict` into a fresh folder beside `site_dir`; replace `site_dir` on success."""
    site_dir = site_dir.resolve()
    site_dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        with _signals_raise(), build_lock(site_dir):
            _clear_leftovers(site_dir)
            return _build_locked(site_dir)
    except Stopped as stop:
        print(f"build stopped by {stop}: {site_dir} left as it was", file=sys.stderr)
        return 128 + stop.signum
    except TimeoutError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


def _build_locked(site_dir: Path) -> int:
    staging = Path(tempfile.mkdtemp(prefix=f"{site_dir.name}.tmp-", dir=site_dir.parent))
    proc = None
    try:
        env = {**os.environ, "SOURCE_DATE_EPOCH": source_date_epoch(), "NO_MKDOCS_2_WARNING": "1"}
        proc = subprocess.Popen(mkdocs_command(staging), cwd=ROOT, env=env, start_new_session=True)
        returncode = proc.wait()
        if returncode != 0:
            print(f"build failed: {site_dir} left as it was", file=sys.stderr)
            return returncode
        swap_in(staging, site_dir)
        print(f"site built in {site_dir}")
        return 0
    finally:
        if proc is not None and proc.poll() is None:
            _stop(proc)
        if staging.exists():
            _remove(staging)
