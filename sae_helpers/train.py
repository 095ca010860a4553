"""One training function, the lecture's loop: forward, loss, backward, step, log.

The loss is the reconstruction MSE plus the model's own penalty (`PENALTIES`, or a function of
yours with the same signature) plus its AuxK loss (0 unless its recipe has one), minimised with
Adam through autograd. The model's recipe also has the loop set its decoder bias from the data
before the first step, and keep its decoder directions at unit norm around each step. So
`train_sae` trains exactly the model it is given: a subclass with another activation or an overridden penalty,
or a frozen parameter, behaves as in any PyTorch loop. The default is the lecture's full-batch training (every epoch is one step
on all samples); `batch_size` switches to shuffled minibatches, whose order `seed` fixes.

The same loop trains a `SparseAutoencoder` or an `SAEBatch`: for a batch, the MSE and the
penalty are vectors with one entry per instance, and their sum is minimised, which gives every
instance the gradient it would get alone. Losses are logged on the device and checked for
divergence every `CHECK_EVERY` epochs, so the loop never waits for the device in between (AuxK
aside: it asks each batch whether any latent is dead, and skips its work if none is).
"""

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from sae_helpers.checks import check_matrix, check_positive_int
from sae_helpers.progress import progress_bar


@dataclass(frozen=True)
class Penalty:
    """A penalty `train_sae` knows by name: `loss(model, x, output)` is the model's weighted
    penalty of batch x, whose forward pass gave `output`, () or (n_instances,); `label` names it
    in figures; `min_batch` is the fewest samples a batch needs for it to be defined."""

    loss: Callable
    label: str
    min_batch: int = 1

    def __call__(self, model, x, output):
        return self.loss(model, x, output)


PENALTIES = {
    "l1": Penalty(lambda model, x, out: model.sparsity_loss(out.latents), "L1 penalty"),
    "decorrelation": Penalty(lambda model, x, out: model.decorrelation_loss(out.latents), "Decorrelation penalty",
                             min_batch=2),  # a covariance over the batch's samples
    "decoder_norm_l1": Penalty(lambda model, x, out: model.decoder_norm_l1_loss(out.latents), "L1 x decoder norm"),
    "l0": Penalty(lambda model, x, out: model.l0_loss(x), "L0 penalty"),  # JumpReLU: the number of active latents
    "none": Penalty(lambda model, x, out: out.latents.new_zeros(out.latents.shape[:-2]),  # TopK: k sets the sparsity
                    "No penalty"),
}
CHECK_EVERY = 50  # epochs between divergence checks (and progress-bar loss updates)
MAX_GROWTH = 1e4  # a loss this many times its first epoch's has diverged, even if still finite


@dataclass(frozen=True)
class History:
    """Per-epoch losses of one training run: the mean of the epoch's batch losses weighted by
    batch size (with full batches, the loss at the epoch's one step).

    Shapes are (n_epochs,) for one SAE and (n_epochs, n_instances) for an SAEBatch.
    """

    mse: np.ndarray  # reconstruction loss, mean squared error
    penalty_loss: np.ndarray  # what was added to the MSE: the weighted penalty (and AuxK loss)
    penalty: str  # its name: a key of PENALTIES, or the name of the function that was given

    @property
    def total(self):
        """The loss that was minimised: mse + penalty_loss."""
        return self.mse + self.penalty_loss

    def instance(self, i):
        """The History of instance i of an SAEBatch run: arrays of shape (n_epochs,)."""
        return History(mse=self.mse[:, i], penalty_loss=self.penalty_loss[:, i], penalty=self.penalty)


