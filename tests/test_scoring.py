"""Scoring directions against labelled properties: exact thresholds, AUROC, the probe."""

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from sae_helpers.scoring import (
    auroc,
    best_direction_scores,
    best_thresholds,
    f1_score,
    linear_probe,
    probe_scores,
    trivial_f1,
)

rng = np.random.default_rng(0)
LABELS = rng.random((400, 3)) < [0.1, 0.3, 0.5]
ACTIVATIONS = np.round(rng.normal(size=(400, 6)) + LABELS[:, [0, 1, 2, 0, 1, 2]], 1)  # ties


def brute_force(activations, labels):
    return max((2 * (labels & (activations >= t)).sum() / ((activations >= t).sum() + labels.sum()), -t)
               for t in np.unique(activations))


def test_f1_and_trivial_f1_on_known_answers():
    predicted = np.array([True, True, False, False])
    labels = np.array([True, False, True, False])
    assert float(f1_score(predicted, labels)) == pytest.approx(0.5)
    np.testing.assert_allclose(trivial_f1(LABELS), 2 * LABELS.mean(0) / (1 + LABELS.mean(0)))
    assert float(f1_score(np.zeros(4, bool), np.zeros(4, bool))) == 0  # nothing called, nothing to find


def test_best_thresholds_try_every_distinct_activation():
    f1, threshold = best_thresholds(ACTIVATIONS, LABELS, chunk=4)  # chunks cover the columns
    assert f1.shape == threshold.shape == (3, 6)
    for p in range(3):
        for c in range(6):
            best, negative_t = brute_force(ACTIVATIONS[:, c], LABELS[:, p])
            assert f1[p, c] == pytest.approx(best, abs=1e-12)
            called = ACTIVATIONS[:, c] >= threshold[p, c]
            assert float(f1_score(called, LABELS[:, p])) == pytest.approx(f1[p, c], abs=1e-12)
            assert threshold[p, c] == -negative_t  # of equal F1s, the highest threshold


def test_auroc_is_sklearns():
    for c in range(6):
        assert auroc(ACTIVATIONS[:, [c]], LABELS[:, [c % 3]])[0] == pytest.approx(
            roc_auc_score(LABELS[:, c % 3], ACTIVATIONS[:, c]))


def test_best_direction_scores_pick_on_training_data_and_score_held_out():
    labels = rng.random((2000, 2)) < 0.3
    x = rng.normal(size=(2000, 5))
    x[:, 3] += 4 * labels[:, 0]  # direction 3 separates property 0
    x[:, 1] -= 4 * labels[:, 1]  # direction 1, negated, separates property 1
    signed = np.concatenate([x, -x], axis=1)
    scores = best_direction_scores(signed[:1000], labels[:1000], signed[1000:], labels[1000:])
    assert scores.direction.tolist() == [3, 6]
    assert (scores.f1 > 0.9).all() and (scores.auroc > 0.98).all()
    assert (scores.train_f1 > 0.9).all()


def test_a_probe_reads_a_property_that_no_single_direction_holds():
    x = rng.normal(size=(4000, 2))
    labels = (x[:, 0] + x[:, 1] > 0.5)[:, None]
    single = best_direction_scores(x[:2000], labels[:2000], x[2000:], labels[2000:])
    probe = probe_scores(x[:2000], labels[:2000], x[2000:], labels[2000:])
    assert probe.f1[0] > 0.97 > single.f1[0] + 0.1
    logits = linear_probe(x[:2000], labels[:2000])(torch.as_tensor(x[2000:]))
    assert logits.shape == (2000, 1)


def test_each_propertys_probe_is_the_one_it_gets_alone():
    # one loss averaged over the properties would weigh the penalty once per property
    x = rng.normal(size=(1000, 4))
    labels = np.column_stack([x[:, 0] > 0.3, x[:, 1] - x[:, 2] > 1, rng.random(1000) < 0.1])
    together = linear_probe(x, labels, l2=0.01)(torch.as_tensor(x))
    for p in range(3):
        alone = linear_probe(x, labels[:, [p]], l2=0.01)(torch.as_tensor(x))
        torch.testing.assert_close(together[:, [p]], alone, rtol=1e-4, atol=1e-4)


