import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
import torch

from notebook_code import solutions
from sae_helpers import match_latents
from sae_helpers.metrics import (
    abs_corr,
    abs_cosines,
    absorption,
    absorption_score,
    active_fraction,
    best_cosines,
    corr,
    dead_latents,
    fvu,
    l0,
    magnitude_shares,
    match_directions,
    mcc,
    mmcs,
    relative_reconstruction_bias,
    selectivity,
    single_source_magnitudes,
)

SOURCES = np.random.default_rng(0).normal(size=(200, 2))


def test_corr_agrees_with_numpy():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(50, 3)), rng.normal(size=(50, 4))
    np.testing.assert_allclose(corr(a, b), np.corrcoef(a.T, b.T)[:3, 3:])


def test_a_latent_equal_to_a_source_has_r_one_whatever_its_sign_and_scale():
    rng = np.random.default_rng(2)
    latents = np.column_stack([rng.normal(size=200), -3 * SOURCES[:, 1] + 5, 2 * SOURCES[:, 0]])
    matches = match_latents(latents, SOURCES)
    np.testing.assert_array_equal(matches.latent, [2, 1])
    np.testing.assert_allclose(matches.abs_r, [1, 1])


def test_a_dead_latent_scores_zero_not_nan():
    latents = np.column_stack([np.full(200, 0.3), SOURCES[:, 0]])
    r = abs_corr(latents, SOURCES)
    np.testing.assert_array_equal(r[0], [0, 0])
    assert np.isfinite(r).all()


def test_matching_follows_a_permutation_of_the_latents():
    rng = np.random.default_rng(3)
    latents = SOURCES @ rng.normal(size=(2, 6)) + 0.1 * rng.normal(size=(200, 6))
    permutation = rng.permutation(6)
    before = match_latents(latents, SOURCES, one_to_one=True)
    after = match_latents(latents[:, permutation], SOURCES, one_to_one=True)
    np.testing.assert_array_equal(permutation[after.latent], before.latent)
    np.testing.assert_allclose(after.abs_r, before.abs_r)


def test_one_to_one_matching_gives_each_source_its_own_latent():
    # latent 0 follows both sources (their sum, |r| ~ 0.7 with each); latent 1 follows
    # source 2 only, through noise (|r| ~ 0.6)
    rng = np.random.default_rng(4)
    sources = SOURCES
    latents = np.column_stack([sources.sum(axis=1), sources[:, 1] + 1.2 * rng.normal(size=200)])
    greedy = match_latents(latents, sources)
    assert greedy.latent[0] == greedy.latent[1] == 0, "the lecture's rule lets both claim latent 0"
    unique = match_latents(latents, sources, one_to_one=True)
    np.testing.assert_array_equal(unique.latent, [0, 1])


def test_tensors_with_gradients_are_accepted():
    latents = torch.tensor(SOURCES, requires_grad=True)
    np.testing.assert_allclose(match_latents(latents, SOURCES).abs_r, [1, 1])


@pytest.mark.parametrize(
    "latents, sources, kwargs, message",
    [
        (np.ones((5, 3)), np.ones((6, 2)), {}, "same number of samples"),
        (np.ones((1, 3)), np.ones((1, 2)), {}, "at least 2 samples"),
        (np.ones((5, 1)), np.ones((5, 2)), {"one_to_one": True}, "at least as many latents"),
        (np.full((5, 3), np.nan), np.ones((5, 2)), {}, "latents contains NaN"),
        (np.ones(5), np.ones((5, 2)), {}, "latents must be 2-D"),
    ],
)
def test_bad_input_is_named(latents, sources, kwargs, message):
    with pytest.raises(ValueError, match=message):
        match_latents(latents, sources, **kwargs)


