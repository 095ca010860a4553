import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.text import Annotation

from sae_helpers.data import make_lecture_data, make_sparse_sources
from sae_helpers.metrics import mcc, mmcs
from sae_helpers.plots import (
    plot_best_latents,
    plot_direction_cosines,
    plot_distributions,
    plot_directions_2d,
    plot_feature_geometry,
    plot_feature_norms,
    plot_feature_recovery,
    plot_heatmap,
    plot_histograms,
    plot_interference,
    plot_latent_corr,
    plot_loss_components,
    plot_loss_curves,
    plot_losses,
    plot_method_comparison,
    plot_mixing_overview,
    plot_recovery,
    plot_signals,
    plot_tradeoff,
)
from sae_helpers.train import History

MIXED = make_lecture_data(n_samples=300)
HISTORY = History(mse=np.linspace(3, 0.1, 50), penalty_loss=np.linspace(0.3, 0.2, 50), penalty="l1")


def test_signals_draw_each_column_on_the_given_axes():
    fig, ax = plt.subplots()
    assert plot_signals(MIXED.sources, ["a", "b"], "sources", ax=ax) is fig
    for line, column, label in zip(ax.lines, MIXED.sources.T, ["a", "b"]):
        np.testing.assert_array_equal(line.get_ydata(), column)
        assert line.get_label() == label


def test_loss_components_show_both_relative_to_their_first_epoch_on_one_log_axis():
    fig, ax = plt.subplots()
    assert plot_loss_components(HISTORY, ax=ax, every=10) is fig
    mse, penalty = ax.lines
    np.testing.assert_allclose(mse.get_ydata(), HISTORY.mse[::10] / HISTORY.mse[0])
    np.testing.assert_allclose(penalty.get_ydata(), HISTORY.penalty_loss[::10] / HISTORY.penalty_loss[0])
    np.testing.assert_array_equal(mse.get_xdata(), np.arange(0, 50, 10))
    assert (mse.get_label(), penalty.get_label()) == ("MSE", "L1 penalty")
    assert ax.get_yscale() == "log"
    no_penalty = History(mse=HISTORY.mse, penalty_loss=np.zeros(50), penalty="none")
    assert [line.get_label() for line in plot_loss_components(no_penalty).axes[0].lines] == ["MSE"]


@pytest.mark.parametrize("which, label", [("total", "Total loss"), ("mse", "MSE"), ("penalty_loss", "Penalty")])
def test_loss_curves_plot_and_name_the_requested_quantity(which, label):
    other = History(mse=np.linspace(2, 1, 50), penalty_loss=np.linspace(1, 0.5, 50), penalty="l1")
    fig = plot_loss_curves({"run": HISTORY, "other": other}, which=which, every=10)
    ax = fig.axes[0]
    for line, history in zip(ax.lines, [HISTORY, other]):
        np.testing.assert_array_equal(line.get_ydata(), getattr(history, which)[::10])
    assert [line.get_label() for line in ax.lines] == ["run", "other"]
    assert (ax.get_ylabel(), ax.get_title()) == (label, f"{label} per epoch")


def test_best_latents_are_drawn_rescaled_over_their_sources():
    # latent 1 is source 1 upside down and scaled; latent 0 follows source 2 through noise
    noise = np.random.default_rng(0).normal(size=300)
    latents = np.column_stack([MIXED.sources[:, 1] + noise, -3 * MIXED.sources[:, 0], noise])
    ax = plot_best_latents(latents, MIXED.sources, n_shown=100).axes[0]
    source_1, latent_1, source_2, latent_2 = ax.lines
    np.testing.assert_array_equal(source_1.get_ydata(), MIXED.sources[:100, 0])
    np.testing.assert_allclose(latent_1.get_ydata(), MIXED.sources[:100, 0], atol=1e-9)  # flipped, rescaled
    np.testing.assert_array_equal(source_2.get_ydata(), MIXED.sources[:100, 1])
    r = abs(np.corrcoef(latents[:, 0], MIXED.sources[:, 1])[0, 1])
    assert (latent_1.get_label(), latent_2.get_label()) == ("latent 1 (|r| = 1.00)", f"latent 0 (|r| = {r:.2f})")


