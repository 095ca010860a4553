"""Tools for the paired notebooks (used by the Makefile, the tests and the benchmarks).

    python -m tools.nbtools sync  notebooks/NN_topic.py ...   rewrite + execute the .ipynb twins
    python -m tools.nbtools build notebooks/NN_topic.py ...   execute into build/, write HTML
    python -m tools.nbtools check notebooks/NN_topic.py ...   execute only (fails on an error)
    python -m tools.nbtools solve notebooks/NN_topic.py ...   execute with every exercise solved

An exercise is a code cell whose stub raises NotImplementedError, followed (after its check)
by a markdown cell with a folded "Solution" block holding the worked solution in a python
fence; `solved` puts each solution in place of its stub.

The .py (jupytext percent format) is the source. `sync` reads it, executes it in a fresh
kernel and writes the .ipynb beside it, so a stale .ipynb can never overwrite an edit
(the trap of `jupytext --sync`). It executes under the numeric environment of
tools/numeric.env, which every strict nbval run sets too, and refuses where that cannot hold.
Widget state is dropped after execution: it is hundreds of lines of random ids that change on
every run and that nbval does not compare.
"""

import re
import sys
import tempfile
import time
from pathlib import Path

import jupytext
import nbformat
from jupyter_client import KernelManager
from nbclient import NotebookClient
from nbconvert import HTMLExporter

from tools.numeric_env import pin

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"


def read_source(py_path):
    """The notebook of a .py source, with stable cell ids (jupytext draws random ones)."""
    nb = jupytext.read(py_path)
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i}"
    return nb


STUB = "raise NotImplementedError"
SOLUTION = re.compile(r"<summary>Solution</summary>\s*```python\n(.*?)```", re.DOTALL)


def exercises(nb):
    """[(index of the stub cell, its solution's code)] in notebook order."""
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and STUB in cell.source:
            solution = next((m.group(1) for later in nb.cells[i + 1:] if later.cell_type == "markdown"
                             for m in [SOLUTION.search(later.source)] if m), None)
            if solution is None:
                raise ValueError(f"the exercise in cell {i} has no Solution block after it")
            found.append((i, solution.strip()))
    return found


def solved(nb):
    """A copy of `nb` with each exercise's stub cell replaced by its solution."""
    nb = nbformat.from_dict(nb)
    for i, solution in exercises(nb):
        nb.cells[i].source = solution
    return nb


def execute(nb, cwd):
    """Execute `nb` in a fresh kernel running in `cwd`; raises on the first error.

    The kernel talks over Unix sockets in a temporary folder, not over TCP ports on localhost,
    which another process can take between the moment they are chosen and the kernel binds them.
    """
    with tempfile.TemporaryDirectory() as sockets:
        kernel = KernelManager(kernel_name="python3", transport="ipc", ip=str(Path(sockets) / "kernel"))
        NotebookClient(nb, km=kernel, timeout=600, startup_timeout=120, record_timing=False,
                       resources={"metadata": {"path": str(cwd)}}).execute(cleanup_kc=True)  # shut it down
    nb.metadata.pop("widgets", None)
    return nb


def sync(py_path):
    reason = pin()
    if reason:
        sys.exit(f"make sync writes the stored outputs, which nbval compares digit for digit, so it "
                 f"runs only where they can hold, not here ({reason}): run it on Linux on x86-64 with "
                 f"AVX2 and the versions in constraints.txt")
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


def solve(py_path):
    start = time.perf_counter()
    execute(solved(read_source(py_path)), Path(py_path).parent)
    print(f"  ran solved without error in {time.perf_counter() - start:.1f} s", flush=True)


if __name__ == "__main__":
    commands = {"sync": sync, "build": build, "check": check, "solve": solve}
    if len(sys.argv) < 3 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    for path in sys.argv[2:]:
        print(f"{sys.argv[1]}: {path}", flush=True)
        commands[sys.argv[1]](path)
