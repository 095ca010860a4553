"""Matching the SAE's latents to the ground-truth sources.

For latent j and source i, the match score is the absolute Pearson correlation over samples,

    |r_ji| = |cov(latent_j, source_i)| / (std(latent_j) std(source_i)),

taken as 0 for a constant latent, which carries no information about any source.
`match_latents` picks for each source the latent with the highest |r| (the lecture's rule,
where two sources may claim the same latent) or, with `one_to_one=True`, the assignment of
distinct latents that maximises the summed |r| (Hungarian algorithm).

Reconstruction is scored by the fraction of variance unexplained,

    FVU = sum (x - x_recon)^2 / sum (x - mean(x))^2,

0 for a perfect reconstruction and 1 for always predicting the mean of each input dimension.

Dictionary recovery (superposition): with unit true directions t_i (n_sources) and learned
directions u_j (an SAE's decoder directions, or a baseline's atoms), C_ij = |cos(t_i, u_j)|, and

    MCC  = (1 / n_sources) sum_i C_i,m(i)   m: one-to-one Hungarian matching maximising sum C;
                                              a source left unmatched (fewer u than t) counts 0
    MMCS = (1 / n_sources) sum_i max_j C_ij  (each source's best direction, repeats allowed)
    L0   = mean over samples of the number of active latents (or nonzero codes, |code| > 1e-3).

A latent is active on a sample when it exceeds ACTIVE_THRESHOLD = 1e-3, and dead when it is
active on no sample. Not `> 0`: a GELU latent is never exactly 0, and latents pushed towards 0
pile up just above it, where float rounding that differs between CPUs decides the sign. For a
latent j matched to source i, its selectivity is |r_ji| - max over other sources k of |r_jk|:
1 for a latent that follows its source alone, 0 for one that follows another as well.
"""

from typing import NamedTuple

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from sae_helpers.checks import as_numpy, check_matrix

ACTIVE_THRESHOLD = 1e-3  # a latent above this is active; |code| above it is nonzero


def _as_numpy(x, name):
    return as_numpy(check_matrix(x, name))


def _standardise(x):
    centred = x - x.mean(axis=0)
    # a constant column is set to exact zeros (its mean can be off by rounding): its r is 0, not NaN
    centred[:, np.ptp(x, axis=0) == 0] = 0
    norm = np.linalg.norm(centred, axis=0)
    return np.divide(centred, norm, out=np.zeros_like(centred), where=norm > 0)


def corr(a, b):
    """Pearson r between every column of `a` and every column of `b`: (n_cols_a, n_cols_b).

    a: (n_samples, n_cols_a); b: (n_samples, n_cols_b), the same samples in the same order.
    A constant column has r = 0 with everything, itself included.
    """
    a, b = _as_numpy(a, "latents"), _as_numpy(b, "sources")
    if len(a) != len(b):
        raise ValueError(
            f"latents and sources must have the same number of samples; got {len(a)} and {len(b)}"
        )
    if len(a) < 2:
        raise ValueError("correlation needs at least 2 samples")
    return _standardise(a).T @ _standardise(b)


def abs_corr(latents, sources):
    """|r| between every latent and every source: (n_latents, n_sources)."""
    return np.abs(corr(latents, sources))


class Matches(NamedTuple):
    """One row per source: the latent matched to it and how well it follows the source."""

    latent: np.ndarray  # (n_sources,) index of the matched latent
    abs_r: np.ndarray  # (n_sources,) |r| between that latent and the source


def match_latents(latents, sources, one_to_one=False):
    """Match each source to a latent by |r|; see the module docstring for the two rules.

    latents: (n_samples, n_latents); sources: (n_samples, n_sources).
    """
    r = abs_corr(latents, sources)
    n_latents, n_sources = r.shape
    if not one_to_one:
        best = r.argmax(axis=0)
        return Matches(latent=best, abs_r=r[best, np.arange(n_sources)])
    if n_latents < n_sources:
        raise ValueError(
            f"one-to-one matching needs at least as many latents as sources; "
            f"got {n_latents} latents for {n_sources} sources"
        )
    rows, cols = linear_sum_assignment(r, maximize=True)
    latent = np.empty(n_sources, dtype=int)
    latent[cols] = rows
    return Matches(latent=latent, abs_r=r[latent, np.arange(n_sources)])


def _data_and_reconstruction(data, x_recon):
    """Both as numpy; x_recon must end in the data's shape (n_samples, d)."""
    data = _as_numpy(data, "data")
    x_recon = x_recon.detach().cpu().numpy() if isinstance(x_recon, torch.Tensor) else np.asarray(x_recon)
    if x_recon.shape[-2:] != data.shape:
        raise ValueError(f"x_recon must end in the data's shape {data.shape}; got {x_recon.shape}")
    return data, x_recon


