from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from notebook_code import definitions, solutions
from sae_helpers import SparseAutoencoder
from sae_helpers.model import (
    LECTURE,
    STANDARD,
    JumpReLU,
    Recipe,
    SAEBatch,
    TopK,
    auxk_penalty,
    decoder_norm_l1_penalty,
    decorrelation_penalty,
)


def test_forward_shapes_and_named_output():
    model = SparseAutoencoder(2, 20)
    out = model(torch.randn(7, 2))
    x_recon, latents = out  # unpacks like the lecture's tuple
    assert x_recon.shape == (7, 2) and latents.shape == (7, 20)
    assert out.x_recon is x_recon and out.latents is latents
    torch.testing.assert_close(model.encode(torch.ones(1, 2)), model(torch.ones(1, 2)).latents)


def test_forward_is_the_two_equations():
    model = SparseAutoencoder(3, 5)
    x = torch.randn(4, 3)
    latents = torch.nn.functional.gelu(x @ model.encoder.weight.T + model.encoder.bias)
    torch.testing.assert_close(model(x).latents, latents)
    torch.testing.assert_close(model(x).x_recon, latents @ model.decoder.weight.T + model.decoder.bias)


def hand_model():
    """Encoder = identity, so the latents are GELU of the input itself."""
    model = SparseAutoencoder(2, 2, sparsity_weight=2.0)
    with torch.no_grad():
        model.encoder.weight.copy_(torch.eye(2))
        model.encoder.bias.zero_()
    return model


def test_sparsity_loss_by_hand():
    model = hand_model()
    latents = model.encode(torch.tensor([[1.0, -1.0], [2.0, 0.0]]))
    # GELU(1) = 0.8413447, GELU(-1) = -0.1586553, GELU(2) = 1.9544997, GELU(0) = 0
    expected = 2.0 * (0.8413447 + 0.1586553 + 1.9544997 + 0.0) / 4
    assert model.sparsity_loss(latents).item() == pytest.approx(expected, rel=1e-6), (
        "L1 penalty should be weight * mean |latent| over samples AND latents"
    )


def test_decorrelation_loss_by_hand():
    model = hand_model()
    latents = model.encode(torch.tensor([[1.0, -1.0], [2.0, 0.0]]))
    # latent 0 takes 0.8413447 then 1.9544997, latent 1 takes -0.1586553 then 0: each sample
    # deviates from the means by -/+ half the range, so cov = 2 * (half * half) / (n - 1 = 1)
    cov01 = 2 * ((1.9544997 - 0.8413447) / 2) * (0.1586553 / 2)
    expected = 2.0 * 2 * cov01**2  # weight * (cov01^2 + cov10^2); the diagonal is left out
    assert model.decorrelation_loss(latents).item() == pytest.approx(expected, rel=1e-5), (
        "decorrelation penalty should sum squared OFF-diagonal covariances only"
    )


def test_uncorrelated_latents_cost_no_decorrelation_penalty():
    model = SparseAutoencoder(2, 2)
    latents = torch.tensor([[1.0, 1.0], [-1.0, 1.0], [1.0, -1.0], [-1.0, -1.0]])
    assert model.decorrelation_loss(latents).item() == 0


def test_notebook_02_class_behaves_exactly_like_the_helper():
    NotebookSAE = definitions("02_defining_the_sae.py", ["SparseAutoencoder"], {"torch": torch, "nn": nn})[
        "SparseAutoencoder"]
    torch.manual_seed(0)
    ours = NotebookSAE(2, 20)
    torch.manual_seed(0)
    helper = SparseAutoencoder(2, 20)
    for (name, p), (_, q) in zip(ours.named_parameters(), helper.named_parameters()):
        assert torch.equal(p, q), f"initial {name} differs: are parameters created in the same order?"

    x = torch.randn(50, 2)
    for model in (ours, helper):
        x_recon, latents = model(x)
        loss = ((x_recon - x) ** 2).mean() + model.sparsity_loss(latents) + model.decorrelation_loss(latents)
        loss.backward()
    for a, b in zip(ours(x), helper(x)):
        assert torch.equal(a, b)
    for (name, p), (_, q) in zip(ours.named_parameters(), helper.named_parameters()):
        assert torch.equal(p.grad, q.grad), f"gradient of {name} differs"


