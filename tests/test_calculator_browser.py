"""The calculator page in a real browser (Debian's chromium through Playwright), against the engine.

The page repeats the engine's placement and speed arithmetic in JavaScript, so this drives it with
seeded random inputs and compares every figure with `python -m macros estimate --json` (run
in-process). It also loads shared links, feeds it bad input, checks that it requests nothing from
another host, and writes screenshots to build/test-artifacts/ (outside the published site). Skipped when /usr/bin/chromium is missing.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import io
import json
import math
import os
import random
import sys
import threading
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from macros import calculator, cli  # noqa: E402
from macros.catalog import load_catalog  # noqa: E402
from macros.engine import Engine  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
ARTIFACTS = ROOT / "build" / "test-artifacts"
N_RANDOM = 400  # random inputs compared with the engine
N_CONTEXT = 400  # of those, how many also compare the largest context (bisection: ~40 estimates each)
REL_TOL = 0.005  # 0.5 %
SEED = 20260401

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")


def _catalog_root() -> Path:
    return Path(os.environ.get("GUIDE_CATALOG") or ROOT / "catalog")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def calc_engine():
    return Engine(load_catalog(_catalog_root()))


@pytest.fixture(scope="session")
def calc_site(built_site) -> Path:
    """The site built once per session (conftest); CALC_SITE_DIR reuses one built earlier."""
    prebuilt = os.environ.get("CALC_SITE_DIR")
    return Path(prebuilt) if prebuilt else built_site


@pytest.fixture(scope="session")
def calc_server(calc_site):
    """A static server on 127.0.0.1 over the built site."""
    handler = functools.partial(_QuietHandler, directory=str(calc_site))
    httpd = _QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)  # a navigation away mid-transfer is not an error


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def calc_browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def calc_page(calc_browser, calc_server):
    """One page for the module; every request is checked: only file:// and 127.0.0.1 are allowed."""
    context = calc_browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.foreign_requests = []
    pg.page_errors = []

    def guard(route):
        url = route.request.url
        if url.startswith(("file://", "http://127.0.0.1", "http://localhost", "data:", "blob:", "about:")):
            route.continue_()
        else:
            pg.foreign_requests.append(url)
            route.abort()

    pg.route("**/*", guard)
    pg.on("pageerror", lambda err: pg.page_errors.append(str(err)))
    yield pg
    context.close()


def _open(pg, url: str) -> None:
    """A fresh load (a goto that changes only the hash would not reload the page)."""
    pg.goto("about:blank")
    pg.goto(url)
    pg.wait_for_selector("#calc[data-ready='1']", timeout=10_000)


def _set_hash(pg, fragment: str) -> None:
    # Resolve on the page's hashchange; at once when the hash is already that (no event would come); and
    # after 5 s at the latest, so a missed event fails the checks below instead of hanging the suite.
    pg.evaluate("""h => new Promise(done => {
        if (window.location.hash === '#' + h.replace(/^#/, '')) { setTimeout(done, 0); return; }
        window.addEventListener('hashchange', () => setTimeout(done, 0), {once: true});
        setTimeout(done, 5000);
        window.location.hash = h;
    })""", fragment)


def _out(pg) -> dict:
    return pg.eval_on_selector("#calc-out", "e => Object.assign({}, e.dataset)")


# --------------------------------------------------------------------------- the engine's side


def _argv(state: dict) -> list[str]:
    """`python -m macros estimate` arguments for a page state (as the page writes it in its link)."""
    argv = ["--json", "estimate", "--model", state["m"], "--quant", state["q"], "--context", state["ctx"],
            "--kv-type", state["kv"], "--runtime", state["rt"]]
    if "rig" in state:
        argv += ["--hardware", state["rig"]]
    elif "kind" in state:
        argv += ["--kind", state["kind"], "--memory-gb", state["mem"], "--bandwidth-gb-s", state["bw"]]
        if "tf" in state:
            argv += ["--tflops", state["tf"]]
        if "n" in state:
            argv += ["--count", state["n"]]
        if float(state.get("ram", 0)):
            argv += ["--ram-gb", state["ram"]]
    else:
        argv += ["--hardware", state["hw"], "--count", state["n"]]
        if float(state["ram"]):
            argv += ["--ram-gb", state["ram"]]
    return argv


