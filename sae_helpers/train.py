"""One training function, the lecture's loop: forward, loss, backward, step, log.

The loss is reconstruction MSE plus the model's penalty, optimised with Adam. Penalties:
"l1" (`model.sparsity_loss`, the lecture's), "decorrelation" (`model.decorrelation_loss`),
"decoder_norm_l1" (`SAEBatch.decoder_norm_l1_loss`) and "none" (for TopK SAEs). The default is the
lecture's full-batch training (every epoch is one step on all samples); `batch_size` switches
to shuffled minibatches, whose order `seed` fixes.

The same loop trains a `SparseAutoencoder` or an `SAEBatch`: for a batch, the MSE and the
penalty are vectors with one entry per instance, and their sum is minimised, which gives every
instance the gradient it would get alone. Losses are logged on the device and checked for
divergence every `CHECK_EVERY` epochs, so the loop never waits for the device in between.

With the L1 penalty or none (the lecture's SAE, ReLU and TopK SAEs) the loop skips autograd:
`gradients_by_hand` computes the loss and its gradients with the chain rule written out, which
is what `loss.backward()` computes for these models (tests check both agree), without building a
graph every step. On the lecture toy that makes training about 1.5x faster. The other penalties
go through autograd.
"""

import math
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import trange

from sae_helpers.data import check_matrix
from sae_helpers.model import SAEBatch

PENALTIES = ("l1", "decorrelation", "decoder_norm_l1", "none")
BY_HAND = ("l1", "none")  # the penalties `gradients_by_hand` covers
CHECK_EVERY = 50  # epochs between divergence checks (and progress-bar loss updates)


@dataclass(frozen=True)
class History:
    """Per-epoch losses of one training run, means over the epoch's samples.

    Shapes are (n_epochs,) for one SAE and (n_epochs, n_instances) for an SAEBatch.
    """

    mse: np.ndarray  # reconstruction loss, mean squared error
    penalty: np.ndarray  # the weighted penalty that was added to the MSE
    penalty_name: str  # one of PENALTIES

    @property
    def total(self):
        """The loss that was minimised: mse + penalty."""
        return self.mse + self.penalty

    def instance(self, i):
        """The History of instance i of an SAEBatch run: arrays of shape (n_epochs,)."""
        return History(mse=self.mse[:, i], penalty=self.penalty[:, i], penalty_name=self.penalty_name)


def pick_device(device="auto"):
    """"auto": CUDA if available, then Apple's MPS, then the CPU; anything else as given."""
    if device != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _penalty_fn(model, penalty):
    if penalty not in PENALTIES:
        raise ValueError(f"unknown penalty {penalty!r}; choose one of {PENALTIES}")
    if penalty == "none":  # for TopK, whose k sets the sparsity
        return lambda latents: latents.new_zeros(latents.shape[:-2])
    method = {"l1": "sparsity_loss", "decorrelation": "decorrelation_loss",
              "decoder_norm_l1": "decoder_norm_l1_loss"}[penalty]
    if not hasattr(model, method):
        raise ValueError(f"penalty {penalty!r} needs an SAEBatch; {type(model).__name__} has no {method}")
    return getattr(model, method)


def _affine(bias, a, b, out):
    """bias + a @ b in one kernel, into `out`, for matrices or stacks of them (a may be one
    matrix for all)."""
    if a.ndim == b.ndim == 2:
        return torch.addmm(bias, a, b, out=out)
    return torch.baddbmm(bias, a.expand(len(b), -1, -1) if a.ndim == 2 else a, b, out=out)


