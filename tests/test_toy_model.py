import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sae_helpers.toy_model import (
    ToyModel,
    feature_superposition,
    importance_weighted_mse,
    train_toy_model,
)
from notebook_code import definitions


def test_importance_weighted_mse_by_hand():
    x = torch.tensor([[[1.0, 0.0], [0.0, 2.0]]])  # 1 instance, 2 samples, 2 features
    x_recon = torch.tensor([[[0.0, 0.0], [1.0, 0.0]]])
    # sample 1: 3 * 1 = 3; sample 2: 3 * 1 + 0.5 * 4 = 5; mean 4
    assert importance_weighted_mse(x, x_recon, torch.tensor([3.0, 0.5])).tolist() == [4.0]


def test_forward_is_the_notebooks_equations():
    toy_forward = definitions("07_toy_model_of_superposition.py", ["toy_forward"], {"F": F})["toy_forward"]
    model = ToyModel(6, 3, [0.5, 0.1], importance=np.ones(6), seed=1)
    with torch.no_grad():
        model.b.normal_()
    x = model.sample(32, torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(model(x), toy_forward(model.W, model.b, x))
        torch.testing.assert_close(model.hidden(x), x @ model.W.mT)


def test_features_are_present_with_each_instances_probability_and_uniform_values():
    model = ToyModel(50, 5, [1.0, 0.2, 0.02], importance=np.ones(50))
    x = model.sample(4000, torch.Generator().manual_seed(0))
    present = (x > 0).float().mean(dim=(1, 2))
    torch.testing.assert_close(present, torch.tensor([1.0, 0.2, 0.02]), atol=0.003, rtol=0)
    assert x.max() < 1 and x[0].mean() == pytest.approx(0.5, abs=0.005)


def test_the_seed_fixes_the_weights_and_the_features():
    models = [ToyModel(5, 2, [0.1], np.ones(5), seed=s) for s in (3, 3, 4)]
    assert torch.equal(models[0].W, models[1].W) and not torch.equal(models[0].W, models[2].W)
    draws = [models[0].sample(10, torch.Generator().manual_seed(s)) for s in (1, 1)]
    assert torch.equal(*draws)


def test_feature_superposition_known_answers():
    # features 0 and 1 orthogonal; 2 and 3 an antipodal pair along the third axis; 4 dropped
    W = torch.tensor([[1.0, 0, 0, 0, 0], [0, 1.0, 0, 0, 0], [0, 0, 1.0, -1.0, 0]])
    torch.testing.assert_close(feature_superposition(W), torch.tensor([0.0, 0.0, 1.0, 1.0, 0.0]))
    # a batch of instances: one column at 45 degrees to another of length 2 shares (cos 45 * 2)^2 = 2
    W2 = torch.tensor([[[1.0, 2 ** 0.5], [0.0, 2 ** 0.5]]])
    torch.testing.assert_close(feature_superposition(W2), torch.tensor([[2.0, 0.5]]))


def test_a_feature_is_represented_when_its_column_is_longer_than_one_half():
    model = ToyModel(4, 2, [0.1], np.ones(4))
    with torch.no_grad():
        model.W.copy_(torch.tensor([[[0.3, 0.0, 0.5, 0.0], [0.0, 0.49, 0.0, 0.0]]]))  # lengths 0.3, 0.49, 0.5, 0
    torch.testing.assert_close(model.feature_norms(), torch.tensor([[0.3, 0.49, 0.5, 0.0]]))
    assert model.represented().tolist() == [[False, False, False, False]]
    with torch.no_grad():
        model.W[0, 1, 1] = 0.51
    assert model.represented().tolist() == [[False, True, False, False]]


def test_sources_are_the_hidden_layer_with_unit_columns_as_directions():
    model = ToyModel(8, 3, [0.5, 0.1], np.ones(8), seed=0)
    sources = model.sources(1, 100, seed=2)
    W = model.W[1].detach().double().numpy()
    np.testing.assert_allclose(sources.data, sources.activations @ W.T, atol=1e-12)
    np.testing.assert_allclose(sources.directions * np.linalg.norm(W, axis=0)[:, None], W.T, atol=1e-12)
    assert ((sources.activations > 0).mean()) == pytest.approx(0.1, abs=0.04)


def test_training_finds_the_dense_and_the_sparse_answers():
    # 3 features in 1 dimension, importance 1, 0.5, 0.25: dense, only feature 0 is kept;
    # very sparse, the model keeps two, as an antipodal pair (the paper's 1-dimensional case)
    model = ToyModel(3, 1, [1.0, 0.01], importance=[1.0, 0.5, 0.25], seed=0)
    losses = train_toy_model(model, n_steps=1500, lr=1e-2, progress=False)
    assert losses.shape == (1500, 2) and (losses[-50:].mean(0) < losses[:50].mean(0)).all()
    represented = model.represented()
    assert represented[0].tolist() == [True, False, False]
    assert represented[1, :2].all()
    W = model.W.detach()[1, 0]
    assert W[0] * W[1] < 0, "the two kept features point opposite ways"


def test_training_uses_the_models_own_loss_weights():
    # importance 0 for feature 1: the model has no reason to keep it, however dense
    model = ToyModel(2, 1, [1.0], importance=[1.0, 0.0], seed=0)
    train_toy_model(model, n_steps=500, lr=1e-2, progress=False)
    assert model.represented()[0].tolist() == [True, False]


@pytest.mark.parametrize("kwargs, message", [
    ({"feature_probability": [0.0]}, "feature_probability"),
    ({"feature_probability": [1.5]}, "feature_probability"),
    ({"feature_probability": []}, "feature_probability"),
    ({"importance": [1.0, 1.0]}, "importance must be 3"),
    ({"importance": [1.0, float("nan"), 1.0]}, "importance"),
    ({"n_hidden": 0}, "n_hidden"),
])
def test_bad_settings_are_named(kwargs, message):
    settings = {"n_features": 3, "n_hidden": 2, "feature_probability": [0.1], "importance": [1.0, 1.0, 1.0]}
    with pytest.raises(ValueError, match=message):
        ToyModel(**{**settings, **kwargs})


def test_divergence_is_reported():
    model = ToyModel(3, 2, [1.0], importance=[1.0, 1.0, 1.0])
    with torch.no_grad():
        model.W.fill_(1e30)
    with pytest.raises(FloatingPointError, match="diverged"):
        train_toy_model(model, n_steps=3, progress=False)
