# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 09 · What goes wrong: dead latents, shrinkage, absorption
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/sae-notebooks/sae-notebooks/blob/main/notebooks/09_pathologies.ipynb)
#
# Part 2 of the course (06-09): SAEs as the field trains and uses them. Terms and scores are
# defined in the [glossary](https://github.com/sae-notebooks/sae-notebooks/blob/main/GLOSSARY.md).
#
# People who train SAEs on real models spend much of their time on three failures:
#
# 1. **dead latents**: latents that never fire, so part of the dictionary is wasted;
# 2. **shrinkage**: latents that report less than the feature's true magnitude;
# 3. **feature absorption**: a general feature whose latent stops firing when a more specific
#    feature is present.
#
# On a real model nobody knows the true features, so a failure is hard to tell from a finding.
# Here we use notebook 06's kind of data, 64 sparse sources in 32 dimensions, where the truth
# is known. For each failure we cause it, measure it against the truth and a control, apply the
# fix the literature proposes, and measure again, over 3 seeds. In this notebook you will:
#
# - write the AuxK loss that keeps latents from dying, and the training step that adds it (two
#   exercises with self-checks);
# - train SAEs with the recipe the field uses (pre-encoder bias, tied initialisation, unit-norm
#   decoder, AuxK, input normalisation) and measure what each ingredient does, one at a time;
# - see that MCC is blind to shrinkage, tell shrinkage from spreading, and compare ReLU, TopK
#   and JumpReLU SAEs at equal sparsity, along their sparsity–fidelity frontiers;
# - build a feature hierarchy, write the absorption score (a third exercise), and see how much
#   a Matryoshka loss helps;
# - explore how the dictionary's width and k decide how many latents die.

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
# Imports, seed and versions. Every random draw below (sources, SAE weights, minibatch order)
# has its own explicit seed.
#
# <details><summary>Why the numbers are the same on any computer</summary>
#
# CI re-executes this notebook and compares every printed number with the stored one (strict
# nbval), under the numeric settings of `tools/numeric.env` (see the README). So every random
# draw is seeded, numbers are printed only to the precision their spread across CPUs allows,
# and each conclusion is an `assert` with a margin, which holds on any machine.
# </details>

# %%
import inspect
from dataclasses import replace

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

import sae_helpers.model
from sae_helpers import train_sae
from sae_helpers.baselines import sae_dictionary
from sae_helpers.data import make_sparse_sources, normalise_inputs
from sae_helpers.exercises import check
from sae_helpers.exercises.pathologies import ABSORPTION, AUXK, AUXK_STEP
from sae_helpers.metrics import (
    abs_cosines,
    active_fraction,
    absorption,
    best_cosines,
    dead_latents,
    fvu,
    l0,
    magnitude_shares,
    match_directions,
    relative_reconstruction_bias,
    single_source_magnitudes,
)
from sae_helpers.model import LECTURE, STANDARD, JumpReLU, SAEBatch, TopK
from sae_helpers.plots import plot_latent_density, plot_magnitudes, plot_tradeoff
from sae_helpers.widgets import dead_latents_explorer

torch.manual_seed(0)
print(f"torch {torch.__version__}, numpy {np.__version__}")

# %% [markdown]
# ## The data and the scores
#
# The generator and settings of notebook 06 (here with 10,000 samples): 64 sources, each active
# in a sample with probability 0.02 and then with a magnitude uniform in [0.5, 1.5], each
# writing along its own random unit direction in 32 dimensions. On average 1.28 sources are
# active in a sample.
#
# Every SAE below is 3 SAEs (seeds 0, 1, 2: the seed sets the initial weights; the data and the
# order of the minibatches are the same for all) trained side by side in one `SAEBatch`
# (section 2 puts two settings of a type in one), on minibatches of 512 samples with Adam
# (learning rate 0.003) for 40 epochs, about 800 steps.
# Each is built with a `recipe`: `LECTURE`, the lecture's model with PyTorch's default
# initialisation and nothing else (section 1 starts there), or `STANDARD`, the recipe the field
# trains SAEs with (section 1 builds it up and takes it apart). Sections 2 and 3 build their
# SAEs with the recipe.
# `evaluate` scores each seed against the truth:
#
# - **dead**: latents that fire (> 0.001, `ACTIVE_THRESHOLD`) on no sample;
# - **missed**: true directions whose best |cos| with any decoder direction is below 0.9;
# - **MCC**: the mean |cos| of one-to-one matched pairs (notebook 06);
# - **FVU**: the fraction of the data's variance the reconstruction leaves unexplained.

# %%
sources = make_sparse_sources(n_sources=64, d=32, p=0.02, n_samples=10_000, seed=0)
SEEDS = [0, 1, 2]
SETTINGS = {"n_epochs": 40, "lr": 3e-3, "batch_size": 512, "progress": False}


def untrained(data, hidden_dim, activation, sparsity_weight=1.0, recipe=LECTURE):
    """3 SAEs (SEEDS) of one width, as initialised."""
    return SAEBatch(data.shape[1], hidden_dim, seeds=SEEDS, sparsity_weight=sparsity_weight,
                    activation=activation, recipe=recipe)


def trained(data, hidden_dim, activation, penalty, sparsity_weight=1.0, recipe=LECTURE):
    """The same SAEs, trained on `data` with `penalty`."""
    sae = untrained(data, hidden_dim, activation, sparsity_weight, recipe)
    train_sae(sae, data, penalty=penalty, **SETTINGS)
    return sae


def evaluate(sae, sources, data=None):
    """One dict per instance (seed): its latents and decoder directions, the decoder direction
    matched to each source, and the scores; `data`: what the SAE was trained on, if not
    sources.data."""
    data = sources.data if data is None else data
    runs = []
    for instance in range(len(sae.W_enc)):
        learned = sae_dictionary(sae, data, instance)
        matched, cosines = match_directions(sources.directions, learned.directions)
        runs.append({"latents": learned.codes, "directions": learned.directions, "matched": matched,
                     "x_recon": learned.x_recon, "dead": dead_latents(learned.codes), "MCC": cosines.mean(),
                     "FVU": float(fvu(data, learned.x_recon)), "L0": float(l0(learned.codes)),
                     "missed": int((best_cosines(sources.directions, learned.directions) < 0.9).sum())})
    return runs


def show(name, runs, scores=("dead", "missed", "MCC")):
    """One line per model: each score for seeds 0, 1, 2, a number with 2 decimals."""
    def text(value):  # round first, so that -0.001 prints as 0.00, not -0.00
        return f"{round(value, 2) + 0.0:.2f}" if isinstance(value, float) else str(value)

    columns = [f"{score} " + " / ".join(text(run[score]) for run in runs) for score in scores]
    print(f"{name:30}" + "   ".join(columns))


