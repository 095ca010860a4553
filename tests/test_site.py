"""`make site` as files: it builds from the stored notebooks, each page has its Colab button, and
every link between pages points at a page that exists. (tests/browser/test_site_pages.py opens the
pages in a browser.)"""

import re
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

from tools.site import REPOSITORY, SITE, index_page

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.fixture(scope="module")
def pages():
    subprocess.run([sys.executable, "-m", "tools.site"], cwd=ROOT, check=True)
    # 404.html is a template for a server's root, with links from "/"
    return {path.name: path.read_text() for path in SITE.glob("*.html") if path.name != "404.html"}


def test_every_notebook_has_a_page_with_its_colab_button(pages):
    github_path = REPOSITORY.removeprefix("https://github.com/")
    for notebook in NOTEBOOKS:
        page = pages[f"{notebook.stem}.html"]
        colab = f"https://colab.research.google.com/github/{github_path}/blob/main/notebooks/{notebook.name}"
        assert f'<a class="md-button" href="{colab}">Open in Colab</a>' in page, notebook.name
        assert "NBVAL_IGNORE_OUTPUT" not in page, "a marker only nbval reads, shown to learners"


def test_links_between_pages_resolve(pages):
    for name, page in pages.items():
        for link in re.findall(r'href="([^"#]+)[^"]*"', page):
            if not urllib.parse.urlparse(link).scheme and not link.startswith("//"):
                assert (SITE / name).parent.joinpath(link).resolve().exists(), f"{name} links to {link}"


def test_the_index_is_the_learning_path_with_links_to_pages_or_github():
    index = index_page("# Title\n\n[02](notebooks/02_defining_the_sae.ipynb), [make](Makefile), "
                       "[site](https://example.org)\n\n## The two commands\n\nmake test\n")
    assert "[02](02_defining_the_sae.ipynb)" in index
    assert f"[make]({REPOSITORY}/blob/main/Makefile)" in index
    assert "[site](https://example.org)" in index
    assert "make test" not in index
