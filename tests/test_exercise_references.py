"""The references the exercise checks compare with, each checked on its own exercise's cases
against an answer worked out another way (scipy, autograd, brute force, the package's trainer),
so that a bug in a reference cannot pass as the right answer."""

import itertools
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.stats import pearsonr
from sklearn.metrics import f1_score

from sae_helpers import SparseAutoencoder, train_sae
from sae_helpers.data import make_sparse_sources
from sae_helpers.data import make_lecture_data
from sae_helpers.exercises import (
    defining_the_sae,
    inspection,
    language_model,
    mixing_sources,
    pathologies,
    superposition,
    training,
)
from sae_helpers.language_model import bits_per_char
from sae_helpers.model import LECTURE, STANDARD, SAEBatch, TopK


def cases(exercise):
    return [arguments for _, arguments in exercise.cases]


def abs_r(latents, sources):
    """|r| by scipy, one pair at a time (0 for a latent that never changes): (n_latents, n_sources)."""
    return np.array([[abs(pearsonr(latent, source)[0]) if latent.std() > 0 else 0.0 for source in sources.T]
                     for latent in latents.T])


def test_unmix_recovers_the_sources():
    data, mixing = cases(mixing_sources.UNMIX)[0]
    np.testing.assert_allclose(mixing_sources.unmix(data, mixing), make_lecture_data(n_samples=300).sources, atol=1e-10)
    for data, mixing in cases(mixing_sources.UNMIX):
        np.testing.assert_allclose(mixing_sources.unmix(data, mixing) @ mixing, data, atol=1e-10)


@pytest.mark.parametrize("arguments", cases(mixing_sources.PEARSON_R))
def test_pearson_r_is_scipys(arguments):
    assert mixing_sources.pearson_r(*arguments) == pytest.approx(pearsonr(*arguments)[0], abs=1e-12)


@pytest.mark.parametrize("arguments", cases(defining_the_sae.SAE_FORWARD))
def test_sae_forward_is_the_lectures_model(arguments):
    x, W_enc, b_enc, W_dec, b_dec = arguments
    model = SparseAutoencoder(W_enc.shape[1], W_enc.shape[0])
    model.load_state_dict({"encoder.weight": W_enc, "encoder.bias": b_enc,
                           "decoder.weight": W_dec, "decoder.bias": b_dec})
    with torch.no_grad():
        for ours, theirs in zip(defining_the_sae.sae_forward(*arguments), model(x)):
            torch.testing.assert_close(ours, theirs)


def test_training_step_is_an_epoch_of_the_packages_full_batch_trainer():
    def fresh(seed):
        torch.manual_seed(seed)
        return SparseAutoencoder(2, 8)

    data = make_lecture_data(n_samples=200).data
    stepped = fresh(1)
    optimizer = torch.optim.Adam(stepped.parameters(), lr=0.01)
    losses = [training.training_step(stepped, optimizer, torch.tensor(data, dtype=torch.float32)) for _ in range(3)]
    trained = fresh(1)
    history = train_sae(trained, data, n_epochs=3, lr=0.01, progress=False)
    np.testing.assert_allclose(losses, history.total, rtol=1e-6)
    for ours, theirs in zip(stepped.parameters(), trained.parameters()):
        torch.testing.assert_close(ours, theirs)


@pytest.mark.parametrize("arguments", cases(superposition.TOPK_SAE))
def test_the_topk_sae_is_the_packages_with_the_recipe(arguments):
    d, h, k, seed, _ = arguments
    torch.manual_seed(seed)
    ours = superposition.TopKSAE(d, h, k)
    assert torch.allclose(ours.W_dec.norm(dim=-1), torch.ones(h)) and torch.equal(ours.W_enc, ours.W_dec.T)
    assert not ours.b_enc.any() and not ours.b_dec.any()
    weights = superposition.start_weights(d, h, seed)
    ours.load_state_dict(weights)
    theirs = SparseAutoencoder(d, h, activation=TopK(k), recipe=STANDARD)
    theirs.load_state_dict({"encoder.weight": weights["W_enc"].T, "encoder.bias": weights["b_enc"],
                            "decoder.weight": weights["W_dec"].T, "decoder.bias": weights["b_dec"]})
    x = torch.tensor(make_sparse_sources(n_sources=2 * d, d=d, p=0.1, n_samples=64, seed=seed).data, dtype=torch.float32)
    with torch.no_grad():
        for a, b in zip(ours(x), theirs(x)):
            torch.testing.assert_close(a, b)


