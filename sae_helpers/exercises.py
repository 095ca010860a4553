"""Self-checks for the notebooks' exercises.

An exercise in a notebook is a stub the learner edits (it raises NotImplementedError until
then), a cell that calls `check`, and a hint and a worked solution folded away. `check` runs
the learner's function and the reference on the same cases, an edge case among them, and says
in plain words what is wrong: where the answer matches a recorded common mistake, it names it.
It returns the function the later cells use: the learner's once it passes, the reference until
then, so a skipped exercise never breaks the notebook.

Most references are the package's own functions. The few defined here (one training step, one
gradient, a matching rule as a function) exist only as answers to an exercise.
"""

import copy
import math
from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment

from sae_helpers.data import make_lecture_data
from sae_helpers.language_model import CharTransformer, bits_per_char, splice
from sae_helpers.metrics import (
    absorption_score,
    abs_corr,
    best_cosines,
    corr,
    decoder_alignment,
    match_latents,
    mcc,
    selectivity,
)
from sae_helpers.model import (
    SparseAutoencoder,
    TopK,
    auxk_penalty,
    decoder_norm_l1_penalty,
    decorrelation_penalty,
    l1_penalty,
)
from sae_helpers.scoring import best_thresholds
from sae_helpers.toy_model import importance_weighted_mse, sample_features


class Mistake(NamedTuple):
    function: Callable  # a wrong solution a learner is likely to write
    message: str  # what it gets wrong, in plain words


def _call(function, *arguments):
    return function(*arguments)


@dataclass(frozen=True)
class Exercise:
    reference: Callable  # the right answer
    cases: tuple  # ((label, arguments), ...), each the arguments of one run
    mistakes: tuple = field(default=())  # Mistake, ...
    run: Callable = _call  # run(function, *arguments) -> what is compared; by default one call
    outputs: tuple = ()  # names of what run returns, for messages (default: "the result", "output k")


def _as_outputs(value, n_expected=1):
    """A result as a tuple of float arrays (a function may return a tuple of them, or a list
    where more than one output is expected)."""
    many = isinstance(value, tuple) or (isinstance(value, list) and n_expected > 1)
    return tuple(np.asarray(p.detach().cpu().numpy() if isinstance(p, torch.Tensor) else p, dtype=float)
                 for p in (value if many else (value,)))


def _copy(arguments):
    """Copies of the arguments, down to the arrays inside a tuple (such as a `Matches`)."""
    return tuple(a.clone() if isinstance(a, torch.Tensor) else copy.deepcopy(a) for a in arguments)


def _arrays(value):
    """The arrays and tensors in `value`, one inside a tuple included."""
    if isinstance(value, (torch.Tensor, np.ndarray)):
        return [value]
    return [a for part in value for a in _arrays(part)] if isinstance(value, tuple) else []


def _number(g, e):
    """g and e as text, with as many digits as it takes to tell them apart (4 to 10)."""
    for digits in range(4, 11):
        shown = f"{g:.{digits}g}", f"{e:.{digits}g}"
        if shown[0] != shown[1]:
            break
    return shown


def _output_name(k, n_outputs, names):
    return names[k] if names else f"output {k}" if n_outputs > 1 else "the result"


def _type_difference(expected, got, names=()):
    """None when every output that the reference returns as a tensor is a tensor of its dtype in
    `got` too (the notebook goes on computing with it), else what differs."""
    expected = expected if isinstance(expected, tuple) else (expected,)
    got = tuple(got) if isinstance(got, (tuple, list)) and len(expected) > 1 else (got,)
    for k, (e, g) in enumerate(zip(expected, got)):
        which = _output_name(k, len(expected), names)
        if isinstance(e, torch.Tensor) and not isinstance(g, torch.Tensor):
            return (f"{which} is a {type(g).__name__}, not a torch tensor as the reference's is, and the "
                    f"notebook goes on computing with it in torch (.item() and .numpy() leave torch)")
        if isinstance(e, torch.Tensor) and g.dtype != e.dtype:
            return (f"{which} is {g.dtype}, expected {e.dtype}, the inputs' dtype: make new tensors in the "
                    f"inputs' dtype (torch.zeros_like(x), or dtype=x.dtype)")
    return None


def _none_output(got, n_expected):
    """-1 if `got` is None, k if its output k is None, else None."""
    if got is None:
        return -1
    if isinstance(got, (tuple, list)) and n_expected > 1:
        return next((k for k, part in enumerate(got) if part is None), None)
    return None


def _difference(expected, got, names=()):
    """None when `got` equals `expected` (tuples of arrays: shapes and values), else what differs."""
    missing = _none_output(got, len(expected))
    if missing is not None:
        which = "it returned" if missing < 0 else _output_name(missing, len(expected), names) + " is"
        return f"{which} None: did you forget `return`?"
    try:
        got = _as_outputs(got, len(expected))
    except (TypeError, ValueError) as error:
        return f"it returned something that is not numbers ({error})"
    if len(got) != len(expected):
        return f"it returned {len(got)} output(s), expected {len(expected)}"
    for k, (e, g) in enumerate(zip(expected, got)):
        which = _output_name(k, len(expected), names) + " "
        if g.shape != e.shape:
            return f"{which}has shape {g.shape}, expected {e.shape}"
        if not np.allclose(g, e, rtol=1e-5, atol=1e-6, equal_nan=True):
            i = np.unravel_index(np.argmax(np.abs(np.nan_to_num(g - e, nan=np.inf))), g.shape)
            where = f"at index {tuple(map(int, i))} " if g.ndim else ""
            shown_g, shown_e = _number(g[i], e[i])
            return f"{which}{where}is {shown_g}, expected {shown_e}"
    return None


