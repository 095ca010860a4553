"""Inputs that several notebooks' exercise cases share, each made from its own seed, and the
message of a slip that three training exercises record (07, 08, 09)."""

import numpy as np
import torch

from sae_helpers.data import make_lecture_data
from sae_helpers.exercises.engine import NextUse

LECTURE = make_lecture_data(n_samples=300)  # the lecture's two sources, mixed
NO_ZERO_GRAD = ("zero the gradients each step (optimizer.zero_grad()) before backward: otherwise each step "
                "adds its gradient to the previous ones.")
SWAPPED = np.column_stack([LECTURE.sources[:, 1], LECTURE.sources[:, 0], LECTURE.sources[:, 0]])  # 3, two copies


def normal(*shape, seed):
    return np.random.default_rng(seed).normal(size=shape)


def tensor(*shape, seed):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def unit_rows(a):
    """Rows divided by their length, with no care for rows of length 0 (mistakes use it)."""
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def latents_of(sources, seed):
    """Latents that follow the sources to different degrees, as an SAE's might: (n, 6)."""
    mixed = sources @ normal(sources.shape[1], 6, seed=seed)
    return np.maximum(mixed + 0.3 * normal(*mixed.shape, seed=seed + 1), 0)


def random_matching(rng):
    """Sources (n, k) and latents (n, m >= k) that follow them to different degrees, some upside
    down, in no particular order: ("what it is", latents, sources)."""
    n, k = rng.integers(50, 300), rng.integers(2, 5)
    m = rng.integers(k, 9)
    sources = np.abs(rng.normal(size=(n, k)))
    latents = sources @ (rng.normal(size=(k, m)) * rng.choice([-1, 1], size=m)) + rng.uniform(0.1, 2) * rng.normal(size=(n, m))
    return f"{k} sources, {m} latents, {n} samples", latents, sources


def random_directions(rng):
    """True (k, d) and learned (m, d) directions, of any lengths: ("what it is", arguments)."""
    k, m, d = rng.integers(2, 12), rng.integers(2, 20), rng.integers(2, 8)
    return f"{k} true and {m} learned directions in {d} dimensions", (rng.normal(size=(k, d)), rng.normal(size=(m, d)))


def random_cases(make, n=3, first_seed=100):
    """n cases drawn at random, each from its own seed: make(rng) -> (what it is, arguments),
    labelled "random, seed s: what it is". The check runs them after the hand-made ones, so a
    wrong answer that happens to agree on those is still caught."""
    return tuple((f"random, seed {seed}: {description}", arguments)
                 for seed in range(first_seed, first_seed + n)
                 for description, arguments in [make(np.random.default_rng(seed))])


def as_tensor(a):
    """A numpy array as a float32 tensor, the dtype the notebooks' SAEs use."""
    return torch.tensor(a, dtype=torch.float32)


def indexed_by_mask(code):
    """The notebook's next use `code`: the result indexed with a bool array, which a list cannot be."""
    return NextUse(code, lambda result: result[np.ones(len(result), dtype=bool)])
