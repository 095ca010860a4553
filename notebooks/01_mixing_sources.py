# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 · Mixing latent sources
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/sae-notebooks/sae-notebooks/blob/main/notebooks/01_mixing_sources.ipynb)
#
# Part 1 of the course (01-05): the lecture, reproduced and checked, on a dense toy with two
# sources. Terms and scores are defined in the [glossary](https://github.com/sae-notebooks/sae-notebooks/blob/main/GLOSSARY.md).
#
# A sparse autoencoder (SAE) tries to recover hidden causes from what we can measure. To judge
# whether it succeeds we need data whose hidden causes we know. In this notebook you will:
#
# - build two **sources**, the ground truth that later notebooks try to recover;
# - **mix** them with a matrix into the two variables we actually observe;
# - see that mixing makes uncorrelated sources look correlated;
# - check that the mixing can be undone when the matrix is known (the SAE will not know it);
# - write the correlation coefficient and the unmixing yourself (exercises with self-checks);
# - vary the mixing matrix with an explorer, with two tasks to solve.

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
# Imports and versions. Nothing in this notebook is random, so there is no seed to set.
#
# <details><summary>Why the numbers are the same on any computer</summary>
#
# CI re-executes this notebook and compares every printed number with the stored one (strict
# nbval), under the numeric settings of `tools/numeric.env` (see the README). So every random
# draw is seeded, numbers are printed only to the precision their spread across CPUs allows,
# and each conclusion is an `assert` with a margin, which holds on any machine.
# </details>

# %%
import matplotlib.pyplot as plt
import numpy as np

from sae_helpers.data import LECTURE_MIXING, lecture_sources, make_lecture_data
from sae_helpers.exercises import check
from sae_helpers.exercises.mixing_sources import PEARSON_R, UNMIX
from sae_helpers.metrics import corr
from sae_helpers.plots import plot_mixing_overview, plot_signals
from sae_helpers.widgets import mixing_explorer

print(f"numpy {np.__version__}")

# %% [markdown]
# ## Two sources we know
#
# Time `t` runs over seven periods of a sine wave (0 to 14π) in 3000 samples. Source 1 is a
# smooth sine wave; source 2 is a square wave three times faster. Both are shifted up by 1 so
# that they are never negative.

# %%
n_samples = 3000
t = np.linspace(0, 14 * np.pi, n_samples)
source1 = np.sin(t) + 1  # smooth, between 0 and 2
source2 = np.sign(np.sin(3 * t)) + 1  # switches between 0 and 2
sources = np.stack([source1, source2], axis=1)
sources.shape

# %% [markdown]
# The rows are samples (time points) and the columns are sources. The helper
# `lecture_sources` builds exactly these arrays; later notebooks use it instead of this cell.

# %%
assert np.array_equal(sources, lecture_sources(n_samples)[1])

# %% [markdown]
# ## Exercise 1: the correlation coefficient
#
# Every notebook measures how two signals move together with Pearson's r:
#
#     r = cov(a, b) / (std(a) · std(b)),   cov(a, b) = mean of (a − mean(a)) (b − mean(b))
#
# 1 when b rises exactly as a does, −1 when it falls exactly as a rises, 0 when neither.
# Write it. In: two 1-D numpy arrays `a` and `b` of the same length. Out: r, one number.
# Replace the `raise` line with your code and run the cell, then the check below it.

# %%
def pearson_r(a, b):
    raise NotImplementedError  # your code here


# %% [markdown]
# The check runs your function and the reference on three cases and names the mistake it
# recognises. Until it passes, the cells below use the reference. Every exercise in these
# notebooks works this way: skip one, and the notebook still runs.

# %%
r = check(pearson_r, PEARSON_R)

# %% [markdown]
# <details><summary>Hint</summary>
#
# Subtract each array's mean, average the product of the two centred arrays (the covariance),
# then divide by `a.std() * b.std()` (numpy's std divides by n, as the mean does).
# </details>
#
# <details><summary>Solution</summary>
#
# ```python
# def pearson_r(a, b):
#     a_centred, b_centred = a - a.mean(), b - b.mean()
#     return np.mean(a_centred * b_centred) / (a.std() * b.std())
# ```
# </details>

# %% [markdown]
# The two sources are uncorrelated: their correlation over the 3000 samples is essentially zero.

# %%
print(f"r(source 1, source 2) = {r(source1, source2):.4f}")

# %% [markdown]
# Uncorrelated is not independent, though. The square wave has 3 periods per period of the
# sine, and at every peak of the sine (t = π/2 + 2πk) it sits at 0. Knowing source 1 tells
# you something about source 2: near its peaks, source 2 is never up.

# %%
near_peak = source1 > 1.95
print(f"source 2 is up (= 2) on {(source2 == 2).mean():.0%} of all samples, "
      f"on {(source2[near_peak] == 2).mean():.0%} of the samples where source 1 > 1.95")
assert (source2[near_peak] == 0).all() and 0.4 < (source2 == 2).mean() < 0.6

# %% [markdown]
# ## Mixing them
#
# We never observe the sources directly, only linear mixtures of them. Row *i* of the mixing
# matrix is the direction in which source *i* pushes the observed variables:
# `data = sources @ mixing`.

# %%
mixing = np.array([[1.0, 0.4], [0.6, 1.0]])
data = sources @ mixing
data.shape

