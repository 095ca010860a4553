"""Sparse autoencoders: the lecture's model, and many of them trained as one tensor program.

    latents = act(x W_enc + b_enc)        x: (n_samples, input_dim)
    x_recon = latents W_dec + b_dec       latents: (n_samples, hidden_dim)

`act` is the lecture's GELU (the default), a ReLU, `TopK` or `JumpReLU`. Each penalty is one
plain function of the latents (..., n_samples, hidden_dim) (and, for the decoder-norm L1, of the
decoder directions; for AuxK, of the residual and the pre-activations) that both classes use,
times their `sparsity_weight`; JumpReLU's L0 penalty counts the pre-activations above its
thresholds.
`SparseAutoencoder` is the lecture's class (nn.Linear layers); `SAEBatch` holds K SAEs of one
width with a leading instances axis, so a sweep over seeds or sparsity weights trains as one
tensor program (as ARENA's and Anthropic's toy models train `n_inst` copies at once).

Both are built and kept by a `Recipe`: `LECTURE` (the default) is PyTorch's default
initialisation and nothing else, the lecture's model; `STANDARD` is the recipe the field
trains SAEs with (a pre-encoder bias, the encoder tied to the decoder at initialisation,
unit-norm decoder directions, AuxK for TopK), each ingredient a field that can be switched off.
"""

import math
import numbers
from dataclasses import dataclass, replace
from typing import NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from sae_helpers.checks import check_positive_int


def l1_penalty(latents):
    """Mean |latent| over samples and latents: (..., n_samples, hidden_dim) -> (...)."""
    return latents.abs().mean(dim=(-2, -1))


def decorrelation_penalty(latents):
    """Sum of squared off-diagonal entries of the latents' covariance over samples:
    (..., n_samples, hidden_dim) -> (...). Needs at least 2 samples."""
    centred = latents - latents.mean(dim=-2, keepdim=True)
    cov = centred.mT @ centred / (latents.shape[-2] - 1)  # (..., hidden_dim, hidden_dim)
    off_diagonal = cov - torch.diag_embed(torch.diagonal(cov, dim1=-2, dim2=-1))
    return (off_diagonal**2).sum(dim=(-2, -1))


def decoder_norm_l1_penalty(latents, decoder_directions):
    """Mean over samples of sum_j |latent_j| ||decoder direction j|| (Anthropic, April 2024):
    a latent cannot dodge the L1 penalty by shrinking while its decoder direction grows.

    latents (..., n_samples, hidden_dim), decoder_directions (..., hidden_dim, input_dim) -> (...).
    """
    norms = decoder_directions.norm(dim=-1)[..., None, :]  # (..., 1, hidden_dim)
    return (latents.abs() * norms).sum(dim=-1).mean(dim=-1)


class TopK(nn.Module):
    """The activation of TopK SAEs (Gao et al. 2024): each sample keeps its k largest
    pre-activations, through a ReLU, and every other latent is 0. (..., hidden_dim) in and out.

    `k`: one number, or a list of one per instance of an SAEBatch (K, ..., hidden_dim), so that
    SAEs of several k train side by side."""

    def __init__(self, k):
        super().__init__()
        if isinstance(k, (list, tuple)):
            if not k:
                raise ValueError("k is an empty list: give one k, or one per instance")
            self.k = [check_positive_int(value, "k") for value in k]
        else:
            self.k = check_positive_int(k, "k")

    def forward(self, z):
        if isinstance(self.k, int):
            values, indices = z.topk(self.k, dim=-1)
            return torch.zeros_like(z).scatter_(-1, indices, F.relu(values))
        if z.dim() < 2 or len(z) != len(self.k):
            raise ValueError(f"this TopK has one k per instance ({len(self.k)}); got pre-activations of "
                             f"shape {tuple(z.shape)}")
        values, indices = z.topk(max(self.k), dim=-1)  # sorted: instance i keeps its first k[i]
        k = torch.tensor(self.k, device=z.device).reshape(-1, *[1] * (z.dim() - 1))
        kept = torch.arange(values.shape[-1], device=z.device) < k
        return torch.zeros_like(z).scatter_(-1, indices, F.relu(values) * kept)

    def instance(self, i):
        """The activation of instance i: this TopK, or TopK(k[i]) for one k per instance."""
        return self if isinstance(self.k, int) else TopK(self.k[i])