def _cli_json(engine: Engine, argv: list[str]) -> dict:
    args = cli.build_parser().parse_args(argv[1:] if argv[0] == "--json" else argv)
    args.json = True
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = cli.cmd_estimate(engine, args)
    assert rc == 0, f"estimate failed for {argv}"
    return json.loads(buf.getvalue())


def engine_estimate(engine: Engine, state: dict) -> dict:
    """The CLI's JSON for this state, through the CLI's own code path (in-process, shared engine). The
    page shows decode with the cache full and prefill of a micro-batch-long prompt into an empty cache:
    the CLI's --depth says which."""
    argv = _argv(state)
    full = _cli_json(engine, argv + ["--depth", state["ctx"]])
    empty = _cli_json(engine, argv + ["--depth", "0", "--prompt", str(engine.settings.ubatch_tokens)])
    full["prefill_tok_s"] = empty["prefill_tok_s"]
    return full


def _valid(engine: Engine, state: dict) -> bool:
    """Whether the CLI takes this state (a runtime that loads the quant's format on that backend)."""
    argv = _argv({k: v for k, v in state.items() if v != ""})
    args = cli.build_parser().parse_args(argv[1:])
    return cli._conflicting_flags(engine, args) is None


def engine_machine(engine: Engine, state: dict):
    if "rig" in state:
        return engine.machine(state["rig"])
    if "kind" in state:
        from macros.engine import custom_machine
        return custom_machine(state["kind"], float(state["mem"]), float(state["bw"]),
                              float(state["tf"]) if "tf" in state else None, int(state.get("n", 1)),
                              float(state.get("ram", 0)))
    return engine.machine(state["hw"], int(state["n"]), float(state["ram"]))


# --------------------------------------------------------------------------- random inputs


def random_inputs(engine: Engine, n: int, seed: int = SEED) -> list[dict]:
    cat = engine.catalog
    rng = random.Random(seed)
    models, quants = list(cat.models.values()), list(cat.quants)
    hardware, rigs, runtimes = list(cat.hardware.values()), list(cat.rigs), list(cat.runtimes)
    rams = [0, 0, 16, 32, 64, 96, 128, 192, 256, 512]
    out = []
    while len(out) < n:
        m = rng.choice(models)
        limit = m.context_extended or m.architecture.max_position_embeddings
        lo = min(calculator.MIN_CONTEXT, limit)
        ctx = int(round(math.exp(rng.uniform(math.log(lo), math.log(limit)))))
        s = {"m": m.id, "q": rng.choice(quants), "ctx": str(ctx), "kv": rng.choice(("f16", "q8_0", "q4_0")),
             "rt": rng.choice(runtimes)}
        r = rng.random()
        if r < 0.2 and rigs:
            s.update(mode="rig", rig=rng.choice(rigs))
        elif r < 0.35:
            kind = rng.choice(("gpu", "gpu", "unified", "cpu"))
            s.update(mode="custom", kind=kind, mem=f"{math.exp(rng.uniform(math.log(4), math.log(600))):.1f}",
                     bw=f"{math.exp(rng.uniform(math.log(40), math.log(8000))):.0f}",
                     tf="" if rng.random() < 0.3 else f"{math.exp(rng.uniform(math.log(2), math.log(2000))):.1f}",
                     n=str(rng.choice((1, 1, 2, 4)) if kind == "gpu" else 1), ram=str(rng.choice(rams)))
        else:
            h = rng.choice(hardware)
            s.update(mode="device", hw=h.id, n=str(rng.choice((1, 1, 1, 2, 3, 4, 8)) if h.kind == "gpu" else 1),
                     ram=str(rng.choice(rams)))
        if _valid(engine, s):
            out.append(s)
    return out