def _changed_input(before, after):
    """The position of the first array or tensor argument that a call changed in place, or None."""
    for k, (b, a) in enumerate(zip(before, after)):
        if any(not (x.shape == y.shape and bool(((x == y) | ((x != x) & (y != y))).all()))  # NaN equals NaN
               for x, y in zip(_arrays(b), _arrays(a))):
            return k
    return None


def _gives(exercise, function, arguments, outputs):
    """Does `function`, run on `arguments`, give `outputs`?"""
    try:
        return _difference(outputs, exercise.run(function, *_copy(arguments))) is None
    except Exception:
        return False


def check(attempt, exercise):
    """Run `attempt` on `exercise`'s cases against its reference; print what passed or, at the
    first case it gets wrong, what is wrong (naming a recorded mistake that gives the same
    answer there); return `attempt` if it passed, otherwise the reference. The caller's random
    state is left as it was."""
    with np.errstate(all="ignore"), torch.random.fork_rng(devices=[]):  # a wrong answer's 0/0 is reported
        return _check(attempt, exercise)


def _check(attempt, exercise):
    name = attempt.__name__
    reference = exercise.reference
    fallback = f"The cells below use the reference, {reference.__module__}.{reference.__name__}."
    for label, arguments in exercise.cases:
        returned = exercise.run(reference, *_copy(arguments))
        expected = _as_outputs(returned)
        given = _copy(arguments)
        try:
            got = exercise.run(attempt, *given)
        except NotImplementedError:
            print(f"{name}: not solved yet. {fallback}")
            return reference
        except Exception as error:
            print(f"✘ {name} raised {type(error).__name__} on the case '{label}': {error}\n{fallback}")
            return reference
        wrong_value = _difference(expected, got, exercise.outputs)
        problem = wrong_value or _type_difference(returned, got, exercise.outputs)
        changed = _changed_input(arguments, given)
        if problem is None and changed is not None:
            print(f"✘ {name} gives the right answer on the case '{label}' but changes its input {changed + 1} "
                  f"in place (as x -= ... or x[...] = ... do), and the notebook uses that input again: "
                  f"work on a copy (x = x - ...).\n{fallback}")
            return reference
        if problem is not None:
            try:  # a recorded mistake that gives the same wrong values
                outputs = (_as_outputs(got, len(expected))
                           if wrong_value and _none_output(got, len(expected)) is None else None)
            except (TypeError, ValueError):
                outputs = None
            mistake = outputs and next((m for m in exercise.mistakes
                                        if _gives(exercise, m.function, arguments, outputs)), None)
            likely = f"\nLikely mistake: {mistake.message}" if mistake else ""
            end = "" if problem.endswith("?") else "."
            print(f"✘ {name} is wrong on the case '{label}': {problem}{end}{likely}\n{fallback}")
            return reference
    print(f"✔ {name} is right on all {len(exercise.cases)} cases: "
          f"{'; '.join(label for label, _ in exercise.cases)}.")
    return attempt


# --- references that exist only as answers ----------------------------------------------------

def unmix(data, mixing):
    """The sources (n_samples, n_sources) of data = sources @ mixing, for an invertible mixing."""
    return data @ np.linalg.inv(mixing)


def pearson_r(a, b):
    """Pearson r of two 1-D arrays of the same length."""
    return corr(a[:, None], b[:, None])[0, 0]


def sae_forward(x, W_enc, b_enc, W_dec, b_dec):
    """The lecture's SAE with nn.Linear's layout, W_enc (h, d) and W_dec (d, h):
    x (n, d) -> (x_recon (n, d), latents (n, h))."""
    latents = F.gelu(x @ W_enc.T + b_enc)
    return latents @ W_dec.T + b_dec, latents


def training_step(model, optimizer, x):
    """One step of the lecture's loop; returns the total loss before the step, as a float."""
    x_recon, latents = model(x)
    loss = F.mse_loss(x_recon, x) + model.sparsity_loss(latents)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def decoder_weight_gradient(d_recon, latents):
    """dL/dW_dec in nn.Linear's layout (d, h), from dL/dx_recon (n, d) and the latents (n, h)."""
    return d_recon.T @ latents


def best_latents(latents, sources):
    """The lecture's rule: for each source, the latent with the highest |r| (n_sources,)."""
    return match_latents(latents, sources).latent


def one_to_one_latents(latents, sources):
    """Distinct latents, one per source, with the largest summed |r| (n_sources,)."""
    return match_latents(latents, sources, one_to_one=True).latent


def topk(z, k):
    """TopK(k) as a function: (..., h) -> (..., h)."""
    return TopK(k)(z)


