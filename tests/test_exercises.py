"""Every exercise: the reference passes its own check, each recorded mistake fails with the
message that names it, an unsolved stub is reported as unsolved, and the check hands back the
function the notebook should go on with."""

import numpy as np
import pytest
import torch

from sae_helpers.exercises import (
    Exercise,
    check,
    controls,
    defining_the_sae,
    engine,
    inspection,
    language_model,
    mixing_sources,
    pathologies,
    superposition,
    toy_model_of_superposition,
    training,
)
from sae_helpers.language_model import bits_per_char
from sae_helpers.metrics import abs_corr

NOTEBOOK_MODULES = (mixing_sources, defining_the_sae, training, inspection, controls, superposition,
                    toy_model_of_superposition, language_model, pathologies)  # 01 to 09
EXERCISES = {name: value for module in NOTEBOOK_MODULES for name, value in vars(module).items()
             if isinstance(value, Exercise)}
by_exercise = pytest.mark.parametrize("exercise", EXERCISES.values(), ids=EXERCISES.keys())
MISTAKES = [(name, m) for name, e in EXERCISES.items() for m in e.mistakes]


def as_attempt(function):
    """`function` under the name a learner's would have."""
    def attempt(*arguments):
        return function(*arguments)
    return attempt


def test_there_are_exercises():
    assert len(EXERCISES) >= 15 and sum(len(e.mistakes) for e in EXERCISES.values()) >= 15


@by_exercise
def test_the_reference_passes_its_check(exercise, capsys):
    attempt = as_attempt(exercise.reference)
    assert check(attempt, exercise) is attempt
    assert capsys.readouterr().out.startswith(f"✔ attempt is right on all {len(exercise.cases)} cases")


@pytest.mark.parametrize("name, mistake", MISTAKES, ids=[f"{n}: {m.message[:40]}" for n, m in MISTAKES])
def test_each_recorded_mistake_fails_with_its_message(name, mistake, capsys):
    exercise = EXERCISES[name]
    assert check(as_attempt(mistake.function), exercise) is exercise.reference
    out = capsys.readouterr().out
    assert out.startswith("✘ attempt is wrong on the case")
    assert f"Likely mistake: {mistake.message}" in out
    assert "The cells below use the reference" in out


@by_exercise
def test_each_mistake_is_wrong_on_some_case(exercise):
    # a "mistake" that agrees with the reference everywhere would be named for a right answer
    cases = exercise.cases + exercise.random_cases
    for mistake in exercise.mistakes:
        with np.errstate(all="ignore"):
            right = [engine._as_outputs(exercise.run(exercise.reference, *arguments)) for _, arguments in cases]
            assert not all(engine._gives(exercise, mistake.function, arguments, outputs)
                           for outputs, (_, arguments) in zip(right, cases)), mistake.message


@by_exercise
def test_an_unsolved_stub_is_reported_and_the_reference_used(exercise, capsys):
    def stub(*arguments):
        raise NotImplementedError

    assert check(stub, exercise) is exercise.reference
    out = capsys.readouterr().out
    assert out == (f"stub: not solved yet. The cells below use the reference, "
                   f"{exercise.reference.__module__}.{exercise.reference.__name__}.\n")


@by_exercise
def test_an_error_is_reported_with_the_case(exercise, capsys):
    def broken(*arguments):
        raise ValueError("a learner's bug")

    assert check(broken, exercise) is exercise.reference
    out = capsys.readouterr().out
    assert out.startswith(f"✘ broken raised ValueError on the case '{exercise.cases[0][0]}': a learner's bug")


def test_an_unrecorded_wrong_answer_gets_the_difference_without_a_guess(capsys):
    def attempt(x, x_recon, importance):
        return torch.zeros(x.shape[0])

    check(attempt, toy_model_of_superposition.IMPORTANCE_WEIGHTED_MSE)
    out = capsys.readouterr().out
    assert "the result at index (1,) is 0, expected 0.7928" in out and "Likely mistake" not in out


def test_a_wrong_shape_is_named(capsys):
    check(as_attempt(lambda t, u: np.zeros(3)), toy_model_of_superposition.BEST_COSINES)
    assert "the result has shape (3,), expected (5,)" in capsys.readouterr().out


