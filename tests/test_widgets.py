import base64
import io
import re

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from IPython.core.interactiveshell import InteractiveShell
from IPython.core.pylabtools import print_figure
from IPython.display import HTML, display
from PIL import Image

from sae_helpers import SparseAutoencoder, match_latents, train_sae
from sae_helpers.baselines import random_dictionary, recovery
from sae_helpers.data import make_lecture_data, make_sparse_sources
from sae_helpers.plots import plot_mixing_overview
from sae_helpers.widgets import (
    Explorer,
    dead_latents_explorer,
    dead_latents_recovery,
    mixing_explorer,
    superposition_explorer,
    superposition_recovery,
    toy_model_explorer,
    toy_model_recovery,
    training_explorer,
)


def control(explorer, description):
    return next(w for w in explorer.children if getattr(w, "description", None) == description)


def test_mixing_explorer_starts_at_the_lecture_matrix_and_follows_its_sliders():
    explorer = mixing_explorer()
    np.testing.assert_array_equal(explorer.result.mixing, [[1, 0.4], [0.6, 1]])
    control(explorer, "a12").value = 0.0
    control(explorer, "a21").value = 0.0
    np.testing.assert_array_equal(explorer.result.mixing, np.eye(2))
    np.testing.assert_array_equal(explorer.result.data, explorer.result.sources)


@pytest.mark.parametrize("a11, a12, a21, a22, check", [
    # the answers notebook 01 gives to its explorer tasks
    (1.0, -1.0, -0.6, 1.0, lambda mixed: np.corrcoef(mixed.data.T)[0, 1] < -0.95),
    (1.0, 1.0, 0.6, 0.6, lambda mixed: np.array_equal(mixed.data[:, 0], mixed.data[:, 1])
     and np.linalg.det(mixed.mixing) == 0),
])
def test_mixing_explorer_answers(a11, a12, a21, a22, check):
    explorer = mixing_explorer()
    for name, value in zip(["a11", "a12", "a21", "a22"], [a11, a12, a21, a22]):
        control(explorer, name).value = value
    assert check(explorer.result)


def test_mixing_explorer_sliders_do_not_redraw_while_dragging():
    assert all(not w.continuous_update for w in mixing_explorer().children if hasattr(w, "continuous_update"))


def saved_images(explorer):
    """The images in the explorer's saved form (what a rendered page shows), decoded."""
    found = re.findall(r'<img src="data:image/png;base64,([^"]+)"', explorer._repr_mimebundle_()["text/html"])
    return [Image.open(io.BytesIO(base64.b64decode(png))) for png in found]


def test_an_explorer_is_saved_with_a_picture_of_its_default_view():
    explorer = mixing_explorer()
    bundle = explorer._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == explorer.model_id
    assert bundle["text/plain"].startswith("Explorer at its default setting (a11 = 1.0, a12 = 0.4, a21 = 0.6, a22 = 1.0)")
    plot_mixing_overview(explorer.result.sources, explorer.result.data)
    drawn = Image.open(io.BytesIO(print_figure(plt.gcf(), "png")))
    plt.close("all")
    (saved,) = saved_images(explorer)
    assert saved.size == drawn.size
    # the same picture, in 64 colours: each pixel within a few levels of the drawing
    difference = np.abs(np.asarray(saved.convert("RGB"), dtype=int) - np.asarray(drawn.convert("RGB"), dtype=int))
    assert np.median(difference) == 0 and np.percentile(difference, 99) < 40
    control(explorer, "a12").value = 0.0
    assert explorer.result.mixing[0, 1] == 0
    assert bundle == explorer._repr_mimebundle_(), "the saved view is the default one"


@pytest.fixture
def shell():
    """An IPython shell, so that display() inside a view is captured as in a notebook."""
    yield InteractiveShell.instance()
    InteractiveShell.clear_instance()


def test_an_explorers_picture_holds_what_its_view_displays_then_draws(shell):
    def view(n):
        display(HTML(f"<b>n = {n}</b>"))
        plt.figure()
        plt.plot(range(n))
        return n

    plt.figure()  # open before the explorer: not part of its view
    explorer = Explorer(view, n=ipywidgets.IntSlider(value=3, description="n"))
    saved = explorer._repr_mimebundle_()["text/html"]
    assert saved.index("<b>n = 3</b>") < saved.index("<img")
    assert len(saved_images(explorer)) == 1
    plt.close("all")


