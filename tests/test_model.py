import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from notebook_code import definitions, solutions
from sae_helpers import SparseAutoencoder
from sae_helpers.model import SAEBatch, TopK, decoder_norm_l1_penalty, decorrelation_penalty


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
    inline = solutions("06_superposition.py", {"np": np, "torch": torch})
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