def test_fvu_is_zero_for_perfect_and_one_for_the_mean():
    data = np.random.default_rng(5).normal(size=(40, 3))
    assert fvu(data, data) == 0
    assert fvu(data, np.broadcast_to(data.mean(axis=0), data.shape)) == pytest.approx(1)
    # by hand: one feature, values 0 and 2 (mean 1, total sum of squares 2), both predicted as 0
    assert fvu(np.array([[0.0], [2.0]]), np.zeros((2, 1))) == pytest.approx(4 / 2)


def test_fvu_per_instance_of_a_batch():
    data = np.random.default_rng(6).normal(size=(40, 2))
    stacked = torch.tensor(np.stack([data, np.zeros_like(data)]))
    np.testing.assert_allclose(fvu(data, stacked), [0, fvu(data, np.zeros_like(data))])


def test_fvu_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="x_recon must end in the data's shape"):
        fvu(np.ones((4, 2)), np.ones((4, 3)))


def test_cosine_metrics_by_hand():
    true = np.array([[1.0, 0.0], [0.0, 1.0]])
    learned = np.array([[2.0, 0.0], [1.0, 1.0], [0.0, 0.0]])  # scaled e1, the diagonal, a zero atom
    np.testing.assert_allclose(abs_cosines(true, learned), [[1, 0.5**0.5, 0], [0, 0.5**0.5, 0]])
    assert mcc(true, learned) == pytest.approx((1 + 0.5**0.5) / 2)
    assert mmcs(true, learned) == pytest.approx((1 + 0.5**0.5) / 2)
    # one shared direction: MMCS lets both sources claim it, MCC gives it to one of them only
    diagonal = np.array([[1.0, 1.0]])
    assert mmcs(true, diagonal) == pytest.approx(0.5**0.5)
    assert mcc(true, diagonal) == pytest.approx(0.5**0.5 / 2)


def test_mcc_known_answers():
    rng = np.random.default_rng(7)
    true = rng.normal(size=(16, 8))
    true /= np.linalg.norm(true, axis=1, keepdims=True)
    assert mcc(true, true) == pytest.approx(1)
    assert mcc(true, -3 * true[rng.permutation(16)]) == pytest.approx(1), "sign, scale, order do not matter"
    # fewer learned directions than sources: the unmatched ones count 0
    assert mcc(true, true[:4]) == pytest.approx(4 / 16)
    # a random dictionary scores far below 1 (chance level for 16 directions in 8 dimensions)
    assert mcc(true, rng.normal(size=(32, 8))) < 0.8


def test_best_cosines_known_answers():
    true = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    learned = np.array([[0.0, -5.0], [0.0, 0.0], [3.0, 0.1]])
    # |cos| with any learned direction, sign and length ignored; the zero direction scores 0
    expected = [3 / np.hypot(3, 0.1), 1.0, max(5 / (5 * 2**0.5), 3.1 / (np.hypot(3, 0.1) * 2**0.5))]
    np.testing.assert_allclose(best_cosines(true, learned), expected)
    assert mmcs(true, learned) == pytest.approx(np.mean(expected))


def test_match_directions_marks_unmatched_sources():
    index, cosines = match_directions(np.eye(3), np.array([[0.0, 1.0, 0.0]]))
    np.testing.assert_array_equal(index, [-1, 0, -1])
    np.testing.assert_allclose(cosines, [0, 1, 0])


def test_l0_and_dead_latents_by_hand():
    latents = np.array([[0.0, 2.0, 0.0], [1.0, 3.0, 0.0]])
    assert l0(latents) == 1.5
    assert dead_latents(latents) == 1


def test_direction_metrics_reject_mismatched_dimensions():
    with pytest.raises(ValueError, match="same dimension"):
        mcc(np.eye(3), np.eye(2))


