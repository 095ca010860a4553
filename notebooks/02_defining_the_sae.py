# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 · Defining the sparse autoencoder
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/sae-notebooks/sae-notebooks/blob/main/notebooks/02_defining_the_sae.ipynb)
#
# Part 1 of the course (01-05): the lecture, reproduced and checked, on a dense toy with two
# sources. Terms and scores are defined in the [glossary](https://github.com/sae-notebooks/sae-notebooks/blob/main/GLOSSARY.md).
#
# In this notebook you will:
#
# - write the lecture's sparse autoencoder as a PyTorch module and read it line by line;
# - build one with 20 latents for our 2 observed variables;
# - push random ("bunk") input through it and explain every output shape;
# - write its forward pass and both of its penalties yourself (exercises with self-checks);
# - meet the same class in `sae_helpers`, which the later notebooks import.

# %% [markdown]
# ## Setup
#
# In Colab this cell installs the helper package `sae_helpers` from the repository (Colab's own
# torch and numpy stay as they are). Anywhere else it does nothing.

# %%
import sys

REPOSITORY = "https://github.com/sae-notebooks/sae-notebooks"
if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"git+{REPOSITORY}"], check=True)

# %% [markdown]
# Imports, the seed for PyTorch's random numbers (weights and the bunk input), and versions.
#
# <details><summary>Why the numbers are the same on any computer</summary>
#
# CI re-executes this notebook and compares every printed number with the stored one (strict
# nbval), under the numeric settings of `tools/numeric.env` (see the README). So every random
# draw is seeded, numbers are printed only to the precision their spread across CPUs allows,
# and each conclusion is an `assert` with a margin, which holds on any machine.
# </details>

# %%
import numpy as np
import torch
import torch.nn as nn

import sae_helpers
from sae_helpers.exercises import check
from sae_helpers.exercises.defining_the_sae import DECORRELATION_PENALTY, L1_PENALTY, SAE_FORWARD

torch.manual_seed(0)
print(f"torch {torch.__version__}, numpy {np.__version__}")

# %% [markdown]
# ## The idea in two equations
#
# For an input sample $x$ (2 numbers here), the SAE computes
#
# $$f = \mathrm{GELU}(W_{enc}\,x + b_{enc}), \qquad \hat{x} = W_{dec}\,f + b_{dec}.$$
#
# $f$ holds the **latents** (20 numbers here, more than the inputs) and $\hat{x}$ is the
# reconstruction. Training minimises the reconstruction error plus a penalty that makes the
# latents costly to use, so that each sample is explained by few of them.

# %% [markdown]
# ## The model
#
# This is the lecture's class. The next markdown cell walks through it.

# %%
class SparseAutoencoder(nn.Module):
    def __init__(self, input_dim, hidden_dim, sparsity_weight=1):
        super().__init__()
        self.encoder = nn.Linear(input_dim, hidden_dim)
        self.decoder = nn.Linear(hidden_dim, input_dim)
        self.sparsity_weight = sparsity_weight

    def forward(self, x):
        latents = torch.nn.functional.gelu(self.encoder(x))
        x_recon = self.decoder(latents)
        return x_recon, latents

    def sparsity_loss(self, latents):
        return self.sparsity_weight * torch.mean(torch.abs(latents))

    def decorrelation_loss(self, latents):
        cov = torch.cov(latents.T)
        off_diagonal = cov - torch.diag(torch.diag(cov))
        return self.sparsity_weight * torch.sum(off_diagonal**2)


# %% [markdown]
# - `encoder`: $W_{enc} x + b_{enc}$, one weight row and one bias per latent.
# - `gelu`: the nonlinearity. It is close to ReLU but smooth, and slightly negative for
#   negative inputs, so a GELU latent is rarely exactly zero (we look at this below).
# - `decoder`: $W_{dec} f + b_{dec}$. Column *j* of its weight is the direction in data space
#   that latent *j* writes to, the SAE's guess at a row of the mixing matrix.
# - `sparsity_loss`: the L1 penalty, the mean absolute latent times `sparsity_weight`.
# - `decorrelation_loss`: the summed squared covariances between different latents, times the
#   same weight: it punishes pairs of latents that vary together, in the same or in opposite
#   directions. Notebook 03 trains with each in turn.

