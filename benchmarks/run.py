"""Benchmarks of the SAE notebooks; prints one table and writes it as JSON.

    python -m benchmarks.run [--quick] [--json build/benchmarks.json]

Every ratio compares two things measured in the same process, one after the other, after a
warm-up run (the first training in a process also pays a one-off import inside torch.optim,
which the warm-up absorbs). Times are the best of `repeat` runs.
`--quick` uses tiny sizes so that the test suite can check the table without the wait.

The SAELens rows need `sae-lens` (`make bench` installs it into .venv-bench, never into the
notebooks' environment); without it they are reported as skipped.
"""

import argparse
import contextlib
import io
import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from sae_helpers import SparseAutoencoder, train_sae  # noqa: E402
from sae_helpers.baselines import recovery, sae_dictionary  # noqa: E402
from sae_helpers.data import make_lecture_data, make_sparse_sources  # noqa: E402
from sae_helpers.metrics import mcc  # noqa: E402
from sae_helpers.model import SAEBatch, TopK  # noqa: E402
from sae_helpers.widgets import (  # noqa: E402
    dead_latents_explorer,
    mixing_explorer,
    superposition_explorer,
    toy_model_explorer,
    training_explorer,
)
from tools import nbtools  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def best_time(fn, repeat):
    """(best wall time in seconds, the last result) over `repeat` calls."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def best_times(fns, repeat):
    """[(best wall time, last result) per function], calling them in turn `repeat` times, so that
    a slow spell of a shared machine slows both sides of a ratio alike."""
    runs = [[best_time(fn, 1) for fn in fns] for _ in range(repeat)]
    return [(min(run[i][0] for run in runs), runs[-1][i][1]) for i in range(len(fns))]


def lecture_style_loop(data, n_epochs, seed=0):
    """The lecture's loop as the lecture writes it: default Adam, .item() every epoch."""
    torch.manual_seed(seed)
    model = SparseAutoencoder(2, 20)
    optimizer = torch.optim.Adam(model.parameters(), lr=7e-4)
    lossfun = torch.nn.MSELoss()
    x = torch.tensor(data, dtype=torch.float32)
    losses = np.zeros((n_epochs, 2))
    for epoch in range(n_epochs):
        optimizer.zero_grad()
        x_recon, latents = model(x)
        l1 = model.sparsity_loss(latents)
        mse = lossfun(x_recon, x)
        losses[epoch] = l1.item(), mse.item()
        (mse + l1).backward()
        optimizer.step()
    return losses


def project_trainer(data, n_epochs, seed=0):
    torch.manual_seed(seed)
    return train_sae(SparseAutoencoder(2, 20), data, n_epochs=n_epochs, seed=seed, progress=False)


def bench_notebooks(quick):
    sources = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
    # the first kernel of a fresh environment can be much slower (seen: minutes, once per
    # environment); an untimed run of the smallest notebook takes that out of the rows below
    warm_up = sources[1]
    seconds, _ = best_time(lambda: nbtools.execute(nbtools.read_source(warm_up), warm_up.parent), 1)
    yield f"warm-up: first notebook run ({warm_up.stem})", seconds, "s"
    if quick:
        sources = sources[1:2]
    for source in sources:
        seconds, _ = best_time(lambda: nbtools.execute(nbtools.read_source(source), source.parent), 1)
        yield f"notebook {source.stem}: headless execution", seconds, "s"


def bench_lecture_toy(quick):
    data = make_lecture_data().data
    n_epochs, repeat = (20, 1) if quick else (600, 7)
    lecture_style_loop(data, n_epochs)  # warm-up
    project_trainer(data, n_epochs)
    (plain, losses), (ours, history) = best_times(
        [lambda: lecture_style_loop(data, n_epochs), lambda: project_trainer(data, n_epochs)], repeat)
    yield "lecture toy: lecture-style loop", plain, "s"
    yield "lecture toy: train_sae", ours, "s"
    yield "lecture toy: speed-up of train_sae", plain / ours, "x"
    yield "lecture toy: largest MSE difference", float(np.abs(losses[:, 1] - history.mse).max()), ""

    n_seeds = 4 if quick else 16
    (sequential, _), (batched, _) = best_times(
        [lambda: [project_trainer(data, n_epochs, s) for s in range(n_seeds)],
         lambda: train_sae(SAEBatch(2, 20, seeds=range(n_seeds)), data, n_epochs=n_epochs, progress=False)],
        1 if quick else 2)
    yield f"{n_seeds} seeds: sequential train_sae", sequential, "s"
    yield f"{n_seeds} seeds: one SAEBatch", batched, "s"
    yield f"{n_seeds} seeds: speed-up of batching", sequential / batched, "x"


def redraw_latency(control, values, repeat):
    """Seconds from setting a control to a rendered PNG, as the inline backend renders it."""

    def change(value):
        with contextlib.redirect_stdout(io.StringIO()):  # clear_output's terminal escapes
            control.value = value
        plt.gcf().savefig(io.BytesIO(), format="png")
        plt.close("all")

    return best_time(lambda: [change(v) for v in values], repeat)[0] / len(values)


