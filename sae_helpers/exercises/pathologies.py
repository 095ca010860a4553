"""Notebook 09's exercises: the AuxK penalty, and the absorption score."""

import numpy as np
import torch

from sae_helpers.exercises.cases import random_cases, tensor
from sae_helpers.exercises.engine import Exercise, Mistake
from sae_helpers.metrics import absorption_score
from sae_helpers.model import TopK, auxk_penalty


def _auxk_case(shape, shift, seed):
    """(residual, pre-activations, latents from TopK(2), decoder directions): latents whose
    pre-activations `shift` pushes down are dead (TopK never picks them)."""
    *batch, n, h = shape
    pre = tensor(*shape, seed=seed) + torch.tensor(shift)
    return tensor(*batch, n, 4, seed=seed + 1), pre, TopK(2)(pre), tensor(*batch, h, 4, seed=seed + 2)


def _bools(*shape, p, seed):
    return np.random.default_rng(seed).random(shape) < p


def _random_auxk(rng):
    shape = (*([int(rng.integers(1, 4))] if rng.uniform() < 0.5 else []), int(rng.integers(4, 30)), int(rng.integers(3, 12)))
    shift = np.where(rng.uniform(size=shape[-1]) < 0.4, 0.0, 3.0)  # TopK(2) rarely picks the latents left at 0
    k_aux = int(rng.integers(1, shape[-1] + 1))
    arguments = _auxk_case(shape, shift.tolist(), seed=int(rng.integers(0, 1000)))
    return f"shape {shape}, k_aux = {k_aux}", (*arguments, k_aux)


def _random_hierarchy(rng):
    n, k = int(rng.integers(50, 500)), int(rng.integers(1, 5))
    parent = rng.uniform(size=(n, k)) < rng.uniform(0.2, 0.7)
    child = parent & (rng.uniform(size=(n, k)) < rng.uniform(0.1, 0.6))
    fires = parent & (rng.uniform(size=(n, k)) < 0.9) & ~(child & (rng.uniform(size=(n, k)) < rng.uniform(0, 1)))
    return f"{n} samples, {k} parents", (fires, parent, child)


# --- the mistakes ----------------------------------------------------------------------------------

def _dead_per_instance(latents, pre):
    return (latents > 0).sum(dim=-2, keepdim=True) == 0


def _dead_across_instances(latents, pre):
    return (latents > 0).sum(dim=tuple(range(latents.dim() - 1)), keepdim=True) == 0


def _never_positive(latents, pre):
    return (pre > 0).sum(dim=-2, keepdim=True) == 0


def _auxk_with(dead_of=_dead_per_instance, live_compete=False, relu=True, normalise=True, zero_if_none=True,
               per_instance=True):
    """The AuxK penalty written out with one step done differently (with no change, the
    reference)."""
    def penalty(residual, pre, latents, directions, k_aux):
        dead = dead_of(latents, pre)
        hidden = pre if live_compete else pre.masked_fill(~dead, float("-inf"))
        values, indices = hidden.topk(min(k_aux, pre.shape[-1]), dim=-1)
        aux = torch.zeros_like(pre).scatter(-1, indices, torch.relu(values) if relu else values)
        error = ((aux @ directions - residual) ** 2).mean(dim=(-2, -1))
        if normalise:
            error = error / ((residual - residual.mean(dim=-2, keepdim=True)) ** 2).mean(dim=(-2, -1))
        any_dead = dead.any(dim=-1).squeeze(-1) if per_instance else dead.any()
        return torch.where(any_dead, error, 0.0) if zero_if_none else error
    return penalty


def _recall_ratio(fires, parent, with_child):
    """Recall of `fires` on the parent's samples where `with_child` says a child is active,
    over its recall where none is (no care for empty groups)."""
    return (((fires & parent & with_child).sum(0) / (parent & with_child).sum(0))
            / ((fires & parent & ~with_child).sum(0) / (parent & ~with_child).sum(0)))


def _ratio_upside_down(f, p, c):
    return 1 - 1 / _recall_ratio(f, p, c)


def _recall_difference(f, p, c):
    return ((f & p & ~c).sum(0) / (p & ~c).sum(0)) - ((f & p & c).sum(0) / (p & c).sum(0))


def _undefined_not_nan(f, p, c):
    return 1 - _recall_ratio(f, p, c)


