"""A small character-level transformer trained on Python source, and what every character of
that source truly is, from Python's own `tokenize`: the ground truth for notebook 08.

    tokens (batch, T) -> embed + position -> n_layers x Block -> LayerNorm -> unembed -> logits
    Block: x = x + attention(LayerNorm(x)); x = x + mlp(LayerNorm(x))   (pre-norm, as in GPT-2)

A token is one ASCII character (its code, 0-127). The corpus (modules of CPython's standard
library, with the PSF licence beside it) and the trained weights lie in `sae_helpers/assets`,
made by `make model` (tools/make_model.py). `collect` and `splice` hook any torch module,
this model's blocks or GPT-2's.
"""

import contextlib
import io
import json
import keyword
import math
import tokenize
from importlib import resources
from typing import NamedTuple

import numpy as np
import safetensors.torch
import torch
import torch.nn as nn
import torch.nn.functional as F

from sae_helpers.checks import check_positive_int
from sae_helpers.model import STANDARD, SparseAutoencoder, TopK
from sae_helpers.progress import progress_bar

VOCAB_SIZE = 128  # ASCII
PROPERTIES = ("string", "comment", "number", "name", "keyword", "indentation", "bracket")
CORPUS_FILE = "python_stdlib.npz"
WEIGHTS_FILE = "char_transformer.pt"
SAE_LAYER, SAE_WIDTHS = 2, (256, 512, 1024, 2048)  # the shipped SAEs read the stream after block 2
SAE_FOLDER, SAE_CONFIG, SAE_WEIGHTS = "saes/block2_width{width}", "cfg.json", "sae_weights.safetensors"


def char_properties(source, partial=False):
    """(len(source), 7) bool: for each character, is it in a string literal (prefix and quotes
    included; an f-string whole), a comment, a number, a name (not a keyword), a keyword
    (keyword.kwlist; soft keywords are names), the indentation of a line (leading spaces, tabs and
    form feeds where a line starts outside brackets, strings and backslash continuations; a line
    holding only a comment has it too), inside brackets (after
    an unclosed (, [ or {)? Columns in the order of PROPERTIES. Raises ValueError if `source`
    does not tokenize, or with `partial` (for text that may stop mid-statement, as generated
    text does) labels it as far as it tokenizes: the characters after that have no property.
    """
    line_starts = np.concatenate([[0], np.flatnonzero(np.frombuffer(source.encode("utf-32-le"), np.uint32)
                                                       == ord("\n")) + 1])
    # where each row tokenize reports starts; the row after the last (its end marker, and the
    # newline it adds to source that lacks one) starts at the end
    row_starts = np.append(line_starts, len(source))
    labels = np.zeros((len(source), len(PROPERTIES)), dtype=bool)
    depth_change = np.zeros(len(source) + 1, dtype=np.int64)
    column = {name: i for i, name in enumerate(PROPERTIES)}
    fstring_start = getattr(tokenize, "FSTRING_START", None)  # Python >= 3.12 splits f-strings
    fstring_end = getattr(tokenize, "FSTRING_END", None)
    open_fstrings = []
    end, stopped = 0, None  # with `partial`: where tokenize stopped
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            start = min(row_starts[token.start[0] - 1] + token.start[1], len(source))
            end = min(row_starts[token.end[0] - 1] + token.end[1], len(source))
            if token.type == fstring_start:
                open_fstrings.append(start)
            elif token.type == fstring_end:
                first = open_fstrings.pop()
                if not open_fstrings:
                    labels[first:end, column["string"]] = True
            elif open_fstrings:
                continue  # the names and braces inside an f-string are part of the string
            elif token.type == tokenize.STRING:
                labels[start:end, column["string"]] = True
            elif token.type == tokenize.COMMENT:
                labels[start:end, column["comment"]] = True
            elif token.type == tokenize.NUMBER:
                labels[start:end, column["number"]] = True
            elif token.type == tokenize.NAME:
                labels[start:end, column["keyword" if keyword.iskeyword(token.string) else "name"]] = True
            elif token.type == tokenize.OP and token.string in ("(", "[", "{"):
                depth_change[end] += 1
            elif token.type == tokenize.OP and token.string in (")", "]", "}"):
                depth_change[start] -= 1
    except (tokenize.TokenError, SyntaxError) as error:
        if not partial:
            raise ValueError(f"source does not tokenize: {error}") from None
        stopped = end
    labels[:, column["bracket"]] = np.cumsum(depth_change)[:-1] > 0
    for start in line_starts[line_starts < len(source)]:
        continued = start >= 2 and source[start - 2] == "\\" and not labels[start - 2, column["comment"]]
        if continued or labels[start, column["string"]] or labels[start, column["bracket"]]:
            continue
        end = start
        while end < len(source) and source[end] in " \t\f":
            end += 1
        if end < len(source) and source[end] != "\n":  # a blank line has no indentation
            labels[start:end, column["indentation"]] = True
    if stopped is not None:
        labels[stopped:] = False
    return labels


