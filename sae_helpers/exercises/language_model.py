"""Notebook 08's exercises: the loss with a module's output spliced, and one direction's best
threshold."""

import math

import numpy as np
import torch

from sae_helpers.exercises.cases import random_cases
from sae_helpers.exercises.engine import Exercise, Mistake
from sae_helpers.language_model import CharTransformer, bits_per_char, splice
from sae_helpers.scoring import best_thresholds


def spliced_bits(model, module, tokens, replace):
    """The model's bits per character on `tokens` while `module`'s output is replace(output)."""
    with splice(module, replace):
        return bits_per_char(model, tokens)


def best_f1(activations, labels):
    """One direction's best F1 over thresholds (positive where activation >= t), and that t."""
    f1, threshold = best_thresholds(np.asarray(activations)[:, None], np.asarray(labels)[:, None])
    return float(f1[0, 0]), float(threshold[0, 0])


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
    try:
        return spliced, bits_per_char(model, tokens)
    except ReplacementFailed:
        raise RuntimeError("the model's own loss after the splice ran the failing replacement again: the hook "
                           "stayed on the module. Remove it in a `finally:` (or use `with splice(...)`), so "
                           "that it goes even when the loss fails") from None


# --- the mistakes ----------------------------------------------------------------------------------

def _spliced_with(remove=True, returns=True, bits=True):
    """The spliced loss written out with a hook: `remove=False` leaves the hook on, `returns=False`
    returns nothing from it, `bits=False` gives nats (with no change, the reference)."""
    def spliced(model, module, tokens, replace):
        def hook(mod, inputs, output):
            replaced = replace(output)
            return replaced if returns else None

        handle = module.register_forward_hook(hook)
        try:
            loss = bits_per_char(model, tokens)
        finally:
            if remove:
                handle.remove()
        return loss if bits else loss * math.log(2)
    return spliced


def _best_f1_with(strict=False, ties=True, score="f1"):
    """best_f1 written out: `strict` predicts activation > t, `ties=False` treats every sorted
    position as a threshold, `score` "accuracy" or "no factor 2" scores something else (with no
    change, the reference)."""
    def best(activations, labels):
        order = np.argsort(-activations, kind="stable")
        values, hits = activations[order], labels[order]
        called = np.arange(1, len(hits) + 1)
        true_positives = np.cumsum(hits)
        if score == "accuracy":
            scores = (true_positives + (len(hits) - called) - (hits.sum() - true_positives)) / len(hits)
        else:
            scores = (1 if score == "no factor 2" else 2) * true_positives / (called + hits.sum())
        settable = np.append(values[:-1] != values[1:], True) if ties else np.ones(len(hits), dtype=bool)
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
        Mistake(_best_f1_with(ties=False),
                "characters with equal activations cannot be split by a threshold: only the last "
                "position of each run of equal values is a threshold you can set."),
        Mistake(_best_f1_with(strict=True),
                "predict positive where activation >= t, so that t is the smallest activation "
                "called positive (with > the threshold is the next value down)."),
        Mistake(_best_f1_with(score="accuracy"),
                "that maximises accuracy; F1 = 2 TP / (called positive + truly positive)."),
        Mistake(_best_f1_with(score="no factor 2"),
                "F1 = 2 TP / (called positive + truly positive): the factor 2 is missing."),
    ),
    random_cases=random_cases(_random_direction),
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
    ),
    random_cases=random_cases(_random_splice),
    run=_spliced_run,
    outputs=("the spliced loss", "the model's loss afterwards, with nothing spliced in"),
)