def test_active_fraction_and_dead_latents_count_values_above_the_threshold():
    latents = np.array([[-0.1, 2.0, 1e-4], [0.3, -1.0, 0.0], [-0.2, 1.0, 1e-9], [-0.1, 0.5, 0.0]])
    np.testing.assert_allclose(active_fraction(latents), [0.25, 0.75, 0])
    assert dead_latents(latents) == 1, "dead: never above 1e-3; GELU's small negatives and tiny positives included"
    assert l0(np.array([[-0.5, 1e-4, 2.0], [0.0, -1e-9, 0.002]])) == 1.5, "L0 counts |code| > 1e-3"
    once = np.zeros((5000, 2))
    once[17, 0] = 0.5  # active on 1 sample in 5,000: rare, but alive
    assert dead_latents(once) == 1


def test_selectivity_by_hand():
    sources = SOURCES
    # latent 0 is source 1 exactly; latent 1 follows source 2 and, as much, source 1
    latents = np.column_stack([sources[:, 0], sources[:, 0] + sources[:, 1]])
    matches = match_latents(latents, sources, one_to_one=True)
    r = abs_corr(latents, sources)
    expected = [1 - r[0, 1], r[1, 1] - r[1, 0]]
    np.testing.assert_allclose(selectivity(latents, sources, matches), expected)
    # the two sample sources correlate a little (r ~ 0.05), hence "about" 1 and 0
    assert selectivity(latents, sources, matches)[0] == pytest.approx(1, abs=0.1)
    assert abs(selectivity(latents, sources, matches)[1]) < 0.1


def test_selectivity_needs_two_sources():
    one = SOURCES[:, :1]
    with pytest.raises(ValueError, match="at least 2 sources"):
        selectivity(one, one, match_latents(one, one))


def test_notebook_06_mcc_solution_behaves_like_the_helper():
    inline = solutions("06_superposition.py", {"np": np, "torch": torch, "nn": torch.nn,
                                               "linear_sum_assignment": linear_sum_assignment})
    rng = np.random.default_rng(0)
    true = rng.normal(size=(12, 6))
    for learned in [rng.normal(size=(30, 6)), rng.normal(size=(5, 6)), 3 * true[::-1], true[:4]]:
        assert inline["mcc"](true, learned) == pytest.approx(mcc(true, learned), rel=1e-12)


def test_magnitude_shares_by_hand():
    # 2 sources along the axes in 2 dimensions, matched to latents 1 and 0; latent 2 writes
    # along both (its direction (0.6, 0.8)), latent 0 has length 2
    truth = np.eye(2)
    decoder = np.array([[0.0, 2.0], [1.0, 0.0], [0.6, 0.8]])
    activations = np.array([
        [1.0, 0.0],  # source 0 alone
        [2.0, 0.0],  # source 0 alone
        [1.0, 1.0],  # both: left out
        [0.0, 0.5],  # source 1 alone
    ])
    latents = np.array([
        [0.0, 0.8, 0.0],  # source 0: own 0.8, others 0 (shrunk by a fifth)
        [0.0, 1.2, 1.0],  # source 0: own 1.2 / 2 = 0.6, others 0.6 / 2 = 0.3 (split)
        [9.0, 9.0, 9.0],
        [0.2, 5.0, 0.5],  # source 1: own 0.2 * 2 / 0.5 = 0.8, others 0.5 * 0.8 / 0.5 = 0.8
    ])
    shares = magnitude_shares(latents, decoder, activations, truth, [1, 0])
    np.testing.assert_allclose(shares.own, [0.7, 0.8])
    np.testing.assert_allclose(shares.others, [0.15, 0.8])


def test_magnitude_shares_of_a_faithful_dictionary_and_of_a_source_never_alone():
    rng = np.random.default_rng(8)
    activations = rng.uniform(0.5, 1.5, (100, 3)) * (rng.random((100, 3)) < 0.3)
    activations[:, 2] = activations[:, 0] * (activations[:, 1] > 0)  # source 2 is never alone
    truth = np.linalg.qr(rng.normal(size=(5, 3)))[0].T  # orthonormal rows
    lengths = np.array([2.0, 4.0, 0.5])
    shares = magnitude_shares(activations / lengths, truth * lengths[:, None], activations, truth, [0, 1, 2])
    np.testing.assert_allclose(shares.own[:2], 1)
    np.testing.assert_allclose(shares.others[:2], 0, atol=1e-12)
    assert np.isnan(shares.own[2]) and np.isnan(shares.others[2])