def token_properties(token_lengths, properties):
    """Per-token labels from per-character ones, for a tokenizer that cuts the text into
    consecutive pieces (GPT-2's on ASCII text): a token has a property if more than half of its
    characters have it. token_lengths (n_tokens,) characters per token, properties (n_chars, 7) bool ->
    (n_tokens, 7) bool."""
    lengths, properties = np.asarray(token_lengths), np.asarray(properties)
    if lengths.ndim != 1 or len(lengths) == 0 or lengths.min() < 1 or lengths.sum() != len(properties):
        raise ValueError(f"token_lengths must be positive and add up to the {len(properties)} characters; "
                         f"got {len(lengths)} tokens of {lengths.sum()} characters")
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return np.add.reduceat(properties.astype(np.int64), starts, axis=0) * 2 > lengths[:, None]


class Corpus(NamedTuple):
    """The training and held-out text as tokens, with each character's properties."""

    train: torch.Tensor  # (n_train,) int64 character codes
    held_out: torch.Tensor  # (n_held_out,)
    train_properties: np.ndarray  # (n_train, 7) bool, columns as PROPERTIES
    held_out_properties: np.ndarray  # (n_held_out, 7)
    held_out_files: tuple  # the held-out modules' names


def text_to_codes(text):
    """ASCII text -> (len,) int64 tensor of character codes; ValueError for other characters."""
    codes = np.frombuffer(text.encode("utf-32-le"), np.uint32)
    if codes.size and codes.max() >= VOCAB_SIZE:
        raise ValueError(f"the model reads ASCII only; got {chr(codes.max())!r}")
    return torch.from_numpy(codes.astype(np.int64))


def codes_to_text(tokens):
    """(n,) character codes -> str."""
    return "".join(map(chr, torch.as_tensor(tokens).tolist()))


def _asset(name):
    return resources.files("sae_helpers") / "assets" / name


def load_corpus():
    """The committed corpus: training and held-out modules (whole files held out; `make model`
    leaves out of both the modules it would hold out that share long strings with training)."""
    with _asset(CORPUS_FILE).open("rb") as file, np.load(file, allow_pickle=False) as stored:
        codes = torch.from_numpy(stored["text"].astype(np.int64))
        properties = np.unpackbits(stored["properties"][:, None], axis=1, count=len(PROPERTIES),
                                   bitorder="little").astype(bool)
        sizes = np.diff(stored["file_starts"])
        in_held_out = np.repeat(stored["held_out"], sizes)
        in_training = np.repeat(~stored["held_out"] & ~stored["left_out"], sizes)
        names = tuple(str(name) for name in stored["names"][stored["held_out"]])
    return Corpus(codes[in_training], codes[in_held_out], properties[in_training],
                  properties[in_held_out], names)


