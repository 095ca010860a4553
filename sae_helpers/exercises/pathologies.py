"""Notebook 09's exercises: the AuxK penalty, a training step with it, and the absorption
score."""

from dataclasses import replace

import numpy as np
import torch

from sae_helpers.data import make_sparse_sources
from sae_helpers.exercises.cases import NO_ZERO_GRAD, indexed_by_mask, random_cases, tensor
from sae_helpers.exercises.engine import CheckFailed, Exercise, Mistake, unchanged
from sae_helpers.metrics import absorption_score
from sae_helpers.model import LECTURE, SAEBatch, TopK, auxk_penalty


def auxk_training_step(model, optimizer, x):
    """One step of `train_sae`'s loop for a TopK SAE (or SAEBatch) whose recipe adds AuxK and
    nothing else: the MSE plus the model's AuxK loss, summed over instances. Returns that loss
    per instance, detached: () or (K,)."""
    output = model(x)
    loss = ((output.x_recon - x) ** 2).mean(dim=(-2, -1)) + model.auxk_loss(x, output)
    optimizer.zero_grad()
    loss.sum().backward()
    optimizer.step()
    return loss.detach()


def _auxk_case(shape, shift, seed):
    """(residual, pre-activations, latents from TopK(2), decoder directions): latents whose
    pre-activations `shift` pushes down are dead (TopK never picks them)."""
    *batch, n, h = shape
    pre = tensor(*shape, seed=seed) + torch.tensor(shift)
    return tensor(*batch, n, 4, seed=seed + 1), pre, TopK(2)(pre), tensor(*batch, h, 4, seed=seed + 2)


def _auxk_train_with(step, seed, n_steps, n_instances=2, k_aux=4):
    """Run `step(model, optimizer, x)` n_steps times on an SAEBatch of TopK(2) SAEs (8 dimensions,
    16 latents, seeds seed, seed + 1, ...; recipe: the lecture's with AuxK, weight 1/32) whose
    first 8 latents start with their encoder bias lowered by 2, so that some are dead in the
    batch of 64 sparse samples; Adam, lr 0.01: (its parameters afterwards, the losses the step
    returned, stacked)."""
    recipe = replace(LECTURE, auxk_weight=1 / 32, k_aux=k_aux)
    model = SAEBatch(8, 16, seeds=range(seed, seed + n_instances), activation=TopK(2), recipe=recipe)
    with torch.no_grad():
        model.b_enc[:, :8] -= 2
    x = torch.tensor(make_sparse_sources(n_sources=12, d=8, p=0.2, n_samples=64, seed=seed).data, dtype=torch.float32)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    kept = x.clone()
    losses = [step(model, optimizer, x) for _ in range(n_steps)]
    unchanged(kept, x, "the batch x")
    if any(loss is None for loss in losses):
        return (*model.parameters(), None)
    if any(isinstance(loss, torch.Tensor) and loss.requires_grad for loss in losses):
        raise CheckFailed("returned the loss with its graph attached: return loss.detach(), so that a "
                          "list of losses does not keep every step's graph in memory")
    return (*(p.detach() for p in model.parameters()), torch.stack([torch.as_tensor(loss) for loss in losses]))


def _random_auxk_training(rng):
    seed, n_steps, n_instances, k_aux = (int(rng.integers(0, 1000)), int(rng.integers(1, 5)), int(rng.integers(1, 4)),
                                         int(rng.integers(1, 17)))
    return (f"seed {seed}, {n_instances} instance(s), {n_steps} steps, k_aux = {k_aux}",
            (seed, n_steps, n_instances, k_aux))


def _bools(*shape, p, seed):
    return np.random.default_rng(seed).random(shape) < p


def _random_auxk(rng):
    shape = (*([int(rng.integers(1, 4))] if rng.uniform() < 0.5 else []), int(rng.integers(4, 30)), int(rng.integers(3, 12)))
    shift = np.where(rng.uniform(size=shape[-1]) < 0.4, 0.0, 3.0)  # TopK(2) rarely picks the latents left at 0
    k_aux = int(rng.integers(1, shape[-1] + 1))
    arguments = _auxk_case(shape, shift.tolist(), seed=int(rng.integers(0, 1000)))
    return f"shape {shape}, k_aux = {k_aux}", (*arguments, k_aux)