@pytest.mark.parametrize(
    "args, message",
    [
        ((0, 20), "input_dim"),
        ((2, -1), "hidden_dim"),
        ((2, 2.5), "hidden_dim"),
        ((2, 20, -1.0), "sparsity_weight"),
        ((2, 20, float("nan")), "sparsity_weight"),
    ],
)
def test_bad_settings_are_named(args, message):
    with pytest.raises(ValueError, match=message):
        SparseAutoencoder(*args)


@pytest.mark.parametrize("shape", [(10, 3), (10,), (1, 2, 2)])
def test_wrong_input_shape_is_named(shape):
    with pytest.raises(ValueError, match=r"shape \(n_samples, 2\)"):
        SparseAutoencoder(2, 4)(torch.randn(shape))


def test_batch_instances_start_as_the_seeded_single_models():
    batch = SAEBatch(2, 20, seeds=[3, 4], sparsity_weight=[1.0, 0.5])
    x = torch.randn(30, 2)
    out = batch(x)
    assert out.x_recon.shape == (2, 30, 2) and out.latents.shape == (2, 30, 20)
    for i, seed in enumerate([3, 4]):
        torch.manual_seed(seed)
        single = SparseAutoencoder(2, 20)
        x_recon, latents = single(x)
        torch.testing.assert_close(out.x_recon[i], x_recon)
        torch.testing.assert_close(out.latents[i], latents)


@pytest.mark.parametrize("activation", [F.gelu, F.relu, TopK(3)], ids=["gelu", "relu", "topk"])
def test_batch_penalties_are_per_instance_and_match_the_single_model(activation):
    batch = SAEBatch(2, 20, seeds=[3, 4], sparsity_weight=[1.0, 0.5], activation=activation)
    x = torch.randn(30, 2)
    latents = batch.encode(x)
    for i in range(2):
        single = batch.instance(i)
        torch.testing.assert_close(latents[i], single.encode(x))
        for loss in ["sparsity_loss", "decorrelation_loss", "decoder_norm_l1_loss"]:
            torch.testing.assert_close(getattr(batch, loss)(latents)[i], getattr(single, loss)(latents[i]))


def test_decorrelation_penalty_equals_torch_cov():
    latents = torch.randn(3, 40, 6)
    for f, value in zip(latents, decorrelation_penalty(latents)):
        cov = torch.cov(f.T)
        torch.testing.assert_close(value, (cov**2).sum() - (torch.diag(cov) ** 2).sum())


def test_batch_does_not_touch_the_callers_random_state():
    torch.manual_seed(0)
    expected = torch.rand(1)
    torch.manual_seed(0)
    SAEBatch(2, 4, seeds=[1, 2]).instance(1)
    assert torch.equal(torch.rand(1), expected)


def test_an_instance_keeps_the_batch_dtype_and_weights():
    batch = SAEBatch(2, 4, seeds=[1, 2]).double()
    single = batch.instance(1)
    assert single.encoder.weight.dtype == torch.float64
    assert torch.equal(single.decoder_directions, batch.W_dec[1])


def test_relu_models_use_relu():
    x = torch.randn(50, 2)
    single = SparseAutoencoder(2, 8, activation=F.relu)
    batch = SAEBatch(2, 8, seeds=[0], activation=F.relu)
    torch.testing.assert_close(single.encode(x), torch.relu(x @ single.encoder.weight.T + single.encoder.bias))
    torch.testing.assert_close(batch.encode(x)[0], torch.relu(x @ batch.W_enc[0] + batch.b_enc[0]))
    assert (batch.encode(x) == 0).any() and (batch.encode(x) > 0).any()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"seeds": []}, "seeds is empty"),
        ({"seeds": [0, 1], "sparsity_weight": [1.0, 1.0, 1.0]}, "sparsity_weight must be one value or one per seed"),
        ({"seeds": [0], "activation": "tanh"}, "activation must be a function"),
        ({"seeds": [0], "sparsity_weight": -1.0}, "sparsity_weight"),
        ({"seeds": [0], "hidden_dim": 0}, "hidden_dim"),
        ({"seeds": [0], "activation": TopK(5)}, r"TopK's k \(5\) is larger than hidden_dim \(4\)"),
    ],
)
def test_bad_batch_settings_are_named(kwargs, message):
    kwargs = {"input_dim": 2, "hidden_dim": 4, **kwargs}
    with pytest.raises(ValueError, match=message):
        SAEBatch(**kwargs)


