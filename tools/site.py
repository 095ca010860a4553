"""The course as a static site (`make site`): `python -m tools.site` writes build/site/.

mkdocs (mkdocs.yml: the Material theme, mkdocs-jupyter for the notebooks) renders the executed
notebooks as they are stored, with nothing re-executed, so the site shows what CI checked. This
module only gathers its pages into build/site-src/ first:

- index.md, the README's learning path (up to "## The two commands");
- each notebooks/NN_topic.ipynb, with its links to the other notebooks pointed at their pages;
- GLOSSARY.md.

Links into the repository that are not pages (a test, the Makefile) point at GitHub instead.
"""

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "build" / "site-src"
SITE = ROOT / "build" / "site"
REPOSITORY = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
NOTEBOOK_LINK = re.compile(r"\]\((\d\d_\w+)\.ipynb\)")  # [text](NN_topic.ipynb), to a sibling notebook
# Colab's badge is an image on Google's server: offline, a page would show a broken image
COLAB_BADGE = re.compile(r"\[!\[Open In Colab\]\(https://colab\.research\.google\.com/assets/colab-badge\.svg\)\]\(([^)]+)\)")
COLAB_BUTTON = r'<a class="md-button" href="\1">Open in Colab</a>'
GLOSSARY_LINK = f"]({REPOSITORY}/blob/main/GLOSSARY.md)"  # the notebooks' link, which works in Colab too


def index_page(readme):
    """The README's introduction and learning path, its links pointed at pages or at GitHub."""
    intro = readme.split("\n## The two commands")[0]

    def target(match):
        link = match.group(1)
        if link.startswith(("http://", "https://", "#")):
            return match.group(0)
        if link.startswith("notebooks/") and link.endswith(".ipynb"):
            return f"]({link.removeprefix('notebooks/')})"
        if (SOURCE / link).exists():
            return match.group(0)
        return f"]({REPOSITORY}/blob/main/{link})"

    more = (f"\n\n## Running, testing and editing\n\nThe repository's [README]({REPOSITORY}#the-two-commands) "
            f"says how to run every notebook on your machine, test them and edit them.\n")
    return COLAB_BADGE.sub(COLAB_BUTTON, re.sub(r"\]\(([^)\s]+)\)", target, intro)) + more


def notebook_page(path):
    """The executed notebook, its links to sibling notebooks (`NN_topic.ipynb`) and to the
    glossary pointed at their pages, without the markers that only nbval reads."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            source = NOTEBOOK_LINK.sub(r"](\1.html)", cell.source).replace(GLOSSARY_LINK, "](GLOSSARY.html)")
            cell.source = COLAB_BADGE.sub(COLAB_BUTTON, source)
        else:
            cell.source = cell.source.removeprefix("# NBVAL_IGNORE_OUTPUT\n")
    return nb


def gather():
    shutil.rmtree(SOURCE, ignore_errors=True)
    SOURCE.mkdir(parents=True)
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        nbformat.write(notebook_page(path), SOURCE / path.name)
    shutil.copy(ROOT / "GLOSSARY.md", SOURCE)
    (SOURCE / "index.md").write_text(index_page((ROOT / "README.md").read_text()))


if __name__ == "__main__":
    gather()
    quiet = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # Material's notice of its successor, on every build
    sys.exit(subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-f",
                             str(ROOT / "mkdocs.yml")], cwd=ROOT, env=quiet).returncode)