def bench_explorers(quick):
    repeat = 1 if quick else 3
    with contextlib.redirect_stdout(io.StringIO()):  # the first draw also clears its output
        explorers = [training_explorer(make_lecture_data(), n_epochs=20 if quick else 600), mixing_explorer(),
                     superposition_explorer(n_epochs=3 if quick else 60), toy_model_explorer(n_steps=20 if quick else 1500),
                     dead_latents_explorer(n_epochs=2 if quick else 25)]
    plt.close("all")
    training, mixing, superposition, toy, dead = (explorer.children for explorer in explorers)
    yield "explorer: retrain + redraw (lecture toy)", redraw_latency(training[0], [0.5, 2.0], repeat), "s"
    yield "explorer: mixing redraw", redraw_latency(mixing[1], [0.2, 0.6], repeat), "s"
    yield "explorer: retrain + redraw (superposition)", redraw_latency(superposition[0], [0.02, 0.05], repeat), "s"
    yield "explorer: retrain + redraw (toy model)", redraw_latency(toy[0], [0.1, 0.01], repeat), "s"
    yield "explorer: retrain + redraw (dead latents)", redraw_latency(dead[0], [48, 64], repeat), "s"


def train_topk(sources, n_steps, batch_size=1024, k=3, width_per_source=2):
    """A TopK SAE on `sources` for about `n_steps` minibatches; (samples trained on, model)."""
    n_samples, d = sources.data.shape
    n_epochs = max(1, round(n_steps * batch_size / n_samples))
    model = SAEBatch(d, width_per_source * sources.activations.shape[1], seeds=[0], activation=TopK(k))
    train_sae(model, sources.data, n_epochs=n_epochs, lr=3e-3, penalty="none", batch_size=batch_size,
              progress=False)
    return n_epochs * n_samples, model


def bench_superposition(quick):
    n_steps = 20 if quick else 300
    for n_sources, d in [(64, 32), (128, 64)] if quick else [(64, 32), (128, 64), (256, 128)]:
        sources = make_sparse_sources(n_sources, d, p=0.02, n_samples=51_200, seed=0)
        seconds, (samples, _) = best_time(lambda: train_topk(sources, n_steps), 1)
        yield f"superposition TopK {d} -> {2 * n_sources}: throughput", samples / seconds, "samples/s"


def saelens_topk(directions, p, n_samples, batch_size=1024, k=3):
    """SAELens's train_toy_sae with a TopK SAE on the same true directions; (samples/s, MCC)."""
    from sae_lens import TopKTrainingSAE, TopKTrainingSAEConfig
    from sae_lens.synthetic import ActivationGenerator, FeatureDictionary
    from sae_lens.synthetic.training import train_toy_sae

    n_sources, d = directions.shape
    features = FeatureDictionary(n_sources, d, initializer=None, seed=0)
    with torch.no_grad():
        features.feature_vectors.copy_(torch.tensor(directions, dtype=torch.float32))
    # magnitudes with the mean and standard deviation of our uniform(0.5, 1.5)
    generator = ActivationGenerator(n_sources, p, std_firing_magnitudes=1 / 12**0.5, mean_firing_magnitudes=1.0)
    torch.manual_seed(0)
    sae = TopKTrainingSAE(TopKTrainingSAEConfig(d_in=d, d_sae=2 * n_sources, k=k, device="cpu"))
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        train_toy_sae(sae, features, generator, training_samples=n_samples, batch_size=batch_size, lr=3e-3)
    seconds = time.perf_counter() - start
    return n_samples / seconds, mcc(directions, sae.W_dec.detach().numpy())


def bench_saelens(quick):
    """The project's TopK trainer and SAELens's on 64 sources in 32 dimensions, same samples,
    in turn `repeat` times (best throughput of each)."""
    n_steps, repeat = (20, 1) if quick else (1000, 3)
    sources = make_sparse_sources(64, 32, p=0.02, n_samples=51_200, seed=0)
    train_topk(sources, 5)  # warm-up
    try:
        import sae_lens  # noqa: F401
    except ImportError:
        sae_lens = None
    ours, theirs = 0.0, 0.0
    for _ in range(repeat):
        seconds, (samples, model) = best_time(lambda: train_topk(sources, n_steps), 1)
        ours = max(ours, samples / seconds)
        if sae_lens is not None:
            throughput, their_mcc = saelens_topk(sources.directions, 0.02, samples)
            theirs = max(theirs, throughput)
    yield "TopK 32 -> 128, project: throughput", ours, "samples/s"
    yield "TopK 32 -> 128, project: MCC", recovery(sources, sae_dictionary(model, sources.data))["MCC"], ""
    if sae_lens is None:
        for name in ["throughput", "MCC", "project / SAELens throughput"]:
            yield f"TopK 32 -> 128, SAELens: {name}", None, "skipped: sae-lens not installed"
        return
    yield "TopK 32 -> 128, SAELens: throughput", theirs, "samples/s"
    yield "TopK 32 -> 128, SAELens: MCC", their_mcc, ""
    yield "TopK 32 -> 128, SAELens: project / SAELens throughput", ours / theirs, "x"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for the test suite")
    parser.add_argument("--json", type=Path, help="also write the table here")
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    rows = []
    print(f"{'benchmark':56} {'value':>12}", flush=True)
    for bench in (bench_notebooks, bench_lecture_toy, bench_explorers, bench_superposition, bench_saelens):
        for name, value, unit in bench(args.quick):
            rows.append({"name": name, "value": value, "unit": unit})
            shown = "" if value is None else f"{value:12.4g}"
            print(f"{name:56} {shown:>12} {unit}", flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"quick": args.quick, "torch": torch.__version__,
                                         "threads": torch.get_num_threads(), "rows": rows}, indent=1))
    return rows


if __name__ == "__main__":
    main()