class Attention(nn.Module):
    """Causal multi-head self-attention."""

    def __init__(self, d_model, n_heads):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be a multiple of n_heads ({n_heads})")
        self.n_heads = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x, cache=None):
        """x (batch, T, d_model). With a `cache` (KeyValueCache) the keys and values of the
        positions seen in earlier calls are kept there, and x, after the first call, holds one
        new position, which attends to all of them (generation, one character at a time)."""
        batch, T, d = x.shape
        q, k, v = self.qkv(x).view(batch, T, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        seen = cache is not None and cache.length > 0
        if cache is not None:
            k, v = cache.append(self, k, v)
        mixed = F.scaled_dot_product_attention(q, k, v, is_causal=not seen)  # (batch, heads, T, d_head)
        return self.out(mixed.transpose(1, 2).reshape(batch, T, d))


class KeyValueCache:
    """Each attention layer's keys and values of the positions seen so far, in buffers of room
    `context`, so that generation runs the model on one new position at a time. `length`
    positions are filled; the model advances it after each call."""

    def __init__(self, context):
        self.context, self.length, self.buffers = context, 0, {}

    def append(self, layer, k, v):
        """Store k and v (batch, heads, T, d_head) after the layer's earlier ones; return all of
        them, (batch, heads, length + T, d_head) each."""
        if self.length and k.shape[2] != 1:
            raise ValueError(f"after the first call with a cache, the model takes one position; got {k.shape[2]}")
        if layer not in self.buffers:
            self.buffers[layer] = [k.new_empty(*k.shape[:2], self.context, k.shape[3]) for _ in range(2)]
        end = self.length + k.shape[2]
        for buffer, new in zip(self.buffers[layer], (k, v)):
            buffer[:, :, self.length:end] = new
        return tuple(buffer[:, :, :end] for buffer in self.buffers[layer])


class Block(nn.Module):
    """Pre-norm transformer block; `mlp[1]` is the GELU whose outputs are the neurons."""

    def __init__(self, d_model, n_heads):
        super().__init__()
        self.ln_attention = nn.LayerNorm(d_model)
        self.attention = Attention(d_model, n_heads)
        self.ln_mlp = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))

    def forward(self, x, cache=None):
        x = x + self.attention(self.ln_attention(x), cache)
        return x + self.mlp(self.ln_mlp(x))


class CharTransformer(nn.Module):
    """A GPT-style character model: (batch, T) codes, T <= context -> (batch, T, 128) logits."""

    def __init__(self, d_model=128, n_layers=4, n_heads=4, context=128):
        super().__init__()
        self.config = dict(d_model=check_positive_int(d_model, "d_model"),
                           n_layers=check_positive_int(n_layers, "n_layers"),
                           n_heads=check_positive_int(n_heads, "n_heads"),
                           context=check_positive_int(context, "context"))
        self.context = context
        self.embed = nn.Embedding(VOCAB_SIZE, d_model)
        self.position = nn.Embedding(context, d_model)
        self.blocks = nn.ModuleList(Block(d_model, n_heads) for _ in range(n_layers))
        self.ln_final = nn.LayerNorm(d_model)
        self.unembed = nn.Linear(d_model, VOCAB_SIZE, bias=False)

    def forward(self, tokens, cache=None):
        """With a `cache` (KeyValueCache), a call after the first takes the one token that
        follows the tokens of the calls before."""
        if tokens.ndim != 2 or tokens.dtype != torch.int64:
            raise ValueError(f"tokens must be a (batch, T) int64 tensor; got {tuple(tokens.shape)} {tokens.dtype}")
        start = 0 if cache is None else cache.length  # positions already in the cache
        if not 0 < start + tokens.shape[1] <= self.context:
            raise ValueError(f"T must be between 1 and the context, {self.context}; got {start + tokens.shape[1]}")
        x = self.embed(tokens) + self.position(torch.arange(start, start + tokens.shape[1], device=tokens.device))
        for block in self.blocks:
            x = block(x, cache)
        if cache is not None:
            cache.length += tokens.shape[1]
        return self.unembed(self.ln_final(x))


def load_model(dtype=torch.float64, device="cpu"):
    """The committed trained CharTransformer (stored in float16), in `dtype`, in eval mode."""
    with _asset(WEIGHTS_FILE).open("rb") as file:
        stored = torch.load(file, weights_only=True)
    model = CharTransformer(**stored["config"])
    model.load_state_dict(stored["weights"])
    return model.to(device=device, dtype=dtype).eval()


def load_sae(width, dtype=torch.float64, device="cpu"):
    """A shipped SAE (`make saes`): TopK with the standard recipe, `width` latents (one of
    SAE_WIDTHS), trained on the residual stream after block 2 at every training position.
    Returns (sae, scale): the SparseAutoencoder reads activations / scale and its reconstruction
    is multiplied back, as notebook 08's own SAE. The files are in SAELens's layout, with the
    scale folded into the weights, so that `sae_lens.SAE.load_from_disk` runs the same SAE on raw
    activations."""
    if width not in SAE_WIDTHS:
        raise ValueError(f"the shipped SAEs have widths {SAE_WIDTHS}; got {width!r}")
    return read_sae(_asset(SAE_FOLDER.format(width=width)), dtype, device)


