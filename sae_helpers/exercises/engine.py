"""The engine behind every exercise: `Exercise` (a reference, its cases, the recorded
mistakes), `Mistake`, and `check`, which runs a learner's function against the reference and
says in plain words what is wrong."""

import copy
import itertools
from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import numpy as np
import torch


class Mistake(NamedTuple):
    function: Callable  # a wrong solution a learner is likely to write
    message: str  # what it gets wrong, in plain words


class CheckFailed(Exception):
    """Raised by an exercise's `run` where what the learner's function did cannot be compared,
    or used as the notebook uses it next; its message says why, in the learner's words, and
    reads after the function's name ("returned ...")."""


def unchanged(before, after, what):
    """Raise CheckFailed if a run's own tensor `after`, a copy of which is `before`, was changed
    in place by the learner's function (the engine compares only the arguments it passes)."""
    if not torch.equal(before, after):
        raise CheckFailed(f"changes {what} in place (as x -= ... or x[...] = ... do), and the notebook uses "
                          f"it again: work on a copy (x = x - ...)")


class NextUse(NamedTuple):
    code: str  # what the notebook does next with the result, as it is written there
    run: Callable  # run(result) does the same to the learner's result, and raises where the notebook would


def _call(function, *arguments):
    return function(*arguments)


@dataclass(frozen=True)
class Exercise:
    reference: Callable  # the right answer
    cases: tuple  # ((label, arguments), ...), each the arguments of one run, made by hand
    mistakes: tuple = field(default=())  # Mistake, ...
    run: Callable = _call  # run(function, *arguments) -> what is compared; by default one call
    outputs: tuple = ()  # names of what run returns, for messages (default: "the result", "output k")
    random_cases: tuple = ()  # more cases like `cases`, drawn at random (cases.random_cases), run after them
    next_use: NextUse = None  # tried on a result with the right values, where the notebook could trip on its type


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


def _kind(value):
    return "a numpy array" if isinstance(value, np.ndarray) else f"a {type(value).__name__}"


def _output_name(k, n_outputs, names):
    return names[k] if names else f"output {k}" if n_outputs > 1 else "the result"


def _type_difference(expected, got, names=()):
    """None when every output that the reference returns as a tensor is a tensor of its dtype in
    `got` too (the notebook goes on computing with it), and every output it returns as integers
    (indices) is integers in `got`, else what differs."""
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
        if isinstance(e, np.ndarray) and np.issubdtype(e.dtype, np.integer) and np.issubdtype(
                np.asarray(g.detach().cpu() if isinstance(g, torch.Tensor) else g).dtype, np.floating):
            return (f"{which} holds floats where the reference's holds integers: these are indices, which "
                    f"the notebook indexes with (argmax gives integers; .astype(float) makes floats)")
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


def _reordered(expected, got, names=()):
    """Where `got` has `expected`'s outputs in another order: what to return instead, else None
    (tried for 2 or 3 outputs, what a function returns; a run's many outputs are in its own order)."""
    if not 2 <= len(expected) <= 3 or not isinstance(got, (tuple, list)) or len(got) != len(expected):
        return None
    for order in itertools.permutations(range(len(got))):
        try:
            if order != tuple(range(len(got))) and _difference(expected, tuple(got[i] for i in order)) is None:
                listed = ", ".join(_output_name(k, len(expected), names) for k in range(len(expected)))
                return f"the right outputs, in another order: return them in the order ({listed})"
        except (TypeError, ValueError):
            return None
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
    for label, arguments in exercise.cases + exercise.random_cases:
        returned = exercise.run(reference, *_copy(arguments))
        expected = _as_outputs(returned)
        given = _copy(arguments)
        try:
            got = exercise.run(attempt, *given)
        except NotImplementedError:
            print(f"{name}: not solved yet. {fallback}")
            return reference
        except CheckFailed as failure:
            print(f"✘ {name} {failure} (the case '{label}').\n{fallback}")
            return reference
        except Exception as error:
            print(f"✘ {name} raised {type(error).__name__} on the case '{label}': {error}\n{fallback}")
            return reference
        wrong_value = _difference(expected, got, exercise.outputs)
        wrong_value = wrong_value and (_reordered(expected, got, exercise.outputs) or wrong_value)
        problem = wrong_value or _type_difference(returned, got, exercise.outputs)
        changed = _changed_input(arguments, given)
        if problem is None and changed is not None:
            print(f"✘ {name} gives the right answer on the case '{label}' but changes its input {changed + 1} "
                  f"in place (as x -= ... or x[...] = ... do), and the notebook uses that input again: "
                  f"work on a copy (x = x - ...).\n{fallback}")
            return reference
        if problem is None and exercise.next_use is not None:
            try:
                exercise.next_use.run(got)
            except Exception as error:
                print(f"✘ {name} gives the right values on the case '{label}', but the notebook goes on with "
                      f"`{exercise.next_use.code}`, which fails on what it returned, a {type(got).__name__} "
                      f"({type(error).__name__}: {error}): return {_kind(returned)}, as the reference "
                      f"does.\n{fallback}")
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
    drawn = f", and on {len(exercise.random_cases)} drawn at random" if exercise.random_cases else ""
    print(f"✔ {name} is right on all {len(exercise.cases)} cases: "
          f"{'; '.join(label for label, _ in exercise.cases)}{drawn}.")
    return attempt
