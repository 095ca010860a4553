"""Notebook 02's exercises: the lecture's SAE's forward pass, and its two penalties."""

import torch
import torch.nn.functional as F

from sae_helpers.exercises.cases import as_tensor, random_cases, tensor
from sae_helpers.exercises.engine import Exercise, Mistake
from sae_helpers.model import decorrelation_penalty, l1_penalty


def sae_forward(x, W_enc, b_enc, W_dec, b_dec):
    """The lecture's SAE with nn.Linear's layout, W_enc (h, d) and W_dec (d, h):
    x (n, d) -> (x_recon (n, d), latents (n, h))."""
    latents = F.gelu(x @ W_enc.T + b_enc)
    return latents @ W_dec.T + b_dec, latents


def _sae_weights(d, h, seed):
    return tensor(h, d, seed=seed), tensor(h, seed=seed + 1), tensor(d, h, seed=seed + 2), tensor(d, seed=seed + 3)


def _random_sae(rng):
    n, d, h = rng.integers(1, 12), rng.integers(1, 6), rng.integers(1, 30)
    return f"x of shape ({n}, {d}), {h} latents", tuple(as_tensor(rng.normal(size=shape)) for shape in
                                                         [(n, d), (h, d), (h,), (d, h), (d,)])


def _random_latents(rng, min_samples=1):
    n, h = rng.integers(min_samples, 30), rng.integers(2, 25)
    scale, offset = rng.uniform(0.1, 5), rng.uniform(-3, 3)
    return f"latents of shape ({n}, {h})", (as_tensor(scale * rng.normal(size=(n, h)) + offset),)


# --- the mistakes ----------------------------------------------------------------------------------

def _relu_forward(x, W_enc, b_enc, W_dec, b_dec):
    latents = torch.relu(x @ W_enc.T + b_enc)
    return latents @ W_dec.T + b_dec, latents


def _gelu_after_the_decoder(x, W_enc, b_enc, W_dec, b_dec):
    latents = F.gelu(x @ W_enc.T + b_enc)
    return F.gelu(latents @ W_dec.T + b_dec), latents


def _no_biases(x, W_enc, b_enc, W_dec, b_dec):
    latents = F.gelu(x @ W_enc.T)
    return latents @ W_dec.T, latents


def _no_decoder_bias(x, W_enc, b_enc, W_dec, b_dec):
    latents = F.gelu(x @ W_enc.T + b_enc)
    return latents @ W_dec.T, latents


def _decoded_with_the_encoder(x, W_enc, b_enc, W_dec, b_dec):
    latents = F.gelu(x @ W_enc.T + b_enc)
    return latents @ W_enc + b_dec, latents


def _tanh_gelu(x, W_enc, b_enc, W_dec, b_dec):
    latents = F.gelu(x @ W_enc.T + b_enc, approximate="tanh")
    return latents @ W_dec.T + b_dec, latents


def _signed_mean(latents):
    return latents.mean()


def _summed(latents):
    return latents.abs().sum()


def _mean_over_samples_only(latents):
    return latents.abs().mean(dim=0)


def _squared(latents):
    return (latents**2).mean()


def _summed_over_latents(latents):
    return latents.abs().sum(dim=1).mean()


def _variances_kept(f):
    return (torch.cov(f.T) ** 2).sum()


def _samples_as_variables(f):
    c = torch.cov(f)
    return (c**2).sum() - (torch.diagonal(c) ** 2).sum()


def _upper_triangle(f):
    return (torch.triu(torch.cov(f.T), diagonal=1) ** 2).sum()


def _absolute_values(f):
    c = torch.cov(f.T)
    return c.abs().sum() - torch.diagonal(c).abs().sum()


def _not_centred(f):
    c = f.T @ f / (len(f) - 1)
    return (c**2).sum() - (torch.diagonal(c) ** 2).sum()


def _not_squared(f):
    c = torch.cov(f.T)
    return c.sum() - torch.diagonal(c).sum()


def _divided_by_n(f):
    c = torch.cov(f.T, correction=0)
    return (c**2).sum() - (torch.diagonal(c) ** 2).sum()


SAE_FORWARD = Exercise(
    reference=sae_forward,
    cases=(("2 inputs, 20 latents, 10 samples", (tensor(10, 2, seed=0), *_sae_weights(2, 20, seed=1))),
           ("one sample", (tensor(1, 2, seed=5), *_sae_weights(2, 20, seed=6))),
           ("5 inputs, 3 latents", (tensor(7, 5, seed=9), *_sae_weights(5, 3, seed=10)))),
    random_cases=random_cases(_random_sae),
    outputs=("x_recon", "latents"),
    mistakes=(
        Mistake(_relu_forward, "that is a ReLU: the lecture's SAE uses GELU (torch.nn.functional.gelu)."),
        Mistake(_gelu_after_the_decoder,
                "the decoder is linear: apply GELU to the latents only, not to the reconstruction."),
        Mistake(_no_biases, "the biases are missing: the encoder adds b_enc before GELU, the decoder adds b_dec."),
        Mistake(_no_decoder_bias, "the decoder's bias b_dec is missing."),
        Mistake(_decoded_with_the_encoder,
                "the decoder has its own weights: decode with W_dec (latents @ W_dec.T), not with the "
                "encoder's W_enc."),
        Mistake(_tanh_gelu,
                "that is GELU's tanh approximation: the lecture uses the exact GELU, F.gelu(z) (erf)."),
    ),
)

L1_PENALTY = Exercise(
    reference=l1_penalty,
    cases=(("10 samples, 20 latents", (tensor(10, 20, seed=0),)),
           ("one sample", (tensor(1, 20, seed=1),)),
           ("all latents negative", (-tensor(4, 3, seed=2).abs(),))),
    random_cases=random_cases(_random_latents),
    mistakes=(
        Mistake(_signed_mean, "take the absolute value first: negative latents cost too."),
        Mistake(_summed, "you summed: the lecture takes the mean over samples and latents."),
        Mistake(_mean_over_samples_only,
                "you averaged over samples only; the lecture averages over latents too (one number)."),
        Mistake(_summed_over_latents,
                "you summed over latents and averaged over samples; the lecture averages over both."),
        Mistake(_squared, "that squares the latents (an L2 penalty): the L1 penalty takes |latent|."),
    ),
)

DECORRELATION_PENALTY = Exercise(
    reference=decorrelation_penalty,
    cases=(("10 samples, 20 latents", (tensor(10, 20, seed=3),)),
           ("2 samples, 3 latents", (tensor(2, 3, seed=4),)),
           ("latents far from 0", (5 + tensor(30, 4, seed=5),))),
    random_cases=random_cases(lambda rng: _random_latents(rng, min_samples=2)),
    mistakes=(
        Mistake(_variances_kept,
                "the diagonal (each latent's variance) is in: sum only the covariances between "
                "different latents."),
        Mistake(_not_centred,
                "subtract each latent's mean over samples first: a covariance is about variation "
                "around the mean."),
        Mistake(_not_squared, "square the covariances before summing: negative ones count too."),
        Mistake(_divided_by_n, "the covariance divides by n − 1 (torch.cov's default), not by n."),
        Mistake(_samples_as_variables,
                "torch.cov takes variables as rows: torch.cov(latents) treats each sample as a variable. "
                "Transpose: torch.cov(latents.T), (h, h)."),
        Mistake(_upper_triangle,
                "every pair of latents appears twice in the covariance matrix, above and below the "
                "diagonal: sum both (or twice the upper triangle)."),
        Mistake(_absolute_values, "square the covariances: the penalty is a sum of squares, not of |cov|."),
    ),
)