# %% [markdown]
# ## 1. Dead latents
#
# **The cause.** A TopK SAE (notebook 06) keeps the k largest pre-activations of each sample;
# every other latent is 0, and so is its gradient. A latent that is never among the top k gets
# no new gradient at all, and it may never fire again. We train the lecture's model (PyTorch's
# default initialisation) as TopK SAEs (k = 3) with exactly as many latents as sources (64),
# and, as a control, with twice as many (128).

# %%
topk_64 = trained(sources.data, 64, TopK(3), penalty="none")
topk_128 = trained(sources.data, 128, TopK(3), penalty="none")

# %% [markdown]
# Dead latents, missed sources and MCC, for seeds 0 / 1 / 2, and for the 64-latent SAEs, how
# many latents were already dead at initialisation (the same seeds, before training) and how
# many of those are still dead after it:

# %%
runs = {"TopK, 64 latents": evaluate(topk_64, sources), "TopK, 128 latents": evaluate(topk_128, sources)}
for name, model_runs in runs.items():
    show(name, model_runs)
at_start = evaluate(untrained(sources.data, 64, TopK(3)), sources)
for seed, before, after in zip(SEEDS, at_start, runs["TopK, 64 latents"]):
    dead_before, dead_after = (set(np.flatnonzero(active_fraction(run["latents"]) == 0)) for run in (before, after))
    after["died in training"] = len(dead_after - dead_before)
    print(f"seed {seed}: {len(dead_before)} dead at initialisation, {len(dead_before & dead_after)} of them still dead, "
          f"{after['died in training']} died during training")

# %% [markdown]
# Both SAEs have dead latents. With 128 latents they do little harm: they are spare capacity,
# and every source is found here (at most 3 are missed on seeds 0–9, the test). With 64 latents
# there is none to spare: each dead latent leaves some source without a latent of its own. 13
# to 17 of the 64 latents are dead, and nearly half of the sources or more (28 to 33) are
# missed. A count of dead latents alone does not say which of the two you have; only the truth
# (here) or the reconstruction error and downstream checks (on a real model) do.
#
# Only 3 to 7 latents per seed are dead at initialisation; most of the dead ones (10 to 13 per
# seed) die during training: once the other latents win all of a latent's samples, it gets no
# gradient of its own. It comes back only if the others happen to fall below it (two of seed
# 2's seven did).

# %%
for run in runs["TopK, 128 latents"]:
    assert run["dead"] >= 20 and run["missed"] <= 3 and run["MCC"] > 0.97
for run in runs["TopK, 64 latents"]:
    assert run["dead"] >= 5 and run["missed"] >= 15 and run["MCC"] < 0.9
    assert run["died in training"] > run["dead"] / 2

# %% [markdown]
# ## Exercise 1: the AuxK loss
#
# The fix of Gao et al. (2024, *Scaling and evaluating sparse autoencoders*) gives dead latents
# a gradient. After the main TopK pass, the latents **dead in the batch** (0 on every one of its
# samples) compete on their own: each sample keeps the k_aux largest of their pre-activations
# (through a ReLU, as TopK does), and these auxiliary latents must reconstruct the **residual**
# e = x − x̂ (x̂ the reconstruction), what the live latents left unexplained:
#
#     ê = aux_latents @ decoder_directions
#     AuxK = mean over samples and dimensions of (ê − e)²
#            / mean over samples and dimensions of (e − ē)²,   ē: e's mean over samples
#
# The denominator, the residual's variance, keeps the loss from vanishing as the main
# reconstruction improves. Where no latent is dead, AuxK is 0. Gao et al. call a latent dead
# after 10 million tokens without firing, use k_aux ≈ half the language model's width d_model
# (k_aux = 512 in the paper, 256 in their code) and weight 1/32. Here: dead in the batch,
# k_aux = 32 (our choice), weight 1/32.
#
# Write it. In: `residual` (..., n, d), `pre_activations` and `latents` (..., n, h), the
# `decoder_directions` (..., h, d), all tensors, and `k_aux`, an int (it may exceed the number
# of dead latents: then every dead latent is kept). The leading `...` is an optional instances
# axis (K SAEs at once). Out: the loss, shape (...).

# %%
def auxk_penalty(residual, pre_activations, latents, decoder_directions, k_aux):
    raise NotImplementedError  # your code here


# %% [markdown]
# The check: a batch where 4 of 8 latents are dead, one where none is, two instances with
# k_aux larger than the number of dead latents, k_aux larger than the number of latents, and
# float64 inputs.

# %%
auxk_fn = check(auxk_penalty, AUXK)

# %% [markdown]
# <details><summary>Hint</summary>
#
# A latent is dead if it is 0 on every sample: `(latents > 0).sum(dim=-2, keepdim=True) == 0`,
# shape (..., 1, h). Set the live latents' pre-activations to −inf (`masked_fill`), then use
# `topk(min(k_aux, h), dim=-1)` and `scatter` as in TopK (notebook 06); ReLU turns a kept −inf
# into 0. The variance: `((residual - residual.mean(dim=-2, keepdim=True)) ** 2).mean(dim=(-2, -1))`.
# `torch.where(dead.any(dim=-1).squeeze(-1), loss, 0.0)` gives 0 where no latent is dead, with
# shape (...).
# </details>
#
# <details><summary>Solution</summary>
#
# ```python
# def auxk_penalty(residual, pre_activations, latents, decoder_directions, k_aux):
#     dead = (latents > 0).sum(dim=-2, keepdim=True) == 0
#     hidden = pre_activations.masked_fill(~dead, float("-inf"))
#     values, indices = hidden.topk(min(k_aux, hidden.shape[-1]), dim=-1)
#     aux_latents = torch.zeros_like(pre_activations).scatter(-1, indices, torch.relu(values))
#     error = ((aux_latents @ decoder_directions - residual) ** 2).mean(dim=(-2, -1))
#     variance = ((residual - residual.mean(dim=-2, keepdim=True)) ** 2).mean(dim=(-2, -1))
#     return torch.where(dead.any(dim=-1).squeeze(-1), error / variance, 0.0)
# ```
# </details>

# %% [markdown]
# **The fix.** A model whose recipe has an `auxk_weight` (here 1/32) and `k_aux` (32) adds
# `auxk_weight` × this loss to the MSE in `train_sae`, computed by
# `sae_helpers.model.auxk_penalty`. The residual is detached: the auxiliary loss trains the
# dead latents, not the live ones.
#
# What would AuxK do for the SAEs already trained without it? On one batch, your function (or
# the reference, until yours passes), and the number of dead latents whose pre-activation is
# above 0 on some sample of the batch:

