"""Notebook 08's exercises: a linear probe, the loss with a module's output spliced, and one
direction's best threshold."""

import math

import numpy as np
import torch
import torch.nn.functional as F

from sae_helpers.exercises.cases import NO_ZERO_GRAD, random_cases
from sae_helpers.exercises.engine import CheckFailed, Exercise, Mistake, unchanged
from sae_helpers.language_model import CharTransformer, bits_per_char, splice
from sae_helpers.scoring import best_thresholds, probe_loss


def train_probe(x, labels, l2, n_steps, lr):
    """A linear probe for one property: logistic regression on x (n, d) standardised with its own
    mean and std, its weights and bias from 0, trained by n_steps of Adam on `probe_loss` (the
    loss `linear_probe` minimises with L-BFGS). Returns the probe: activations -> logits (n,)."""
    mean, std = x.mean(dim=0), x.std(dim=0)
    z = (x - mean) / std
    weight = torch.zeros(x.shape[1], dtype=x.dtype, requires_grad=True)
    bias = torch.zeros((), dtype=x.dtype, requires_grad=True)
    optimizer = torch.optim.Adam([weight, bias], lr=lr)
    for _ in range(n_steps):
        loss = probe_loss(z @ weight + bias, labels, weight, l2)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    weight, bias = weight.detach(), bias.detach()
    return lambda activations: ((activations - mean) / std) @ weight + bias


def spliced_bits(model, module, tokens, replace):
    """The model's bits per character on `tokens` while `module`'s output is replace(output)."""
    with splice(module, replace):
        return bits_per_char(model, tokens)


def best_f1(activations, labels):
    """One direction's best F1 over thresholds (positive where activation >= t), and that t."""
    f1, threshold = best_thresholds(np.asarray(activations)[:, None], np.asarray(labels)[:, None])
    return float(f1[0, 0]), float(threshold[0, 0])


def _probe_case(n, d, rate, seed):
    """Activations (n, d), float64 with dimensions of different scales and offsets, as a residual
    stream's, and a property (n,) that a direction of them predicts with noise; `rate`: its share."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * rng.uniform(0.2, 5, size=d) + rng.uniform(-3, 3, size=d)
    score = (x - x.mean(axis=0)) / x.std(axis=0) @ rng.normal(size=d) + rng.normal(size=n)
    return torch.tensor(x), torch.tensor(score > np.quantile(score, 1 - rate))


def _probe_run(fit, n, d, rate, seed, l2, n_steps):
    """Fit a probe on the first 3/4 of a `_probe_case` with Adam's lr 0.1, as the notebook does
    next, and give its logits on the last quarter."""
    x, labels = _probe_case(n, d, rate, seed)
    train, held_out = x[: 3 * n // 4].clone(), x[3 * n // 4:].clone()
    logits = []
    for _ in range(2):  # twice: a probe that starts at random gives other logits each time
        fitted = fit(train, labels[: 3 * n // 4], l2, n_steps, 0.1)
        unchanged(x[: 3 * n // 4], train, "the activations x")
        if fitted is None:
            return None
        if not callable(fitted):
            raise CheckFailed(f"returned a {type(fitted).__name__}, not a function: return the probe, a function "
                              f"from activations to logits (lambda activations: ...), which the notebook calls next")
        logits.append(fitted(held_out))
        unchanged(x[3 * n // 4:], held_out, "the activations the probe scores")
    if logits[0] is not None and not torch.equal(torch.as_tensor(logits[0]), torch.as_tensor(logits[1])):
        raise CheckFailed("gives other logits when fitted twice on the same data: start the weights and the "
                          "bias at 0 (torch.zeros), not at random")
    return logits[0]


def _random_probe(rng):
    n, d, rate = int(rng.integers(40, 400)), int(rng.integers(1, 12)), float(rng.uniform(0.05, 0.6))
    l2, n_steps = float(10 ** rng.uniform(-4, -1)), int(rng.integers(1, 30))
    return (f"{n} samples of {d} dimensions, {rate:.0%} positive, l2 = {l2:.2g}, {n_steps} steps",
            (n, d, rate, int(rng.integers(0, 1000)), l2, n_steps))


def _tiny_model():
    """A tiny random transformer, made afresh for every run so that a hook left behind by one
    attempt cannot change the next."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return CharTransformer(d_model=16, n_layers=2, n_heads=2, context=16).double().eval()


