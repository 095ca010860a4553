"""Notebook 07's exercises: the toy model's importance-weighted loss, its training loop, and
each true feature's best |cos| with a learned direction."""

import numpy as np
import torch

from sae_helpers.exercises.cases import (
    NO_ZERO_GRAD,
    as_tensor,
    indexed_by_mask,
    normal,
    random_cases,
    random_directions,
    unit_rows,
)
from sae_helpers.exercises.engine import CheckFailed, Exercise, Mistake
from sae_helpers.metrics import best_cosines
from sae_helpers.toy_model import ToyModel, importance_weighted_mse, sample_features, train_toy_model


def train_toy(model, n_steps, batch_size, lr, seed):
    """The toy model's training loop: `train_toy_model` as the notebook calls it. Returns the
    loss per step and instance, (n_steps, K)."""
    return train_toy_model(model, n_steps, batch_size, lr, seed, progress=False)


def _features(shape, p, seed):
    return sample_features(p, shape, torch.Generator().manual_seed(seed))


def _random_batch(rng):
    k, n, f = rng.integers(1, 5), rng.integers(1, 50), rng.integers(2, 12)
    x = as_tensor(rng.uniform(size=(k, n, f)) * (rng.uniform(size=(k, n, f)) < 0.3))
    return (f"{k} instances, {n} samples, {f} features",
            (x, x + as_tensor(0.1 * rng.normal(size=(k, n, f))), as_tensor(rng.uniform(size=f))))


def _train_toy_with(train, n_features, probabilities, seed, n_steps, batch_size=64):
    """Train a toy model (n_features into 2 dimensions, one instance per probability, W from
    `seed`) with `train(model, n_steps, batch_size, lr 0.01, seed)`, as the notebook does next:
    (its W and b afterwards, the losses it returned)."""
    def trained():
        model = ToyModel(n_features, 2, probabilities, importance=0.9 ** np.arange(n_features), seed=seed)
        return model, train(model, n_steps, batch_size, 1e-2, seed)

    (model, losses), (again, _) = trained(), trained()
    if not torch.equal(model.W, again.W):
        raise CheckFailed("gives other weights when run twice from the same seed: draw every batch with one "
                          "generator made from the seed, torch.Generator().manual_seed(seed), passed to "
                          "model.sample(batch_size, generator)")
    return model.W.detach(), model.b.detach(), losses


def _random_training(rng):
    n_features, n_steps, seed = int(rng.integers(2, 8)), int(rng.integers(1, 6)), int(rng.integers(0, 1000))
    probabilities = rng.uniform(0.01, 1, size=int(rng.integers(1, 4))).round(2).tolist()
    return (f"{n_features} features, probabilities {probabilities}, {n_steps} steps, seed {seed}",
            (n_features, probabilities, seed, n_steps, int(rng.integers(1, 100))))


def _random_directions_one_empty(rng):
    description, (true, learned) = random_directions(rng)
    learned[rng.integers(0, len(learned))] = 0  # a learned direction of length 0
    return f"{description}, one of length 0", (true, learned)


# --- the mistakes ----------------------------------------------------------------------------------

def _unweighted(x, x_recon, importance):
    return ((x - x_recon) ** 2).sum(-1).mean(-1)


def _samples_summed_features_averaged(x, x_recon, importance):
    return (importance * (x - x_recon) ** 2).sum(-2).mean(-1)


def _root_importance(x, x_recon, importance):
    return (importance.sqrt() * (x - x_recon) ** 2).sum(-1).mean(-1)


def _importance_squared(x, x_recon, importance):
    return ((importance * (x - x_recon)) ** 2).sum(-1).mean(-1)


def _mean_over_features(x, x_recon, importance):
    return (importance * (x - x_recon) ** 2).mean(-1).mean(-1)


def _summed_over_samples(x, x_recon, importance):
    return (importance * (x - x_recon) ** 2).sum(-1).sum(-1)


def _mean_over_instances(x, x_recon, importance):
    return (importance * (x - x_recon) ** 2).sum(-1).mean()


def _loop_with(loss_of=importance_weighted_mse, fresh_batches=True, zero_grad=True, optimiser="adam",
               fixed_lr=None, step_first=False, loss_after=False):
    """The training loop with one step done differently (with no change, the reference's)."""
    def train(model, n_steps, batch_size, lr, seed):
        generator = torch.Generator().manual_seed(seed)
        kind = torch.optim.SGD if optimiser == "sgd" else torch.optim.Adam
        optimizer = kind(model.parameters(), lr=fixed_lr or lr)
        x, losses = None, []
        for _ in range(n_steps):
            if fresh_batches or x is None:
                x = model.sample(batch_size, generator)
            if optimiser == "new adam each step":
                optimizer = torch.optim.Adam(model.parameters(), lr=lr)
            loss = loss_of(x, model(x), model.importance)
            if zero_grad:
                optimizer.zero_grad()
            if step_first:
                optimizer.step()
            loss.sum().backward()
            if not step_first:
                optimizer.step()
            with torch.no_grad():
                losses.append(loss_of(x, model(x), model.importance) if loss_after else loss.detach())
        return torch.stack(losses).numpy()
    return train


def _plain_mse(x, x_recon, importance):
    return ((x - x_recon) ** 2).mean(dim=(-2, -1))


def _zero_length_not_handled(t, u):
    return np.abs(unit_rows(t) @ unit_rows(u).T).max(axis=1)


def _true_not_unit(t, u):
    return np.nan_to_num(np.abs(t @ unit_rows(u).T)).max(axis=1)


