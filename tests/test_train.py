import numpy as np
import pytest
import torch

from sae_helpers import SparseAutoencoder, train_sae
from sae_helpers.data import make_lecture_data
from sae_helpers.model import SAEBatch
from sae_helpers.train import gradients_by_hand, pick_device

DATA = make_lecture_data().data


def fresh_model(seed=0, **kwargs):
    torch.manual_seed(seed)
    return SparseAutoencoder(2, 20, **kwargs)


def plain_loop(model, data, n_epochs, lr):
    """The lecture's loop, written out: the reference train_sae must reproduce."""
    x = torch.tensor(data, dtype=torch.float32)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = np.zeros((n_epochs, 2))
    for epoch in range(n_epochs):
        optimizer.zero_grad()
        x_recon, latents = model(x)
        l1 = model.sparsity_loss(latents)
        mse = torch.nn.MSELoss()(x_recon, x)
        (mse + l1).backward()
        optimizer.step()
        losses[epoch] = mse.item(), l1.item()
    return losses


def test_full_batch_training_matches_the_lectures_loop():
    history = train_sae(fresh_model(), DATA, n_epochs=40, progress=False)
    reference = plain_loop(fresh_model(), DATA, n_epochs=40, lr=7e-4)
    np.testing.assert_allclose(history.mse, reference[:, 0], rtol=1e-6)
    np.testing.assert_allclose(history.penalty, reference[:, 1], rtol=1e-5)  # summed in another order


def test_history_shapes_and_total():
    history = train_sae(fresh_model(), DATA, n_epochs=5, penalty="decorrelation", progress=False)
    assert history.mse.shape == history.penalty.shape == (5,)
    assert history.penalty_name == "decorrelation"
    np.testing.assert_array_equal(history.total, history.mse + history.penalty)


def test_seeded_golden_values():
    # seed 0, lecture data and settings, 100 epochs (recorded from this implementation;
    # notebook 03 prints the same run's epochs 1 and 95: MSE 3.1314 and 1.2436)
    history = train_sae(fresh_model(), DATA, n_epochs=100, progress=False)
    assert history.mse[0] == pytest.approx(3.1314, abs=1e-4)
    assert history.mse[94] == pytest.approx(1.2436, abs=1e-4)
    assert history.penalty[94] == pytest.approx(0.3389, abs=1e-4)


def test_training_improves_reconstruction_of_the_lecture_data():
    model = fresh_model()
    history = train_sae(model, DATA, progress=False)
    x = torch.tensor(DATA, dtype=torch.float32)
    fvu = ((model(x).x_recon.detach().numpy() - DATA) ** 2).sum() / ((DATA - DATA.mean(0)) ** 2).sum()
    assert history.mse[-1] < history.mse[0] / 50
    assert fvu < 0.05, "after the lecture's 600 epochs the SAE should explain > 95% of the variance"


def test_minibatch_order_is_fixed_by_the_seed():
    runs = [train_sae(fresh_model(), DATA, n_epochs=3, batch_size=256, seed=s, progress=False)
            for s in (1, 1, 2)]
    np.testing.assert_array_equal(runs[0].mse, runs[1].mse)
    assert not np.array_equal(runs[0].mse, runs[2].mse)


def test_tensor_data_is_accepted():
    a = train_sae(fresh_model(), DATA, n_epochs=3, progress=False)
    b = train_sae(fresh_model(), torch.tensor(DATA), n_epochs=3, progress=False)
    np.testing.assert_array_equal(a.mse, b.mse)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"data": DATA[:, :1]}, "must have 2 columns"),
        ({"data": np.full((10, 2), np.nan)}, "NaN or inf"),
        ({"data": np.ones((0, 2))}, "empty"),
        ({"penalty": "l2"}, "unknown penalty 'l2'"),
        ({"n_epochs": 0}, "n_epochs"),
        ({"lr": -1.0}, "lr"),
        ({"lr": float("nan")}, "lr"),
        ({"batch_size": 0}, "batch_size"),
        ({"penalty": "decorrelation", "batch_size": 1}, "at least 2 samples"),
        ({"penalty": "decoder_norm_l1"}, "needs an SAEBatch"),
    ],
)
def test_bad_input_is_named(kwargs, message):
    kwargs = {"data": DATA, "progress": False, **kwargs}
    with pytest.raises(ValueError, match=message):
        train_sae(fresh_model(), **kwargs)


def test_divergence_stops_with_a_clear_message():
    with pytest.raises(FloatingPointError, match="diverged at epoch 2.*smaller lr"):
        train_sae(fresh_model(), DATA, n_epochs=100, lr=1e9, progress=False)


