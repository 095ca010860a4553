import ast
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn

from sae_helpers import SparseAutoencoder
from sae_helpers.model import SAEBatch

NOTEBOOK_02 = Path(__file__).resolve().parents[1] / "notebooks" / "02_defining_the_sae.py"


def notebook_class():
    """The SparseAutoencoder class written inline in notebook 02, parsed with ast."""
    tree = ast.parse(NOTEBOOK_02.read_text())
    (node,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "SparseAutoencoder"]
    namespace = {"torch": torch, "nn": nn}
    exec(compile(ast.Module(body=[node], type_ignores=[]), str(NOTEBOOK_02), "exec"), namespace)
    return namespace["SparseAutoencoder"]


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
    NotebookSAE = notebook_class()
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
    batch = SAEBatch(2, [20, 5], seeds=[3, 4], sparsity_weight=[1.0, 0.5])
    x = torch.randn(30, 2)
    out = batch(x)
    assert out.x_recon.shape == (2, 30, 2) and out.latents.shape == (2, 30, 20)
    for i, (seed, width) in enumerate([(3, 20), (4, 5)]):
        torch.manual_seed(seed)
        single = SparseAutoencoder(2, width)
        x_recon, latents = single(x)
        torch.testing.assert_close(out.x_recon[i], x_recon)
        torch.testing.assert_close(out.latents[i, :, :width], latents)
    assert (out.latents[1, :, 5:] == 0).all(), "padding latents of a narrower instance stay at zero"


def test_batch_penalties_are_per_instance_and_match_the_single_model():
    batch = SAEBatch(2, [20, 5], seeds=[3, 4], sparsity_weight=[1.0, 0.5])
    latents = batch.encode(torch.randn(30, 2))
    for i in range(2):
        single = batch.instance(i)
        own = latents[i, :, : single.hidden_dim]
        torch.testing.assert_close(batch.sparsity_loss(latents)[i], single.sparsity_loss(own))
        torch.testing.assert_close(batch.decorrelation_loss(latents)[i], single.decorrelation_loss(own))


def test_batch_does_not_touch_the_callers_random_state():
    torch.manual_seed(0)
    expected = torch.rand(1)
    torch.manual_seed(0)
    SAEBatch(2, 4, seeds=[1, 2])
    assert torch.equal(torch.rand(1), expected)


def test_relu_batch_uses_relu():
    batch = SAEBatch(2, 8, seeds=[0], activation="relu")
    assert (batch.encode(torch.randn(50, 2)) >= 0).all()
    with pytest.raises(ValueError, match="only GELU"):
        batch.instance(0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"seeds": []}, "seeds is empty"),
        ({"seeds": [0, 1], "hidden_dim": [4, 4, 4]}, "hidden_dim must be one value or one per seed"),
        ({"seeds": [0], "activation": "tanh"}, "unknown activation 'tanh'"),
        ({"seeds": [0], "sparsity_weight": -1.0}, "sparsity_weight"),
        ({"seeds": [0], "hidden_dim": 0}, "hidden_dim"),
    ],
)
def test_bad_batch_settings_are_named(kwargs, message):
    kwargs = {"input_dim": 2, "hidden_dim": 4, **kwargs}
    with pytest.raises(ValueError, match=message):
        SAEBatch(**kwargs)


def test_batch_rejects_input_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"shape \(n_samples, 2\)"):
        SAEBatch(2, 4, seeds=[0])(torch.randn(3, 2, 2))


def test_topk_keeps_exactly_k_nonnegative_latents_per_sample():
    batch = SAEBatch(4, [12, 6], seeds=[0, 1], activation="topk", k=[3, 2])
    with torch.no_grad():
        batch.b_enc += 5.0  # every pre-activation positive, so each kept value is nonzero
    latents = batch.encode(torch.randn(50, 4))
    assert (latents >= 0).all()
    assert ((latents[0] != 0).sum(dim=1) == 3).all()
    assert ((latents[1] != 0).sum(dim=1) == 2).all()
    assert (latents[1, :, 6:] == 0).all(), "padding latents are never chosen"


def test_topk_keeps_the_largest_preactivations():
    batch = SAEBatch(2, 4, seeds=[0], activation="topk", k=2)
    with torch.no_grad():
        batch.W_enc.zero_()
        batch.b_enc.copy_(torch.tensor([[0.5, -1.0, 2.0, 1.0]]))
    np.testing.assert_allclose(batch.encode(torch.zeros(1, 2))[0, 0].detach(), [0, 0, 2.0, 1.0])


def test_topk_needs_a_valid_k():
    with pytest.raises(ValueError, match="k is needed"):
        SAEBatch(2, 4, seeds=[0], activation="topk")
    with pytest.raises(ValueError, match="k must be an integer from 1 to the width"):
        SAEBatch(2, 4, seeds=[0], activation="topk", k=5)
    with pytest.raises(ValueError, match="only for it"):
        SAEBatch(2, 4, seeds=[0], activation="relu", k=2)


def test_decoder_norm_l1_by_hand():
    batch = SAEBatch(2, 2, seeds=[0], sparsity_weight=0.5, activation="relu")
    with torch.no_grad():
        batch.W_dec.copy_(torch.tensor([[[3.0, 4.0], [0.0, 2.0]]]))  # decoder row norms 5 and 2
    latents = torch.tensor([[[1.0, 0.0], [2.0, 3.0]]])  # two samples
    # per sample: 1*5 + 0*2 = 5 and 2*5 + 3*2 = 16; mean 10.5; times the weight 0.5
    assert batch.decoder_norm_l1_loss(latents).item() == pytest.approx(5.25)