def _empty_scores_1(t, u):
    with np.errstate(all="ignore"):
        return np.nan_to_num(np.abs(unit_rows(t) @ unit_rows(u).T), nan=1.0).max(axis=1)


def _dot_products(t, u):
    return np.abs(t @ u.T).max(axis=1)


def _signed(t, u):
    return (unit_rows(t) @ unit_rows(u).T).max(axis=1)


def _each_learned_directions_best(t, u):
    return np.abs(unit_rows(t) @ unit_rows(u).T).max(axis=0)


_X = _features((2, 64, 5), 0.3, 0)
_FLIPPED = normal(6, 3, seed=3)
_WITH_ZERO = normal(8, 3, seed=5)
_WITH_ZERO[2] = 0

IMPORTANCE_WEIGHTED_MSE = Exercise(
    reference=importance_weighted_mse,
    cases=(
        ("2 instances, 64 samples, 5 features", (_X, _features((2, 64, 5), 0.5, 1), 0.9 ** torch.arange(5.0))),
        ("1 instance, 1 sample, 3 features", (torch.tensor([[[1.0, 0.0, 0.5]]]), torch.tensor([[[0.0, 0.0, 1.0]]]),
                                              torch.tensor([1.0, 2.0, 3.0]))),
        ("zero importance for the last features", (_X, 1 - _X, torch.tensor([1.0, 0.5, 0.0, 0.0, 0.0]))),
    ),
    mistakes=(
        Mistake(_unweighted, "the importance is missing: multiply each feature's squared error by its importance."),
        Mistake(_importance_squared,
                "the importance is inside the square, so it counts squared: weight the squared error, "
                "I · (x − x')², not (I · (x − x'))²."),
        Mistake(_mean_over_features,
                "you averaged over the features; the loss sums them (a mean divides it by n_features)."),
        Mistake(_summed_over_samples,
                "you summed over the samples; the loss averages them, so it does not grow with the batch."),
        Mistake(_mean_over_instances, "you averaged over the instances too: return one loss per instance, shape (K,)."),
        Mistake(_samples_summed_features_averaged,
                "the axes are the other way round: sum over the features (the last axis, -1), average over "
                "the samples (-2)."),
        Mistake(_root_importance, "weight by the importance I itself, not its square root."),
    ),
    random_cases=random_cases(_random_batch),
)

TRAIN_TOY = Exercise(
    reference=train_toy,
    run=_train_toy_with,
    cases=(("5 features, probabilities 1, 0.3 and 0.03, one step", (5, [1.0, 0.3, 0.03], 0, 1)),
           ("the same, 4 steps", (5, [1.0, 0.3, 0.03], 0, 4)),
           ("3 features, one instance, 3 steps, seed 1, batches of 1", (3, [0.5], 1, 3, 1))),
    outputs=("W after the steps", "b after the steps", "the losses your loop returned (step, instance)"),
    mistakes=(
        Mistake(_loop_with(fresh_batches=False),
                "every step trained on the same batch: draw fresh features inside the loop, "
                "model.sample(batch_size, generator), with one generator made before it."),
        Mistake(_loop_with(zero_grad=False),
                NO_ZERO_GRAD),
        Mistake(_loop_with(optimiser="sgd"), "the optimiser is Adam (torch.optim.Adam), not SGD."),
        Mistake(_loop_with(optimiser="new adam each step"),
                "make the optimiser once, before the loop: a new Adam each step forgets its running "
                "averages of the gradients, and every step becomes Adam's first."),
        Mistake(_loop_with(fixed_lr=1e-3), "use the learning rate you are given, lr, not a number of your own."),
        Mistake(_loop_with(step_first=True),
                "the parameters did not move: optimizer.step() ran before loss.sum().backward(), with no "
                "gradient. The order is the loss, zero_grad, backward, step."),
        Mistake(_loop_with(loss_after=True),
                "log the loss the step minimised, computed before optimizer.step(), not the loss after it."),
        Mistake(_loop_with(_plain_mse),
                "the loss is the importance-weighted MSE of exercise 1 (weighted_mse), one per "
                "instance; you used the plain MSE."),
    ),
    random_cases=random_cases(_random_training),
)

BEST_COSINES = Exercise(
    reference=best_cosines,
    cases=(
        ("5 true and 12 learned directions in 4 dimensions", (normal(5, 4, seed=1), normal(12, 4, seed=2))),
        ("learned directions that point the opposite way", (_FLIPPED, -2 * _FLIPPED)),
        ("a learned direction of length 0", (normal(4, 3, seed=4), _WITH_ZERO)),
    ),
    mistakes=(
        Mistake(_zero_length_not_handled,
                "a learned direction of length 0 gives 0/0 = NaN: score it 0 (it points nowhere)."),
        Mistake(_dot_products, "these are dot products, not cosines: divide every direction by its length first."),
        Mistake(_true_not_unit, "divide the true directions by their lengths too: a cosine is between unit vectors."),
        Mistake(_empty_scores_1,
                "a learned direction of length 0 points nowhere: its |cos| is 0, not 1 (nan_to_num(nan=0))."),
        Mistake(_signed, "take |cos|: a latent whose direction points the opposite way still finds the feature."),
        Mistake(_each_learned_directions_best,
                "you took each learned direction's best true direction (max over axis 0); the task "
                "asks for each true direction's best learned one, shape (n_true,)."),
    ),
    random_cases=random_cases(_random_directions_one_empty),
    next_use=indexed_by_mask("per_feature[name][keep], keep a bool array"),
)