# The page's form, set from a state and read back: one evaluate per batch of inputs.
DRIVE_JS = """
(states) => {
  const f = id => document.getElementById(id);
  const out = [];
  for (const s of states) {
    f('calc-hwmode').value = s.mode;
    f('calc-model').value = s.m; f('calc-quant').value = s.q; f('calc-kv').value = s.kv;
    f('calc-runtime').value = s.rt;
    if (s.mode === 'rig') f('calc-rig').value = s.rig;
    if (s.mode === 'device') f('calc-hw').value = s.hw;
    if (s.mode === 'custom') {
      f('calc-kind').value = s.kind; f('calc-mem').value = s.mem; f('calc-bw').value = s.bw;
      f('calc-tflops').value = s.tf;
    }
    if (s.n !== undefined) f('calc-count').value = s.n;
    if (s.ram !== undefined) f('calc-ram').value = s.ram;
    const ctx = f('calc-ctx');
    ctx.value = s.ctx;
    ctx.dispatchEvent(new Event('change', {bubbles: true}));
    const o = Object.assign({}, f('calc-out').dataset);
    o.messages = f('calc-msgs').textContent;  // textContent: no layout per input
    o.text = f('calc-out').textContent;
    out.push(o);
  }
  return out;
}
"""


def _num(text: str) -> float | None:
    return None if text in ("", None) else float(text)


def _int(text: str) -> int | None:
    return None if text in ("", None) else int(text)


def _rel(a: float | None, b: float | None) -> float:
    if a is None or b is None:
        return 0.0 if a is None and b is None else math.inf
    if a == b:
        return 0.0
    return abs(a - b) / max(abs(a), abs(b))


def test_random_inputs_match_the_engine(calc_page, calc_server, calc_engine):
    _open(calc_page, f"{calc_server}/calculator/")
    inputs = random_inputs(calc_engine, N_RANDOM)
    results = []
    for i in range(0, len(inputs), 100):
        results += calc_page.evaluate(DRIVE_JS, inputs[i:i + 100])
    worst = {"total": 0.0, "decode": 0.0, "prefill": 0.0, "gpu_bytes": 0.0, "ram_bytes": 0.0}
    placements: dict[str, int] = {}
    problems = []
    for i, (given, got) in enumerate(zip(inputs, results)):
        state = dict(parse_qsl(got["state"]))
        # The form must carry the input through unchanged (the generator only makes valid input).
        assert state["m"] == given["m"] and state["q"] == given["q"] and state["ctx"] == given["ctx"], (given, state)
        assert not got["messages"], (given, got["messages"])
        assert "NaN" not in got["text"] and "undefined" not in got["text"], (given, got["text"])
        ref = engine_estimate(calc_engine, state)
        fit = ref["fit"]
        placements[fit["placement"]] = placements.get(fit["placement"], 0) + 1
        where = f"input {i}: {got['state']}"
        if got["placement"] != fit["placement"] or got["fits"] != str(fit["fits"]).lower() \
                or got["runs"] != str(fit["runs"]).lower():
            problems.append(f"{where}: placement {got['placement']}/{got['fits']}/{got['runs']} vs {fit['placement']}/{fit['fits']}/{fit['runs']}")
            continue
        if _int(got["ngl"]) != fit["gpu_layers"] or _int(got["ncm"]) != fit["n_cpu_moe"]:
            problems.append(f"{where}: -ngl {got['ngl']} --n-cpu-moe {got['ncm']} vs {fit['gpu_layers']} {fit['n_cpu_moe']}")
        if got["mode"] != ref["mode"]:
            problems.append(f"{where}: mode {got['mode']} vs {ref['mode']}")
        pairs = {"total": (_num(got["total"]), ref["memory"]["total_bytes"]),
                 "decode": (_num(got["decode"]), ref["decode_tok_s"]),
                 "prefill": (_num(got["prefill"]), ref["prefill_tok_s"]),
                 "gpu_bytes": (_num(got["gpuBytes"]), fit["gpu_bytes"]),
                 "ram_bytes": (_num(got["ramBytes"]), fit["ram_bytes"])}
        for key, (a, b) in pairs.items():
            d = _rel(a, b) if key not in ("gpu_bytes", "ram_bytes") or max(abs(a or 0), abs(b or 0)) > 1e6 else 0.0
            worst[key] = max(worst[key], d)
            if d > REL_TOL:
                problems.append(f"{where}: {key} {a} vs engine {b}")
        if i < N_CONTEXT:
            machine = engine_machine(calc_engine, state)
            for need, key in (("fits", "fitCtx"), ("runs", "runCtx")):
                want = calculator.largest_context(calc_engine, state["m"], state["q"], state["kv"], machine, need)
                if _int(got[key]) != want:
                    problems.append(f"{where}: largest context ({need}) {got[key]} vs engine {want}")
    report = {"inputs": len(results), "largest_context_checked": min(N_CONTEXT, len(results)),
              "worst_relative_deviation": worst, "placements": placements}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "calculator-compare.json").write_text(json.dumps(report, indent=2))
    print(f"\ncalculator vs engine: {json.dumps(report)}")
    assert not problems, "\n".join(problems[:30])
    assert len(results) >= 200 and report["largest_context_checked"] >= 200
    assert len(placements) >= 4, placements  # the inputs reach several kinds of placement
    assert not calc_page.page_errors, calc_page.page_errors


