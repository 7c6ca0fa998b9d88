"""Pages made for readers, checked on the built site (one build per session, shared through conftest).

Units as sold, no working notes or paths, sources a reader can open, no double escaping, headings in
order, every table captioned, charts readable (text size and line contrast). The browser checks of
the same pages are in test_pages_browser.py.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from conftest import CHANGED_HW, NEW_GB


def _pages(site: Path) -> list[Path]:
    return sorted(p for p in site.rglob("*.html") if "assets" not in p.parts and p.name != "404.html")


def _article(path: Path) -> str:
    raw = path.read_text()
    return raw[raw.index("<article"):raw.index("</article>")] if "<article" in raw else ""


def _text(fragment: str) -> str:
    fragment = re.sub(r"<svg\b.*?</svg>", " ", fragment, flags=re.S)
    fragment = re.sub(r"<script\b.*?</script>", " ", fragment, flags=re.S)
    fragment = re.sub(r"</?(?:code|abbr|a|strong|em|span)\b[^>]*>", "", fragment)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", fragment)))


def _row(text: str, label: str) -> str:
    """The text after a two-column spec table's label, up to the next label-like break."""
    m = re.search(rf"\b{re.escape(label)} (.{{0,40}})", text)
    assert m, f"no {label!r} row"
    return m.group(1)


@pytest.fixture(scope="module")
def articles(built_site) -> dict[str, str]:
    return {str(p.relative_to(built_site)): _article(p) for p in _pages(built_site)}


# --------------------------------------------------------------------------- units as sold


def test_capacities_print_as_sold(built_site):
    """Vendors sell the RTX 5090 with 32 GB (NVIDIA's spec page) and the M3 Ultra Mac Studio with up to
    512 GB (Apple's); the pages print those figures, not 34.4 GB or 549.8 GB (the same bytes in 10^9)."""
    card = _text(_article(built_site / "hardware/rtx-5090/index.html"))
    assert _row(card, "Memory").startswith("32 GB ")
    assert "34.4 GB" not in card and "(32.0 GiB)" not in card
    mac = _text(_article(built_site / "hardware/apple-m3-ultra-80c/index.html"))
    assert _row(mac, "Memory").startswith("512 GB ")
    assert "549.8 GB" not in mac
    # a rig: two 32 GB cards and 512 GB of DDR5, as its name says
    rig = _text(_article(built_site / "hardware/2x-rtx-5090-512gb-ddr5/index.html"))
    assert _row(rig, "Accelerator memory").startswith("64 GB ")
    assert _row(rig, "System RAM").startswith("512 GB ")
    # the hardware index lists the same figures
    index = _text(_article(built_site / "hardware/index.html"))
    assert "GeForce RTX 5090 device gpu 32 GB" in index or re.search(r"RTX 5090 \w+ gpu 32 GB", index)


def test_changed_capacity_prints_as_typed(site_builds):
    """The changed catalog gives the RTX 4090 `memory_gb: 48`: its page says 48 GB."""
    card = _text(_article(site_builds["changed"] / f"hardware/{CHANGED_HW}/index.html"))
    assert _row(card, "Memory").startswith(f"{NEW_GB} GB ")


def test_no_gib_outside_the_units_note(articles):
    """Reader pages print one unit per kind of figure; GiB appears only in the methodology's units note
    (and on the fact-check page, whose subject includes guides that wrote GB for GiB)."""
    offenders = []
    for page, body in articles.items():
        if page == "fact-check/index.html":
            continue
        body = re.sub(r'<div class="units-note">.*?</div>', " ", body, flags=re.S)
        for m in re.finditer(r"GiB", _text(body)):
            offenders.append(f"{page}: ...{_text(body)[max(0, m.start() - 60):m.end() + 20]}...")
    assert not offenders, "\n".join(offenders[:20])


def test_units_note_explains_both_units(built_site):
    note = _text(_article(built_site / "methodology/index.html"))
    assert "2^30" in note and "10^9" in note and "GB/s" in note and "Hugging Face" in note


# --------------------------------------------------------------------------- pages for readers


def test_no_catalog_notes_on_pages(articles, catalog):
    """`notes:` fields are for editors; neither the label nor the words reach a page."""
    offenders = [p for p, body in articles.items() if "Catalog note" in _text(body)]
    assert not offenders, offenders[:10]
    leaked = []
    texts = {p: _text(body) for p, body in articles.items()}
    for kind, folder in (("models", "models"), ("hardware", "hardware"), ("rigs", "hardware")):
        for rid, rec in getattr(catalog, kind).items():
            notes = getattr(rec, "notes", None)
            if notes and len(notes) >= 30:
                page = f"{folder}/{rid}/index.html"
                if page in texts and notes[:30] in texts[page]:
                    leaked.append(page)
    assert not leaked, leaked[:10]


PATHLIKE = re.compile(r"(?:\.\./|/work/|\bshared/(?:seeds|reference)/|\breference/[\w.-]+\.(?:md|txt|json|csv))")


def test_no_path_outside_the_repository(articles):
    """No page cites a file outside the repository (the seeds, the reference folder, a local path)."""
    offenders = []
    for page, body in articles.items():
        text = _text(body)
        for m in PATHLIKE.finditer(text):
            offenders.append(f"{page}: ...{text[max(0, m.start() - 50):m.end() + 30]}...")
    assert not offenders, "\n".join(offenders[:20])


def test_no_working_notes(articles):
    for page, body in articles.items():
        text = _text(body)
        assert "publisher and title not shown" not in text, page
        assert "NOT found" not in text, page


