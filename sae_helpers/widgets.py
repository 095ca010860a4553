"""Explorers for the notebooks: ipywidgets `interactive`s built on the plot functions.

Each builder returns an `Explorer` (an `interactive` saved with a picture of its first view), so
a test can set a control's value and read `.result`. Sliders use `continuous_update=False`: the
figure is redrawn (or the model retrained) when the slider is released, not on every pixel.
Works on ipywidgets 7 (Colab's) and 8.
"""

import base64
import functools
import html
import io
from dataclasses import replace

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from IPython.core.pylabtools import print_figure
from IPython.display import display
from IPython.utils.capture import capture_output
from PIL import Image

from sae_helpers.baselines import ica_dictionary, random_dictionary, recovery, sae_dictionary
from sae_helpers.dashboards import latent_dashboard
from sae_helpers.data import LECTURE_MIXING, make_lecture_data, make_sparse_sources
from sae_helpers.model import LECTURE, STANDARD, SAEBatch, SparseAutoencoder, TopK
from sae_helpers.metrics import ACTIVE_THRESHOLD, active_fraction, best_cosines, dead_latents
from sae_helpers.plots import (
    plot_activation_histogram,
    plot_best_latents,
    plot_feature_norms,
    plot_feature_recovery,
    plot_latent_density,
    plot_losses,
    plot_method_comparison,
    plot_mixing_overview,
    plot_recovery,
)
from sae_helpers.toy_model import ToyModel, feature_superposition, train_toy_model
from sae_helpers.train import train_sae


class Explorer(widgets.interactive):
    """`widgets.interactive(function, **controls)` with its first view drawn now (as ipywidgets 8
    does on creation; ipywidgets 7 would wait until it is displayed) and kept as a picture.

    A saved notebook keeps no widget, so a page rendered from it (GitHub, nbviewer, the course
    site) would show the text "interactive(children=...". Its display therefore also holds
    `static_view`, the first view as HTML with each figure as a PNG image, which such pages show
    instead; JupyterLab, Colab and VS Code run the widget (ipympl's figures do the same). That is
    ipywidgets 8's `_repr_mimebundle_`; ipywidgets 7 displays a widget through its own
    `_ipython_display_`, without the picture.
    """

    def __init__(self, function, **controls):
        self.static_view = self.caption = None
        super().__init__(self._recording(function), **controls)
        if self.result is None:
            self.update()

    def _recording(self, function):
        """`function`, which also keeps what its first call shows as `static_view`."""

        @functools.wraps(function)
        def draw(**kwargs):
            before = set(plt.get_fignums())
            with capture_output(stdout=False, stderr=False) as shown:
                result = function(**kwargs)
            shown.show()
            if self.static_view is None:
                setting = ", ".join(f"{control.description or name} = {kwargs[name]}"
                                    for name, control in zip(self.kwargs, self.kwargs_widgets))
                self.caption = f"Explorer at its default setting ({setting}): run the notebook to move its controls."
                figures = [plt.figure(number) for number in plt.get_fignums() if number not in before]
                self.static_view = "".join([f"<p><em>{html.escape(self.caption)}</em></p>\n",
                                            *map(_output_html, shown.outputs), *map(_figure_html, figures)])
            return result

        return draw

    def _repr_mimebundle_(self, **kwargs):
        return {"text/plain": self.caption, "text/html": self.static_view,
                "application/vnd.jupyter.widget-view+json": {"version_major": 2, "version_minor": 0,
                                                             "model_id": self.model_id}}


def _png_html(png):
    return f'<img src="data:image/png;base64,{base64.b64encode(png).decode()}" alt="the explorer\'s figure">'


def _figure_html(figure):
    """The figure as an <img>, drawn as the inline backend draws it, in at most 64 colours
    (a third of the bytes; plots have few colours)."""
    image = Image.open(io.BytesIO(print_figure(figure, "png"))).convert("RGB").quantize(64)
    png = io.BytesIO()
    image.save(png, format="png", optimize=True)
    return _png_html(png.getvalue())


def _output_html(output):
    """One output a view displayed (an IPython RichOutput), as HTML."""
    if "text/html" in output.data:
        return output.data["text/html"]
    if "image/png" in output.data:
        return _png_html(output.data["image/png"])
    return f"<pre>{html.escape(output.data['text/plain'])}</pre>"


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

    return Explorer(
        redraw,
        a11=_slider(a11, -1, 1.5, 0.05, "a11"),
        a12=_slider(a12, -1, 1.5, 0.05, "a12"),
        a21=_slider(a21, -1, 1.5, 0.05, "a21"),
        a22=_slider(a22, -1, 1.5, 0.05, "a22"),
    )


