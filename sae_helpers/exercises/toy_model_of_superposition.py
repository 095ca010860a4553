"""Notebook 07's exercises: the toy model's importance-weighted loss, and each true feature's
best |cos| with a learned direction."""

import numpy as np
import torch

from sae_helpers.exercises.cases import as_tensor, normal, random_cases, random_directions, unit_rows
from sae_helpers.exercises.engine import Exercise, Mistake
from sae_helpers.metrics import best_cosines
from sae_helpers.toy_model import importance_weighted_mse, sample_features


def _features(shape, p, seed):
    return sample_features(p, shape, torch.Generator().manual_seed(seed))


def _random_batch(rng):
    k, n, f = rng.integers(1, 5), rng.integers(1, 50), rng.integers(2, 12)
    x = as_tensor(rng.uniform(size=(k, n, f)) * (rng.uniform(size=(k, n, f)) < 0.3))
    return (f"{k} instances, {n} samples, {f} features",
            (x, x + as_tensor(0.1 * rng.normal(size=(k, n, f))), as_tensor(rng.uniform(size=f))))


def _random_directions_one_empty(rng):
    description, (true, learned) = random_directions(rng)
    learned[rng.integers(0, len(learned))] = 0  # a learned direction of length 0
    return f"{description}, one of length 0", (true, learned)


# --- the mistakes ----------------------------------------------------------------------------------

def _unweighted(x, x_recon, importance):
    return ((x - x_recon) ** 2).sum(-1).mean(-1)


def _importance_squared(x, x_recon, importance):
    return ((importance * (x - x_recon)) ** 2).sum(-1).mean(-1)


def _mean_over_features(x, x_recon, importance):
    return (importance * (x - x_recon) ** 2).mean(-1).mean(-1)


def _summed_over_samples(x, x_recon, importance):
    return (importance * (x - x_recon) ** 2).sum(-1).sum(-1)


def _mean_over_instances(x, x_recon, importance):
    return (importance * (x - x_recon) ** 2).sum(-1).mean()


def _zero_length_not_handled(t, u):
    return np.abs(unit_rows(t) @ unit_rows(u).T).max(axis=1)


def _dot_products(t, u):
    return np.abs(t @ u.T).max(axis=1)


def _signed(t, u):
    return (unit_rows(t) @ unit_rows(u).T).max(axis=1)


def _each_learned_directions_best(t, u):
    return np.abs(unit_rows(t) @ unit_rows(u).T).max(axis=0)


_X = _features((2, 64, 5), 0.3, 0)
_FLIPPED = normal(6, 3, seed=3)
_WITH_ZERO = normal(8, 3, seed=5)
_WITH_ZERO[2] = 0

IMPORTANCE_WEIGHTED_MSE = Exercise(
    reference=importance_weighted_mse,
    cases=(
        ("2 instances, 64 samples, 5 features", (_X, _features((2, 64, 5), 0.5, 1), 0.9 ** torch.arange(5.0))),
        ("1 instance, 1 sample, 3 features", (torch.tensor([[[1.0, 0.0, 0.5]]]), torch.tensor([[[0.0, 0.0, 1.0]]]),
                                              torch.tensor([1.0, 2.0, 3.0]))),
        ("zero importance for the last features", (_X, 1 - _X, torch.tensor([1.0, 0.5, 0.0, 0.0, 0.0]))),
    ),
    mistakes=(
        Mistake(_unweighted, "the importance is missing: multiply each feature's squared error by its importance."),
        Mistake(_importance_squared,
                "the importance is inside the square, so it counts squared: weight the squared error, "
                "I · (x − x')², not (I · (x − x'))²."),
        Mistake(_mean_over_features,
                "you averaged over the features; the loss sums them (a mean divides it by n_features)."),
        Mistake(_summed_over_samples,
                "you summed over the samples; the loss averages them, so it does not grow with the batch."),
        Mistake(_mean_over_instances, "you averaged over the instances too: return one loss per instance, shape (K,)."),
    ),
    random_cases=random_cases(_random_batch),
)

BEST_COSINES = Exercise(
    reference=best_cosines,
    cases=(
        ("5 true and 12 learned directions in 4 dimensions", (normal(5, 4, seed=1), normal(12, 4, seed=2))),
        ("learned directions that point the opposite way", (_FLIPPED, -2 * _FLIPPED)),
        ("a learned direction of length 0", (normal(4, 3, seed=4), _WITH_ZERO)),
    ),
    mistakes=(
        Mistake(_zero_length_not_handled,
                "a learned direction of length 0 gives 0/0 = NaN: score it 0 (it points nowhere)."),
        Mistake(_dot_products, "these are dot products, not cosines: divide every direction by its length first."),
        Mistake(_signed, "take |cos|: a latent whose direction points the opposite way still finds the feature."),
        Mistake(_each_learned_directions_best,
                "you took each learned direction's best true direction (max over axis 0); the task "
                "asks for each true direction's best learned one, shape (n_true,)."),
    ),
    random_cases=random_cases(_random_directions_one_empty),
)
