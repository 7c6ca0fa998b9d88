"""`make serve`: the site on http://127.0.0.1:8000, kept current while you edit.

The first build is a whole build. After it, an edit does only the work it needs:

- a Markdown page: that page alone goes through macros, Markdown and the theme again;
- the catalog: the catalog is reloaded and every page is marked stale; the page the browser asks
  for is rendered on demand, the others one by one in the background;
- Python under macros/, mkdocs.yml, an asset, a snippet, a page added or removed: a whole build.

Serve-time shortcuts, none of which reaches `make build` (whose output stays byte-identical):
no search index; the HTML of a page whose Markdown (after macros) did not change is reused.

A broken edit never stops the server: its one-line error goes to the terminal and to the top of
every page served (the last good pages stay), and the next good edit clears it. Warnings that
`make build` (strict) would fail on are shown the same way, marked as warnings.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import html
import logging
import os
import pickle
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("macros.serve")
MAX_LINE = 300


def one_line(text: str) -> str:
    """The first non-blank line of a message, trimmed to a readable length."""
    line = next((ln.strip() for ln in str(text).splitlines() if ln.strip()), "")
    return line if len(line) <= MAX_LINE else line[:MAX_LINE - 1] + "…"


def error_lines(exc: BaseException) -> list[str]:
    """One line per problem: the catalog's own lines, else the exception named in one line.

    mkdocs-macros turns an exception in a macro into SystemExit; the cause is its context."""
    while isinstance(exc, SystemExit) and exc.__context__ is not None:
        exc = exc.__context__
    problems = getattr(exc, "problems", None)
    if problems:
        return [one_line(f"catalog: {p}") for p in problems]
    text = one_line(exc) or "(no message)"
    if isinstance(exc, SystemExit):
        return [f"build stopped: {text}"]
    return [f"{type(exc).__name__}: {text}"]


class _Collect(logging.Handler):
    """The warnings MkDocs logs during one step (under `make build`, strict mode fails on them)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(one_line(record.getMessage()))

    def __enter__(self):
        logging.getLogger("mkdocs").addHandler(self)
        return self

    def __exit__(self, *exc):
        logging.getLogger("mkdocs").removeHandler(self)


def _cache_catalog_files() -> None:
    """Keep each catalog file's parsed YAML, by content hash, between reloads: an edit re-reads only
    the file it changed (reading the YAML is nine tenths of loading the catalog). Serve only."""
    loader = sys.modules.get("macros.catalog.loader")
    if loader is None:
        from .catalog import loader
    read = getattr(loader, "_read_yaml", None)
    if read is None or getattr(read, "cached_by_serve", False):
        return
    cache: dict[str, tuple[bytes, bytes]] = {}  # path -> (content hash, pickled result)

    def cached_read(path, display, problems, *args, **kwargs):
        try:
            digest = hashlib.sha256(Path(path).read_bytes()).digest() + repr((display, args, kwargs)).encode()
        except OSError:
            return read(path, display, problems, *args, **kwargs)
        hit = cache.get(str(path))
        if hit is None or hit[0] != digest:
            found: list = []
            result = read(path, display, found, *args, **kwargs)
            try:
                hit = cache[str(path)] = (digest, pickle.dumps((result, found)))
            except Exception:  # noqa: BLE001 - not picklable: no cache for it
                problems.extend(found)
                return result
        result, found = pickle.loads(hit[1])  # fresh objects: the loader may change what it gets
        problems.extend(found)
        return result

    cached_read.cached_by_serve = True
    loader._read_yaml = cached_read


# Fields that never enter the speed fit: words (names, notes, sources) and prices.
NOT_SPEED_INPUTS = frozenset({"name", "notes", "source", "quote", "meaning", "featured", "place", "published_in",
                              "price_usd", "price_date", "price_kind", "price_scope"})
# Records the fit never reads: claims, prices, quality, downloads and the rigs (measurements name devices).
NOT_SPEED_KINDS = frozenset({"claims", "claim_guides", "api_prices", "quality", "downloads", "rigs", "lines"})
# The Engine's costliest results (the held-out error bands refit the speed model once per source):
# numbers only, carried to the next engine when the fit's inputs are unchanged.
CARRIED = ("speed_model", "band_table")