def _train_with(step, seed, n_steps, sparsity_weight=1.0):
    """Run `step(model, optimizer, x)` n_steps times on a seeded lecture SAE (8 latents, Adam
    lr 0.01) and 200 lecture samples: (its parameters, flattened; the losses it returned, or
    None if a step returned None)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = SparseAutoencoder(2, 8, sparsity_weight)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    x = torch.tensor(make_lecture_data(n_samples=200).data, dtype=torch.float32)
    losses = [step(model, optimizer, x) for _ in range(n_steps)]
    if any(isinstance(loss, torch.Tensor) for loss in losses):
        raise TypeError("your step returned the loss as a tensor, which holds on to its graph; the notebook "
                        "collects the losses as numbers: return loss.item()")
    losses = None if any(loss is None for loss in losses) else np.array([float(loss) for loss in losses])
    return torch.cat([p.detach().flatten() for p in model.parameters()]), losses


# --- the cases ---------------------------------------------------------------------------------

def _features(shape, p, seed):
    return sample_features(p, shape, torch.Generator().manual_seed(seed))


def _normal(*shape, seed):
    return np.random.default_rng(seed).normal(size=shape)


def _tensor(*shape, seed):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _unit_rows(a):
    """Rows divided by their length, with no care for rows of length 0 (mistakes use it)."""
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def _sae_weights(d, h, seed):
    return _tensor(h, d, seed=seed), _tensor(h, seed=seed + 1), _tensor(d, h, seed=seed + 2), _tensor(d, seed=seed + 3)


def _latents_of(sources, seed):
    """Latents that follow the sources to different degrees, as an SAE's might: (n, 6)."""
    mixed = sources @ _normal(sources.shape[1], 6, seed=seed)
    return np.maximum(mixed + 0.3 * _normal(*mixed.shape, seed=seed + 1), 0)


