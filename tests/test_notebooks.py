"""The notebooks as files: each .py source has an executed .ipynb twin with the same cells,
the Colab setup is the same everywhere and installs only the helpers, links resolve.
(nbval, run by `make test`, re-executes the twins and compares their outputs.)"""

import re
import subprocess
import sys
import tomllib
import types
from pathlib import Path

import nbformat
import pytest

from tools.nbtools import execute, exercises, read_source, solved

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
REPOSITORY = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
GITHUB_PATH = REPOSITORY.removeprefix("https://github.com/")
MAX_BYTES = 500_000
by_name = pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)


def twin(source):
    return nbformat.read(source.with_suffix(".ipynb"), as_version=4)


def code_cells(nb):
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def test_the_core_sequence_is_there():
    assert [p.stem for p in SOURCES][:6] == [
        "01_mixing_sources", "02_defining_the_sae", "03_training", "04_inspection",
        "05_controls", "06_superposition"]


@by_name
def test_twin_has_the_same_cells_and_tags(source):
    def cells(nb):
        return [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in nb.cells]

    assert cells(twin(source)) == cells(read_source(source)), (
        f"{source.name} and its .ipynb differ: run `make sync NB=notebooks/{source.name}`")


@by_name
def test_twin_was_executed_top_to_bottom_without_errors(source):
    nb = twin(source)
    counts = [cell.execution_count for cell in code_cells(nb)]
    assert counts == list(range(1, len(counts) + 1)), f"{source.stem}.ipynb: re-run `make sync`"
    outputs = [out for cell in code_cells(nb) for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    assert "widgets" not in nb.metadata, "widget state churns on every run; nbtools strips it"


@by_name
def test_twin_is_small(source):
    assert source.with_suffix(".ipynb").stat().st_size <= MAX_BYTES


def shows_an_explorer_or_a_timing(code):
    """nbval cannot compare these: it files what an explorer draws in its Output widget as the
    cell's own output, and timings vary. (Progress lines are compared: tests/nbval_sanitize.cfg.)"""
    return "_explorer(" in code or "perf_counter(" in code


@by_name
def test_only_explorers_and_timings_skip_output_checks(source):
    for cell in code_cells(read_source(source)):
        if "NBVAL_IGNORE_OUTPUT" in cell.source or "nbval-ignore-output" in cell.metadata.get("tags", []):
            assert shows_an_explorer_or_a_timing(cell.source), cell.source


def displays(nb):
    return [out for cell in code_cells(nb) for out in cell.outputs if out.output_type == "display_data"]


@by_name
def test_saved_progress_lines_are_finished(source):
    """A rendered page shows the saved line: it must say that the loop ran to the end."""
    for out in displays(twin(source)):
        if "<progress" in out.data.get("text/html", ""):
            (done, total), = re.findall(r"(\d+)/(\d+) (?:epochs|steps|batches)$", out.data["text/plain"])
            assert done == total, out.data["text/plain"]
            assert f'<progress value="{done}" max="{total}"' in out.data["text/html"]


@by_name
def test_saved_explorers_show_a_picture_where_the_widget_cannot_run(source):
    """No widget is saved, so a rendered page shows each widget's text/html (or text/plain)."""
    for out in displays(twin(source)):
        if "application/vnd.jupyter.widget-view+json" in out.data:
            assert "run the notebook to move its controls" in out.data["text/plain"], out.data["text/plain"]
            assert '<img src="data:image/png;base64,' in out.data["text/html"]


@by_name
def test_setup_cell_is_the_same_everywhere_and_names_the_repository(source):
    setup = code_cells(read_source(source))[0].source
    assert setup == code_cells(read_source(SOURCES[0]))[0].source
    assert f'REPOSITORY = "{REPOSITORY}"' in setup, "the URL must match pyproject.toml's Repository"


@by_name
def test_colab_badge_opens_this_notebook(source):
    badge = (f"https://colab.research.google.com/github/{GITHUB_PATH}/blob/main/notebooks/"
             f"{source.stem}.ipynb")
    assert badge in read_source(source).cells[0].source


@by_name
def test_links_to_other_notebooks_resolve(source):
    text = "\n".join(c.source for c in read_source(source).cells if c.cell_type == "markdown")
    links = re.findall(r"\]\((\d\d_\w+\.ipynb)\)", text)
    assert links, "every notebook ends with a link to the next one"
    for link in links:
        assert (source.parent / link).exists(), link


def run_setup_cell(monkeypatch, in_colab):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda args, **kwargs: calls.append(args))
    if in_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    exec(code_cells(read_source(SOURCES[0]))[0].source, {})
    return calls