def dead_in_batch(latents):
    """Which latents fire (> 0) on none of the samples: (..., n_samples, h) -> (..., 1, h) bool."""
    return (latents.detach() > 0).sum(dim=-2, keepdim=True) == 0


def auxk_penalty(residual, pre_activations, latents, decoder_directions, k_aux):
    """AuxK (Gao et al. 2024): the latents dead in this batch (active on none of its samples)
    get a second chance. Their k_aux largest pre-activations per sample, through a ReLU, must
    reconstruct the residual x - x_recon that the live latents left; the loss is that MSE over
    the residual's variance, and 0 where no latent is dead.

    residual (..., n, d), pre_activations and latents (..., n, h), decoder_directions (..., h, d)
    -> (...). A latent fires where it is above 0 (TopK's unpicked latents are exactly 0).
    """
    k_aux = check_positive_int(k_aux, "k_aux")
    dead = dead_in_batch(latents)
    hidden = pre_activations.masked_fill(~dead, float("-inf"))  # only dead latents compete
    if int(dead.sum(dim=-1).max()) <= k_aux:  # every dead latent is among the k_aux largest: no
        aux_latents = F.relu(hidden)  # top-k needed (one wait for the device, far less than a CPU top-k)
    else:
        values, indices = hidden.topk(k_aux, dim=-1)
        aux_latents = torch.zeros_like(pre_activations).scatter_(-1, indices, F.relu(values))
    error = ((aux_latents @ decoder_directions - residual) ** 2).mean(dim=(-2, -1))
    variance = ((residual - residual.mean(dim=-2, keepdim=True)) ** 2).mean(dim=(-2, -1))
    return torch.where(dead.any(dim=-1).squeeze(-1), error / variance.clamp_min(1e-12), 0.0)


def _rectangle(u):
    """The straight-through estimator's kernel: 1 on (-1/2, 1/2), else 0."""
    return (u.abs() < 0.5).to(u.dtype)


class _JumpReLUFunction(torch.autograd.Function):
    """z H(z - threshold) (H: the step function). The gradient to z is the usual one; the
    threshold gets a straight-through estimate, as if H were a ramp of width `bandwidth`
    (Rajamanoharan et al. 2024, eq. 11). z and threshold of one shape."""

    @staticmethod
    def forward(ctx, z, threshold, bandwidth):
        ctx.save_for_backward(z, threshold)
        ctx.bandwidth = bandwidth
        return z * (z > threshold)

    @staticmethod
    def backward(ctx, grad):
        z, threshold = ctx.saved_tensors
        kernel = _rectangle((z - threshold) / ctx.bandwidth)
        return grad * (z > threshold), -(threshold / ctx.bandwidth) * kernel * grad, None


class _StepFunction(torch.autograd.Function):
    """H(z - threshold), whose count is the L0 penalty: no gradient to z, the same estimate for
    the threshold (eq. 12)."""

    @staticmethod
    def forward(ctx, z, threshold, bandwidth):
        ctx.save_for_backward(z, threshold)
        ctx.bandwidth = bandwidth
        return (z > threshold).to(z.dtype)

    @staticmethod
    def backward(ctx, grad):
        z, threshold = ctx.saved_tensors
        return None, -(1 / ctx.bandwidth) * _rectangle((z - threshold) / ctx.bandwidth) * grad, None