def test_method_comparison_draws_each_metric_of_each_method():
    results = {"SAE": {"MCC": 1.0, "MMCS": 0.9, "act_r": 0.8}, "PCA": {"MCC": 0.2, "MMCS": 0.5, "act_r": 0.1}}
    ax = plot_method_comparison(results).axes[0]
    heights = [bar.get_height() for bar in ax.patches]  # metric by metric, methods in order
    assert heights == [1.0, 0.2, 0.9, 0.5, 0.8, 0.1]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["SAE", "PCA"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["MCC", "MMCS", "act_r"]


def test_signal_title_reports_the_correlation():
    fig = plot_signals(MIXED.data, ["a", "b"], "Mixed")
    r = np.corrcoef(MIXED.data.T)[0, 1]
    assert fig.axes[0].get_title() == f"Mixed (r = {r:.2f})"
    # a correlation that rounds to zero is printed as 0.00, never -0.00
    anti = np.column_stack([np.ones(4) * [1, -1, 1, -1], [1, 1, -1, -0.9999]])
    assert "(r = 0.00)" in plot_signals(anti, ["a", "b"], "t").axes[0].get_title()


def test_histograms_are_densities_or_counts():
    fig = plot_histograms(MIXED.sources, ["a"], "h", density=False, bins=10)
    counts = fig.axes[0].lines[0].get_ydata()
    assert counts.sum() == len(MIXED.sources)


def test_composed_figures_have_the_lectures_panels():
    assert len(plot_mixing_overview(MIXED.sources, MIXED.data).axes) == 4
    fig = plot_losses(HISTORY)
    assert len(fig.axes) == 2  # components and total
    assert fig.axes[0].get_title() == "Training loss components" and fig.axes[1].get_ylabel() == "Total loss"
    fig, axs = plt.subplots(1, 3)
    assert plot_losses(HISTORY, axs=axs[1:]) is fig and not axs[0].lines  # the training explorer's panels
    assert axs[1].get_title() == "Training loss components" and axs[2].get_ylabel() == "Total loss"


def test_latent_correlation_image_spans_minus_one_to_one():
    latents = np.column_stack([MIXED.data, -MIXED.data[:, 0], np.zeros(300)])
    fig = plot_latent_corr(latents)
    image = fig.axes[0].images[0]
    assert image.get_clim() == (-1, 1)
    values = image.get_array()
    assert values[0, 2] == pytest.approx(-1) and (values[3] == 0).all()


SPARSE = make_sparse_sources(n_sources=6, d=2, p=0.1, n_samples=500, seed=0)


def test_recovery_image_puts_the_matched_directions_on_the_diagonal():
    learned = SPARSE.directions[[3, 1, 5, 0, 4, 2]] * 2
    fig = plot_recovery(SPARSE.directions, np.vstack([learned, [[1.0, 1.0]]]))
    image = fig.axes[0].images[0].get_array()
    np.testing.assert_allclose(np.diag(image[:, :6]), 1)
    assert fig.axes[0].get_title() == "Recovery: MCC = 1.000"
    few = SPARSE.directions[[0, 1, 2]]  # 3 directions for 6 sources: MCC 0.5, MMCS higher
    assert mmcs(SPARSE.directions, few) > mcc(SPARSE.directions, few) + 0.1
    title = plot_recovery(SPARSE.directions, few, title="Few").axes[0].get_title()
    assert title == f"Few: MCC = {mcc(SPARSE.directions, few):.3f}"


def test_superposition_figures_draw():
    fig, axs = plt.subplots(2, 3)
    plot_directions_2d(SPARSE.data, SPARSE.directions, ax=axs[0, 0])
    assert len(axs[0, 0].texts) == 6, "one arrow per source"
    (x_low, x_high), (y_low, y_high) = axs[0, 0].get_xlim(), axs[0, 0].get_ylim()
    for arrow in axs[0, 0].texts:  # matplotlib does not draw an arrow whose tip is outside
        assert x_low < arrow.xy[0] < x_high and y_low < arrow.xy[1] < y_high
    plot_direction_cosines(SPARSE.directions, ax=axs[0, 1])
    np.testing.assert_allclose(np.diag(axs[0, 1].images[0].get_array()), 1)
    plot_heatmap(np.array([[0.2, 0.9]]), ["a"], ["x", "y"], "MCC", ax=axs[0, 2])
    assert [t.get_text() for t in axs[0, 2].texts] == ["0.20", "0.90"]
    plot_tradeoff([3, 1, 2, 5], [0.1, 0.5, 0.2, 0.4], ["w", "w", "w", "v"], ax=axs[1, 1], true_l0=1.2)
    np.testing.assert_array_equal(axs[1, 1].lines[0].get_xdata(), [3, 1, 2])
    np.testing.assert_array_equal(axs[1, 1].lines[0].get_ydata(), [0.1, 0.5, 0.2])
    assert [t.get_text() for t in axs[1, 1].get_legend().get_texts()] == ["w", "v", "true L0"]


def test_distributions_show_sorted_points_and_medians():
    fig = plot_distributions({"a": [3.0, 1.0, 2.0], "b": [5.0]}, "value", "title")
    ax = fig.axes[0]
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), [1, 2, 3])
    medians = [c.get_segments()[0][0][1] for c in ax.collections]
    assert medians == [2.0, 5.0]