# %%
x = torch.tensor(sources.data[:512], dtype=torch.float32)
with torch.no_grad():
    output = topk_64(x)
    pre_activations = topk_64.pre_activations(x)
    aux_loss = auxk_fn(x - output.x_recon, pre_activations, output.latents, topk_64.decoder_directions, 32)
    dead = (output.latents > 0).sum(dim=-2) == 0
    reachable = (dead & ((pre_activations > 0).sum(dim=-2) > 0)).sum(dim=-1)
print("AuxK loss per seed:", np.round(aux_loss.numpy(), 2), "  dead in the batch:", dead.sum(dim=-1).tolist(),
      "  of them with a positive pre-activation:", reachable.tolist())
assert ((aux_loss > 0.9) & (aux_loss < 1.1)).all() and torch.equal(reachable, dead.sum(dim=-1))

# %% [markdown]
# About 1: the auxiliary latents explain none of the residual, since nothing has trained them
# to fit it. But on these seeds every dead latent has a positive pre-activation on some sample
# of the batch (it is just never in the top 3), so AuxK would give each of them a gradient.
# (More latents are dead in this batch of 512 than over all 10,000 samples, 15 / 18 / 18
# against 13 / 17 / 17: a latent that fires rarely can miss a batch.)
#
# ## Exercise 2: a training step with AuxK
#
# `train_sae` adds AuxK for you. Write the step it takes, and the cell after the check trains
# the same 64-latent SAEs from the same seeds with it, now with AuxK from the first step.
#
# In: a TopK `SAEBatch` whose recipe adds AuxK (`model.recipe.auxk_weight`, 1/32, and
# `model.recipe.k_aux`, 32), its Adam `optimizer`, and a batch `x` (n, d). Compute
# `output = model(x)`, the MSE per instance, `((output.x_recon - x) ** 2).mean(dim=(-2, -1))`,
# shape (K,), and AuxK with your function of exercise 1 (`auxk_fn`): the residual is
# `x - output.x_recon` with its gradient cut (`.detach()`), the pre-activations are
# `model.pre_activations(x)`, the latents `output.latents`, the directions
# `model.decoder_directions` and k_aux `model.recipe.k_aux`. The loss is the MSE plus
# `auxk_weight` × AuxK; take one optimiser step on its sum over the instances. Out: the loss per
# instance, detached, shape (K,).

# %%
def auxk_training_step(model, optimizer, x):
    raise NotImplementedError  # your code here


# %% [markdown]
# The check runs 1 to 4 steps of your function and of the reference on small TopK SAEs (one or
# several instances, with many latents dead from the start) from the same weights, and compares
# the weights after the steps and the losses you returned.

# %%
auxk_step_fn = check(auxk_training_step, AUXK_STEP)

# %% [markdown]
# <details><summary>Hint</summary>
#
# The order is the lecture's: the loss, `optimizer.zero_grad()`, `loss.sum().backward()`,
# `optimizer.step()`; return `loss.detach()`. Without the `.detach()` on the residual, AuxK's
# gradient also reaches the live latents and the decoder bias through `x_recon`.
# </details>
#
# <details><summary>Solution</summary>
#
# ```python
# def auxk_training_step(model, optimizer, x):
#     output = model(x)
#     mse = ((output.x_recon - x) ** 2).mean(dim=(-2, -1))
#     residual = (x - output.x_recon).detach()
#     aux = auxk_fn(residual, model.pre_activations(x), output.latents, model.decoder_directions,
#                   model.recipe.k_aux)
#     loss = mse + model.recipe.auxk_weight * aux
#     optimizer.zero_grad()
#     loss.sum().backward()
#     optimizer.step()
#     return loss.detach()
# ```
# </details>

# %% [markdown]
# Your step (or the reference's, until yours passes) in `train_sae`'s loop: the settings above
# (minibatches of 512 in an order reshuffled each epoch from seed 0, 40 epochs), the same seeds,
# and the lecture's model with AuxK (weight 1/32, k_aux 32) added:

# %%
lecture_with_auxk = replace(LECTURE, auxk_weight=1 / 32)
topk_64_auxk = untrained(sources.data, 64, TopK(3), recipe=lecture_with_auxk)
optimizer = torch.optim.Adam(topk_64_auxk.parameters(), lr=SETTINGS["lr"])
data, shuffle = torch.tensor(sources.data, dtype=torch.float32), torch.Generator().manual_seed(0)
for epoch in range(SETTINGS["n_epochs"]):
    for batch in data[torch.randperm(len(data), generator=shuffle)].split(SETTINGS["batch_size"]):
        auxk_step_fn(topk_64_auxk, optimizer, batch)
runs["TopK, 64 latents + AuxK"] = evaluate(topk_64_auxk, sources)
for name, model_runs in runs.items():
    show(name, model_runs)

# %% [markdown]
# No latent is dead on any seed, and most of the missed sources are found: MCC rises from
# 0.77–0.80 to 0.97. Missed sources outnumbered dead latents, so dead latents were not the
# only cause of the misses; yet AuxK, which changes nothing for a latent that fires in the
# batch, removes most of them.

# %%
for before, after in zip(runs["TopK, 64 latents"], runs["TopK, 64 latents + AuxK"]):
    assert after["dead"] == 0 and after["missed"] <= before["missed"] - 10
    assert after["MCC"] > before["MCC"] + 0.05

# %% [markdown]
# How often each latent fires, one panel per seed. Without AuxK a tail of latents sits at the
# bottom, dead; with it every latent fires. (With k = 3 of 64 latents, the mean latent fires on
# 3/64 ≈ 5 % of samples.)

# %%
fig, axs = plt.subplots(1, 3, figsize=(12, 3), layout="constrained", sharey=True)
for seed, ax in enumerate(axs):
    plot_latent_density({name: active_fraction(model_runs[seed]["latents"]) for name, model_runs in runs.items()},
                        ax=ax, title=f"Seed {seed}")
plt.show()