def _sae_gradient_case(seed):
    """(dL/dx_recon, latents) of a lecture SAE on 50 lecture samples, MSE loss."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = SparseAutoencoder(2, 6)
    x = torch.tensor(make_lecture_data(n_samples=50).data, dtype=torch.float32)
    with torch.no_grad():
        x_recon, latents = model(x)
    return 2 * (x_recon - x) / x.numel(), latents


_LECTURE = make_lecture_data(n_samples=300)
_x = _features((2, 64, 5), 0.3, 0)
_flipped = _normal(6, 3, seed=3)
_with_zero = _normal(8, 3, seed=5)
_with_zero[2] = 0
_sources_3 = np.abs(_normal(200, 3, seed=7))
_swapped = np.column_stack([_LECTURE.sources[:, 1], _LECTURE.sources[:, 0], _LECTURE.sources[:, 0]])
_z = _tensor(5, 8, seed=2)

UNMIX = Exercise(
    reference=unmix,
    cases=(("the lecture's data and mixing", (_LECTURE.data, _LECTURE.mixing)),
           ("3 sources, a random mixing", (_sources_3 @ _normal(3, 3, seed=8), _normal(3, 3, seed=8))),
           ("a mixing that is not symmetric", (_LECTURE.sources @ np.array([[1.0, 2.0], [0.0, 1.0]]),
                                                np.array([[1.0, 2.0], [0.0, 1.0]])))),
    mistakes=(
        Mistake(lambda data, mixing: data @ mixing,
                "you multiplied by the mixing matrix, which mixes again: multiply by its inverse."),
        Mistake(lambda data, mixing: data @ np.linalg.inv(mixing).T,
                "the inverse is transposed: data = sources @ mixing, so sources = data @ inv(mixing)."),
        Mistake(lambda data, mixing: np.linalg.inv(mixing) @ data.T,
                "this is (n_sources, n_samples): rows are samples, so multiply from the right, "
                "data @ inv(mixing)."),
    ),
)

PEARSON_R = Exercise(
    reference=pearson_r,
    cases=(("the lecture's two sources", (_LECTURE.sources[:, 0], _LECTURE.sources[:, 1])),
           ("a variable and its negative plus an offset", (_LECTURE.data[:, 0], 5 - 2 * _LECTURE.data[:, 0])),
           ("two noisy copies", (_normal(100, seed=1), _normal(100, seed=1) + 0.5 * _normal(100, seed=2)))),
    mistakes=(
        Mistake(lambda a, b: a @ b / (np.linalg.norm(a) * np.linalg.norm(b)),
                "you forgot to subtract the means: that is the cosine of the raw vectors, not r."),
        Mistake(lambda a, b: np.mean((a - a.mean()) * (b - b.mean())),
                "that is the covariance: divide it by the two standard deviations."),
        Mistake(lambda a, b: np.mean((a - a.mean()) * (b - b.mean())) / (a.std(ddof=1) * b.std(ddof=1)),
                "the covariance and the standard deviations use different denominators (n and n − 1): "
                "use the same in both."),
        Mistake(lambda a, b: np.cov(a, b)[0, 1] / (a.std() * b.std()),
                "the covariance and the standard deviations use different denominators (np.cov divides by "
                "n − 1, np.std by n): use the same in both."),
    ),
)

SAE_FORWARD = Exercise(
    reference=sae_forward,
    cases=(("2 inputs, 20 latents, 10 samples", (_tensor(10, 2, seed=0), *_sae_weights(2, 20, seed=1))),
           ("one sample", (_tensor(1, 2, seed=5), *_sae_weights(2, 20, seed=6))),
           ("5 inputs, 3 latents", (_tensor(7, 5, seed=9), *_sae_weights(5, 3, seed=10)))),
    mistakes=(
        Mistake(lambda x, W_enc, b_enc, W_dec, b_dec: ((r := torch.relu(x @ W_enc.T + b_enc)) @ W_dec.T + b_dec, r),
                "that is a ReLU: the lecture's SAE uses GELU (torch.nn.functional.gelu)."),
        Mistake(lambda x, W_enc, b_enc, W_dec, b_dec: (F.gelu((g := F.gelu(x @ W_enc.T + b_enc)) @ W_dec.T + b_dec), g),
                "the decoder is linear: apply GELU to the latents only, not to the reconstruction."),
        Mistake(lambda x, W_enc, b_enc, W_dec, b_dec: ((g := F.gelu(x @ W_enc.T)) @ W_dec.T, g),
                "the biases are missing: the encoder adds b_enc before GELU, the decoder adds b_dec."),
        Mistake(lambda x, W_enc, b_enc, W_dec, b_dec: ((g := F.gelu(x @ W_enc.T + b_enc)) @ W_dec.T, g),
                "the decoder's bias b_dec is missing."),
    ),
)

L1_PENALTY = Exercise(
    reference=l1_penalty,
    cases=(("10 samples, 20 latents", (_tensor(10, 20, seed=0),)),
           ("one sample", (_tensor(1, 20, seed=1),)),
           ("all latents negative", (-_tensor(4, 3, seed=2).abs(),))),
    mistakes=(
        Mistake(lambda latents: latents.mean(), "take the absolute value first: negative latents cost too."),
        Mistake(lambda latents: latents.abs().sum(),
                "you summed: the lecture takes the mean over samples and latents."),
        Mistake(lambda latents: latents.abs().mean(dim=0),
                "you averaged over samples only; the lecture averages over latents too (one number)."),
        Mistake(lambda latents: latents.abs().sum(dim=1).mean(),
                "you summed over latents and averaged over samples; the lecture averages over both."),
    ),
)

DECORRELATION_PENALTY = Exercise(
    reference=decorrelation_penalty,
    cases=(("10 samples, 20 latents", (_tensor(10, 20, seed=3),)),
           ("2 samples, 3 latents", (_tensor(2, 3, seed=4),)),
           ("latents far from 0", (5 + _tensor(30, 4, seed=5),))),
    mistakes=(
        Mistake(lambda f: (torch.cov(f.T) ** 2).sum(),
                "the diagonal (each latent's variance) is in: sum only the covariances between "
                "different latents."),
        Mistake(lambda f: ((c := f.T @ f / (len(f) - 1)) ** 2).sum() - (torch.diagonal(c) ** 2).sum(),
                "subtract each latent's mean over samples first: a covariance is about variation "
                "around the mean."),
        Mistake(lambda f: (c := torch.cov(f.T)).sum() - torch.diagonal(c).sum(),
                "square the covariances before summing: negative ones count too."),
        Mistake(lambda f: ((c := torch.cov(f.T, correction=0)) ** 2).sum() - (torch.diagonal(c) ** 2).sum(),
                "the covariance divides by n − 1 (torch.cov's default), not by n."),
    ),
)


def _step_with(loss_of, zero_grad=True):
    """A training step like the reference's, with another loss_of(model, x) or no zero_grad:
    the shape of the mistakes below."""
    def step(model, optimizer, x):
        loss = loss_of(model, x)
        if zero_grad:
            optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()
    return step


def _lecture_loss(model, x):
    x_recon, latents = model(x)
    return F.mse_loss(x_recon, x) + model.sparsity_loss(latents)


def _summed_squares_loss(model, x):
    x_recon, latents = model(x)
    return ((x_recon - x) ** 2).sum() + model.sparsity_loss(latents)


def _step_without_gradient(model, optimizer, x):
    """backward before zero_grad: Adam steps with no gradient (as when backward is left out)."""
    loss = _lecture_loss(model, x)
    loss.backward()
    optimizer.zero_grad()
    optimizer.step()
    return loss.item()


def _unweighted_loss(model, x):
    x_recon, latents = model(x)
    return F.mse_loss(x_recon, x) + l1_penalty(latents)


TRAINING_STEP = Exercise(
    reference=training_step,
    run=_train_with,
    cases=(("one step, seed 0", (0, 1)), ("three steps, seed 0", (0, 3)), ("three steps, seed 1", (1, 3)),
           ("three steps, sparsity_weight 0.3", (1, 3, 0.3))),
    outputs=("the model's parameters after the steps (flattened, encoder first)", "the loss your step returned"),
    mistakes=(
        Mistake(_step_with(_lecture_loss, zero_grad=False),
                "zero the gradients before backward (optimizer.zero_grad()): otherwise each step adds its "
                "gradient to the previous ones."),
        Mistake(_step_with(lambda model, x: F.mse_loss(model(x).x_recon, x)),
                "the loss is the MSE plus the model's sparsity_loss; you left the penalty out."),
        Mistake(_step_with(_summed_squares_loss),
                "you summed the squared errors; the MSE averages them (F.mse_loss)."),
        Mistake(_step_without_gradient,
                "the parameters did not move: the optimiser stepped with no gradient. The order is "
                "optimizer.zero_grad(), loss.backward(), optimizer.step()."),
        Mistake(_step_with(_unweighted_loss),
                "the penalty is the model's sparsity_loss(latents), which multiplies the L1 penalty by "
                "model.sparsity_weight; you left the weight out."),
    ),
)

_gradient_case = _sae_gradient_case(0)
DECODER_WEIGHT_GRADIENT = Exercise(
    reference=decoder_weight_gradient,
    cases=(("a lecture SAE with 6 latents", _gradient_case),
           ("one sample", (_gradient_case[0][:1], _gradient_case[1][:1])),
           ("3 outputs, 4 latents", (_tensor(5, 3, seed=1), _tensor(5, 4, seed=2)))),
    mistakes=(
        Mistake(lambda d_recon, latents: latents.T @ d_recon,
                "this is (h, d): PyTorch stores the decoder's weight as (d, h), so use d_recon.T @ latents."),
        Mistake(lambda d_recon, latents: d_recon.T @ latents / len(latents),
                "do not divide by n again: d_recon already carries the MSE's 1/(n d)."),
    ),
)

BEST_LATENTS = Exercise(
    reference=best_latents,
    cases=(("the lecture's sources, latents that follow them", (_latents_of(_LECTURE.sources, 1), _LECTURE.sources)),
           ("a latent that follows a source upside down", (-_LECTURE.sources @ np.eye(2, 4), _LECTURE.sources)),
           ("3 sources, 2 of them copies", (_latents_of(_swapped, 3), _swapped))),
    mistakes=(
        Mistake(lambda latents, sources: corr(latents, sources).argmax(axis=0),
                "use |r|: a latent that follows its source upside down (r = −1) follows it as well."),
        Mistake(lambda latents, sources: abs_corr(latents, sources).argmax(axis=1),
                "you took each latent's best source; the task asks for each source's best latent."),
        Mistake(lambda latents, sources: np.abs((latents - latents.mean(0)).T @ (sources - sources.mean(0))).argmax(0),
                "that compares covariances, which grow with a latent's scale: use the correlation r."),
    ),
)


def _greedy_latents(latents, sources):
    """Each source in turn takes its best latent not yet taken (a mistake)."""
    r, taken = abs_corr(latents, sources), []
    for source in range(r.shape[1]):
        taken.append(max((i for i in range(len(r)) if i not in taken), key=lambda i: r[i, source]))
    return np.array(taken)


def _contested(sources, seed):
    """Latents (n, 3) for 2 sources: the second source faintly in noise; one latent that follows
    both (the best |r| for each); the first source in noise. The one-to-one answer gives the first
    source latent 2 and the second latent 1; a greedy one gives the first latent 1, the second 0."""
    rng = np.random.default_rng(seed)
    z = (sources - sources.mean(axis=0)) / sources.std(axis=0)
    return np.column_stack([rng.normal(size=len(z)) + 0.3 * z[:, 1], z[:, 0] + 0.9 * z[:, 1],
                            z[:, 0] + 1.2 * rng.normal(size=len(z))])


_noise = _normal(len(_LECTURE.sources), seed=12)


def _moderate_pair(sources, seed):
    """Latents (n, 2) whose |r| with the 2 sources are [[0.495, 0.25], [0.698, 0.501]] (to within
    the sources' own small correlation): summed |r| gives source 1 latent 0 and source 2 latent 1
    (0.996 against 0.948), summed r² the other way round (0.496 against 0.550)."""
    z = (sources - sources.mean(axis=0)) / sources.std(axis=0)
    noise = _normal(len(z), 2, seed=seed)
    noise -= z @ np.linalg.lstsq(z, noise, rcond=None)[0]  # at right angles to both sources
    noise, _ = np.linalg.qr(noise - noise.mean(axis=0))
    noise *= np.sqrt(len(z))
    return np.column_stack([0.495 * z[:, 0] + 0.25 * z[:, 1] + np.sqrt(1 - 0.495**2 - 0.25**2) * noise[:, 0],
                            0.698 * z[:, 0] + 0.501 * z[:, 1] + np.sqrt(1 - 0.698**2 - 0.501**2) * noise[:, 1]])


ONE_TO_ONE_LATENTS = Exercise(
    reference=one_to_one_latents,
    cases=(("the lecture's sources, latents that follow them", (_latents_of(_LECTURE.sources, 1), _LECTURE.sources)),
           ("3 sources, 2 of them copies", (_latents_of(_swapped, 3), _swapped)),
           ("latents in the opposite order to the sources",
            (np.column_stack([_noise, _LECTURE.sources[:, 1], _LECTURE.sources[:, 0]]), _LECTURE.sources)),
           ("a latent that follows the first source upside down",
            (np.column_stack([-_LECTURE.sources[:, 0], _LECTURE.sources[:, 1], _noise]), _LECTURE.sources)),
           ("one latent best for both sources", (_contested(_LECTURE.sources, 11), _LECTURE.sources)),
           ("two moderate matches against one strong and one weak", (_moderate_pair(_LECTURE.sources, 13),
                                                                      _LECTURE.sources))),
    mistakes=(
        Mistake(lambda latents, sources: abs_corr(latents, sources).argmax(axis=0),
                "two sources claimed the same latent: that is the lecture's rule; assign distinct latents "
                "(scipy.optimize.linear_sum_assignment)."),
        Mistake(lambda latents, sources: linear_sum_assignment(abs_corr(latents, sources), maximize=True)[0],
                "on the (latents × sources) matrix, linear_sum_assignment returns (latents, sources) pairs "
                "with the latents in increasing order: you need the latent of each source in source order "
                "(transpose the matrix, or sort the pairs by source)."),
        Mistake(lambda latents, sources: linear_sum_assignment(abs_corr(latents, sources).T ** 2, maximize=True)[1],
                "maximise the sum of |r|, not of r²: squares favour one strong match over two moderate ones."),
        Mistake(lambda latents, sources: linear_sum_assignment(abs_corr(latents, sources).T)[1],
                "linear_sum_assignment minimises by default: pass maximize=True to get the largest |r|."),
        Mistake(lambda latents, sources: linear_sum_assignment(corr(latents, sources).T, maximize=True)[1],
                "use |r|: a latent that follows its source upside down (r = −1) follows it as well."),
        Mistake(_greedy_latents,
                "a greedy choice (each source in turn, or the largest |r| first, takes its best free latent) "
                "can block a better assignment: here the latent both sources like best goes to the first, "
                "and the second is left with noise. Maximise the total with linear_sum_assignment."),
    ),
)


def _top_two_gap(latents, sources, matches):
    """Each matched latent's largest |r| minus its second largest (a mistake)."""
    r = np.sort(abs_corr(latents, sources)[matches.latent], axis=1)
    return r[:, -1] - r[:, -2]


SELECTIVITY = Exercise(
    reference=selectivity,
    cases=tuple((label, (latents, sources, match_latents(latents, sources))) for label, latents, sources in [
        ("the lecture's sources, latents that follow them", _latents_of(_LECTURE.sources, 1), _LECTURE.sources),
        ("3 sources, 2 of them copies", _latents_of(_swapped, 3), _swapped),
        ("a latent that follows a source upside down", -_LECTURE.sources @ np.eye(2, 4), _LECTURE.sources),
        ("source 1's best latent follows source 2 more", _LECTURE.sources @ np.array([[0.6, 0.0], [0.8, 1.0]]),
         _LECTURE.sources)]),
    mistakes=(
        Mistake(lambda latents, sources, matches: (r := abs_corr(latents, sources)[matches.latent])[
                    np.arange(len(r)), np.arange(len(r))] - r.max(axis=1),
                "the best other source must leave out the matched source itself (you get 0 for a latent "
                "whose own source is its best)."),
        Mistake(lambda latents, sources, matches: (r := corr(latents, sources)[matches.latent])[
                    np.arange(len(r)), np.arange(len(r))] - np.where(np.eye(len(r), dtype=bool), -np.inf, r).max(1),
                "use |r| for both terms: a latent may follow a source upside down."),
        Mistake(_top_two_gap,
                "that is the gap between the latent's two largest |r|, which is positive even where its "
                "own source is not its best: subtract its best |r| with another source from its |r| with "
                "its own."),
    ),
)

ALIGNMENT = Exercise(
    reference=decoder_alignment,
    cases=(("the lecture's mixing, 4 decoder directions", (_LECTURE.mixing, _normal(4, 2, seed=1), np.array([2, 0]))),
           ("a decoder direction along a mixing row, reversed", (_LECTURE.mixing, -3 * _LECTURE.mixing[::-1],
                                                                 np.array([1, 0]))),
           ("3 sources in 3 dimensions", (_normal(3, 3, seed=2), _normal(5, 3, seed=3), np.array([4, 1, 1])))),
    mistakes=(
        Mistake(lambda mixing, directions, latent: decoder_alignment(mixing.T, directions, latent),
                "a source's direction in data space is its row of the mixing matrix (data = sources @ mixing), "
                "not its column."),
        Mistake(lambda mixing, directions, latent: np.abs(np.sum(mixing * directions[latent], axis=1)),
                "these are dot products, not cosines: divide both directions by their lengths."),
        Mistake(lambda mixing, directions, latent: np.sum(_unit_rows(mixing) * _unit_rows(directions[latent]), axis=1),
                "take |cos|: a latent may write its source's direction with the opposite sign."),
    ),
)

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
                "the importance is inside the square, so it counts squared: weight the squared error, "
                "I · (x − x')², not (I · (x − x'))²."),
        Mistake(lambda x, x_recon, importance: (importance * (x - x_recon) ** 2).mean(-1).mean(-1),
                "you averaged over the features; the loss sums them (a mean divides it by n_features)."),
        Mistake(lambda x, x_recon, importance: (importance * (x - x_recon) ** 2).sum(-1).sum(-1),
                "you summed over the samples; the loss averages them, so it does not grow with the batch."),
        Mistake(lambda x, x_recon, importance: (importance * (x - x_recon) ** 2).sum(-1).mean(),
                "you averaged over the instances too: return one loss per instance, shape (K,)."),
    ),
)