def test_batch_rejects_input_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"shape \(n_samples, 2\)"):
        SAEBatch(2, 4, seeds=[0])(torch.randn(3, 2, 2))


@pytest.mark.parametrize("make_model", [lambda: SparseAutoencoder(2, 4), lambda: SAEBatch(2, 4, seeds=[0])],
                         ids=["single", "batch"])
def test_input_of_another_dtype_is_named(make_model):
    with pytest.raises(ValueError, match="input has dtype torch.float64 and the model's weights torch.float32"):
        make_model()(torch.randn(3, 2, dtype=torch.float64))


def test_numpy_integers_are_accepted_where_an_int_is():
    model = SparseAutoencoder(np.int64(2), np.int64(20))
    assert (model.input_dim, model.hidden_dim) == (2, 20) and type(model.hidden_dim) is int
    assert TopK(np.int32(3)).k == 3
    with pytest.raises(ValueError, match="hidden_dim must be a positive integer; got True"):
        SparseAutoencoder(2, True)


def test_topk_keeps_exactly_k_nonnegative_latents_per_sample():
    batch = SAEBatch(4, 12, seeds=[0, 1], activation=TopK(3))
    with torch.no_grad():
        batch.b_enc += 5.0  # every pre-activation positive, so each kept value is nonzero
    latents = batch.encode(torch.randn(50, 4))
    assert ((latents != 0).sum(dim=-1) == 3).all()


def test_topk_keeps_the_largest_preactivations():
    z = torch.tensor([[0.5, -1.0, 2.0, 1.0], [-3.0, -2.0, 0.1, -1.0]])
    np.testing.assert_allclose(TopK(2)(z), [[0, 0, 2.0, 1.0], [0, 0, 0.1, 0]])


def test_topk_needs_a_valid_k():
    for k in [0, 2.5, None]:
        with pytest.raises(ValueError, match="k must be a positive integer"):
            TopK(k)


def test_topk_with_one_k_per_instance_is_each_instances_topk():
    z = torch.randn(3, 40, 10)
    latents = TopK([1, 4, 2])(z)
    for i, k in enumerate([1, 4, 2]):
        assert torch.equal(latents[i], TopK(k)(z[i]))  # exactly: the same values, kept or 0


def test_a_batch_of_several_k_trains_as_its_single_models_compute():
    batch = SAEBatch(4, 12, seeds=[0, 0, 1], activation=TopK([1, 3, 2]), recipe=STANDARD)
    x = torch.randn(60, 4)
    out = batch(x)
    for i, k in enumerate([1, 3, 2]):
        single = batch.instance(i)
        assert single.activation.k == k
        torch.testing.assert_close(single(x).latents, out.latents[i])
        torch.testing.assert_close(single.auxk_loss(x, single(x)), batch.auxk_loss(x, out)[i])


def test_one_k_per_instance_is_checked_against_the_instances():
    with pytest.raises(ValueError, match="k is an empty list"):
        TopK([])
    with pytest.raises(ValueError, match="k must be a positive integer"):
        TopK([2, 0])
    with pytest.raises(ValueError, match=r"one k per instance \(2\); the model has 3"):
        SAEBatch(4, 12, seeds=[0, 1, 2], activation=TopK([1, 2]))
    with pytest.raises(ValueError, match=r"one k per instance \(1\); the model has one"):
        SparseAutoencoder(4, 12, activation=TopK([2]))
    with pytest.raises(ValueError, match=r"TopK's k \(13\) is larger than hidden_dim \(12\)"):
        SAEBatch(4, 12, seeds=[0, 1], activation=TopK([2, 13]))
    with pytest.raises(ValueError, match=r"one k per instance \(2\); got pre-activations of shape \(3, 5\)"):
        TopK([1, 2])(torch.randn(3, 5))


