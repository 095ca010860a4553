"""Self-checks for the notebooks' exercises.

An exercise in a notebook is a stub the learner edits (it raises NotImplementedError until
then), a cell that calls `check`, and a hint and a worked solution folded away. `check` runs
the learner's function and the reference on the same cases, an edge case among them, and says
in plain words what is wrong: where the answer matches a recorded common mistake, it names it.
It returns the function the later cells use: the learner's once it passes, the reference until
then, so a skipped exercise never breaks the notebook.

The engine is in `engine`; `cases` builds the inputs that several notebooks' cases share. Each
notebook's exercises are in the module named after it (notebook 01_mixing_sources:
`sae_helpers.exercises.mixing_sources`), which imports only what that notebook teaches, with
its recorded mistakes as small named functions. Most references are the package's own
functions; the few defined there (a training step, a gradient, a matching rule as a function,
a TopK SAE as a module, a probe trained by Adam, a step with AuxK) exist only as answers to an
exercise, each checked against the package in the tests.

A check compares values, types and dtypes, and that the learner's function left its inputs as
they were. An exercise's `run` can train a few steps with the learner's code, read what the
notebook reads next, and raise `CheckFailed` to say why a result cannot be used; `next_use`
does to a right result what the notebook does next with it.
"""

from sae_helpers.exercises.engine import CheckFailed, Exercise, Mistake, NextUse, check, unchanged

__all__ = ["CheckFailed", "Exercise", "Mistake", "NextUse", "check", "unchanged"]
