"""Figures of the notebooks. Each function draws one thing on `ax` (a new figure if None) and
returns the figure; `plot_mixing_overview` and `plot_losses` compose them into the lecture's
multi-panel figures.
"""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from sae_helpers.checks import as_numpy
from sae_helpers.metrics import ACTIVE_THRESHOLD, abs_cosines, corr, match_directions, match_latents
from sae_helpers.toy_model import REPRESENTED_NORM
from sae_helpers.train import PENALTIES

MARKERS = "os^vD"


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
    """MSE and penalty of one run, each divided by its first epoch's value, on one log axis,
    every `every` epochs: their scales differ, and relative change shows a large fall and a
    small wiggle at their true sizes. A penalty that is 0 at the start (none) is left out."""
    ax = _new_axes(ax, (6, 3.5))
    epochs = np.arange(0, len(history.mse), every)
    penalty = PENALTIES[history.penalty].label if history.penalty in PENALTIES else history.penalty
    for values, label, marker in [(history.mse, "MSE", "s-"), (history.penalty_loss, penalty, "o-")]:
        if values[0] > 0:
            ax.plot(epochs, values[epochs] / values[0], marker, label=label)
    ax.set(xlabel="Epoch", ylabel="Value / value at epoch 1", yscale="log", title="Training loss components")
    ax.legend()
    return ax.figure


def plot_loss_curves(histories, which="total", ax=None, every=20):
    """One curve per run of `histories` ({label: History}): its "total", "mse" or "penalty_loss"."""
    ax = _new_axes(ax, (6, 3.5))
    for i, (label, history) in enumerate(histories.items()):
        values = getattr(history, which)
        epochs = np.arange(0, len(values), every)
        ax.plot(epochs, values[epochs], MARKERS[i % len(MARKERS)] + "-", label=label)
    names = {"total": "Total loss", "mse": "MSE", "penalty_loss": "Penalty"}
    ax.set(xlabel="Epoch", ylabel=names[which], title=f"{names[which]} per epoch")
    ax.legend()
    return ax.figure


def plot_losses(history, axs=None):
    """The lecture's loss figure: the two components (`plot_loss_components`), the total
    beside them; on two new axes, or the two given."""
    if axs is None:
        axs = plt.subplots(1, 2, figsize=(12, 3.5), layout="constrained")[1]
    plot_loss_components(history, ax=axs[0])
    plot_loss_curves({"total": history}, ax=axs[1])
    axs[1].get_legend().remove()
    return axs[0].figure


def plot_best_latents(latents, sources, ax=None, n_shown=430):
    """Each source (dashed) and its best-matching latent by |r| (solid), the latent rescaled to
    the source's mean and spread (and flipped if r < 0), over the first `n_shown` samples.
    latents: (n_samples, n_latents); sources: (n_samples, n_sources)."""
    ax = _new_axes(ax, (6, 3))
    latents, sources = np.asarray(latents), np.asarray(sources)
    matches = match_latents(latents, sources)
    r = corr(latents, sources)
    for i, j in enumerate(matches.latent):
        source, latent = sources[:, i], latents[:, j]
        spread = latent.std() if latent.std() > 0 else 1.0
        rescaled = source.mean() + np.sign(r[j, i]) * (latent - latent.mean()) / spread * source.std()
        ax.plot(source[:n_shown], "--", color=f"C{i}", linewidth=1, label=f"source {i + 1}")
        ax.plot(rescaled[:n_shown], color=f"C{i}", label=f"latent {j} (|r| = {matches.abs_r[i]:.2f})")
    ax.set(xlabel="Sample index", ylabel="Value", title="Best latent per source, rescaled")
    ax.legend(loc="upper right", fontsize=8, frameon=False)
    return ax.figure


