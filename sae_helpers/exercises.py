"""Self-checks for the notebooks' exercises.

An exercise in a notebook is a stub the learner edits (it raises NotImplementedError until
then), a cell that calls `check`, and a hint and a worked solution folded away. `check` runs
the learner's function and the reference on the same cases, an edge case among them, and says
in plain words what is wrong: where the answer matches a recorded common mistake, it names it.
It returns the function the later cells use: the learner's once it passes, the reference until
then, so a skipped exercise never breaks the notebook.
"""

from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import numpy as np
import torch

from sae_helpers.metrics import best_cosines
from sae_helpers.toy_model import importance_weighted_mse


class Mistake(NamedTuple):
    function: Callable  # a wrong solution a learner is likely to write
    message: str  # what it gets wrong, in plain words


@dataclass(frozen=True)
class Exercise:
    reference: Callable  # the right answer, from sae_helpers
    cases: tuple  # ((label, arguments), ...), each the arguments of one call
    mistakes: tuple = field(default=())  # Mistake, ...


def _as_array(value):
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=float)


def _copy(arguments):
    return tuple(a.clone() if isinstance(a, torch.Tensor) else np.array(a, copy=True) for a in arguments)


def _difference(expected, got):
    """None when `got` equals `expected` (shape and values), else what differs, in words."""
    try:
        got = _as_array(got)
    except (TypeError, ValueError) as error:
        return f"it returned {type(got).__name__}, not an array ({error})"
    if got.shape != expected.shape:
        return f"the result has shape {got.shape}, expected {expected.shape}"
    if np.allclose(got, expected, rtol=1e-5, atol=1e-7, equal_nan=True):
        return None
    i = np.unravel_index(np.argmax(np.abs(np.nan_to_num(got - expected, nan=np.inf))), got.shape)
    return f"at index {tuple(map(int, i))} it gives {got[i]:.4g}, expected {expected[i]:.4g}"


def _gives(function, arguments, output):
    """Does `function` return `output` (an array) on `arguments`?"""
    try:
        return _difference(output, function(*_copy(arguments))) is None
    except Exception:
        return False


def check(attempt, exercise):
    """Run `attempt` on `exercise`'s cases against its reference; print what passed or, at the
    first case it gets wrong, what is wrong (naming a recorded mistake that gives the same
    answer there); return `attempt` if it passed, otherwise the reference."""
    with np.errstate(all="ignore"):  # a wrong answer's 0/0 is reported, not warned about
        return _check(attempt, exercise)


def _check(attempt, exercise):
    name = attempt.__name__
    reference = exercise.reference
    fallback = f"The cells below use the reference, {reference.__module__}.{reference.__name__}."
    for label, arguments in exercise.cases:
        expected = _as_array(reference(*_copy(arguments)))
        try:
            got = attempt(*_copy(arguments))
        except NotImplementedError:
            print(f"{name}: not solved yet. {fallback}")
            return reference
        except Exception as error:
            print(f"✘ {name} raised {type(error).__name__} on the case '{label}': {error}\n{fallback}")
            return reference
        problem = _difference(expected, got)
        if problem is not None:
            mistake = next((m for m in exercise.mistakes if _gives(m.function, arguments, _as_array(got))), None)
            likely = f"\nLikely mistake: {mistake.message}" if mistake else ""
            print(f"✘ {name} is wrong on the case '{label}': {problem}.{likely}\n{fallback}")
            return reference
    print(f"✔ {name} is right on all {len(exercise.cases)} cases: "
          f"{'; '.join(label for label, _ in exercise.cases)}.")
    return attempt


def _features(shape, p, seed):
    generator = torch.Generator().manual_seed(seed)
    values = torch.rand(shape, generator=generator)
    return torch.where(torch.rand(shape, generator=generator) < p, values, 0.0)


def _directions(n, d, seed):
    return np.random.default_rng(seed).normal(size=(n, d))


def _naive_cosines(t, u):
    """cos between rows of t and rows of u, with no care for rows of length 0 (mistakes use it)."""
    return (t / np.linalg.norm(t, axis=1, keepdims=True)) @ (u / np.linalg.norm(u, axis=1, keepdims=True)).T


_x = _features((2, 64, 5), 0.3, 0)
_flipped = _directions(6, 3, 3)
_with_zero = _directions(8, 3, 5)
_with_zero[2] = 0

IMPORTANCE_WEIGHTED_MSE = Exercise(
    reference=importance_weighted_mse,
    cases=(
        ("2 instances, 64 samples, 5 features", (_x, _features((2, 64, 5), 0.5, 1), 0.9 ** torch.arange(5.0))),
        ("1 instance, 1 sample, 3 features", (torch.tensor([[[1.0, 0.0, 0.5]]]), torch.tensor([[[0.0, 0.0, 1.0]]]),
                                              torch.tensor([1.0, 2.0, 3.0]))),
        ("zero importance for the last features", (_x, 1 - _x, torch.tensor([1.0, 0.5, 0.0, 0.0, 0.0]))),
    ),
    mistakes=(
        Mistake(lambda x, x_recon, importance: ((x - x_recon) ** 2).sum(-1).mean(-1),
                "the importance is missing: multiply each feature's squared error by its importance."),
        Mistake(lambda x, x_recon, importance: ((importance * (x - x_recon)) ** 2).sum(-1).mean(-1),
                "the importance is inside the square, so it counts squared: weigh the squared error, "
                "I · (x − x')², not (I · (x − x'))²."),
        Mistake(lambda x, x_recon, importance: (importance * (x - x_recon) ** 2).mean(-1).mean(-1),
                "you averaged over the features; the loss sums them (a mean divides it by n_features)."),
        Mistake(lambda x, x_recon, importance: (importance * (x - x_recon) ** 2).sum(-1).sum(-1),
                "you summed over the samples; the loss averages them, so it does not grow with the batch."),
        Mistake(lambda x, x_recon, importance: (importance * (x - x_recon) ** 2).sum(-1).mean(),
                "you averaged over the instances too: return one loss per instance, shape (K,)."),
    ),
)

BEST_COSINES = Exercise(
    reference=best_cosines,
    cases=(
        ("5 true and 12 learned directions in 4 dimensions", (_directions(5, 4, 1), _directions(12, 4, 2))),
        ("learned directions that point the opposite way", (_flipped, -2 * _flipped)),
        ("a learned direction of length 0", (_directions(4, 3, 4), _with_zero)),
    ),
    mistakes=(
        Mistake(lambda t, u: np.abs(_naive_cosines(t, u)).max(axis=1),
                "a learned direction of length 0 gives 0/0 = NaN: score it 0 (it points nowhere)."),
        Mistake(lambda t, u: np.abs(t @ u.T).max(axis=1),
                "these are dot products, not cosines: divide every direction by its length first."),
        Mistake(lambda t, u: _naive_cosines(t, u).max(axis=1),
                "take |cos|: a latent whose direction points the opposite way still finds the feature."),
        Mistake(lambda t, u: np.abs(_naive_cosines(t, u)).max(axis=0),
                "you took each learned direction's best true direction (max over axis 0); the task "
                "asks for each true direction's best learned one, shape (n_true,)."),
    ),
)
