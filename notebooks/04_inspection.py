# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 · Inspecting what the SAE learned
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/sae-notebooks/sae-notebooks/blob/main/notebooks/04_inspection.ipynb)
#
# The SAE of notebook 03 reconstructs the data well. Does it also find the two sources? In this
# notebook you will:
#
# - run the trained SAE once more and collect its 20 latents;
# - look at how the latents correlate with each other;
# - find, for each ground-truth source, the latent that follows it best;
# - plot those latents next to the sources they stand for;
# - test the headline number against a control, and see why it is weaker than it looks.

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
# Imports, seed and versions.

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch

from sae_helpers import SparseAutoencoder, match_latents, train_sae
from sae_helpers.data import make_lecture_data
from sae_helpers.metrics import abs_corr
from sae_helpers.plots import plot_histograms, plot_latent_corr, plot_signals

torch.manual_seed(0)
print(f"torch {torch.__version__}, numpy {np.__version__}")

# %% [markdown]
# ## The trained model
#
# Each notebook runs on its own, so we retrain notebook 03's model here: same data, seed and
# settings, so the same weights (its final MSE matches notebook 03's). This takes about a second.

# %%
lecture = make_lecture_data()
torch.manual_seed(0)
model = SparseAutoencoder(2, 20, sparsity_weight=1.0)
history = train_sae(model, lecture.data, n_epochs=600, lr=0.0007, penalty="l1", progress=False)
print(f"final MSE: {history.mse[-1]:.4f}")

# %% [markdown]
# ## One final forward pass
#
# Encode all 3000 samples. Gradients are not needed any more, so `torch.no_grad()` skips
# recording them; the result becomes a numpy array of shape (samples, latents).

# %%
X = torch.tensor(lecture.data, dtype=torch.float32)
with torch.no_grad():
    latents = model.encode(X).numpy()
latents.shape

# %% [markdown]
# ## How the latents relate to each other
#
# The correlation between every pair of latents over the 3000 samples (red: rise together; blue:
# one rises when the other falls). The latents are sorted by the source they follow most, then
# by how closely, and labelled with their own numbers. Look for blocks: groups of latents that
# carry nearly the same signal. A constant latent would show as a blank row and column.

# %%
r_sources = abs_corr(latents, lecture.sources)  # (latents, sources)
order = np.lexsort((-r_sources.max(axis=1), r_sources.argmax(axis=1)))
ax = plot_latent_corr(latents[:, order]).axes[0]
ax.set_xticks(range(len(order)), order, fontsize=7)
ax.set_yticks(range(len(order)), order, fontsize=7)
plt.show()

# %% [markdown]
# ## The best latent for each source
#
# For each source, the lecture picks the latent with the highest |r| with that source.
# `match_latents` does exactly this.

# %%
matches = match_latents(latents, lecture.sources)
for source, (latent, r) in enumerate(zip(matches.latent, matches.abs_r)):
    print(f"source {source + 1}: best latent {latent:2} (|r| = {r:.3f})")

# %% [markdown]
# Both sources have a latent that follows them almost perfectly, and the two are different
# latents. Here they are over time and as histograms: compare their shapes with the sources in
# notebook 01's figure (a latent may also follow its source upside down: |r| ignores the sign).
# The r in the left title is the correlation between the two latents.

# %%
best = latents[:, matches.latent]
labels = [f"Latent {i} (source {n + 1})" for n, i in enumerate(matches.latent)]
fig, axs = plt.subplots(1, 2, figsize=(12, 3), layout="constrained")
plot_signals(best, labels, "Best-matching latents", ax=axs[0])
plot_histograms(best, labels, "Histograms of the best latents", ax=axs[1], density=False)
plt.show()

# %% [markdown]
# |r| ignores scale. How much a latent moves the reconstruction is its range times the length
# of its decoder column; how much a source moves the data is its range times the length of its
# row of the mixing matrix. Compare the two.

# %%
decoder = model.decoder.weight.detach().numpy()  # (2, 20): column j is latent j's direction
effects = []
for source, latent in enumerate(matches.latent):
    source_effect = np.ptp(lecture.sources[:, source]) * np.linalg.norm(lecture.mixing[source])
    latent_effect = np.ptp(latents[:, latent]) * np.linalg.norm(decoder[:, latent])
    effects.append((source_effect, latent_effect))
    print(f"source {source + 1} moves the data by {source_effect:.2f}; "
          f"its best latent ({latent}) moves the reconstruction by {latent_effect:.2f}")

# %% [markdown]
# Neither best latent carries its source alone: the source-1 latent reproduces about a quarter of
# that source's effect, the source-2 latent about 1%. Yet the reconstruction leaves only about 4%
# of the variance unexplained (notebook 03), so other latents must carry the rest.

# %%
assert all(latent_effect < 0.5 * source_effect for source_effect, latent_effect in effects)

# %% [markdown]
# ## Is |r| ≈ 0.99 evidence of learning?
#
# A number means something only next to a control. Apply the same selection (best of 20 latents
# per source) to the **same model before training**, and to the two raw mixed variables.

# %%
torch.manual_seed(0)
untrained = SparseAutoencoder(2, 20)
with torch.no_grad():
    untrained_latents = untrained.encode(X).numpy()

rows = {
    "trained SAE": matches.abs_r,
    "untrained SAE": match_latents(untrained_latents, lecture.sources).abs_r,
    "raw mixed variables": abs_corr(lecture.data, lecture.sources).max(axis=0),
}
print(f"{'best |r| with':22}source 1  source 2")
for name, (r1, r2) in rows.items():
    print(f"{name:22}{r1:8.3f}  {r2:8.3f}")

# %% [markdown]
# The untrained SAE scores almost as high as the trained one. With 2-D data, 20 random
# directions almost surely include one close to each unmixing direction, and picking the best of
# 20 finds it. So "the best latent correlates at 0.99" does not show that training did anything;
# the raw mixed variables, by contrast, are a clearly weaker match for source 1.

# %%
assert (rows["untrained SAE"] > 0.95).all()
assert (rows["trained SAE"] - rows["untrained SAE"] < 0.05).all()
assert (rows["raw mixed variables"] < rows["untrained SAE"]).all()

# %% [markdown]
# ## Recap
#
# - After training, each source has a latent with |r| ≈ 0.99–1.00.
# - Those best latents carry only part of their source's effect on the data (about 27% and 1%
#   here); other latents carry the rest.
# - The same selection applied to an untrained SAE gives nearly the same numbers: this statistic
#   cannot tell a trained SAE from chance on this toy.
# - Telling them apart needs other measurements: one-to-one matching, the decoder's directions
#   compared with the true mixing directions, how sparse the latents are, and baselines such as
#   PCA and ICA on the same data.
#
# Next, those measurements across many seeds: [05 · Did the SAE learn? Controls and baselines](05_controls.ipynb).