class JumpReLU(nn.Module):
    """The activation of JumpReLU SAEs (Rajamanoharan et al. 2024): each latent is its
    pre-activation z where z exceeds the latent's learned threshold, else 0.

    One threshold per latent (and per instance, with `n_instances` for an SAEBatch), stored as
    its log so it stays positive, starting at `threshold`. A step has no useful gradient, so
    the threshold learns through a straight-through estimator of width `bandwidth`. `l0` is the
    penalty that goes with it (train with penalty="l0"): the number of active latents.
    """

    def __init__(self, hidden_dim, threshold=0.1, bandwidth=0.05, n_instances=None):
        super().__init__()
        shape = (check_positive_int(hidden_dim, "hidden_dim"),)
        if n_instances is not None:
            shape = (check_positive_int(n_instances, "n_instances"), 1, *shape)
        for name, value in [("threshold", threshold), ("bandwidth", bandwidth)]:
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < math.inf:
                raise ValueError(f"{name} must be a positive number; got {value!r}")
        self.log_threshold = nn.Parameter(torch.full(shape, math.log(threshold)))
        self.bandwidth = bandwidth

    def forward(self, z):
        return _JumpReLUFunction.apply(z, self.log_threshold.exp().expand_as(z), self.bandwidth)

    def l0(self, z):
        """Mean over samples of the number of latents above their threshold: (..., n, h) -> (...)."""
        step = _StepFunction.apply(z, self.log_threshold.exp().expand_as(z), self.bandwidth)
        return step.sum(dim=-1).mean(dim=-1)

    def instance(self, i):
        """The thresholds of instance i as a JumpReLU of one SAE."""
        if self.log_threshold.ndim != 3:
            raise ValueError("this JumpReLU belongs to one SAE: only one made with n_instances has instances")
        single = JumpReLU(self.log_threshold.shape[-1], bandwidth=self.bandwidth).to(self.log_threshold)
        single.log_threshold.data.copy_(self.log_threshold[i, 0])
        return single


@dataclass(frozen=True)
class Recipe:
    """How an SAE is initialised and kept in training. Each field is one ingredient of the recipe
    the field trains SAEs with (Bricken et al. 2023; Gao et al. 2024);
    `recipe.without(name)` switches one off, so its effect can be measured alone.

    pre_encoder_bias: encode x - b_dec instead of x, so the decoder bias b_dec (which
        `train_sae` starts at the data's mean) is what the latents explain differences from.
    tied_init: the encoder starts as the decoder's transpose and its bias at 0, so at the first
        step latent j responds to exactly the direction it writes.
    unit_norm_decoder: decoder directions start at length 1 and stay there: before each step
        the gradient's component along each direction is removed, after it the direction is
        rescaled to length 1. A latent cannot then shrink its value and grow its direction.
    auxk_weight, k_aux: for a TopK activation, the AuxK loss (`auxk_penalty`) with this weight,
        added to the MSE by `train_sae` (0: none).
    """

    pre_encoder_bias: bool = True
    tied_init: bool = True
    unit_norm_decoder: bool = True
    auxk_weight: float = 1 / 32
    k_aux: int = 32

    def __post_init__(self):
        for name in ["pre_encoder_bias", "tied_init", "unit_norm_decoder"]:
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False; got {getattr(self, name)!r}")
        weight = self.auxk_weight
        if isinstance(weight, bool) or not isinstance(weight, numbers.Real) or not 0 <= weight < math.inf:
            raise ValueError(f"auxk_weight must be a finite number >= 0; got {weight!r}")
        check_positive_int(self.k_aux, "k_aux")

    def without(self, ingredient):
        """This recipe with one ingredient switched off ("auxk" sets auxk_weight to 0)."""
        names = ["pre_encoder_bias", "tied_init", "unit_norm_decoder", "auxk"]
        if ingredient not in names:
            raise ValueError(f"unknown ingredient {ingredient!r}; choose one of {names}")
        return replace(self, auxk_weight=0.0) if ingredient == "auxk" else replace(self, **{ingredient: False})


LECTURE = Recipe(pre_encoder_bias=False, tied_init=False, unit_norm_decoder=False, auxk_weight=0.0)
STANDARD = Recipe()


class SAEOutput(NamedTuple):
    """What a forward pass returns; unpacks like the lecture's `x_recon, latents` tuple."""

    x_recon: torch.Tensor  # (..., n_samples, input_dim) reconstruction of the input
    latents: torch.Tensor  # (..., n_samples, hidden_dim) the hidden units' activations