def _random_hierarchy(rng):
    n, k = int(rng.integers(50, 500)), int(rng.integers(1, 5))
    parent = rng.uniform(size=(n, k)) < rng.uniform(0.2, 0.7)
    child = parent & (rng.uniform(size=(n, k)) < rng.uniform(0.1, 0.6))
    fires = parent & (rng.uniform(size=(n, k)) < 0.9) & ~(child & (rng.uniform(size=(n, k)) < rng.uniform(0, 1)))
    return f"{n} samples, {k} parents", (fires, parent, child)


# --- the mistakes ----------------------------------------------------------------------------------

def _dead_per_instance(latents, pre):
    return (latents > 0).sum(dim=-2, keepdim=True) == 0


def _dead_across_instances(latents, pre):
    return (latents > 0).sum(dim=tuple(range(latents.dim() - 1)), keepdim=True) == 0


def _zero_in_each_sample(latents, pre):
    return latents <= 0


def _never_positive(latents, pre):
    return (pre > 0).sum(dim=-2, keepdim=True) == 0


def _auxk_with(dead_of=_dead_per_instance, live_compete=False, relu=True, normalise=True, centred=True,
               zero_if_none=True, per_instance=True, one_number=False):
    """The AuxK penalty written out with one step done differently (with no change, the
    reference)."""
    def penalty(residual, pre, latents, directions, k_aux):
        dead = dead_of(latents, pre)
        hidden = pre if live_compete else pre.masked_fill(~dead, float("-inf"))
        values, indices = hidden.topk(min(k_aux, pre.shape[-1]), dim=-1)
        aux = torch.zeros_like(pre).scatter(-1, indices, torch.relu(values) if relu else values)
        error = ((aux @ directions - residual) ** 2).mean(dim=(-2, -1))
        if normalise:
            error = error / ((residual - residual.mean(dim=-2, keepdim=True) * centred) ** 2).mean(dim=(-2, -1))
        any_dead = dead.any(dim=-1).squeeze(-1) if per_instance else dead.any()
        loss = torch.where(any_dead, error, 0.0) if zero_if_none else error
        return loss.mean() if one_number else loss
    return penalty


def _auxk_step_with(detach=True, weighted=True, of_residual=True, zero_grad=True, summed=True, swapped=False,
                    weight_power=1, residual_sign=1, step_first=False, directions="decoder", returns="loss",
                    one_mse=False):
    """The AuxK training step written out with one step done differently (with no change, the
    reference)."""
    def step(model, optimizer, x):
        output = model(x)
        residual = residual_sign * (x - output.x_recon)
        target = (residual.detach() if detach else residual) if of_residual else x
        pre, latents = model.pre_activations(x), output.latents
        written = model.decoder_directions if directions == "decoder" else model.encoder_directions
        aux = auxk_penalty(target, *((latents, pre) if swapped else (pre, latents)), written, model.recipe.k_aux)
        mse = ((output.x_recon - x) ** 2).mean(dim=(-2, -1))
        mse = mse.mean() if one_mse else mse
        loss = mse + (model.recipe.auxk_weight if weighted else 1) ** weight_power * aux
        if zero_grad:
            optimizer.zero_grad()
        if step_first:
            optimizer.step()
        (loss.sum() if summed else loss.mean()).backward()
        if not step_first:
            optimizer.step()
        return (loss if returns == "loss" else mse).detach()
    return step


def _recall_ratio(fires, parent, with_child):
    """Recall of `fires` on the parent's samples where `with_child` says a child is active,
    over its recall where none is (no care for empty groups)."""
    return (((fires & parent & with_child).sum(0) / (parent & with_child).sum(0))
            / ((fires & parent & ~with_child).sum(0) / (parent & ~with_child).sum(0)))


def _ratio_upside_down(f, p, c):
    return 1 - 1 / _recall_ratio(f, p, c)