def read_sae(folder, dtype=torch.float64, device="cpu"):
    """A TopK SAE written by `tools.make_model.save_sae` in `folder`: (sae, scale), as `load_sae`."""
    config = json.loads((folder / SAE_CONFIG).read_text())
    with (folder / SAE_WEIGHTS).open("rb") as file:
        weights = {name: value.to(dtype) for name, value in safetensors.torch.load(file.read()).items()}
    scale = config["metadata"]["activation_scale"]
    with torch.random.fork_rng(devices=[]):  # PyTorch's initialisation, overwritten below, draws no seed of yours
        sae = SparseAutoencoder(config["d_in"], config["d_sae"], activation=TopK(config["k"]), recipe=STANDARD)
    sae.to(dtype).load_state_dict({"encoder.weight": weights["W_enc"].T * scale, "encoder.bias": weights["b_enc"],
                                   "decoder.weight": weights["W_dec"].T / scale,
                                   "decoder.bias": weights["b_dec"] / scale})
    return sae.to(device).eval(), scale


def windows(tokens, context):
    """(n,) tokens -> (n // context, context): consecutive windows, the remainder dropped."""
    n = len(tokens) // context
    if n == 0:
        raise ValueError(f"need at least one window of {context} tokens; got {len(tokens)}")
    return tokens[: n * context].view(n, context)


def spread_windows(tokens, properties, n_windows, context):
    """n_windows windows of `context` characters spread evenly over the text (so that they come
    from many modules): (tokens (n_windows * context,), properties (n_windows * context, 7))."""
    rows = windows(torch.arange(len(tokens)), context)
    if not 0 < n_windows <= len(rows):
        raise ValueError(f"n_windows must be between 1 and {len(rows)}; got {n_windows!r}")
    picked = rows[torch.linspace(0, len(rows) - 1, n_windows).round().long()].flatten()
    return tokens[picked], np.asarray(properties)[picked.numpy()]


def _batches(model, tokens, batch_size, context=None):
    device = next(model.parameters()).device
    rows = windows(tokens, context or model.context)
    for start in range(0, len(rows), batch_size):
        yield rows[start:start + batch_size].to(device)


def next_char_bits(model, tokens, batch_size=64, context=None):
    """(n_windows, context - 1): the model's loss in bits on each next token, within each window
    of `context` tokens (default: the model's own; the first token of a window is not predicted).
    `model` returns logits, or an object with `.logits` (as transformers' models do)."""
    losses = []
    with torch.no_grad():
        for batch in _batches(model, tokens, batch_size, context):
            output = model(batch[:, :-1])
            logits = getattr(output, "logits", output)
            losses.append(F.cross_entropy(logits.transpose(1, 2), batch[:, 1:], reduction="none").cpu())
    return torch.cat(losses).double() / math.log(2)


def bits_per_char(model, tokens, batch_size=64, context=None):
    """Mean cross-entropy in bits of each next character (token), over windows of `context`."""
    return float(next_char_bits(model, tokens, batch_size, context).mean())


def generate(model, prompt, n_chars):
    """The prompt followed by n_chars characters, each the model's most likely next one (greedy).
    `prompt`: a string, or (batch, T) codes for several prompts at once (then codes come back).
    Each step runs the model on the one new character, with a cache of the attention's keys and
    values, so prompt and continuation must fit in the model's context together."""
    device = next(model.parameters()).device
    tokens = text_to_codes(prompt)[None] if isinstance(prompt, str) else torch.as_tensor(prompt)
    if tokens.shape[1] + check_positive_int(n_chars, "n_chars") > model.context:
        raise ValueError(f"prompt ({tokens.shape[1]}) and n_chars ({n_chars}) must fit in the context, {model.context}")
    tokens = new = tokens.to(device)
    cache = KeyValueCache(model.context)
    with torch.no_grad():
        for _ in range(n_chars):
            new = model(new, cache)[:, -1].argmax(dim=-1, keepdim=True)
            tokens = torch.cat([tokens, new], dim=1)
    return codes_to_text(tokens[0]) if isinstance(prompt, str) else tokens.cpu()


def code_line_starts(tokens, properties, length):
    """The positions after a newline in `tokens` (n,), with their `properties` (n, 7), where a
    line of module-level code starts: not indented, not blank, not a comment, not inside a string
    or brackets, and followed by at least `length` characters (steering's prompts start there)."""
    codes, properties = torch.as_tensor(tokens).numpy(), np.asarray(properties)
    starts = np.flatnonzero(codes[:-1] == ord("\n")) + 1
    is_code = ~np.isin(codes[starts], [ord(c) for c in " \n#"])
    outside = ~properties[starts][:, [PROPERTIES.index("string"), PROPERTIES.index("bracket")]].any(axis=1)
    return starts[is_code & outside & (starts + length <= len(codes))]