def test_shared_link_restores_the_same_state(calc_page, calc_server, calc_engine):
    state = {"m": "qwen3.5-122b-a10b", "q": "Q4_K_M", "ctx": "65536", "kv": "q8_0", "hw": "rtx-4090", "n": "1",
             "ram": "64", "rt": "llama.cpp"}
    cat = calc_engine.catalog
    state = {k: v for k, v in state.items()}
    if state["m"] not in cat.models:
        state["m"] = next(iter(cat.models))
    if state["hw"] not in cat.hardware:
        state["hw"] = next(h.id for h in cat.hardware.values() if h.kind == "gpu")
    query = "&".join(f"{k}={v}" for k, v in state.items())
    _open(calc_page, f"{calc_server}/calculator/#{query}")
    got = _out(calc_page)
    assert dict(parse_qsl(got["state"])) == state
    assert calc_page.input_value("#calc-model") == state["m"]
    assert calc_page.input_value("#calc-ctx") == state["ctx"]
    assert calc_page.input_value("#calc-kv") == state["kv"]
    assert calc_page.input_value("#calc-hw") == state["hw"]
    assert calc_page.inner_text("#calc-msgs").strip() == ""
    ref = engine_estimate(calc_engine, state)
    assert got["placement"] == ref["fit"]["placement"]
    assert _rel(_num(got["total"]), ref["memory"]["total_bytes"]) < 1e-9
    # The share link is the page's own state; following it in a fresh load gives the same figures.
    share = calc_page.get_attribute("#calc-share", "href")
    _open(calc_page, f"{calc_server}/calculator/{share}")
    assert _out(calc_page) == got
    # A query string works too (hosts that drop the hash).
    _open(calc_page, f"{calc_server}/calculator/?{query}")
    assert _out(calc_page)["state"] == got["state"]
    # A rig and a custom machine round-trip as well (links followed on the open page).
    if cat.rigs:
        rig = next(iter(cat.rigs))
        _set_hash(calc_page, f"m={state['m']}&q=Q4_K_M&ctx=8192&kv=f16&rig={rig}&rt=llama.cpp")
        assert calc_page.input_value("#calc-hwmode") == "rig" and calc_page.input_value("#calc-rig") == rig
        assert dict(parse_qsl(_out(calc_page)["state"]))["rig"] == rig
    _set_hash(calc_page, f"m={state['m']}&q=Q4_K_M&ctx=8192&kv=f16&kind=gpu&mem=48&bw=960&n=2&ram=128&rt=llama.cpp")
    custom = dict(parse_qsl(_out(calc_page)["state"]))
    assert (custom["kind"], custom["mem"], custom["bw"], custom["n"], custom["ram"]) == ("gpu", "48", "960", "2", "128")
    # Editing the form rewrites the address (after a short pause), so the address bar is the share link.
    calc_page.select_option("#calc-kv", "q4_0")
    calc_page.wait_for_function("() => location.hash === document.getElementById('calc-share').getAttribute('href')")
    assert "kv=q4_0" in calc_page.evaluate("() => location.hash")
    assert calc_page.input_value("#calc-hwmode") == "custom"


