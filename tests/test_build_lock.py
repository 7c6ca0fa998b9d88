"""`make build` (macros/build.py) under stress: two builds at once, SIGTERM and SIGINT mid-build, an old
site that cannot be deleted, a failed build. MkDocs is replaced by a small stand-in command that
writes a page into the staging folder, so each case takes a second, not a whole build."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from macros import build  # noqa: E402

# The stand-in for `mkdocs build`: argv[1] is the staging folder. It records its pid, refuses to run
# beside another stand-in (a build already active means the lock failed), writes a page, then sleeps.
STAND_IN = textwrap.dedent("""
    import os, sys, time
    staging, work, label, sleep_s = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    open(os.path.join(work, f"pid-{label}"), "w").write(str(os.getpid()))
    try:
        fd = os.open(os.path.join(work, "active"), os.O_CREAT | os.O_EXCL)
    except FileExistsError:
        sys.exit(3)
    os.close(fd)
    if os.fork() == 0:  # a grandchild, like a chart renderer
        open(os.path.join(work, f"grandchild-{label}"), "w").write(str(os.getpid()))
        time.sleep(sleep_s)
        os._exit(0)
    open(os.path.join(staging, "index.html"), "w").write(label)
    time.sleep(sleep_s)
    os.remove(os.path.join(work, "active"))
    sys.exit(int(os.environ.get("STAND_IN_EXIT", "0")))
""")

DRIVER = textwrap.dedent("""
    import sys
    from pathlib import Path
    sys.path.insert(0, {root!r})
    from macros import build
    build.mkdocs_command = lambda staging: [sys.executable, {stand_in!r}, str(staging), {work!r}, {label!r}, {sleep!r}]
    sys.exit(build.build_site(Path({site!r})))
""")


def _start(tmp: Path, label: str, sleep_s: float, **env) -> subprocess.Popen:
    (tmp / "stand_in.py").write_text(STAND_IN)
    code = DRIVER.format(root=str(ROOT), stand_in=str(tmp / "stand_in.py"), work=str(tmp), label=label,
                         sleep=str(sleep_s), site=str(tmp / "out" / "site"))
    return subprocess.Popen([sys.executable, "-c", code], cwd=tmp, env={**os.environ, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_file(path: Path, limit_s: float = 30) -> str:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            return path.read_text()
        time.sleep(0.05)
    raise AssertionError(f"{path} never appeared")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")


def _beside(tmp: Path) -> list[str]:
    return sorted(p.name for p in (tmp / "out").iterdir() if not p.name.startswith(".site.build-lock"))


def test_two_builds_at_once_take_turns(tmp_path):
    (tmp_path / "out").mkdir()
    first, second = _start(tmp_path, "one", 1.5), _start(tmp_path, "two", 0.2)
    outs = [p.communicate(timeout=60)[0] for p in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outs  # 3 would mean both ran at once
    assert "waiting" in "".join(outs)
    assert _beside(tmp_path) == ["site"]
    assert (tmp_path / "out" / "site" / "index.html").read_text() in {"one", "two"}


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_mkdocs_and_removes_the_staging_folder(tmp_path, sig):
    site = tmp_path / "out" / "site"
    site.mkdir(parents=True)
    (site / "index.html").write_text("old")
    proc = _start(tmp_path, "stopped", 60)
    child = int(_wait_file(tmp_path / "pid-stopped"))
    grandchild = int(_wait_file(tmp_path / "grandchild-stopped"))
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 128 + sig, out
    assert "stopped" in out and "Traceback" not in out
    deadline = time.monotonic() + 10
    while (_alive(child) or _alive(grandchild)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child) and not _alive(grandchild)
    assert _beside(tmp_path) == ["site"]  # no site.tmp-* left
    assert (site / "index.html").read_text() == "old"


def test_a_failed_build_leaves_the_site_and_no_leftovers(tmp_path):
    site = tmp_path / "out" / "site"
    site.mkdir(parents=True)
    (site / "index.html").write_text("old")
    proc = _start(tmp_path, "failing", 0, STAND_IN_EXIT="1")
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 1 and "left as it was" in out
    assert _beside(tmp_path) == ["site"] and (site / "index.html").read_text() == "old"


def test_an_undeletable_old_site_never_blocks_the_next_build(tmp_path, monkeypatch, capsys):
    """Root can delete anything, so deletion of the moved-aside site is made to fail instead."""
    out = tmp_path / "out"
    site = out / "site"
    site.mkdir(parents=True)
    (site / "index.html").write_text("old")
    (tmp_path / "stand_in.py").write_text(STAND_IN)
    real_rmtree = build.shutil.rmtree

    def stubborn_rmtree(path, ignore_errors=False):
        if ".old" in Path(path).name:
            return None  # as if a file in it could not be removed
        return real_rmtree(path, ignore_errors=ignore_errors)

    monkeypatch.setattr(build.shutil, "rmtree", stubborn_rmtree)
    for label in ("first", "second"):
        monkeypatch.setattr(build, "mkdocs_command", lambda staging, label=label: [
            sys.executable, str(tmp_path / "stand_in.py"), str(staging), str(tmp_path), label, "0"])
        assert build.build_site(site) == 0
        assert (site / "index.html").read_text() == label
    err = capsys.readouterr().err
    assert "could not delete" in err
    leftovers = [n for n in _beside(tmp_path) if n != "site"]
    assert leftovers and all(n.startswith("site.old-") for n in leftovers)