def steered_properties(model, module, prompts, additions, n_chars):
    """Steering, checked against the truth. For each vector of `additions` (n_additions, width),
    the model continues every prompt ((n_prompts, T) codes) by n_chars greedy characters with the
    vector added to `module`'s output at every position, and `char_properties` labels the
    continuations (`partial`: they may stop mid-statement). Returns the generated codes
    (n_additions, n_prompts, n_chars) and their labels (n_additions, n_prompts, n_chars, 7)."""
    prompts, additions = torch.as_tensor(prompts), torch.as_tensor(additions)
    if additions.ndim != 2 or prompts.ndim != 2:
        raise ValueError(f"additions must be (n_additions, width) and prompts (n_prompts, T); got "
                         f"{tuple(additions.shape)} and {tuple(prompts.shape)}")
    parameter = next(model.parameters())
    n, m = len(additions), len(prompts)
    added = additions.to(parameter.device, parameter.dtype).repeat_interleave(m, dim=0)[:, None, :]  # one per row
    with splice(module, lambda output: output + added):
        codes = generate(model, prompts.repeat(n, 1), n_chars)
    labels = np.stack([char_properties(codes_to_text(row), partial=True)[-n_chars:] for row in codes])
    return codes[:, -n_chars:].reshape(n, m, n_chars), labels.reshape(n, m, n_chars, len(PROPERTIES))


def ngram_bits_per_char(train, held_out, order):
    """Held-out bits per char of a unigram (order 1) or bigram (order 2) model with add-one
    smoothing, fitted on `train`: the baselines the transformer must beat."""
    if order == 1:
        counts = torch.bincount(train, minlength=VOCAB_SIZE).double() + 1
        return float(-(counts / counts.sum()).log2()[held_out].mean())
    if order == 2:
        pairs = torch.bincount(train[:-1] * VOCAB_SIZE + train[1:], minlength=VOCAB_SIZE**2)
        counts = pairs.view(VOCAB_SIZE, VOCAB_SIZE).double() + 1
        probabilities = counts / counts.sum(dim=1, keepdim=True)
        return float(-probabilities[held_out[:-1], held_out[1:]].log2().mean())
    raise ValueError(f"order must be 1 or 2; got {order!r}")


def _first(output):
    """A module's output, or its first element (GPT-2's blocks return tuples)."""
    return output[0] if isinstance(output, tuple) else output


class _AllRead(Exception):
    """Raised by collect's hooks once every module has given its output for a batch."""


def collect(model, module, tokens, batch_size=64, context=None, progress=True):
    """Run `model` over `tokens` in windows of `context` characters or tokens (default: the
    model's own) and return what `module` outputs, (n_windows * context, width), one row per
    token (a tuple's first element, for a module that returns a tuple). Given a list of
    modules, one forward pass collects them all and returns a list. Each pass stops once every
    module has been read: the layers after them do not run."""
    modules = list(module) if isinstance(module, (list, tuple)) else [module]
    captured = [[] for _ in modules]

    def keep(store, output):
        store.append(_first(output).detach())
        if all(len(other) == len(store) for other in captured):
            raise _AllRead

    handles = [m.register_forward_hook(lambda mod, inputs, output, store=store: keep(store, output))
               for m, store in zip(modules, captured)]
    try:
        with torch.no_grad():
            batches = list(_batches(model, tokens, batch_size, context))
            for i, batch in enumerate(progress_bar(batches, "collecting", "batches", disable=not progress)):
                try:
                    model(batch)
                except _AllRead:
                    pass
                if any(len(store) != i + 1 for store in captured):
                    raise ValueError("every module must run once per forward pass of the model; "
                                     f"their outputs per pass: {[len(store) - i for store in captured]}")
    finally:
        for handle in handles:
            handle.remove()
    outputs = [torch.cat(store).flatten(0, 1) for store in captured]
    return outputs if isinstance(module, (list, tuple)) else outputs[0]


@contextlib.contextmanager
def splice(module, replace):
    """While inside the `with`, `module`'s output (its first element, for a tuple) is replaced
    by replace(output): e.g. an SAE's reconstruction, or zeros."""

    def hook(mod, inputs, output):
        if isinstance(output, tuple):
            return (replace(output[0]), *output[1:])
        return replace(output)

    handle = module.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()
