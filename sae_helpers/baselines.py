"""Baseline dictionaries to compare an SAE with, on the same data and the same metrics.

A dictionary here is what recovery is measured on: `directions` (n_atoms, d), one per learned
feature; `codes` (n_samples, n_atoms), how much of each atom every sample uses; and `x_recon`
(n_samples, d), the data rebuilt from them. PCA and FastICA (scikit-learn) learn at most d atoms;
sparse dictionary learning learns any number, with nonnegative sparse codes; a random dictionary
is the chance level; the raw channels are the data's own axes.

`recovery` scores a dictionary against sparse sources in superposition (matching directions);
`mixing_recovery` against the lecture's mixed sources (matching codes by |r|, as the lecture
does). Both use the metrics of `sae_helpers.metrics`, defined there in one formula each.
"""

import warnings
from typing import NamedTuple

import numpy as np
import torch
from sklearn.decomposition import PCA, FastICA, MiniBatchDictionaryLearning, sparse_encode
from sklearn.exceptions import ConvergenceWarning

from sae_helpers.checks import check_matrix
from sae_helpers.metrics import (
    abs_corr,
    active_fraction,
    dead_latents,
    decoder_alignment,
    fvu,
    l0,
    match_directions,
    match_latents,
    mmcs,
    selectivity,
)


class Dictionary(NamedTuple):
    directions: np.ndarray  # (n_atoms, d) learned directions in data space
    codes: np.ndarray  # (n_samples, n_atoms) each sample's use of each atom
    x_recon: np.ndarray  # (n_samples, d) the data rebuilt from the codes


def sae_dictionary(model, data, instance=0):
    """Instance `instance` of an SAEBatch as a Dictionary: decoder directions and latents."""
    sae = model.instance(instance)  # one instance's forward, not all K of them
    x = torch.as_tensor(check_matrix(data), dtype=sae.decoder.weight.dtype, device=sae.decoder.weight.device)
    with torch.no_grad():
        x_recon, latents = sae(x)
        return Dictionary(sae.decoder_directions.cpu().numpy(), latents.cpu().numpy(), x_recon.cpu().numpy())


def pca_dictionary(data, n_atoms):
    """The first `n_atoms` principal components."""
    pca = PCA(n_atoms).fit(check_matrix(data))
    codes = pca.transform(data)
    return Dictionary(pca.components_, codes, pca.inverse_transform(codes))


def ica_dictionary(data, n_atoms, seed=0):
    """FastICA with `n_atoms` components: its mixing matrix's columns are the directions."""
    ica = FastICA(n_atoms, whiten="unit-variance", max_iter=1000, random_state=seed)
    codes = ica.fit_transform(check_matrix(data))
    return Dictionary(ica.mixing_.T, codes, ica.inverse_transform(codes))


def sparse_codes(data, directions, alpha=0.1):
    """Nonnegative sparse codes (n_samples, n_atoms) of `data` (n_samples, d) in `directions`
    (n_atoms, d): each sample's code solves its own lasso, min_c ||x - c D||^2 / 2 + alpha ||c||_1
    with c >= 0, by coordinate descent."""
    with warnings.catch_warnings():
        # a lasso may stop at its iteration cap; the duality gaps left were at most about 1e-3 on
        # notebook 06's data, and scikit-learn would warn once per sample
        warnings.simplefilter("ignore", ConvergenceWarning)
        return sparse_encode(check_matrix(data), directions, algorithm="lasso_cd", alpha=alpha, positive=True)


def sparse_coding_dictionary(data, n_atoms, alpha=0.1, seed=0):
    """Sparse dictionary learning (Olshausen & Field 1996; scikit-learn's minibatch version):
    `n_atoms` directions, and nonnegative codes by `sparse_codes`."""
    learner = MiniBatchDictionaryLearning(n_atoms, alpha=alpha, batch_size=256, max_iter=5, fit_algorithm="cd",
                                          positive_code=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the lassos inside fit, as above
        learner.fit(check_matrix(data))
    codes = sparse_codes(data, learner.components_, alpha)
    return Dictionary(learner.components_, codes, codes @ learner.components_)


def least_squares_dictionary(data, directions):
    """Codes of fixed `directions` by least squares (data ~ codes @ directions)."""
    data = check_matrix(data)
    codes = np.linalg.lstsq(directions.T, data.T, rcond=None)[0].T
    return Dictionary(directions, codes, codes @ directions)


def random_dictionary(data, n_atoms, seed=0):
    """`n_atoms` random unit directions, codes by least squares: the chance level."""
    # [seed, 1]: a stream of its own; default_rng(seed) would redraw the very directions that
    # make_sparse_sources(seed=seed) drew, and "chance" would score a perfect 1
    rng = np.random.default_rng([seed, 1])
    directions = rng.normal(size=(n_atoms, check_matrix(data).shape[1]))
    return least_squares_dictionary(data, directions / np.linalg.norm(directions, axis=1, keepdims=True))


def recovery(sources, dictionary):
    """How well `dictionary` recovers `sources` (a SparseSources); see metrics for formulas.

    act_r: |r| between each source's activation and the code of its matched atom (0 if unmatched).
    """
    index, cosines = match_directions(sources.directions, dictionary.directions)
    r = abs_corr(dictionary.codes, sources.activations)
    matched = index >= 0
    act_r = np.zeros(len(index))
    act_r[matched] = r[index[matched], np.flatnonzero(matched)]
    return {
        "MCC": cosines.mean(),
        "MMCS": mmcs(sources.directions, dictionary.directions),
        "act_r": act_r.mean(),
        "L0": l0(dictionary.codes),
        "FVU": float(fvu(sources.data, dictionary.x_recon)),
        "dead": dead_latents(dictionary.codes),
    }


def mixing_recovery(mixed, dictionary, one_to_one=False):
    """How well `dictionary` recovers the sources of `mixed` (a MixedSources), per source:

    best_r: |r| of the matched atom's code with the source (`match_latents`, the lecture's rule
    unless one_to_one); selectivity of that atom; alignment: |cos| between its direction and the
    source's true mixing direction. Per dictionary: active (mean number of positive codes per
    sample), dead atoms and FVU.
    """
    matches = match_latents(dictionary.codes, mixed.sources, one_to_one=one_to_one)
    return {
        "best_r": matches.abs_r,
        "selectivity": selectivity(dictionary.codes, mixed.sources, matches),
        "alignment": decoder_alignment(mixed.mixing, dictionary.directions, matches.latent),
        "active": active_fraction(dictionary.codes).sum(),
        "dead": dead_latents(dictionary.codes),
        "FVU": float(fvu(mixed.data, dictionary.x_recon)),
    }