def test_decoder_norm_l1_by_hand():
    batch = SAEBatch(2, 2, seeds=[0], sparsity_weight=0.5, activation=F.relu)
    with torch.no_grad():
        batch.W_dec.copy_(torch.tensor([[[3.0, 4.0], [0.0, 2.0]]]))  # decoder row norms 5 and 2
    latents = torch.tensor([[[1.0, 0.0], [2.0, 3.0]]])  # two samples
    # per sample: 1*5 + 0*2 = 5 and 2*5 + 3*2 = 16; mean 10.5; times the weight 0.5
    assert batch.decoder_norm_l1_loss(latents).item() == pytest.approx(5.25)
    single = batch.instance(0)
    assert single.decoder_norm_l1_loss(latents[0]).item() == pytest.approx(5.25)


def test_notebook_06_topk_and_decoder_norm_l1_solutions_behave_exactly_like_the_helpers():
    inline = solutions("06_superposition.py", {"np": np, "torch": torch, "nn": torch.nn})
    generator = torch.Generator().manual_seed(0)
    z = torch.randn(50, 16, generator=generator, requires_grad=True)
    for k in [1, 3, 16]:
        assert torch.equal(inline["topk"](z, k), TopK(k)(z)), f"k={k}"
    latents = torch.relu(torch.randn(50, 16, generator=generator))
    decoder_directions = torch.randn(16, 8, generator=generator)
    assert torch.equal(inline["decoder_norm_l1"](latents, decoder_directions),
                       decoder_norm_l1_penalty(latents, decoder_directions))
    latents[:, 3] = 0  # a dead latent costs nothing, whatever its decoder row
    decoder_directions[3] = 100.0
    assert torch.equal(inline["decoder_norm_l1"](latents, decoder_directions),
                       decoder_norm_l1_penalty(latents, decoder_directions))


def jump_relu(thresholds, bandwidth=0.2):
    """A float64 JumpReLU with the given threshold per latent."""
    activation = JumpReLU(len(thresholds), bandwidth=bandwidth).double()
    with torch.no_grad():
        activation.log_threshold.copy_(torch.tensor(thresholds, dtype=torch.float64).log())
    return activation


# latent 0 has threshold 0.5, latent 1 threshold 1.0; with bandwidth 0.2 their straight-through
# windows are (0.4, 0.6) and (0.9, 1.1). Per latent: two samples inside the window (one on each
# side of the threshold) and two outside it.
JUMP_Z = [[0.45, 1.05], [0.55, 0.5], [0.7, 0.95], [0.3, 2.0]]


def test_jump_relu_keeps_what_exceeds_the_threshold():
    z = torch.tensor(JUMP_Z, dtype=torch.float64)
    np.testing.assert_allclose(jump_relu([0.5, 1.0])(z).detach(), [[0, 1.05], [0.55, 0], [0.7, 0], [0, 2.0]])
    assert JumpReLU(3, threshold=0.25).log_threshold.exp().detach().tolist() == pytest.approx([0.25] * 3)


def test_jump_relu_gradients_are_the_straight_through_estimates_by_hand():
    activation = jump_relu([0.5, 1.0])
    z = torch.tensor(JUMP_Z, dtype=torch.float64, requires_grad=True)
    upstream = torch.tensor([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 40.0]], dtype=torch.float64)
    (activation(z) * upstream).sum().backward()
    # to z: the step H(z - t), times the upstream gradient
    np.testing.assert_allclose(z.grad, [[0, 10], [2, 0], [3, 0], [0, 40]])
    # to t: -(t / bandwidth) K((z - t) / bandwidth), K = 1 inside the window, summed over samples
    #   latent 0: -(0.5 / 0.2) (1 + 2) = -7.5;  latent 1: -(1.0 / 0.2) (10 + 30) = -200
    # to log t: times dt / dlog t = t:  -3.75 and -200
    np.testing.assert_allclose(activation.log_threshold.grad, [-3.75, -200.0], err_msg=(
        "did you forget the chain-rule factor t of the log parametrisation, or use the wrong window?"))


