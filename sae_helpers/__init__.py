"""Helpers for the SAE teaching notebooks: data with known ground truth, the lecture's
sparse autoencoder, one training function, metrics, plots and widgets.

The notebooks build everything inline first; this package holds the same code so that each
notebook can rebuild its data and model in seconds in a fresh kernel.
"""

from sae_helpers.metrics import match_latents
from sae_helpers.model import SparseAutoencoder
from sae_helpers.train import train_sae

__all__ = ["SparseAutoencoder", "match_latents", "train_sae"]
