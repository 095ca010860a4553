"""Feature dashboards: the shading, the contexts, the promoted characters, the truth line, and
the latent explorer."""

import numpy as np
import torch

import pytest

from sae_helpers.dashboards import highlight, latent_dashboard, promoted_characters, top_contexts, truth_shares
from sae_helpers.language_model import CharTransformer, text_to_codes
from sae_helpers.widgets import latent_explorer


def tiny_model():
    torch.manual_seed(0)
    return CharTransformer(d_model=16, n_layers=1, n_heads=2, context=16).double()


def test_highlight_shades_by_tenths_and_escapes():
    html = highlight(text_to_codes("a<\n "), [1.0, 0.449, 0.0, 2.0], 1.0)
    assert 'rgba(255,140,0,1.0)">a<' in html and 'rgba(255,140,0,0.4)">&lt;<' in html
    assert "⏎" in html and "rgba(255,140,0,1.0)\">\u00a0<" in html  # clipped at 1, space kept


def test_top_contexts_are_the_largest_and_do_not_overlap():
    activations = np.zeros(200)
    activations[[10, 12, 100, 150]] = [5.0, 4.0, 3.0, 2.0]
    assert top_contexts(activations, n_contexts=3, before=5, after=2) == [10, 100, 150]  # 12 overlaps 10
    assert top_contexts(np.zeros(50)) == []


def test_promoted_characters_follow_the_unembedding():
    model = tiny_model()
    direction = torch.randn(16, dtype=torch.float64)
    promoted, suppressed = promoted_characters(model, direction, n=3)
    with torch.no_grad():
        logits = model.unembed(model.ln_final.weight * (direction - direction.mean()))
    printable = [i for i in range(128) if i == 10 or 32 <= i < 127]
    order = sorted(printable, key=lambda i: -float(logits[i]))
    assert [c for c, _ in promoted] == [chr(i) for i in order[:3]]
    assert [c for c, _ in suppressed] == [chr(i) for i in order[::-1][:3]]


def test_dashboard_truth_line_counts_the_firing_characters():
    model = tiny_model()
    tokens = text_to_codes("x = 1  # one\n" * 10)
    properties = np.zeros((len(tokens), 7), dtype=bool)
    properties[:, 1] = tokens.numpy() == ord("#")
    activations = np.where(tokens.numpy() == ord("#"), 2.0, 0.0)
    activations[0] = 1.0  # fires once on a character that is not "#"
    html = latent_dashboard(7, activations, tokens, properties, model, torch.ones(16)).data
    assert "Latent 7: fires on 8.46% of 130 characters" in html
    assert "<b>comment</b> 91%" in html and "<b>string</b> 0%" in html
    assert "never fires" in latent_dashboard(7, np.zeros(len(tokens)), tokens, properties, model, torch.ones(16)).data


def test_truth_shares_are_over_the_characters_a_latent_fires_on():
    properties = np.array([[1, 0], [1, 1], [0, 1], [0, 0]], dtype=bool)
    fraction, shares = truth_shares(torch.tensor([2.0, 0.5, 0.0, 1e-4]), properties)  # 1e-4: below ACTIVE_THRESHOLD
    assert fraction == 0.5 and shares.tolist() == [1.0, 0.5]
    fraction, shares = truth_shares(np.zeros(4), properties)
    assert fraction == 0.0 and np.isnan(shares).all()
    with pytest.raises(ValueError, match="same characters; got 3 and 4"):
        truth_shares(np.ones(3), properties)


def test_latent_explorer_shows_the_chosen_latent_of_saes_of_any_width():
    model = tiny_model()
    tokens = text_to_codes("def f(x):\n    return x\n" * 8)
    properties = np.zeros((len(tokens), 7), dtype=bool)
    properties[:, 0] = True
    latents = [torch.rand(len(tokens), 8, dtype=torch.float64), torch.rand(len(tokens), 4, dtype=torch.float64)]
    latents[0][:, :3] = 0  # dead in the first SAE: the explorer opens on latent 3
    directions = [torch.randn(8, 16, dtype=torch.float64), torch.randn(4, 16, dtype=torch.float64)]
    explorer = latent_explorer({"wide": (latents[0], directions[0]), "narrow": (latents[1], directions[1])},
                               tokens, properties, model)
    assert "Latent 3:" in explorer.result.data
    explorer.children[1].value = 2
    explorer.children[0].value = "narrow"
    expected = f"Latent 2: fires on {(latents[1][:, 2] > 1e-3).double().mean():.2%}"
    assert expected in explorer.result.data
    explorer.children[1].value = 6  # the narrow SAE has no latent 6: a message, no dashboard
    assert explorer.result is None
    with pytest.raises(ValueError, match="empty"):
        latent_explorer({}, tokens, properties, model)


def test_contexts_that_share_one_character_overlap():
    activations = np.zeros(100)
    activations[[10, 17]] = [2.0, 1.0]  # 10's context is 5..12, 17's 12..19
    assert top_contexts(activations, before=5, after=2) == [10]


def test_dashboard_context_stops_at_its_window():
    torch.manual_seed(0)
    model = CharTransformer(d_model=16, n_layers=1, n_heads=2, context=16).double()
    tokens = text_to_codes("abcdefghijklmnopqrstuvwxyz012345")
    activations = np.zeros(32)
    activations[20] = 1.0
    html = latent_dashboard(0, activations, tokens, np.zeros((32, 7), bool), model, torch.ones(16), window=16).data
    assert highlight(tokens[16:29], activations[16:29], 1.0) in html  # 16 ..  20 + 8