# %% [markdown]
# Written out: variable 1 = 1.0 · source 1 + 0.6 · source 2, and variable 2 =
# 0.4 · source 1 + 1.0 · source 2. Each observed variable contains both sources, so the two
# variables are now strongly correlated, although the sources are not.

# %%
r_sources = corr(sources[:, :1], sources[:, 1:])[0, 0]
r_data = corr(data[:, :1], data[:, 1:])[0, 0]
print(f"r between the sources:        {r_sources:.2f}")
print(f"r between the mixed variables: {r_data:.2f}")
assert abs(r_sources) < 0.01 and r_data > 0.8

# %% [markdown]
# Neither observed variable is a clean copy of a source. This table gives |r| between each
# variable (row) and each source (column): the best copy of source 1 reaches only 0.76.

# %%
print("            source 1  source 2")
for i, row in enumerate(np.abs(corr(data, sources))):
    print(f"variable {i + 1}  {row[0]:8.2f}  {row[1]:8.2f}")

# %% [markdown]
# ## The picture
#
# Top row: the sources and the mixed variables over time. Bottom row: their histograms. Look at
# the square wave's two spikes (at 0 and 2) and how mixing smears them into a mixture of the
# sine wave's shape at two offsets.

# %%
plot_mixing_overview(sources, data)
plt.show()

# %% [markdown]
# ## Exercise 2: unmixing with the answer key
#
# This mixing matrix is invertible, so knowing it would undo the mixing exactly. An SAE gets
# only `data`; the next notebooks ask how close it comes to this answer without the key.
#
# Write `unmix`. In: `data` (n_samples, n_sources) and the square `mixing` matrix that made it
# (`data = sources @ mixing`). Out: the sources, (n_samples, n_sources).

# %%
def unmix(data, mixing):
    raise NotImplementedError  # your code here: one line


# %% [markdown]
# The check: the lecture's data, three sources, and a mixing matrix that is not symmetric.

# %%
unmixed = check(unmix, UNMIX)

# %% [markdown]
# <details><summary>Hint</summary>
#
# Multiply both sides of `data = sources @ mixing` from the right by the inverse of the mixing
# matrix (`np.linalg.inv`).
# </details>
#
# <details><summary>Solution</summary>
#
# ```python
# def unmix(data, mixing):
#     return data @ np.linalg.inv(mixing)
# ```
# </details>

# %% [markdown]
# The unmixed data against the true sources:

# %%
recovered = unmixed(data, mixing)
print(f"largest error of the exact unmixing: {np.abs(recovered - sources).max():.1e}")
assert np.allclose(recovered, sources)

# %% [markdown]
# The helper `make_lecture_data` bundles all of the above (time, sources, mixing matrix and
# data) into one object; its default mixing matrix is the one used here.

# %%
lecture = make_lecture_data()
assert np.array_equal(lecture.data, data) and np.array_equal(lecture.mixing, LECTURE_MIXING)

# %% [markdown]
# ## Exploring the mixing
#
# How correlated the observed variables become depends on the matrix. Here are three settings:
# no mixing (the identity), the lecture's matrix, and one that is close to singular, where
# both variables carry almost the same blend.

# %%
settings = {
    "identity": [[1, 0], [0, 1]],
    "lecture": LECTURE_MIXING,
    "near-singular": [[1, 0.9], [0.9, 1]],
}
fig, axs = plt.subplots(1, 3, figsize=(15, 3), layout="constrained", sharey=True)
for ax, (name, matrix) in zip(axs, settings.items()):
    plot_signals(make_lecture_data(mixing=matrix).data, ["Variable 1", "Variable 2"], name, ax=ax)
plt.show()

# %% [markdown]
# The closer the two rows of the matrix, the closer the variables get to being one signal:
# the near-singular mixing still has an inverse, but undoing it amplifies any noise a lot.

# %%
for name, matrix in settings.items():
    print(f"{name:>13}: condition number {np.linalg.cond(matrix):5.1f}")

# %% [markdown]
# Now try it yourself: each slider sets one entry of the mixing matrix (a11 is row 1, column
# 1) and the figure is redrawn when you release it. Tasks:
#
# 1. Make the mixed variables anti-correlated, with r below −0.5 (the top-right panel's title
#    shows r).
# 2. Make the two variables identical. What happens to the inverse then?
#
# <details><summary>Answers</summary>
#
# 1. Give the second column the opposite signs of the first, e.g. a11 = 1, a12 = −1, a21 = −0.6,
#    a22 = 1: r ≈ −0.97. (Variable 1 = source 1 − 0.6 · source 2, variable 2 = −source 1 +
#    source 2: whatever raises one lowers the other.)
# 2. Make the two columns equal, e.g. a12 = a11 = 1 and a22 = a21 = 0.6: both variables are
#    source 1 + 0.6 · source 2. The matrix is then singular (its determinant is 0) and has no
#    inverse: one signal cannot be split back into two sources.
# </details>

# %%
# NBVAL_IGNORE_OUTPUT
mixing_explorer()

# %% [markdown]
# ## Recap
#
# - Two uncorrelated (but not independent) sources, a sine wave and a square wave, are the
#   ground truth.
# - Mixing them with `[[1, .4], [.6, 1]]` gives two observed variables that correlate at 0.83
#   and that each follow both sources.
# - With the mixing matrix in hand, unmixing is one matrix inverse (you wrote it); the SAE must
#   find the sources without it.
#
# Next: [02 · Defining the sparse autoencoder](02_defining_the_sae.ipynb).
