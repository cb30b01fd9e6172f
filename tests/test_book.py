"""Checks on the built book: it builds with -W, it is self-contained, and a browser renders it.

A session fixture builds the whole book once at the ``quick`` budget into ``_build/quick/``
(executing every notebook), then:

- every page in ``_toc.yml`` loads only local scripts, and those files exist;
- headless Chromium (Debian's, driven by Playwright) renders every chapter notebook from ``file://``
  with typeset math, loaded figures, no visible error trace, and a Colab launch button.

Needs what ``scripts/setup.sh`` installs (``make test`` runs it): the venv, ``book/_vendor``
and ``/usr/bin/chromium``. A missing piece is a failure, never a skip.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
QUICK_OUT = ROOT / "_build" / "quick"
HTML = QUICK_OUT / "_build" / "html"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The Colab buttons open the notebooks of the release tag the notebooks' install lines name (scripts/release.py).
COLAB_PREFIX = ("https://colab.research.google.com/github/gan-lab/gan-lab/blob/"
                + yaml.safe_load((Path(__file__).resolve().parents[1] / "_config.yml").read_text())["repository"]["branch"]
                + "/")
BUILD_TIMEOUT_S = 900
# Upstream noise that breaks nothing the book uses: sphinx-thebe 0.3 emits its inline config
# (`const THEBE_JS_URL = ...`) twice on every Jupyter Book 1 page; thebe itself is not enabled.
KNOWN_JS_ERRORS = ("Identifier 'THEBE_JS_URL' has already been declared",)


def toc_pages() -> list[str]:
    """Every document named in _toc.yml (root first), without suffix."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                pages.append(entry["file"])
            walk(entry.get("sections"))
            for part in entry.get("parts", []) or []:
                walk(part.get("chapters"))

    walk(toc.get("chapters"))
    for part in toc.get("parts", []) or []:
        walk(part.get("chapters"))
    return [str(Path(p).with_suffix("")) for p in pages]


def chapter_pages() -> list[str]:
    """The chapters that are notebooks (each gets the Colab button and the render checks)."""
    return [p for p in toc_pages() if (ROOT / f"{p}.ipynb").exists()]


# --------------------------------------------------------------------------- the build


ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(scope="session")
def quick_build() -> dict:
    """Build the book once at the quick budget with -W. Never fails itself: the tests report."""
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    if not jupyter_book.exists():
        return {"ok": False, "summary": f"{jupyter_book} not found: run scripts/setup.sh (or `make test`)"}
    vendor = ROOT / "book" / "_vendor" / "mathjax" / "tex-mml-chtml.js"
    if not vendor.exists():
        return {"ok": False, "summary": f"{vendor.relative_to(ROOT)} missing: run scripts/setup.sh to fetch it"}
    shutil.rmtree(QUICK_OUT, ignore_errors=True)
    QUICK_OUT.mkdir(parents=True)
    cmd = [str(jupyter_book), "build", ".", "--path-output", str(QUICK_OUT), "-W", "-n", "--keep-going"]
    shown = f"GAN_LAB_BUDGET=quick {' '.join(cmd)}"
    env = dict(os.environ, GAN_LAB_BUDGET="quick")
    # Build as `make book` does: tests/conftest.py sets MPLBACKEND=Agg for the unit tests, and kernels
    # inherit it, where it would turn every inline figure into nothing.
    env.pop("MPLBACKEND", None)
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    except subprocess.TimeoutExpired as err:
        out = err.stdout.decode(errors="replace") if isinstance(err.stdout, bytes) else (err.stdout or "")
        return {"ok": False, "summary": f"`{shown}` did not finish in {BUILD_TIMEOUT_S} s",
                "details": ANSI.sub("", out)[-6000:]}
    log = ANSI.sub("", proc.stdout + "\n" + proc.stderr)
    (QUICK_OUT / "build.log").write_text(log)
    if proc.returncode == 0:
        return {"ok": True, "summary": f"built in {time.monotonic() - start:.0f} s"}
    reports = ""
    for report in sorted((HTML / "reports").glob("**/*.log")):
        reports += f"\n----- {report.relative_to(ROOT)} (tail)\n{ANSI.sub('', report.read_text())[-4000:]}"
    return {
        "ok": False,
        "summary": (f"`{shown}` exited {proc.returncode} after {time.monotonic() - start:.0f} s; "
                    f"full log in {(QUICK_OUT / 'build.log').relative_to(ROOT)}"),
        "details": f"----- log tail\n{log[-6000:]}{reports or chr(10) + '(no reports/*.log)'}",
    }


