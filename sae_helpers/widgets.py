"""Explorers for the notebooks: ipywidgets `interactive`s built on the plot functions.

Each builder returns the `interactive`, so a test can set a control's value and read
`.result`. Sliders use `continuous_update=False`: the figure is redrawn (or the model
retrained) when the slider is released, not on every pixel. Works on ipywidgets 7 and 8.
"""

import ipywidgets as widgets
import torch

from sae_helpers.data import LECTURE_MIXING, make_lecture_data
from sae_helpers.model import SparseAutoencoder
from sae_helpers.plots import plot_losses, plot_mixing_overview
from sae_helpers.train import PENALTIES, train_sae


def _slider(value, low, high, step, description):
    return widgets.FloatSlider(value=value, min=low, max=high, step=step,
                               description=description, continuous_update=False)


def mixing_explorer():
    """Four sliders for the mixing matrix; redraws the lecture's 2x2 figure.

    `.result` is the MixedSources of the current setting.
    """
    (a11, a12), (a21, a22) = LECTURE_MIXING

    def redraw(a11, a12, a21, a22):
        mixed = make_lecture_data(mixing=[[a11, a12], [a21, a22]])
        plot_mixing_overview(mixed.sources, mixed.data)
        return mixed

    return widgets.interactive(
        redraw,
        a11=_slider(a11, -1, 1.5, 0.05, "a11"),
        a12=_slider(a12, -1, 1.5, 0.05, "a12"),
        a21=_slider(a21, -1, 1.5, 0.05, "a21"),
        a22=_slider(a22, -1, 1.5, 0.05, "a22"),
    )


def training_explorer(data, n_epochs=600, seed=0):
    """Retrain the lecture's SAE on `data` (n_samples, n_features) with another sparsity weight,
    number of latents or penalty; redraws the loss figure. `.result` is the run's History.
    """

    def retrain(sparsity_weight, hidden_dim, penalty):
        torch.manual_seed(seed)
        model = SparseAutoencoder(data.shape[1], hidden_dim, sparsity_weight=sparsity_weight)
        history = train_sae(model, data, n_epochs=n_epochs, penalty=penalty, seed=seed,
                            progress=False)
        plot_losses(history)
        return history

    return widgets.interactive(
        retrain,
        sparsity_weight=widgets.FloatLogSlider(value=1.0, base=10, min=-3, max=1, step=0.25,
                                               description="sparsity", continuous_update=False),
        hidden_dim=widgets.IntSlider(value=20, min=1, max=40, description="latents",
                                     continuous_update=False),
        penalty=widgets.Dropdown(options=PENALTIES, value="l1", description="penalty"),
    )