# %% [markdown]
# ### The recipe the field trains with
#
# AuxK is one ingredient of a recipe. The SAEs of Bricken et al. (2023, Anthropic) and Gao et
# al. (2024, OpenAI), with the input normalisation of Anthropic's April 2024 update, differ
# from the lecture's model in five ways. The first four are fields of
# `sae_helpers.model.Recipe`; `STANDARD` has them all, and `STANDARD.without(name)` switches one
# off; the fifth is a step on the data:
#
# 1. **pre-encoder bias** (`pre_encoder_bias`): the encoder sees x − b_dec, where b_dec is the
#    decoder's bias, which `train_sae` starts at the data's mean. The latents then encode how
#    a sample differs from a typical one.
# 2. **tied initialisation** (`tied_init`): the encoder starts as the decoder's transpose, with
#    b_enc = 0, so from the first step each latent responds to the direction it writes.
# 3. **unit-norm decoder directions** (`unit_norm_decoder`): each direction starts at length 1
#    and stays there (before each step the gradient's component along the direction is
#    removed; after it the direction is rescaled). A latent's size is then its value alone.
# 4. **AuxK** (`auxk_weight` 1/32, `k_aux` 32), for TopK SAEs.
# 5. **input normalisation**: the data times one constant that makes its mean norm √d
#    (`normalise_inputs`), so that a learning rate or a penalty weight means the same on any
#    data. It is a step on the data, not on the model.
#
# The April 2024 update also warms the L1 weight up from 0 over the first 5 % of the steps and
# decays the learning rate to 0 over the last 20 % (`train_sae`'s `penalty_warmup` and
# `lr_decay`; `lr_warmup` warms the learning rate up); a TopK SAE has no L1 weight, and we leave
# the learning rate as it is.
#
# Here is the whole recipe, and the whole recipe without each ingredient in turn, on the same
# data, seeds and budget (TopK, k = 3, 64 latents: every row fires at most 3 latents per
# sample; the table prints the L0 each reaches):

# %%
normalised, scale = normalise_inputs(sources.data)
print(f"mean norm of the data: {np.linalg.norm(sources.data, axis=1).mean():.2f}; "
      f"normalising multiplies it by {scale:.2f}")
recipes = {"standard recipe": (STANDARD, normalised)}
for ingredient in ["pre_encoder_bias", "tied_init", "unit_norm_decoder", "auxk"]:
    recipes[f"  without {ingredient}"] = (STANDARD.without(ingredient), normalised)
recipes["  without normalisation"] = (STANDARD, sources.data)
for name, (recipe, data) in recipes.items():
    runs[name] = evaluate(trained(data, 64, TopK(3), penalty="none", recipe=recipe), sources, data)
for name in ["TopK, 64 latents", "TopK, 64 latents + AuxK", *recipes]:
    show(name, runs[name], ("dead", "missed", "MCC", "FVU", "L0"))

# %% [markdown]
# On these three seeds the whole recipe leaves at most one latent dead and misses 3 to 5 of
# the 64 sources (MCC 0.96 to 0.97), where the lecture's model loses 13 to 17 latents and
# misses 28 to 33. It also reconstructs better (FVU 0.06–0.07 against 0.17–0.19) with fewer
# latents firing per sample (L0 2.12 to 2.13 against 2.45 to 2.73): k = 3 caps L0, it does not
# fix it, since TopK keeps only positive pre-activations. Taking one ingredient out at a time:
#
# - **Without AuxK**, the rest of the recipe already keeps the latents alive (at most 2 dead,
#   here and on each of seeds 0–9), yet it misses more sources than the whole recipe, here (6
#   to 11, MCC 0.92–0.96) and on each of seeds 0–9. So AuxK's work is not only to revive
#   latents that end up dead.
# - **Without any one of the others**, MCC moves by less than 0.06 on every seed, and fewer
#   sources are missed than without AuxK: over seeds 0–9 (the test), 3.0 per seed on average
#   with the whole recipe, 8.2 without AuxK, 2.4 to 4.9 without one of the others (the most
#   without unit-norm directions, which here misses 4 to 9). The ingredients overlap: AuxK
#   alone revives every latent of the lecture's model (the row "+ AuxK" misses 3 to 5 sources),
#   and so do the other four together (the row without AuxK), so taking one out at a time
#   cannot say which does the work; it says that AuxK's absence costs the most sources. What
#   the others are for lies mostly outside this toy: the pre-encoder bias, data with a large
#   mean (this data's is small); unit-norm directions, an L1 penalty, which a latent could
#   otherwise dodge by shrinking its value and growing its direction (notebook 06).
# - **Without normalisation** the recipe does as well here, or slightly better. This data's
#   mean norm is 0.94, so normalising multiplies it by 6 and the MSE by 36, while the AuxK loss,
#   a ratio to the residual's variance, does not change: on normalised data AuxK weighs 36
#   times less against the MSE. A weight of 1/32 was tuned by Gao et al. for normalised inputs;
#   the rows before this recipe used it on raw ones.
#
# The asserts check the three seeds shown; `tests/test_claims_09.py` checks the same claims on
# seeds 0–9.

# %%
lecture_runs, standard_runs = runs["TopK, 64 latents"], runs["standard recipe"]
for lecture_run, full, no_auxk in zip(lecture_runs, standard_runs, runs["  without auxk"]):
    assert full["dead"] <= 1 and full["missed"] <= lecture_run["missed"] - 10
    assert full["MCC"] > lecture_run["MCC"] + 0.1 and full["FVU"] < lecture_run["FVU"] and full["L0"] <= lecture_run["L0"]
    assert no_auxk["dead"] <= 2 and no_auxk["missed"] > full["missed"]
for ingredient in ["pre_encoder_bias", "tied_init", "unit_norm_decoder", "normalisation"]:
    for full, without in zip(standard_runs, runs[f"  without {ingredient}"]):
        assert abs(without["MCC"] - full["MCC"]) < 0.06

# %% [markdown]
# ## 2. Shrinkage, and comparing SAEs at equal sparsity
#
# **The cause.** An L1 penalty charges every unit of a latent's value. So a ReLU SAE trained
# with it learns to report *less* than the truth: near the best value, lowering a latent by δ
# costs reconstruction error of order δ² but saves penalty in proportion to δ, so some lowering
# always pays, by about the same amount whatever the latent's value. From here on the SAEs
# have 128 latents and are built with the standard recipe of section 1 (`STANDARD`, on the raw
# data as in notebook 06, since normalising would change what a penalty weight means; its
# unit-norm decoder makes 06's L1 × decoder norm plain L1). Two measures of magnitude:
#
# - **own** and **others**, on the samples where exactly one source is active: what the
#   reconstruction writes along the source's true direction (its decoder bias left out), over
#   the source's true magnitude, from its matched latent (own) and from all the other latents
#   together (others), averaged over each source's samples, then over sources
#   (`magnitude_shares`). **sum** = own + others: below 1, the source is *shrunk*. others above
#   0: part of its value is *spread* over other latents that fire with its own, which costs
#   sparsity;
# - **γ**, the relative reconstruction bias (Rajamanoharan et al. 2024, *Gated SAEs*): the
#   factor that, dividing the whole reconstruction, fits the data best, γ = Σ x̂·x̂ / Σ x̂·x
#   over all samples. Below 1, the reconstruction as a whole is too short. It is one summary
#   for all samples, including those with no active source, and error off the data's
#   direction raises it, so it can sit nearer 1 than the sum.
#
# **Equal sparsity.** A penalty weight, or TopK's k, sets how many latents fire per sample
# (L0), and every SAE trades sparsity for reconstruction: a sparser one reconstructs worse. So
# an SAE type is a curve of FVU against L0, its *sparsity–fidelity frontier*, and two types
# are compared at the same L0, never one setting of each (as Gao et al. 2024 and Rajamanoharan
# et al. 2024 do). Each
# type here is trained at two settings with seeds 0, 1, 2 each, as one `SAEBatch` per type
# (`sparsity_weight` takes one weight per instance, `TopK` one k): ReLU + L1 at weights 0.01
# and 0.03, and, as the control with no penalty to shrink it, TopK at k = 4 and 2.