def test_the_check_does_not_let_an_attempt_change_the_cases():
    def attempt(x, x_recon, importance):
        x.zero_()  # a learner's in-place edit
        return toy_model_of_superposition.IMPORTANCE_WEIGHTED_MSE.reference(x, x_recon, importance)

    before = [a.clone() for a in toy_model_of_superposition.IMPORTANCE_WEIGHTED_MSE.cases[0][1]]
    check(attempt, toy_model_of_superposition.IMPORTANCE_WEIGHTED_MSE)
    for a, b in zip(before, toy_model_of_superposition.IMPORTANCE_WEIGHTED_MSE.cases[0][1]):
        assert torch.equal(a, b)


@by_exercise
def test_a_missing_return_is_named(exercise, capsys):
    def attempt(*arguments):
        pass

    if isinstance(exercise.reference, type):  # a module: its forward forgets to return
        class attempt(exercise.reference):
            def forward(self, x):
                super().forward(x)

    assert check(attempt, exercise) is exercise.reference
    assert "None: did you forget `return`?\nThe cells below" in capsys.readouterr().out


def test_a_list_where_a_tuple_is_expected_is_accepted(capsys):
    def sae_forward(*arguments):
        return list(defining_the_sae.sae_forward(*arguments))

    assert check(sae_forward, defining_the_sae.SAE_FORWARD) is sae_forward
    assert capsys.readouterr().out.startswith("✔")


def test_a_dict_or_a_wrong_list_is_reported_not_crashed_on(capsys):
    for wrong in [lambda *a: {"x_recon": 0, "latents": 1}, lambda *a: [1.0, [2.0, 3.0]]]:
        assert check(as_attempt(wrong), defining_the_sae.SAE_FORWARD) is defining_the_sae.sae_forward
        assert "is wrong on the case" in capsys.readouterr().out


def test_a_right_answer_that_changes_its_input_in_place_is_rejected(capsys):
    def pearson_r(a, b):
        a -= a.mean()  # the notebook uses a again afterwards
        b = b - b.mean()
        return (a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum())

    assert check(pearson_r, mixing_sources.PEARSON_R) is mixing_sources.pearson_r
    assert "changes its input 1 in place" in capsys.readouterr().out


def test_a_near_miss_shows_the_digits_that_differ(capsys):
    def l1_penalty(latents):
        return latents.abs().mean() * (1 + 1e-4)

    check(l1_penalty, defining_the_sae.L1_PENALTY)
    out = capsys.readouterr().out
    shown = out.split("the result is ")[1].split(".\n")[0]
    got, expected = shown.split(", expected ")
    assert got != expected and float(got) == pytest.approx(float(expected), rel=2e-4), out


def test_matching_greedily_is_caught_and_named(capsys):
    def one_to_one_latents(latents, sources):  # the largest |r| first, then the next among what is left
        r = abs_corr(latents, sources)
        answer = np.full(r.shape[1], -1)
        for _ in range(r.shape[1]):
            latent, source = np.unravel_index(np.argmax(r), r.shape)
            answer[source] = latent
            r[latent, :], r[:, source] = -1, -1
        return answer

    assert check(one_to_one_latents, inspection.ONE_TO_ONE_LATENTS) is inspection.one_to_one_latents
    assert "Likely mistake: a greedy choice" in capsys.readouterr().out


def test_importing_and_checking_leave_torchs_random_state_alone():
    import subprocess
    import sys
    modules = ", ".join(module.__name__ for module in NOTEBOOK_MODULES)
    code = (f"import torch; torch.manual_seed(5); import {modules}; from sae_helpers.exercises import check, training as t; "
            "check(t.training_step, t.TRAINING_STEP); a = torch.rand(3); torch.manual_seed(5); "
            "assert torch.equal(a, torch.rand(3)), 'the random state moved'")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_a_result_that_leaves_torch_is_rejected(capsys):
    def l1_penalty(latents):
        return latents.abs().mean().item()  # right number, but the notebook adds it to a tensor loss

    assert check(l1_penalty, defining_the_sae.L1_PENALTY) is defining_the_sae.L1_PENALTY.reference
    assert "the result is a float, not a torch tensor" in capsys.readouterr().out


