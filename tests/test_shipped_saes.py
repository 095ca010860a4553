"""The SAEs shipped for notebook 08 (`make saes`): the files, the loader, and SAELens reading
the same SAE from them (where sae-lens is installed: `make saelens-test`)."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from sae_helpers import train_sae
from sae_helpers.language_model import (
    SAE_CONFIG,
    SAE_FOLDER,
    SAE_LAYER,
    SAE_WEIGHTS,
    SAE_WIDTHS,
    _asset,
    collect,
    load_corpus,
    load_model,
    load_sae,
    read_sae,
)
from sae_helpers.metrics import fvu
from sae_helpers.model import STANDARD, SparseAutoencoder, TopK
from tools.make_model import save_sae


@pytest.fixture(scope="module")
def held_out_activations():
    model = load_model(torch.float64)
    return collect(model, model.blocks[SAE_LAYER - 1], load_corpus().held_out[: 16 * model.context], progress=False)


def small_trained_sae():
    torch.manual_seed(0)
    x = torch.randn(512, 6, dtype=torch.float64) * 3 + 1
    sae = SparseAutoencoder(6, 12, activation=TopK(2), recipe=STANDARD).double()
    train_sae(sae, x / 2.5, n_epochs=20, lr=1e-2, penalty="none", batch_size=128, progress=False)
    return sae, x


def test_a_saved_sae_reads_back_as_the_same_sae(tmp_path):
    sae, x = small_trained_sae()
    save_sae(sae, 2.5, tmp_path, dict(seed=0))
    config = json.loads((tmp_path / SAE_CONFIG).read_text())
    assert (config["architecture"], config["d_in"], config["d_sae"], config["k"]) == ("topk", 6, 12, 2)
    loaded, scale = read_sae(tmp_path)
    assert scale == 2.5 and loaded.recipe == STANDARD and loaded.activation.k == 2
    with torch.no_grad():
        want, got = sae(x / 2.5), loaded(x / scale)
    # float16 weights: three significant digits
    torch.testing.assert_close(got.x_recon, want.x_recon, atol=0.02, rtol=0.01)
    assert ((got.latents > 0) == (want.latents > 0)).double().mean() > 0.99
    # the stored weights read raw activations: the scale is folded in, as SAELens runs them
    with (tmp_path / SAE_WEIGHTS).open("rb") as file:
        from safetensors.torch import load
        stored = {name: value.double() for name, value in load(file.read()).items()}
    pre = (x - stored["b_dec"]) @ stored["W_enc"] + stored["b_enc"]
    torch.testing.assert_close(pre, loaded.pre_activations(x / scale), atol=0.02, rtol=0.01)


@pytest.mark.parametrize("width", SAE_WIDTHS)
def test_each_shipped_sae_is_small_and_in_the_recipe(width):
    folder = _asset(SAE_FOLDER.format(width=width))
    assert (folder / SAE_WEIGHTS).stat().st_size <= 2_000_000
    sae, scale = load_sae(width)
    assert sae.hidden_dim == width and sae.input_dim == 128 and sae.recipe == STANDARD
    norms = sae.decoder_directions.norm(dim=1)
    torch.testing.assert_close(norms, torch.ones_like(norms), atol=2e-3, rtol=0)  # unit norm, to float16
    with pytest.raises(ValueError, match="widths"):
        load_sae(width + 1)


def test_wider_shipped_saes_reconstruct_better(held_out_activations):
    fvus = []
    for width in SAE_WIDTHS:
        sae, scale = load_sae(width)
        with torch.no_grad():
            output = sae(held_out_activations / scale)
        fvus.append(float(fvu(held_out_activations, output.x_recon * scale)))
    assert fvus[0] < 0.06 and np.all(np.diff(fvus) < 0)


@pytest.mark.parametrize("width", SAE_WIDTHS)
def test_sae_lens_runs_the_shipped_sae_as_load_sae_does(width, held_out_activations):
    sae_lens = pytest.importorskip("sae_lens")
    folder = Path(str(_asset(SAE_FOLDER.format(width=width))))
    theirs = sae_lens.SAE.load_from_disk(folder, dtype="float64")
    ours, scale = load_sae(width)
    x = held_out_activations[:2048]
    with torch.no_grad():
        output = ours(x / scale)
        torch.testing.assert_close(theirs.encode(x), output.latents)
        torch.testing.assert_close(theirs(x), output.x_recon * scale)