@pytest.fixture(scope="module")
def explorer():
    return training_explorer(make_lecture_data(n_samples=200), n_epochs=5)


def direct_run(hidden_dim=20, sparsity_weight=1.0, penalty="l1"):
    """What the training explorer should train, called directly."""
    torch.manual_seed(0)
    model = SparseAutoencoder(2, hidden_dim, sparsity_weight=sparsity_weight)
    return train_sae(model, make_lecture_data(n_samples=200).data, n_epochs=5, penalty=penalty, progress=False)


def test_training_explorer_trains_on_start(explorer):
    assert explorer.result.penalty == "l1"
    np.testing.assert_array_equal(explorer.result.mse, direct_run().mse)


def test_training_explorer_retrains_with_the_chosen_penalty(explorer):
    control(explorer, "penalty").value = "decorrelation"
    assert explorer.result.penalty == "decorrelation"


def test_training_explorer_retrains_with_the_chosen_weight(explorer):
    control(explorer, "penalty").value = "l1"
    before = explorer.result.penalty_loss[0]
    control(explorer, "sparsity").value = 10.0
    # same seed, so the first epoch's latents are the same: the penalty scales with the weight
    assert explorer.result.penalty_loss[0] == pytest.approx(10 * before, rel=1e-5)


def test_training_explorer_retrains_with_the_chosen_width(explorer):
    control(explorer, "latents").value = 3
    np.testing.assert_array_equal(explorer.result.mse, direct_run(hidden_dim=3, sparsity_weight=10.0).mse)


def best_abs_r(hidden_dim, sparsity_weight):
    """Best |r| per source of the training explorer's run (seed 0, lecture data, 600 epochs)."""
    mixed = make_lecture_data()
    torch.manual_seed(0)
    model = SparseAutoencoder(2, hidden_dim, sparsity_weight=sparsity_weight)
    train_sae(model, mixed.data, n_epochs=600, progress=False)
    with torch.no_grad():
        latents = model.encode(torch.tensor(mixed.data, dtype=torch.float32)).numpy()
    return match_latents(latents, mixed.sources).abs_r


def test_training_explorer_answers():
    # the answers notebook 03 gives to its explorer tasks
    assert best_abs_r(20, 10**-0.25)[1] < 0.99 <= best_abs_r(20, 1.0)[1]
    assert best_abs_r(20, 0.001)[1] == pytest.approx(0.979, abs=0.002)
    assert all(best_abs_r(n, 1.0)[0] >= 0.9 for n in (16, 17, 18, 19, 20))
    assert best_abs_r(15, 1.0)[0] < 0.9 and best_abs_r(13, 1.0)[0] < 0.65 and best_abs_r(11, 1.0)[0] > 0.98


def test_superposition_explorer_answers():
    # the answers notebook 06 gives to its explorer tasks (seed 0, the explorer's defaults)
    d8, d2 = superposition_recovery(d=8), superposition_recovery(d=2)
    assert d8["SAE"]["MCC"] > d8["random"]["MCC"] + 0.2 and 0.9 < d2["SAE"]["MCC"] < d2["random"]["MCC"]
    assert d2["random"]["MCC"] > 0.99 > 0.75 > d8["random"]["MCC"]
    assert superposition_recovery(p=10**-1.125)["SAE"]["MCC"] >= 0.9 > superposition_recovery(p=10**-1)["SAE"]["MCC"]
    assert superposition_recovery(p=10**-0.5)["SAE"]["MCC"] < 0.85
    # the text's λ sweep at the starting point: MCC best at 0.1, FVU rising with λ
    by_weight = [superposition_recovery(sparsity_weight=10**e)["SAE"] for e in (-2, -1.5, -1, -0.5)]
    mcc, fvu = [r["MCC"] for r in by_weight], [r["FVU"] for r in by_weight]
    assert mcc[2] > max(mcc[:2] + mcc[3:]) and mcc[0] < 0.85 and mcc[3] < 0.85 and fvu == sorted(fvu) and fvu[3] > 0.9
    plt.close("all")


