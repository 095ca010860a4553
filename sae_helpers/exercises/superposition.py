"""Notebook 06's exercises: MCC, TopK, the decoder-norm L1 penalty, and a TopK SAE built
with the recipe."""

import numpy as np
import torch
import torch.nn as nn
from scipy.optimize import linear_sum_assignment

from sae_helpers.data import make_sparse_sources
from sae_helpers.exercises.cases import as_tensor, normal, random_cases, random_directions, tensor, unit_rows
from sae_helpers.exercises.engine import CheckFailed, Exercise, Mistake, unchanged
from sae_helpers.metrics import mcc
from sae_helpers.model import TopK, decoder_norm_l1_penalty


def topk(z, k):
    """TopK(k) as a function: (..., h) -> (..., h)."""
    return TopK(k)(z)


class TopKSAE(nn.Module):
    """A TopK SAE with the recipe's initialisation and forward pass, in `SAEBatch`'s layout for
    one instance: W_enc (d, h), b_enc (h,), W_dec (h, d), b_dec (d,). The decoder directions
    start at length 1, the encoder as their transpose, both biases at 0; the encoder sees
    x - b_dec. forward: x (n, d) -> (x_recon, latents)."""

    def __init__(self, d, h, k):
        super().__init__()
        directions = torch.randn(h, d)
        self.W_dec = nn.Parameter(directions / directions.norm(dim=-1, keepdim=True))
        self.W_enc = nn.Parameter(self.W_dec.detach().T.clone())
        self.b_enc = nn.Parameter(torch.zeros(h))
        self.b_dec = nn.Parameter(torch.zeros(d))
        self.k = k

    def forward(self, x):
        latents = topk((x - self.b_dec) @ self.W_enc + self.b_enc, self.k)
        return latents @ self.W_dec + self.b_dec, latents


PARAMETERS = ("W_enc", "b_enc", "W_dec", "b_dec")


def start_weights(d, h, seed):
    """Weights to load into a TopKSAE, none of them at its initial value: unit decoder directions,
    an encoder near (not at) their transpose, biases not 0."""
    directions = normal(h, d, seed=seed)
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    weights = (directions.T + 0.1 * normal(d, h, seed=seed + 1), 0.1 * normal(h, seed=seed + 2), directions,
               0.5 * normal(d, seed=seed + 3))
    return {name: as_tensor(w) for name, w in zip(PARAMETERS, weights)}


