import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sae_helpers import train_sae
from sae_helpers.baselines import (
    Dictionary,
    ica_dictionary,
    least_squares_dictionary,
    mixing_recovery,
    pca_dictionary,
    random_dictionary,
    recovery,
    sae_dictionary,
    sparse_codes,
    sparse_coding_dictionary,
)
from sae_helpers.data import make_lecture_data, make_sparse_sources
from sae_helpers.model import SAEBatch

SOURCES = make_sparse_sources(n_sources=16, d=8, p=0.05, n_samples=8000, seed=0)


def test_the_true_dictionary_recovers_perfectly():
    row = recovery(SOURCES, least_squares_dictionary(SOURCES.data, SOURCES.directions))
    assert row["MCC"] == pytest.approx(1) and row["MMCS"] == pytest.approx(1)
    assert row["FVU"] == pytest.approx(0, abs=1e-12)


def test_codes_equal_to_the_sources_give_activation_r_one():
    perfect = least_squares_dictionary(SOURCES.data, SOURCES.directions)._replace(codes=SOURCES.activations)
    assert recovery(SOURCES, perfect)["act_r"] == pytest.approx(1)
    assert recovery(SOURCES, perfect)["L0"] == pytest.approx((SOURCES.activations > 0).sum(1).mean())


def test_pca_codes_are_the_centred_data_projected_on_the_components():
    pca = pca_dictionary(SOURCES.data, 5)
    centred = SOURCES.data - SOURCES.data.mean(axis=0)
    np.testing.assert_allclose(pca.codes, centred @ pca.directions.T, atol=1e-12)
    np.testing.assert_allclose(pca.x_recon, pca.codes @ pca.directions + SOURCES.data.mean(axis=0), atol=1e-12)


@pytest.mark.parametrize("make", [lambda: pca_dictionary(SOURCES.data, 8),
                                  lambda: ica_dictionary(SOURCES.data, 8)])
def test_pca_and_ica_are_capped_by_the_dimension(make):
    dictionary = make()
    assert dictionary.directions.shape == (8, 8) and dictionary.codes.shape == (8000, 8)
    row = recovery(SOURCES, dictionary)
    assert row["MCC"] <= 0.5, "8 directions can match at most 8 of 16 sources"
    assert row["FVU"] == pytest.approx(0, abs=1e-6), "8 components span 8-D data"


def test_sparse_dictionary_learning_recovers_sparse_sources():
    dictionary = sparse_coding_dictionary(SOURCES.data, 32)
    assert (dictionary.codes >= 0).all()
    np.testing.assert_allclose(dictionary.x_recon, dictionary.codes @ dictionary.directions)
    row = recovery(SOURCES, dictionary)
    assert row["MCC"] > 0.95 and row["L0"] < 2 * (SOURCES.activations > 0).sum(1).mean()
    # with the true directions, a sample with one active source gets a code close to its magnitude
    one = np.flatnonzero((SOURCES.activations > 0).sum(1) == 1)[:50]
    codes = sparse_codes(SOURCES.data[one], SOURCES.directions, alpha=0.01)
    np.testing.assert_allclose(codes.max(axis=1), SOURCES.activations[one].max(axis=1) - 0.01, atol=0.02)


def test_random_dictionary_is_not_the_truth_drawn_again():
    # same seed as the sources: a shared random stream would make "chance" perfect
    random = random_dictionary(SOURCES.data, 32, seed=0)
    assert recovery(SOURCES, random)["MCC"] < 0.9


def test_training_beats_the_random_dictionary_by_a_wide_margin():
    model = SAEBatch(8, 32, seeds=[0], sparsity_weight=0.03, activation=F.relu)
    train_sae(model, SOURCES.data, n_epochs=40, lr=3e-3, penalty="decoder_norm_l1", batch_size=1024,
              progress=False)
    trained = recovery(SOURCES, sae_dictionary(model, SOURCES.data))
    chance = recovery(SOURCES, random_dictionary(SOURCES.data, 32, seed=0))
    assert trained["MCC"] > 0.9 > chance["MCC"] + 0.15
    assert trained["L0"] < chance["L0"] / 3


def test_sae_dictionary_takes_one_instance():
    model = SAEBatch(8, 20, seeds=[0, 1], activation=F.relu)
    dictionary = sae_dictionary(model, SOURCES.data, instance=1)
    assert dictionary.directions.shape == (20, 8) and dictionary.codes.shape == (8000, 20)
    single = model.instance(1)
    with torch.no_grad():
        x_recon, latents = single(torch.tensor(SOURCES.data, dtype=torch.float32))
    np.testing.assert_allclose(dictionary.directions, single.decoder.weight.detach().T.numpy())
    np.testing.assert_allclose(dictionary.codes, latents.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dictionary.x_recon, x_recon.numpy(), rtol=1e-5, atol=1e-6)


LECTURE = make_lecture_data()


def test_mixing_recovery_of_the_answer_key_is_perfect():
    # directions = the mixing rows, codes = the sources: the truth itself
    truth = Dictionary(LECTURE.mixing, LECTURE.sources, LECTURE.data)
    row = mixing_recovery(LECTURE, truth)
    np.testing.assert_allclose(row["best_r"], 1)
    np.testing.assert_allclose(row["alignment"], 1)
    assert row["FVU"] == 0
    assert (row["selectivity"] > 0.99).all(), "the two sources are uncorrelated"


def test_fastica_unmixes_the_lecture_sources():
    row = mixing_recovery(LECTURE, ica_dictionary(LECTURE.data, 2))
    assert (row["best_r"] > 0.99).all() and (row["alignment"] > 0.99).all()


def test_mixing_recovery_counts_active_codes_per_sample_and_dead_atoms():
    codes = np.zeros((len(LECTURE.data), 4))
    codes[:, 0] = LECTURE.sources[:, 0]  # sin(t) + 1: above 0.001 on all but a few samples
    codes[::2, 1] = 1.0  # active on every other sample
    codes[:, 2] = -0.5  # never positive: dead
    codes[:, 3] = 1e-4  # positive, but below the threshold: dead too
    row = mixing_recovery(LECTURE, Dictionary(np.ones((4, 2)), codes, LECTURE.data))
    assert row["active"] == pytest.approx((codes > 1e-3).sum(axis=1).mean())
    assert 1.48 < row["active"] < 1.5, "about 1 + 1/2 active codes per sample"
    assert row["dead"] == 2
