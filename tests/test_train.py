from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sae_helpers import SparseAutoencoder, train_sae
from sae_helpers.data import make_lecture_data, make_sparse_sources
from sae_helpers.metrics import dead_latents, fvu, l0
from sae_helpers.model import (
    LECTURE,
    STANDARD,
    JumpReLU,
    SAEBatch,
    TopK,
    decoder_norm_l1_penalty,
    l1_penalty,
)
from sae_helpers.train import PENALTIES, pick_device, ramp

DATA = make_lecture_data().data


def fresh_model(seed=0, **kwargs):
    torch.manual_seed(seed)
    return SparseAutoencoder(2, 20, **kwargs)


def plain_loop(model, data, n_epochs, lr=7e-4):
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


class ReluSAE(SparseAutoencoder):
    """A learner's variant: the lecture's model with a ReLU."""

    def encode(self, x):
        return torch.relu(self.encoder(x))


class SummedL1SAE(SparseAutoencoder):
    """A learner's variant: the L1 penalty summed over latents instead of averaged."""

    def sparsity_loss(self, latents):
        return self.sparsity_weight * latents.abs().sum(dim=-1).mean()


def test_full_batch_training_matches_the_lectures_loop():
    history = train_sae(fresh_model(), DATA, n_epochs=40, progress=False)
    reference = plain_loop(fresh_model(), DATA, n_epochs=40)
    np.testing.assert_allclose(history.mse, reference[:, 0], rtol=1e-6)
    np.testing.assert_allclose(history.penalty_loss, reference[:, 1], rtol=1e-6)