def test_the_auxk_step_is_an_epoch_of_the_packages_full_batch_trainer():
    def fresh():
        model = SAEBatch(8, 16, seeds=[0, 1], activation=TopK(2), recipe=replace(LECTURE, auxk_weight=1 / 32, k_aux=4))
        with torch.no_grad():
            model.b_enc[:, :8] -= 2  # some latents dead from the start
        return model

    data = make_sparse_sources(n_sources=12, d=8, p=0.2, n_samples=64, seed=0).data
    stepped = fresh()
    optimizer = torch.optim.Adam(stepped.parameters(), lr=0.01)
    losses = [pathologies.auxk_training_step(stepped, optimizer, torch.tensor(data, dtype=torch.float32))
              for _ in range(3)]
    trained = fresh()
    history = train_sae(trained, data, n_epochs=3, lr=0.01, penalty="none", progress=False)
    assert (history.penalty_loss > 0).all()  # AuxK was at work
    np.testing.assert_allclose(torch.stack(losses).numpy(), history.total, rtol=1e-6)
    for ours, theirs in zip(stepped.parameters(), trained.parameters()):
        torch.testing.assert_close(ours, theirs)


@pytest.mark.parametrize("arguments", cases(training.DECODER_WEIGHT_GRADIENT))
def test_decoder_weight_gradient_is_autograds(arguments):
    d_recon, latents = arguments
    W_dec = torch.zeros(d_recon.shape[1], latents.shape[1], requires_grad=True)  # nn.Linear's (d, h)
    (F.linear(latents, W_dec) * d_recon).sum().backward()  # dL/dx_recon = d_recon, by the chain rule
    torch.testing.assert_close(training.decoder_weight_gradient(d_recon, latents), W_dec.grad)


@pytest.mark.parametrize("arguments", cases(inspection.BEST_LATENTS))
def test_best_latents_by_a_loop(arguments):
    r = abs_r(*arguments)
    np.testing.assert_array_equal(inspection.best_latents(*arguments), [np.argmax(column) for column in r.T])


@pytest.mark.parametrize("arguments", cases(inspection.ONE_TO_ONE_LATENTS))
def test_one_to_one_latents_by_brute_force(arguments):
    r = abs_r(*arguments)
    best = max(itertools.permutations(range(len(r)), r.shape[1]),
               key=lambda chosen: sum(r[latent, source] for source, latent in enumerate(chosen)))
    np.testing.assert_array_equal(inspection.one_to_one_latents(*arguments), best)


@pytest.mark.parametrize("arguments", cases(superposition.TOPK))
def test_topk_row_by_row(arguments):
    z, k = arguments
    expected = torch.zeros_like(z)
    for row, values in enumerate(z):
        keep = sorted(range(len(values)), key=lambda j: -values[j])[:k]
        expected[row, keep] = values[keep].clamp_min(0)
    torch.testing.assert_close(superposition.topk(z, k), expected)


@pytest.mark.parametrize("arguments", cases(language_model.BEST_THRESHOLD))
def test_best_f1_by_trying_every_threshold(arguments):
    activations, labels = (np.asarray(a) for a in arguments)
    best = max(f1_score(labels, activations >= t, zero_division=0) for t in np.unique(activations))
    f1, threshold = language_model.best_f1(activations, labels)
    assert f1 == pytest.approx(best, abs=1e-12)
    assert f1_score(labels, activations >= threshold, zero_division=0) == pytest.approx(best, abs=1e-12)


def test_spliced_bits_with_nothing_changed_is_the_models_loss_and_leaves_no_hook():
    model = language_model._tiny_model()
    tokens = torch.randint(32, 127, (64,), generator=torch.Generator().manual_seed(1))
    plain = bits_per_char(model, tokens)
    assert language_model.spliced_bits(model, model.blocks[0], tokens, lambda x: x) == pytest.approx(plain, abs=1e-12)
    assert language_model.spliced_bits(model, model.blocks[0], tokens, torch.zeros_like) != pytest.approx(plain, abs=1e-3)
    assert bits_per_char(model, tokens) == plain