def training_explorer(mixed, n_epochs=600, seed=0):
    """Retrain the lecture's SAE on `mixed` (a MixedSources) with another sparsity weight,
    number of latents or penalty; redraws the loss components, the total loss and the best
    latent per source. `.result` is the run's History.
    """

    def retrain(sparsity_weight, hidden_dim, penalty):
        torch.manual_seed(seed)
        model = SparseAutoencoder(mixed.data.shape[1], hidden_dim, sparsity_weight=sparsity_weight)
        history = train_sae(model, mixed.data, n_epochs=n_epochs, penalty=penalty, seed=seed,
                            progress=False)
        with torch.no_grad():
            latents = model.encode(torch.tensor(mixed.data, dtype=torch.float32)).numpy()
        fig, axs = plt.subplots(1, 3, figsize=(16, 3.5), layout="constrained")
        plot_losses(history, axs=axs[:2])
        plot_best_latents(latents, mixed.sources, ax=axs[2])
        return history

    return Explorer(
        retrain,
        sparsity_weight=widgets.FloatLogSlider(value=1.0, base=10, min=-3, max=1, step=0.25,
                                               description="sparsity", continuous_update=False),
        hidden_dim=widgets.IntSlider(value=20, min=1, max=40, description="latents",
                                     continuous_update=False),
        penalty=widgets.Dropdown(options=["l1", "decorrelation"], value="l1", description="penalty"),
    )


def superposition_recovery(p=0.03, n_sources=16, d=8, sparsity_weight=0.1, n_samples=10_000,
                           n_epochs=60, seed=0):
    """Train a ReLU SAE with the standard recipe, 2 latents per source (L1, batches of 1024), on
    `n_sources` sparse sources in `d` dimensions; draw its recovery beside FastICA and a random
    dictionary; return {method: recovery metrics}. The superposition explorer's body."""
    sources = make_sparse_sources(n_sources, d, p, n_samples, seed=seed)
    model = SAEBatch(d, 2 * n_sources, seeds=[seed], sparsity_weight=sparsity_weight,
                     activation=F.relu, recipe=STANDARD)
    train_sae(model, sources.data, n_epochs=n_epochs, lr=3e-3, penalty="decoder_norm_l1",
              batch_size=1024, seed=seed, progress=False)
    dictionaries = {
        "SAE": sae_dictionary(model, sources.data),
        "FastICA": ica_dictionary(sources.data, d, seed=seed),
        "random": random_dictionary(sources.data, 2 * n_sources, seed=seed),
    }
    results = {name: recovery(sources, dictionary) for name, dictionary in dictionaries.items()}
    fig, axs = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
    plot_recovery(sources.directions, dictionaries["SAE"].directions, ax=axs[0], title="SAE")
    plot_method_comparison(results, ax=axs[1])
    return results


def superposition_explorer(n_samples=10_000, n_epochs=60, seed=0):
    """Sliders for the activation probability p, the number of sources, the dimension d and
    the L1 weight of `superposition_recovery`. `.result` is its return value."""

    def retrain(p, n_sources, d, sparsity_weight):
        return superposition_recovery(p, n_sources, d, sparsity_weight, n_samples, n_epochs, seed)

    return Explorer(
        retrain,
        p=widgets.FloatLogSlider(value=0.03, base=10, min=-2.5, max=-0.5, step=0.125,
                                 description="p", continuous_update=False),
        n_sources=widgets.IntSlider(value=16, min=4, max=48, step=4, description="sources",
                                    continuous_update=False),
        d=widgets.IntSlider(value=8, min=2, max=24, step=2, description="d", continuous_update=False),
        sparsity_weight=widgets.FloatLogSlider(value=0.1, base=10, min=-3, max=-0.5, step=0.25,
                                               description="L1 weight", continuous_update=False),
    )


def toy_model_recovery(p=0.03, importance_decay=0.95, n_features=40, n_hidden=10, n_steps=1500,
                       n_samples=10_000, seed=0):
    """Train one toy model (importance = importance_decay ** i), then a ReLU SAE with the
    standard recipe, 2 latents per feature (L1), on its hidden layer; draw the feature norms and each
    feature's best |cos| with the SAE, against a random dictionary of the same size. Returns
    {"represented": (n_features,) bool, "best_cos": (n_features,) SAE, "chance": (n_features,) random}.
    The toy model explorer's body."""
    toy = ToyModel(n_features, n_hidden, [p], importance_decay ** np.arange(n_features), seed=seed)
    train_toy_model(toy, n_steps=n_steps, lr=3e-3, seed=seed, progress=False)
    hidden = toy.sources(0, n_samples, seed=seed + 1)
    sae = SAEBatch(n_hidden, 2 * n_features, seeds=[seed], sparsity_weight=0.03, activation=F.relu,
                   recipe=STANDARD)
    train_sae(sae, hidden.data, n_epochs=30, lr=1e-2, penalty="decoder_norm_l1", batch_size=1024,
              seed=seed, progress=False)
    represented = toy.represented()[0].numpy()
    result = {"represented": represented,
              "best_cos": best_cosines(hidden.directions, sae_dictionary(sae, hidden.data).directions),
              "chance": best_cosines(hidden.directions,
                                     random_dictionary(hidden.data, 2 * n_features, seed=seed).directions)}
    fig, axs = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained", width_ratios=[1, 2.5])
    plot_feature_norms(toy.feature_norms()[0], feature_superposition(toy.W.detach())[0], ax=axs[0],
                       title=f"{represented.sum()} of {n_features} represented")
    plot_feature_recovery({"ReLU SAE": result["best_cos"], "random dictionary": result["chance"]},
                          represented, ax=axs[1])
    return result


