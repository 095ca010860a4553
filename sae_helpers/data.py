"""Latent sources with known ground truth, their linear mixture, and input checks.

The lecture's toy: two sources over t in [0, 14 pi] (sin(t) + 1, a smooth wave, and
sign(sin(3t)) + 1, a square wave), mixed by one matrix into two observed variables:
data = sources @ mixing, so row i of `mixing` is the direction in data space that source i
writes to.

Superposition: `n_sources` sparse sources in `d < n_sources` dimensions. Each source is active
in a sample with probability p (its own, if p is one per source; only where its parent is active,
in a hierarchy), with a magnitude drawn uniformly from `magnitude`, and writes along its own
random unit direction: data = activations @ directions.
"""

import math
from dataclasses import dataclass

import numpy as np
import torch

from sae_helpers.checks import check_matrix, check_positive_int

LECTURE_MIXING = ((1.0, 0.4), (0.6, 1.0))  # the lecture's mixing matrix, (n_sources, d)


def normalise_inputs(data):
    """`data` (n_samples, d) times the one constant c that makes its mean norm sqrt(d), and c
    (Anthropic, April 2024): then a learning rate or a penalty weight means the same whatever
    the scale of the data. Returns (data * c, c), data of the type it came in."""
    data = check_matrix(data)
    norms = data.norm(dim=1) if isinstance(data, torch.Tensor) else np.linalg.norm(data, axis=1)
    mean_norm = float(norms.mean())
    if mean_norm == 0:
        raise ValueError("data is all zeros: no constant gives it a mean norm of sqrt(d)")
    scale = math.sqrt(data.shape[1]) / mean_norm
    return data * scale, scale


@dataclass(frozen=True)
class MixedSources:
    """Ground truth and what we observe of it."""

    t: np.ndarray  # (n_samples,) time axis
    sources: np.ndarray  # (n_samples, n_sources) the latent sources (ground truth)
    mixing: np.ndarray  # (n_sources, d) row i: the direction source i writes to
    data: np.ndarray  # (n_samples, d) observed variables, sources @ mixing


def lecture_sources(n_samples=3000):
    """The lecture's two sources on t = linspace(0, 14 pi, n_samples).

    Returns (t, sources): shapes (n_samples,) and (n_samples, 2).
    """
    if check_positive_int(n_samples, "n_samples") < 2:
        raise ValueError(f"n_samples must be at least 2; got {n_samples}")
    t = np.linspace(0, 14 * np.pi, n_samples)
    sources = np.stack([np.sin(t) + 1, np.sign(np.sin(3 * t)) + 1], axis=1)
    return t, sources


def mix(sources, mixing):
    """Observed data = sources @ mixing: (n_samples, n_sources) @ (n_sources, d)."""
    sources = check_matrix(sources, "sources")
    mixing = check_matrix(mixing, "mixing")
    if mixing.shape[0] != sources.shape[1]:
        raise ValueError(
            f"mixing must have one row per source ({sources.shape[1]}); got shape {mixing.shape}"
        )
    return sources @ mixing


def make_lecture_data(n_samples=3000, mixing=LECTURE_MIXING):
    """The lecture's toy: two sources mixed by `mixing` (default [[1, .4], [.6, 1]])."""
    t, sources = lecture_sources(n_samples)
    mixing = np.asarray(mixing, dtype=float)
    return MixedSources(t=t, sources=sources, mixing=mixing, data=mix(sources, mixing))


@dataclass(frozen=True)
class SparseSources:
    """Sparse ground truth in superposition, and the data it makes."""

    data: np.ndarray  # (n_samples, d) observed, activations @ directions
    activations: np.ndarray  # (n_samples, n_sources) the sources, mostly zeros
    directions: np.ndarray  # (n_sources, d) unit-norm rows: the true dictionary


def make_sparse_sources(n_sources=64, d=32, p=0.02, n_samples=50_000, magnitude=(0.5, 1.5),
                        seed=0, parents=None):
    """Sparse sources along random unit directions.

    `p`: one probability for every source, or one per source (a firing-rate profile); without
    a hierarchy, the expected number of active sources per sample is the sum of p.
    `parents`: None, or one entry per source, the index of its parent or -1 for none: a child is
    active only on samples where its parent is, and then with its own p (a feature hierarchy, as
    in SAELens's synthetic data; parents must come before their children).
    """
    for name, value in [("n_sources", n_sources), ("d", d), ("n_samples", n_samples)]:
        check_positive_int(value, name)
    p = np.asarray(p, dtype=float)
    p = np.full(n_sources, p) if p.ndim == 0 else p
    if p.shape != (n_sources,) or not ((p > 0) & (p <= 1)).all():
        raise ValueError(f"p must be a probability in (0, 1], or one per source ({n_sources}); got {p!r}")
    low, high = magnitude
    if not 0 <= low <= high:
        raise ValueError(f"magnitude must be a range (low, high) with 0 <= low <= high; got {magnitude!r}")
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(n_sources, d))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    active = rng.random((n_samples, n_sources)) < p
    if parents is not None:
        parents = np.asarray(parents)
        if (parents.shape != (n_sources,) or parents.dtype.kind not in "iu"
                or ((parents >= np.arange(n_sources)) | (parents < -1)).any()):
            raise ValueError(f"parents must give, for each of the {n_sources} sources, -1 or the index of an "
                             f"earlier source; got {parents!r}")
        for child in np.flatnonzero(parents >= 0):  # in order, so a grandchild sees its parent's final state
            active[:, child] &= active[:, parents[child]]
    activations = np.where(active, rng.uniform(low, high, size=active.shape), 0.0)
    return SparseSources(data=activations @ directions, activations=activations, directions=directions)
