"""Figures of the notebooks. Each function draws one thing on `ax` (a new figure if None) and
returns the figure; `plot_mixing_overview` and `plot_losses` compose them into the lecture's
multi-panel figures.
"""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from sae_helpers.metrics import corr

MARKERS = "os^vD"
PENALTY_LABELS = {"l1": "L1 penalty", "decorrelation": "Decorrelation penalty"}


def _new_axes(ax, figsize):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def plot_signals(signals, labels, title, ax=None):
    """Time courses of the columns of `signals` (n_samples, k), one line each.

    With two columns, their correlation r is added to the title.
    """
    ax = _new_axes(ax, (6, 3))
    signals = np.asarray(signals)
    for i, label in enumerate(labels):
        ax.plot(signals[:, i], linewidth=1.2, alpha=0.8, label=label)
    if signals.shape[1] == 2:
        r = round(corr(signals[:, :1], signals[:, 1:])[0, 0], 2) + 0.0  # + 0.0 turns -0.0 into 0.0
        title = f"{title} (r = {r:.2f})"
    ax.set(xlabel="Sample index", ylabel="Value", xlim=(0, len(signals) - 1), title=title)
    ax.margins(y=0.3)  # room for the legend above the data
    ax.legend(loc="upper center", ncols=len(labels), frameon=False)
    return ax.figure


def plot_histograms(signals, labels, title, ax=None, density=True, bins=40):
    """Histograms of the columns of `signals` (n_samples, k), drawn as lines."""
    ax = _new_axes(ax, (6, 3))
    signals = np.asarray(signals)
    for i, label in enumerate(labels):
        counts, edges = np.histogram(signals[:, i], bins=bins, density=density)
        ax.plot((edges[:-1] + edges[1:]) / 2, counts, linewidth=3, label=label)
    ax.set(xlabel="Value", ylabel="Density" if density else "Count", title=title)
    ax.legend()
    return ax.figure


def plot_mixing_overview(sources, data):
    """The lecture's 2x2 figure: sources and mixed data (n_samples, 2) over samples and as
    histograms."""
    fig, axs = plt.subplots(2, 2, figsize=(10, 6), layout="constrained")
    source_labels, data_labels = ["Source 1", "Source 2"], ["Variable 1", "Variable 2"]
    plot_signals(sources, source_labels, "Latent sources", ax=axs[0, 0])
    plot_signals(data, data_labels, "Mixed variables", ax=axs[0, 1])
    plot_histograms(sources, source_labels, "Histograms of the sources", ax=axs[1, 0])
    plot_histograms(data, data_labels, "Histograms of the mixed variables", ax=axs[1, 1])
    return fig


def plot_loss_components(history, ax=None, every=20):
    """MSE and penalty of one run on twin y-axes (they differ in scale), every `every` epochs."""
    ax = _new_axes(ax, (6, 3.5))
    epochs = np.arange(0, len(history.mse), every)
    penalty_label = PENALTY_LABELS[history.penalty_name]
    ax.plot(epochs, history.penalty[epochs], "o-", color="C0", label=penalty_label)
    ax.set(xlabel="Epoch", title="Training loss components")
    ax.set_ylabel(penalty_label, color="C0")
    twin = ax.twinx()
    twin.plot(epochs, history.mse[epochs], "s-", color="C3", label="MSE")
    twin.set_ylabel("MSE", color="C3")
    fig = ax.figure
    fig.legend(loc="upper right", bbox_to_anchor=(0.95, 0.85), bbox_transform=ax.transAxes,
               frameon=False)
    return fig


def plot_loss_curves(histories, which="total", ax=None, every=20):
    """One curve per run of `histories` ({label: History}): its "total", "mse" or "penalty"."""
    ax = _new_axes(ax, (6, 3.5))
    for i, (label, history) in enumerate(histories.items()):
        values = getattr(history, which)
        epochs = np.arange(0, len(values), every)
        ax.plot(epochs, values[epochs], MARKERS[i % len(MARKERS)] + "-", label=label)
    names = {"total": "Total loss", "mse": "MSE", "penalty": "Penalty"}
    ax.set(xlabel="Epoch", ylabel=names[which], title=f"{names[which]} per epoch")
    ax.legend()
    return ax.figure


def plot_losses(history):
    """The lecture's loss figure: the two components on twin axes, the total beside them."""
    fig, axs = plt.subplots(1, 2, figsize=(12, 3.5), layout="constrained")
    plot_loss_components(history, ax=axs[0])
    plot_loss_curves({"total": history}, ax=axs[1])
    axs[1].get_legend().remove()
    return fig


def plot_latent_corr(latents, ax=None):
    """Correlation matrix of the latents (n_samples, n_latents) as an image, -1 to 1.

    A dead (constant) latent shows as a blank row and column: its r is 0, even with itself.
    """
    ax = _new_axes(ax, (5, 4))
    image = ax.imshow(corr(latents, latents), cmap="RdBu_r", vmin=-1, vmax=1)
    ax.figure.colorbar(image, ax=ax, label="r")
    ax.set(xlabel="Latent", ylabel="Latent", title="Correlations between latents")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    return ax.figure