@pytest.fixture
def quick_book(quick_build) -> Path:
    """The built HTML folder; tests that need it fail (briefly) when the build failed."""
    if not quick_build["ok"]:
        pytest.fail(f"the quick book build failed ({quick_build['summary']}); "
                    "test_book_builds_with_warnings_as_errors shows why", pytrace=False)
    return HTML


def test_book_builds_with_warnings_as_errors(quick_build):
    if not quick_build["ok"]:
        pytest.fail(f"{quick_build['summary']}\n{quick_build.get('details', '')}", pytrace=False)
    missing = [p for p in toc_pages() if not (HTML / f"{p}.html").is_file()]
    assert not missing, f"pages in _toc.yml with no HTML after the build: {missing}"
    assert (HTML / "index.html").is_file(), "the build wrote no index.html"


def test_config_forces_execution():
    """The execution cache ignores GAN_LAB_BUDGET, so every build must execute every notebook."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    mode = config.get("execute", {}).get("execute_notebooks")
    assert mode == "force", f"_config.yml execute.execute_notebooks is {mode!r}, expected 'force'"


def test_full_budget_build_lifts_the_cell_time_limit_and_changes_nothing_else(tmp_path):
    """`make book GAN_LAB_BUDGET=full` builds with a copy of _config.yml whose per-cell timeout is off."""
    for name in ("Makefile", "_config.yml"):
        shutil.copy(ROOT / name, tmp_path / name)
    made = subprocess.run(["make", "-s", "_build/_config.full.yml"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    base = yaml.safe_load((ROOT / "_config.yml").read_text())
    full = yaml.safe_load((tmp_path / "_build" / "_config.full.yml").read_text())
    assert base["execute"]["timeout"] > 0 and full["execute"].pop("timeout") == -1
    base["execute"].pop("timeout")
    assert full == base
    dry = subprocess.run(["make", "-n", "book", "GAN_LAB_BUDGET=full"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60)
    assert "--config _build/_config.full.yml" in dry.stdout, dry.stdout


def _reuse_cache_path(tree: Path, **variables: str) -> str:
    args = [f"{k}={v}" for k, v in variables.items()]
    made = subprocess.run(["make", "-s", "_build/_config.reuse.yml", "REUSE=1", *args], cwd=tree,
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    config = yaml.safe_load((tree / "_build" / "_config.reuse.yml").read_text())
    assert config["execute"]["execute_notebooks"] == "cache"
    return config["execute"]["cache"]


def test_reuse_builds_cache_executions_under_a_key_that_cannot_go_stale(tmp_path):
    """`make book REUSE=1` caches executed notebooks (jupyter-cache keys on code cells only), in a folder named
    by the budget, the seed offset, the environment and gan_lab's code: any of them changing starts afresh."""
    for name in ("Makefile", "_config.yml"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "gan_lab", tmp_path / "gan_lab", ignore=shutil.ignore_patterns("__pycache__"))
    base = _reuse_cache_path(tmp_path, GAN_LAB_BUDGET="book")
    assert "book-offset0-" in base and base == _reuse_cache_path(tmp_path, GAN_LAB_BUDGET="book")
    assert _reuse_cache_path(tmp_path, GAN_LAB_BUDGET="quick") != base
    assert _reuse_cache_path(tmp_path, GAN_LAB_BUDGET="book", GAN_LAB_SEED_OFFSET="1000") != base
    with open(tmp_path / "gan_lab" / "losses.py", "a") as f:
        f.write("\n# an edit to the package\n")
    assert _reuse_cache_path(tmp_path, GAN_LAB_BUDGET="book") != base
    reuse = yaml.safe_load((tmp_path / "_build" / "_config.reuse.yml").read_text())
    plain = yaml.safe_load((ROOT / "_config.yml").read_text())
    reuse["execute"].pop("cache")
    reuse["execute"]["execute_notebooks"] = "force"
    assert reuse == plain, "the reuse config may differ from _config.yml only in the execution cache"
    dry = subprocess.run(["make", "-n", "book"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert "--config _config.yml" in dry.stdout and "GAN_LAB_REUSE=0" in dry.stdout, dry.stdout


def test_no_notebook_sets_its_own_execution_timeout():
    """A notebook's own mystnb timeout would override the full-budget build's lifted limit."""
    import json
    own = [p.name for p in sorted((ROOT / "book").glob("*.ipynb"))
           if "execution_timeout" in json.loads(p.read_text()).get("metadata", {}).get("mystnb", {})]
    assert not own, f"notebooks with their own execution_timeout: {own}"


def test_every_quoted_number_check_waits_for_the_reference_numerics():
    """A check of numbers the text quotes (the book budget at seed offset 0) must also ask for the book build's
    CPU numerics: on another kernel path the same seed ends on other digits, and a reader's run would fail."""
    import json
    ungated = []
    for path in sorted((ROOT / "book").rglob("*.ipynb")):
        for k, cell in enumerate(json.loads(path.read_text())["cells"]):
            for line in "".join(cell["source"]).splitlines() if cell["cell_type"] == "code" else []:
                if "seed_offset() == 0" in line and "reference_numerics()" not in line:
                    ungated.append(f"{path.name} cell {k}: {line.strip()}")
    assert not ungated, "quoted-number checks without gl.settings.reference_numerics():\n" + "\n".join(ungated)


# --------------------------------------------------------------------- static HTML


class _Assets(HTMLParser):
    def __init__(self):
        super().__init__()
        self.scripts: list[str] = []
        self.stylesheets: list[str] = []
        self.widget_state = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and attrs.get("src"):
            self.scripts.append(attrs["src"])
        if tag == "script" and attrs.get("type") == "application/vnd.jupyter.widget-state+json":
            self.widget_state = True
        if tag == "link" and "stylesheet" in (attrs.get("rel") or "") and attrs.get("href"):
            self.stylesheets.append(attrs["href"])


def _assets(page: Path) -> _Assets:
    parser = _Assets()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


@pytest.mark.parametrize("page", toc_pages())
def test_page_loads_only_local_scripts(quick_book, page):
    html = quick_book / f"{page}.html"
    assert html.is_file(), f"{html.relative_to(ROOT)} was not built"
    found = _assets(html)
    remote = [u for u in found.scripts + found.stylesheets if urlsplit(u).scheme or u.startswith("//")]
    assert not remote, f"{page}.html loads remote scripts/stylesheets (the book must work offline): {remote}"
    missing = [u for u in found.scripts + found.stylesheets
               if not (html.parent / urlsplit(u).path).resolve().is_file()]
    assert not missing, f"{page}.html references local files that are not in the build: {missing}"


@pytest.mark.parametrize("chapter", chapter_pages())
def test_chapter_serves_mathjax_locally(quick_book, chapter):
    found = _assets(quick_book / f"{chapter}.html")
    mathjax = [u for u in found.scripts if "mathjax" in u.lower()]
    assert mathjax, f"{chapter}.html has no MathJax script; scripts are {found.scripts}"
    assert all(urlsplit(u).path.endswith("_static/mathjax/tex-mml-chtml.js") for u in mathjax), (
        f"MathJax is not the vendored copy: {mathjax}")
    fonts = quick_book / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2"
    assert any(fonts.glob("*.woff")), f"MathJax fonts missing from the build: {fonts.relative_to(ROOT)}"


@pytest.mark.parametrize("page", toc_pages())
def test_widget_pages_load_the_local_widget_manager(quick_book, page):
    """Pages with embedded widget state need require.js and embed-amd.js, served locally."""
    found = _assets(quick_book / f"{page}.html")
    if not found.widget_state:
        return  # no widgets on this page: nothing to load
    names = [urlsplit(u).path for u in found.scripts]
    for wanted in ("_static/widgets-compat.js", "_static/require.js", "_static/widgets/embed-amd.js"):
        assert any(n.endswith(wanted) for n in names), (
            f"{page}.html embeds widget state but does not load {wanted}; scripts: {found.scripts}")


# Markup that only MyST understands, or Markdown that was shown as text: if it is visible in a page, the
# renderer did not parse it (e.g. a table printed through display(Markdown(...)) under CommonMark, or a role
# in a cell output). The typographer turns `---` into an em dash (and `--` into an en dash) in text.
RAW_TABLE = re.compile(r"\|\s*:?[-\u2013\u2014]+:?\s*\|")
MYST_NAMES = ("cite", "cite:p", "cite:t", "eq", "ref", "doc", "numref", "math", "term", "download", "exercise",
              "solution", "prf:ref", "bibliography", "figure", "admonition", "note", "code-cell", "dropdown")
RAW_MYST = re.compile(r"\{(?:" + "|".join(re.escape(n) for n in MYST_NAMES) + r")\}")


class _VisibleText(HTMLParser):
    """The article's text outside code, scripts and maths: what a reader reads as prose."""

    SKIP = {"pre", "code", "script", "style", "textarea"}
    VOID = {"br", "img", "hr", "meta", "link", "input", "source", "wbr", "col", "area", "base", "embed", "param",
            "track"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[bool] = []   # per open element: does it hide its text?
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in self.VOID:
            return
        classes = (dict(attrs).get("class") or "").split()
        hidden = tag in self.SKIP or "math" in classes or (bool(self.stack) and self.stack[-1])
        self.stack.append(hidden)

    def handle_endtag(self, tag):
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if not (self.stack and self.stack[-1]):
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    return " ".join(parser.parts)


def raw_markup(text: str) -> list[str]:
    """Snippets of ``text`` that show unparsed Markdown tables or MyST roles/directives."""
    return [f"...{text[max(0, m.start() - 50):m.end() + 50]!r}..."
            for pattern in (RAW_TABLE, RAW_MYST) for m in pattern.finditer(text)][:5]


@pytest.mark.parametrize("snippet, raw", [
    ("| data | objective |\n|\u2014|\u2014|\n| a | b |", True),   # a table rendered as a paragraph
    ("| data | objective | |---|---|", True),
    ("as {cite} shows", True), ("see {ref} above", True), ("{exercise} 3", True),
    ("the set {0, 1} and |x| \u2264 1 and a {b}", False),
])
def test_raw_markup_detector(snippet, raw):
    assert bool(raw_markup(snippet)) is raw


@pytest.mark.parametrize("page", toc_pages())
def test_page_shows_no_raw_markdown_or_myst(quick_book, page):
    html = (quick_book / f"{page}.html").read_text(encoding="utf-8")
    article = html.split('<article class="bd-article"', 1)[-1]
    found = raw_markup(visible_text(article))
    assert not found, f"{page}.html shows unparsed Markdown or MyST markup: {found}"


# ------------------------------------------------------------------ browser render

# Runs in the page once MathJax has finished: everything the assertions need, as plain data.
PROBE_JS = r"""
() => {
  const article = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
  const skip = 'pre, code, script, style, textarea, .cell_input, .highlight, mjx-container, mjx-assistive-mml';
  const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
  const texts = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || el.closest(skip)) continue;
    if (el.checkVisibility && !el.checkVisibility()) continue;
    texts.push(node.textContent);
  }
  const visible = (el) => !el.checkVisibility || el.checkVisibility();
  const imgs = Array.from(article.querySelectorAll('img'));
  const outputs = Array.from(article.querySelectorAll('.cell_output'));
  const widgetViews = Array.from(article.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]'));
  return {
    mathjax_version: window.MathJax && window.MathJax.version,
    mjx: article.querySelectorAll('mjx-container').length,
    merror: Array.from(article.querySelectorAll('mjx-merror')).map(e => e.textContent),
    text: texts.join(' '),
    images: imgs.map(i => ({src: i.getAttribute('src'), complete: i.complete, width: i.naturalWidth})),
    figures: article.querySelectorAll('.cell_output img, figure img').length,
    traceback_outputs: Array.from(article.querySelectorAll('.output.traceback, .output.error'))
        .map(e => e.textContent.slice(0, 300)),
    output_text: outputs.filter(visible).map(e => e.innerText).join('\n'),
    stderr: Array.from(article.querySelectorAll('.output.stderr')).map(e => e.textContent.slice(0, 300)),
    widget_views: widgetViews.length,
    rendered_widgets: document.querySelectorAll('.jupyter-widgets.widget-inline-hbox, .jupyter-widgets .widget-inline-hbox, .widget-subarea .jupyter-widgets').length,
    colab: Array.from(document.querySelectorAll('a[href]')).map(a => a.href)
        .filter(h => h.startsWith('https://colab.research.google.com/')),
  };
}
"""


@pytest.fixture(scope="session", params=chapter_pages())
def rendered_chapter(request, quick_build) -> dict:
    """Render one chapter in headless Chromium over file:// and probe the result."""
    chapter = request.param
    if not quick_build["ok"]:
        pytest.fail(f"the quick book build failed ({quick_build['summary']}); "
                    "test_book_builds_with_warnings_as_errors shows why", pytrace=False)
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: run scripts/setup.sh (it installs Debian's chromium as root)")
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError as err:  # pragma: no cover - the test extra installs it
        pytest.fail(f"playwright is not installed in this environment ({err}); run scripts/setup.sh")
    page_path = HTML / f"{chapter}.html"
    url = page_path.as_uri()
    requests, failed, console = [], [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 2000})
            page.on("request", lambda r: requests.append(r.url))
            page.on("requestfailed", lambda r: failed.append(f"{r.url} ({r.failure})"))
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
            page.goto(url, wait_until="load", timeout=60_000)

            mathjax_error = None
            try:
                page.wait_for_function(
                    "() => window.MathJax && window.MathJax.startup && window.MathJax.startup.promise",
                    timeout=30_000)
                page.evaluate("() => window.MathJax.startup.promise.then(() => true)")
            except PlaywrightError as err:  # reported by test_render_typesets_math; probe the page anyway
                mathjax_error = str(err).splitlines()[0]
            # Load every image now (lazy ones included) and wait for them to settle.
            page.evaluate("() => document.querySelectorAll('img').forEach(i => { i.loading = 'eager'; })")
            try:
                page.wait_for_function("() => Array.from(document.images).every(i => i.complete)", timeout=30_000)
            except PlaywrightError:
                pass  # the image assertions below report which ones did not load
            result = page.evaluate(PROBE_JS)
            page.screenshot(path=str(QUICK_OUT / f"{Path(chapter).name}.png"), full_page=True)
        finally:
            browser.close()
    result.update(chapter=chapter, url=url, requests=requests, failed=failed, console=console, mathjax_error=mathjax_error)
    return result


def test_render_typesets_math(rendered_chapter):
    r = rendered_chapter
    assert r["mathjax_error"] is None, (
        f"MathJax never finished starting on {r['url']}: {r['mathjax_error']}; "
        f"console errors: {r['console']}; failed requests: {r['failed']}")
    assert r["mathjax_version"] == "3.2.2", f"MathJax in the page is {r['mathjax_version']!r}, expected the vendored 3.2.2"
    assert r["mjx"] >= 1, (f"no <mjx-container> in the article of {r['url']}: math was not typeset; "
                           f"console errors: {r['console']}; failed requests: {r['failed']}")
    assert not r["merror"], f"MathJax reported TeX errors: {r['merror']}"


def test_render_leaves_no_raw_tex(rendered_chapter):
    text = rendered_chapter["text"]
    found = []
    for delim in ("$$", "\\(", "\\)", "\\[", "\\]", "\\begin{"):
        i = text.find(delim)
        if i >= 0:
            found.append(f"{delim!r} in ...{text[max(0, i - 60):i + 60]!r}...")
    assert not found, f"raw TeX left in the visible article text (MathJax did not typeset it): {found}"


def test_render_loads_every_image(rendered_chapter):
    images = rendered_chapter["images"]
    broken = [i["src"] for i in images if not (i["complete"] and i["width"] > 0)]
    assert not broken, f"images in the article that did not load: {broken}"
    assert rendered_chapter["figures"] >= 1, (
        f"no figure image in the chapter's article (images found: {[i['src'] for i in images]})")


def test_render_shows_no_error_trace(rendered_chapter):
    r = rendered_chapter
    assert not r["traceback_outputs"], f"error outputs visible on the page: {r['traceback_outputs']}"
    trace_stderr = [s for s in r["stderr"] if re.search(r"Traceback|\w+Error\b|\w+Exception\b", s)]
    assert not trace_stderr, f"stderr outputs with an error trace: {trace_stderr}"
    pattern = re.compile(r"Traceback \(most recent call last\)|^\s*[A-Za-z_.]*(Error|Exception):.*$", re.M)
    hits = [m.group(0).strip()[:200] for m in pattern.finditer(r["output_text"])]
    assert not hits, f"cell outputs that show an error: {hits}"
    assert "Traceback" not in r["text"], "the word 'Traceback' is visible in the article text"
    js_errors = [c for c in r["console"] if c.startswith("pageerror") and not any(k in c for k in KNOWN_JS_ERRORS)]
    assert not js_errors, f"JavaScript errors on the page: {js_errors}"


def test_render_is_offline(rendered_chapter):
    r = rendered_chapter
    remote = [u for u in r["requests"] if not u.startswith(("file:", "data:", "blob:", "about:"))]
    assert not remote, f"the page requested non-local URLs: {remote}"
    assert not r["failed"], f"requests that failed while rendering: {r['failed']}"


# Chapters whose text promises an interactive widget (chapter 2: the slider over theta).
WIDGET_CHAPTERS = {"book/02_divergences"}


def test_render_widgets_when_present(rendered_chapter):
    r = rendered_chapter
    if r["chapter"] in WIDGET_CHAPTERS:
        assert r["widget_views"] >= 1, f"{r['chapter']} should embed a widget, found none"
    if r["widget_views"]:
        assert r["rendered_widgets"] >= r["widget_views"], (
            f"{r['widget_views']} widget views embedded but only {r['rendered_widgets']} rendered "
            f"(is widgets/embed-amd.js loading?); console errors: {r['console']}")


def test_chapter_has_colab_button(rendered_chapter):
    want = COLAB_PREFIX + rendered_chapter["chapter"] + ".ipynb"
    links = rendered_chapter["colab"]
    assert want in links, f"no Colab launch link {want} on the chapter page; Colab links found: {links}"