def test_jump_relu_l0_and_its_gradient_by_hand():
    activation = jump_relu([0.5, 1.0])
    z = torch.tensor(JUMP_Z, dtype=torch.float64, requires_grad=True)
    l0 = activation.l0(z)
    assert l0.item() == 1.0  # each sample has exactly one latent above its threshold
    l0.backward()
    # d/dt of the mean over 4 samples of H(z - t): (1/4) * -(1/0.2) * (2 samples in the window)
    # = -2.5 for both latents; times t for the log: -1.25 and -2.5
    np.testing.assert_allclose(activation.log_threshold.grad, [-1.25, -2.5])
    assert z.grad is None or not z.grad.any(), "the L0 step passes no gradient to z"


def test_jump_relu_gradient_to_z_agrees_with_finite_differences():
    activation = jump_relu([0.5, 1.0])
    z = torch.tensor(JUMP_Z, dtype=torch.float64, requires_grad=True)  # none within 1e-6 of a threshold
    assert torch.autograd.gradcheck(activation, (z,))


@pytest.mark.parametrize("name", ["threshold", "bandwidth"])
@pytest.mark.parametrize("value", [0, -0.1, float("nan"), float("inf"), True])
def test_jump_relu_needs_a_positive_threshold_and_bandwidth(name, value):
    with pytest.raises(ValueError, match=f"{name} must be a positive number"):
        JumpReLU(4, **{name: value})


@pytest.mark.parametrize(
    "make_model, message",
    [
        (lambda: SAEBatch(2, 4, seeds=[0, 1], activation=JumpReLU(4)),
         r"shape \(4,\), the model needs \(2, 1, 4\): make it with JumpReLU\(4, n_instances=2\)"),
        (lambda: SAEBatch(2, 4, seeds=[0, 1], activation=JumpReLU(4, n_instances=3)),
         r"shape \(3, 1, 4\), the model needs \(2, 1, 4\): make it with JumpReLU\(4, n_instances=2\)"),
        (lambda: SparseAutoencoder(2, 4, activation=JumpReLU(4, n_instances=2)),
         r"the model needs \(4,\): make it with JumpReLU\(4\)"),
        (lambda: SparseAutoencoder(2, 4, activation=JumpReLU(5)), r"the model needs \(4,\)"),
    ],
)
def test_a_jump_relu_of_the_wrong_shape_is_named(make_model, message):
    with pytest.raises(ValueError, match=message):
        make_model()


def test_a_jump_relu_batch_instance_is_that_instances_model():
    batch = SAEBatch(3, 6, seeds=[0, 1], sparsity_weight=[1.0, 0.5], activation=JumpReLU(6, n_instances=2))
    thresholds = torch.tensor([[0.01, 0.02, 0.03, 0.04, 0.05, 0.06], [0.3, 0.4, 0.5, 0.6, 0.7, 0.8]])
    with torch.no_grad():
        batch.activation.log_threshold.copy_(thresholds.log()[:, None])
    x = torch.randn(200, 3)
    out = batch(x)
    zs = batch.pre_activations(x)
    for i in range(2):
        single = batch.instance(i)
        torch.testing.assert_close(single.activation.log_threshold.exp(), thresholds[i])
        torch.testing.assert_close(single(x).latents, out.latents[i])
        torch.testing.assert_close(single(x).x_recon, out.x_recon[i])
        torch.testing.assert_close(out.latents[i], zs[i] * (zs[i] > thresholds[i]))
        torch.testing.assert_close(single.l0_loss(x), batch.l0_loss(x)[i])
    # the thresholds matter here: the higher ones of instance 1 silence more latents
    assert (out.latents[0] != 0).sum() > (out.latents[1] != 0).sum() > 0


def test_the_l0_loss_needs_a_jump_relu():
    with pytest.raises(ValueError, match="the L0 penalty needs a JumpReLU activation"):
        SparseAutoencoder(2, 4, activation=TopK(2)).l0_loss(torch.ones(3, 2))