def _check_settings(hidden_dim, sparsity_weight, activation, recipe, n_instances=None):
    if not isinstance(recipe, Recipe):
        raise ValueError(f"recipe must be a Recipe, such as LECTURE or STANDARD; got {recipe!r}")
    if (isinstance(sparsity_weight, bool) or not isinstance(sparsity_weight, numbers.Real)
            or not math.isfinite(sparsity_weight) or sparsity_weight < 0):
        raise ValueError(f"sparsity_weight must be a finite number >= 0; got {sparsity_weight!r}")
    if not callable(activation):
        raise ValueError(f"activation must be a function of the pre-activations, such as F.gelu, "
                         f"F.relu or TopK(3); got {activation!r}")
    if isinstance(activation, TopK):
        ks = activation.k if isinstance(activation.k, list) else [activation.k]
        if max(ks) > hidden_dim:
            raise ValueError(f"TopK's k ({max(ks)}) is larger than hidden_dim ({hidden_dim})")
        if isinstance(activation.k, list) and n_instances != len(ks):
            raise ValueError(f"this TopK has one k per instance ({len(ks)}); the model has "
                             f"{'one' if n_instances is None else n_instances}: give one k per seed")
    if isinstance(activation, JumpReLU):
        shape = (hidden_dim,) if n_instances is None else (n_instances, 1, hidden_dim)
        if activation.log_threshold.shape != shape:
            made = f"JumpReLU({hidden_dim}" + ("" if n_instances is None else f", n_instances={n_instances}")
            raise ValueError(f"this JumpReLU has thresholds of shape {tuple(activation.log_threshold.shape)}, "
                             f"the model needs {shape}: make it with {made})")


class _SAE(nn.Module):
    """What both SAEs share: the input check, forward, the recipe and the weighted penalties. A
    subclass defines its linear maps (`_linear_encoder`, `decode`), their parameters
    (`encoder_weight`, `encoder_bias`, `decoder_weight`, `decoder_bias`) and `_directions`, which
    turns a weight (or its gradient) into rows (..., hidden_dim, input_dim): row j of
    `decoder_directions` is the direction latent j writes to in data space, row j of
    `encoder_directions` the one it responds to."""

    def check_input(self, x):
        if x.ndim != 2 or x.shape[1] != self.input_dim:
            raise ValueError(f"input must have shape (n_samples, {self.input_dim}); got {tuple(x.shape)}")
        dtype = self.decoder_directions.dtype
        if x.dtype != dtype:
            raise ValueError(f"input has dtype {x.dtype} and the model's weights {dtype}: "
                             f"convert one of them, e.g. x.to({dtype})")

    @property
    def decoder_directions(self):
        return self._directions(self.decoder_weight)

    @property
    def encoder_directions(self):
        """(..., hidden_dim, input_dim): row j is what latent j responds to."""
        return self._directions(self.encoder_weight, encoder=True)

    def pre_activations(self, x):
        """(n_samples, input_dim) -> (..., n_samples, hidden_dim), before the activation; with a
        pre-encoder bias, of x - b_dec."""
        self.check_input(x)
        if self.recipe.pre_encoder_bias:
            x = x - self.decoder_bias[..., None, :]
        return self._linear_encoder(x)

    def encode(self, x):
        """Latents: the activation of the pre-activations."""
        return self.activation(self.pre_activations(x))

    def forward(self, x):
        latents = self.encode(x)
        return SAEOutput(x_recon=self.decode(latents), latents=latents)

    @torch.no_grad()
    def _initialise(self):
        """The recipe's initialisation, on top of PyTorch's default one."""
        if self.recipe.unit_norm_decoder:
            self.normalise_decoder()
        if self.recipe.tied_init:
            self.encoder_directions.copy_(self.decoder_directions)
            self.encoder_bias.zero_()
        self.bias_from_data = not self.recipe.pre_encoder_bias  # nothing to set from data

    @torch.no_grad()
    def initialise_from_data(self, x):
        """With a pre-encoder bias: b_dec starts at the mean of x (n_samples, input_dim), once
        (`train_sae` calls this before its first step; later calls change nothing)."""
        if not self.bias_from_data:
            self.decoder_bias.copy_(x.mean(dim=0).expand_as(self.decoder_bias))
            self.bias_from_data = True

    @torch.no_grad()
    def remove_parallel_gradient(self):
        """With unit-norm decoder directions: remove from each direction's gradient its component
        along the direction (`train_sae` calls this before each step)."""
        if self.recipe.unit_norm_decoder and self.decoder_weight.grad is not None:
            direction, grad = self.decoder_directions, self._directions(self.decoder_weight.grad)
            along = (grad * direction).sum(dim=-1, keepdim=True) / (direction * direction).sum(dim=-1, keepdim=True)
            grad.sub_(along * direction)

    @torch.no_grad()
    def normalise_decoder(self):
        """With unit-norm decoder directions: rescale each to length 1 (`train_sae` calls this
        after each step)."""
        if self.recipe.unit_norm_decoder:
            self.decoder_directions.div_(self.decoder_directions.norm(dim=-1, keepdim=True))

    def sparsity_loss(self, latents):
        """The lecture's L1 penalty: sparsity_weight * mean |latent|."""
        return self.sparsity_weight * l1_penalty(latents)

    def decorrelation_loss(self, latents):
        """sparsity_weight * the sum of squared off-diagonal covariances between latents."""
        return self.sparsity_weight * decorrelation_penalty(latents)

    def decoder_norm_l1_loss(self, latents):
        """sparsity_weight * mean over samples of sum_j |latent_j| ||decoder direction j||."""
        return self.sparsity_weight * decoder_norm_l1_penalty(latents, self.decoder_directions)

    def l0_loss(self, x):
        """sparsity_weight * the mean number of active latents (JumpReLU's own penalty)."""
        if not isinstance(self.activation, JumpReLU):
            raise ValueError("the L0 penalty needs a JumpReLU activation (its threshold gets the gradient)")
        return self.sparsity_weight * self.activation.l0(self.pre_activations(x))

    def auxk_loss(self, x, output):
        """The recipe's auxk_weight * the AuxK loss of the latents dead in batch x, whose forward
        pass gave `output`, on the residual x - x_recon; 0 unless the activation is TopK.
        `train_sae` adds it to the MSE."""
        if not (isinstance(self.activation, TopK) and self.recipe.auxk_weight > 0
                and dead_in_batch(output.latents).any()):  # (one wait for the device: no dead latent, no work)
            return output.latents.new_zeros(output.latents.shape[:-2])
        residual = (x - output.x_recon).detach()  # the aux loss trains the dead latents, not the live ones
        return self.recipe.auxk_weight * auxk_penalty(residual, self.pre_activations(x), output.latents,
                                                      self.decoder_directions, self.recipe.k_aux)