def test_sources_are_public_links_with_title_and_date(built_site, catalog):
    """Each Source row on a model or hardware page holds links only: https, a title, the date read."""
    checked = 0
    for path in list((built_site / "hardware").glob("*/index.html")) + list((built_site / "models").glob("*/index.html")):
        body = _article(path)
        m = re.search(r"<td[^>]*>Source</td>\s*<td[^>]*>(.*?)</td>", body, flags=re.S)
        if not m:
            continue
        cell = m.group(1).strip()
        checked += 1
        if cell in ("-", ""):
            continue
        link = r'<a href="([^"]*)">((?:(?!</a>).)+)</a>, read (\d{4}-\d{2}-\d{2})'
        links = re.findall(link, cell)
        assert links, f"{path}: {cell[:200]}"
        assert re.sub(link + "(?:; )?", "", cell) == "", f"{path}: {cell[:300]}"
        for url, title, _ in links:
            title = _text(title).strip()
            assert url.startswith("https://") and title and "://" not in title, (path, url, title)
    assert checked >= 20


def test_no_double_escaped_text(articles):
    """An entity escaped twice shows as `&#x27;` on the page."""
    offenders = [p for p, body in articles.items()
                 if re.search(r"&amp;(?:#x?[0-9a-fA-F]+|quot|amp|lt|gt|apos);", body)]
    assert not offenders, offenders


# --------------------------------------------------------------------------- structure


def test_headings_in_order(articles):
    """No page skips a heading level on the way down (h2 -> h4)."""
    offenders = []
    for page, body in articles.items():
        levels = [int(x) for x in re.findall(r"<h([1-6])\b", body)]
        for a, b in zip(levels, levels[1:]):
            if b > a + 1:
                offenders.append(f"{page}: h{a} -> h{b}")
    assert not offenders, offenders[:20]


def test_every_table_has_a_caption(articles):
    missing = []
    for page, body in articles.items():
        for m in re.finditer(r"<table>", body):
            if not body.startswith("\n<caption", m.end()):
                missing.append(page)
    assert not missing, sorted(set(missing))[:20]


# --------------------------------------------------------------------------- charts


def _contrast(hex_color: str, background: str = "#ffffff") -> float:
    """WCAG 2 contrast ratio (computed here, not with the chart module's helper)."""
    def lum(c):
        rgb = [int(c[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        rgb = [x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4 for x in rgb]
        return 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]
    a, b = sorted((lum(hex_color), lum(background)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def _charts(built_site) -> list[tuple[str, str]]:
    out = []
    for page in _pages(built_site):
        for svg in re.findall(r'<figure class="chart".*?</figure>', page.read_text(), flags=re.S):
            out.append((str(page.relative_to(built_site)), svg))
    return out


def test_chart_lines_have_contrast(built_site):
    """Every stroke drawn in a chart (series, markers, grid, axes) is opaque and 3:1 or more against
    the white page (WCAG 1.4.11); black is 21:1, the light greys and orange the old charts used ~1.5-2.5."""
    charts = _charts(built_site)
    assert charts
    low = set()
    for page, svg in charts:
        assert not re.search(r"(?:stroke-)?opacity:\s*0?\.\d", svg), f"{page}: a translucent line"
        for colour in re.findall(r"stroke:\s*(#[0-9a-fA-F]{6})", svg):
            if _contrast(colour.lower()) < 3.0:
                low.add((page, colour))
    assert not low, sorted(low)[:10]


def test_chart_text_at_least_12px_at_640px(built_site):
    """site.css never draws a chart narrower than 640 px; at that width each text is 12 px or more:
    font size (SVG units) x 640 / viewBox width >= 12."""
    for page, svg in _charts(built_site):
        width = float(re.search(r'viewBox="0 0 ([\d.]+) [\d.]+"', svg).group(1))
        sizes = [float(s) for s in re.findall(r"font(?:-size)?:\s*(?:[a-z]+\s+)*([\d.]+)px", svg)]
        assert sizes, page
        assert min(sizes) * 640 / width >= 12, (page, min(sizes), width)


# --------------------------------------------------------------------------- helpers, without a build


def test_capacity_prints_the_figure_as_sold():
    """A capacity of N x 2^30 bytes prints as "N GB": 24 GiB = 25,769,803,776 bytes -> "24 GB"."""
    from macros.render import fmt
    assert fmt.capacity(25_769_803_776) == "24 GB"
    assert fmt.capacity(512 * 1_073_741_824) == "512 GB"
    assert fmt.capacity(1024 * 1_073_741_824) == "1,024 GB"
    assert fmt.capacity(536_870_912) == "0.5 GB"  # half of 2^30
    assert fmt.gb(25_769_803_776) == "25.8 GB"  # the same bytes as a computed size, GB of 10^9


def test_tables_get_captions():
    from macros.render.common import table, table_captions
    page = ('<h2 id="specs">Specs<a class="headerlink" href="#specs">&para;</a></h2>\n<table>\n<thead></thead></table>\n'
            + table(["a"], [["1"]], caption="Qwen3.5-27B at Q4_K_M").split("\n\n")[0] + "\n<table>\n</table>")
    out = table_captions(page)
    assert '<table>\n<caption class="table-caption table-caption--heading">Specs</caption>' in out
    assert '<table>\n<caption class="table-caption">Qwen3.5-27B at Q4_K_M</caption>' in out
    assert out.count("<caption") == 2
