import numpy as np
import pytest
import torch

from sae_helpers.checks import check_matrix
from sae_helpers.data import (
    LECTURE_MIXING,
    lecture_sources,
    make_lecture_data,
    make_sparse_sources,
    mix,
    normalise_inputs,
)


def test_lecture_sources_are_the_lectures_signals():
    t, sources = lecture_sources(3000)
    assert t.shape == (3000,) and sources.shape == (3000, 2)
    assert t[0] == 0 and np.isclose(t[-1], 14 * np.pi)
    np.testing.assert_allclose(sources[:, 0], np.sin(t) + 1)
    # the square wave takes 0 and 2, and 1 only where sin(3t) is exactly 0 (t = 0)
    assert set(np.unique(sources[:, 1])) <= {0.0, 1.0, 2.0}
    assert (sources[:, 1] == 1).sum() == 1


def test_make_lecture_data_mixes_with_the_lecture_matrix():
    mixed = make_lecture_data()
    np.testing.assert_array_equal(mixed.mixing, [[1, 0.4], [0.6, 1]])
    np.testing.assert_allclose(mixed.data, mixed.sources @ np.array(LECTURE_MIXING))
    # row i of the mixing matrix is what source i adds to the data: a source of 1 adds row i
    np.testing.assert_allclose(mix(np.array([[1.0, 0.0]]), mixed.mixing), [[1.0, 0.4]])


def test_identity_mixing_leaves_sources_unchanged():
    mixed = make_lecture_data(n_samples=50, mixing=np.eye(2))
    np.testing.assert_array_equal(mixed.data, mixed.sources)


def test_mix_rejects_a_matrix_with_the_wrong_number_of_rows():
    with pytest.raises(ValueError, match="one row per source"):
        mix(np.ones((5, 2)), np.ones((3, 2)))


def test_too_few_samples_is_an_error():
    with pytest.raises(ValueError, match="n_samples"):
        lecture_sources(1)


@pytest.mark.parametrize(
    "x, message",
    [
        (np.ones(5), "must be 2-D"),
        (np.ones((2, 2, 2)), "must be 2-D"),
        (np.ones((0, 2)), "empty"),
        (np.ones((4, 3)), "must have 2 columns"),
        (np.array([[1.0, np.nan]]), "NaN or inf"),
        (torch.tensor([[1.0, float("inf")]]), "NaN or inf"),
    ],
)
def test_check_matrix_names_the_problem(x, message):
    with pytest.raises(ValueError, match=message):
        check_matrix(x, "data", n_cols=2)


def test_check_matrix_returns_good_input_unchanged():
    x = torch.ones(3, 2)
    assert check_matrix(x, n_cols=2) is x
    assert check_matrix([[1, 2]]).shape == (1, 2)


def test_sparse_sources_have_the_stated_statistics():
    sources = make_sparse_sources(n_sources=20, d=8, p=0.1, n_samples=20_000, magnitude=(0.5, 1.5), seed=3)
    assert sources.data.shape == (20_000, 8)
    assert sources.activations.shape == (20_000, 20) and sources.directions.shape == (20, 8)
    np.testing.assert_allclose(np.linalg.norm(sources.directions, axis=1), 1)
    active = sources.activations > 0
    assert active.mean() == pytest.approx(0.1, abs=0.005)
    assert active.sum(axis=1).mean() == pytest.approx(20 * 0.1, abs=0.05), "true L0 = n_sources * p"
    on = sources.activations[active]  # about 40,000 draws from U(0.5, 1.5): mean 1, sd 0.29
    assert on.min() >= 0.5 and on.max() <= 1.5
    assert on.mean() == pytest.approx(1.0, abs=0.01) and on.max() > 1.49, "magnitudes span U(low, high)"
    np.testing.assert_allclose(sources.data, sources.activations @ sources.directions)


def test_sparse_sources_are_reproducible_by_seed():
    a, b, c = (make_sparse_sources(8, 4, 0.2, 100, seed=s) for s in (1, 1, 2))
    np.testing.assert_array_equal(a.data, b.data)
    assert not np.array_equal(a.data, c.data)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_sources": 0}, "n_sources"),
        ({"d": 2.5}, "d must be a positive integer"),
        ({"p": 0}, "p must be a probability"),
        ({"p": 1.5}, "p must be a probability"),
        ({"magnitude": (2, 1)}, "magnitude"),
        ({"n_samples": -1}, "n_samples"),
    ],
)
def test_sparse_sources_reject_nonsense_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_sparse_sources(**kwargs)