def test_setup_cell_in_colab_installs_only_the_helper_package(monkeypatch):
    (call,) = run_setup_cell(monkeypatch, in_colab=True)
    assert call == [sys.executable, "-m", "pip", "install", "-q", f"git+{REPOSITORY}"]


def test_the_package_colab_installs_holds_every_subpackage():
    # Colab's pip install from git is not editable: it installs only the packages pyproject names
    listed = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    found = [".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "sae_helpers").rglob("__init__.py")]
    assert sorted(listed) == sorted(found)


def test_setup_cell_outside_colab_does_nothing(monkeypatch):
    assert run_setup_cell(monkeypatch, in_colab=False) == []


def test_readme_lists_every_notebook_with_its_badge():
    readme = (ROOT / "README.md").read_text()
    for source in SOURCES:
        assert f"notebooks/{source.stem}.ipynb" in readme
        assert (f"https://colab.research.google.com/github/{GITHUB_PATH}/blob/main/notebooks/"
                f"{source.stem}.ipynb") in readme


@by_name
def test_every_code_cell_is_introduced_by_markdown(source):
    cells = read_source(source).cells
    for before, cell in zip(cells, cells[1:]):
        if cell.cell_type == "code":
            assert before.cell_type == "markdown", f"say what this cell does first:\n{cell.source[:200]}"


def exercise_cells(nb):
    """[(stub cell, its check cell, solution code)] of a notebook."""
    found = []
    for i, solution in exercises(nb):
        check_cell = next(c for c in nb.cells[i + 1:] if c.cell_type == "code")
        found.append((nb.cells[i], check_cell, solution))
    return found


WITH_EXERCISES = [source for source in SOURCES if exercises(read_source(source))]
with_exercises = pytest.mark.parametrize("source", WITH_EXERCISES, ids=lambda p: p.stem)


@with_exercises
def test_each_exercise_is_a_stub_a_check_a_hint_and_a_solution(source):
    nb = read_source(source)
    for stub, check_cell, solution in exercise_cells(nb):
        kind, name = re.match(r"(def|class) (\w+)\(", stub.source).groups()
        assert solution.startswith(f"{kind} {name}("), f"the solution must define {name}"
        assert re.fullmatch(rf"\w+ = check\({name}, [A-Z0-9_]+\)", check_cell.source), check_cell.source
        after = nb.cells[nb.cells.index(check_cell) + 1]
        assert "<summary>Hint</summary>" in after.source and "<summary>Solution</summary>" in after.source


@with_exercises
def test_stored_notebook_shows_every_exercise_unsolved(source):
    stored = twin(source)
    for _, check_cell, _ in exercise_cells(read_source(source)):
        cell = next(c for c in stored.cells if c.source == check_cell.source)
        assert "not solved yet" in "".join(out.get("text", "") for out in cell.outputs)


@with_exercises
def test_notebook_runs_with_every_exercise_solved_and_each_check_passes(source):
    nb = execute(solved(read_source(source)), source.parent)
    for _, check_cell, _ in exercise_cells(read_source(source)):
        cell = next(c for c in nb.cells if c.source == check_cell.source)
        assert "".join(out.get("text", "") for out in cell.outputs).startswith("✔"), cell.source