class ReplacementFailed(Exception):
    """Raised by `_failing_replacement`, the replacement of the case where it fails."""


def _failing_replacement(output):
    raise ReplacementFailed("this replacement fails on purpose (the check's last case): the splice must let "
                            "its error through to the caller, and remove its hook all the same")


def _spliced_run(function, layer, replace):
    """The spliced loss of block `layer`, then the model's loss without any splice: a hook left
    behind shows in the second. Where `replace` is `_failing_replacement`, the spliced loss is
    NaN (its error is expected) and the second must still run."""
    model, tokens = _tiny_model(), torch.randint(32, 127, (64,), generator=torch.Generator().manual_seed(1))
    try:
        spliced = function(model, model.blocks[layer], tokens, replace)
    except ReplacementFailed:
        if replace is not _failing_replacement:
            raise
        spliced = math.nan
    else:
        if replace is _failing_replacement:
            raise CheckFailed(f"returned {spliced!r} though the replacement raised an error: let the error "
                              f"through to the caller (try: ... finally: removes the hook without catching "
                              f"anything), or the notebook would go on with a loss that was never computed")
    try:
        return spliced, bits_per_char(model, tokens)
    except ReplacementFailed:
        raise RuntimeError("the model's own loss after the splice ran the failing replacement again: the hook "
                           "stayed on the module. Remove it in a `finally:` (or use `with splice(...)`), so "
                           "that it goes even when the loss fails") from None


# --- the mistakes ----------------------------------------------------------------------------------

def _spliced_with(remove=True, returns=True, bits=True, on_input=False):
    """The spliced loss written out with a hook: `remove=False` leaves the hook on, `returns=False`
    returns nothing from it, `bits=False` gives nats, `on_input` replaces the module's input (with
    no change, the reference)."""
    def spliced(model, module, tokens, replace):
        def hook(mod, inputs, output):
            replaced = replace(output)
            return replaced if returns else None

        def input_hook(mod, inputs):
            return (replace(inputs[0]), *inputs[1:])

        handle = module.register_forward_pre_hook(input_hook) if on_input else module.register_forward_hook(hook)
        try:
            loss = bits_per_char(model, tokens)
        finally:
            if remove:
                handle.remove()
        return loss if bits else loss * math.log(2)
    return spliced


def _probe_with(standardise=True, own_statistics=False, penalised="weight", penalty="squares", bce="mean",
                zero_grad=True, logits=True, correction=1, per_dimension=True, standardise_new=True, train_bias=True):
    """The probe written out with one step done differently (with no change, the reference)."""
    def fit(x, labels, l2, n_steps, lr):
        axis = {"dim": 0} if per_dimension else {}
        mean, std = (x.mean(**axis), x.std(**axis, correction=correction)) if standardise else (0, 1)
        z = (x - mean) / std
        weight = torch.zeros(x.shape[1], dtype=x.dtype, requires_grad=True)
        bias = torch.zeros((), dtype=x.dtype, requires_grad=True)
        optimizer = torch.optim.Adam([weight, bias] if train_bias else [weight], lr=lr)
        for _ in range(n_steps):
            logit = z @ weight + bias
            fit_loss = F.binary_cross_entropy_with_logits(logit, labels.to(x.dtype), reduction=bce)
            penalised_values = weight if penalised == "weight" else torch.cat([weight, bias[None]])
            size = {"squares": (penalised_values**2).sum(), "abs": penalised_values.abs().sum(),
                    "mean of squares": (penalised_values**2).mean()}[penalty]
            loss = fit_loss + l2 * size
            if zero_grad:
                optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        weight, bias = weight.detach(), bias.detach()

        def probe(activations):
            m, s = (activations.mean(dim=0), activations.std(dim=0)) if own_statistics else (mean, std)
            logit = ((activations - m) / s if standardise_new else activations) @ weight + bias
            return logit if logits else torch.sigmoid(logit)
        return probe
    return fit