def test_an_auxk_built_in_float32_is_caught_on_a_float64_case(capsys):
    def auxk_penalty(residual, pre, latents, directions, k_aux):
        dead = (latents > 0).sum(dim=-2, keepdim=True) == 0
        values, indices = pre.masked_fill(~dead, float("-inf")).topk(min(k_aux, pre.shape[-1]), dim=-1)
        aux = torch.zeros(pre.shape).scatter(-1, indices, torch.relu(values))  # float32 whatever pre is
        error = ((aux @ directions - residual) ** 2).mean(dim=(-2, -1))
        variance = ((residual - residual.mean(dim=-2, keepdim=True)) ** 2).mean(dim=(-2, -1))
        return torch.where(dead.any(dim=-1).squeeze(-1), error / variance, 0.0)

    assert check(auxk_penalty, pathologies.AUXK) is pathologies.AUXK.reference
    assert "on the case 'in float64: new tensors must take the inputs' dtype'" in capsys.readouterr().out


def test_a_splice_without_finally_is_caught_when_the_replacement_fails(capsys):
    def spliced_bits(model, module, tokens, replace):
        handle = module.register_forward_hook(lambda mod, inputs, output: replace(output))
        loss = bits_per_char(model, tokens)
        handle.remove()  # never reached if the replacement raises
        return loss

    assert check(spliced_bits, language_model.SPLICED_BITS) is language_model.spliced_bits
    out = capsys.readouterr().out
    assert "on the case 'a replacement that fails (its error must reach the caller)'" in out
    assert "the hook stayed on the module. Remove it in a `finally:`" in out


def test_a_step_that_returns_the_loss_tensor_is_named(capsys):
    def training_step(model, optimizer, x):
        x_recon, latents = model(x)
        loss = torch.nn.functional.mse_loss(x_recon, x) + model.sparsity_loss(latents)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss  # notebook 03 compares the losses with numpy next

    assert check(training_step, training.TRAINING_STEP) is training.training_step
    assert "return loss.item()" in capsys.readouterr().out


def test_an_attempt_that_changes_an_array_inside_its_matches_is_caught_and_spoils_nothing(capsys):
    def selectivity(latents, sources, matches):
        r = abs_corr(latents, sources)[matches.latent]
        own = matches.abs_r
        own -= np.where(np.eye(len(r), dtype=bool), -np.inf, r).max(axis=1)  # in place, inside matches
        return own

    stored = [arguments[2].abs_r.copy() for _, arguments in controls.SELECTIVITY.cases]
    assert check(selectivity, controls.SELECTIVITY) is controls.SELECTIVITY.reference
    assert "changes its input 3 in place" in capsys.readouterr().out
    for kept, (_, arguments) in zip(stored, controls.SELECTIVITY.cases):
        np.testing.assert_array_equal(kept, arguments[2].abs_r)


def test_a_splice_that_swallows_the_error_is_told_to_let_it_through(capsys):
    def spliced_bits(model, module, tokens, replace):
        try:
            return language_model.spliced_bits(model, module, tokens, replace)
        except Exception as error:
            print(error)

    check(spliced_bits, language_model.SPLICED_BITS)
    out = capsys.readouterr().out
    assert "✘ spliced_bits returned None though the replacement raised an error: let the error through" in out


def test_each_notebook_imports_its_exercises_from_the_module_named_after_it():
    from pathlib import Path
    notebooks = sorted(Path(__file__).parent.parent.glob("notebooks/[0-9][0-9]_*.py"))
    assert [path.stem[3:] for path in notebooks] == [module.__name__.rsplit(".", 1)[1] for module in NOTEBOOK_MODULES]
    for path, module in zip(notebooks, NOTEBOOK_MODULES):
        imports = [line for line in path.read_text().splitlines() if line.startswith("from sae_helpers.exercises")]
        assert imports[0] == "from sae_helpers.exercises import check"
        assert imports[1].startswith(f"from {module.__name__} import ") and len(imports) == 2, path.name


def test_a_notebooks_exercises_import_nothing_from_later_notebooks():
    import subprocess
    import sys
    code = ("import sys, sae_helpers.exercises.mixing_sources; "
            "later = [m for m in ('sae_helpers.language_model', 'sae_helpers.toy_model', 'sae_helpers.scoring', "
            "'sae_helpers.exercises.inspection') if m in sys.modules]; assert not later, later")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