def fvu(data, x_recon):
    """Fraction of variance unexplained: data (n_samples, d) against x_recon of the
    same shape, or (n_instances, n_samples, d) for an SAEBatch (one FVU each)."""
    data, x_recon = _data_and_reconstruction(data, x_recon)
    return ((x_recon - data) ** 2).sum(axis=(-2, -1)) / ((data - data.mean(axis=0)) ** 2).sum()


def abs_cosines(true_directions, learned_directions):
    """|cos| between every true direction (n_sources, d) and learned one (n_learned, d)."""
    t = _as_numpy(true_directions, "true_directions")
    u = _as_numpy(learned_directions, "learned_directions")
    if t.shape[1] != u.shape[1]:
        raise ValueError(f"directions must have the same dimension; got {t.shape[1]} and {u.shape[1]}")
    norms = np.linalg.norm(u, axis=1, keepdims=True)
    u = np.divide(u, norms, out=np.zeros_like(u), where=norms > 0)  # a zero direction scores 0
    return np.abs(t / np.linalg.norm(t, axis=1, keepdims=True) @ u.T)


def match_directions(true_directions, learned_directions):
    """One-to-one matching of learned to true directions by |cos| (Hungarian).

    Returns (learned index per source, -1 where unmatched; |cos| per source, 0 where unmatched).
    """
    c = abs_cosines(true_directions, learned_directions)
    rows, cols = linear_sum_assignment(c, maximize=True)
    index = np.full(len(c), -1)
    index[rows] = cols
    return index, np.where(index >= 0, c[np.arange(len(c)), index], 0.0)


def decoder_alignment(true_directions, learned_directions, matched):
    """(n_sources,) |cos| between each true direction (n_sources, d) and the learned direction
    (rows of (n_learned, d)) matched to it, `matched` (n_sources,) indices."""
    return abs_cosines(true_directions, learned_directions)[np.arange(len(matched)), matched]


def mcc(true_directions, learned_directions):
    """Mean |cos| of each true direction with its one-to-one matched learned direction."""
    return match_directions(true_directions, learned_directions)[1].mean()


def best_cosines(true_directions, learned_directions):
    """(n_sources,) the best |cos| of each true direction with any learned direction."""
    return abs_cosines(true_directions, learned_directions).max(axis=1)


def mmcs(true_directions, learned_directions):
    """Mean over true directions of the best |cos| with any learned direction."""
    return best_cosines(true_directions, learned_directions).mean()


def l0(codes):
    """Mean number of nonzero codes (|code| > ACTIVE_THRESHOLD) per sample; codes (n_samples, n_codes)."""
    return (np.abs(_as_numpy(codes, "codes")) > ACTIVE_THRESHOLD).sum(axis=1).mean()


def active_fraction(latents):
    """(n_latents,) fraction of samples on which each latent is active (> ACTIVE_THRESHOLD)."""
    return (_as_numpy(latents, "latents") > ACTIVE_THRESHOLD).mean(axis=0)


def dead_latents(latents):
    """Number of latents that are active on no sample; latents (n_samples, n_latents)."""
    return int((active_fraction(latents) == 0).sum())


def selectivity(latents, sources, matches):
    """(n_sources,) |r| of each matched latent with its source minus its best |r| with another.

    `matches`: the result of `match_latents(latents, sources)`; needs at least 2 sources.
    """
    r = abs_corr(latents, sources)
    if r.shape[1] < 2:
        raise ValueError("selectivity needs at least 2 sources")
    own = r[matches.latent, np.arange(r.shape[1])]
    others = np.where(np.eye(r.shape[1], dtype=bool), -np.inf, r[matches.latent]).max(axis=1)
    return own - others


def _matched_latents(latents, activations, matched):
    """latents (n_samples, n_latents) as numpy, and each source's matched latent (n_samples, n_sources)."""
    latents, activations = _as_numpy(latents, "latents"), _as_numpy(activations, "activations")
    matched = np.asarray(matched)
    if len(latents) != len(activations) or matched.shape != (activations.shape[1],):
        raise ValueError(f"need latents and activations of the same samples, and one matched latent per "
                         f"source; got shapes {latents.shape}, {activations.shape} and {matched.shape}")
    return latents, activations, latents[:, matched]


class Magnitudes(NamedTuple):
    """One entry per sample where exactly one source is active."""

    source: np.ndarray  # which source it is
    true: np.ndarray  # its activation
    reported: np.ndarray  # its matched latent times that latent's decoder norm


def single_source_magnitudes(latents, decoder_directions, activations, matched):
    """What each source's matched latent reports on the samples where that source is alone.

    latents (n_samples, n_latents), decoder_directions (n_latents, d), activations (n_samples,
    n_sources), matched (n_sources,): e.g. from `match_directions`.
    """
    latents, activations, ours = _matched_latents(latents, activations, matched)
    norms = np.linalg.norm(_as_numpy(decoder_directions, "decoder_directions"), axis=1)[np.asarray(matched)]
    sample, source = np.nonzero(((activations > 0).sum(axis=1) == 1)[:, None] & (activations > 0))
    return Magnitudes(source=source, true=activations[sample, source], reported=ours[sample, source] * norms[source])