MCC = Exercise(
    reference=mcc,
    cases=(("16 true and 40 learned directions in 8 dimensions", (_normal(16, 8, seed=1), _normal(40, 8, seed=2))),
           ("fewer learned than true directions", (_normal(6, 4, seed=3), _normal(3, 4, seed=4))),
           ("one learned direction best for several true ones", (np.eye(3), np.array([[1.0, 1.0, 1.0], [1.0, 0, 0],
                                                                                        [0, 0, -2.0]])))),
    mistakes=(
        Mistake(lambda t, u: np.abs(_unit_rows(t) @ _unit_rows(u).T).max(axis=1).mean(),
                "that is the MMCS: each true direction took its best learned one, repeats allowed; MCC "
                "matches them one to one (linear_sum_assignment)."),
        Mistake(lambda t, u: (c := np.abs(_unit_rows(t) @ _unit_rows(u).T))[linear_sum_assignment(c, maximize=True)].mean(),
                "you averaged over the matched pairs only: divide by the number of true directions, "
                "so an unmatched one counts 0."),
        Mistake(lambda t, u: (c := np.abs(_unit_rows(t) @ _unit_rows(u).T))[linear_sum_assignment(c)].sum() / len(t),
                "linear_sum_assignment minimises by default: pass maximize=True."),
        Mistake(lambda t, u: (c := _unit_rows(t) @ _unit_rows(u).T)[linear_sum_assignment(c, maximize=True)].sum() / len(t),
                "take |cos| before matching: a direction and its negative are the same feature."),
    ),
)