def auxk_case():
    """2 samples, 3 latents, d = 2. TopK(1) keeps latent 0 on sample 0 and latent 1 on sample 1,
    so latent 2 is dead; its pre-activations are 0.5 and -0.2."""
    pre = torch.tensor([[2.0, 1.0, 0.5], [0.5, 3.0, -0.2]], requires_grad=True)
    directions = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 2.0]])
    residual = torch.tensor([[1.0, 1.0], [0.0, 0.0]])
    return residual, pre, TopK(1)(pre), directions


def test_auxk_penalty_by_hand():
    residual, pre, latents, directions = auxk_case()
    # only dead latent 2 competes; through the ReLU its values are 0.5 and 0, so the aux
    # reconstruction is [0.5, 1.0] and [0, 0]. Squared errors against the residual: 0.25, 0, 0, 0,
    # mean 0.0625. The residual's variance: each entry is 0.5 from its column's mean, 0.25.
    for k_aux in [1, 3]:  # more places than dead latents: the live ones still may not take them
        assert auxk_penalty(residual, pre, latents, directions, k_aux).item() == pytest.approx(0.25), (
            f"k_aux={k_aux}: 0.45 means the ReLU was left out; more means live latents competed")


def test_auxk_penalty_trains_only_the_dead_latents():
    residual, pre, latents, directions = auxk_case()
    auxk_penalty(residual, pre, latents, directions, 1).backward()
    # d/da of (1/4)[(a - 1)^2 + (2a - 1)^2] / 0.25 at a = 0.5: (1/4)(-1 + 0) / 0.25 = -1;
    # sample 1's value went through the ReLU at -0.2: no gradient
    np.testing.assert_allclose(pre.grad, [[0, 0, -1.0], [0, 0, 0]])


def test_auxk_penalty_is_zero_when_no_latent_is_dead():
    residual, pre, _, directions = auxk_case()
    latents = torch.relu(pre)  # latents 0 and 1 fire; latent 2 fires on sample 0
    penalty = auxk_penalty(residual, pre, latents, directions, 2)
    assert penalty.item() == 0
    penalty.backward()
    assert torch.equal(pre.grad, torch.zeros_like(pre)), "no dead latent, nothing to train (and no NaN)"


@pytest.mark.parametrize("k_aux", [0, -1, 1.5])
def test_auxk_penalty_needs_a_positive_k_aux(k_aux):
    residual, pre, latents, directions = auxk_case()
    with pytest.raises(ValueError, match="k_aux must be a positive integer"):
        auxk_penalty(residual, pre, latents, directions, k_aux)


def test_a_single_jump_relu_has_no_instances():
    with pytest.raises(ValueError, match="only one made with n_instances has instances"):
        JumpReLU(4).instance(0)


def test_batched_auxk_penalty_is_per_instance():
    generator = torch.Generator().manual_seed(0)
    pre = torch.randn(3, 40, 8, generator=generator) + 1.0  # mostly positive
    # instance i's last i + 1 latents never win TopK(2): 1, 2 and 3 dead latents, so with k_aux = 2
    # instance 2 needs a top-k among its dead latents and the others do not
    handicap = torch.zeros(3, 1, 8)
    for i in range(3):
        handicap[i, :, 7 - i:] = 10.0
    latents = TopK(2)(pre - handicap)
    residual = torch.randn(3, 40, 4, generator=generator)
    directions = torch.randn(3, 8, 4, generator=generator)
    assert (latents > 0).sum(dim=1).eq(0).sum(dim=-1).tolist() == [1, 2, 3]
    batched = auxk_penalty(residual, pre, latents, directions, 2)
    assert batched.shape == (3,) and (batched > 0).all()
    for i in range(3):
        torch.testing.assert_close(batched[i], auxk_penalty(residual[i], pre[i], latents[i], directions[i], 2))