def test_a_k_sparse_probe_reads_the_k_directions_that_separate_the_property():
    x = rng.normal(size=(3000, 6))
    # property 0 rests on directions 1 and 4; property 1 on direction 2, read with the wrong sign
    labels = np.column_stack([x[:, 1] + x[:, 4] > 0.5, x[:, 2] < -0.8])
    probe = linear_probe(x[:2000], labels[:2000], k=2)
    assert probe.directions.sum(dim=0).tolist() == [2, 2]
    assert probe.directions[[1, 4], 0].all()
    logits = probe(torch.as_tensor(x))
    no_other = torch.as_tensor(x).clone()
    no_other[:, [0, 2, 3, 5]] = 0  # property 0's logits do not move with the directions it does not read
    torch.testing.assert_close(probe(no_other)[:, 0], logits[:, 0])
    one = probe_scores(x[:2000], labels[:2000], x[2000:], labels[2000:], k=1)
    two = probe_scores(x[:2000], labels[:2000], x[2000:], labels[2000:], k=2)
    assert two.f1[0] > 0.95 > one.f1[0] + 0.1  # one direction is not enough for property 0
    # the mean difference of direction 2 is negative for property 1: the top-1 pick is another one
    assert not linear_probe(x, labels, k=1).directions[2, 1]
    full = linear_probe(x, labels, k=6)(torch.as_tensor(x))
    torch.testing.assert_close(full, linear_probe(x, labels)(torch.as_tensor(x)))
    with pytest.raises(ValueError, match="at most the 6 directions"):
        linear_probe(x, labels, k=7)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="bool"):
        best_thresholds(ACTIVATIONS, LABELS.astype(int))
    with pytest.raises(ValueError, match="rows"):
        best_thresholds(ACTIVATIONS, LABELS[:10])
    with pytest.raises(ValueError, match="positive"):
        best_thresholds(ACTIVATIONS, np.zeros((400, 1), dtype=bool))
    with pytest.raises(ValueError, match="finite|NaN"):
        best_thresholds(np.full((400, 2), np.nan), LABELS)
    with pytest.raises(ValueError, match="directions"):
        best_direction_scores(ACTIVATIONS, LABELS, ACTIVATIONS[:, :3], LABELS)


def test_test_f1_calls_samples_at_the_threshold():
    scores = best_direction_scores(np.array([[0.], [1.], [2.], [3.]]), np.array([[0], [0], [1], [1]], bool),
                                   np.array([[2.], [2.], [0.], [0.]]), np.array([[1], [1], [0], [0]], bool))
    assert scores.threshold[0] == 2 and scores.f1[0] == 1.0


def test_auroc_is_held_out():
    scores = best_direction_scores(np.array([[0.], [1.], [2.], [3.]]), np.array([[0], [0], [1], [1]], bool),
                                   np.array([[0.], [1.], [2.], [3.]]), np.array([[1], [1], [0], [0]], bool))
    assert scores.auroc[0] == 0.0 and scores.train_f1[0] == 1.0


def test_k_sparse_picks_on_standardised_activations():
    rng = np.random.default_rng(0)
    labels = rng.random((2000, 1)) < 0.3
    x = rng.normal(size=(2000, 2))
    x[:, 0] = 100 * x[:, 0] + 20 * labels[:, 0]  # raw difference 20, standardised about 0.2
    x[:, 1] += 3 * labels[:, 0]  # raw difference 3, standardised about 2
    assert linear_probe(x, labels, k=1).directions[:, 0].tolist() == [False, True]


def test_a_probe_scores_each_sample_on_its_own():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 3))
    probe = linear_probe(x, x[:, :1] > 0)
    torch.testing.assert_close(probe(x[:5]), probe(x)[:5])


def test_probe_threshold_comes_from_training():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 2))
    train, test = x[:1000], x[1000:]
    scores = probe_scores(train, train[:, :1] > 0, test, test[:, :1] < 0)  # the held-out labels are reversed
    assert scores.f1[0] < 0.1


def test_a_probe_does_not_penalise_its_bias():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 2))
    labels = rng.random((4000, 1)) < 0.1  # unrelated to x: a strong penalty leaves the bias at the log-odds
    logit = float(linear_probe(x, labels, l2=1.0)(x.mean(axis=0)[None])[0, 0])
    assert logit == pytest.approx(np.log(labels.mean() / (1 - labels.mean())), abs=1e-3)
