"""The course site (`make site`) in a real browser, page by page, as a learner first meets it:
every image has loaded, every saved progress line is finished, every explorer shows its picture
(not the widget's text), folded hints and solutions stay folded until clicked, and every link to
another page of the site resolves. One screenshot per page lands in build/screenshots/site-*.png.

The site is built from the stored notebooks (nothing is re-executed) and served on a loopback
port; no page may need the network to show these.
"""

import functools
import http.server
import re
import subprocess
import sys
import threading
import urllib.parse
import urllib.request
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import expect

from tools.site import SITE

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
PAGES = ["index.html", *(f"{nb.stem}.html" for nb in NOTEBOOKS), "GLOSSARY.html"]


@pytest.fixture(scope="session")
def site():
    """The base URL of the freshly built site, served from build/site/."""
    subprocess.run([sys.executable, "-m", "tools.site"], cwd=ROOT, check=True)
    handler = functools.partial(QuietHandler, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.mark.parametrize("name", PAGES)
def test_the_page_shows_what_ran(name, site, browser, screenshots):
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.set_default_timeout(30_000)
    try:
        page.goto(f"{site}/{name}")
        content = page.locator("article")
        expect(content, "the page's content").to_be_visible()
        text = content.inner_text()

        images = content.locator("img")
        sizes = images.evaluate_all("imgs => imgs.map(img => [img.complete, img.naturalWidth, img.src.slice(0, 60)])")
        broken = [src for complete, width, src in sizes if not (complete and width > 0)]
        assert not broken, f"images that did not load: {broken}"

        assert not re.search(r"\b0/\d+ (epochs|steps|batches)|\b0%\|", text), "a progress bar shows nothing done"
        bars = content.locator("progress").evaluate_all("bars => bars.map(bar => [bar.value, bar.max])")
        assert all(value == maximum for value, maximum in bars), f"unfinished progress bars: {bars}"

        assert "interactive(children=" not in text and "Box(children=" not in text, "a widget shown as text"
        captions = content.get_by_text("Explorer at its default setting")
        expect(captions).to_have_count(saved_explorers(name))
        for i in range(captions.count()):
            picture = captions.nth(i).locator("xpath=ancestor::div[contains(@class, 'jp-OutputArea-output')]//img")
            expect(picture.first, "the explorer's picture").to_be_visible()

        folds = content.locator("details")
        assert folds.evaluate_all("ds => ds.filter(d => d.open).length") == 0, "a fold is open before a click"
        if folds.count():
            fold = folds.first
            fold.scroll_into_view_if_needed()
            fold.locator("summary").click()
            expect(fold, "the fold, once clicked").to_have_js_property("open", True)

        page.screenshot(path=screenshots / f"site-{Path(name).stem}.png")
        for link in sorted(set(content.locator("a[href]").evaluate_all("links => links.map(a => a.href)"))):
            target = urllib.parse.urldefrag(link).url
            if target.startswith(site):
                with urllib.request.urlopen(target) as response:
                    assert response.status == 200, link
    except Exception:
        page.screenshot(path=screenshots / f"site-{Path(name).stem}-failure.png", full_page=True)
        raise
    finally:
        page.close()


def saved_explorers(name):
    """How many explorers the stored notebook behind page `name` holds (0 for the other pages)."""
    notebook = ROOT / "notebooks" / name.replace(".html", ".ipynb")
    if not notebook.exists():
        return 0
    return sum("application/vnd.jupyter.widget-view+json" in output.get("data", {})
               for cell in nbformat.read(notebook, as_version=4).cells for output in cell.get("outputs", []))


def test_every_page_is_in_the_navigation_in_course_order(site, browser):
    page = browser.new_page()
    page.goto(f"{site}/index.html")
    links = page.locator("nav.md-nav--primary a.md-nav__link[href]").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))")
    names = [Path(urllib.parse.urlparse(link).path).name for link in links]
    assert [n for n in names if n in PAGES[1:]] == PAGES[1:], names
    page.close()
