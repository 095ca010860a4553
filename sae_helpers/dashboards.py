"""Feature dashboards for an SAE on the character model: HTML that reads the same in
JupyterLab and Colab (inline styles only, no scripts), and an activation histogram.

A dashboard shows, for one latent: the contexts where it fires most, each character shaded by
the latent's activation there; what fraction of the characters it fires on have each
ground-truth property; and the characters its decoder direction promotes and suppresses
directly, through the final LayerNorm's scale and the unembedding (the LayerNorm's
normalisation, which depends on the whole residual, left out, as dashboards usually do).
"""

import html

import numpy as np
import torch
from IPython.display import HTML

from sae_helpers.checks import as_numpy
from sae_helpers.language_model import PROPERTIES
from sae_helpers.metrics import ACTIVE_THRESHOLD

_VISIBLE = {"\n": "⏎", "\t": "⇥", " ": "\u00a0"}  # a newline inside one line of context, a tab, a kept space
_SHOWN = {ord("\n"), *range(32, 127)}  # the characters a dashboard lists
_STYLE = "font-family: monospace; white-space: pre; line-height: 1.7"


def _char(code):
    c = chr(code)
    return _VISIBLE.get(c, html.escape(c) if c.isprintable() else f"\\x{code:02x}")


def highlight(tokens, values, top, one_line=True):
    """HTML of the characters, each shaded orange by values / top (clipped to [0, 1], rounded to
    0.1, so the HTML does not change with float noise). `one_line`: newlines shown as ⏎;
    otherwise kept as line breaks."""
    shade = np.clip(np.round(as_numpy(values) / top, 1), 0, 1)
    text = [_char(c) if one_line or c != ord("\n") else "\n" for c in torch.as_tensor(tokens).tolist()]
    cells = (f'<span style="background: rgba(255,140,0,{s:.1f})">{t}</span>' if s > 0 else t
             for t, s in zip(text, shade))
    return f'<div style="{_STYLE}">{"".join(cells)}</div>'


def top_contexts(activations, n_contexts=8, before=40, after=8):
    """Positions of the n_contexts largest activations, at least before + after apart so that no
    two contexts overlap (ties broken by position)."""
    activations = as_numpy(activations)
    order = np.lexsort((np.arange(len(activations)), -activations))
    chosen = []
    for position in order:
        if activations[position] <= ACTIVE_THRESHOLD or len(chosen) == n_contexts:
            break
        if all(abs(position - other) > before + after for other in chosen):
            chosen.append(int(position))
    return chosen


def promoted_characters(model, direction, n=8):
    """The characters whose logits `direction` (d_model,) raises most and lowers most:
    unembed(ln_final.weight * (direction - its mean)), among the printable ones and the newline
    (the others never occur in the corpus, so their logits mean nothing). Returns (promoted,
    suppressed), each a list of (character, logit change)."""
    with torch.no_grad():
        direction = torch.as_tensor(direction, dtype=model.unembed.weight.dtype, device=model.unembed.weight.device)
        logits = model.unembed(model.ln_final.weight * (direction - direction.mean())).cpu().numpy()
    shown = np.array([i for i in np.lexsort((np.arange(len(logits)), -logits)) if i in _SHOWN])
    return [(chr(i), float(logits[i])) for i in shown[:n]], [(chr(i), float(logits[i])) for i in shown[::-1][:n]]


def truth_shares(activations, properties):
    """Where one latent fires (activations (n,) > ACTIVE_THRESHOLD): the fraction of the n
    characters it fires on, and the fraction of those that have each property ((7,), NaN where
    it never fires); `properties` (n, 7) bool, the characters' ground truth."""
    fires = as_numpy(activations) > ACTIVE_THRESHOLD
    properties = as_numpy(properties)
    if len(fires) != len(properties):
        raise ValueError(f"activations and properties must cover the same characters; got {len(fires)} and {len(properties)}")
    shares = properties[fires].mean(axis=0) if fires.any() else np.full(properties.shape[1], np.nan)
    return float(fires.mean()), shares


def latent_dashboard(latent, activations, tokens, properties, model, direction, n_contexts=8, window=None):
    """HTML dashboard of one latent. activations (n,) its values on the characters `tokens` (n,),
    whose ground truth is `properties` (n, 7) bool; `direction` (d_model,) its decoder direction.
    `window`: if the characters are windows of this length put end to end, a context stops at
    its window's edges (text beyond them is not what the model saw)."""
    activations = as_numpy(activations)
    tokens = torch.as_tensor(tokens).cpu()
    fraction, shares = truth_shares(activations, properties)
    parts = [f"<h4>Latent {latent}: fires on {fraction:.2%} of {len(activations):,} characters</h4>"]
    if fraction > 0:
        parts.append("<p>Where it fires, the characters are: " + ", ".join(
            f"<b>{name}</b> {share:.0%}" for name, share in zip(PROPERTIES, shares)) + "</p>")
        top = activations.max()
        before, after = 40, 8
        for position in top_contexts(activations, n_contexts, before, after):
            first, last = (0, len(tokens)) if window is None else (position - position % window,
                                                                   position - position % window + window)
            start, end = max(first, position - before), min(last, position + after + 1)
            parts.append(f"<div style='display: flex; gap: 1em'><span style='{_STYLE}'>"
                         f"{activations[position]:5.1f}</span>{highlight(tokens[start:end], activations[start:end], top)}</div>")
    else:
        parts.append("<p>It never fires on these characters.</p>")
    promoted, suppressed = promoted_characters(model, direction)
    listing = lambda pairs: " ".join(f"<code>{_char(ord(c))}</code>&nbsp;{v:+.1f}" for c, v in pairs)
    parts.append(f"<p>Promotes: {listing(promoted)}<br>Suppresses: {listing(suppressed)}</p>")
    return HTML("\n".join(parts))