TOPK = Exercise(
    reference=topk,
    cases=(("5 samples, 8 latents, k = 3", (_z, 3)),
           ("every pre-activation negative, k = 2", (-_z.abs(), 2)),
           ("k = 1 on one sample", (_z[:1], 1))),
    mistakes=(
        Mistake(lambda z, k: torch.zeros_like(z).scatter(-1, z.topk(k, dim=-1).indices, z.topk(k, dim=-1).values),
                "a kept value that is negative must become 0 too: pass the kept values through a ReLU."),
        Mistake(lambda z, k: torch.relu(z.topk(k, dim=-1).values),
                "this is (..., k): put the kept values back at their latents' places in a (..., h) tensor "
                "of zeros (scatter)."),
        Mistake(lambda z, k: torch.zeros_like(z).scatter(-1, (-z).topk(k, dim=-1).indices,
                                                          torch.relu(-(-z).topk(k, dim=-1).values)),
                "you kept the k smallest values: topk returns the largest."),
    ),
)

DECODER_NORM_L1 = Exercise(
    reference=decoder_norm_l1_penalty,
    cases=(("the small example", (torch.tensor([[1.0, 0.0], [2.0, 3.0]]), torch.tensor([[3.0, 4.0], [0.0, 2.0]]))),
           ("20 samples, 6 latents, 4 dimensions", (torch.relu(_tensor(20, 6, seed=1)), _tensor(6, 4, seed=2))),
           ("negative latents", (-_tensor(3, 6, seed=3).abs(), _tensor(6, 4, seed=4)))),
    mistakes=(
        Mistake(lambda latents, directions: latents.abs().mean(),
                "that is the plain L1: weight each |latent| by the length of its decoder direction."),
        Mistake(lambda latents, directions: (latents.abs() * directions.norm(dim=0)).sum(-1).mean(),
                "the lengths are of the rows of decoder_directions (one per latent): norm(dim=-1), not dim=0."),
        Mistake(lambda latents, directions: (latents.abs() * directions.norm(dim=-1)).mean(),
                "sum over the latents, then average over samples: you averaged over both."),
        Mistake(lambda latents, directions: (latents * directions.norm(dim=-1)).sum(-1).mean(),
                "take |latent|: a negative latent costs as much as a positive one."),
    ),
)

