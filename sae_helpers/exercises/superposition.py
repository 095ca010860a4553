"""Notebook 06's exercises: MCC, TopK, and the decoder-norm L1 penalty."""

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from sae_helpers.exercises.cases import as_tensor, normal, random_cases, random_directions, tensor, unit_rows
from sae_helpers.exercises.engine import Exercise, Mistake
from sae_helpers.metrics import mcc
from sae_helpers.model import TopK, decoder_norm_l1_penalty


def topk(z, k):
    """TopK(k) as a function: (..., h) -> (..., h)."""
    return TopK(k)(z)


def _random_pre_activations(rng):
    shape = tuple(int(n) for n in rng.integers(1, 6, size=rng.integers(1, 4))) + (int(rng.integers(2, 12)),)
    return f"pre-activations of shape {shape}", (as_tensor(rng.normal(size=shape)), int(rng.integers(1, shape[-1] + 1)))


def _random_latents_and_directions(rng):
    n, h, d = rng.integers(1, 20), rng.integers(1, 10), rng.integers(1, 6)
    return f"{n} samples, {h} latents, {d} dimensions", (as_tensor(rng.normal(size=(n, h))),
                                                         as_tensor(rng.uniform(0.1, 3) * rng.normal(size=(h, d))))


# --- the mistakes ----------------------------------------------------------------------------------

def _abs_cosines(t, u):
    return np.abs(unit_rows(t) @ unit_rows(u).T)


def _mmcs(t, u):
    return _abs_cosines(t, u).max(axis=1).mean()


def _mean_over_matched_pairs(t, u):
    c = _abs_cosines(t, u)
    return c[linear_sum_assignment(c, maximize=True)].mean()


def _minimised(t, u):
    c = _abs_cosines(t, u)
    return c[linear_sum_assignment(c)].sum() / len(t)


def _signed_cosines(t, u):
    c = unit_rows(t) @ unit_rows(u).T
    return c[linear_sum_assignment(c, maximize=True)].sum() / len(t)


def _negative_kept(z, k):
    kept = z.topk(k, dim=-1)
    return torch.zeros_like(z).scatter(-1, kept.indices, kept.values)


def _values_only(z, k):
    return torch.relu(z.topk(k, dim=-1).values)


def _smallest_kept(z, k):
    kept = (-z).topk(k, dim=-1)
    return torch.zeros_like(z).scatter(-1, kept.indices, torch.relu(-kept.values))


def _over_dim_1(z, k):
    kept = z.topk(k, dim=1)
    return torch.zeros_like(z).scatter(1, kept.indices, torch.relu(kept.values))


def _plain_l1(latents, directions):
    return latents.abs().mean()


def _column_norms(latents, directions):
    return (latents.abs() * directions.norm(dim=0)).sum(-1).mean()


def _mean_over_latents(latents, directions):
    return (latents.abs() * directions.norm(dim=-1)).mean()


def _signed_latents(latents, directions):
    return (latents * directions.norm(dim=-1)).sum(-1).mean()


_Z = tensor(5, 8, seed=2)

MCC = Exercise(
    reference=mcc,
    cases=(("16 true and 40 learned directions in 8 dimensions", (normal(16, 8, seed=1), normal(40, 8, seed=2))),
           ("fewer learned than true directions", (normal(6, 4, seed=3), normal(3, 4, seed=4))),
           ("one learned direction best for several true ones", (np.eye(3), np.array([[1.0, 1.0, 1.0], [1.0, 0, 0],
                                                                                        [0, 0, -2.0]])))),
    mistakes=(
        Mistake(_mmcs,
                "that is the MMCS: each true direction took its best learned one, repeats allowed; MCC "
                "matches them one to one (linear_sum_assignment)."),
        Mistake(_mean_over_matched_pairs,
                "you averaged over the matched pairs only: divide by the number of true directions, "
                "so an unmatched one counts 0."),
        Mistake(_minimised, "linear_sum_assignment minimises by default: pass maximize=True."),
        Mistake(_signed_cosines, "take |cos| before matching: a direction and its negative are the same feature."),
    ),
    random_cases=random_cases(random_directions),
)

TOPK = Exercise(
    reference=topk,
    cases=(("5 samples, 8 latents, k = 3", (_Z, 3)),
           ("every pre-activation negative, k = 2", (-_Z.abs(), 2)),
           ("k = 1 on one sample", (_Z[:1], 1))),
    mistakes=(
        Mistake(_negative_kept,
                "a kept value that is negative must become 0 too: pass the kept values through a ReLU."),
        Mistake(_values_only,
                "this is (..., k): put the kept values back at their latents' places in a (..., h) tensor "
                "of zeros (scatter)."),
        Mistake(_smallest_kept, "you kept the k smallest values: topk returns the largest."),
        Mistake(_over_dim_1,
                "keep the k largest along the last axis, the latents (dim=-1): with instances in front, "
                "as SAEBatch's (instances, samples, latents), dim=1 picks among the samples."),
    ),
    random_cases=random_cases(_random_pre_activations),
)

DECODER_NORM_L1 = Exercise(
    reference=decoder_norm_l1_penalty,
    cases=(("the small example", (torch.tensor([[1.0, 0.0], [2.0, 3.0]]), torch.tensor([[3.0, 4.0], [0.0, 2.0]]))),
           ("20 samples, 6 latents, 4 dimensions", (torch.relu(tensor(20, 6, seed=1)), tensor(6, 4, seed=2))),
           ("negative latents", (-tensor(3, 6, seed=3).abs(), tensor(6, 4, seed=4)))),
    mistakes=(
        Mistake(_plain_l1, "that is the plain L1: weight each |latent| by the length of its decoder direction."),
        Mistake(_column_norms,
                "the lengths are of the rows of decoder_directions (one per latent): norm(dim=-1), not dim=0."),
        Mistake(_mean_over_latents, "sum over the latents, then average over samples: you averaged over both."),
        Mistake(_signed_latents, "take |latent|: a negative latent costs as much as a positive one."),
    ),
    random_cases=random_cases(_random_latents_and_directions),
)