class SparseAutoencoder(_SAE):
    """Linear encoder, activation (GELU by default), linear decoder: the lecture's model.

    `input_dim` input dimensions, `hidden_dim` latents; `sparsity_weight` (>= 0) scales the
    penalties; `activation` is any function of the pre-activations, e.g. F.relu or TopK(3);
    `recipe` (LECTURE: none) adds the standard recipe's ingredients. Parameters are created
    encoder first, so the same torch seed gives the same model as the lecture's class.
    """

    def __init__(self, input_dim, hidden_dim, sparsity_weight=1.0, activation=F.gelu, recipe=LECTURE):
        super().__init__()
        self.input_dim = check_positive_int(input_dim, "input_dim")
        self.hidden_dim = check_positive_int(hidden_dim, "hidden_dim")
        _check_settings(self.hidden_dim, sparsity_weight, activation, recipe)
        self.encoder = nn.Linear(self.input_dim, self.hidden_dim)
        self.decoder = nn.Linear(self.hidden_dim, self.input_dim)
        self.sparsity_weight = sparsity_weight
        self.activation = activation
        self.recipe = recipe
        self._initialise()

    def _linear_encoder(self, x):
        return self.encoder(x)

    def decode(self, latents):
        """(n_samples, hidden_dim) -> reconstruction (n_samples, input_dim)."""
        return self.decoder(latents)

    @property
    def encoder_weight(self):
        return self.encoder.weight

    @property
    def encoder_bias(self):
        return self.encoder.bias

    @property
    def decoder_weight(self):
        return self.decoder.weight

    @property
    def decoder_bias(self):
        return self.decoder.bias

    @staticmethod
    def _directions(weight, encoder=False):
        """nn.Linear stores the encoder's weight as (hidden_dim, input_dim), the decoder's transposed."""
        return weight if encoder else weight.T


