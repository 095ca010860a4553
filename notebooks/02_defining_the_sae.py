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
# In this notebook you will:
#
# - write the lecture's sparse autoencoder as a PyTorch module and read it line by line;
# - build one with 20 latents for our 2 observed variables;
# - push random ("bunk") input through it and explain every output shape;
# - compute both of its penalties by hand;
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

# %%
import numpy as np
import torch
import torch.nn as nn

import sae_helpers

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
# ## The penalties by hand
#
# The L1 penalty is the mean of the 200 absolute latent values (10 samples × 20 latents),
# times `sparsity_weight` (1 here). Recomputing it with numpy gives the same number.

# %%
latents_np = latents.detach().numpy()
l1_by_hand = np.abs(latents_np).mean()
print(f"sparsity_loss: {model.sparsity_loss(latents).item():.5f}   by hand: {l1_by_hand:.5f}")
assert np.isclose(model.sparsity_loss(latents).item(), l1_by_hand)

# %% [markdown]
# The decorrelation penalty: the 20 × 20 covariance matrix of the latents over the samples,
# with its diagonal (each latent's variance) removed, squared and summed.

# %%
cov = np.cov(latents_np.T)
decorrelation_by_hand = (cov**2).sum() - (np.diag(cov) ** 2).sum()
print(f"decorrelation_loss: {model.decorrelation_loss(latents).item():.5f}   "
      f"by hand: {decorrelation_by_hand:.5f}")
assert np.isclose(model.decorrelation_loss(latents).item(), decorrelation_by_hand, rtol=1e-4)

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
#   covariances between latents; both are scaled by `sparsity_weight`.
# - Decoder column *j* is latent *j*'s direction in data space.
# - Later notebooks import the same class from `sae_helpers`.
#
# Next: [03 · Training the SAE](03_training.ipynb).