def speed_fingerprint(catalog) -> str:
    """A hash of what the speed fit reads: every measurement, model, quant, runtime and constant,
    and the devices the measurements ran on (with every CPU platform), less names, notes, sources and
    prices. An edit elsewhere (a name, a price, a GPU nobody measured) leaves it unchanged."""
    measured: set = set()
    for m in catalog.measurements.values():
        devices = getattr(m, "devices", None) or []
        measured |= {getattr(m, "hardware", None), getattr(m, "host", None)}
        measured |= {getattr(d, "hardware", d) for d in devices}
    digest = hashlib.sha256()
    for kind in sorted(f.name for f in dataclasses.fields(catalog)):
        records = getattr(catalog, kind)
        if not isinstance(records, dict) or kind in NOT_SPEED_KINDS:
            continue
        for rid, rec in records.items():
            if kind == "hardware" and rid not in measured and getattr(rec, "kind", None) != "cpu":
                continue
            data = rec.model_dump(exclude=NOT_SPEED_INPUTS) if hasattr(rec, "model_dump") else rec
            digest.update(repr((kind, rid, data)).encode("utf-8"))
    return digest.hexdigest()


def _carry_engine_results(old_engine, new_engine) -> bool:
    """Give the new engine the old one's fitted speed model and error bands when what the fit reads
    did not change (a renamed GPU, a price, a GPU nobody measured). True when carried."""
    try:
        if old_engine is None or speed_fingerprint(old_engine.catalog) != speed_fingerprint(new_engine.catalog):
            return False
        for name in CARRIED:
            if name in vars(old_engine) and name not in vars(new_engine):
                vars(new_engine)[name] = vars(old_engine)[name]
        return True
    except Exception:  # noqa: BLE001 - a cache, never a reason to fail
        return False


def _drop_project_modules() -> None:
    for name in list(sys.modules):
        if (name == "macros" or name.startswith("macros.")) and name != __name__:
            del sys.modules[name]


def _drop_search(config) -> None:
    """Serve without the search plugin: its index is a quarter of a build and unused while editing."""
    for key in [k for k in config.plugins if k in ("search", "material/search")]:
        plugin = config.plugins[key]
        for event, methods in config.plugins.events.items():
            methods[:] = [m for m in methods if getattr(m, "__self__", None) is not plugin]
        dict.__delitem__(config.plugins, key)


