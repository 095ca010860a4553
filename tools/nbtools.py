"""Tools for the paired notebooks (used by the Makefile, the tests and the benchmarks).

    python -m tools.nbtools sync  notebooks/NN_topic.py ...   rewrite + execute the .ipynb twins
    python -m tools.nbtools build notebooks/NN_topic.py ...   execute into build/, write HTML
    python -m tools.nbtools check notebooks/NN_topic.py ...   execute only (fails on an error)

The .py (jupytext percent format) is the source. `sync` reads it, executes it in a fresh
kernel and writes the .ipynb beside it, so a stale .ipynb can never overwrite an edit
(the trap of `jupytext --sync`). Widget state is dropped after execution: it is hundreds of
lines of random ids that change on every run and that nbval does not compare.
"""

import sys
import time
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
    NotebookClient(nb, timeout=600, startup_timeout=120, kernel_name="python3", record_timing=False,
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


def check(py_path):
    start = time.perf_counter()
    execute(read_source(py_path), Path(py_path).parent)
    print(f"  ran without error in {time.perf_counter() - start:.1f} s", flush=True)


if __name__ == "__main__":
    commands = {"sync": sync, "build": build, "check": check}
    if len(sys.argv) < 3 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    for path in sys.argv[2:]:
        print(f"{sys.argv[1]}: {path}", flush=True)
        commands[sys.argv[1]](path)
