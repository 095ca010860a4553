"""How well one direction of a representation picks out a labelled property of the input.

A direction's activation a predicts "property present" where a >= threshold. For each
property, the best direction and its threshold are chosen on training samples, by F1,

    F1 = 2 TP / (2 TP + FP + FN)   (the harmonic mean of precision and recall),

and both are then scored on held-out samples by F1 and by AUROC (the probability that a
random positive sample gets a higher activation than a random negative one; 0.5 is chance,
and it needs no threshold). The references: the trivial F1, of calling every sample positive,
2 p / (1 + p) for a property of frequency p; and a linear probe, logistic regression on the
whole representation, scored the same way: usually the best single direction, though not a
strict bound (it maximises likelihood, not F1).
"""

from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import rankdata

from sae_helpers.checks import check_matrix, check_positive_int


def _check_pair(activations, labels, name):
    activations = torch.as_tensor(check_matrix(activations, name)).detach().cpu().double()
    labels = torch.as_tensor(np.asarray(labels))
    if labels.dtype != torch.bool or labels.ndim != 2 or len(labels) != len(activations):
        raise ValueError(f"labels must be a bool array (n_samples, n_properties) with the {len(activations)} "
                         f"rows of {name}; got {labels.dtype} {tuple(labels.shape)}")
    if (labels.sum(dim=0) == 0).any():
        raise ValueError("every property needs at least one positive sample")
    return activations, labels


def _f1(true_positives, n_called, n_positive):
    """F1 from its counts: 2 TP / (samples called positive + samples truly positive); 0 where
    both are 0."""
    return 2 * true_positives / (n_called + n_positive).clamp_min(1)


def f1_score(predicted, labels):
    """F1 of bool predictions against bool labels, both (n_samples, ...) -> (...)."""
    predicted, labels = torch.as_tensor(predicted), torch.as_tensor(labels)
    return _f1((predicted & labels).sum(dim=0).double(), predicted.sum(dim=0).double(), labels.sum(dim=0).double())


def trivial_f1(labels):
    """(n_properties,) the F1 of calling every sample positive: 2 p / (1 + p) for a share p of
    positives."""
    labels = torch.as_tensor(np.asarray(labels))
    return f1_score(torch.ones_like(labels), labels).numpy()


def best_thresholds(activations, labels, chunk=64):
    """For every (property, direction): the threshold with the highest F1 on these samples.

    activations (n_samples, n_directions), labels (n_samples, n_properties) bool ->
    (f1, threshold), each (n_properties, n_directions). Every distinct activation is tried.
    """
    activations, labels = _check_pair(activations, labels, "activations")
    positives = labels.sum(dim=0).double()[:, None, None]  # (n_properties, 1, 1)
    called = torch.arange(1, len(activations) + 1, dtype=torch.float64)  # samples at or above
    by_direction, by_property = activations.T.contiguous(), labels.T.contiguous()  # sorted along rows
    f1s, thresholds = [], []
    for start in range(0, len(by_direction), chunk):
        values, order = by_direction[start:start + chunk].sort(dim=1, descending=True)  # (chunk, n_samples)
        last_of_tie = torch.ones_like(values, dtype=torch.bool)
        last_of_tie[:, :-1] = values[:, :-1] != values[:, 1:]  # a threshold keeps a whole group of ties
        true_positives = by_property[:, order].cumsum(dim=2, dtype=torch.int32)  # (n_properties, chunk, n_samples)
        f1 = torch.where(last_of_tie, _f1(true_positives, called, positives), -1.0)
        best, index = f1.max(dim=2)  # (n_properties, chunk)
        f1s.append(best)
        thresholds.append(values.gather(1, index.T).T)
    return torch.cat(f1s, dim=1).numpy(), torch.cat(thresholds, dim=1).numpy()