@pytest.mark.parametrize("model_class", [ReluSAE, SummedL1SAE])
def test_a_subclass_trains_exactly_like_the_plain_loop(model_class):
    torch.manual_seed(0)
    model = model_class(2, 20)
    history = train_sae(model, DATA, n_epochs=40, progress=False)
    torch.manual_seed(0)
    reference_model = model_class(2, 20)
    reference = plain_loop(reference_model, DATA, n_epochs=40)
    np.testing.assert_allclose(history.mse, reference[:, 0], rtol=1e-6)
    np.testing.assert_allclose(history.penalty_loss, reference[:, 1], rtol=1e-6)
    for a, b in zip(model.parameters(), reference_model.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_an_overridden_penalty_changes_training():
    torch.manual_seed(0)
    summed = train_sae(SummedL1SAE(2, 20), DATA, n_epochs=40, progress=False)
    lecture = train_sae(fresh_model(), DATA, n_epochs=40, progress=False)
    # the same latents at the first step: the summed penalty is 20 latents times the mean
    assert summed.penalty_loss[0] == pytest.approx(20 * lecture.penalty_loss[0], rel=1e-5)
    assert summed.mse[-1] > lecture.mse[-1] * 1.1, "a 20x heavier penalty should cost reconstruction"


def test_frozen_parameters_stay_bit_identical():
    model = fresh_model()
    model.decoder.requires_grad_(False)
    before = [p.clone() for p in model.decoder.parameters()]
    encoder_before = model.encoder.weight.clone()
    train_sae(model, DATA, n_epochs=20, progress=False)
    for p, q in zip(model.decoder.parameters(), before):
        assert torch.equal(p, q), "a frozen parameter moved"
    assert not torch.equal(model.encoder.weight, encoder_before)


def test_a_second_call_continues_with_a_fresh_optimiser():
    model = fresh_model()
    first, second = (train_sae(model, DATA, n_epochs=10, progress=False) for _ in range(2))
    reference_model = fresh_model()
    plain_loop(reference_model, DATA, n_epochs=10)
    reference = plain_loop(reference_model, DATA, n_epochs=10)  # a new Adam: moments start at 0
    np.testing.assert_allclose(second.mse, reference[:, 0], rtol=1e-6)
    one_call = train_sae(fresh_model(), DATA, n_epochs=20, progress=False)
    assert not np.allclose(second.mse, one_call.mse[10:], rtol=1e-6), "Adam's state is not carried over"


def test_full_batch_training_does_not_depend_on_the_seed():
    a, b = (train_sae(fresh_model(), DATA, n_epochs=5, seed=s, progress=False) for s in (0, 1))
    np.testing.assert_array_equal(a.mse, b.mse)


def test_numpy_integers_are_accepted():
    a = train_sae(fresh_model(), DATA, n_epochs=np.int64(3), batch_size=np.int32(1000), progress=False)
    b = train_sae(fresh_model(), DATA, n_epochs=3, batch_size=1000, progress=False)
    np.testing.assert_array_equal(a.mse, b.mse)


def test_a_float64_model_trains_on_data_in_its_dtype():
    model = fresh_model().double()
    history = train_sae(model, DATA, n_epochs=30, lr=3e-3, progress=False)
    assert model.encoder.weight.dtype == torch.float64
    assert history.mse[-1] < history.mse[0] / 2


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_a_half_precision_model_gets_an_error_that_names_its_dtype(dtype):
    with pytest.raises(ValueError, match=f"float32 or float64 models; this one is {dtype}"):
        train_sae(fresh_model().to(dtype), DATA, n_epochs=3, progress=False)


def test_history_logs_the_losses_of_the_model_it_trains():
    model = fresh_model()
    x = torch.tensor(DATA, dtype=torch.float32)
    with torch.no_grad():  # full batch: epoch 1 logs the losses of the untrained model
        x_recon, latents = model(x)
        first_mse, first_penalty = ((x_recon - x) ** 2).mean().item(), model.decorrelation_loss(latents).item()
    history = train_sae(model, DATA, n_epochs=5, penalty="decorrelation", progress=False)
    assert history.mse.shape == history.penalty_loss.shape == (5,)
    assert history.penalty == "decorrelation"
    assert history.mse[0] == pytest.approx(first_mse, rel=1e-6)
    assert history.penalty_loss[0] == pytest.approx(first_penalty, rel=1e-6)
    assert history.total[0] == pytest.approx(first_mse + first_penalty, rel=1e-6)


def test_seeded_golden_values():
    # seed 0, lecture data and settings, 100 epochs (recorded from this implementation;
    # notebook 03 prints the same run's epochs 1 and 95: MSE 3.1314 and 1.2436)
    history = train_sae(fresh_model(), DATA, n_epochs=100, progress=False)
    assert history.mse[0] == pytest.approx(3.1314, abs=1e-4)
    assert history.mse[94] == pytest.approx(1.2436, abs=1e-4)
    assert history.penalty_loss[94] == pytest.approx(0.3389, abs=1e-4)


def test_training_improves_reconstruction_of_the_lecture_data():
    model = fresh_model()
    history = train_sae(model, DATA, progress=False)
    x = torch.tensor(DATA, dtype=torch.float32)
    fvu = ((model(x).x_recon.detach().numpy() - DATA) ** 2).sum() / ((DATA - DATA.mean(0)) ** 2).sum()
    assert history.mse[-1] < history.mse[0] / 50
    assert fvu < 0.05, "after the lecture's 600 epochs the SAE should explain > 95% of the variance"


@pytest.mark.parametrize("seed", [1, 2])
def test_the_plain_l1_falls_mostly_by_rescaling_over_a_long_run(seed):
    # notebook 03 shows it for seed 0: from epoch 600 to 3000 the mean |latent| falls over
    # 3-fold while the scale-free cost (decoder-norm L1) falls by less than a fifth
    x = torch.tensor(DATA, dtype=torch.float64)
    sizes, costs = [], []
    for n_epochs in (600, 3000):
        model = fresh_model(seed).double()
        train_sae(model, x, n_epochs=n_epochs, progress=False)
        with torch.no_grad():
            latents = model.encode(x)
            sizes.append(l1_penalty(latents).item())
            costs.append(decoder_norm_l1_penalty(latents, model.decoder_directions).item())
    assert sizes[0] / sizes[1] > 3 and costs[0] / costs[1] < 1.25


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
        ({"penalty": PENALTIES["decorrelation"], "batch_size": 1}, "penalty 'Decorrelation penalty' needs batches of at least 2"),
        ({"n_epochs": True}, "n_epochs"),
        ({"lr": "0.1"}, "lr"),
        ({"data": np.array([["a", "b"]], dtype=object)}, "real numbers; got dtype object"),
        ({"data": np.full((10, 2), 1e40)}, r"data overflows torch.float32: the largest \|value\| is 1e\+40"),
    ],
)
def test_bad_input_is_named(kwargs, message):
    kwargs = {"data": DATA, "progress": False, **kwargs}
    with pytest.raises(ValueError, match=message):
        train_sae(fresh_model(), **kwargs)