class DevSite:
    """The site being served: MkDocs' build split into steps that can run page by page."""

    def __init__(self, config_file: Path, site_dir: Path, serve_url: str):
        self.config_file = config_file
        self.site_dir = site_dir
        self.serve_url = serve_url
        self.lock = threading.RLock()
        self.problems: list[str] = []          # errors of the last step (the pages served are older)
        self.warnings: list[str] = []          # site-wide warnings of the last whole pass
        self.page_errors: dict[str, list[str]] = {}    # per page: the error that stopped its last render
        self.page_warnings: dict[str, list[str]] = {}  # per page: warnings of its last render
        self.stale: dict[str, str] = {}        # src_uri -> "page" (macros onward) | "theme" (template only)
        self.wanted: list[str] = []            # stale pages a browser asked for first
        self._md: dict[str, tuple] = {}        # src_uri -> (hash of post-macro Markdown, rendered parts)
        self.built = False
        self.closed = False
        self.generation = 0
        self._work = threading.Condition(self.lock)
        self._worker = threading.Thread(target=self._background, daemon=True)
        self._worker.start()

    # ------------------------------------------------------------------ whole build
    def full_build(self) -> None:
        from mkdocs import utils
        from mkdocs.commands.build import _build_theme_template
        from mkdocs.config import load_config
        from mkdocs.structure.files import InclusionLevel
        from mkdocs.structure.pages import Page

        from .build import files_and_nav

        with self.lock:
            started = time.perf_counter()
            self.stale.clear()
            self.page_errors.clear()
            self.page_warnings.clear()
            self._md.clear()
            self.generation += 1
            try:
                _cache_catalog_files()
                with _Collect() as notes:
                    config = load_config(config_file=str(self.config_file), site_dir=str(self.site_dir))
                    config.site_url = self.serve_url
                    _drop_search(config)
                    config = config.plugins.on_config(config)
                    config.plugins.on_pre_build(config=config)
                    files, env, nav = files_and_nav(config)
                    inclusion = InclusionLevel.is_in_serve
                    doc_files = files.documentation_pages(inclusion=inclusion)
                    for file in doc_files:
                        if file.page is None:
                            Page(None, file, config)
                    self.config, self.files, self.nav, self.doc_files = config, files, nav, doc_files
                    self.pages = {f.src_uri: f.page for f in doc_files}
                    self.by_dest = {f.dest_uri: f.src_uri for f in doc_files}
                    for page in self.pages.values():
                        self._populate(page)
                    self.env = config.plugins.on_env(env, config=config, files=files)
                    utils.clean_directory(str(self.site_dir))
                    files.copy_static_files(inclusion=inclusion)
                    for template in config.theme.static_templates:
                        _build_theme_template(template, self.env, files, config, nav)
                    for page in self.pages.values():
                        self._build(page)
                    self._finish()
                    self.ids = self._catalog_ids()
                own = {line for lines in self.page_warnings.values() for line in lines}
                self.warnings = [line for line in dict.fromkeys(notes.lines) if line not in own]
                self.problems = []
                self.built = True
                self._report(f"site built in {time.perf_counter() - started:.1f} s ({len(self.pages)} pages)")
            except BaseException as exc:  # noqa: BLE001 - the server stays up whatever an edit does
                if isinstance(exc, KeyboardInterrupt):
                    raise
                self.problems = error_lines(exc)
                self.built = False  # the next edit of any kind builds the whole site again
                self._report()

    # ------------------------------------------------------------------ one page
    def _populate(self, page) -> None:
        """Macros, then Markdown to HTML (reused when the post-macro Markdown is unchanged)."""
        config, files = self.config, self.files
        src = page.file.src_uri
        config._current_page = page
        try:
            with _Collect() as notes:
                page = config.plugins.on_pre_page(page, config=config, files=files)
                page.read_source(config)
                page.markdown = config.plugins.on_page_markdown(page.markdown, page=page, config=config, files=files)
                digest = hashlib.sha256(page.markdown.encode("utf-8")).hexdigest()
                cached = self._md.get(src)
                if cached and cached[0] == digest:
                    (page.content, page.toc, page._title_from_render, page.present_anchor_ids,
                     page.links_to_anchors, render_notes) = cached[1]
                else:
                    page.render(config, files)
                    render_notes = list(notes.lines)
                    self._md[src] = (digest, (page.content, page.toc, page._title_from_render,
                                              page.present_anchor_ids, page.links_to_anchors, render_notes))
                page.content = config.plugins.on_page_content(page.content, page=page, config=config, files=files)
            self.page_warnings[src] = [*dict.fromkeys(render_notes + notes.lines)]
            self.page_errors.pop(src, None)
        finally:
            config._current_page = None

    def _build(self, page) -> None:
        from mkdocs.commands.build import _build_page
        with _Collect() as notes:
            _build_page(page, self.config, self.doc_files, self.nav, self.env)
        src = page.file.src_uri
        self.page_warnings[src] = [*dict.fromkeys(self.page_warnings.get(src, []) + notes.lines)]

    def render(self, src: str, level: str = "page") -> None:
        """Bring one page up to date; its error (if any) is kept with it, its old HTML stays."""
        page = self.pages[src]
        title = page.title
        try:
            if level == "page":
                self._populate(page)
            self._build(page)
        except BaseException as exc:  # noqa: BLE001
            if isinstance(exc, KeyboardInterrupt):
                raise
            self.page_errors[src] = [f"{src}: {line}" for line in error_lines(exc)]
            for line in self.page_errors[src]:
                log.error(line)
            return
        if level == "page" and page.title != title:  # the nav shows it on every page
            for other in self.pages:
                self.stale.setdefault(other, "theme")
            self._work.notify_all()

    def _finish(self) -> None:
        """What a build does once every page is rendered: anchor checks, the error page, the sitemap."""
        from mkdocs.commands.build import _build_theme_template
        with _Collect() as notes:
            level = self.config.validation.links.anchors
            for page in self.pages.values():
                page.validate_anchor_links(files=self.files, log_level=level)
            for template in self.config.theme.static_templates:
                _build_theme_template(template, self.env, self.files, self.config, self.nav)
        self.warnings = notes.lines

    # ------------------------------------------------------------------ edits
    def apply(self, changed: set[str]) -> None:
        """React to changed paths (absolute). Never raises: a problem is shown, not thrown."""
        rel = {r for r in (_relative(p) for p in changed) if not _ignored(r)}
        if not rel:
            return
        with self.lock:
            if self.closed:
                return
            if not self.built or any(_needs_full(r) for r in rel):
                if any(r.startswith("macros/") for r in rel):
                    _drop_project_modules()
                self.full_build()
                return
            catalog = any(r.startswith("catalog/") for r in rel)
            if catalog:
                self._reload_catalog()
                if not self.built:
                    return
            docs = self.config.docs_dir
            for r in sorted(rel):
                path = (ROOT / r).resolve()
                if r.endswith(".md") and str(path).startswith(docs):
                    src = Path(os.path.relpath(path, docs)).as_posix()
                    if src in self.pages:
                        self.stale[src] = "page"
                        self._want(src)
            self._work.notify_all()

    def _reload_catalog(self) -> None:
        started = time.perf_counter()
        try:
            glue = sys.modules.get("macros.glue")
            if glue is None:
                from . import glue
            plugin = self.config.plugins["macros"]
            _cache_catalog_files()
            old_ctx = self.config.get("guide_build_ctx")
            glue.define_env(plugin)
            new_ctx = self.config["guide_build_ctx"]
            if old_ctx is not None:
                _carry_engine_results(old_ctx.engine, new_ctx.engine)
            plugin.env.globals.update(plugin.macros)
            plugin.variables["macros"].update(plugin.macros)
        except BaseException as exc:  # noqa: BLE001
            if isinstance(exc, KeyboardInterrupt):
                raise
            self.problems = error_lines(exc)
            self._report()
            return
        if self._catalog_ids() != self.ids:
            self.full_build()  # an item added or removed: its page comes or goes
            return
        self.problems = []
        self.generation += 1
        for src in self.pages:
            self.stale[src] = "page"
        self._report(f"catalog reloaded in {time.perf_counter() - started:.2f} s; pages render as they are asked for")

    def _catalog_ids(self) -> tuple[frozenset, ...]:
        """The ids that have generated pages: a change here changes the set of files."""
        catalog = self.config["guide_build_ctx"].catalog
        return frozenset(catalog.models), frozenset(catalog.hardware), frozenset(catalog.rigs)

    def _want(self, src: str) -> None:
        if src in self.wanted:
            self.wanted.remove(src)
        self.wanted.insert(0, src)

    # ------------------------------------------------------------------ serving
    def ensure(self, url_path: str) -> None:
        """Before a page is served: render it now if an edit left it stale."""
        rel = url_path.lstrip("/")
        if rel == "" or rel.endswith("/"):
            rel += "index.html"
        with self.lock:
            src = self.by_dest.get(rel) if self.built and not self.closed else None
            level = self.stale.pop(src, None) if src else None
            if level:
                self.render(src, level)
                if not self.stale:
                    self._finish_quietly()

    def notes_for(self, url_path: str) -> tuple[list[str], list[str]]:
        """(errors, warnings) to show on a page: the site's, then the page's own."""
        rel = url_path.lstrip("/")
        if rel == "" or rel.endswith("/"):
            rel += "index.html"
        with self.lock:
            src = self.by_dest.get(rel) if self.built else None
            errors = self.problems + self.page_errors.get(src, [])
            warnings = self.warnings + self.page_warnings.get(src, [])
        return errors, warnings

    def _background(self) -> None:
        while True:
            with self._work:
                self._work.wait_for(lambda: bool(self.stale) or self.closed)
                if self.closed:
                    return
                src = next((s for s in self.wanted if s in self.stale), None) or next(iter(self.stale))
                if src in self.wanted:
                    self.wanted.remove(src)
                level = self.stale.pop(src)
                try:
                    self.render(src, level)
                    if not self.stale:
                        self._finish_quietly()
                except BaseException:  # noqa: BLE001 - keep serving
                    pass
            time.sleep(0.002)  # let a waiting request take the lock between pages

    def close(self) -> None:
        """Stop rendering (the caller then removes the folder)."""
        with self.lock:
            self.closed = True
            self.stale.clear()
            self._work.notify_all()

    def _finish_quietly(self) -> None:
        try:
            self._finish()
        except Exception as exc:  # noqa: BLE001
            self.warnings = error_lines(exc)
        self._report("all pages current")

    def _report(self, done: str | None = None) -> None:
        for line in self.problems:
            log.error(line)
        if done and not self.problems:
            log.info(done)
        for line in self.warnings:
            log.warning(line)