_flipped_cases = (_flipped, -2 * _flipped)
BEST_COSINES = Exercise(
    reference=best_cosines,
    cases=(
        ("5 true and 12 learned directions in 4 dimensions", (_normal(5, 4, seed=1), _normal(12, 4, seed=2))),
        ("learned directions that point the opposite way", _flipped_cases),
        ("a learned direction of length 0", (_normal(4, 3, seed=4), _with_zero)),
    ),
    mistakes=(
        Mistake(lambda t, u: np.abs(_unit_rows(t) @ _unit_rows(u).T).max(axis=1),
                "a learned direction of length 0 gives 0/0 = NaN: score it 0 (it points nowhere)."),
        Mistake(lambda t, u: np.abs(t @ u.T).max(axis=1),
                "these are dot products, not cosines: divide every direction by its length first."),
        Mistake(lambda t, u: (_unit_rows(t) @ _unit_rows(u).T).max(axis=1),
                "take |cos|: a latent whose direction points the opposite way still finds the feature."),
        Mistake(lambda t, u: np.abs(_unit_rows(t) @ _unit_rows(u).T).max(axis=0),
                "you took each learned direction's best true direction (max over axis 0); the task "
                "asks for each true direction's best learned one, shape (n_true,)."),
    ),
)


def _auxk_case(shape, shift, seed):
    """(residual, pre-activations, latents from TopK(2), decoder directions): latents whose
    pre-activations `shift` pushes down are dead (TopK never picks them)."""
    *batch, n, h = shape
    pre = _tensor(*shape, seed=seed) + torch.tensor(shift)
    return _tensor(*batch, n, 4, seed=seed + 1), pre, TopK(2)(pre), _tensor(*batch, h, 4, seed=seed + 2)