@pytest.mark.parametrize("exercise, written_out", [
    (training.TRAINING_STEP, training._step_with(training._lecture_loss)),
    (pathologies.AUXK, pathologies._auxk_with()),
    (language_model.BEST_THRESHOLD, language_model._best_f1_with()),
    (language_model.SPLICED_BITS, language_model._spliced_with()),
    (superposition.TOPK_SAE, superposition._sae_with()),
    (toy_model_of_superposition.TRAIN_TOY, toy_model_of_superposition._loop_with()),
    (pathologies.AUXK_STEP, pathologies._auxk_step_with()),
], ids=["training step", "AuxK", "best threshold", "spliced loss", "TopK SAE", "toy training loop", "AuxK step"])
def test_each_mistake_factory_left_unchanged_is_the_reference(exercise, written_out):
    # a mistake built by changing one step of a factory is that one mistake only if the factory,
    # with nothing changed, gives the right answer
    for _, arguments in exercise.cases:
        right = engine._as_outputs(exercise.run(exercise.reference, *engine._copy(arguments)))
        assert engine._gives(exercise, written_out, arguments, right)


@by_exercise
def test_each_exercise_also_runs_cases_drawn_at_random(exercise):
    assert len(exercise.random_cases) >= 3
    labels = [label for label, _ in exercise.random_cases]
    assert len(set(labels)) == len(labels) and all(label.startswith("random, seed ") for label in labels)


def test_a_wrong_answer_right_on_every_hand_made_case_is_caught_by_a_random_one(capsys):
    def topk(z, k):  # TopK along dim 1: the latents' axis only while z is 2-D, as every hand-made case is
        kept = z.topk(k, dim=1)
        return torch.zeros_like(z).scatter(1, kept.indices, torch.relu(kept.values))

    exercise = superposition.TOPK
    right = [engine._as_outputs(exercise.reference(*arguments)) for _, arguments in exercise.cases]
    assert all(engine._gives(exercise, topk, arguments, outputs) for outputs, (_, arguments) in zip(right, exercise.cases))
    assert check(topk, exercise) is exercise.reference
    out = capsys.readouterr().out
    assert "is wrong on the case 'random, seed" in out and "Likely mistake: keep the k largest along the last axis" in out


def test_a_right_answer_the_notebook_cannot_index_is_caught_by_its_next_use(capsys):
    def best_cosines(true_directions, learned_directions):
        return toy_model_of_superposition.best_cosines(true_directions, learned_directions).tolist()

    assert check(best_cosines, toy_model_of_superposition.BEST_COSINES) is toy_model_of_superposition.best_cosines
    out = capsys.readouterr().out
    assert "but the notebook goes on with `per_feature[name][keep], keep a bool array`" in out
    assert "a list (TypeError" in out and "return a numpy array, as the reference does" in out


def test_a_splice_that_turns_the_error_into_nan_is_caught(capsys):
    def spliced_bits(model, module, tokens, replace):
        handle = module.register_forward_hook(lambda mod, inputs, output: replace(output))
        try:
            return bits_per_char(model, tokens)
        except Exception:
            return float("nan")
        finally:
            handle.remove()

    assert check(spliced_bits, language_model.SPLICED_BITS) is language_model.spliced_bits
    assert "✘ spliced_bits returned nan though the replacement raised an error" in capsys.readouterr().out


def test_outputs_in_another_order_are_named(capsys):
    def sae_forward(*arguments):
        return tuple(reversed(defining_the_sae.sae_forward(*arguments)))

    check(sae_forward, defining_the_sae.SAE_FORWARD)
    assert "the right outputs, in another order: return them in the order (x_recon, latents)" in capsys.readouterr().out


def test_a_probe_returned_as_weights_is_told_to_return_a_function(capsys):
    def train_probe(x, labels, l2, n_steps, lr):
        return torch.zeros(x.shape[1]), torch.zeros(())

    check(train_probe, language_model.TRAIN_PROBE)
    assert "✘ train_probe returned a tuple, not a function: return the probe" in capsys.readouterr().out