def auroc(scores, labels):
    """Area under the ROC curve of each column of scores against bool labels (n_samples, k) ->
    (k,), ties counted as half (Mann-Whitney U)."""
    scores, labels = np.asarray(scores, dtype=float), np.asarray(labels, dtype=bool)
    ranks = rankdata(scores, axis=0)
    n_pos = labels.sum(axis=0)
    n_neg = len(labels) - n_pos
    return ((ranks * labels).sum(axis=0) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


class PropertyScores(NamedTuple):
    """Per property: the best direction on training samples, and its held-out scores."""

    direction: np.ndarray  # (n_properties,) column index of the best direction
    threshold: np.ndarray  # (n_properties,) chosen on training samples
    train_f1: np.ndarray  # (n_properties,)
    f1: np.ndarray  # (n_properties,) held out
    auroc: np.ndarray  # (n_properties,) held out


def best_direction_scores(train_activations, train_labels, test_activations, test_labels):
    """For each property, pick the direction (column) and threshold with the best F1 on the
    training samples, then score it on the test samples. Directions of a basis without a
    preferred sign (PCA, random) should be given twice, as a and -a."""
    f1, threshold = best_thresholds(train_activations, train_labels)
    test_activations, test_labels = _check_pair(test_activations, test_labels, "test_activations")
    if test_activations.shape[1] != f1.shape[1] or test_labels.shape[1] != f1.shape[0]:
        raise ValueError(f"test data must have the training data's {f1.shape[1]} directions and "
                         f"{f1.shape[0]} properties; got {tuple(test_activations.shape)}, {tuple(test_labels.shape)}")
    properties = np.arange(f1.shape[0])
    direction = f1.argmax(axis=1)
    chosen = test_activations[:, direction]  # (n_test, n_properties)
    test_f1 = f1_score(chosen >= torch.as_tensor(threshold[properties, direction]), test_labels).numpy()
    return PropertyScores(direction, threshold[properties, direction], f1[properties, direction], test_f1,
                          auroc(chosen.numpy(), test_labels.numpy()))


def probe_loss(logits, labels, weight, l2):
    """Logistic regression's loss with each property its own: per property, the mean binary
    cross-entropy of its logits against its labels (n_samples, ...), summed over the
    properties; plus l2 times the sum of the squared weights (the bias is not penalised)."""
    bce = F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype), reduction="none")
    return bce.mean(dim=0).sum() + l2 * (weight**2).sum()


class _Product(torch.autograd.Function):
    """x @ weight, whose backward multiplies by x_t = x.T stored contiguous: the product autograd
    would take as x.T @ grad, several times faster on a CPU for a tall x (L-BFGS takes one per
    step)."""

    @staticmethod
    def forward(ctx, x, x_t, weight):
        ctx.save_for_backward(x_t)
        return x @ weight

    @staticmethod
    def backward(ctx, grad):
        (x_t,) = ctx.saved_tensors
        return None, None, x_t @ grad


def linear_probe(train_activations, train_labels, l2=1e-3, max_iter=200, k=None):
    """Logistic regression per property on standardised activations, fitted with L-BFGS in
    float64; each property's fit is the one it would get alone. With `k`, a k-sparse probe
    (Gao et al. 2024; Kantamneni et al. 2025): each property reads only the k directions whose
    mean activation, in standard deviations, is highest on its positive samples against its
    negative ones, the others' weights held at 0. Returns a function: activations (n, d) -> logits
    (n, n_properties); its `.directions` is the (d, n_properties) bool mask of what each reads."""
    x, labels = _check_pair(train_activations, train_labels, "train_activations")
    mean, std = x.mean(dim=0), x.std(dim=0).clamp_min(1e-8)
    reads = torch.ones(x.shape[1], labels.shape[1], dtype=torch.bool)
    if k is not None:
        k = check_positive_int(k, "k")
        if k > x.shape[1]:
            raise ValueError(f"k must be at most the {x.shape[1]} directions; got {k}")
        positive = labels.double()
        difference = ((x.T @ positive) / positive.sum(dim=0).clamp_min(1) - (x.T @ (1 - positive)) / (
            1 - positive).sum(dim=0).clamp_min(1)) / std[:, None]  # (d, n_properties), in standard deviations
        reads = torch.zeros_like(reads).scatter(0, difference.topk(k, dim=0).indices, True)
    used = reads.any(dim=1)  # fit on the directions some property reads, however wide x is
    mean, std, mask = mean[used], std[used], reads[used]
    x = (x[:, used] - mean) / std
    x_t = x.T.contiguous()
    weight = torch.zeros(x.shape[1], labels.shape[1], dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(labels.shape[1], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        read = weight * mask
        loss = probe_loss(_Product.apply(x, x_t, read) + bias, labels, read, l2)
        loss.backward()
        return loss

    optimizer.step(closure)
    weight, bias = (weight * mask).detach(), bias.detach()

    def probe(activations):
        return ((torch.as_tensor(activations).detach().cpu().double()[:, used] - mean) / std) @ weight + bias

    probe.directions = reads
    return probe


def probe_scores(train_activations, train_labels, test_activations, test_labels, k=None, l2=1e-3):
    """The linear-probe reference (or with `k`, the k-sparse probe's scores): each property's
    probe logit as its one direction, its threshold chosen on the training samples like any
    other direction's."""
    probe = linear_probe(train_activations, train_labels, l2=l2, k=k)
    train_logits, test_logits = probe(train_activations), probe(test_activations)
    n = train_logits.shape[1]
    scores = [best_direction_scores(train_logits[:, [p]], train_labels[:, [p]], test_logits[:, [p]],
                                    test_labels[:, [p]]) for p in range(n)]
    return PropertyScores(*(np.concatenate([getattr(s, field) for s in scores])
                            for field in PropertyScores._fields))
