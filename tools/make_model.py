"""`make model`: notebook 08's corpus and its trained character model, from this machine's
CPython standard library, seeded. Run once; both files are committed.

    python -m tools.make_model corpus   # -> sae_helpers/assets/python_stdlib.npz
    python -m tools.make_model train    # -> sae_helpers/assets/char_transformer.pt

The corpus: modules of the standard library (no tests, no IDLE or Tk, ASCII only, 2-60 KB each),
shuffled with seed 0 and taken until 1.5 MB; the first 150 KB of files in that order are held
out, whole. Each character's properties come from `char_properties` (Python's tokenize) and
are stored with it, so every Python version reads the same labels.
"""

import argparse
import math
import sys
import sysconfig
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from sae_helpers.language_model import (
    CORPUS_FILE,
    PROPERTIES,
    WEIGHTS_FILE,
    CharTransformer,
    bits_per_char,
    char_properties,
    load_corpus,
    ngram_bits_per_char,
)

ASSETS = Path(__file__).resolve().parent.parent / "sae_helpers" / "assets"
SKIPPED_FOLDERS = {"test", "tests", "idle_test", "idlelib", "tkinter", "turtledemo", "site-packages",
                   "pydoc_data", "ensurepip", "lib2to3", "__pycache__"}
CORPUS_BYTES, HELD_OUT_BYTES, FILE_BYTES = 4_000_000, 300_000, (2_000, 100_000)
CONFIG = dict(d_model=128, n_layers=4, n_heads=4, context=256)
TRAINING = dict(n_steps=6000, batch_size=32, lr=3e-3, warmup=200, weight_decay=0.1, seed=0)


def _readable(path):
    """The module's text if it is ASCII, 2-60 KB, has plain newlines and tokenizes; else None."""
    raw = path.read_bytes()
    if not FILE_BYTES[0] <= len(raw) <= FILE_BYTES[1] or not raw.isascii() or b"\r" in raw:
        return None
    text = raw.decode("ascii")
    try:
        return text, char_properties(text)
    except ValueError:
        return None


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
    labels = np.concatenate(properties)
    ASSETS.mkdir(exist_ok=True)
    np.savez_compressed(
        ASSETS / CORPUS_FILE,
        text=np.frombuffer("".join(texts).encode("ascii"), np.uint8),
        properties=np.packbits(labels, axis=1, bitorder="little")[:, 0],
        file_starts=np.concatenate([[0], np.cumsum(sizes)]),
        names=np.array(names),
        held_out=held_out,
        python_version=np.array(sys.version.split()[0]),
    )
    print(f"{len(texts)} modules of Python {sys.version.split()[0]}, {total:,} characters, "
          f"{sizes[held_out].sum():,} held out in {held_out.sum()} modules")
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["corpus", "train"])
    parser.add_argument("--device", default="cpu")
    arguments = parser.parse_args()
    if arguments.what == "corpus":
        make_corpus()
    else:
        train(**TRAINING, device=arguments.device)


if __name__ == "__main__":
    main()