def _best_f1_with(strict=False, ties="last", score="f1"):
    """best_f1 written out: `strict` predicts activation > t, `ties` "all" treats every sorted
    position as a threshold and "first" the first of each run of equal values, `score` "accuracy"
    or "no factor 2" scores something else (with no change, the reference)."""
    def best(activations, labels):
        order = np.argsort(-activations, kind="stable")
        values, hits = activations[order], labels[order]
        called = np.arange(1, len(hits) + 1)
        true_positives = np.cumsum(hits)
        if score == "accuracy":
            scores = (true_positives + (len(hits) - called) - (hits.sum() - true_positives)) / len(hits)
        else:
            scores = (1 if score == "no factor 2" else 2) * true_positives / (called + hits.sum())
        settable = {"last": np.append(values[:-1] != values[1:], True), "all": np.ones(len(hits), dtype=bool),
                    "first": np.append(True, values[1:] != values[:-1])}[ties]
        i = np.argmax(np.where(settable, scores, -1))
        if strict:  # "> t" at a threshold of the next value down: the same characters called positive
            return scores[i], values[i + 1] if i + 1 < len(values) else values[i] - 1
        return scores[i], values[i]
    return best


def _random_direction(rng):
    n, p = rng.integers(5, 400), rng.uniform(0.05, 0.6)
    labels = rng.uniform(size=n) < p
    activations = np.round(np.maximum(rng.normal(size=n) + rng.uniform(0, 2) * labels, 0), 1)  # ties, as TopK's 0s
    return f"{n} characters, activations rounded to 0.1 (ties)", (activations, labels)


def _random_splice(rng):
    layer, scale, shift = int(rng.integers(0, 2)), float(rng.uniform(-2, 2)), float(rng.uniform(-1, 1))
    return f"block {layer + 1}'s output x replaced by {scale:.2f} x {shift:+.2f}", (layer, lambda x: scale * x + shift)


_RNG = np.random.default_rng(8)
_LABELS = _RNG.random(1000) < 0.2
_SCORES = _RNG.normal(size=1000) + 1.2 * _LABELS
_SPARSE = np.where(_RNG.random(1000) < 0.85, 0.0, _RNG.random(1000) * 3) + 2.0 * (_LABELS & (_RNG.random(1000) < 0.5))

BEST_THRESHOLD = Exercise(
    reference=best_f1,
    cases=(("1,000 characters, a direction that leans towards the property", (_SCORES, _LABELS)),
           ("a TopK latent: 0 on most characters (ties)", (_SPARSE, _LABELS)),
           ("a direction that separates the property perfectly", (_SCORES, _SCORES > 1.0)),
           ("0 on 160 characters, 60 of them positive (listed first)",
            (np.concatenate([np.zeros(160), np.linspace(1, 2, 40)]),
             np.concatenate([np.ones(60), np.zeros(100), np.tile([1, 0], 20)]).astype(bool)))),
    mistakes=(
        Mistake(_best_f1_with(ties="all"),
                "characters with equal activations cannot be split by a threshold: only the last "
                "position of each run of equal values is a threshold you can set."),
        Mistake(_best_f1_with(ties="first"),
                "a threshold calls positive every character at or above it, so a run of equal values is "
                "called as a whole: count it at its last position in the sorted order, not its first."),
        Mistake(_best_f1_with(strict=True),
                "predict positive where activation >= t, so that t is the smallest activation "
                "called positive (with > the threshold is the next value down)."),
        Mistake(_best_f1_with(score="accuracy"),
                "that maximises accuracy; F1 = 2 TP / (called positive + truly positive)."),
        Mistake(_best_f1_with(score="no factor 2"),
                "F1 = 2 TP / (called positive + truly positive): the factor 2 is missing."),
    ),
    random_cases=random_cases(_random_direction),
    outputs=("the best F1", "its threshold"),
)