def gradients_by_hand(model, x, penalty="l1", buffers=None):
    """MSE and penalty of `model` on `x`, and their gradients, by the chain rule written out.

    For an SAE with r = a W_dec + b_dec, a = act(z), z = x W_enc + b_enc and the L1 penalty:
        d(mse)/dr = 2 (r - x) / (n d)       d(L1)/da = weight sign(a) / (n h)
        dW_dec = a^T dr,  db_dec = sum dr,  da = dr W_dec^T + d(L1)/da,
        dz = act'(z) da,  dW_enc = x^T dz,  db_enc = sum dz
    act' is GELU's derivative, or for ReLU and TopK 1 where a > 0 and 0 elsewhere (a TopK
    latent passes its gradient when it is kept and positive). `penalty` is "l1" or "none".
    Returns (mse, penalty, gradients): losses of shape () or (n_instances,), gradients in the
    order and shapes of `model.parameters()`.

    At these toys' sizes a step costs as much in memory traffic as in arithmetic, so the code
    works in place, keeps the reconstruction transposed, (d, n), where the matrix products are
    faster, and writes its large temporaries into `buffers` (a dict the training loop keeps
    between steps). Fresh ones are handed back to the system after each step and faulted in again
    on the next, which took half the time of 16 lecture-toy SAEs trained as one batch.
    """
    if penalty not in BY_HAND:
        raise ValueError(f"gradients by hand cover the penalties {BY_HAND}; got {penalty!r}")
    buffers = {} if buffers is None else buffers

    def buffer(name, *shape):
        if (name, shape) not in buffers:
            buffers[name, shape] = x.new_empty(shape)
        return buffers[name, shape]

    n, d = x.shape
    batched = isinstance(model, SAEBatch)
    if batched:  # parameters laid out (K, d, h), (K, h), (K, h, d), (K, d)
        W_enc, b_enc, W_dec, b_dec = model.W_enc, model.b_enc, model.W_dec, model.b_dec
        activation, mask = model.activation, model.mask[:, None] if model.padded else None
        weight = (model.sparsity_weight / (n * model.widths))[:, None, None]
    else:  # nn.Linear stores the transposes: the same formulas, on views
        W_enc, b_enc = model.encoder.weight.T, model.encoder.bias
        W_dec, b_dec = model.decoder.weight.T, model.decoder.bias
        activation, mask, weight = "gelu", None, model.sparsity_weight / (n * model.hidden_dim)
    leading = W_enc.shape[:-2]  # (K,) for a batch, () for one SAE
    h = W_enc.shape[-1]
    with torch.no_grad():
        if activation == "gelu":  # GELU's derivative needs the pre-activations
            z = _affine(b_enc[..., None, :], x, W_enc, out=buffer("z", *leading, n, h))
            a = torch.ops.aten.gelu.out(z, out=buffer("a", *leading, n, h))
            if mask is not None:
                a.mul_(mask)
        else:
            a = model.encode(x)
        diff_t = _affine(b_dec[..., None], W_dec.mT.contiguous(), a.mT,
                         out=buffer("diff_t", *leading, d, n)).sub_(x.T)  # (r - x)^T
        mse = diff_t.square().sum(dim=(-2, -1)) / (n * d)
        d_r_t = diff_t.mul_(2 / (n * d))
        d_a = buffer("d_a", *leading, n, h)
        if penalty == "l1":
            loss_penalty = torch.abs(a, out=d_a).sum(dim=(-2, -1), keepdim=True).mul_(weight)[..., 0, 0]
            torch.sign(a, out=d_a).mul_(weight)
            (d_a.addmm_ if d_a.ndim == 2 else d_a.baddbmm_)(d_r_t.mT, W_dec.mT)
        else:
            loss_penalty = torch.zeros_like(mse)
            torch.matmul(d_r_t.mT, W_dec.mT, out=d_a)
        # d_z overwrites d_a, with the kernels autograd uses for GELU and ReLU
        if activation == "gelu":
            if mask is not None:
                d_a.mul_(mask)
            d_z = torch.ops.aten.gelu_backward.grad_input(d_a, z, grad_input=d_a)
        else:  # d_a where a > 0, else 0
            d_z = torch.ops.aten.threshold_backward.grad_input(d_a, a, 0, grad_input=d_a)
        d_W_enc, d_W_dec = x.T @ d_z, (d_r_t @ a).mT
        if not batched:
            d_W_enc, d_W_dec = d_W_enc.T, d_W_dec.T
        # fused Adam reads a gradient's memory as if laid out like its parameter: make it so
        gradients = [g.contiguous() for g in [d_W_enc, d_z.sum(dim=-2), d_W_dec, d_r_t.sum(dim=-1)]]
    return mse, loss_penalty, gradients


def _check_finite(log, first_epoch, lr):
    """Raise if any epoch of log[first_epoch:] has a non-finite loss."""
    bad = ~torch.isfinite(log[first_epoch:]).reshape(len(log) - first_epoch, -1).all(dim=1)
    if bad.any():
        epoch = first_epoch + int(bad.nonzero()[0]) + 1
        raise FloatingPointError(
            f"training diverged at epoch {epoch}: the loss is no longer finite; "
            f"try a smaller lr (now {lr}) or sparsity_weight"
        )


def train_sae(model, data, n_epochs=600, lr=7e-4, penalty="l1", batch_size=None, seed=0,
              device=None, progress=True):
    """Train `model` (SparseAutoencoder or SAEBatch) on `data` (n_samples, input_dim) in place.

    `device`: None keeps the model where it is; "auto" picks one (see `pick_device`).
    Returns a History. Raises ValueError for bad data or settings, FloatingPointError if the
    loss diverges.
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

    if device is not None:
        model.to(pick_device(device))
    parameters = list(model.parameters())
    device = parameters[0].device
    x = torch.as_tensor(data, dtype=torch.float32, device=device)
    # fused: one kernel updates all parameters (same maths as the default Adam)
    optimizer = torch.optim.Adam(parameters, lr=lr, fused=device.type in ("cpu", "cuda"))
    by_hand, buffers = penalty in BY_HAND, {}
    shuffle = torch.Generator().manual_seed(seed)
    n_batches = math.ceil(n_samples / batch_size)
    log = None  # (n_epochs, 2, *loss shape): mse and penalty, filled on the device

    bar = trange(n_epochs, desc=f"training ({penalty})", disable=not progress)
    for epoch in bar:
        # full batch keeps the lecture's sample order; minibatches are reshuffled every epoch
        order = torch.randperm(n_samples, generator=shuffle).to(device) if n_batches > 1 else None
        for start in range(0, n_samples, batch_size):
            batch = x if order is None else x[order[start:start + batch_size]]
            if by_hand:
                mse, pen, gradients = gradients_by_hand(model, batch, penalty, buffers)
                for parameter, gradient in zip(parameters, gradients):
                    parameter.grad = gradient
            else:
                x_recon, latents = model(batch)
                mse = ((x_recon - batch) ** 2).mean(dim=(-2, -1))  # () or (n_instances,)
                pen = penalty_fn(latents)
                optimizer.zero_grad()
                (mse + pen).sum().backward()
            optimizer.step()

            losses = torch.stack([mse, pen]).detach()
            if log is None:
                log = torch.zeros((n_epochs, *losses.shape), device=device)
            log[epoch].add_(losses, alpha=len(batch) / n_samples)
        if (epoch + 1) % CHECK_EVERY == 0 or epoch + 1 == n_epochs:
            _check_finite(log[: epoch + 1], epoch - epoch % CHECK_EVERY, lr)
            if progress:
                mse_now, pen_now = log[epoch].reshape(2, -1).mean(dim=1).tolist()
                bar.set_postfix(mse=f"{mse_now:.4f}", penalty=f"{pen_now:.4f}")
    log = log.cpu().numpy().astype(np.float64)
    return History(mse=log[:, 0], penalty=log[:, 1], penalty_name=penalty)