def _relative(path: str) -> str:
    try:
        return Path(path).resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return path


def _ignored(rel: str) -> bool:
    """Editor swap and backup files, caches: not edits of the site."""
    name = rel.rsplit("/", 1)[-1]
    return (name.startswith((".", "#")) or name.endswith(("~", ".swp", ".swx", ".tmp", ".pyc")) or name.isdigit()
            or "/__pycache__/" in f"/{rel}")


def _needs_full(rel: str) -> bool:
    """Edits that change code, configuration or the set of files: the whole site again."""
    if rel.startswith("macros/") or rel == "mkdocs.yml":
        return True
    if rel.startswith("docs/"):
        path = ROOT / rel
        return not (rel.endswith(".md") and path.exists()) or "/_snippets/" in rel or rel.startswith("docs/_")
    return False


BANNER = ('<div class="guide-dev-problems" style="position:sticky;top:0;z-index:1000;padding:.6em 1em;'
          'background:#b00020;color:#fff;font:14px/1.4 monospace;white-space:pre-wrap">{}</div>')


def banner(errors: list[str], warnings: list[str]) -> str:
    lines = [f"error: {e}" for e in errors[:20]] + [f"warning (make build fails on it): {w}" for w in warnings[:20]]
    if not lines:
        return ""
    if not errors:
        return BANNER.replace("#b00020", "#8a5a00").format(html.escape("\n".join(lines)))
    return BANNER.format(html.escape("\n".join(lines) + "\n(the page below is from the last good build)"))