def test_feature_geometry_draws_each_column_as_an_arrow_to_its_tip():
    W = np.array([[1.0, -1.0, 0.0], [0.0, 0.0, 0.5]])
    ax = plot_feature_geometry(W).axes[0]
    arrows = [t for t in ax.texts if isinstance(t, Annotation)]
    labels = [t for t in ax.texts if not isinstance(t, Annotation)]
    np.testing.assert_allclose([a.xy for a in arrows], W.T)
    assert [t.get_text() for t in labels] == ["0", "1", "2"]
    assert ax.get_xlim()[1] >= 1 and ax.get_ylim()[0] <= -1
    plt.close("all")


def test_feature_norms_are_bar_lengths_with_feature_0_on_top_even_on_shared_axes():
    norms, superposition = np.array([1.0, 0.9, 0.1]), np.array([0.0, 2.0, 0.5])
    fig, axs = plt.subplots(1, 2, sharey=True)
    for ax in axs:
        plot_feature_norms(norms, superposition, ax=ax)
    for ax in axs:
        np.testing.assert_allclose([bar.get_width() for bar in ax.patches], norms)
        assert ax.yaxis_inverted()
    colours = [bar.get_facecolor() for bar in axs[0].patches]
    assert colours[0] != colours[1] and colours[1] == tuple(plt.get_cmap("viridis")(1.0))
    plt.close("all")


def test_interference_image_is_w_transpose_w():
    W = np.array([[1.0, 0.5, 0.0], [0.0, 0.5, -1.0]])
    ax = plot_interference(W).axes[0]
    np.testing.assert_allclose(ax.images[0].get_array(), W.T @ W)
    plt.close("all")


def test_feature_recovery_draws_each_method_the_dropped_features_and_chance():
    cosines = {"SAE": np.array([1.0, 0.9, 0.2]), "random": np.array([0.5, 0.6, 0.7])}
    ax = plot_feature_recovery(cosines, represented=[True, True, False], chance=0.6).axes[0]
    lines = {line.get_label(): line for line in ax.lines}
    for label, values in cosines.items():
        np.testing.assert_allclose(lines[label].get_ydata(), values)
    np.testing.assert_allclose(lines["chance (median)"].get_ydata(), [0.6, 0.6])
    assert len(ax.patches) == 1, "one shaded span: feature 2 was dropped"
    plt.close("all")