def test_magnitude_shares_reject_directions_of_the_wrong_shape():
    with pytest.raises(ValueError, match="one source direction per source"):
        magnitude_shares(np.ones((4, 3)), np.ones((3, 2)), np.ones((4, 2)), np.ones((2, 5)), [0, 1])
    with pytest.raises(ValueError, match="one decoder direction per latent"):
        magnitude_shares(np.ones((4, 3)), np.ones((2, 2)), np.ones((4, 2)), np.ones((2, 2)), [0, 1])


def test_absorption_score_by_hand():
    t, f = True, False
    # four parents (columns); samples 6 and 7 have the parent inactive and never count
    parent = [[t, t, t, t]] * 6 + [[f, f, f, f]] * 2
    child = [[t, t, t, f], [t, t, t, f], [f, f, f, f], [f, f, f, f], [f, f, f, f], [f, f, f, f],
             [t, t, t, t], [f, f, f, f]]
    fires = [
        [t, t, t, t],  # with a child (but parent 3's child is never active with it)
        [f, t, t, t],  # with a child
        [t, f, t, t],  # alone
        [t, f, t, t],  # alone
        [t, f, t, t],  # alone
        [f, f, t, t],  # alone
        [t, t, f, f],
        [f, t, t, f],
    ]
    # column 0: recall 1/2 with a child, 3/4 alone: 1 - (1/2) / (3/4) = 1/3
    # column 1: never fires on the parent alone: NaN; column 2: fires on every parent sample: 0
    # column 3: no sample has the parent with a child, so there is nothing to compare: NaN
    np.testing.assert_allclose(absorption_score(fires, parent, child), [1 / 3, np.nan, 0, np.nan])


def test_absorption_by_hand():
    # source 1 is a child of source 0, source 3 a child of source 2
    activations = np.array([
        [1.0, 0.0, 0.8, 0.0],  # 0 alone, 2 alone
        [1.0, 0.0, 0.0, 0.0],  # 0 alone
        [1.0, 0.6, 0.0, 0.0],  # 0 with its child
        [1.0, 0.6, 0.8, 0.9],  # both with their children
        [0.0, 0.0, 0.8, 0.9],  # 2 with its child
        [0.0, 0.0, 0.8, 0.0],  # 2 alone
    ])
    latents = np.array([  # matched: source 0 -> latent 1, source 2 -> latent 3 (the other two always fire)
        [0.5, 0.5, 0.5, 0.0],
        [0.5, 0.5, 0.5, 0.0],
        [0.5, 0.5, 0.5, 0.0],
        [0.5, 0.0, 0.5, 0.5],
        [0.5, 0.0, 0.5, 0.5],
        [0.5, 0.0, 0.5, 0.0],
    ])
    # source 0's latent: recall 1 alone (samples 0, 1), 1/2 with its child (2, 3): 1 - (1/2) / 1 = 1/2
    # source 2's latent fires only with the child (3, 4), never alone (0, 5): NaN
    np.testing.assert_allclose(absorption(latents, activations, [1, 0, 3, 2], [-1, 0, -1, 2]), [0.5, np.nan])


@pytest.mark.parametrize("parents", [[-1, 0, 0], [-1, 7], [-1, -2]])
def test_absorption_names_bad_parents(parents):
    with pytest.raises(ValueError, match="parents must give, for each of the 2 sources"):
        absorption(np.ones((4, 2)), np.ones((4, 2)), [0, 1], parents)


@pytest.mark.parametrize("fires", [np.ones((4, 1), bool), np.ones((4, 2), bool), np.ones(4, bool)])
def test_absorption_score_needs_one_shape(fires):
    with pytest.raises(ValueError, match="must have one shape"):
        absorption_score(fires, np.ones((4, 3), bool), np.ones((4, 3), bool))


