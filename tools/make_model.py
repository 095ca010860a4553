"""`make model`: notebook 08's corpus and its trained character model, from this machine's
CPython standard library, and the SAEs shipped for it, seeded. Run once; all are committed.

    python -m tools.make_model corpus   # -> sae_helpers/assets/python_stdlib.npz
    python -m tools.make_model train    # -> sae_helpers/assets/char_transformer.pt
    python -m tools.make_model saes     # -> sae_helpers/assets/saes/block2_width{256,...,2048}/

The corpus: modules of the standard library (no tests, no IDLE or Tk, ASCII only, 2-100 KB each),
shuffled with seed 0 and taken until 4 MB; the first 300 KB of files in that order are held
out, whole, except those with more than 10 % of their characters in 64-character strings that also
occur in the training modules: these are left out of both. Each character's properties come from
`char_properties` (Python's tokenize) and are stored with it, so every Python version reads the
same labels.
"""

import argparse
import json
import math
import sys
import sysconfig
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from sae_helpers.language_model import (
    CORPUS_FILE,
    PROPERTIES,
    SAE_CONFIG,
    SAE_FOLDER,
    SAE_LAYER,
    SAE_WEIGHTS,
    SAE_WIDTHS,
    WEIGHTS_FILE,
    CharTransformer,
    bits_per_char,
    char_properties,
    collect,
    load_corpus,
    load_model,
    ngram_bits_per_char,
)
from sae_helpers.metrics import ACTIVE_THRESHOLD, fvu
from sae_helpers.model import STANDARD, SparseAutoencoder, TopK
from sae_helpers.train import train_sae

ASSETS = Path(__file__).resolve().parent.parent / "sae_helpers" / "assets"
SKIPPED_FOLDERS = {"test", "tests", "idle_test", "idlelib", "tkinter", "turtledemo", "site-packages",
                   "pydoc_data", "ensurepip", "lib2to3", "__pycache__"}
CORPUS_BYTES, HELD_OUT_BYTES, FILE_BYTES = 4_000_000, 300_000, (2_000, 100_000)
# a held-out module with more than MAX_SHARED of its characters in SHARED_LENGTH-character strings
# that also occur in the training modules (a codec table beside its siblings) is left out of both
SHARED_LENGTH, MAX_SHARED = 64, 0.1
CONFIG = dict(d_model=128, n_layers=4, n_heads=4, context=256)
TRAINING = dict(n_steps=6000, batch_size=32, lr=3e-3, warmup=200, weight_decay=0.1, seed=0)
SAES = dict(widths=SAE_WIDTHS, k=16, n_epochs=2, lr=2e-3, lr_decay=0.2, batch_size=4096, seed=0)
SAE_LENS_FORMAT = "6.54.12"  # the sae-lens whose on-disk layout the SAEs follow (make bench's)


def _readable(path):
    """The module's text if it is ASCII, 2-100 KB, has plain newlines and tokenizes; else None."""
    raw = path.read_bytes()
    if not FILE_BYTES[0] <= len(raw) <= FILE_BYTES[1] or not raw.isascii() or b"\r" in raw:
        return None
    text = raw.decode("ascii")
    try:
        return text, char_properties(text)
    except ValueError:
        return None


def substrings(text, length):
    """Every `length`-character substring of text."""
    return {text[i:i + length] for i in range(len(text) - length + 1)}


def shared_share(text, strings, length=SHARED_LENGTH):
    """The share of text's characters that lie in a `length`-character substring that is one of
    `strings`."""
    covered = np.zeros(len(text) + 1, dtype=np.int64)
    for i in range(len(text) - length + 1):
        if text[i:i + length] in strings:
            covered[i] += 1
            covered[i + length] -= 1
    return float((np.cumsum(covered)[:-1] > 0).mean()) if text else 0.0


def make_corpus():
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    paths = sorted(p for p in stdlib.rglob("*.py")
                   if not SKIPPED_FOLDERS & set(p.relative_to(stdlib).parts[:-1]))
    order = np.random.default_rng(0).permutation(len(paths))
    texts, properties, names, total = [], [], [], 0
    for i in order:
        read = _readable(paths[i])
        if read is None:
            continue
        texts.append(read[0])
        properties.append(read[1])
        names.append(str(paths[i].relative_to(stdlib)))
        total += len(read[0])
        if total >= CORPUS_BYTES:
            break
    sizes = np.array([len(t) for t in texts])
    held_out = np.cumsum(sizes) - sizes < HELD_OUT_BYTES
    training_strings = set().union(*(substrings(text, SHARED_LENGTH) for text, held in zip(texts, held_out)
                                     if not held))
    shared = np.array([shared_share(text, training_strings) if held else 0.0 for text, held in zip(texts, held_out)])
    left_out = shared > MAX_SHARED
    held_out &= ~left_out
    labels = np.concatenate(properties)
    ASSETS.mkdir(exist_ok=True)
    np.savez_compressed(
        ASSETS / CORPUS_FILE,
        text=np.frombuffer("".join(texts).encode("ascii"), np.uint8),
        properties=np.packbits(labels, axis=1, bitorder="little")[:, 0],
        file_starts=np.concatenate([[0], np.cumsum(sizes)]),
        names=np.array(names),
        held_out=held_out,
        left_out=left_out,
        python_version=np.array(sys.version.split()[0]),
    )
    print(f"{len(texts)} modules of Python {sys.version.split()[0]}, {total:,} characters, "
          f"{sizes[held_out].sum():,} held out in {held_out.sum()} modules")
    for name, size, share in zip(np.array(names)[left_out], sizes[left_out], shared[left_out]):
        print(f"  left out of both: {name} ({size:,} characters, {share:.0%} in strings shared with training)")
    print(f"  held out: at most {shared[held_out].max():.1%} of a module's characters in shared strings")
    for name, share in zip(PROPERTIES, labels.mean(axis=0)):
        print(f"  {name:12s} {share:.3f} of characters")


