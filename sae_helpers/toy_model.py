"""Anthropic's toy model of superposition (Elhage et al. 2022): a network that learns to pack
n sparse features into m < n hidden dimensions. K instances train side by side, one per
feature probability, as in the paper and ARENA's chapter 1.3.1:

    h  = W x                  x: (n_features,) the features, W: (n_hidden, n_features)
    x' = ReLU(Wᵀ h + b)       b: (n_features,)

trained to minimise the importance-weighted MSE, the mean over samples of Σᵢ Iᵢ (xᵢ − x'ᵢ)².
Each feature is present with the instance's probability p, and then uniform on [0, 1).
Column i of W is the direction feature i is written to in the hidden space: the ground truth
an SAE trained on h should find. A feature the model drops has a column of length near 0.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

from sae_helpers.checks import check_positive_int
from sae_helpers.data import SparseSources
from sae_helpers.progress import progress_bar

REPRESENTED_NORM = 0.5  # a feature whose column of W is longer than this is represented


def importance_weighted_mse(x, x_recon, importance):
    """Mean over samples of Σᵢ Iᵢ (xᵢ − x'ᵢ)²: x and x_recon (..., n_samples, n_features),
    importance broadcastable to them (e.g. (n_features,)) -> (...)."""
    return (importance * (x - x_recon) ** 2).sum(dim=-1).mean(dim=-1)


def sample_features(probability, shape, generator=None):
    """Features of `shape`, each present with `probability` (broadcast against shape), then
    uniform on [0, 1), else 0."""
    values = torch.rand(shape, generator=generator)
    present = torch.rand(shape, generator=generator) < probability
    return torch.where(present, values, 0.0)


def unit_columns(W):
    """W (..., n_hidden, n_features) with each column scaled to length 1 (a zero column stays 0)."""
    return W / W.norm(dim=-2, keepdim=True).clamp_min(1e-12)


def feature_superposition(W):
    """How much each feature shares its direction with the others, Σ_{j≠i} (Ŵᵢ · Wⱼ)², as in
    Elhage et al.'s figures: 0 for a feature with a dimension of its own. (For a dropped
    feature, whose column is near 0, the number says nothing.)
    W (..., n_hidden, n_features) -> (..., n_features)."""
    overlap = (unit_columns(W).mT @ W) ** 2  # (..., n_features, n_features): (Ŵᵢ · Wⱼ)²
    return overlap.sum(dim=-1) - torch.diagonal(overlap, dim1=-2, dim2=-1)


class ToyModel(nn.Module):
    """K = len(feature_probability) toy models, instance k seeing features present with
    probability feature_probability[k]; `importance` (n_features,) weighs each feature's
    error. W: (K, n_hidden, n_features), Xavier-normal from `seed`; b: (K, n_features), zeros.
    """

    def __init__(self, n_features, n_hidden, feature_probability, importance, seed=0):
        super().__init__()
        self.n_features = check_positive_int(n_features, "n_features")
        self.n_hidden = check_positive_int(n_hidden, "n_hidden")
        probability = torch.as_tensor(feature_probability, dtype=torch.float32).reshape(-1)
        if len(probability) == 0 or not ((probability > 0) & (probability <= 1)).all():
            raise ValueError(f"feature_probability must be probabilities in (0, 1], one per instance; "
                             f"got {feature_probability!r}")
        importance = torch.as_tensor(importance, dtype=torch.float32)
        if importance.shape != (self.n_features,) or not (torch.isfinite(importance) & (importance >= 0)).all():
            raise ValueError(f"importance must be {self.n_features} finite numbers >= 0; got {importance!r}")
        self.register_buffer("feature_probability", probability)
        self.register_buffer("importance", importance)
        weights = torch.empty(len(probability), self.n_hidden, self.n_features)
        generator = torch.Generator().manual_seed(seed)
        std = (2 / (self.n_hidden + self.n_features)) ** 0.5  # Xavier normal, as the paper's code
        self.W = nn.Parameter(weights.normal_(0, std, generator=generator))
        self.b = nn.Parameter(torch.zeros(len(probability), self.n_features))

    def hidden(self, x):
        """h = W x: (K, n_samples, n_features) -> (K, n_samples, n_hidden)."""
        return x @ self.W.mT

    def forward(self, x):
        """x' = ReLU(Wᵀ h + b): (K, n_samples, n_features) -> the same shape."""
        return F.relu(self.hidden(x) @ self.W + self.b[:, None])

    def sample(self, n_samples, generator=None):
        """Features (K, n_samples, n_features): present with each instance's probability, then U[0, 1)."""
        shape = (len(self.feature_probability), n_samples, self.n_features)
        return sample_features(self.feature_probability[:, None, None], shape, generator)

    def feature_norms(self):
        """(K, n_features) length of each feature's column of W."""
        return self.W.detach().norm(dim=1)

    def represented(self):
        """(K, n_features) bool: the features whose column is longer than REPRESENTED_NORM."""
        return self.feature_norms() > REPRESENTED_NORM

    def sources(self, instance, n_samples, seed=0):
        """Hidden activations of `instance` on fresh features, as SparseSources: data h
        (n_samples, n_hidden), activations x (n_samples, n_features), directions the columns
        of W made unit length (n_features, n_hidden); see `feature_norms` for their lengths."""
        x = self.sample(n_samples, torch.Generator().manual_seed(seed))[instance]
        with torch.no_grad():
            W = self.W[instance].double()
            h = x.double() @ W.T
        return SparseSources(data=h.numpy(), activations=x.double().numpy(), directions=unit_columns(W).T.numpy())


def train_toy_model(model, n_steps=5000, batch_size=1024, lr=1e-3, seed=0, progress=True):
    """Train every instance of `model` on fresh features each step (Adam); `seed` fixes the
    features drawn. Returns the loss per step and instance, (n_steps, K)."""
    n_steps = check_positive_int(n_steps, "n_steps")
    batch_size = check_positive_int(batch_size, "batch_size")
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    log = torch.zeros(n_steps, len(model.feature_probability))
    for step in progress_bar(range(n_steps), "training the toy model", "steps", disable=not progress):
        x = model.sample(batch_size, generator)
        loss = importance_weighted_mse(x, model(x), model.importance)  # (K,)
        optimizer.zero_grad()
        loss.sum().backward()  # instances share no parameters: each gets its own gradient
        optimizer.step()
        log[step] = loss.detach()
    if not torch.isfinite(log[-1]).all():
        raise FloatingPointError(f"the toy model diverged: final losses {log[-1].tolist()}; try a smaller lr (now {lr})")
    return log.numpy()