@pytest.mark.parametrize("k_aux", [2, 8])  # fewer places than dead latents (a top-k), and more (none needed)
def test_auxk_penalty_is_the_one_notebook_09_writes(k_aux):
    written = solutions("09_pathologies.py", {"torch": torch, "np": np})["auxk_penalty"]
    generator = torch.Generator().manual_seed(1)
    pre = torch.randn(3, 10, 8, generator=generator) + 1.0  # mostly positive
    latents = TopK(2)(pre - torch.tensor([0.0] * 4 + [10.0] * 4))  # the last four never win: dead, yet positive
    residual, directions = torch.randn(3, 10, 4, generator=generator), torch.randn(3, 8, 4, generator=generator)

    def loss_and_gradient(penalty):
        z = pre.clone().requires_grad_()
        loss = penalty(residual, z, latents, directions, k_aux)
        return loss, torch.autograd.grad(loss.sum(), z)[0]

    for ours, theirs in zip(loss_and_gradient(auxk_penalty), loss_and_gradient(written)):
        torch.testing.assert_close(ours, theirs)


def test_auxk_loss_is_the_weighted_penalty_on_the_detached_residual():
    torch.manual_seed(0)
    recipe = replace(LECTURE, auxk_weight=0.5, k_aux=2)
    model = SparseAutoencoder(4, 8, sparsity_weight=3.0, activation=TopK(1), recipe=recipe)
    x = torch.randn(5, 4)
    output = model(x)
    loss = model.auxk_loss(x, output)
    live = (output.latents > 0).any(dim=0)
    assert live.sum() <= 5 and loss.item() > 0  # TopK(1) on 5 samples leaves at least 3 latents dead
    expected = 0.5 * auxk_penalty((x - output.x_recon).detach(), model.pre_activations(x), output.latents,
                                  model.decoder_directions, 2)
    torch.testing.assert_close(loss, expected)
    loss.backward()
    # through a residual that was not detached, the decoder bias and the live latents would learn
    assert model.decoder.bias.grad is None or not model.decoder.bias.grad.any()
    assert not model.encoder.weight.grad[live].any() and not model.decoder.weight.grad[:, live].any()
    assert model.encoder.weight.grad[~live].any()


@pytest.mark.parametrize("activation", [F.relu, TopK(2)], ids=["relu", "topk"])
def test_auxk_loss_is_zero_without_its_weight_or_a_topk(activation):
    recipe = STANDARD if activation is F.relu else STANDARD.without("auxk")
    model = SAEBatch(4, 8, seeds=[0, 1], activation=activation, recipe=recipe)
    x = torch.randn(5, 4)
    assert torch.equal(model.auxk_loss(x, model(x)), torch.zeros(2))


def test_the_lecture_recipe_is_pytorchs_default_initialisation():
    torch.manual_seed(5)
    plain = nn.Linear(3, 6), nn.Linear(6, 3)
    torch.manual_seed(5)
    model = SparseAutoencoder(3, 6, recipe=LECTURE)
    assert torch.equal(model.encoder.weight, plain[0].weight) and torch.equal(model.decoder.weight, plain[1].weight)
    assert torch.equal(model.decoder.bias, plain[1].bias) and model.bias_from_data


def seeded_single(recipe):
    torch.manual_seed(0)
    return SparseAutoencoder(3, 6, recipe=recipe)


@pytest.mark.parametrize("make_model", [seeded_single, lambda recipe: SAEBatch(3, 6, seeds=[0, 1], recipe=recipe)],
                         ids=["single", "batch"])
def test_the_standard_recipe_ties_the_encoder_to_unit_norm_decoder_directions(make_model):
    model = make_model(STANDARD)
    torch.testing.assert_close(model.decoder_directions.norm(dim=-1), torch.ones(model.decoder_directions.shape[:-1]))
    assert torch.equal(model.encoder_directions, model.decoder_directions) and not model.encoder_bias.any()
    # each ingredient alone: untied keeps the default encoder; no unit norm keeps the default lengths
    default = make_model(LECTURE)
    untied = make_model(STANDARD.without("tied_init"))
    assert torch.equal(untied.encoder_weight, default.encoder_weight)
    assert torch.equal(untied.decoder_directions, model.decoder_directions)
    free_norm = make_model(STANDARD.without("unit_norm_decoder"))
    assert torch.equal(free_norm.decoder_directions, default.decoder_directions)
    assert torch.equal(free_norm.encoder_directions, default.decoder_directions)
    lengths = default.decoder_directions.norm(dim=-1)
    assert (lengths < 0.9).all(), "the default initialisation's directions are far from unit length"