def _learning_rate(step, n_steps, lr, warmup):
    """Linear warm-up, then a cosine decay to lr / 10."""
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, n_steps - warmup)
    return lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def train(n_steps, batch_size, lr, warmup, weight_decay, seed, device="cpu", out=ASSETS / WEIGHTS_FILE):
    corpus = load_corpus()
    torch.manual_seed(seed)
    model = CharTransformer(**CONFIG).to(device)
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.95))
    sampler = torch.Generator().manual_seed(seed)
    train_tokens = corpus.train.to(device)
    width = model.context + 1
    print(f"{sum(p.numel() for p in model.parameters()):,} parameters; bits/char held out: "
          f"unigram {ngram_bits_per_char(corpus.train, corpus.held_out, 1):.3f}, "
          f"bigram {ngram_bits_per_char(corpus.train, corpus.held_out, 2):.3f}", flush=True)
    started = time.perf_counter()
    for step in range(n_steps):
        starts = torch.randint(len(train_tokens) - width, (batch_size,), generator=sampler)
        batch = train_tokens[starts.to(device)[:, None] + torch.arange(width, device=device)]
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.flatten(0, 1), batch[:, 1:].flatten())
        for group in optimizer.param_groups:
            group["lr"] = _learning_rate(step, n_steps, lr, warmup)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if not torch.isfinite(loss):
            raise FloatingPointError(f"training diverged at step {step}: try a smaller lr (now {lr})")
        if (step + 1) % 1000 == 0 or step + 1 == n_steps:
            model.eval()
            held_out = bits_per_char(model, corpus.held_out.to(device))
            model.train()
            print(f"step {step + 1}: train {loss.item() / math.log(2):.3f} bits/char, held out "
                  f"{held_out:.3f}; {time.perf_counter() - started:.0f} s", flush=True)
    weights = {name: value.detach().cpu().half() for name, value in model.state_dict().items()}
    torch.save({"config": model.config, "weights": weights}, out)
    print(f"saved {out} ({out.stat().st_size / 1e6:.2f} MB)")


def save_sae(sae, scale, folder, metadata):
    """Write `sae` (a TopK SparseAutoencoder trained on activations / scale) in SAELens's on-disk
    layout: cfg.json and sae_weights.safetensors (float16). The scale is folded into the weights,
    so the stored SAE reads the raw residual stream, as SAELens runs it; `load_sae` unfolds it."""
    folder.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        weights = {"W_enc": sae.encoder.weight.T / scale, "b_enc": sae.encoder.bias,
                   "W_dec": sae.decoder.weight.T * scale, "b_dec": sae.decoder.bias * scale}
    save_file({name: value.detach().cpu().half().contiguous() for name, value in weights.items()},
              folder / SAE_WEIGHTS)
    config = dict(architecture="topk", d_in=sae.input_dim, d_sae=sae.hidden_dim, k=sae.activation.k,
                  dtype="float32", device="cpu", apply_b_dec_to_input=True, normalize_activations="none",
                  reshape_activations="none", rescale_acts_by_decoder_norm=False,
                  metadata=dict(sae_lens_version=SAE_LENS_FORMAT, activation_scale=scale, **metadata))
    (folder / SAE_CONFIG).write_text(json.dumps(config, indent=2) + "\n")


def train_saes(widths, k, n_epochs, lr, lr_decay, batch_size, seed, device="cpu"):
    """The shipped SAEs: TopK with the standard recipe, one per width, on the residual stream
    after block 2 at every training position (windows of the model's context), divided by one
    number so that its mean norm is sqrt(d_model)."""
    corpus = load_corpus()
    model = load_model(torch.float32, device)
    started = time.perf_counter()
    x = collect(model, model.blocks[SAE_LAYER - 1], corpus.train)
    scale = float(x.norm(dim=1).mean()) / math.sqrt(x.shape[1])
    x /= scale
    held_out = collect(model, model.blocks[SAE_LAYER - 1], corpus.held_out, progress=False) / scale
    print(f"{len(x):,} training positions collected in {time.perf_counter() - started:.0f} s; scale {scale:.4f}")
    for width in widths:
        torch.manual_seed(seed)
        sae = SparseAutoencoder(x.shape[1], width, activation=TopK(k), recipe=STANDARD).to(device)
        history = train_sae(sae, x, n_epochs=n_epochs, lr=lr, penalty="none", batch_size=batch_size, seed=seed,
                            lr_decay=lr_decay)
        with torch.no_grad():
            held_out_fvu = fvu(held_out, sae(held_out).x_recon)
            fires = sum((sae.encode(chunk) > ACTIVE_THRESHOLD).any(dim=0) for chunk in x.split(65536))
        save_sae(sae, scale, ASSETS / SAE_FOLDER.format(width=width),
                 dict(model_name="char_transformer", hook_name=f"blocks.{SAE_LAYER - 1}", seed=seed,
                      n_epochs=n_epochs, lr=lr, batch_size=batch_size, training_positions=len(x)))
        print(f"width {width}: training MSE {history.mse[-1]:.4f}, held-out FVU {held_out_fvu:.3f}, "
              f"dead latents {int((fires == 0).sum())}; {time.perf_counter() - started:.0f} s",
              flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["corpus", "train", "saes"])
    parser.add_argument("--device", default="cpu")
    arguments = parser.parse_args()
    if arguments.what == "corpus":
        make_corpus()
    elif arguments.what == "train":
        train(**TRAINING, device=arguments.device)
    else:
        train_saes(**SAES, device=arguments.device)


if __name__ == "__main__":
    main()