# %%
def frontier(activation, settings, penalty, sparsity_weight=1.0):
    """SAEs of 128 latents with the standard recipe, one per setting and seed, trained side by
    side: {setting: its runs for SEEDS}, each run with its magnitude scores."""
    sae = SAEBatch(32, 128, seeds=SEEDS * len(settings), sparsity_weight=sparsity_weight,
                   activation=activation, recipe=STANDARD)
    train_sae(sae, sources.data, penalty=penalty, **SETTINGS)
    model_runs = evaluate(sae, sources)
    for run in model_runs:
        shares = magnitude_shares(run["latents"], run["directions"], sources.activations, sources.directions,
                                  run["matched"])
        run["own"], run["others"] = float(np.nanmean(shares.own)), float(np.nanmean(shares.others))
        run["sum"] = float(np.nanmean(shares.own + shares.others))
        run["γ"] = float(relative_reconstruction_bias(sources.data, run["x_recon"]))
    return {setting: model_runs[i * len(SEEDS):(i + 1) * len(SEEDS)] for i, setting in enumerate(settings)}


def per_seed(values):
    """One value per setting -> the same value for each of its seeds."""
    return [value for value in values for _ in SEEDS]


relu_weights, ks = [0.01, 0.03], [4, 2]
relu_runs = frontier(F.relu, relu_weights, "decoder_norm_l1", sparsity_weight=per_seed(relu_weights))
topk_runs = frontier(TopK(per_seed(ks)), ks, "none")
FRONTIER_SCORES, MAGNITUDE_SCORES = ("L0", "FVU", "MCC", "missed"), ("own", "others", "sum", "γ")
true_l0 = (sources.activations > 0).sum(axis=1).mean()
print(f"true L0: {true_l0:.2f} active sources per sample")
for name, model_runs in [*((f"ReLU + L1, λ = {w}", relu_runs[w]) for w in relu_weights),
                         *((f"TopK, k = {k}", topk_runs[k]) for k in ks)]:
    show(name, model_runs, FRONTIER_SCORES + MAGNITUDE_SCORES)

# %% [markdown]
# **Shrinkage.** The ReLU SAEs find almost every source (MCC 0.98 or more), so by MCC and
# missed sources they are nearly perfect. Yet they shrink: at weight 0.01 their reconstruction
# writes under three quarters of each source's magnitude along it (sum 0.71 to 0.74, of which
# other latents write 0.17 to 0.19; γ 0.83 to 0.84), at 0.03 under half (0.45 to 0.46; γ 0.56).
# MCC compares directions; it cannot see magnitudes. The TopK SAEs shrink little (sum 0.92 to
# 0.95, γ 0.99 to 1.00), and spread little (others 0.03 to 0.06). At weight 0.01 the ReLU SAE
# spreads each source over more latents: L0 is over 3 times the truth's.
#
# **At equal sparsity.** ReLU at 0.03 and TopK at k = 2 fire about 2 latents per sample
# (2.07 to 2.24 against 1.73 to 2.00); ReLU at 0.01 and TopK at k = 4 about 4 (3.96 to 4.74
# against 3.31 to 3.70). At both, TopK fires no more latents (to within 0.25 on seeds 0–9,
# the test), and its FVU is lower: 0.11 to 0.13 against 0.27, and 0.04 against 0.07 to 0.08.

# %%
for relu_2, relu_4, topk_2, topk_4 in zip(relu_runs[0.03], relu_runs[0.01], topk_runs[2], topk_runs[4]):
    for relu_run in (relu_2, relu_4):
        assert relu_run["MCC"] > 0.95 and relu_run["γ"] < 0.9 and relu_run["sum"] < 0.85
    for topk_run in (topk_2, topk_4):
        assert topk_run["γ"] > 0.97 and topk_run["sum"] > 0.85 and topk_run["others"] < 0.1
    for relu_run, topk_run in [(relu_2, topk_2), (relu_4, topk_4)]:
        assert topk_run["L0"] < relu_run["L0"] + 0.25 and topk_run["FVU"] < 0.8 * relu_run["FVU"]

# %% [markdown]
# **The fix: JumpReLU** (Rajamanoharan et al. 2024, *Jumping ahead*). Keep the pre-activation z
# itself, but only where it exceeds a learned threshold θ per latent: JumpReLU(z) = z · H(z − θ),
# with H the step. A latent that fires reports z unshrunk; sparsity comes from an **L0**
# penalty, the number of active latents, which costs the same whatever the latent's value.
# Neither the step nor the count has a useful gradient with respect to θ (it is 0 almost
# everywhere), so θ learns through a *straight-through estimator*: in the backward pass only,
# the step's derivative is replaced by a rectangle of width ε (the bandwidth) around the
# threshold, K((z − θ)/ε)/ε. For the count that gives −K/ε per sample; for JumpReLU, whose
# value jumps by about θ at the threshold, −(θ/ε)K. This is all of it:

# %%
for function in [sae_helpers.model._rectangle, sae_helpers.model._JumpReLUFunction, sae_helpers.model._StepFunction]:
    print(inspect.getsource(function))

# %% [markdown]
# `JumpReLU` stores log θ (so θ stays positive), and `penalty="l0"` adds the weighted count.
# The paper starts θ at 0.001 with ε = 0.001 on inputs scaled to a fixed norm; for this data θ
# starts at 0.3 with ε = 0.05 (chosen by a few trial runs). Two weights, 0.001 and 0.01, with
# the same seeds, width and recipe; then the three frontiers (means over the seeds; the table
# has each seed):

# %%
jump_weights = [0.001, 0.01]
jump_relu = JumpReLU(128, threshold=0.3, bandwidth=0.05, n_instances=len(SEEDS) * len(jump_weights))
jump_runs = frontier(jump_relu, jump_weights, "l0", sparsity_weight=per_seed(jump_weights))
for weight in jump_weights:
    show(f"JumpReLU + L0, {weight}", jump_runs[weight], FRONTIER_SCORES + MAGNITUDE_SCORES)

