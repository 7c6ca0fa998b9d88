"""The built site: offline, reproducible, safe to host, with every internal link and anchor valid."""

from __future__ import annotations

import filecmp
import html
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from conftest import ROOT

HREF = re.compile(r"""<(a|link|script|img|source|iframe)\b[^>]*?\b(href|src)=["']([^"']*)["']""", re.I)
IDS = re.compile(r"""\bid=["']([^"']+)["']""")


def _html_files(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def test_nothing_reached_the_network(site_builds):
    log = site_builds["network_log"]
    assert not log.exists() or log.read_text() == "", log.read_text()


def test_no_asset_from_another_host(built_site):
    offenders = []
    for page in _html_files(built_site):
        for tag, attr, url in HREF.findall(page.read_text()):
            if tag.lower() == "a":
                continue  # a link a reader may follow, not something the page loads
            if re.match(r"^(https?:)?//", url):
                offenders.append(f"{page.relative_to(built_site)}: <{tag} {attr}={url}>")
    assert not offenders, offenders[:20]
    css = [p for p in built_site.rglob("*.css")]
    for sheet in css:
        assert not re.search(r"@import\s+url\((['\"])?https?:|url\((['\"])?https?://", sheet.read_text()), sheet


def test_two_builds_are_byte_identical(site_builds):
    a, b = site_builds["real"], site_builds["again"]
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert files_a == files_b
    _, mismatch, errors = filecmp.cmpfiles(a, b, [str(p) for p in files_a], shallow=False)
    assert not mismatch and not errors, mismatch[:10]


def test_catalog_strings_reach_html_escaped(site_builds):
    site = site_builds["changed"]
    live = ['<script>alert("planted")', "<img src=x onerror", '"><script>alert(3)', "<script>alert(3)"]
    seen_escaped = False
    for page in _html_files(site):
        text = page.read_text()
        for bad in live:
            assert bad not in text, f"live markup from the catalog in {page.relative_to(site)}: {bad}"
        seen_escaped |= "&lt;script&gt;alert(" in text or "\\u003cscript" in text
    assert seen_escaped, "the planted strings never reached a page; the test checks nothing"


def _target(site: Path, page: Path, url: str) -> tuple[Path, str] | None:
    parts = urlsplit(url)
    if parts.scheme or url.startswith("//") or url.startswith(("mailto:", "data:", "javascript:")):
        return None
    path = unquote(parts.path)
    if path.startswith("/"):  # 404.html is served at any address, so it links from the site root
        target = (site / path.lstrip("/")).resolve()
    else:
        target = (page.parent / path).resolve() if path else page.resolve()
    if target.is_dir():
        target = target / "index.html"
    return target, unquote(parts.fragment)


def test_internal_links_and_anchors(built_site):
    ids: dict[Path, set[str]] = {}
    broken = []
    for page in _html_files(built_site):
        for tag, attr, url in HREF.findall(page.read_text()):
            found = _target(built_site, page, html.unescape(url))
            if found is None:
                continue
            target, fragment = found
            if not target.exists():
                broken.append(f"{page.relative_to(built_site)} -> {url}")
                continue
            if fragment and target.suffix == ".html":
                if target not in ids:
                    ids[target] = set(IDS.findall(target.read_text()))
                if fragment not in ids[target]:
                    broken.append(f"{page.relative_to(built_site)} -> {url} (no anchor)")
    assert not broken, broken[:20]


def test_external_links_are_listed_not_fetched(built_site):
    """External links are collected into build/test-artifacts/external-links.txt (outside the published site) for a person to check."""
    links = set()
    for page in _html_files(built_site):
        for tag, _, url in HREF.findall(page.read_text()):
            if tag.lower() == "a" and re.match(r"^https?://", url):
                links.add(html.unescape(url))
    for url in links:
        assert urlsplit(url).netloc, url
    out = ROOT / "build" / "test-artifacts"
    out.mkdir(parents=True, exist_ok=True)
    (out / "external-links.txt").write_text("\n".join(sorted(links)) + "\n")
    assert links  # the catalog's sources are linked