def test_a_pre_encoder_bias_subtracts_b_dec_before_encoding():
    with_bias = SAEBatch(3, 6, seeds=[0, 1], activation=F.relu, recipe=STANDARD)
    without = SAEBatch(3, 6, seeds=[0, 1], activation=F.relu, recipe=STANDARD.without("pre_encoder_bias"))
    with torch.no_grad():
        for model in (with_bias, without):
            model.b_dec.copy_(torch.tensor([[1.0, -2.0, 0.5], [0.0, 3.0, 1.0]]))
    x = torch.randn(7, 3)
    torch.testing.assert_close(with_bias.pre_activations(x)[1], without.pre_activations(x - without.b_dec[1])[1])
    torch.testing.assert_close(with_bias.pre_activations(x)[0], (x - with_bias.b_dec[0]) @ with_bias.W_enc[0])
    # an instance computes what the batch does
    torch.testing.assert_close(with_bias.instance(1)(x).x_recon, with_bias(x).x_recon[1])


def test_the_pre_encoder_bias_starts_at_the_data_mean_once():
    model = SAEBatch(3, 6, seeds=[0, 1], recipe=STANDARD)
    x = torch.randn(50, 3) + torch.tensor([5.0, -1.0, 2.0])
    assert not model.bias_from_data
    model.initialise_from_data(x)
    torch.testing.assert_close(model.b_dec, x.mean(dim=0).expand(2, 3))
    model.initialise_from_data(x + 10)
    torch.testing.assert_close(model.b_dec, x.mean(dim=0).expand(2, 3))
    assert model.instance(0).bias_from_data
    untouched = SAEBatch(3, 6, seeds=[0, 1], recipe=STANDARD.without("pre_encoder_bias"))
    before = untouched.b_dec.clone()
    untouched.initialise_from_data(x)
    assert torch.equal(untouched.b_dec, before)


def test_the_parallel_gradient_is_removed_and_the_length_restored():
    model = SAEBatch(3, 4, seeds=[0], recipe=STANDARD)
    model.W_dec.grad = torch.randn_like(model.W_dec)
    original_grad = model.W_dec.grad.clone()
    model.remove_parallel_gradient()
    along = (model.W_dec.grad * model.W_dec).sum(dim=-1)
    torch.testing.assert_close(along, torch.zeros_like(along))
    # only the parallel part went: what is left plus that part is the original gradient
    parallel = (original_grad * model.W_dec).sum(dim=-1, keepdim=True) * model.W_dec
    torch.testing.assert_close(model.W_dec.grad + parallel, original_grad)
    with torch.no_grad():
        model.W_dec.mul_(3.0)
    model.normalise_decoder()
    torch.testing.assert_close(model.W_dec.norm(dim=-1), torch.ones(1, 4))
    lecture = SAEBatch(3, 4, seeds=[0], recipe=LECTURE)
    lecture.W_dec.grad = original_grad.clone()
    lecture.remove_parallel_gradient()
    lecture.normalise_decoder()
    assert torch.equal(lecture.W_dec.grad, original_grad) and torch.equal(lecture.W_dec, SAEBatch(3, 4, seeds=[0]).W_dec)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"tied_init": 1}, "tied_init must be True or False"),
        ({"auxk_weight": -0.1}, "auxk_weight must be a finite number >= 0"),
        ({"auxk_weight": float("inf")}, "auxk_weight"),
        ({"k_aux": 0}, "k_aux must be a positive integer"),
    ],
)
def test_bad_recipes_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Recipe(**kwargs)


def test_a_recipe_is_needed_and_its_ingredients_are_named():
    with pytest.raises(ValueError, match="recipe must be a Recipe"):
        SAEBatch(2, 4, seeds=[0], recipe="standard")
    with pytest.raises(ValueError, match="unknown ingredient 'tied'"):
        STANDARD.without("tied")
    assert STANDARD.without("auxk").auxk_weight == 0 and STANDARD.without("tied_init").unit_norm_decoder
