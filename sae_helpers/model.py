"""The lecture's sparse autoencoder: one hidden layer of GELU latents.

    latents = GELU(W_enc x + b_enc)        x: (n_samples, input_dim)
    x_recon = W_dec latents + b_dec        latents: (n_samples, hidden_dim)

It carries its two penalties as methods, as the lecture writes them: the L1 penalty (mean
absolute latent) and the decorrelation penalty (summed squared off-diagonal covariance of the
latents), each multiplied by `sparsity_weight`.
"""

import math
from typing import NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F


class SAEOutput(NamedTuple):
    """What a forward pass returns; unpacks like the lecture's `x_recon, latents` tuple."""

    x_recon: torch.Tensor  # (n_samples, input_dim) reconstruction of the input
    latents: torch.Tensor  # (n_samples, hidden_dim) the hidden units' activations


class SparseAutoencoder(nn.Module):
    """Linear encoder, GELU, linear decoder (the lecture's model).

    `input_dim` features in, `hidden_dim` latents; `sparsity_weight` (>= 0) scales both penalties.
    Parameters are created encoder first, so the same torch seed gives the same model as the
    lecture's class.
    """

    def __init__(self, input_dim, hidden_dim, sparsity_weight=1.0):
        super().__init__()
        for name, value in [("input_dim", input_dim), ("hidden_dim", hidden_dim)]:
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}")
        if not (math.isfinite(sparsity_weight) and sparsity_weight >= 0):
            raise ValueError(f"sparsity_weight must be finite and >= 0; got {sparsity_weight!r}")
        self.input_dim, self.hidden_dim = input_dim, hidden_dim
        self.encoder = nn.Linear(input_dim, hidden_dim)
        self.decoder = nn.Linear(hidden_dim, input_dim)
        self.sparsity_weight = sparsity_weight

    def encode(self, x):
        """(n_samples, input_dim) -> latents (n_samples, hidden_dim)."""
        if x.ndim != 2 or x.shape[1] != self.input_dim:
            raise ValueError(
                f"input must have shape (n_samples, {self.input_dim}); got {tuple(x.shape)}"
            )
        return F.gelu(self.encoder(x))

    def decode(self, latents):
        """(n_samples, hidden_dim) -> reconstruction (n_samples, input_dim)."""
        return self.decoder(latents)

    def forward(self, x):
        latents = self.encode(x)
        return SAEOutput(x_recon=self.decode(latents), latents=latents)

    def sparsity_loss(self, latents):
        """L1 penalty: sparsity_weight * mean |latent| (mean over samples and latents)."""
        return self.sparsity_weight * latents.abs().mean()

    def decorrelation_loss(self, latents):
        """sparsity_weight * sum of squared off-diagonal entries of the latents' covariance.

        Pushes latents towards carrying different information; needs at least 2 samples.
        """
        cov = torch.cov(latents.T)
        off_diagonal = cov - torch.diag(torch.diag(cov))
        return self.sparsity_weight * (off_diagonal**2).sum()
