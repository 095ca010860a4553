import configparser
import re
import types
from pathlib import Path

import pytest

from sae_helpers import SparseAutoencoder, progress, train_sae
from sae_helpers.data import make_lecture_data
from sae_helpers.progress import NotebookProgress, progress_bar

SANITIZE = Path(__file__).parent / "nbval_sanitize.cfg"


class Handle:
    """What IPython's display(..., display_id=True) returns, recording each drawing."""

    def __init__(self, bundle):
        self.drawn = [bundle]

    def update(self, bundle, raw):
        self.drawn.append(bundle)


@pytest.fixture
def notebook(monkeypatch):
    """A kernel as progress_bar sees one; returns the handles of the lines drawn."""
    handles = []

    def display(bundle, raw, display_id):
        handles.append(Handle(bundle))
        return handles[-1]

    monkeypatch.setattr(progress, "display", display)
    monkeypatch.setattr(progress, "get_ipython", lambda: types.SimpleNamespace(kernel=object()))
    return handles


def texts(handle):
    return [bundle["text/plain"] for bundle in handle.drawn]


def test_a_finished_line_says_it_ran_to_the_end_and_drops_the_running_numbers(notebook, monkeypatch):
    monkeypatch.setattr(progress, "REFRESH_S", 0.0)
    bar = progress_bar(range(3), "training (l1)", "epochs")
    assert isinstance(bar, NotebookProgress)
    for epoch in bar:
        bar.set_postfix(mse=f"{epoch / 10:.4f}")
    assert texts(notebook[0]) == ["training (l1): 0/3 epochs", "training (l1): 1/3 epochs, mse 0.0000",
                                  "training (l1): 2/3 epochs, mse 0.1000", "training (l1): 3/3 epochs, mse 0.2000",
                                  "training (l1): 3/3 epochs"]
    assert notebook[0].drawn[-1]["text/html"].startswith('<progress value="3" max="3"')


def test_redraws_are_spaced_out_but_the_last_one_always_comes(notebook):
    for _ in progress_bar(range(10_000), "training the toy model", "steps"):
        pass
    assert len(notebook[0].drawn) < 100
    assert texts(notebook[0])[-1] == "training the toy model: 10000/10000 steps"


def test_a_loop_that_stops_early_leaves_the_line_where_it_stopped(notebook):
    with pytest.raises(RuntimeError):
        for step in progress_bar(range(600), "training", "epochs"):
            if step == 130:
                raise RuntimeError("diverged")
    assert texts(notebook[0])[-1] == "training: 130/600 epochs"


def test_train_sae_draws_one_finished_line_in_a_notebook(notebook):
    train_sae(SparseAutoencoder(2, 4), make_lecture_data(n_samples=50).data, n_epochs=60)
    (handle,) = notebook
    assert texts(handle)[0] == "training (l1): 0/60 epochs"
    assert texts(handle)[-1] == "training (l1): 60/60 epochs"


def test_outside_a_kernel_and_when_disabled_it_is_a_tqdm_bar(notebook, monkeypatch):
    assert not isinstance(progress_bar(range(3), "x", "steps", disable=True), NotebookProgress)
    monkeypatch.setattr(progress, "get_ipython", lambda: None)
    assert not isinstance(progress_bar(range(3), "x", "steps"), NotebookProgress)
    assert notebook == []


def sanitized(text):
    """`text` as nbval compares it, after tests/nbval_sanitize.cfg."""
    config = configparser.ConfigParser()
    config.read(SANITIZE)
    for section in config.sections():
        text = re.sub(config[section]["regex"], config[section]["replace"], text)
    return text


def test_nbval_compares_the_first_drawing_with_the_saved_last_one_up_to_the_count_done(notebook):
    for _ in progress_bar(range(40), "training (none)", "epochs"):
        pass
    first, last = notebook[0].drawn[0], notebook[0].drawn[-1]
    for mime in ("text/plain", "text/html"):
        assert sanitized(first[mime]) == sanitized(last[mime])
    for _ in progress_bar(range(41), "training (none)", "epochs"):
        pass
    assert sanitized(notebook[1].drawn[-1]["text/plain"]) != sanitized(last["text/plain"])
    assert sanitized("trained for 40 epochs") == "trained for 40 epochs"