def test_divergence_stops_with_a_clear_message():
    with pytest.raises(FloatingPointError, match="diverged at epoch 2: it is no longer finite.*smaller lr"):
        train_sae(fresh_model(), DATA, n_epochs=100, lr=1e9, progress=False)


def test_a_loss_that_explodes_but_stays_finite_is_divergence_too():
    with pytest.raises(FloatingPointError, match=r"diverged at epoch \d+: it grew from 3.45 to .*smaller lr"):
        train_sae(fresh_model(), DATA, n_epochs=100, lr=1e6, progress=False)


@pytest.mark.parametrize("activation, penalty", [
    (F.gelu, "l1"), (F.gelu, "decorrelation"), (F.relu, "decoder_norm_l1"), (TopK(3), "none")])
def test_batched_training_gives_each_instance_its_single_run(activation, penalty):
    seeds, weights = [0, 1, 2], [1.0, 0.3, 1.0]
    batch = SAEBatch(2, 20, seeds=seeds, sparsity_weight=weights, activation=activation)
    history = train_sae(batch, DATA, n_epochs=60, penalty=penalty, batch_size=1000, progress=False)
    assert history.mse.shape == (60, 3)
    for i, (seed, weight) in enumerate(zip(seeds, weights)):
        torch.manual_seed(seed)
        single = SparseAutoencoder(2, 20, sparsity_weight=weight, activation=activation)
        alone = train_sae(single, DATA, n_epochs=60, penalty=penalty, batch_size=1000, progress=False)
        np.testing.assert_allclose(history.instance(i).mse, alone.mse, rtol=1e-4)
        np.testing.assert_allclose(history.instance(i).penalty_loss, alone.penalty_loss, rtol=1e-4)
        # Adam divides a gradient by its running size, so rounding in a nearly-zero gradient
        # moves a weight by up to lr-sized steps: parameters agree to about lr, losses closely
        for a, b in zip(batch.instance(i).parameters(), single.parameters()):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-3)


def test_pick_device_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device("auto").type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert pick_device("auto").type == "mps"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert pick_device("auto").type == "cpu"
    assert pick_device("cpu").type == "cpu"


def lecture_l1(model, batch, output):
    """The lecture's L1 penalty, given as a function of ours."""
    return model.sparsity_weight * output.latents.abs().mean(dim=(-2, -1))


def test_a_penalty_function_trains_like_the_named_penalty():
    named = train_sae(fresh_model(), DATA, n_epochs=20, batch_size=1000, progress=False)
    given = train_sae(fresh_model(), DATA, n_epochs=20, batch_size=1000, penalty=lecture_l1, progress=False)
    assert given.penalty == "lecture_l1" and named.penalty == "l1"
    np.testing.assert_array_equal(given.mse, named.mse)
    np.testing.assert_array_equal(given.penalty_loss, named.penalty_loss)
    same = train_sae(fresh_model(), DATA, n_epochs=20, batch_size=1000, penalty=PENALTIES["l1"], progress=False)
    np.testing.assert_array_equal(same.mse, named.mse)


def test_a_penalty_function_gets_the_batch_and_its_output():
    seen = []

    def spy(model, batch, output):
        seen.append((batch.shape, output.latents.shape))
        return output.latents.new_zeros(())

    train_sae(fresh_model(), DATA, n_epochs=2, batch_size=1000, penalty=spy, progress=False)
    # 3000 samples in batches of 1000: 3 steps per epoch
    assert seen == [((1000, 2), (1000, 20))] * 6


def test_an_unknown_penalty_name_lists_the_choices():
    with pytest.raises(ValueError, match=r"unknown penalty 'L1'; choose one of \['l1', .*\] or give a function"):
        train_sae(fresh_model(), DATA, n_epochs=2, penalty="L1", progress=False)


def test_a_penalty_that_is_neither_a_name_nor_a_function_is_named():
    with pytest.raises(ValueError, match="unknown penalty"):
        train_sae(fresh_model(), DATA, n_epochs=2, penalty=["l1"], progress=False)