# %% [markdown]
# ## One instance with 20 latents
#
# Two inputs (our two observed variables), twenty latents: ten times more latents than inputs.
# Printing a module shows its layers.

# %%
num_latents = 20
model = SparseAutoencoder(2, num_latents)
model

# %% [markdown]
# PyTorch stores a `Linear` layer's weight as (outputs, inputs). So the encoder's weight is
# 20 × 2 (one row per latent) and the decoder's is 2 × 20 (one column per latent).

# %%
for name, parameter in model.named_parameters():
    print(f"{name:16} {tuple(parameter.shape)}")
n_parameters = sum(p.numel() for p in model.parameters())
print(f"{n_parameters} parameters in all")
assert n_parameters == 2 * num_latents + num_latents + num_latents * 2 + 2

# %% [markdown]
# ## Bunk input
#
# Before training on real data, push 10 random samples through to check the plumbing. The
# forward pass returns two tensors: the reconstruction and the latents.

# %%
x = torch.randn(10, 2)
x_recon, latents = model(x)
print(f"input          {tuple(x.shape)}   10 samples x 2 variables")
print(f"reconstruction {tuple(x_recon.shape)}   same shape as the input")
print(f"latents        {tuple(latents.shape)}  10 samples x 20 latents")

# %% [markdown]
# An untrained model reconstructs badly. A useful control: the model that always outputs
# zeros has an MSE equal to the mean squared input. The untrained SAE does worse than that.

# %%
mse = torch.mean((x_recon - x) ** 2).item()
mse_zeros = torch.mean(x**2).item()
print(f"MSE of the untrained model: {mse:.3f}   MSE of always predicting 0: {mse_zeros:.3f}")
assert mse > mse_zeros

# %% [markdown]
# ## Exercise 1: the forward pass by hand
#
# Write the two equations above with the model's weights, without the layers. PyTorch's
# `Linear` computes x Wᵀ + b and stores W as (outputs, inputs): `W_enc` is (h, d), `W_dec`
# (d, h). In: `x` (n, d), `W_enc`, `b_enc` (h,), `W_dec`, `b_dec` (d,). Out: the tuple
# `(x_recon, latents)`, shapes (n, d) and (n, h).

# %%
def sae_forward(x, W_enc, b_enc, W_dec, b_dec):
    raise NotImplementedError  # your code here


# %% [markdown]
# The check compares your function with the reference on three cases (one sample; another
# number of inputs and latents). Until it passes, the cells below use the reference; every
# exercise in these notebooks works this way.

# %%
forward = check(sae_forward, SAE_FORWARD)

# %% [markdown]
# <details><summary>Hint</summary>
#
# `latents = torch.nn.functional.gelu(x @ W_enc.T + b_enc)`; the decoder is the same shape of
# line without the GELU.
# </details>
#
# <details><summary>Solution</summary>
#
# ```python
# def sae_forward(x, W_enc, b_enc, W_dec, b_dec):
#     latents = torch.nn.functional.gelu(x @ W_enc.T + b_enc)
#     return latents @ W_dec.T + b_dec, latents
# ```
# </details>

# %% [markdown]
# The forward pass by hand against the model's, on the bunk input:

# %%
with torch.no_grad():
    by_hand = forward(x, model.encoder.weight, model.encoder.bias, model.decoder.weight, model.decoder.bias)
same = torch.allclose(by_hand[0], x_recon, atol=1e-6) and torch.allclose(by_hand[1], latents, atol=1e-6)
print(f"the same reconstruction and latents as model(x), to 1e-6: {same}")
assert same

# %% [markdown]
# ## Exercise 2: the L1 penalty
#
# The L1 penalty is the mean of all absolute latent values (here 10 samples × 20 latents = 200
# numbers); the model multiplies it by `sparsity_weight`. Write it without the weight. In:
# `latents` (n_samples, n_latents), a tensor. Out: one number (a 0-dimensional tensor).

# %%
def l1_penalty(latents):
    raise NotImplementedError  # your code here: one line


# %% [markdown]
# The check: 10 × 20 latents, a single sample, and latents that are all negative.

# %%
l1 = check(l1_penalty, L1_PENALTY)

# %% [markdown]
# <details><summary>Hint</summary>
#
# `torch.abs`, then `.mean()` over every entry.
# </details>
#
# <details><summary>Solution</summary>
#
# ```python
# def l1_penalty(latents):
#     return latents.abs().mean()
# ```
# </details>