def _no_child_not_nan(f, p, c):
    with_child = (f & p & c).sum(0) / np.maximum((p & c).sum(0), 1)
    without = (f & p & ~c).sum(0) / np.maximum((p & ~c).sum(0), 1)
    return np.where((f & p & ~c).sum(0) > 0, 1 - with_child / without, np.nan)


def _parent_left_out(f, p, c):
    return 1 - ((f & c).sum(0) / c.sum(0)) / ((f & ~c).sum(0) / (~c).sum(0))


_FOUR_DEAD = [3.0, 3.0, 3.0, 3.0, 0.0, 0.0, 0.0, 0.0]  # TopK(2) never picks the last 4
AUXK = Exercise(
    reference=auxk_penalty,
    cases=(("16 samples, 8 latents of which 4 are dead, k_aux = 2", (*_auxk_case((16, 8), _FOUR_DEAD, 1), 2)),
           ("no latent dead", (*_auxk_case((16, 8), [0.0] * 8, 4), 2)),
           ("2 instances, k_aux = 6, more than the dead latents", (*_auxk_case((2, 16, 8), _FOUR_DEAD, 7), 6)),
           ("2 instances, only the first with dead latents",
            (*_auxk_case((2, 16, 8), [[_FOUR_DEAD], [[0.0] * 8]], 10), 2)),
           ("in float64, as notebook 09 passes them", (*(t.double() for t in _auxk_case((16, 8), _FOUR_DEAD, 1)), 2))),
    mistakes=(
        Mistake(_auxk_with(dead_of=_dead_across_instances),
                "count a latent's firing per instance (over dim=-2, the samples): across all instances "
                "together, a latent dead in one instance but alive in another is not dead."),
        Mistake(_auxk_with(dead_of=_never_positive),
                "a latent is dead when it fires on no sample (its latent is 0 throughout), not when its "
                "pre-activation is never positive: TopK sets many positive pre-activations to 0."),
        Mistake(_auxk_with(live_compete=True),
                "only the dead latents may compete for the k_aux places: set the live latents' "
                "pre-activations to -inf before topk."),
        Mistake(_auxk_with(relu=False),
                "pass the kept pre-activations through a ReLU, as TopK does: a negative one is 0."),
        Mistake(_auxk_with(normalise=False),
                "divide the MSE by the residual's variance (mean squared distance from its mean), so "
                "the loss does not shrink as the main reconstruction improves."),
        Mistake(_auxk_with(per_instance=False),
                "ask each instance whether it has a dead latent (dead.any(dim=-1)): one instance's dead "
                "latents say nothing about another's, whose penalty must stay 0."),
        Mistake(_auxk_with(zero_if_none=False),
                "where no latent is dead there is nothing to train: the penalty is 0."),
    ),
    random_cases=random_cases(_random_auxk),
)

_PARENT = _bools(400, 3, p=0.5, seed=1)
_CHILD = _PARENT & _bools(400, 3, p=0.4, seed=2)
_FIRES = _PARENT & (_bools(400, 3, p=0.9, seed=3) & ~(_CHILD & _bools(400, 3, p=0.6, seed=4)))
ABSORPTION = Exercise(
    reference=absorption_score,
    cases=(("400 samples, 3 parents, some absorbed", (_FIRES, _PARENT, _CHILD)),
           ("a latent that fires whenever its parent is active", (_PARENT, _PARENT, _CHILD)),
           ("a latent that fires only when a child is active too", (_FIRES & _CHILD, _PARENT, _CHILD)),
           ("parents that never appear with a child", (_FIRES, _PARENT, np.zeros_like(_CHILD)))),
    mistakes=(
        Mistake(_ratio_upside_down,
                "the ratio is upside down: divide the recall with a child by the recall without one."),
        Mistake(_recall_difference, "that is the difference of the recalls; the score is 1 minus their ratio."),
        Mistake(_undefined_not_nan,
                "where the latent never fires on the parent alone, the score is undefined: return NaN "
                "(np.where), not what dividing by 0 gives."),
        Mistake(_no_child_not_nan,
                "where no sample has the parent with a child there is nothing to compare: return NaN, not 1."),
        Mistake(_parent_left_out,
                "recall counts the samples where the parent is active: restrict both groups to them."),
    ),
    random_cases=random_cases(_random_hierarchy),
)
