"""Every notebook in JupyterLab in a real browser (Debian's chromium driven by Playwright):
run all cells, then check that no cell shows an error, every figure is drawn, every explorer's
controls are visible, and moving a control redraws the figure it drives. And one exercise
solved as a learner would: the solution typed into the stub's cell, the notebook run, the
check passed.

Run with `make browser-test`. JupyterLab serves a temporary copy of the notebooks (so nothing
in the repository is written) on a loopback port with a random token, and is shut down even
when a check fails. One screenshot per notebook lands in build/screenshots/.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import expect

from tools.nbtools import exercises, read_source

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# the slowest notebook runs in about a minute headless; the first kernel of a fresh server was
# once seen to need minutes to start running
RUN_TIMEOUT_S = 600
REDRAW_TIMEOUT_S = 60
SETTINGS = {
    # attach every cell to the page, so that all outputs can be found without scrolling
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    # no news or update checks: this machine has no internet, and no pop-ups in the way
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise TimeoutError(f"gave up after {timeout_s} s waiting for {what}")


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    """(base URL, token) of a JupyterLab serving a copy of the notebooks; shut down at the end."""
    home = tmp_path_factory.mktemp("lab")
    served = home / "notebooks"
    served.mkdir()
    for notebook in NOTEBOOKS:
        shutil.copy(notebook, served)
    for name, values in SETTINGS.items():
        path = home / "settings" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    port, token = free_port(), os.urandom(16).hex()
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
           "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces")}
    log = (home / "lab.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={served}",
         f"--LabApp.user_settings_dir={home / 'settings'}", f"--LabApp.workspaces_dir={home / 'workspaces'}"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def answers():
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2):
                return True
        except OSError:
            return server.poll() is not None  # stop waiting if the server died

    try:
        wait_for(answers, 90, f"JupyterLab to answer on port {port} (log: {home / 'lab.log'})")
        assert server.poll() is None, f"JupyterLab exited early; see {home / 'lab.log'}"
        yield url, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def expected_figures(notebook):
    """Figures (PNG outputs) stored in the notebook; an explorer's picture is inside its HTML."""
    nb = nbformat.read(notebook, as_version=4)
    return sum("image/png" in output.get("data", {}) for cell in nb.cells if cell.cell_type == "code"
               for output in cell.outputs)


def explorer_count(notebook):
    nb = nbformat.read(notebook, as_version=4)
    return sum("_explorer(" in cell.source for cell in nb.cells if cell.cell_type == "code")


def menu(page, name, item):
    page.locator(".lm-MenuBar-itemLabel", has_text=name).first.click()
    page.locator(".lm-Menu-itemLabel", has_text=item).first.click()


def open_notebook(page, url, token, notebook):
    page.goto(f"{url}/lab/tree/{notebook.name}?reset&token={token}")
    expect(page.locator(".jp-Notebook"), "the notebook panel").to_be_visible(timeout=60_000)
    expect(page.locator(".jp-StatusBar-TextItem", has_text="| Idle").first,
           "the kernel to be connected and idle").to_be_visible(timeout=120_000)


def run_all(page, notebook):
    """Clear every output (so that what is checked comes from this run), run all cells, wait."""
    menu(page, "Edit", "Clear Outputs of All Cells")
    expect(page.locator(".jp-OutputArea-output"), "cleared outputs").to_have_count(0)
    menu(page, "Run", "Run All Cells")
    prompts = page.locator(".jp-CodeCell .jp-InputArea-prompt")
    n_code = prompts.count()

    def all_ran():
        texts = prompts.all_inner_texts()
        return all(t.strip().strip("[]:").isdigit() for t in texts)

    try:
        wait_for(all_ran, RUN_TIMEOUT_S, f"all {n_code} code cells of {notebook.name} to finish")
    except TimeoutError as error:
        raise TimeoutError(f"{error}; prompts: {' '.join(prompts.all_inner_texts())}") from None


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_and_its_explorers_answer_in_jupyterlab(notebook, lab, browser, screenshots):
    url, token = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(30_000)
    try:
        open_notebook(page, url, token, notebook)
        run_all(page, notebook)

        errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        assert errors.count() == 0, f"error or stderr output: {errors.all_inner_texts()[:3]}"

        images = page.locator(".jp-OutputArea-output img")
        assert images.count() >= expected_figures(notebook), "every figure is drawn"
        widths = images.evaluate_all("imgs => imgs.map(img => img.naturalWidth)")
        assert all(w > 0 for w in widths), "every image has loaded"

        explorers = page.locator(".widget-interact")
        assert explorers.count() == explorer_count(notebook)
        for i in range(explorers.count()):
            explorer = explorers.nth(i)
            explorer.scroll_into_view_if_needed()
            expect(explorer.locator(".widget-slider, .widget-hslider").first, "the explorer's slider").to_be_visible()
            figure = explorer.locator("img").first
            expect(figure, "the explorer's figure").to_be_visible(timeout=REDRAW_TIMEOUT_S * 1000)
            before = figure.get_attribute("src")
            explorer.locator(".noUi-handle").first.focus()
            page.keyboard.press("ArrowRight")
            wait_for(lambda: explorer.locator("img").count() > 0
                     and explorer.locator("img").first.get_attribute("src") != before,
                     REDRAW_TIMEOUT_S, f"explorer {i} of {notebook.name} to redraw after its slider moved")
            page.wait_for_timeout(500)  # let the new image decode before the screenshot
        # the screenshot shows the last explorer, else the last figure, else the last cell
        shown = next(loc for loc in [explorers, images, page.locator(".jp-Cell")] if loc.count())
        shown.last.scroll_into_view_if_needed()
        page.screenshot(path=screenshots / f"{notebook.stem}.png")
    except Exception:
        page.screenshot(path=screenshots / f"{notebook.stem}-failure.png")
        raise
    finally:
        page.close()


def test_a_learner_solves_an_exercise_in_jupyterlab(lab, browser, screenshots):
    url, token = lab
    notebook = next(n for n in NOTEBOOKS if n.stem == "02_defining_the_sae")
    solution = next(code for _, code in exercises(read_source(notebook.with_suffix(".py")))
                    if code.startswith("def l1_penalty("))
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(30_000)
    try:
        open_notebook(page, url, token, notebook)
        stub = page.locator(".jp-CodeCell", has_text="def l1_penalty(latents):").locator(".cm-content")
        stub.click()
        page.keyboard.press("Control+A")  # the cell's text, as a learner replaces the stub
        page.keyboard.insert_text(solution)
        expect(stub, "the typed solution").to_contain_text("latents.abs().mean()")
        run_all(page, notebook)
        checked = page.locator(".jp-CodeCell", has_text="l1 = check(l1_penalty, L1_PENALTY)")
        expect(checked.locator(".jp-OutputArea-output"), "the check's verdict").to_contain_text(
            "✔ l1_penalty is right on all 3 cases")
        errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        assert errors.count() == 0, f"error or stderr output: {errors.all_inner_texts()[:3]}"
    except Exception:
        page.screenshot(path=screenshots / "exercise-failure.png")
        raise
    finally:
        page.close()