def _check_fraction(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a fraction of the training steps, from 0 to 1; got {value!r}")
    return value


def ramp(step, n_steps, warmup=0.0, decay=0.0):
    """The factor at `step` (0-based) of `n_steps`: rising linearly to 1 over the first
    `warmup` of the steps, falling linearly to 0 over the last `decay` of them, else 1."""
    rise = min(1.0, (step + 1) / (warmup * n_steps)) if warmup > 0 else 1.0
    fall = min(1.0, (n_steps - step) / (decay * n_steps)) if decay > 0 else 1.0
    return rise * fall


def pick_device(device="auto"):
    """"auto": CUDA if available, then Apple's MPS, then the CPU; anything else as given."""
    if device != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _check_diverged(log, first_epoch, lr):
    """Raise if an epoch of log[first_epoch:] has a total loss that is not finite, or that is
    MAX_GROWTH times the first epoch's. log: (n_epochs, 2, *loss shape)."""
    total = log.sum(dim=1).reshape(len(log), -1)  # (n_epochs, n_instances or 1)
    exploded = total[first_epoch:] > MAX_GROWTH * total[0]
    bad = (~torch.isfinite(total[first_epoch:]) | exploded).any(dim=1)
    if bad.any():
        epoch = first_epoch + int(bad.nonzero()[0])
        worst = total[epoch].max()
        state = (f"it grew from {float(total[0].max()):.3g} to {float(worst):.3g}"
                 if torch.isfinite(total[epoch]).all() else "it is no longer finite")
        raise FloatingPointError(f"training diverged at epoch {epoch + 1}: {state}; "
                                 f"try a smaller lr (now {lr}) or sparsity_weight")


def train_sae(model, data, n_epochs=600, lr=7e-4, penalty="l1", batch_size=None, seed=0,
              progress=True, lr_warmup=0.0, lr_decay=0.0, penalty_warmup=0.0):
    """Train `model` (SparseAutoencoder or SAEBatch) on `data` (n_samples, input_dim) in place.

    `penalty`: a key of PENALTIES, or a function penalty(model, batch, output) -> () or
    (n_instances,) tensor, where output is the model's forward pass on the batch. Training runs
    where the model is (see `pick_device`), float32 or float64; the data are converted to its
    device and dtype.
    Each call starts a fresh Adam optimiser: calling it again continues from the trained
    weights, with Adam's moment estimates reset. `lr_warmup`, `lr_decay` and `penalty_warmup`
    are fractions of all steps (see `ramp`): the learning rate rises from 0 over the first
    `lr_warmup` of them and falls to 0 over the last `lr_decay`; the penalty's weight rises
    from 0 over the first `penalty_warmup` (Anthropic's April 2024 update: 0, 0.2 and 0.05).
    Returns a History. Raises ValueError for bad
    data or settings, FloatingPointError if the loss diverges.
    """
    if not callable(penalty) and not (isinstance(penalty, str) and penalty in PENALTIES):
        raise ValueError(f"unknown penalty {penalty!r}; choose one of {list(PENALTIES)} or give a function")
    penalty_of = penalty if callable(penalty) else PENALTIES[penalty]
    name = getattr(penalty, "__name__", getattr(penalty, "label", repr(penalty))) if callable(penalty) else penalty
    min_batch = getattr(penalty_of, "min_batch", 1)
    data = check_matrix(data, "data", n_cols=model.input_dim)
    n_epochs = check_positive_int(n_epochs, "n_epochs")
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive number; got {lr!r}")
    n_samples = len(data)
    batch_size = n_samples if batch_size is None else check_positive_int(batch_size, "batch_size")
    schedule = {name: _check_fraction(value, name) for name, value in
                [("lr_warmup", lr_warmup), ("lr_decay", lr_decay), ("penalty_warmup", penalty_warmup)]}
    if min(batch_size, n_samples) < min_batch:
        raise ValueError(f"penalty {name!r} needs batches of at least {min_batch} samples")

    parameters = list(model.parameters())
    device, dtype = parameters[0].device, parameters[0].dtype
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"train_sae trains float32 or float64 models; this one is {dtype} (in half "
                         f"precision Adam's eps, 1e-8, rounds to 0): train in float32, then convert")
    x = torch.as_tensor(data, dtype=dtype, device=device)
    if not torch.isfinite(x).all():
        raise ValueError(f"data overflows {dtype}: the largest |value| is {float(np.abs(data).max()):.3g}")
    model.initialise_from_data(x)
    optimizer = torch.optim.Adam(parameters, lr=lr)
    shuffle = torch.Generator().manual_seed(seed)
    n_batches = math.ceil(n_samples / batch_size)
    n_steps, step = n_epochs * n_batches, 0
    log = None  # (n_epochs, 2, *loss shape): mse and penalty, filled on the device

    bar = progress_bar(range(n_epochs), f"training ({name})", "epochs", disable=not progress)
    for epoch in bar:
        # full batch keeps the lecture's sample order; minibatches are reshuffled every epoch
        order = torch.randperm(n_samples, generator=shuffle).to(device) if n_batches > 1 else None
        for start in range(0, n_samples, batch_size):
            batch = x if order is None else x[order[start:start + batch_size]]
            output = model(batch)
            mse = ((output.x_recon - batch) ** 2).mean(dim=(-2, -1))  # () or (n_instances,)
            penalty_loss = penalty_of(model, batch, output)
            if schedule["penalty_warmup"]:
                penalty_loss = penalty_loss * ramp(step, n_steps, schedule["penalty_warmup"])
            penalty_loss = penalty_loss + model.auxk_loss(batch, output)
            optimizer.zero_grad()
            (mse + penalty_loss).sum().backward()
            model.remove_parallel_gradient()
            if schedule["lr_warmup"] or schedule["lr_decay"]:
                optimizer.param_groups[0]["lr"] = lr * ramp(step, n_steps, schedule["lr_warmup"], schedule["lr_decay"])
            optimizer.step()
            model.normalise_decoder()
            step += 1

            losses = torch.stack([mse, penalty_loss]).detach()
            if log is None:
                log = torch.zeros((n_epochs, *losses.shape), dtype=dtype, device=device)
            log[epoch].add_(losses, alpha=len(batch) / n_samples)
        if (epoch + 1) % CHECK_EVERY == 0 or epoch + 1 == n_epochs:
            _check_diverged(log[: epoch + 1], epoch - epoch % CHECK_EVERY, lr)
            if progress:
                mse_now, penalty_now = log[epoch].reshape(2, -1).mean(dim=1).tolist()
                bar.set_postfix(mse=f"{mse_now:.4f}", penalty=f"{penalty_now:.4f}")
    log = log.cpu().numpy().astype(np.float64)
    return History(mse=log[:, 0], penalty_loss=log[:, 1], penalty=name)
