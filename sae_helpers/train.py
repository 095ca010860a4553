"""One training function, the lecture's loop: forward, loss, backward, step, log.

The loss is reconstruction MSE plus the model's penalty ("l1": `model.sparsity_loss`, or
"decorrelation": `model.decorrelation_loss`), optimised with Adam. The default is the
lecture's full-batch training (every epoch is one step on all samples); `batch_size` switches
to shuffled minibatches, whose order `seed` fixes.
"""

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import trange

from sae_helpers.data import check_matrix

PENALTIES = ("l1", "decorrelation")


@dataclass(frozen=True)
class History:
    """Per-epoch losses of one training run (means over the epoch's batches)."""

    mse: np.ndarray  # (n_epochs,) reconstruction loss, mean squared error
    penalty: np.ndarray  # (n_epochs,) the weighted penalty that was added to the MSE
    penalty_name: str  # "l1" or "decorrelation"

    @property
    def total(self):
        """(n_epochs,) the loss that was minimised: mse + penalty."""
        return self.mse + self.penalty


def _penalty_fn(model, penalty):
    if penalty == "l1":
        return model.sparsity_loss
    if penalty == "decorrelation":
        return model.decorrelation_loss
    raise ValueError(f"unknown penalty {penalty!r}; choose one of {PENALTIES}")


def train_sae(model, data, n_epochs=600, lr=7e-4, penalty="l1", batch_size=None, seed=0,
              progress=True):
    """Train `model` on `data` (n_samples, input_dim) in place; return its History.

    Raises ValueError for bad data or settings, FloatingPointError if the loss diverges.
    """
    penalty_fn = _penalty_fn(model, penalty)
    data = check_matrix(data, "data", n_cols=model.input_dim)
    if not isinstance(n_epochs, int) or n_epochs < 1:
        raise ValueError(f"n_epochs must be a positive integer; got {n_epochs!r}")
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive number; got {lr!r}")
    n_samples = len(data)
    if batch_size is None:
        batch_size = n_samples
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer or None; got {batch_size!r}")
    if penalty == "decorrelation" and min(batch_size, n_samples) < 2:
        raise ValueError("the decorrelation penalty needs batches of at least 2 samples")

    device = next(model.parameters()).device
    x = torch.as_tensor(data, dtype=torch.float32, device=device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    shuffle = torch.Generator().manual_seed(seed)
    mse_log, penalty_log = np.zeros(n_epochs), np.zeros(n_epochs)

    bar = trange(n_epochs, desc=f"training ({penalty})", disable=not progress)
    for epoch in bar:
        # full batch keeps the lecture's sample order; minibatches are reshuffled every epoch
        order = torch.randperm(n_samples, generator=shuffle) if batch_size < n_samples else None
        for start in range(0, n_samples, batch_size):
            batch = x if order is None else x[order[start:start + batch_size].to(device)]
            x_recon, latents = model(batch)
            mse = F.mse_loss(x_recon, batch)
            pen = penalty_fn(latents)
            loss = mse + pen
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"training diverged at epoch {epoch + 1}: loss is {loss.item()}; "
                    f"try a smaller lr (now {lr}) or sparsity_weight "
                    f"(now {model.sparsity_weight})"
                )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            share = len(batch) / n_samples
            mse_log[epoch] += mse.item() * share
            penalty_log[epoch] += pen.item() * share
        bar.set_postfix(mse=f"{mse_log[epoch]:.4f}", penalty=f"{penalty_log[epoch]:.4f}",
                        refresh=False)
    return History(mse=mse_log, penalty=penalty_log, penalty_name=penalty)