class SAEBatch(_SAE):
    """`len(seeds)` independent SAEs of one width, trained side by side; with K = n_instances:

        latents[i] = act(x @ W_enc[i] + b_enc[i])      W_enc: (K, input_dim, hidden_dim)
        x_recon[i] = latents[i] @ W_dec[i] + b_dec[i]  W_dec: (K, hidden_dim, input_dim)

    (with a pre-encoder bias, x - b_dec[i] in place of x). `sparsity_weight` is one value for all
    instances or a list with one per seed. Instance i starts with exactly the weights
    SparseAutoencoder gets, with the same recipe, after torch.manual_seed(seeds[i]).
    """

    def __init__(self, input_dim, hidden_dim, seeds, sparsity_weight=1.0, activation=F.gelu, recipe=LECTURE):
        super().__init__()
        seeds = list(seeds)
        if not seeds:
            raise ValueError("seeds is empty: give one seed per instance")
        many = isinstance(sparsity_weight, (list, tuple))
        weights = list(sparsity_weight) if many else [sparsity_weight] * len(seeds)
        if len(weights) != len(seeds):
            raise ValueError(f"sparsity_weight must be one value or one per seed ({len(seeds)}); "
                             f"got {len(weights)}")
        _check_settings(check_positive_int(hidden_dim, "hidden_dim"), weights[0], activation, recipe, len(seeds))
        models = []
        for seed, weight in zip(seeds, weights):
            with torch.random.fork_rng(devices=[]):  # leaves the caller's random state alone
                torch.manual_seed(seed)
                models.append(SparseAutoencoder(input_dim, hidden_dim, weight, recipe=recipe))  # GELU: init only
        self.input_dim, self.hidden_dim, self.activation = models[0].input_dim, models[0].hidden_dim, activation
        self.recipe, self.bias_from_data = recipe, models[0].bias_from_data
        self.W_enc = nn.Parameter(torch.stack([m.encoder.weight.detach().T for m in models]))
        self.b_enc = nn.Parameter(torch.stack([m.encoder.bias.detach() for m in models]))
        self.W_dec = nn.Parameter(torch.stack([m.decoder_directions.detach() for m in models]))
        self.b_dec = nn.Parameter(torch.stack([m.decoder.bias.detach() for m in models]))
        self.register_buffer("sparsity_weight", torch.tensor(weights, dtype=torch.float32))

    def _linear_encoder(self, x):
        """(n_samples, input_dim), shared by all instances, or (K, n_samples, input_dim)
        -> (K, n_samples, hidden_dim)."""
        return x @ self.W_enc + self.b_enc[:, None]

    def decode(self, latents):
        """(K, n_samples, hidden_dim) -> reconstructions (K, n_samples, input_dim)."""
        return latents @ self.W_dec + self.b_dec[:, None]

    @property
    def encoder_weight(self):
        return self.W_enc

    @property
    def encoder_bias(self):
        return self.b_enc

    @property
    def decoder_weight(self):
        return self.W_dec

    @property
    def decoder_bias(self):
        return self.b_dec

    @staticmethod
    def _directions(weight, encoder=False):
        """W_dec is stored as (K, hidden_dim, input_dim), W_enc transposed."""
        return weight.mT if encoder else weight

    def instance(self, i):
        """Instance i as a stand-alone SparseAutoencoder with its weights, recipe, dtype and device."""
        with torch.random.fork_rng(devices=[]):  # its initialisation is overwritten below
            per_instance = isinstance(self.activation, (JumpReLU, TopK))  # thresholds, or k, per instance
            activation = self.activation.instance(i) if per_instance else self.activation
            model = SparseAutoencoder(self.input_dim, self.hidden_dim, float(self.sparsity_weight[i]),
                                      activation, self.recipe).to(self.W_enc)
        model.load_state_dict({**model.state_dict(),  # a JumpReLU's thresholds are already instance i's
                               "encoder.weight": self.W_enc[i].T, "encoder.bias": self.b_enc[i],
                               "decoder.weight": self.W_dec[i].T, "decoder.bias": self.b_dec[i]})
        model.bias_from_data = self.bias_from_data
        return model