def test_sparse_sources_without_a_hierarchy_are_unchanged_by_seed():
    # golden values recorded from the version before p could be a profile and parents existed:
    # the same seed must still give the same arrays
    sources = make_sparse_sources(8, 4, 0.2, 100, seed=1)
    assert (sources.activations > 0).sum() == 158
    assert sources.activations.sum() == pytest.approx(156.23488131673727, rel=1e-12)
    np.testing.assert_allclose(sources.data[0], [-1.2658057983005242, -0.5844835399622366,
                                                 -0.45078225166402525, 0.40895048716820487], rtol=1e-12)
    # a scalar p, the same p once per source, and a hierarchy with no parents are one thing
    for same in (make_sparse_sources(8, 4, [0.2] * 8, 100, seed=1),
                 make_sparse_sources(8, 4, 0.2, 100, seed=1, parents=[-1] * 8)):
        np.testing.assert_array_equal(same.data, sources.data)
        np.testing.assert_array_equal(same.activations, sources.activations)


def within_binomial_error(rate, p, n, n_sd=5):
    """An observed rate of n Bernoulli(p) draws lies within n_sd standard deviations of p."""
    return abs(rate - p) <= n_sd * np.sqrt(p * (1 - p) / n)


def test_each_source_fires_at_its_own_rate():
    p = np.array([0.5, 0.2, 0.05, 0.01, 1.0])
    n = 40_000
    active = make_sparse_sources(5, 3, p, n, seed=0).activations > 0
    rates = active.mean(axis=0)
    for i in range(5):
        assert within_binomial_error(rates[i], p[i], n), f"source {i}: rate {rates[i]:.4f}, asked for {p[i]}"
    assert rates[4] == 1.0
    assert active.sum(axis=1).mean() == pytest.approx(p.sum(), abs=0.03), "true L0 = the sum of p"


def test_a_child_fires_only_with_its_parent_and_then_at_its_own_rate():
    # 0 -> 1 -> 2 is a chain (2 is a grandchild of 0); 3 is a second child of 0; 4 has no parent
    p = [0.3, 0.5, 0.4, 0.2, 0.1]
    n = 40_000
    active = make_sparse_sources(5, 3, p, n, seed=2, parents=[-1, 0, 1, 0, -1]).activations > 0
    for child, parent in [(1, 0), (2, 1), (3, 0)]:
        assert not (active[:, child] & ~active[:, parent]).any(), f"source {child} fired without its parent"
        given = active[active[:, parent], child].mean()
        n_parent = active[:, parent].sum()
        assert within_binomial_error(given, p[child], n_parent), (
            f"source {child} given its parent: rate {given:.4f}, asked for {p[child]}")
    assert not (active[:, 2] & ~active[:, 0]).any(), "a grandchild fires only where its grandparent does"
    # unconditional rates: the chain multiplies, a source with no parent keeps its own p
    for i, expected in enumerate([0.3, 0.3 * 0.5, 0.3 * 0.5 * 0.4, 0.3 * 0.2, 0.1]):
        assert within_binomial_error(active[:, i].mean(), expected, n), f"source {i}"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"p": [0.1, 0.2]}, r"p must be a probability in \(0, 1\], or one per source \(4\)"),
        ({"p": [0.1, 0.2, 0.0, 0.3]}, "p must be a probability"),
        ({"p": [0.1, 0.2, 1.5, 0.3]}, "p must be a probability"),
        ({"p": float("nan")}, "p must be a probability"),
        ({"parents": [-1, 0, 1]}, "parents must give, for each of the 4 sources, -1 or the index of an earlier"),
        ({"parents": [-1, 1, 0, 0]}, "parents must give"),  # source 1 its own parent
        ({"parents": [-1, 2, -1, 0]}, "parents must give"),  # a parent after its child
        ({"parents": [0, -1, -1, -1]}, "parents must give"),
        ({"parents": [-1, -2, 0, 0]}, "parents must give"),  # below -1
        ({"parents": [-1, 0.5, 0, 0]}, "parents must give"),  # not an index
    ],
)
def test_bad_profiles_and_hierarchies_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_sparse_sources(n_sources=4, d=2, n_samples=10, **kwargs)


def test_normalise_inputs_scales_to_a_mean_norm_of_sqrt_d():
    data = np.random.default_rng(0).normal(size=(200, 9)) * 7.0
    scaled, scale = normalise_inputs(data)
    assert np.linalg.norm(scaled, axis=1).mean() == pytest.approx(3.0)  # sqrt(9)
    np.testing.assert_allclose(scaled, data * scale)
    as_tensor, tensor_scale = normalise_inputs(torch.tensor(data))
    assert isinstance(as_tensor, torch.Tensor) and tensor_scale == pytest.approx(scale)


@pytest.mark.parametrize("data, message", [(np.zeros((4, 3)), "all zeros"), (np.full((4, 3), np.nan), "NaN")])
def test_normalise_inputs_names_data_it_cannot_scale(data, message):
    with pytest.raises(ValueError, match=message):
        normalise_inputs(data)