def _build_and_train(cls, d, h, k, seed, n_steps):
    """Build cls(d, h, k) after torch.manual_seed(seed) and read its initialisation; load
    `start_weights`, as the notebook loads a trained SAE's, and run it on 64 sparse samples; then
    take n_steps Adam steps (lr 0.01) on its MSE."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = cls(d, h, k)
    W_enc, b_enc, W_dec, b_dec = (getattr(model, name).detach() for name in PARAMETERS)
    initialisation = (int(((W_dec.norm(dim=-1) - 1).abs() < 1e-5).sum()), int(torch.equal(W_enc, W_dec.T)),
                      int((b_enc != 0).sum() + (b_dec != 0).sum()))
    model.load_state_dict({**model.state_dict(), **start_weights(d, h, seed)})
    x = torch.tensor(make_sparse_sources(n_sources=2 * d, d=d, p=0.1, n_samples=64, seed=seed).data,
                     dtype=torch.float32)
    kept = x.clone()
    output = model(x)
    unchanged(kept, x, "the input x")
    if output is None:
        return (*initialisation, None)
    x_recon, latents = output
    if x_recon.shape != x.shape:
        raise CheckFailed(f"returned a first output of shape {tuple(x_recon.shape)} from forward, for x of shape "
                          f"{tuple(x.shape)}: return the reconstruction first, then the latents")
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(n_steps):
        loss = ((model(x)[0] - x) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return (*initialisation, x_recon.detach(), latents.detach(), *(getattr(model, name).detach() for name in PARAMETERS))


def _random_pre_activations(rng):
    shape = tuple(int(n) for n in rng.integers(1, 6, size=rng.integers(1, 4))) + (int(rng.integers(2, 12)),)
    return f"pre-activations of shape {shape}", (as_tensor(rng.normal(size=shape)), int(rng.integers(1, shape[-1] + 1)))


def _random_latents_and_directions(rng):
    n, h, d = rng.integers(1, 20), rng.integers(1, 10), rng.integers(1, 6)
    return f"{n} samples, {h} latents, {d} dimensions", (as_tensor(rng.normal(size=(n, h))),
                                                         as_tensor(rng.uniform(0.1, 3) * rng.normal(size=(h, d))))


def _random_sae(rng):
    d, h, seed, n_steps = int(rng.integers(2, 10)), int(rng.integers(2, 20)), int(rng.integers(0, 1000)), int(rng.integers(0, 4))
    k = int(rng.integers(1, h + 1))
    return f"d = {d}, h = {h}, k = {k}, seed {seed}, {n_steps} steps", (d, h, k, seed, n_steps)


# --- the mistakes ----------------------------------------------------------------------------------

def _abs_cosines(t, u):
    return np.abs(unit_rows(t) @ unit_rows(u).T)


def _mmcs(t, u):
    return _abs_cosines(t, u).max(axis=1).mean()


def _mean_over_matched_pairs(t, u):
    c = _abs_cosines(t, u)
    return c[linear_sum_assignment(c, maximize=True)].mean()


def _minimised(t, u):
    c = _abs_cosines(t, u)
    return c[linear_sum_assignment(c)].sum() / len(t)


def _signed_cosines(t, u):
    c = unit_rows(t) @ unit_rows(u).T
    return c[linear_sum_assignment(c, maximize=True)].sum() / len(t)


def _not_normalised(t, u):
    c = np.abs(t @ u.T)
    return c[linear_sum_assignment(c, maximize=True)].sum() / len(t)


def _over_learned(t, u):
    c = _abs_cosines(t, u)
    return c[linear_sum_assignment(c, maximize=True)].sum() / len(u)


def _negative_kept(z, k):
    kept = z.topk(k, dim=-1)
    return torch.zeros_like(z).scatter(-1, kept.indices, kept.values)


def _values_only(z, k):
    return torch.relu(z.topk(k, dim=-1).values)


def _smallest_kept(z, k):
    kept = (-z).topk(k, dim=-1)
    return torch.zeros_like(z).scatter(-1, kept.indices, torch.relu(-kept.values))


def _over_dim_1(z, k):
    kept = z.topk(k, dim=1)
    return torch.zeros_like(z).scatter(1, kept.indices, torch.relu(kept.values))


def _over_dim_0(z, k):
    kept = z.topk(k, dim=0)
    return torch.zeros_like(z).scatter(0, kept.indices, torch.relu(kept.values))


def _plain_l1(latents, directions):
    return latents.abs().mean()


def _column_norms(latents, directions):
    return (latents.abs() * directions.norm(dim=0)).sum(-1).mean()


def _mean_over_latents(latents, directions):
    return (latents.abs() * directions.norm(dim=-1)).mean()


def _squared_lengths(latents, directions):
    return (latents.abs() * (directions**2).sum(dim=-1)).sum(-1).mean()


def _summed_over_samples(latents, directions):
    return (latents.abs() * directions.norm(dim=-1)).sum()


def _signed_latents(latents, directions):
    return (latents * directions.norm(dim=-1)).sum(-1).mean()


def _sae_with(unit_norm=True, tied=True, pre_encoder_bias=True, relu=True, shared=False, activation="topk",
              bias_sign=-1, decoder_bias=True, fixed_k=None, encoder_from_decoder=False):
    """The TopK SAE written out with one ingredient done differently (with no change, the
    reference)."""
    class SAE(nn.Module):
        def __init__(self, d, h, k):
            super().__init__()
            directions = torch.randn(h, d)
            self.W_dec = nn.Parameter(directions / directions.norm(dim=-1, keepdim=True) if unit_norm else directions)
            self.W_enc = nn.Parameter(self.W_dec.T if shared else self.W_dec.detach().T.clone() if tied
                                      else torch.randn(d, h))
            self.b_enc = nn.Parameter(torch.zeros(h))
            self.b_dec = nn.Parameter(torch.zeros(d))
            self.k = k

        def forward(self, x):
            encoder = self.W_dec.T if encoder_from_decoder else self.W_enc
            pre = (x + bias_sign * self.b_dec if pre_encoder_bias else x) @ encoder + self.b_enc
            if activation == "relu":
                latents = torch.relu(pre)
            else:
                kept = pre.topk(fixed_k or self.k, dim=-1)
                latents = torch.zeros_like(pre).scatter(-1, kept.indices, torch.relu(kept.values) if relu else kept.values)
            return latents @ self.W_dec + (self.b_dec if decoder_bias else 0), latents
    return SAE


_Z = tensor(5, 8, seed=2)

MCC = Exercise(
    reference=mcc,
    cases=(("16 true and 40 learned directions in 8 dimensions", (normal(16, 8, seed=1), normal(40, 8, seed=2))),
           ("fewer learned than true directions", (normal(6, 4, seed=3), normal(3, 4, seed=4))),
           ("one learned direction best for several true ones", (np.eye(3), np.array([[1.0, 1.0, 1.0], [1.0, 0, 0],
                                                                                        [0, 0, -2.0]])))),
    mistakes=(
        Mistake(_mmcs,
                "that is the MMCS: each true direction took its best learned one, repeats allowed; MCC "
                "matches them one to one (linear_sum_assignment)."),
        Mistake(_mean_over_matched_pairs,
                "you averaged over the matched pairs only: divide by the number of true directions, "
                "so an unmatched one counts 0."),
        Mistake(_minimised, "linear_sum_assignment minimises by default: pass maximize=True."),
        Mistake(_signed_cosines, "take |cos| before matching: a direction and its negative are the same feature."),
        Mistake(_not_normalised,
                "divide every direction by its length first: dot products of directions of other lengths "
                "are not cosines."),
        Mistake(_over_learned,
                "divide by the number of true directions, not learned ones: MCC is the share of the truth recovered."),
    ),
    random_cases=random_cases(random_directions),
)

TOPK = Exercise(
    reference=topk,
    cases=(("5 samples, 8 latents, k = 3", (_Z, 3)),
           ("every pre-activation negative, k = 2", (-_Z.abs(), 2)),
           ("k = 1 on one sample", (_Z[:1], 1)),
           ("in float64: new tensors must take the input's dtype", (_Z.double(), 3))),
    mistakes=(
        Mistake(_negative_kept,
                "a kept value that is negative must become 0 too: pass the kept values through a ReLU."),
        Mistake(_values_only,
                "this is (..., k): put the kept values back at their latents' places in a (..., h) tensor "
                "of zeros (scatter)."),
        Mistake(_smallest_kept, "you kept the k smallest values: topk returns the largest."),
        Mistake(_over_dim_1,
                "keep the k largest along the last axis, the latents (dim=-1): with instances in front, "
                "as SAEBatch's (instances, samples, latents), dim=1 picks among the samples."),
        Mistake(_over_dim_0, "keep the k largest of each row, along the last axis (dim=-1): dim=0 picks among the samples."),
    ),
    random_cases=random_cases(_random_pre_activations),
)

DECODER_NORM_L1 = Exercise(
    reference=decoder_norm_l1_penalty,
    cases=(("the small example", (torch.tensor([[1.0, 0.0], [2.0, 3.0]]), torch.tensor([[3.0, 4.0], [0.0, 2.0]]))),
           ("20 samples, 6 latents, 4 dimensions", (torch.relu(tensor(20, 6, seed=1)), tensor(6, 4, seed=2))),
           ("negative latents", (-tensor(3, 6, seed=3).abs(), tensor(6, 4, seed=4)))),
    mistakes=(
        Mistake(_plain_l1, "that is the plain L1: weight each |latent| by the length of its decoder direction."),
        Mistake(_column_norms,
                "the lengths are of the rows of decoder_directions (one per latent): norm(dim=-1), not dim=0."),
        Mistake(_mean_over_latents, "sum over the latents, then average over samples: you averaged over both."),
        Mistake(_signed_latents, "take |latent|: a negative latent costs as much as a positive one."),
        Mistake(_squared_lengths,
                "weigh by the length of each direction, its norm, not its squared norm (the sum of squares)."),
        Mistake(_summed_over_samples, "average over the samples (after summing over the latents): you summed both."),
    ),
    random_cases=random_cases(_random_latents_and_directions),
)

TOPK_SAE = Exercise(
    reference=TopKSAE,
    run=_build_and_train,
    cases=(("d = 8, h = 16, k = 3, seed 0, 3 steps", (8, 16, 3, 0, 3)),
           ("d = 4, h = 4, k = 1, seed 1, one step", (4, 4, 1, 1, 1)),
           ("d = 8, h = 16, k = 16 (every latent kept), seed 2, 2 steps", (8, 16, 16, 2, 2))),
    outputs=("the number of decoder directions of length 1 at initialisation",
             "1 if W_enc is exactly W_dec's transpose at initialisation (tied), else 0",
             "the number of bias entries that are not 0 at initialisation",
             "the reconstruction, with the loaded weights", "the latents, with the loaded weights",
             *(f"{name} after the Adam steps" for name in PARAMETERS)),
    mistakes=(
        Mistake(_sae_with(unit_norm=False),
                "divide each decoder direction (each row of W_dec) by its length: they start at length 1."),
        Mistake(_sae_with(tied=False),
                "tie the initialisation: W_enc starts as a copy of W_dec's transpose, "
                "self.W_dec.detach().T.clone(), not as random numbers of its own."),
        Mistake(_sae_with(shared=True),
                "nn.Parameter(self.W_dec.T) shares W_dec's memory, so W_enc and W_dec stay one "
                "matrix: setting or training one changes the other. Start W_enc from a copy, "
                "self.W_dec.detach().T.clone()."),
        Mistake(_sae_with(pre_encoder_bias=False),
                "the encoder sees x - b_dec (the pre-encoder bias), not x."),
        Mistake(_sae_with(relu=False), "a kept value that is negative must become 0: TopK keeps its values through a ReLU."),
        Mistake(_sae_with(fixed_k=3), "use self.k, the k given to __init__, not a fixed number."),
        Mistake(_sae_with(activation="relu"),
                "that is a ReLU SAE: keep only the k largest pre-activations of each sample, TopK(k) (your topk_fn)."),
        Mistake(_sae_with(encoder_from_decoder=True),
                "encode with W_enc, the encoder's own parameter: W_dec.T in the forward pass ties the two for ever."),
        Mistake(_sae_with(bias_sign=1), "the encoder sees x − b_dec: subtract the decoder's bias, do not add it."),
        Mistake(_sae_with(decoder_bias=False), "the reconstruction adds the decoder's bias: latents @ W_dec + b_dec."),
    ),
    random_cases=random_cases(_random_sae),
)
