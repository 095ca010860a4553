"""The lecture's sparse autoencoder: one hidden layer of GELU latents.

    latents = GELU(W_enc x + b_enc)        x: (n_samples, input_dim)
    x_recon = W_dec latents + b_dec        latents: (n_samples, hidden_dim)

It carries its two penalties as methods, as the lecture writes them: the L1 penalty (mean
absolute latent) and the decorrelation penalty (summed squared off-diagonal covariance of the
latents), each multiplied by `sparsity_weight`.

`SAEBatch` holds many such SAEs in one set of tensors with a leading instances dimension, so a
sweep over seeds, sparsity weights and widths trains as one tensor program (as ARENA's and
Anthropic's toy models train `n_inst` copies at once). Instance i starts with exactly the
weights `SparseAutoencoder` gets after `torch.manual_seed(seeds[i])`.
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


ACTIVATIONS = ("gelu", "relu", "topk")


class SAEBatch(nn.Module):
    """`len(seeds)` independent SAEs trained side by side; shapes with K = n_instances:

        latents[i] = act(x @ W_enc[i] + b_enc[i])      W_enc: (K, input_dim, hidden_dim)
        x_recon[i] = latents[i] @ W_dec[i] + b_dec[i]  W_dec: (K, hidden_dim, input_dim)

    `hidden_dim` and `sparsity_weight` are one value for all instances or one per instance.
    Instances narrower than the widest are padded with latents that are held at zero.
    `activation` is "gelu" (the lecture's), "relu" or "topk": ReLU of the `k` largest
    pre-activations of each sample, all others 0 (Gao et al. 2024); `k` is one value or one
    per instance.
    """

    def __init__(self, input_dim, hidden_dim, seeds, sparsity_weight=1.0, activation="gelu",
                 k=None):
        super().__init__()
        seeds = list(seeds)
        n = len(seeds)
        if n == 0:
            raise ValueError("seeds is empty: give one seed per instance")
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of {ACTIVATIONS}")
        if (activation == "topk") != (k is not None):
            raise ValueError("k is needed for the topk activation, and only for it")
        widths = _per_instance(hidden_dim, n, "hidden_dim")
        weights = _per_instance(sparsity_weight, n, "sparsity_weight")
        ks = _per_instance(k, n, "k")
        if activation == "topk" and not all(isinstance(v, int) and 1 <= v <= w for v, w in zip(ks, widths)):
            raise ValueError(f"k must be an integer from 1 to the width; got k={k!r} for hidden_dim={hidden_dim!r}")
        models = []
        for seed, width, weight in zip(seeds, widths, weights):
            with torch.random.fork_rng(devices=[]):  # leaves the caller's random state alone
                torch.manual_seed(seed)
                models.append(SparseAutoencoder(input_dim, width, sparsity_weight=weight))
        h = max(widths)

        def stacked(tensors):  # zero-pads each instance's latent axis (the last) to width h
            return torch.stack([F.pad(t.detach(), (0, h - t.shape[-1])) for t in tensors])

        self.input_dim, self.hidden_dim, self.activation = input_dim, h, activation
        self.padded = min(widths) < h  # whether some instances have latents held at zero
        self.W_enc = nn.Parameter(stacked([m.encoder.weight.T for m in models]))
        self.b_enc = nn.Parameter(stacked([m.encoder.bias for m in models]))
        self.W_dec = nn.Parameter(stacked([m.decoder.weight for m in models]).transpose(1, 2).contiguous())
        self.b_dec = nn.Parameter(torch.stack([m.decoder.bias.detach() for m in models]))
        self.register_buffer("sparsity_weight", torch.tensor(weights, dtype=torch.float32))
        self.register_buffer("mask", (torch.arange(h) < torch.tensor(widths)[:, None]).float())
        self.register_buffer("widths", torch.tensor(widths))
        self.register_buffer("k", torch.tensor(ks if activation == "topk" else widths))

    @property
    def n_instances(self):
        return len(self.W_enc)

    def encode(self, x):
        """(n_samples, input_dim), shared by all instances -> latents (K, n_samples, hidden_dim)."""
        if x.ndim != 2 or x.shape[1] != self.input_dim:
            raise ValueError(
                f"input must have shape (n_samples, {self.input_dim}); got {tuple(x.shape)}"
            )
        z = torch.baddbmm(self.b_enc[:, None], x.expand(self.n_instances, -1, -1), self.W_enc)
        if self.activation == "gelu":
            return F.gelu(z) * self.mask[:, None]
        if self.activation == "relu":
            return F.relu(z) * self.mask[:, None]
        z = z.masked_fill(self.mask[:, None] == 0, -torch.inf)  # padding latents are never chosen
        k_max = int(self.k.max())
        values, indices = z.topk(k_max, dim=-1)
        keep = torch.arange(k_max, device=z.device) < self.k[:, None, None]  # each instance's k
        return torch.zeros_like(z).scatter(-1, indices, F.relu(values) * keep)

    def decode(self, latents):
        """(K, n_samples, hidden_dim) -> reconstructions (K, n_samples, input_dim)."""
        return torch.baddbmm(self.b_dec[:, None], latents, self.W_dec)

    def forward(self, x):
        latents = self.encode(x)
        return SAEOutput(x_recon=self.decode(latents), latents=latents)

    def sparsity_loss(self, latents):
        """(K,) sparsity_weight * mean |latent| over samples and each instance's own latents."""
        n_samples = latents.shape[1]
        return self.sparsity_weight * latents.abs().sum(dim=(1, 2)) / (n_samples * self.widths)

    def decoder_norm_l1_loss(self, latents):
        """(K,) sparsity_weight * mean over samples of sum_j |latent_j| ||W_dec[j]|| (Anthropic's
        April 2024 recipe: a latent cannot dodge the penalty by shrinking while its decoder grows)."""
        decoder_norms = self.W_dec.norm(dim=-1)[:, None, :]  # (K, 1, hidden_dim)
        return self.sparsity_weight * (latents.abs() * decoder_norms).sum(dim=-1).mean(dim=-1)

    def decorrelation_loss(self, latents):
        """(K,) sparsity_weight * summed squared off-diagonal covariances of each instance."""
        centred = latents - latents.mean(dim=1, keepdim=True)
        cov = centred.transpose(1, 2) @ centred / (latents.shape[1] - 1)
        off_diagonal = cov - torch.diag_embed(torch.diagonal(cov, dim1=1, dim2=2))
        return self.sparsity_weight * (off_diagonal**2).sum(dim=(1, 2))

    def instance(self, i):
        """Instance i as a stand-alone SparseAutoencoder (GELU instances only), weights copied."""
        if self.activation != "gelu":
            raise ValueError("only GELU instances are SparseAutoencoders")
        width = int(self.widths[i])
        model = SparseAutoencoder(self.input_dim, width, float(self.sparsity_weight[i]))
        with torch.no_grad():
            model.encoder.weight.copy_(self.W_enc[i, :, :width].T)
            model.encoder.bias.copy_(self.b_enc[i, :width])
            model.decoder.weight.copy_(self.W_dec[i, :width].T)
            model.decoder.bias.copy_(self.b_dec[i])
        return model.to(self.W_enc.device)


def _per_instance(value, n, name):
    values = list(value) if isinstance(value, (list, tuple)) else [value] * n
    if len(values) != n:
        raise ValueError(f"{name} must be one value or one per seed ({n}); got {len(values)}")
    return values