def _auxk_with(dead_of=lambda latents, pre: (latents > 0).sum(dim=-2, keepdim=True) == 0, live_compete=False,
               relu=True, normalise=True, zero_if_none=True, per_instance=True):
    """The AuxK penalty with one step done differently (for the recorded mistakes)."""
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
        Mistake(_auxk_with(dead_of=lambda latents, pre: (latents > 0).sum(dim=tuple(range(latents.dim() - 1)),
                                                                           keepdim=True) == 0),
                "count a latent's firing per instance (over dim=-2, the samples): across all instances "
                "together, a latent dead in one instance but alive in another is not dead."),
        Mistake(_auxk_with(dead_of=lambda latents, pre: (pre > 0).sum(dim=-2, keepdim=True) == 0),
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
)


def _bools(*shape, p, seed):
    return np.random.default_rng(seed).random(shape) < p


_parent = _bools(400, 3, p=0.5, seed=1)
_child = _parent & _bools(400, 3, p=0.4, seed=2)
_fires = _parent & (_bools(400, 3, p=0.9, seed=3) & ~(_child & _bools(400, 3, p=0.6, seed=4)))
_never_alone = _fires & _child
ABSORPTION = Exercise(
    reference=absorption_score,
    cases=(("400 samples, 3 parents, some absorbed", (_fires, _parent, _child)),
           ("a latent that fires whenever its parent is active", (_parent, _parent, _child)),
           ("a latent that fires only when a child is active too", (_never_alone, _parent, _child)),
           ("parents that never appear with a child", (_fires, _parent, np.zeros_like(_child)))),
    mistakes=(
        Mistake(lambda f, p, c: 1 - ((f & p & ~c).sum(0) / (p & ~c).sum(0)) / ((f & p & c).sum(0) / (p & c).sum(0)),
                "the ratio is upside down: divide the recall with a child by the recall without one."),
        Mistake(lambda f, p, c: ((f & p & ~c).sum(0) / (p & ~c).sum(0)) - ((f & p & c).sum(0) / (p & c).sum(0)),
                "that is the difference of the recalls; the score is 1 minus their ratio."),
        Mistake(lambda f, p, c: 1 - ((f & p & c).sum(0) / (p & c).sum(0)) / ((f & p & ~c).sum(0) / (p & ~c).sum(0)),
                "where the latent never fires on the parent alone, the score is undefined: return NaN "
                "(np.where), not what dividing by 0 gives."),
        Mistake(lambda f, p, c: np.where((f & p & ~c).sum(0) > 0, 1 - ((f & p & c).sum(0) / np.maximum((p & c).sum(0), 1))
                                         / ((f & p & ~c).sum(0) / np.maximum((p & ~c).sum(0), 1)), np.nan),
                "where no sample has the parent with a child there is nothing to compare: return NaN, not 1."),
        Mistake(lambda f, p, c: 1 - ((f & c).sum(0) / c.sum(0)) / ((f & ~c).sum(0) / (~c).sum(0)),
                "recall counts the samples where the parent is active: restrict both groups to them."),
    ),
)


def best_f1(activations, labels):
    """One direction's best F1 over thresholds (positive where activation >= t), and that t."""
    f1, threshold = best_thresholds(np.asarray(activations)[:, None], np.asarray(labels)[:, None])
    return float(f1[0, 0]), float(threshold[0, 0])


def _best_f1_with(strict=False, ties=True, score="f1"):
    """A wrong best_f1: `strict` predicts activation > t, `ties=False` treats every sorted
    position as a threshold, `score` "accuracy" or "no factor 2" scores something else."""
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


_rng = np.random.default_rng(8)
_labels = _rng.random(1000) < 0.2
_scores = _rng.normal(size=1000) + 1.2 * _labels
_sparse = np.where(_rng.random(1000) < 0.85, 0.0, _rng.random(1000) * 3) + 2.0 * (_labels & (_rng.random(1000) < 0.5))
BEST_THRESHOLD = Exercise(
    reference=best_f1,
    cases=(("1,000 characters, a direction that leans towards the property", (_scores, _labels)),
           ("a TopK latent: 0 on most characters (ties)", (_sparse, _labels)),
           ("a direction that separates the property perfectly", (_scores, _scores > 1.0)),
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
)


def spliced_bits(model, module, tokens, replace):
    """The model's bits per character on `tokens` while `module`'s output is replace(output)."""
    with splice(module, replace):
        return bits_per_char(model, tokens)


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


def _spliced_with(remove=True, returns=True, bits=True):
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
    run=_spliced_run,
    outputs=("the spliced loss", "the model's loss afterwards, with nothing spliced in"),
)