curves = [("ReLU + L1", relu_runs), ("TopK", topk_runs), ("JumpReLU + L0", jump_runs)]
means = {score: [np.mean([run[score] for run in model_runs]) for _, runs_of in curves for model_runs in runs_of.values()]
         for score in ["L0", "FVU", "MCC"]}
labels = [name for name, runs_of in curves for _ in runs_of]
fig, axs = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
plot_tradeoff(means["L0"], means["FVU"], labels, ax=axs[0], true_l0=true_l0)
plot_tradeoff(means["L0"], means["MCC"], labels, ax=axs[1], true_l0=true_l0, ylabel="MCC", title="Recovery vs sparsity")
plt.show()

# %% [markdown]
# JumpReLU at weight 0.001 shrinks little (sum 0.93 to 0.96, γ 0.99 to 1.00), and its points
# lie to the left of both other curves: it fires no more latents than TopK at k = 2 (1.37 to
# 1.56 against 1.73 to 2.00) and reconstructs better (FVU 0.04 to 0.05 against 0.11 to 0.13),
# about as well as TopK at k = 4 does with 3.3 to 3.7 latents. Both miss a few sources
# (JumpReLU 2 to 6 at either weight, TopK at k = 2 2 to 7: the table; the right-hand panel
# shows the mean MCC). Each curve has two points, means over the three seeds, the hollow one
# at the weaker penalty or the larger k: a frontier in miniature. At 0.01, JumpReLU fires
# fewer latents than there are active sources (L0 1.07 to 1.08 against 1.27), and its sum
# falls to 0.84 to 0.86. The thresholds say why; with unit-norm decoder directions, θ is in
# the units of the sources. Their median over the matched latents, per seed:

# %%
thresholds = jump_relu.log_threshold.exp().detach().numpy()[:, 0]  # (instances, latents)
strong = thresholds[len(SEEDS):]  # weight 0.01
print("median θ of the matched latents, weight 0.01:",
      np.round([np.median(theta[run["matched"]]) for theta, run in zip(strong, jump_runs[0.01])], 2))

# %% [markdown]
# They sit above the smallest true magnitudes (0.5): a source whose magnitude is below its
# latent's threshold (at θ = 0.6, 1 in 10 of magnitudes drawn from 0.5 to 1.5) is cut to 0,
# and that lowers the sum.
#
# A caution: this toy favours a threshold. Its magnitudes start at 0.5, so a threshold below
# that costs nothing, and JumpReLU's lead may be smaller on features that have no such gap at
# zero, as real ones do not.

# %%
for weak, strong, topk_2, relu_2 in zip(jump_runs[0.001], jump_runs[0.01], topk_runs[2], relu_runs[0.03]):
    assert weak["γ"] > 0.97 and strong["γ"] > 0.97 and weak["sum"] > 0.85 and strong["L0"] < true_l0
    assert weak["L0"] < topk_2["L0"] + 0.2 and weak["FVU"] < 0.7 * topk_2["FVU"] and weak["FVU"] < relu_2["FVU"] / 4

# %% [markdown]
# Where the shrinkage comes from (weight 0.01 for both, though the penalties differ and so does
# L0, 4.0 to 4.7 and 1.1; 200 single-source samples each), one panel per seed: what the matched
# latent reports (its value times its decoder norm) against the truth.

# %%
fig, axs = plt.subplots(1, 3, figsize=(12, 3.5), layout="constrained", sharey=True)
for seed, ax in enumerate(axs):
    points = {}
    for name, method_runs in [("ReLU + L1, 0.01", relu_runs[0.01]), ("JumpReLU + L0, 0.01", jump_runs[0.01])]:
        run = method_runs[seed]
        magnitudes = single_source_magnitudes(run["latents"], run["directions"], sources.activations, run["matched"])
        points[name] = (magnitudes.true[:200], magnitudes.reported[:200])
    plot_magnitudes(points, ax=ax, title=f"Single-source samples, seed {seed}")
plt.show()

# %% [markdown]
# The ReLU SAE's points lie in bands parallel to the diagonal, below it: each latent reports
# its source minus a roughly constant amount, the shrinkage the cause above predicts, by an
# amount that differs between latents. JumpReLU's lie just under the diagonal, except the
# samples at 0: weak sources below a threshold, and sources it missed.

# %% [markdown]
# ## 3. Feature absorption
#
# **The cause.** Real features come in hierarchies: "starts with S" is implied by "the word
# snake". Chanin et al. (2024) found that an SAE then often learns a latent for the general
# feature that goes silent whenever a specific one is active, because the specific latent's
# decoder direction has *absorbed* the general direction: firing one latent instead of two
# reconstructs as well and is cheaper (under an L1 penalty, one value paid for instead of two;
# under TopK, one of the k places left free for another source).
#
# We build that hierarchy: 8 parent sources (p = 0.05) with 4 children each; a child can be
# active only when its parent is, and then is with probability 0.3 (`parents` in
# `make_sparse_sources`). The control has the same 40 sources at the same rates, with the
# children independent of their parents (p = 0.05 × 0.3 = 0.015). TopK SAEs (k = 2, 64 latents,
# the standard recipe on the raw data, as in section 2) train on each.

# %%
parents = np.array([-1] * 8 + [parent for parent in range(8) for _ in range(4)])
hierarchy = make_sparse_sources(40, 32, p=[0.05] * 8 + [0.3] * 32, n_samples=10_000, seed=0, parents=parents)
independent = make_sparse_sources(40, 32, p=[0.05] * 8 + [0.015] * 32, n_samples=10_000, seed=0)
is_child = parents >= 0
print("children active per sample: hierarchy", (hierarchy.activations[:, is_child] > 0).sum(axis=1).mean().round(3),
      " independent", (independent.activations[:, is_child] > 0).sum(axis=1).mean().round(3))
assert ((hierarchy.activations[:, is_child] > 0) <= (hierarchy.activations[:, parents[is_child]] > 0)).all()

# %% [markdown]
# Both datasets have about 0.47 active children per sample (32 × 0.015 = 0.48); only the
# hierarchy ties them to their parents (the assert).

# %% [markdown]
# ## Exercise 3: the absorption score
#
# Match each source to a latent by its decoder direction. For a parent's latent, compare its
# **recall** (the fraction of the parent's samples on which it fires) on samples where one of
# the parent's children is active with its recall where none is:
#
#     absorption = 1 − recall(parent and a child) / recall(parent, no child)
#
# 0 if the latent fires as often either way, 1 if it goes silent whenever a child is active.
#
# Write it for many parents at once. In: boolean numpy arrays `fires`, `parent_active`,
# `child_active`, each (n_samples, n_parents): whether the parent's latent fires, the parent is
# active, any of its children is active. Out: (n_parents,). Return NaN where the score cannot
# be told, because one of the two recalls has nothing to compare with: where the latent never
# fires on its parent without a child, or where no sample has the parent with a child.