def test_the_l0_penalty_makes_a_jump_relu_sae_sparser():
    # three seeds, each trained twice side by side: without (weight 0) and with the L0 penalty
    sources = make_sparse_sources(16, 8, 0.1, 2000, seed=0)
    batch = SAEBatch(8, 32, seeds=[0, 0, 1, 1, 2, 2], sparsity_weight=[0.0, 0.01] * 3,
                     activation=JumpReLU(32, n_instances=6))
    history = train_sae(batch, sources.data, n_epochs=30, lr=1e-2, batch_size=256, penalty="l0", progress=False)
    assert history.penalty == "l0" and (history.penalty_loss[:, ::2] == 0).all()
    x = torch.tensor(sources.data, dtype=torch.float32)
    with torch.no_grad():
        out = batch(x)
    counts = [l0(latents) for latents in out.latents]
    # measured: about 12-14 active latents without the penalty, about 3 with it (true L0: 1.6)
    for seed, (without, with_l0) in enumerate(zip(counts[::2], counts[1::2])):
        assert with_l0 < without / 2, f"seed {seed}: L0 {with_l0:.2f} with the penalty, {without:.2f} without"
    assert (fvu(sources.data, out.x_recon[1::2]) < 0.1).all(), "the sparser SAEs should still reconstruct"
    thresholds = batch.activation.log_threshold.exp().mean(dim=(1, 2))
    assert (thresholds[1::2] > thresholds[::2]).all(), "the L0 penalty works by raising the thresholds"


def test_the_auxk_loss_revives_dead_latents():
    sources = make_sparse_sources(64, 32, 0.02, 20_000, seed=0)
    x = torch.tensor(sources.data, dtype=torch.float32)
    dead = {}
    for auxk_weight in [0.0, 1 / 32]:
        batch = SAEBatch(32, 64, seeds=[0, 1, 2], activation=TopK(3), recipe=replace(LECTURE, auxk_weight=auxk_weight))
        train_sae(batch, sources.data, n_epochs=10, lr=3e-3, batch_size=1024, penalty="none", progress=False)
        with torch.no_grad():
            dead[auxk_weight] = [dead_latents(latents) for latents in batch.encode(x)]
    # measured: 15, 20 and 14 of the 64 latents dead without the AuxK loss, none with it
    assert min(dead[0.0]) >= 8 and max(dead[1 / 32]) <= 2, dead


def test_the_auxk_loss_is_logged_with_the_penalty_and_trains_the_model():
    sources = make_sparse_sources(64, 32, 0.02, 2048, seed=0)
    batch = SAEBatch(32, 64, seeds=[0], activation=TopK(1), recipe=replace(LECTURE, auxk_weight=0.5))
    x = torch.tensor(sources.data, dtype=torch.float32)
    with torch.no_grad():
        first = batch.auxk_loss(x, batch(x))
    history = train_sae(batch, x, n_epochs=2, lr=1e-3, penalty="none", progress=False)
    assert first.item() > 0 and history.penalty_loss[0, 0] == pytest.approx(first.item(), rel=1e-5)


def test_ramp_by_hand():
    # 10 steps, warm-up over the first 3 (0.3), decay over the last 5 (0.5)
    factors = [ramp(step, 10, warmup=0.3, decay=0.5) for step in range(10)]
    np.testing.assert_allclose(factors, [1 / 3, 2 / 3, 1, 1, 1, 1, 0.8, 0.6, 0.4, 0.2])
    assert [ramp(step, 4) for step in range(4)] == [1.0] * 4


def test_the_schedules_are_those_of_a_loop_written_out():
    def reference(lr_warmup, lr_decay, penalty_warmup, n_epochs=8):
        model = fresh_model()
        x = torch.tensor(DATA, dtype=torch.float32)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        for step in range(n_epochs):
            x_recon, latents = model(x)
            loss = ((x_recon - x) ** 2).mean() + ramp(step, n_epochs, penalty_warmup) * model.sparsity_loss(latents)
            optimizer.zero_grad()
            loss.backward()
            optimizer.param_groups[0]["lr"] = 1e-2 * ramp(step, n_epochs, lr_warmup, lr_decay)
            optimizer.step()
        return model

    for schedule in [(0.5, 0.0, 0.0), (0.0, 0.25, 0.0), (0.0, 0.0, 1.0), (0.25, 0.5, 0.5)]:
        trained = fresh_model()
        train_sae(trained, DATA, n_epochs=8, lr=1e-2, progress=False, **dict(zip(
            ["lr_warmup", "lr_decay", "penalty_warmup"], schedule)))
        for a, b in zip(trained.parameters(), reference(*schedule).parameters()):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    unscheduled = fresh_model()
    train_sae(unscheduled, DATA, n_epochs=8, lr=1e-2, progress=False)
    assert not torch.equal(unscheduled.encoder.weight, trained.encoder.weight)