def toy_model_explorer(n_steps=1500, seed=0):
    """Sliders for the feature probability p and the importance decay of `toy_model_recovery`.
    `.result` is its return value."""

    def retrain(p, importance_decay):
        return toy_model_recovery(p, importance_decay, n_steps=n_steps, seed=seed)

    return Explorer(
        retrain,
        p=widgets.FloatLogSlider(value=0.03, base=10, min=-2.5, max=0, step=0.125, description="p",
                                 continuous_update=False),
        importance_decay=_slider(0.95, 0.8, 1.0, 0.01, "decay"),
    )


def dead_latents_recovery(n_latents=64, k=3, auxk=False, n_epochs=25, seed=0):
    """Train one TopK SAE (with the AuxK loss, weight 1/32, if `auxk`) on notebook 09's 64
    sources in 32 dimensions (20,000 samples); draw how often each latent fires. Returns
    {"dead": dead latents, "missed": sources with best |cos| < 0.9, "frequencies": (n_latents,)}.
    The dead latents explorer's body."""
    sources = make_sparse_sources(n_sources=64, d=32, p=0.02, n_samples=20_000, seed=0)
    recipe = replace(LECTURE, auxk_weight=1 / 32 if auxk else 0.0)
    sae = SAEBatch(32, n_latents, seeds=[seed], activation=TopK(k), recipe=recipe)
    train_sae(sae, sources.data, n_epochs=n_epochs, lr=3e-3, penalty="none",
              batch_size=1024, seed=seed, progress=False)
    learned = sae_dictionary(sae, sources.data)
    result = {"dead": dead_latents(learned.codes), "frequencies": active_fraction(learned.codes),
              "missed": int((best_cosines(sources.directions, learned.directions) < 0.9).sum())}
    label = f"TopK k = {k}, {n_latents} latents" + (" + AuxK" if auxk else "")
    plot_latent_density({label: result["frequencies"]},
                        title=f"{result['dead']} dead latents, {result['missed']} of 64 sources missed")
    return result


def dead_latents_explorer(n_epochs=25, seed=0):
    """Sliders for the number of latents and k, and a switch for AuxK, of
    `dead_latents_recovery`. `.result` is its return value."""

    def retrain(n_latents, k, auxk):
        return dead_latents_recovery(n_latents, k, auxk, n_epochs, seed)

    return Explorer(
        retrain,
        n_latents=widgets.IntSlider(value=64, min=16, max=192, step=16, description="latents",
                                    continuous_update=False),
        k=widgets.IntSlider(value=3, min=1, max=8, description="k", continuous_update=False),
        auxk=widgets.Checkbox(value=False, description="AuxK"),
    )


def latent_explorer(saes, tokens, properties, model, window=None):
    """Pick an SAE and a latent; shows its dashboard and activation histogram. `saes`: {name:
    (latents (n, n_latents) on the characters `tokens` (n,), decoder directions (n_latents, d) in
    the residual stream's units)}, SAEs of any widths; `properties` (n, 7) is the ground truth;
    `window` as in `latent_dashboard`. `.result` is the dashboard (IPython HTML). It opens on the
    first SAE's first latent that fires on these characters, not on a dead one."""
    if not saes:
        raise ValueError("saes is empty: give {name: (latents, decoder directions)} for at least one SAE")
    saes = {name: (torch.as_tensor(latents), torch.as_tensor(directions).detach())
            for name, (latents, directions) in saes.items()}
    first = next(iter(saes))
    alive = (saes[first][0] > ACTIVE_THRESHOLD).any(dim=0).nonzero().flatten().tolist()

    def show(name, latent):
        latents, directions = saes[name]
        if latent >= latents.shape[1]:
            print(f"{name} has latents 0 to {latents.shape[1] - 1}: pick one of them")
            return None
        dashboard = latent_dashboard(latent, latents[:, latent], tokens, properties, model, directions[latent],
                                     window=window)
        display(dashboard)
        plot_activation_histogram(latents[:, latent], latent)
        return dashboard

    return Explorer(
        show,
        name=widgets.Dropdown(options=list(saes), value=first, description="SAE"),
        latent=widgets.IntSlider(value=alive[0] if alive else 0, min=0,
                                 max=max(latents.shape[1] for latents, _ in saes.values()) - 1,
                                 description="latent", continuous_update=False),
    )