def test_absorption_needs_a_hierarchy():
    with pytest.raises(ValueError, match="no source has a parent"):
        absorption(np.ones((4, 2)), np.ones((4, 2)), [0, 1], [-1, -1])


@pytest.mark.parametrize("metric", [
    lambda latents, activations, matched: magnitude_shares(latents, np.ones((3, 2)), activations, np.ones((2, 2)),
                                                           matched),
    lambda latents, activations, matched: absorption(latents, activations, matched, [-1, 0]),
], ids=["magnitude_shares", "absorption"])
@pytest.mark.parametrize("latents, activations, matched", [
    (np.ones((5, 3)), np.ones((4, 2)), [0, 1]),  # different numbers of samples
    (np.ones((5, 3)), np.ones((5, 2)), [0, 1, 2]),  # one matched latent per latent, not per source
    (np.ones((5, 3)), np.ones((5, 2)), [[0, 1]]),
])
def test_matched_metrics_reject_mismatched_shapes(metric, latents, activations, matched):
    with pytest.raises(ValueError, match="need latents and activations of the same samples, and one matched latent"):
        metric(latents, activations, matched)


def test_relative_reconstruction_bias_by_hand():
    data = np.array([[1.0, 0.0], [0.0, 2.0]])
    # a reconstruction at 0.8 of the data: gamma = (0.64 * 5) / (0.8 * 5) = 0.8; the best fit of
    # x_recon / gamma to the data is exact
    np.testing.assert_allclose(relative_reconstruction_bias(data, 0.8 * data), 0.8)
    np.testing.assert_allclose(relative_reconstruction_bias(data, np.stack([data, 1.5 * data])), [1.0, 1.5])
    # an error at right angles to the reconstruction is no shrinkage: x_recon . (x_recon - x) sums
    # to 1 - 1 = 0, so gamma = 3 / 3 = 1 (regressing x_recon on the data instead gives 3 / 5)
    np.testing.assert_allclose(relative_reconstruction_bias(data, np.array([[1.0, 1.0], [0.0, 1.0]])), 1.0)
    with pytest.raises(ValueError, match="x_recon must end in the data's shape"):
        relative_reconstruction_bias(data, np.ones((3, 2)))


def test_absorption_counts_only_samples_with_room_when_asked():
    # source 0 is source 1's parent; a third source, 2, crowds sample 3
    activations = np.array([
        [1.0, 0.0, 0.0],  # parent alone: the latent fires
        [1.0, 1.0, 0.0],  # parent and child: it fires
        [1.0, 1.0, 1.0],  # parent, child and another source: it does not
        [1.0, 0.0, 0.0],
    ])
    latents = np.array([[1.0, 0, 0], [1.0, 0, 0], [0.0, 0, 0], [1.0, 0, 0]])
    parents = [-1, 0, -1]
    # every sample: recall 1/2 with the child, 1 without -> 1/2; at most 2 active: 1 and 1 -> 0
    np.testing.assert_allclose(absorption(latents, activations, [0, 1, 2], parents), [0.5])
    np.testing.assert_allclose(absorption(latents, activations, [0, 1, 2], parents, max_active=2), [0.0])
    seen = []
    absorption(latents, activations, [0, 1, 2], parents, score=lambda *arrays: seen.append(arrays))
    fires, parent_active, child_active = seen[0]
    np.testing.assert_array_equal(child_active[:, 0], [False, True, True, False])


def test_single_source_magnitudes_lists_every_lone_source():
    activations = np.array([[0.5, 0.0], [0.0, 2.0], [1.0, 1.0]])
    latents = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    directions = np.array([[0.5, 0.0], [0.0, 3.0]])
    m = single_source_magnitudes(latents, directions, activations, [0, 1])
    np.testing.assert_array_equal(m.source, [0, 1])
    np.testing.assert_allclose(m.true, [0.5, 2.0])
    np.testing.assert_allclose(m.reported, [0.5, 3.0])