@pytest.mark.parametrize("penalty", ["l1", "decorrelation"])
def test_batched_training_gives_each_instance_its_single_run(penalty):
    seeds, widths, weights = [0, 1, 2], [20, 20, 7], [1.0, 0.3, 1.0]
    batch = SAEBatch(2, widths, seeds=seeds, sparsity_weight=weights)
    history = train_sae(batch, DATA, n_epochs=60, penalty=penalty, progress=False)
    assert history.mse.shape == (60, 3)
    for i, (seed, width, weight) in enumerate(zip(seeds, widths, weights)):
        torch.manual_seed(seed)
        single = SparseAutoencoder(2, width, sparsity_weight=weight)
        alone = train_sae(single, DATA, n_epochs=60, penalty=penalty, progress=False)
        np.testing.assert_allclose(history.instance(i).mse, alone.mse, rtol=1e-4)
        np.testing.assert_allclose(history.instance(i).penalty, alone.penalty, rtol=1e-4)
        for a, b in zip(batch.instance(i).parameters(), single.parameters()):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_pick_device_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device("auto").type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert pick_device("auto").type == "mps"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert pick_device("auto").type == "cpu"
    assert pick_device("cpu").type == "cpu"


def test_training_moves_the_model_to_the_chosen_device():
    model = fresh_model()
    train_sae(model, DATA, n_epochs=2, device="cpu", progress=False)
    assert next(model.parameters()).device.type == "cpu"


def autograd_losses(model, x, penalty="l1"):
    """MSE + penalty of `model` on `x` through autograd: the reference for gradients_by_hand."""
    model.zero_grad()
    x_recon, latents = model(x)
    mse = ((x_recon - x) ** 2).mean(dim=(-2, -1))
    penalty = model.sparsity_loss(latents) if penalty == "l1" else torch.zeros_like(mse)
    (mse + penalty).sum().backward()
    return mse.detach(), penalty.detach(), [p.grad for p in model.parameters()]


@pytest.mark.parametrize("make_model, penalty", [
    (lambda: fresh_model(sparsity_weight=0.7), "l1"),
    (lambda: fresh_model(), "none"),
    (lambda: SAEBatch(2, [20, 20, 7], seeds=[0, 1, 2], sparsity_weight=[1.0, 0.3, 2.0]), "l1"),
    (lambda: SAEBatch(2, [12, 5], seeds=[3, 4], activation="relu"), "l1"),
    (lambda: SAEBatch(2, [12, 5], seeds=[3, 4], activation="topk", k=[3, 2]), "none"),
    (lambda: SAEBatch(2, 12, seeds=[5], activation="topk", k=4), "l1"),
], ids=["lecture SAE", "lecture SAE, no penalty", "GELU batch, mixed widths", "ReLU batch",
        "TopK batch", "TopK with L1"])
def test_gradients_by_hand_equal_autograds(make_model, penalty):
    model = make_model()
    with torch.no_grad():  # off the initialisation, padding latents' weights included
        for parameter in model.parameters():
            parameter.add_(0.1 * torch.randn(parameter.shape, generator=torch.Generator().manual_seed(0)))
    x = torch.tensor(DATA[:500], dtype=torch.float32)
    mse, loss_penalty, gradients = gradients_by_hand(model, x, penalty)
    ref_mse, ref_penalty, ref_gradients = autograd_losses(model, x, penalty)
    torch.testing.assert_close(mse, ref_mse, rtol=1e-6, atol=0)
    torch.testing.assert_close(loss_penalty, ref_penalty, rtol=1e-5, atol=0)
    for parameter, gradient, reference in zip(model.parameters(), gradients, ref_gradients):
        assert gradient.shape == parameter.shape and gradient.is_contiguous()
        torch.testing.assert_close(gradient, reference, rtol=1e-5, atol=1e-8)


def test_minibatch_training_by_hand_equals_autograd():
    """train_sae's hand-written gradients against the same minibatch loop through autograd."""
    n_epochs, batch_size, seed = 3, 700, 5
    model = SAEBatch(2, [20, 9], seeds=[0, 1], activation="relu", sparsity_weight=[0.5, 1.0])
    reference = SAEBatch(2, [20, 9], seeds=[0, 1], activation="relu", sparsity_weight=[0.5, 1.0])
    history = train_sae(model, DATA, n_epochs=n_epochs, batch_size=batch_size, seed=seed, progress=False)
    x = torch.tensor(DATA, dtype=torch.float32)
    optimizer = torch.optim.Adam(reference.parameters(), lr=7e-4)
    shuffle = torch.Generator().manual_seed(seed)
    for epoch in range(n_epochs):
        order = torch.randperm(len(x), generator=shuffle)
        mse_sum = 0
        for start in range(0, len(x), batch_size):
            batch = x[order[start:start + batch_size]]
            mse, _, _ = autograd_losses(reference, batch)
            optimizer.step()
            mse_sum = mse_sum + mse * len(batch) / len(x)
        np.testing.assert_allclose(history.mse[epoch], mse_sum.numpy(), rtol=1e-5)
    for a, b in zip(model.parameters(), reference.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_gradients_by_hand_name_the_penalties_they_cover():
    with pytest.raises(ValueError, match="cover the penalties.*'decorrelation'"):
        gradients_by_hand(fresh_model(), torch.zeros(4, 2), "decorrelation")