TRAIN_PROBE = Exercise(
    reference=train_probe,
    run=_probe_run,
    cases=(("400 samples of 6 dimensions, 30 % positive, one step", (400, 6, 0.3, 0, 1e-3, 1)),
           ("the same, 20 steps", (400, 6, 0.3, 0, 1e-3, 20)),
           ("a rare property (5 %), a strong penalty (l2 = 0.1), 10 steps", (400, 6, 0.05, 1, 0.1, 10)),
           ("one dimension, 5 steps", (80, 1, 0.5, 2, 1e-3, 5))),
    outputs=("the probe's logits on held-out activations",),
    mistakes=(
        Mistake(_probe_with(standardise=False),
                "standardise the activations first, (x - mean) / std per dimension: otherwise a dimension "
                "with a large scale dominates the steps and the penalty means something else in each."),
        Mistake(_probe_with(own_statistics=True),
                "standardise the activations the probe scores with the training mean and std, kept from "
                "the fit; their own statistics shift every logit."),
        Mistake(_probe_with(standardise_new=False),
                "the probe must standardise the activations it scores, ((activations - mean) / std) with "
                "the training mean and std, as its weights were fitted on standardised ones."),
        Mistake(_probe_with(per_dimension=False),
                "standardise each dimension on its own: x.mean(dim=0) and x.std(dim=0), not one mean and "
                "std over all the numbers."),
        Mistake(_probe_with(correction=0),
                "x.std(dim=0), as linear_probe does, divides by n − 1; correction=0 (or numpy's default) "
                "divides by n."),
        Mistake(_probe_with(train_bias=False),
                "give the optimiser the bias too, Adam([weight, bias], lr=lr): otherwise it stays 0."),
        Mistake(_probe_with(penalised="all"), "penalise the weights only: the bias is not part of the L2 penalty."),
        Mistake(_probe_with(penalty="abs"),
                "that is an L1 penalty, l2 × Σ|w|: the probe's is l2 × Σ w², the squared weights."),
        Mistake(_probe_with(penalty="mean of squares"),
                "the penalty sums the squared weights, (weight ** 2).sum(): a mean divides it by d."),
        Mistake(_probe_with(bce="sum"),
                "average the cross-entropy over the samples (F.binary_cross_entropy_with_logits does by "
                "default): a sum makes the penalty n times weaker."),
        Mistake(_probe_with(zero_grad=False),
                NO_ZERO_GRAD),
        Mistake(_probe_with(logits=False),
                "return logits, before the sigmoid: the scores are compared and thresholded as logits."),
    ),
    random_cases=random_cases(_random_probe),
)

SPLICED_BITS = Exercise(
    reference=spliced_bits,
    cases=(("block 1 of a tiny transformer, its output replaced by itself", (0, lambda x: x)),
           ("its output replaced by zeros", (0, torch.zeros_like)),
           ("block 2's output shifted by 1", (1, lambda x: x + 1)),
           ("a replacement that fails (its error must reach the caller)", (0, _failing_replacement))),
    mistakes=(
        Mistake(_spliced_with(returns=False),
                "nothing was spliced in while the loss ran: the hook must be on the module while the loss "
                "is computed, and return the replacement (a forward hook that returns None leaves the "
                "output as it was)."),
        Mistake(_spliced_with(remove=False),
                "remove the hook when you are done (handle.remove(), in a finally): it stays on the "
                "module, and every later forward pass is spliced too."),
        Mistake(_spliced_with(bits=False),
                "that is in nats (natural log); bits_per_char gives bits, the unit of this notebook."),
        Mistake(_spliced_with(on_input=True),
                "a forward pre-hook replaces the module's input; the splice replaces its output: "
                "module.register_forward_hook(lambda module, inputs, output: replace(output))."),
    ),
    random_cases=random_cases(_random_splice),
    run=_spliced_run,
    outputs=("the spliced loss", "the model's loss afterwards, with nothing spliced in"),
)
