"""Notebook 01's exercises: unmixing with a known mixing matrix, and Pearson r."""

import numpy as np

from sae_helpers.exercises.cases import LECTURE, normal, random_cases
from sae_helpers.exercises.engine import Exercise, Mistake
from sae_helpers.metrics import corr


def unmix(data, mixing):
    """The sources (n_samples, n_sources) of data = sources @ mixing, for an invertible mixing."""
    return data @ np.linalg.inv(mixing)


def pearson_r(a, b):
    """Pearson r of two 1-D arrays of the same length."""
    return corr(a[:, None], b[:, None])[0, 0]


# --- the mistakes ----------------------------------------------------------------------------------

def _mixes_again(data, mixing):
    return data @ mixing


def _inverse_transposed(data, mixing):
    return data @ np.linalg.inv(mixing).T


def _samples_as_columns(data, mixing):
    return np.linalg.inv(mixing) @ data.T


def _reciprocal_entries(data, mixing):
    return data @ (1 / mixing)


def _transpose_as_inverse(data, mixing):
    return data @ mixing.T


def _raw_cosine(a, b):
    return a @ b / (np.linalg.norm(a) * np.linalg.norm(b))


def _uncentred_product(a, b):
    return np.mean(a * b) / (a.std() * b.std())


def _summed_products(a, b):
    return np.sum((a - a.mean()) * (b - b.mean())) / (a.std() * b.std())


def _unsigned(a, b):
    return abs(pearson_r(a, b))


def _covariance(a, b):
    return np.mean((a - a.mean()) * (b - b.mean()))


def _n_over_n_minus_1(a, b):
    return _covariance(a, b) / (a.std(ddof=1) * b.std(ddof=1))


def _np_cov_over_np_std(a, b):
    return np.cov(a, b)[0, 1] / (a.std() * b.std())


def _random_mixture(rng):
    k, n = rng.integers(2, 5), rng.integers(5, 200)
    mixing = rng.normal(size=(k, k)) + k * np.eye(k)  # far from singular
    return f"{k} sources, {n} samples", (np.abs(rng.normal(size=(n, k))) @ mixing, mixing)


def _random_pair(rng):
    n = rng.integers(3, 200)
    a = rng.normal(size=n) * rng.uniform(0.1, 10) + rng.uniform(-5, 5)
    return f"{n} samples", (a, rng.uniform(-3, 3) * a + rng.normal(size=n))


_MIXING = np.array([[1.0, 2.0], [0.0, 1.0]])
_SOURCES_3 = np.abs(normal(200, 3, seed=7))

UNMIX = Exercise(
    reference=unmix,
    cases=(("the lecture's data and mixing", (LECTURE.data, LECTURE.mixing)),
           ("3 sources, a random mixing", (_SOURCES_3 @ normal(3, 3, seed=8), normal(3, 3, seed=8))),
           ("a mixing that is not symmetric", (LECTURE.sources @ _MIXING, _MIXING))),
    random_cases=random_cases(_random_mixture),
    mistakes=(
        Mistake(_mixes_again, "you multiplied by the mixing matrix, which mixes again: multiply by its inverse."),
        Mistake(_inverse_transposed,
                "the inverse is transposed: data = sources @ mixing, so sources = data @ inv(mixing)."),
        Mistake(_samples_as_columns,
                "this is (n_sources, n_samples): rows are samples, so multiply from the right, "
                "data @ inv(mixing)."),
        Mistake(_reciprocal_entries,
                "1 / mixing divides by each entry; the inverse matrix is np.linalg.inv(mixing)."),
        Mistake(_transpose_as_inverse,
                "the transpose is the inverse only of a rotation (orthogonal matrix); this mixing is not "
                "one: use np.linalg.inv(mixing)."),
    ),
)

PEARSON_R = Exercise(
    reference=pearson_r,
    cases=(("the lecture's two sources", (LECTURE.sources[:, 0], LECTURE.sources[:, 1])),
           ("a variable and its negative plus an offset", (LECTURE.data[:, 0], 5 - 2 * LECTURE.data[:, 0])),
           ("two noisy copies", (normal(100, seed=1), normal(100, seed=1) + 0.5 * normal(100, seed=2)))),
    random_cases=random_cases(_random_pair),
    mistakes=(
        Mistake(_raw_cosine, "you forgot to subtract the means: that is the cosine of the raw vectors, not r."),
        Mistake(_covariance, "that is the covariance: divide it by the two standard deviations."),
        Mistake(_uncentred_product,
                "subtract each variable's mean before multiplying: mean(a·b) is not the covariance."),
        Mistake(_summed_products,
                "the covariance is the mean of the products of the deviations, not their sum (the sum "
                "grows with the number of samples)."),
        Mistake(_unsigned, "r keeps its sign: a variable and its negative have r = −1, not 1."),
        Mistake(_n_over_n_minus_1,
                "the covariance and the standard deviations use different denominators (n and n − 1): "
                "use the same in both."),
        Mistake(_np_cov_over_np_std,
                "the covariance and the standard deviations use different denominators (np.cov divides by "
                "n − 1, np.std by n): use the same in both."),
    ),
)