@pytest.mark.parametrize("fragment, expect", [
    ("m=no-such-model&q=Q4_K_M&ctx=8192", "Unknown model"),
    ("ctx=999999999", "above"),
    ("ctx=-5", "below"),
    ("ctx=lots", "not a number"),
    ("n=-3&hw=rtx-4090", "Device count"),
    ("ram=-64", "System RAM"),
    ("kind=gpu&mem=-24&bw=900", "Memory"),
    ("kind=gpu&mem=24&bw=0", "Bandwidth"),
    ("q=Q9_X&kv=q2", "Unknown quantization"),
    ("rig=no-such-rig", "rig"),
    ("hw=no-such-gpu", "Unknown hardware"),
])
def test_bad_input_in_the_link_falls_back_with_a_message(calc_page, calc_server, fragment, expect):
    if "/calculator/" not in calc_page.url or not calc_page.query_selector("#calc[data-ready='1']"):
        _open(calc_page, f"{calc_server}/calculator/")
    _set_hash(calc_page, fragment)  # a link followed on the open page: the hashchange path
    messages = calc_page.inner_text("#calc-msgs")
    assert expect.lower() in messages.lower(), messages
    got = _out(calc_page)
    text = calc_page.inner_text("#calc-out")
    assert "NaN" not in text and "undefined" not in text and "Infinity" not in text
    assert got["placement"] and got["total"] and float(got["total"]) > 0
    assert calc_page.inner_text("#calc-verdict-head").strip() not in ("", "Computing…")
    assert calc_page.inner_text("#calc-cmd").strip()


def test_context_slider_is_log_scale_and_clamped(calc_page, calc_server, calc_engine):
    _open(calc_page, f"{calc_server}/calculator/")
    model = calc_engine.catalog.models[calc_page.input_value("#calc-model")]
    limit = model.context_extended or model.architecture.max_position_embeddings
    values = []
    for v in (0, 500, 1000):
        calc_page.eval_on_selector("#calc-ctx-range", "(e, v) => { e.value = v; e.dispatchEvent(new Event('input', {bubbles: true})); }", v)
        values.append(int(calc_page.input_value("#calc-ctx")))
    assert values[0] == min(calculator.MIN_CONTEXT, limit)
    assert values[2] == limit
    geometric = math.sqrt(values[0] * values[2])
    assert 0.8 * geometric < values[1] < 1.2 * geometric  # the middle of the slider is the geometric mean
    assert calc_page.inner_text("#calc-msgs").strip() == ""


def test_catalog_strings_are_inserted_as_text(calc_page, calc_server):
    """A name with markup in the embedded data shows as text and runs nothing."""
    evil = '<img src=x onerror="window.__pwned=1">'

    def rewrite(route):
        resp = route.fetch()
        body = resp.text()
        data_start = body.index('id="calc-data">')
        head, tail = body[:data_start], body[data_start:]
        end = tail.index("</script>")
        data = json.loads(tail[len('id="calc-data">'):end].replace("<\\/", "</"))
        data["models"][0]["name"] = evil
        text = json.dumps(data).replace("</", "<\\/")
        route.fulfill(response=resp, body=head + 'id="calc-data">' + text + tail[end:])

    calc_page.route("**/calculator/", rewrite)
    try:
        _open(calc_page, f"{calc_server}/calculator/#m=" + _first_model(calc_page))
    finally:
        calc_page.unroute("**/calculator/", rewrite)
    assert calc_page.evaluate("() => window.__pwned") is None
    assert evil in calc_page.inner_text("#calc-links")
    assert calc_page.eval_on_selector("#calc-links", "e => e.querySelectorAll('img').length") == 0