def _recall_difference(f, p, c):
    return ((f & p & ~c).sum(0) / (p & ~c).sum(0)) - ((f & p & c).sum(0) / (p & c).sum(0))


def _undefined_not_nan(f, p, c):
    return 1 - _recall_ratio(f, p, c)


def _no_child_not_nan(f, p, c):
    with_child = (f & p & c).sum(0) / np.maximum((p & c).sum(0), 1)
    without = (f & p & ~c).sum(0) / np.maximum((p & ~c).sum(0), 1)
    return np.where((f & p & ~c).sum(0) > 0, 1 - with_child / without, np.nan)


def _child_group_not_restricted(f, p, c):
    """The reference's score with every sample where a child is active, its parent or not, in the group
    with a child."""
    with_child, without = c, p & ~c
    recall_with = (f & with_child).sum(0) / np.maximum(with_child.sum(0), 1)
    recall_without = (f & without).sum(0) / np.maximum(without.sum(0), 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((recall_without > 0) & ((p & c).sum(0) > 0), 1 - recall_with / recall_without, np.nan)


def _undefined_zero(f, p, c):
    return np.nan_to_num(absorption_score(f, p, c), nan=0.0)


def _parent_left_out(f, p, c):
    return 1 - ((f & c).sum(0) / c.sum(0)) / ((f & ~c).sum(0) / (~c).sum(0))


_FOUR_DEAD = [3.0, 3.0, 3.0, 3.0, 0.0, 0.0, 0.0, 0.0]  # TopK(2) never picks the last 4
AUXK = Exercise(
    reference=auxk_penalty,
    cases=(("16 samples, 8 latents of which 4 are dead, k_aux = 2", (*_auxk_case((16, 8), _FOUR_DEAD, 1), 2)),
           ("no latent dead", (*_auxk_case((16, 8), [0.0] * 8, 4), 2)),
           ("2 instances, k_aux = 6, more than the dead latents", (*_auxk_case((2, 16, 8), _FOUR_DEAD, 7), 6)),
           ("2 instances, only the first with dead latents",
            (*_auxk_case((2, 16, 8), [[_FOUR_DEAD], [[0.0] * 8]], 10), 2)),
           ("k_aux = 10, more than the 8 latents", (*_auxk_case((16, 8), _FOUR_DEAD, 12), 10)),
           ("in float64: new tensors must take the inputs' dtype", (*(t.double() for t in _auxk_case((16, 8), _FOUR_DEAD, 1)), 2))),
    mistakes=(
        Mistake(_auxk_with(dead_of=_dead_across_instances),
                "count a latent's firing per instance (over dim=-2, the samples): across all instances "
                "together, a latent dead in one instance but alive in another is not dead."),
        Mistake(_auxk_with(dead_of=_never_positive),
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
        Mistake(_auxk_with(dead_of=_zero_in_each_sample),
                "a latent is dead in the batch when it is 0 on every sample, not in each sample where it "
                "is 0: count its firings over the samples, (latents > 0).sum(dim=-2, keepdim=True) == 0."),
        Mistake(_auxk_with(centred=False),
                "the residual's variance is about its mean: subtract residual.mean(dim=-2) before squaring."),
        Mistake(_auxk_with(one_number=True),
                "return one loss per instance, shape (...): you averaged over the instances too."),
    ),
    random_cases=random_cases(_random_auxk),
)

AUXK_STEP = Exercise(
    reference=auxk_training_step,
    run=_auxk_train_with,
    cases=(("2 SAEs, one step", (0, 1)), ("2 SAEs, 4 steps", (0, 4)), ("one SAE, 3 steps, k_aux = 16", (5, 3, 1, 16))),
    outputs=("W_enc after the steps", "b_enc after the steps", "W_dec after the steps", "b_dec after the steps",
             "the losses your step returned (step, instance)"),
    mistakes=(
        Mistake(_auxk_step_with(detach=False),
                "detach the residual, (x - output.x_recon).detach(): AuxK is there to train the dead "
                "latents; without it, its gradient also flows through x_recon into the live latents "
                "and the decoder bias."),
        Mistake(_auxk_step_with(weighted=False),
                "multiply AuxK by its weight, model.recipe.auxk_weight (1/32): at weight 1 the dead "
                "latents' task outweighs the reconstruction."),
        Mistake(_auxk_step_with(of_residual=False),
                "the dead latents reconstruct the residual x - x_recon, what the live latents left, not x."),
        Mistake(_auxk_step_with(zero_grad=False),
                NO_ZERO_GRAD),
        Mistake(_auxk_step_with(swapped=True),
                "auxk_fn takes the pre-activations before the latents: (residual, pre_activations, "
                "latents, decoder_directions, k_aux)."),
        Mistake(_auxk_step_with(one_mse=True),
                "the MSE is one per instance, ((output.x_recon - x) ** 2).mean(dim=(-2, -1)): "
                "F.mse_loss averages over the instances too."),
        Mistake(_auxk_step_with(weight_power=2), "the weight multiplies AuxK once: you applied it twice."),
        Mistake(_auxk_step_with(residual_sign=-1),
                "the residual is x - x_recon, what the live latents left to explain; x_recon - x points "
                "the other way."),
        Mistake(_auxk_step_with(directions="encoder"),
                "the dead latents write along the decoder directions, model.decoder_directions, not the "
                "encoder's."),
        Mistake(_auxk_step_with(step_first=True),
                "the parameters did not move: optimizer.step() ran before backward, with no gradient. "
                "The order is the loss, zero_grad, backward, step."),
        Mistake(_auxk_step_with(returns="mse"),
                "return the whole loss the step minimised, MSE plus the weighted AuxK, per instance."),
        Mistake(_auxk_step_with(summed=False),
                "sum the losses over the instances, loss.sum(): each instance then gets the gradient it "
                "would get alone. The mean divides every gradient by K; Adam undoes most of that, but "
                "not where a gradient is as small as its eps (1e-8)."),
    ),
    random_cases=random_cases(_random_auxk_training),
)

_PARENT = _bools(400, 3, p=0.5, seed=1)
_CHILD = _PARENT & _bools(400, 3, p=0.4, seed=2)
_FIRES = _PARENT & (_bools(400, 3, p=0.9, seed=3) & ~(_CHILD & _bools(400, 3, p=0.6, seed=4)))
ABSORPTION = Exercise(
    reference=absorption_score,
    cases=(("400 samples, 3 parents, some absorbed", (_FIRES, _PARENT, _CHILD)),
           ("a latent that fires whenever its parent is active", (_PARENT, _PARENT, _CHILD)),
           ("a latent that fires only when a child is active too", (_FIRES & _CHILD, _PARENT, _CHILD)),
           ("parents that never appear with a child", (_FIRES, _PARENT, np.zeros_like(_CHILD))),
           ("children active without their parent too, as in the control",
            (_FIRES | _bools(400, 3, p=0.2, seed=5), _PARENT, _bools(400, 3, p=0.3, seed=6)))),
    mistakes=(
        Mistake(_ratio_upside_down,
                "the ratio is upside down: divide the recall with a child by the recall without one."),
        Mistake(_recall_difference, "that is the difference of the recalls; the score is 1 minus their ratio."),
        Mistake(_undefined_not_nan,
                "where the latent never fires on the parent alone, the score is undefined: return NaN "
                "(np.where), not what dividing by 0 gives."),
        Mistake(_undefined_zero,
                "where the score cannot be told, return NaN, not 0: a 0 would count as \"no absorption\" "
                "in the mean, which np.nanmean then takes over the defined scores only."),
        Mistake(_no_child_not_nan,
                "where no sample has the parent with a child there is nothing to compare: return NaN, not 1."),
        Mistake(_child_group_not_restricted,
                "the group with a child counts only samples where the parent is active too "
                "(parent_active & child_active): a child can be active without its parent."),
        Mistake(_parent_left_out,
                "recall counts the samples where the parent is active: restrict both groups to them."),
    ),
    random_cases=random_cases(_random_hierarchy),
    next_use=indexed_by_mask('run["per parent"][in_prefix], in_prefix a bool array'),
)