# %%
def absorption_score(fires, parent_active, child_active):
    raise NotImplementedError  # your code here


# %% [markdown]
# The check: three parents with some absorption, a latent that never misses its parent, one
# that fires only when a child is active too, and parents that never appear with a child.

# %%
absorption_fn = check(absorption_score, ABSORPTION)

# %% [markdown]
# <details><summary>Hint</summary>
#
# The two groups are `parent_active & child_active` and `parent_active & ~child_active`. A
# recall is `(fires & group).sum(axis=0) / np.maximum(group.sum(axis=0), 1)` (no division by
# 0 for an empty group). Use
# `np.where(defined, 1 - recall_with / recall_without, np.nan)`, with `defined` true where
# `recall_without > 0` and the group with a child is not empty.
# </details>
#
# <details><summary>Solution</summary>
#
# ```python
# def absorption_score(fires, parent_active, child_active):
#     with_child, without = parent_active & child_active, parent_active & ~child_active
#     recall_with = (fires & with_child).sum(axis=0) / np.maximum(with_child.sum(axis=0), 1)
#     recall_without = (fires & without).sum(axis=0) / np.maximum(without.sum(axis=0), 1)
#     defined = (recall_without > 0) & (with_child.sum(axis=0) > 0)
#     with np.errstate(divide="ignore", invalid="ignore"):
#         return np.where(defined, 1 - recall_with / recall_without, np.nan)
# ```
# </details>

# %% [markdown]
# `sae_helpers.metrics.absorption` builds the three arrays from an SAE's latents and the
# matching, and calls a score function: yours once it passes. One more care: a sample where the
# parent and a child are active often has other sources active too, more than TopK's k = 2
# places, and then the parent's latent may be pushed out with no absorption at all. So only
# samples with at most 2 active sources count (`max_active=2`).
#
# This score is a simple stand-in for Chanin et al.'s, which counts a parent latent's misses
# only where a child's latent carries the parent's direction instead. That second half has its
# own measure here: how far the children's decoder directions **lean** towards their parent's
# true direction (mean |cos|; for random directions in 32 dimensions it is about 0.14).

# %%
def add_absorption(model_runs, sources):
    """Absorption per parent and its mean (and how many are undefined), and the children's lean."""
    for run in model_runs:
        scores = absorption(run["latents"], sources.activations, run["matched"], parents, max_active=2,
                            score=absorption_fn)
        lean = abs_cosines(sources.directions[~is_child], run["directions"][run["matched"][is_child]])
        run["per parent"] = scores
        run["absorption"] = float(np.nanmean(scores))
        run["undefined"] = int(np.isnan(scores).sum())
        run["lean"] = float(np.mean([lean[p, parents[is_child] == p].mean() for p in range(8)]))


ABSORPTION_SCORES = ("MCC", "absorption", "undefined", "lean")
absorbed = {"hierarchy": evaluate(trained(hierarchy.data, 64, TopK(2), "none", recipe=STANDARD), hierarchy),
            "independent (control)": evaluate(trained(independent.data, 64, TopK(2), "none", recipe=STANDARD),
                                              independent)}
for name, model_runs in absorbed.items():
    add_absorption(model_runs, hierarchy if name == "hierarchy" else independent)
    show(name, model_runs, ABSORPTION_SCORES)

# %% [markdown]
# In the control the score is about 0 (0.00 to 0.01): a parent's latent fires as often with a
# child as without. Under the hierarchy it fires about a third less often when a child is
# active (absorption 0.27 to 0.37), and the children's decoder directions lean towards their
# parent (|cos| 0.38 to 0.41 against 0.14 to 0.15). MCC is lower too (0.78 to 0.83 against
# 0.98 to 0.99). "undefined" counts the parents whose score cannot be told (their latent never
# fires on them without a child); the mean leaves them out. On seeds 0–9 (the test) at most
# one parent is undefined, and the hierarchy's score is above the control's by more than 0.15
# on every seed.

# %%
for hier_run, control_run in zip(absorbed["hierarchy"], absorbed["independent (control)"]):
    assert hier_run["absorption"] > control_run["absorption"] + 0.15
    assert hier_run["lean"] > control_run["lean"] + 0.15

# %% [markdown]
# **A fix, partly: Matryoshka SAEs** (Bussmann et al. 2025; Nabeshima 2024). Make the first few
# latents reconstruct the input *on their own*, as if the SAE were only that wide. With 8
# latents the best they can do is cover the sources that explain the most, here the parents
# (the most frequent), and a parent latent in the prefix gains nothing by folding its direction
# into a child's, which the prefix loss does not see. `train_sae` takes the penalty as a
# function of the model, the batch and the forward pass, so the fix is these lines: the MSE of
# the first 8 latents' reconstruction (the model's recipe adds AuxK as before). It is the
# smallest version of the idea: the papers sum the loss over many nested prefixes and select
# latents with BatchTopK over the whole batch; here there is one prefix, the per-sample TopK,
# and equal weights.

# %%
PREFIX = 8


def matryoshka(model, x, output):
    """The MSE of the reconstruction from the first PREFIX latents alone (`train_sae` adds the
    AuxK loss of the model's recipe)."""
    prefix = torch.cat([output.latents[..., :PREFIX], torch.zeros_like(output.latents[..., PREFIX:])], dim=-1)
    return ((model.decode(prefix) - x) ** 2).mean(dim=(-2, -1))


# %% [markdown]
# The same seeds, on the hierarchy; "parents in prefix" counts the parents matched to one of
# the first 8 latents (by chance, 8 × 8/64 = 1):

# %%
absorbed["hierarchy, Matryoshka"] = evaluate(
    trained(hierarchy.data, 64, TopK(2), matryoshka, recipe=STANDARD), hierarchy)
add_absorption(absorbed["hierarchy, Matryoshka"], hierarchy)
for name, model_runs in absorbed.items():
    for run in model_runs:
        run["parents in prefix"] = int((run["matched"][~is_child] < PREFIX).sum())
    show(name, model_runs, ABSORPTION_SCORES + ("parents in prefix",))

# %% [markdown]
# The Matryoshka SAE puts more parents in its first 8 latents on each seed here (6, 2 and 4 of 8,
# against 2, 0 and 1 in the plain SAE). On seeds 0 and 2, with 6 and 4 there, it absorbs less
# (0.17 and 0.18 against 0.27 and 0.37); on seed 1 only 2 parents made it, and it absorbs a
# little more (0.39 against 0.34).
# Its children lean less towards their parents (0.18 to 0.32 against 0.38 to 0.41). On seeds
# 0–9 (the test) the mean falls on 8 of the 10 seeds (by 0.08 at the median), so the asserts
# below compare the means over the seeds shown.
#
# A mean over 8 parents hides how the fix works. Split it: the parents whose matched latent
# is one of the first 8, and the others. In the plain SAE the first 8 latents are nothing
# special, so its split is the control:

# %%
for name in ["hierarchy", "hierarchy, Matryoshka"]:
    for run in absorbed[name]:
        in_prefix = run["matched"][~is_child] < PREFIX
        run["in prefix"] = float(np.nanmean(run["per parent"][in_prefix])) if in_prefix.any() else float("nan")
        run["outside"] = float(np.nanmean(run["per parent"][~in_prefix]))
    show(name, absorbed[name], ("parents in prefix", "in prefix", "outside"))

# %% [markdown]
# That is where the lower mean comes from. A parent whose latent is in the prefix is hardly
# absorbed (absorption 0.07 or less on every seed shown; over seeds 0–9 the median is 0.06,
# the largest 0.15); a parent outside it is absorbed about as much as in the plain SAE, or
# more (0.50 / 0.49 / 0.38 here, against 0.32 / 0.34 / 0.40 for the plain SAE's parents
# outside its first 8). In the plain SAE the few parents that happen to sit in the first 8
# latents are absorbed less too (0.12 and 0.21 here; over
# seeds 0–9, 0.17 on average against 0.32 outside), though nothing makes those latents
# special: so compare the Matryoshka SAE's prefix with the plain SAE's (0.05 against 0.17 on
# average over seeds 0–9, the test), not with its own outside. Which parents land in the
# prefix is up to training, so this compares the parents that did with those that did not.
# Matryoshka works for what fits in the prefix, and here only 2 to 6 of the 8 parents do, so
# it lowers the mean without removing absorption: the score stays above the control's (by more
# than 0.05 on each of seeds 0–9, the test), and MCC does not recover (0.77 to 0.81, against
# 0.78 to 0.83 without the prefix loss).

# %%
def over_seeds(name, score):
    """The mean of one score over the seeds shown (those where it is defined)."""
    return np.nanmean([run[score] for run in absorbed[name]])


fixed = "hierarchy, Matryoshka"
for score in ["absorption", "lean"]:
    assert over_seeds(fixed, score) < over_seeds("hierarchy", score)
for fixed_run, control_run in zip(absorbed[fixed], absorbed["independent (control)"]):
    assert fixed_run["absorption"] > control_run["absorption"] + 0.05
assert all(run["in prefix"] < 0.1 for run in absorbed[fixed])
assert over_seeds(fixed, "in prefix") < over_seeds("hierarchy", "in prefix") - 0.05
assert over_seeds(fixed, "outside") > over_seeds("hierarchy", "outside") - 0.05

# %% [markdown]
# ## Explore
#
# The sliders set the number of latents and k of one TopK SAE (seed 0) on this notebook's 64
# sources (20,000 samples of them, in batches of 1024), with or without AuxK; on release it
# retrains (about a second: 25 epochs, in float32, so counts differ from the tables). The
# figure: how often each latent fires, and in the title the dead latents and missed sources.
#
# Tasks:
#
# 1. Without AuxK, at k = 3: how many latents does it take until no source is missed? Are
#    there dead latents at that width?
# 2. At 64 latents without AuxK, raise k from 1 to 6. What happens to the dead latents?
# 3. Turn on AuxK at 48 latents. Does any latent die? How many sources are missed, and why
#    can no setting of 48 latents find all 64?
#
# <details><summary>Answers (seed 0)</summary>
#
# 1. Missed sources fall as the dictionary widens (more than 20 at 64 latents, a few at 128)
#    and reach 0 at about 144 latents, where 40 or more latents are dead: the spare capacity of
#    section 1.
# 2. Dead latents fall from 25 or more at k = 1 to a few at k = 6: each sample now gives k
#    latents a gradient. Missed sources do not keep falling (fewest at k = 4): with k far above
#    the 1.28 active sources, every sample makes several latents fire that belong to no active
#    source, most likely pulling their directions away from their own.
# 3. None dies, but many sources are still missed (27 on our machine). 48 latents cannot give
#    each of 64 sources its own: at least 16 must be missed, whatever the training (no two
#    sources are close enough to share a latent). AuxK wastes nothing; it cannot make room that
#    is not there.
# </details>

# %%
# NBVAL_IGNORE_OUTPUT
dead_latents_explorer()

# %% [markdown]
# ## Recap
#
# | failure | seen as | its control | the fix | after the fix |
# |---|---|---|---|---|
# | dead latents | TopK, 64 latents, the lecture's model: 13 to 17 dead, 28 to 33 of 64 sources missed | 128 latents: 42 to 50 dead, none missed | AuxK; the standard recipe | AuxK: 0 dead, 3 to 5 missed; the recipe: at most 1 dead, 3 to 5 missed |
# | shrinkage | ReLU + L1 (the recipe, λ 0.01): 0.71 to 0.74 of each source written along it, γ 0.83 to 0.84, MCC 0.98 to 0.99; at L0 ≈ 2 and 4, FVU above TopK's | TopK, k 4 and 2: 0.92 to 0.95, γ 0.99 to 1.00 | JumpReLU + L0 | at L0 1.4 to 1.6: 0.93 to 0.96, γ 0.99 to 1.00, FVU 0.04 to 0.05 (TopK at L0 ≈ 2: 0.11 to 0.13), 2 to 6 sources missed |
# | absorption | TopK: parents' latents absorb 0.27 to 0.37 | independent children: 0.00 to 0.01 | Matryoshka prefix | 0.17 to 0.39 (control, independent children: 0.00 to 0.01): parents in the prefix 0.07 or less, the others about as before |
#
# - A dead latent matters only when the dictionary needs it: count missed features, not only
#   dead latents.
# - Train with the recipe the field uses, and measure an ingredient by taking it out. Here the
#   ingredients overlap (AuxK alone, or the other four together, keep latents alive), AuxK's
#   absence costs the most sources, and normalising the inputs changes what AuxK's weight means.
# - MCC scores directions, not magnitudes: an SAE can score 0.99 while it writes under three
#   quarters of each source (γ 0.83 to 0.84). Measure what the latents report, and tell
#   shrinkage from a value spread over several latents.
# - Compare SAE types at equal sparsity, along their frontiers of FVU against L0: one setting
#   of each says little.
# - An absorption score needs a control, and samples where a TopK SAE has room for every
#   active source.
# - Each fix is a few lines on top of the same training loop: a penalty function (AuxK,
#   Matryoshka) or an activation (JumpReLU) that `train_sae` trains through the model's own
#   forward pass.
#
# Back to the start: [01 · Mixing latent sources](01_mixing_sources.ipynb).