class Shares(NamedTuple):
    """Per source, over the samples where it is the only active source: the mean of what the
    reconstruction writes along the source's direction, over its true magnitude (NaN for a
    source never alone). own + others below 1: the source is shrunk; others above 0: part of
    its value is carried by latents other than its own."""

    own: np.ndarray  # by its matched latent
    others: np.ndarray  # by all the other latents together


def magnitude_shares(latents, decoder_directions, activations, source_directions, matched):
    """`Shares` of each source's magnitude, the decoder bias left out. latents (n_samples,
    n_latents), decoder_directions (n_latents, d), activations (n_samples, n_sources),
    source_directions (n_sources, d) with unit rows, matched (n_sources,): e.g. from
    `match_directions`."""
    latents, activations, _ = _matched_latents(latents, activations, matched)
    decoder = _as_numpy(decoder_directions, "decoder_directions")
    truth = _as_numpy(source_directions, "source_directions")
    if len(decoder) != latents.shape[1] or truth.shape != (activations.shape[1], decoder.shape[1]):
        raise ValueError(f"need one decoder direction per latent and one source direction per source, of "
                         f"one length; got shapes {decoder.shape}, {truth.shape} for {latents.shape[1]} latents "
                         f"and {activations.shape[1]} sources")
    sample, source = np.nonzero(((activations > 0).sum(axis=1) == 1)[:, None] & (activations > 0))
    written = latents[sample] * (decoder @ truth.T)[:, source].T  # (n_single, n_latents): each latent's part
    true = activations[sample, source]
    own = written[np.arange(len(sample)), np.asarray(matched)[source]] / true
    others = written.sum(axis=1) / true - own
    count = np.bincount(source, minlength=activations.shape[1])
    with np.errstate(invalid="ignore"):
        return Shares(*(np.bincount(source, share, minlength=len(count)) / count for share in (own, others)))


def absorption_score(fires, parent_active, child_active):
    """1 - (recall with a child active) / (recall with no child active), per column: how much
    less often a parent's latent fires when one of the parent's children is active too.

    fires, parent_active, child_active: boolean (n_samples, n_parents), whether the parent's
    latent fires, the parent is active, any of its children is active. NaN where it cannot be
    told: the latent never fires on the parent without a child (it does not detect the parent
    at all), or no sample has the parent with a child.
    """
    fires, parent_active, child_active = (np.asarray(a, dtype=bool) for a in (fires, parent_active, child_active))
    if not (fires.ndim == 2 and fires.shape == parent_active.shape == child_active.shape):
        raise ValueError(f"fires, parent_active and child_active must have one shape (n_samples, n_parents); "
                         f"got {fires.shape}, {parent_active.shape} and {child_active.shape}")
    with_child, without = parent_active & child_active, parent_active & ~child_active
    recall_with = (fires & with_child).sum(axis=0) / np.maximum(with_child.sum(axis=0), 1)
    recall_without = (fires & without).sum(axis=0) / np.maximum(without.sum(axis=0), 1)
    defined = (recall_without > 0) & (with_child.sum(axis=0) > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(defined, 1 - recall_with / recall_without, np.nan)


def absorption(latents, activations, matched, parents, max_active=None, score=absorption_score):
    """`score` (by default `absorption_score`) of every source that has children, in order of
    source index.

    parents (n_sources,): each source's parent, or -1 (as for `make_sparse_sources`).
    max_active: if given, only samples with at most this many active sources count (a TopK SAE
    with k = max_active then has room for every one of them, so no latent is pushed out).
    """
    _, activations, ours = _matched_latents(latents, activations, matched)
    parents = np.asarray(parents)
    if parents.shape != (activations.shape[1],) or ((parents < -1) | (parents >= len(parents))).any():
        raise ValueError(f"parents must give, for each of the {activations.shape[1]} sources, -1 or the "
                         f"index of a source; got {parents!r}")
    having = np.unique(parents[parents >= 0])
    if len(having) == 0:
        raise ValueError("no source has a parent: absorption needs a hierarchy")
    active = activations > 0
    if max_active is not None:
        kept = active.sum(axis=1) <= max_active
        active, ours = active[kept], ours[kept]
    child_active = np.stack([active[:, parents == p].any(axis=1) for p in having], axis=1)
    return score(ours[:, having] > ACTIVE_THRESHOLD, active[:, having], child_active)


def relative_reconstruction_bias(data, x_recon):
    """gamma = sum x_recon . x_recon / sum x_recon . x (Rajamanoharan et al. 2024, Gated SAEs):
    the factor that, dividing x_recon, fits the data best. 1 for an unbiased reconstruction,
    below 1 for one that shrinks. data (n_samples, d); x_recon of that shape, or with a leading
    instances axis (one gamma each)."""
    data, x_recon = _data_and_reconstruction(data, x_recon)
    return (x_recon * x_recon).sum(axis=(-2, -1)) / (x_recon * data).sum(axis=(-2, -1))