def _matrix_image(ax, matrix, label, vmin=-1, vmax=1, cmap="RdBu_r"):
    image = ax.imshow(matrix, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto", interpolation="nearest")
    ax.figure.colorbar(image, ax=ax, label=label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def plot_latent_corr(latents, ax=None):
    """Correlation matrix of the latents (n_samples, n_latents) as an image, -1 to 1.

    A constant latent shows as a blank row and column: its r is 0, even with itself.
    """
    ax = _new_axes(ax, (5, 4))
    _matrix_image(ax, corr(latents, latents), "r")
    ax.set(xlabel="Latent", ylabel="Latent", title="Correlations between latents")
    return ax.figure


def plot_direction_cosines(directions, ax=None):
    """Cosines between the rows of `directions` (n, d): how far from orthogonal they are."""
    ax = _new_axes(ax, (5, 4))
    unit = directions / np.linalg.norm(directions, axis=1, keepdims=True)
    _matrix_image(ax, unit @ unit.T, "cosine")
    ax.set(xlabel="Source", ylabel="Source", title=f"{len(directions)} directions in {directions.shape[1]} dimensions")
    return ax.figure


def plot_directions_2d(data, directions, ax=None, max_points=2000):
    """A 2-D case: the data points (n_samples, 2) and each source's direction as an arrow."""
    ax = _new_axes(ax, (4.5, 4.5))
    shown = data[:max_points]
    ax.scatter(shown[:, 0], shown[:, 1], s=4, alpha=0.3, color="0.4", label="samples")
    reach = np.abs(data).max()
    for i, (dx, dy) in enumerate(directions):
        ax.annotate("", xy=(dx * reach, dy * reach), xytext=(0, 0),
                    arrowprops={"arrowstyle": "->", "color": f"C{i % 10}", "linewidth": 2})
    # annotate drops an arrow whose tip leaves the axes: make room for every tip
    ax.set(xlabel="Dimension 1", ylabel="Dimension 2", aspect="equal", xlim=(-1.1 * reach, 1.1 * reach),
           ylim=(-1.1 * reach, 1.1 * reach), title=f"{len(directions)} sources in 2 dimensions")
    return ax.figure


def plot_recovery(true_directions, learned_directions, ax=None, title="Recovery"):
    """|cos| between the true directions (rows) and the learned ones (columns), the learned
    ones reordered by one-to-one matching: a full bright diagonal is perfect recovery."""
    ax = _new_axes(ax, (5, 4))
    index, cosines = match_directions(true_directions, learned_directions)
    c = abs_cosines(true_directions, learned_directions)
    order = np.concatenate([index[index >= 0], np.setdiff1d(np.arange(c.shape[1]), index)])
    _matrix_image(ax, c[:, order], "|cos|", vmin=0, cmap="viridis")
    ax.set(xlabel="Learned direction (matched first)", ylabel="True direction",
           title=f"{title}: MCC = {cosines.mean():.3f}")
    return ax.figure


def plot_heatmap(values, row_labels, col_labels, title, ax=None, xlabel="", ylabel=""):
    """A table of numbers in [0, 1] (n_rows, n_cols) as a heat map, each cell labelled."""
    ax = _new_axes(ax, (5, 4))
    _matrix_image(ax, values, title, vmin=0, cmap="viridis")
    for (i, j), value in np.ndenumerate(values):
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", color="w" if value < 0.6 else "k")
    ax.set_xticks(range(len(col_labels)), col_labels)
    ax.set_yticks(range(len(row_labels)), row_labels)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    return ax.figure


def plot_distributions(groups, ylabel, title, ax=None):
    """Each group's values ({label: 1-D array}) as a strip of points, sorted from left to right,
    with the group's median as a black bar."""
    ax = _new_axes(ax, (5, 3.5))
    for i, values in enumerate(groups.values()):
        values = np.sort(np.asarray(values, dtype=float))
        x = i + np.linspace(-0.25, 0.25, len(values)) if len(values) > 1 else np.array([i])
        ax.plot(x, values, "o", markersize=4, alpha=0.6, color=f"C{i}")
        ax.hlines(np.median(values), i - 0.32, i + 0.32, color="k", linewidth=2)
    ax.set_xticks(range(len(groups)), list(groups))
    ax.set(ylabel=ylabel, title=title)
    return ax.figure


def plot_method_comparison(results, metrics=("MCC", "MMCS", "act_r"), ax=None):
    """Grouped bars: one group per method of `results` ({method: {metric: value}})."""
    ax = _new_axes(ax, (9, 3.5))
    width = 0.8 / len(metrics)
    for i, metric in enumerate(metrics):
        ax.bar(np.arange(len(results)) + (i - (len(metrics) - 1) / 2) * width,
               [r[metric] for r in results.values()], width, label=metric)
    ax.set_xticks(range(len(results)), list(results), rotation=15)
    ax.set(ylim=(0, 1.05), ylabel="Score (1 = perfect)", title="Recovery of the true sources")
    ax.legend(ncols=len(metrics), loc="upper right")
    return ax.figure


def plot_tradeoff(l0_values, fvu_values, labels, ax=None, true_l0=None, ylabel="FVU",
                  title="Reconstruction vs sparsity"):
    """Reconstruction (FVU, or another score: `ylabel`) against sparsity (L0): one line per label
    (e.g. per width), through that label's points in the order given (e.g. increasing
    penalty), the first one hollow."""
    ax = _new_axes(ax, (5, 4))
    l0_values, fvu_values, labels = map(np.asarray, (l0_values, fvu_values, labels))
    for i, label in enumerate(dict.fromkeys(labels)):
        mine = labels == label
        marker = MARKERS[i % len(MARKERS)]
        line, = ax.plot(l0_values[mine], fvu_values[mine], marker + "-", label=label)
        ax.plot(l0_values[mine][0], fvu_values[mine][0], marker, markersize=11,
                markerfacecolor="white", color=line.get_color())
    if true_l0 is not None:
        ax.axvline(true_l0, color="0.5", linestyle="--", label="true L0")
    ax.set(xlabel="L0 (active latents per sample)", ylabel=ylabel, title=title)
    ax.legend()
    return ax.figure


def plot_feature_geometry(W, ax=None, title="Feature directions"):
    """A toy model with 2 hidden dimensions: each feature's column of W (2, n_features) as an
    arrow from the origin, labelled with the feature's index (0: the most important)."""
    ax = _new_axes(ax, (3.5, 3.5))
    W = np.asarray(W)
    reach = max(np.linalg.norm(W, axis=0).max(), 1e-3) * 1.25
    for i, (dx, dy) in enumerate(W.T):
        ax.annotate("", xy=(dx, dy), xytext=(0, 0),
                    arrowprops={"arrowstyle": "->", "color": f"C{i % 10}", "linewidth": 2})
        ax.text(dx * 1.12, dy * 1.12, str(i), color=f"C{i % 10}", ha="center", va="center")
    ax.set(xlim=(-reach, reach), ylim=(-reach, reach), aspect="equal", title=title,
           xlabel="Hidden dimension 1", ylabel="Hidden dimension 2")
    return ax.figure


def plot_feature_norms(norms, superposition, ax=None, title="Feature norms"):
    """Each feature's column length (n_features,) as a horizontal bar, feature 0 at the top,
    coloured by its superposition (n_features,): dark for a dimension of its own, yellow for
    a direction shared with other features (Elhage et al.'s figure)."""
    ax = _new_axes(ax, (3, 4))
    norms, superposition = np.asarray(norms), np.asarray(superposition)
    colours = plt.get_cmap("viridis")(np.clip(superposition, 0, 1))
    ax.barh(np.arange(len(norms)), norms, color=colours)
    ax.axvline(REPRESENTED_NORM, color="0.5", linestyle=":", linewidth=1)  # longer: represented
    if not ax.yaxis_inverted():  # axes sharing y are inverted together, once
        ax.invert_yaxis()
    ax.set(xlim=(0, max(1.3, norms.max() * 1.05)), xlabel="‖Wᵢ‖", ylabel="Feature (most important first)",
           title=title)
    return ax.figure


def plot_interference(W, ax=None, title="WᵀW"):
    """WᵀW (n_features, n_features) of a toy model's W (n_hidden, n_features): squared column
    lengths on the diagonal, the interference between two features off it."""
    ax = _new_axes(ax, (4, 3.5))
    W = np.asarray(W)
    _matrix_image(ax, W.T @ W, "Wᵢ · Wⱼ")
    ax.set(xlabel="Feature j", ylabel="Feature i", title=title)
    return ax.figure


def plot_feature_recovery(cosines, represented, chance=None, ax=None, title="Recovery per feature"):
    """Each method's best |cos| per feature ({label: (n_features,)}), features in order of
    importance; dropped features (`represented` False) shaded; `chance`, if given, dashed."""
    ax = _new_axes(ax, (8, 3.5))
    represented = np.asarray(represented, dtype=bool)
    for i in np.flatnonzero(~represented):
        ax.axvspan(i - 0.5, i + 0.5, color="0.88", linewidth=0)
    for (label, values), marker in zip(cosines.items(), MARKERS * len(cosines)):
        ax.plot(np.arange(len(values)), values, marker, linestyle="", markersize=5, label=label)
    if chance is not None:
        ax.axhline(chance, color="0.4", linestyle="--", label="chance (median)")
    ax.set(ylim=(0, 1.05), xlabel="Feature (most important first; shaded: dropped by the toy model)",
           ylabel="Best |cos|", title=title)
    ax.legend(fontsize="small", loc="lower left", ncols=len(cosines) + 1)
    return ax.figure


def plot_latent_density(frequencies, ax=None, title="How often each latent fires"):
    """Firing frequency of every latent, sorted, one line per run ({label: (n_latents,) fractions
    of samples}); a latent that never fires (dead) is drawn at the bottom, below 1 / n_samples."""
    ax = _new_axes(ax, (6, 3.5))
    floor = min(f[f > 0].min() for f in map(np.asarray, frequencies.values()) if (f > 0).any()) / 10
    for (label, f), marker in zip(frequencies.items(), MARKERS):
        f = np.sort(np.asarray(f))[::-1]
        ax.plot(np.maximum(f, floor), marker + "-", markersize=3, label=f"{label} ({(f == 0).sum()} dead)")
    ax.axhline(floor, color="grey", linewidth=0.8, linestyle=":")
    ax.set(xlabel="Latent (sorted)", ylabel="Fraction of samples it fires on", yscale="log", title=title)
    ax.legend(fontsize=8)
    return ax.figure


def plot_magnitudes(points, ax=None, title="What the matched latent reports"):
    """What each method's matched latents report (latent x decoder norm) against the true
    magnitude of their source, on samples where that source is the only one active:
    {label: (true (n,), reported (n,))}. On the diagonal, a latent reports its source faithfully."""
    ax = _new_axes(ax, (5, 4))
    for (label, (true, reported)), marker in zip(points.items(), MARKERS):
        ax.plot(true, reported, marker, markersize=2, alpha=0.4, label=label)
    top = max(max(np.max(t), np.max(r)) for t, r in points.values())
    ax.plot([0, top], [0, top], color="black", linewidth=1, label="faithful")
    ax.set(xlabel="True magnitude", ylabel="Latent x decoder norm", title=title, xlim=(0, top), ylim=(0, top))
    ax.legend(fontsize=8, markerscale=3)
    return ax.figure


def plot_activation_histogram(activations, latent, ax=None):
    """Histogram of a latent's activations where it fires (> ACTIVE_THRESHOLD)."""
    ax = _new_axes(ax, (5, 2.5))
    activations = as_numpy(activations)
    ax.hist(activations[activations > ACTIVE_THRESHOLD], bins=40, color="darkorange")
    ax.set(xlabel="Activation (where it fires)", ylabel="Characters", title=f"Latent {latent}")
    return ax.figure