def _first_model(calc_page) -> str:
    return calc_page.eval_on_selector("#calc-model option", "o => o.value")


def test_works_from_file_url_and_links_resolve(calc_page, calc_site, calc_engine):
    _open(calc_page, (calc_site / "calculator" / "index.html").as_uri() + "#ctx=16384")
    got = _out(calc_page)
    assert dict(parse_qsl(got["state"]))["ctx"] == "16384"
    assert float(got["total"]) > 0
    # The model, hardware and rig links point at pages the build made.
    cat = calc_engine.catalog
    fragments = ["ctx=16384"] + ([f"ctx=16384&rig={next(iter(cat.rigs))}"] if cat.rigs else [])
    for fragment in fragments:
        _set_hash(calc_page, fragment)
        hrefs = calc_page.eval_on_selector_all("#calc-links a", "els => els.map(a => a.href)")
        assert len(hrefs) >= 2
        for href in hrefs:
            target = Path(unquote(urlparse(href).path))
            assert (target / "index.html").exists(), href
    assert not calc_page.foreign_requests, calc_page.foreign_requests


def test_screenshots_and_no_foreign_requests(calc_browser, calc_server, calc_engine):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    foreign = []
    for width, name in ((1280, "desktop"), (390, "phone")):
        context = calc_browser.new_context(viewport={"width": width, "height": 900})
        pg = context.new_page()
        pg.route("**/*", lambda route: (foreign.append(route.request.url), route.abort())
                 if not route.request.url.startswith(("http://127.0.0.1", "file://", "data:", "about:"))
                 else route.continue_())
        model = "qwen3.5-122b-a10b" if "qwen3.5-122b-a10b" in calc_engine.catalog.models else ""
        _open(pg, f"{calc_server}/calculator/#m={model}&q=Q4_K_M&ctx=65536&kv=q8_0&hw=rtx-4090&n=1&ram=64&rt=llama.cpp")
        pg.add_style_tag(content=".md-header, .md-tabs { position: static !important; }")  # no sticky bar over the shot
        pg.locator("#calc").screenshot(path=str(ARTIFACTS / f"calculator-{name}.png"))
        if width < 500:  # on a phone the form and the result stack in one column
            boxes = pg.evaluate("() => [...document.querySelectorAll('.calc-card')].map(e => e.getBoundingClientRect().width)")
            assert all(b <= width for b in boxes), boxes
            assert pg.evaluate("() => document.documentElement.scrollWidth") <= width + 1
        context.close()
    assert (ARTIFACTS / "calculator-desktop.png").stat().st_size > 10_000
    assert (ARTIFACTS / "calculator-phone.png").stat().st_size > 10_000
    assert not foreign, foreign


def test_the_page_says_what_its_data_weighs(calc_page, calc_server, calc_engine):
    if not calc_page.query_selector("#calc-meta"):
        _open(calc_page, f"{calc_server}/calculator/")
    meta = calc_page.eval_on_selector("#calc-meta", "e => Object.assign({}, e.dataset)")
    raw, gz = calculator.data_size(calculator.data_json(calc_engine))
    assert int(meta["rawBytes"]) == raw and int(meta["gzipBytes"]) == gz
    assert f"{gz / 1e3:,.0f} kB gzipped" in calc_page.inner_text("#calc-meta")
    assert gz < calculator.DATA_BUDGET_GZIP_BYTES
