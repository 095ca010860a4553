"""Tools for the paired notebooks (used by the Makefile and the tests).

    python tests/nbtools.py sync  notebooks/NN_topic.py ...   rewrite + execute the .ipynb twins
    python tests/nbtools.py build notebooks/NN_topic.py ...   execute into build/, write HTML

The .py (jupytext percent format) is the source. `sync` reads it, executes it in a fresh
kernel and writes the .ipynb beside it, so a stale .ipynb can never overwrite an edit
(the trap of `jupytext --sync`). Widget state is dropped after execution: it is hundreds of
lines of random ids that change on every run and that nbval does not compare.
"""

import sys
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"


def read_source(py_path):
    """The notebook of a .py source, with stable cell ids (jupytext draws random ones)."""
    nb = jupytext.read(py_path)
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i}"
    return nb


def execute(nb, cwd):
    """Execute `nb` in a fresh kernel running in `cwd`; raises on the first error."""
    NotebookClient(nb, timeout=300, kernel_name="python3", record_timing=False,
                   resources={"metadata": {"path": str(cwd)}}).execute()
    nb.metadata.pop("widgets", None)
    return nb


def sync(py_path):
    py_path = Path(py_path)
    nb = execute(read_source(py_path), py_path.parent)
    nbformat.write(nb, py_path.with_suffix(".ipynb"))


def build(py_path):
    py_path = Path(py_path)
    BUILD.mkdir(exist_ok=True)
    nb = execute(read_source(py_path), BUILD)
    nbformat.write(nb, BUILD / f"{py_path.stem}.ipynb")
    html, _ = HTMLExporter().from_notebook_node(nb)
    (BUILD / f"{py_path.stem}.html").write_text(html, encoding="utf-8")


if __name__ == "__main__":
    command, paths = sys.argv[1], sys.argv[2:]
    if command not in ("sync", "build") or not paths:
        sys.exit(__doc__)
    for path in paths:
        print(f"{command}: {path}", flush=True)
        {"sync": sync, "build": build}[command](path)