def make_server(site: DevSite, host: str, port: int):
    import watchdog.events
    from mkdocs.livereload import LiveReloadServer

    class Server(LiveReloadServer):
        """MkDocs' live-reload server, told which files changed and asking the site before serving."""

        def __init__(self):
            super().__init__(builder=self._rebuild, host=host, port=port, root=str(site.site_dir),
                             polling_interval=0.2)
            self.build_delay = 0.05
            self._changed: set[str] = set()
            self._local = threading.local()
            self.error_handler = self._error_page

        def watch(self, path, func=None, *, recursive=True):
            path = os.path.abspath(path)
            if path in self._watched_paths:
                return
            self._watched_paths[path] = 1

            def callback(event):
                if event.is_directory:
                    return
                with self._rebuild_cond:
                    self._changed.add(event.src_path)
                    if getattr(event, "dest_path", None):
                        self._changed.add(event.dest_path)
                    self._want_rebuild = True
                    self._rebuild_cond.notify_all()

            handler = watchdog.events.FileSystemEventHandler()
            handler.on_any_event = callback
            self._watch_refs[path] = self.observer.schedule(handler, path, recursive=recursive)

        def _rebuild(self):
            with self._rebuild_cond:
                changed, self._changed = self._changed, set()
            site.apply(changed)

        def _serve_request(self, environ, start_response):
            path = environ["PATH_INFO"].encode("latin-1").decode("utf-8", "ignore")
            self._local.path = path
            if not path.startswith("/livereload/") and (path.endswith("/") or path.endswith(".html")):
                site.ensure(path)
            return super()._serve_request(environ, start_response)

        def _inject_js_into_html(self, content, epoch):
            content = super()._inject_js_into_html(content, epoch)
            top = banner(*site.notes_for(getattr(self._local, "path", "/")))
            if top:
                at = content.find(b">", content.find(b"<body")) + 1
                content = content[:at] + top.encode("utf-8") + content[at:]
            return content

        def _error_page(self, code):
            errors, warnings = site.notes_for("/")
            page = site.site_dir / f"{code}.html"
            body = page.read_bytes() if page.is_file() else (
                b"<!doctype html><html><head><meta charset=utf-8><title>Not built</title></head>"
                b"<body><p>The site has not been built yet.</p></body></html>")
            return self._inject_js_into_html(body, self._visible_epoch) if (errors or warnings or not
                                                                            page.is_file()) else body

    return Server()


def serve(host: str = "127.0.0.1", port: int = 8000) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    # mkdocs-macros logs a page's error with its whole traceback, and MkDocs logs it again: the
    # server prints one line of its own instead
    logging.getLogger("mkdocs.plugins.mkdocs_macros.util").setLevel(logging.CRITICAL)
    logging.getLogger("mkdocs.commands.build").setLevel(logging.CRITICAL)
    os.environ["GUIDE_KEEP_MODULES"] = "1"  # glue.py: the server drops project modules itself on code edits
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")
    site_dir = Path(tempfile.mkdtemp(prefix="guide-serve-"))

    def on_signal(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    server = site = None
    try:
        site = DevSite(ROOT / "mkdocs.yml", site_dir, f"http://{host}:{port}/")
        server = make_server(site, host, port)
        site.full_build()
        for part in ("docs", "catalog", "macros", "mkdocs.yml"):
            server.watch(str(ROOT / part))
        server.serve()
    except KeyboardInterrupt:
        log.info("stopped")
    finally:
        if server is not None:
            server.shutdown()
        if site is not None:
            site.close()
        shutil.rmtree(site_dir, ignore_errors=True)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m macros.serve", description=__doc__.splitlines()[0])
    parser.add_argument("--dev-addr", default="127.0.0.1:8000", help="host:port (default 127.0.0.1:8000)")
    args = parser.parse_args(argv)
    host, _, port = args.dev_addr.rpartition(":")
    return serve(host or "127.0.0.1", int(port))


if __name__ == "__main__":
    sys.exit(main())
