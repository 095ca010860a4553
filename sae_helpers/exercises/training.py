"""Notebook 03's exercises: one step of the training loop, and the decoder's gradient."""

import numpy as np
import torch
import torch.nn.functional as F

from sae_helpers.data import make_lecture_data
from sae_helpers.exercises.cases import as_tensor, random_cases, tensor
from sae_helpers.exercises.engine import CheckFailed, Exercise, Mistake
from sae_helpers.model import SparseAutoencoder, l1_penalty


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
        raise CheckFailed("returned the loss as a tensor; the notebook collects the losses as numbers (and a "
                          "tensor that is not detached holds on to its graph): return loss.item()")
    losses = None if any(loss is None for loss in losses) else np.array([float(loss) for loss in losses])
    return torch.cat([p.detach().flatten() for p in model.parameters()]), losses


def _sae_gradient_case(seed):
    """(dL/dx_recon, latents) of a lecture SAE on 50 lecture samples, MSE loss."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = SparseAutoencoder(2, 6)
    x = torch.tensor(make_lecture_data(n_samples=50).data, dtype=torch.float32)
    with torch.no_grad():
        x_recon, latents = model(x)
    return 2 * (x_recon - x) / x.numel(), latents


def _random_training(rng):
    seed, n_steps, weight = int(rng.integers(0, 1000)), int(rng.integers(1, 5)), float(rng.uniform(0.05, 2))
    return f"seed {seed}, steps: {n_steps}, sparsity_weight {weight:.2f}", (seed, n_steps, weight)


def _random_gradient(rng):
    n, d, h = rng.integers(1, 20), rng.integers(1, 6), rng.integers(1, 12)
    return f"d_recon of shape ({n}, {d}), latents ({n}, {h})", (as_tensor(rng.normal(size=(n, d))),
                                                      as_tensor(rng.normal(size=(n, h))))


# --- the mistakes ----------------------------------------------------------------------------------

def _step_with(loss_of, zero_grad=True):
    """A training step like the reference's, with another loss_of(model, x) or no zero_grad:
    the shape of the mistakes below (with the lecture's loss and zero_grad, the reference)."""
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


def _mse_only(model, x):
    return F.mse_loss(model(x).x_recon, x)


def _summed_squares_loss(model, x):
    x_recon, latents = model(x)
    return ((x_recon - x) ** 2).sum() + model.sparsity_loss(latents)


def _unweighted_loss(model, x):
    x_recon, latents = model(x)
    return F.mse_loss(x_recon, x) + l1_penalty(latents)


def _fresh_optimiser_each_step(model, optimizer, x):
    """A new Adam (the notebook's lr) each step instead of the one given: its moments start again."""
    return training_step(model, torch.optim.Adam(model.parameters(), lr=optimizer.param_groups[0]["lr"]), x)


def _loss_after_the_step(model, optimizer, x):
    training_step(model, optimizer, x)
    with torch.no_grad():
        return _lecture_loss(model, x).item()


def _step_without_gradient(model, optimizer, x):
    """backward before zero_grad: Adam steps with no gradient (as when backward is left out)."""
    loss = _lecture_loss(model, x)
    loss.backward()
    optimizer.zero_grad()
    optimizer.step()
    return loss.item()


def _transposed_gradient(d_recon, latents):
    return latents.T @ d_recon


def _outer_product_of_sums(d_recon, latents):
    return torch.outer(d_recon.sum(dim=0), latents.sum(dim=0))


def _divided_by_n_again(d_recon, latents):
    return d_recon.T @ latents / len(latents)


TRAINING_STEP = Exercise(
    reference=training_step,
    run=_train_with,
    cases=(("one step, seed 0", (0, 1)), ("three steps, seed 0", (0, 3)), ("three steps, seed 1", (1, 3)),
           ("three steps, sparsity_weight 0.3", (1, 3, 0.3))),
    random_cases=random_cases(_random_training),
    outputs=("the model's parameters after the steps (flattened, encoder first)", "the loss your step returned"),
    mistakes=(
        Mistake(_step_with(_lecture_loss, zero_grad=False),
                "zero the gradients before backward (optimizer.zero_grad()): otherwise each step adds its "
                "gradient to the previous ones."),
        Mistake(_step_with(_mse_only), "the loss is the MSE plus the model's sparsity_loss; you left the penalty out."),
        Mistake(_step_with(_summed_squares_loss), "you summed the squared errors; the MSE averages them (F.mse_loss)."),
        Mistake(_step_without_gradient,
                "the parameters did not move: the optimiser stepped with no gradient. The order is "
                "optimizer.zero_grad(), loss.backward(), optimizer.step()."),
        Mistake(_step_with(_unweighted_loss),
                "the penalty is the model's sparsity_loss(latents), which multiplies the L1 penalty by "
                "model.sparsity_weight; you left the weight out."),
        Mistake(_fresh_optimiser_each_step,
                "use the optimizer you are given: a new Adam each step forgets its running averages of "
                "the gradients, and every step becomes Adam's first."),
        Mistake(_loss_after_the_step,
                "return the loss the step minimised, computed before optimizer.step(), not the loss after it."),
    ),
)

_GRADIENT_CASE = _sae_gradient_case(0)
DECODER_WEIGHT_GRADIENT = Exercise(
    reference=decoder_weight_gradient,
    cases=(("a lecture SAE with 6 latents", _GRADIENT_CASE),
           ("one sample", (_GRADIENT_CASE[0][:1], _GRADIENT_CASE[1][:1])),
           ("3 outputs, 4 latents", (tensor(5, 3, seed=1), tensor(5, 4, seed=2)))),
    random_cases=random_cases(_random_gradient),
    mistakes=(
        Mistake(_transposed_gradient,
                "this is (h, d): PyTorch stores the decoder's weight as (d, h), so use d_recon.T @ latents."),
        Mistake(_divided_by_n_again, "do not divide by n again: d_recon already carries the MSE's 1/(n d)."),
        Mistake(_outer_product_of_sums,
                "the gradient sums over samples of the products, Σₙ d_reconₙ latentsₙᵀ (d_recon.T @ latents), "
                "not the product of the sums."),
    ),
)