def test_superposition_explorer_follows_its_sliders():
    explorer = superposition_explorer(n_samples=2000, n_epochs=3)
    assert set(explorer.result) == {"SAE", "FastICA", "random"}
    control(explorer, "sources").value = 8
    control(explorer, "d").value = 4
    # FastICA learns d directions: with 4 dimensions it can match at most 4 of 8 sources
    assert explorer.result["FastICA"]["MCC"] <= 0.5
    sources = make_sparse_sources(8, 4, 0.03, 2000, seed=0)
    chance = recovery(sources, random_dictionary(sources.data, 16, seed=0))
    assert explorer.result["random"] == chance, "chance is a random dictionary of 2 atoms per source"


def test_toy_model_explorer_retrains_with_its_sliders():
    explorer = toy_model_explorer(n_steps=50)
    first = explorer.result
    assert set(first) == {"represented", "best_cos", "chance"} and first["best_cos"].shape == (40,)
    control(explorer, "decay").value = 1.0
    assert explorer.result["represented"].sum() != first["represented"].sum()
    direct = toy_model_recovery(0.03, 1.0, n_steps=50)
    np.testing.assert_array_equal(explorer.result["best_cos"], direct["best_cos"])


@pytest.mark.parametrize("p, decay, check", [
    # the answers notebook 07 gives to its explorer tasks (seed 0, the explorer's settings)
    (0.75, 0.95, lambda r, kept: kept.sum() == 10),
    (0.5623, 0.95, lambda r, kept: kept.sum() == 12),
    (0.3162, 0.95, lambda r, kept: kept.sum() == 20),
    (0.2371, 0.95, lambda r, kept: kept.sum() == 20),
    (0.1778, 0.95, lambda r, kept: kept.sum() == 20),
    (1.0, 0.95, lambda r, kept: kept.sum() == 10 and r["best_cos"][kept].max() < 0.8
     and np.median(r["best_cos"][kept]) < np.median(r["chance"][kept]) + 0.05),
    (0.03, 1.0, lambda r, kept: kept.all() and (r["best_cos"] > 0.9).sum() == 29
     and (r["best_cos"] > r["chance"]).sum() == 39),
])
def test_toy_model_explorer_answers(p, decay, check):
    result = toy_model_recovery(p, decay)
    assert check(result, result["represented"])
    plt.close("all")


def test_dead_latents_explorer_retrains_with_its_controls():
    explorer = dead_latents_explorer(n_epochs=2)
    first = explorer.result
    assert set(first) == {"dead", "missed", "frequencies"} and first["frequencies"].shape == (64,)
    control(explorer, "latents").value = 32
    assert explorer.result["frequencies"].shape == (32,)
    control(explorer, "AuxK").value = True
    direct = dead_latents_recovery(32, 3, True, n_epochs=2)
    np.testing.assert_array_equal(explorer.result["frequencies"], direct["frequencies"])
    plt.close("all")


def test_dead_latents_explorer_answers():
    # the answers notebook 09 gives to its explorer tasks (seed 0, the explorer's settings),
    # with margins: minibatch training differs a little between CPUs
    def run(n_latents, k, auxk):
        result = dead_latents_recovery(n_latents, k, auxk)
        plt.close("all")
        return result

    widths = {n: run(n, 3, False) for n in (64, 128, 144)}
    assert widths[64]["missed"] > 20 and widths[128]["missed"] <= 4
    assert widths[144]["missed"] == 0 and widths[144]["dead"] >= 40
    by_k = {k: run(64, k, False) for k in range(1, 9)}
    assert by_k[1]["dead"] >= 25 and by_k[1]["dead"] > by_k[3]["dead"] > by_k[6]["dead"] and by_k[6]["dead"] <= 3
    assert min(by_k, key=lambda k: by_k[k]["missed"]) == 4
    narrow = run(48, 3, True)
    assert narrow["dead"] == 0 and 16 <= narrow["missed"] <= 35
    # "at least 16 must be missed": a direction within |cos| 0.9 of two unit vectors needs them
    # within 2 arccos(0.9) of each other, |cos| >= 0.62; no two of the 64 sources are that close
    directions = make_sparse_sources(n_sources=64, d=32, p=0.02, n_samples=10, seed=0).directions
    assert np.abs(directions @ directions.T - np.eye(64)).max() < np.cos(2 * np.arccos(0.9))