# %% [markdown]
# Times `sparsity_weight` (1 here), it is the model's `sparsity_loss`:

# %%
print(f"sparsity_loss: {model.sparsity_loss(latents).item():.5f}   "
      f"by hand: {model.sparsity_weight * l1(latents).item():.5f}")
assert torch.isclose(model.sparsity_loss(latents), model.sparsity_weight * l1(latents))

# %% [markdown]
# ## Exercise 3: the decorrelation penalty
#
# The decorrelation penalty: the covariance matrix of the latents over the samples (n_latents ×
# n_latents, 20 × 20 here), with its diagonal (each latent's variance) left out, squared and
# summed. The covariance divides by n − 1, as `torch.cov` and `np.cov` do by default (notebook
# 01's correlation divided by n; in r the factor cancels, here it does not). Write it without
# the weight. In: `latents` (n_samples, n_latents). Out: one number. `torch.cov` expects
# variables in rows.

# %%
def decorrelation_penalty(latents):
    raise NotImplementedError  # your code here


# %% [markdown]
# The check: 10 × 20 latents, only 2 samples, and latents far from 0 (so forgetting to centre
# them shows).

# %%
decorrelation = check(decorrelation_penalty, DECORRELATION_PENALTY)

# %% [markdown]
# <details><summary>Hint</summary>
#
# `cov = torch.cov(latents.T)` is (n_latents, n_latents). Square every entry, sum, and subtract
# the squares of the diagonal (`torch.diagonal(cov)`).
# </details>
#
# <details><summary>Solution</summary>
#
# ```python
# def decorrelation_penalty(latents):
#     cov = torch.cov(latents.T)
#     return (cov**2).sum() - (torch.diagonal(cov) ** 2).sum()
# ```
# </details>

# %% [markdown]
# Times the weight, it is the model's `decorrelation_loss`:

# %%
print(f"decorrelation_loss: {model.decorrelation_loss(latents).item():.5f}   "
      f"by hand: {model.sparsity_weight * decorrelation(latents).item():.5f}")
assert torch.isclose(model.decorrelation_loss(latents), model.sparsity_weight * decorrelation(latents), rtol=1e-4)

# %% [markdown]
# ## GELU is not ReLU
#
# ReLU maps every negative input to exactly 0. GELU dips below zero (its minimum is about
# −0.17, near −0.75) and approaches 0 only far out. So with GELU, "sparse" means "small", not "exactly zero": keep this
# in mind when we count active latents later.

# %%
z = torch.tensor([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0])
print("input:", " ".join(f"{v:7.3f}" for v in z))
print("ReLU: ", " ".join(f"{v:7.3f}" for v in torch.relu(z)))
print("GELU: ", " ".join(f"{v:7.3f}" for v in torch.nn.functional.gelu(z)))

# %% [markdown]
# ## The same class in `sae_helpers`
#
# `sae_helpers.SparseAutoencoder` is this class with input checks, named outputs and a choice
# of activation (GELU unless you pass another; later notebooks use ReLU and TopK). Built after
# the same seed, it has the same weights and gives the same outputs, bit for bit.

# %%
torch.manual_seed(0)
ours = SparseAutoencoder(2, num_latents)
torch.manual_seed(0)
helper = sae_helpers.SparseAutoencoder(2, num_latents)

out = helper(x)
assert torch.equal(out.x_recon, ours(x)[0]) and torch.equal(out.latents, ours(x)[1])
print(f"same outputs; named fields: {out._fields}")

# %% [markdown]
# Its checks turn a confusing error deep inside PyTorch into one that names the problem: here,
# three input variables for a model built for two.

# %%
try:
    helper(torch.randn(10, 3))
except ValueError as error:
    print(f"ValueError: {error}")

# %% [markdown]
# ## Recap
#
# - The SAE encodes 2 inputs into 20 GELU latents and decodes them back.
# - Its L1 penalty is the mean absolute latent; its decorrelation penalty the summed squared
#   covariances between latents; both are scaled by `sparsity_weight`. You wrote both, and the
#   forward pass.
# - Decoder column *j* is latent *j*'s direction in data space.
# - Later notebooks import the same class from `sae_helpers`.
#
# Next: [03 · Training the SAE](03_training.ipynb).