def test_a_child_counted_without_its_parent_is_caught_on_the_control_case(capsys):
    def absorption_score(fires, parent_active, child_active):  # right wherever children only come with their parent
        with_child, without = child_active, parent_active & ~child_active
        recall_with = (fires & with_child).sum(axis=0) / np.maximum(with_child.sum(axis=0), 1)
        recall_without = (fires & without).sum(axis=0) / np.maximum(without.sum(axis=0), 1)
        defined = (recall_without > 0) & ((parent_active & child_active).sum(axis=0) > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(defined, 1 - recall_with / recall_without, np.nan)

    assert check(absorption_score, pathologies.ABSORPTION) is pathologies.ABSORPTION.reference
    out = capsys.readouterr().out
    assert "on the case 'children active without their parent too, as in the control'" in out
    assert "Likely mistake: the group with a child counts only samples where the parent is active too" in out


def test_a_tied_encoder_that_shares_the_decoders_memory_is_caught(capsys):
    class TopKSAE(superposition.TopKSAE):
        def __init__(self, d, h, k):
            super().__init__(d, h, k)
            self.W_enc = torch.nn.Parameter(self.W_dec.T)  # a view: one matrix for both

    assert check(TopKSAE, superposition.TOPK_SAE) is superposition.TopKSAE
    assert "Likely mistake: nn.Parameter(self.W_dec.T) shares W_dec's memory" in capsys.readouterr().out


def test_a_module_returning_its_outputs_in_another_order_is_told_which_comes_first(capsys):
    class TopKSAE(superposition.TopKSAE):
        def forward(self, x):
            return tuple(reversed(super().forward(x)))

    assert check(TopKSAE, superposition.TOPK_SAE) is superposition.TopKSAE
    assert "return the reconstruction first, then the latents" in capsys.readouterr().out


def test_checks_that_make_their_own_tensors_catch_a_learner_changing_them(capsys):
    def train_probe(x, labels, l2, n_steps, lr):
        x -= x.mean(dim=0)  # standardised in place: the notebook fits on its activations, then scores them
        x /= x.std(dim=0)
        return language_model.train_probe(x, labels, l2, n_steps, lr)

    assert check(train_probe, language_model.TRAIN_PROBE) is language_model.train_probe
    assert "✘ train_probe changes the activations x in place" in capsys.readouterr().out


def test_a_loop_that_draws_from_torchs_global_generator_is_told_to_use_the_seed(capsys):
    def train_toy(model, n_steps, batch_size, lr, seed):
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        losses = []
        for _ in range(n_steps):
            x = model.sample(batch_size)  # a new draw on every run
            loss = toy_model_of_superposition.importance_weighted_mse(x, model(x), model.importance)
            optimizer.zero_grad()
            loss.sum().backward()
            optimizer.step()
            losses.append(loss.detach())
        return torch.stack(losses).numpy()

    assert check(train_toy, toy_model_of_superposition.TRAIN_TOY) is toy_model_of_superposition.train_toy
    assert "✘ train_toy gives other weights when run twice from the same seed" in capsys.readouterr().out


def test_topk_on_a_float32_buffer_is_caught_on_the_float64_case(capsys):
    def topk(z, k):
        kept = z.topk(k, dim=-1)
        return torch.zeros(z.shape).scatter(-1, kept.indices, torch.relu(kept.values).float())

    assert check(topk, superposition.TOPK) is superposition.topk
    assert "on the case 'in float64: new tensors must take the input's dtype'" in capsys.readouterr().out


def test_indices_returned_as_floats_are_caught(capsys):
    def best_latents(latents, sources):
        return inspection.best_latents(latents, sources).astype(float)

    assert check(best_latents, inspection.BEST_LATENTS) is inspection.best_latents
    assert "the result holds floats where the reference's holds integers" in capsys.readouterr().out


def test_an_auxk_step_returning_the_loss_with_its_graph_is_told_to_detach(capsys):
    def auxk_training_step(model, optimizer, x):
        output = model(x)
        loss = ((output.x_recon - x) ** 2).mean(dim=(-2, -1)) + model.auxk_loss(x, output)
        optimizer.zero_grad()
        loss.sum().backward()
        optimizer.step()
        return loss

    assert check(auxk_training_step, pathologies.AUXK_STEP) is pathologies.auxk_training_step
    assert "✘ auxk_training_step returned the loss with its graph attached: return loss.detach()" in capsys.readouterr().out
