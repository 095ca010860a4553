"""Input checks: every public function of the package passes its arrays and settings through
these, so that bad input fails at once with a message that names the problem.

`check_matrix` is the one gate for arrays (data, sources, activations, directions).
"""

import numbers

import numpy as np
import torch


def check_positive_int(value, name):
    """`value` as an int if it is a positive integer (a numpy integer too, a bool not); else ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}")
    return int(value)


def as_numpy(x):
    """A tensor on any device, or an array, as a float numpy array."""
    return x.detach().cpu().numpy().astype(float) if isinstance(x, torch.Tensor) else np.asarray(x, dtype=float)


def check_matrix(x, name="data", n_cols=None):
    """Return `x` unchanged if it is a non-empty, finite, real 2-D array or tensor; else ValueError.

    `n_cols`, if given, is the number of columns `x` must have.
    """
    if not isinstance(x, (np.ndarray, torch.Tensor)):
        x = np.asarray(x, dtype=float)
    real = x.dtype.kind in "biuf" if isinstance(x, np.ndarray) else not x.is_complex()
    if not real:
        raise ValueError(f"{name} must hold real numbers; got dtype {x.dtype}")
    shape = tuple(x.shape)
    if len(shape) != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, d); got shape {shape}")
    if 0 in shape:
        raise ValueError(f"{name} is empty: shape {shape}")
    if n_cols is not None and shape[1] != n_cols:
        raise ValueError(f"{name} must have {n_cols} columns; got shape {shape}")
    finite = torch.isfinite(x).all() if isinstance(x, torch.Tensor) else np.isfinite(x).all()
    if not finite:
        raise ValueError(f"{name} contains NaN or inf")
    return x