def test_the_penalty_warmup_scales_the_logged_penalty():
    plain = train_sae(fresh_model(), DATA, n_epochs=10, progress=False)
    warmed = train_sae(fresh_model(), DATA, n_epochs=10, progress=False, penalty_warmup=1.0)
    assert warmed.penalty_loss[0] == pytest.approx(plain.penalty_loss[0] / 10, rel=1e-6)
    assert warmed.mse[0] == pytest.approx(plain.mse[0], rel=1e-6)


@pytest.mark.parametrize("name", ["lr_warmup", "lr_decay", "penalty_warmup"])
@pytest.mark.parametrize("value", [-0.1, 1.5, "0.2", True])
def test_a_schedule_outside_0_to_1_is_named(name, value):
    with pytest.raises(ValueError, match=f"{name} must be a fraction of the training steps"):
        train_sae(fresh_model(), DATA, n_epochs=2, progress=False, **{name: value})


@pytest.mark.parametrize("recipe", [STANDARD, STANDARD.without("pre_encoder_bias"), STANDARD.without("tied_init")],
                         ids=["standard", "no pre-encoder bias", "untied"])
def test_the_standard_recipe_keeps_unit_norm_directions_and_starts_b_dec_at_the_mean(recipe):
    sources = make_sparse_sources(16, 8, 0.1, 1000, seed=0)
    data = sources.data + 2.0  # an offset for the pre-encoder bias to take
    batch = SAEBatch(8, 32, seeds=[0, 1], activation=TopK(2), recipe=recipe)
    initial_b_dec = batch.b_dec.detach().clone()
    train_sae(batch, data, n_epochs=1, lr=1e-3, batch_size=1000, penalty="none", progress=False)
    # one Adam step moves each weight by at most about lr
    start = torch.tensor(data.mean(axis=0), dtype=torch.float32) if recipe.pre_encoder_bias else initial_b_dec
    assert (batch.b_dec.detach() - start).abs().max() < 1.1e-3
    train_sae(batch, data, n_epochs=20, lr=1e-2, batch_size=250, penalty="none", progress=False)
    torch.testing.assert_close(batch.W_dec.norm(dim=-1), torch.ones(2, 32))
    free = SAEBatch(8, 32, seeds=[0, 1], activation=TopK(2), recipe=recipe.without("unit_norm_decoder"))
    train_sae(free, data, n_epochs=20, lr=1e-2, batch_size=250, penalty="none", progress=False)
    assert (free.W_dec.norm(dim=-1) - 1).abs().max() > 0.05


def test_the_standard_recipe_is_a_loop_written_out():
    """Minibatches, a TopK SAE whose dead latents get AuxK, unit-norm decoder directions: the steps
    train_sae takes, spelled out as a learner would write them."""
    data = make_sparse_sources(16, 8, 0.1, 600, seed=0).data
    x = torch.tensor(data, dtype=torch.float32)

    def fresh():
        torch.manual_seed(0)
        return SparseAutoencoder(8, 64, activation=TopK(2), recipe=replace(STANDARD, k_aux=4))

    model, aux_losses = fresh(), []
    with torch.no_grad():
        model.decoder.bias.copy_(x.mean(dim=0))  # the pre-encoder bias starts at the data's mean
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    shuffle = torch.Generator().manual_seed(0)
    W = model.decoder.weight  # (input_dim, hidden_dim): column j is latent j's direction, of length 1
    for _ in range(3):
        order = torch.randperm(600, generator=shuffle)
        for start in range(0, 600, 200):
            batch = x[order[start:start + 200]]
            output = model(batch)
            aux = model.auxk_loss(batch, output)
            optimizer.zero_grad()
            (((output.x_recon - batch) ** 2).mean() + aux).backward()
            with torch.no_grad():
                W.grad -= (W.grad * W).sum(dim=0) * W  # no step along a direction: it would only change its length
            optimizer.step()
            with torch.no_grad():
                W /= W.norm(dim=0)
            aux_losses.append(aux.item())
    assert min(aux_losses) > 0, "every batch has dead latents for AuxK to train"

    trained = fresh()
    train_sae(trained, data, n_epochs=3, lr=1e-2, batch_size=200, penalty="none", progress=False)
    for ours, theirs in zip(trained.parameters(), model.parameters()):
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)
