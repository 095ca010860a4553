"""The character model of notebook 08: the ground truth from tokenize, the committed corpus and
weights, and the hooks (collect, splice) on it and on a tiny random GPT-2."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sae_helpers.language_model import (
    CORPUS_FILE,
    PROPERTIES,
    CharTransformer,
    _asset,
    bits_per_char,
    char_properties,
    code_line_starts,
    codes_to_text,
    collect,
    generate,
    load_corpus,
    load_model,
    next_char_bits,
    ngram_bits_per_char,
    splice,
    spread_windows,
    steered_properties,
    text_to_codes,
    token_properties,
)
from sae_helpers.dashboards import truth_shares
from sae_helpers.scoring import best_direction_scores

from tools.make_model import MAX_SHARED, SHARED_LENGTH, shared_share, substrings

SOURCE = '''def f(x, y=3):  # hi
    if x:
        return "a" + f"{y}b"
    z = [1,
         2]
    match = b'\\n'
    """doc
    more"""
'''


def marked(source, name):
    """The characters of `source` that have property `name`, as one string."""
    return "".join(c for c, flag in zip(source, char_properties(source)[:, PROPERTIES.index(name)]) if flag)


def test_char_properties_label_each_kind_of_token():
    assert marked(SOURCE, "comment") == "# hi"
    assert marked(SOURCE, "keyword") == "defifreturn"
    assert marked(SOURCE, "name") == "fxyxzmatch"  # a soft keyword is a name
    assert marked(SOURCE, "number") == "312"
    # prefix and quotes belong to the string; an f-string is a string whole, on every Python
    assert marked(SOURCE, "string") == '"a"f"{y}b"b\'\\n\'"""doc\n    more"""'
    # the inside of brackets, not the brackets; a continuation line is inside
    assert marked(SOURCE, "bracket") == "x, y=31,\n         2"


def test_indentation_is_leading_whitespace_of_lines_that_start_statements():
    # not the continuation line inside [ ], not the line inside the docstring
    assert marked(SOURCE, "indentation") == " " * (4 + 8 + 4 + 4 + 4)
    assert marked("x = 1 \\\n    + 2\n", "indentation") == ""  # a backslash continuation
    assert marked("if x:\n\n    y\n", "indentation") == "    "  # a blank line has none
    # a backslash that ends a comment continues nothing; a form feed is whitespace; a line that
    # holds only a comment is indented too
    assert marked("if x:\n    y = 1  # C:\\\n    z = 2\n", "indentation") == " " * 8
    assert marked("\fx = 1\n", "indentation") == "\f"
    assert marked("if x:\n    # c\n    y\n", "indentation") == " " * 8


def test_source_without_a_final_newline_is_labelled_too():
    assert marked("x = (1)", "number") == "1" and marked("x = (1)", "bracket") == "1"
    assert char_properties("").shape == (0, 7)


def test_char_properties_reject_source_that_does_not_tokenize():
    with pytest.raises(ValueError, match="does not tokenize"):
        char_properties('x = """never closed\n')


def test_encode_and_decode_are_inverse_and_ascii_only():
    assert codes_to_text(text_to_codes("def f():\n\tpass")) == "def f():\n\tpass"
    with pytest.raises(ValueError, match="ASCII"):
        text_to_codes("café")


def test_the_stored_labels_are_what_char_properties_gives():
    with _asset(CORPUS_FILE).open("rb") as file, np.load(file, allow_pickle=False) as stored:
        starts, text, packed = stored["file_starts"], stored["text"], stored["properties"]
        for i in (0, len(starts) // 2, len(starts) - 2):  # three modules
            source = text[starts[i]:starts[i + 1]].tobytes().decode("ascii")
            labels = np.unpackbits(packed[starts[i]:starts[i + 1], None], axis=1, count=7, bitorder="little")
            np.testing.assert_array_equal(labels.astype(bool), char_properties(source))


def test_shared_share_counts_the_characters_inside_shared_strings():
    strings = substrings("abcdefgh", 4)
    assert shared_share("xxabcdxx", strings, 4) == 0.5
    assert shared_share("xbcdefgx", strings, 4) == 0.75  # three overlapping shared strings: bcde, cdef, defg
    assert shared_share("abcxefgx", strings, 4) == 0.0  # no 4 characters in a row are shared
    assert shared_share("", strings, 4) == 0.0


def test_corpus_holds_out_whole_modules_that_share_no_long_strings_with_training():
    corpus = load_corpus()
    assert len(corpus.train) == len(corpus.train_properties) > 3_000_000
    assert len(corpus.held_out) == len(corpus.held_out_properties) > 250_000
    assert 10 <= len(corpus.held_out_files) <= 30
    with _asset(CORPUS_FILE).open("rb") as file, np.load(file, allow_pickle=False) as stored:
        starts, text = stored["file_starts"], stored["text"].tobytes().decode("ascii")
        modules = [text[start:end] for start, end in zip(starts[:-1], starts[1:])]
        held_out, left_out = stored["held_out"], stored["left_out"]
    assert not (held_out & left_out).any()
    assert len(corpus.train) == sum(len(m) for m, h, o in zip(modules, held_out, left_out) if not h and not o)
    training = set().union(*(substrings(m, SHARED_LENGTH) for m, h, o in zip(modules, held_out, left_out)
                             if not h and not o))
    shares = [shared_share(m, training) for m, h in zip(modules, held_out) if h]
    assert max(shares) <= MAX_SHARED
    # the modules left out are the ones the rule drops, e.g. a codec table beside its siblings
    assert all(shared_share(m, training) > MAX_SHARED for m, o in zip(modules, left_out) if o)


@pytest.fixture(scope="module")
def model():
    return load_model(torch.float64)


def test_the_committed_model_beats_the_baselines_on_held_out_modules(model):
    corpus = load_corpus()
    tokens = corpus.held_out[: 16 * model.context]
    bits = bits_per_char(model, tokens)
    assert bits < 2.0 < ngram_bits_per_char(corpus.train, tokens, 2) < ngram_bits_per_char(corpus.train, tokens, 1)
    torch.manual_seed(0)
    untrained = CharTransformer(**model.config).double()
    assert bits_per_char(untrained, tokens) > 6  # about log2(128) = 7 bits


def test_bits_per_char_is_the_mean_next_character_cross_entropy(model):
    tokens = load_corpus().held_out[: 2 * model.context]
    rows = tokens.view(2, model.context)
    with torch.no_grad():
        logits = model(rows[:, :-1])
    expected = F.cross_entropy(logits.flatten(0, 1), rows[:, 1:].flatten()) / math.log(2)
    assert next_char_bits(model, tokens).shape == (2, model.context - 1)
    assert bits_per_char(model, tokens) == pytest.approx(float(expected), rel=1e-12)


def test_ngram_baselines_on_text_with_known_answers():
    train = text_to_codes("ab" * 500)
    assert ngram_bits_per_char(train, text_to_codes("abab"), 1) == pytest.approx(math.log2(1128 / 501), rel=1e-9)  # add-one: 1000 + 128
    # b follows each of the 500 a's, a each of the 499 b's before the end; add-one again
    expected = (2 * math.log2(628 / 501) + math.log2(627 / 500)) / 3
    assert ngram_bits_per_char(train, text_to_codes("abab"), 2) == pytest.approx(expected, rel=1e-9)
    with pytest.raises(ValueError, match="order"):
        ngram_bits_per_char(train, train, 3)


def test_the_model_rejects_bad_tokens(model):
    with pytest.raises(ValueError, match="int64"):
        model(torch.zeros(1, 4))
    with pytest.raises(ValueError, match="context"):
        model(torch.zeros(1, model.context + 1, dtype=torch.int64))


def test_collect_returns_each_block_output_and_leaves_no_hook(model):
    tokens = load_corpus().held_out[: 2 * model.context]
    first, last = collect(model, [model.blocks[0], model.blocks[-1]], tokens, progress=False)
    assert first.shape == last.shape == (2 * model.context, 128)
    with torch.no_grad():
        x = model.embed(tokens.view(2, -1)) + model.position(torch.arange(model.context))
        expected = model.blocks[0](x)
    torch.testing.assert_close(first, expected.flatten(0, 1))
    torch.testing.assert_close(collect(model, model.blocks[-1], tokens, progress=False), last)
    assert not any(block._forward_hooks for block in model.blocks)


def test_splice_replaces_the_output_only_inside_the_with(model):
    tokens = load_corpus().held_out[: model.context]
    clean = bits_per_char(model, tokens)
    with splice(model.blocks[1], lambda x: x):
        assert bits_per_char(model, tokens) == pytest.approx(clean, rel=1e-12)
    with splice(model.blocks[1], torch.zeros_like):
        assert bits_per_char(model, tokens) > clean + 3
    assert bits_per_char(model, tokens) == clean
    with pytest.raises(RuntimeError), splice(model.blocks[1], torch.zeros_like):
        raise RuntimeError
    assert not model.blocks[1]._forward_hooks


def test_generate_is_greedy_and_deterministic(model):
    text = generate(model, "def f(x):\n    return", 20)
    assert text.startswith("def f(x):\n    return") and len(text) == 20 + 20
    assert generate(model, "def f(x):\n    return", 20) == text


def test_generate_with_its_cache_picks_what_the_whole_model_picks(model):
    # each step reads one new character against the cached keys and values; without the cache,
    # the model reruns on the whole text: the same most likely next characters
    prompts = torch.randint(0, 128, (3, 9), generator=torch.Generator().manual_seed(0))
    tokens = prompts.clone()
    with torch.no_grad():
        for _ in range(12):
            tokens = torch.cat([tokens, model(tokens)[:, -1].argmax(dim=-1, keepdim=True)], dim=1)
    generated = generate(model, prompts, 12)
    torch.testing.assert_close(generated, tokens, rtol=0, atol=0)
    assert generate(model, codes_to_text(prompts[1]), 12) == codes_to_text(tokens[1])
    with pytest.raises(ValueError, match="fit in the context"):
        generate(model, prompts, model.context)


def test_the_cache_takes_one_position_after_the_first_call(model):
    from sae_helpers.language_model import KeyValueCache

    cache = KeyValueCache(model.context)
    with torch.no_grad():
        model(torch.zeros(1, 5, dtype=torch.int64), cache)
        assert cache.length == 5
        with pytest.raises(ValueError, match="one position"):
            model(torch.zeros(1, 2, dtype=torch.int64), cache)


def test_partial_labels_stop_where_tokenize_stops():
    source = 'x = (1 +  # open\n    f"a{b}" +\n'  # the bracket never closes
    with pytest.raises(ValueError, match="tokenize"):
        char_properties(source)
    labels = char_properties(source, partial=True)
    column = {name: i for i, name in enumerate(PROPERTIES)}
    assert labels[source.index("# open"), column["comment"]] and labels[source.index('f"'), column["string"]]
    assert labels[source.index("1"), column["bracket"]] and labels[source.index("1"), column["number"]]
    broken = "y = 1\nz = 'unterminated\n"
    try:  # Python 3.12's tokenizer stops at the unterminated string; 3.11's reads on
        labels = char_properties(broken, partial=True)
    except ValueError:
        pytest.fail("partial labelling must not raise")
    assert labels[0, column["name"]] and not labels[broken.index("'"):, column["string"]].any()
    np.testing.assert_array_equal(char_properties(SOURCE, partial=True), char_properties(SOURCE))


def test_collect_stops_after_the_last_module_it_reads_and_names_one_that_never_runs(model):
    tokens = torch.randint(0, 128, (2 * 16,), generator=torch.Generator().manual_seed(0))
    ran = []
    handle = model.blocks[3].register_forward_hook(lambda *args: ran.append(True))
    try:
        first, second = collect(model, [model.blocks[0], model.blocks[1]], tokens, context=16, progress=False)
    finally:
        handle.remove()
    assert not ran  # block 4 never ran
    with torch.no_grad():
        x = model.embed(tokens.view(2, 16)) + model.position(torch.arange(16))
        torch.testing.assert_close(first, model.blocks[0](x).flatten(0, 1))
        torch.testing.assert_close(second, model.blocks[1](model.blocks[0](x)).flatten(0, 1))
    with pytest.raises(ValueError, match="once per forward pass"):
        collect(model, torch.nn.Linear(2, 2), tokens, context=16, progress=False)


def test_steered_properties_adds_each_vector_to_every_row_of_its_prompts(model):
    prompts = torch.stack([text_to_codes("def f(x):\n    return"), text_to_codes("def g(y):\n    yield ")])
    additions = torch.zeros(3, 128, dtype=torch.float64)
    additions[1, 0] = 50.0  # a large push: the continuations change
    codes, labels = steered_properties(model, model.blocks[1], prompts, additions, 10)
    assert codes.shape == (3, 2, 10) and labels.shape == (3, 2, 10, len(PROPERTIES)) and labels.dtype == bool
    torch.testing.assert_close(codes[0], generate(model, prompts, 10)[:, -10:])  # adding 0 changes nothing
    torch.testing.assert_close(codes[2], codes[0])
    assert not torch.equal(codes[1], codes[0])
    whole = codes_to_text(torch.cat([prompts[1], codes[1, 1]]))
    np.testing.assert_array_equal(labels[1, 1], char_properties(whole, partial=True)[-10:])
    with pytest.raises(ValueError, match="additions must be"):
        steered_properties(model, model.blocks[1], prompts, additions[0], 10)


def test_code_line_starts_are_the_lines_of_module_level_code():
    source = 'import os\n    x = 1\n# c\n\ndef f(\n  a)\nclass C: """\nB\n"""\ny = 2\n'
    starts = code_line_starts(text_to_codes(source), char_properties(source), 3)
    assert [source[i:i + 3] for i in starts] == ["def", "cla", "y ="]  # not "B": inside a string
    assert list(code_line_starts(text_to_codes(source), char_properties(source), 7)) == list(starts[:2])


def test_a_token_has_the_properties_most_of_its_characters_have():
    properties = np.zeros((6, len(PROPERTIES)), dtype=bool)
    properties[[0, 1, 4], 0] = True  # tokens of 3, 1 and 2 characters: 2 of 3, 0 of 1, 1 of 2
    properties[3, 1] = True
    np.testing.assert_array_equal(token_properties([3, 1, 2], properties)[:, :2],
                                  [[True, False], [False, True], [False, False]])
    for lengths in ([3, 1, 1], [3, 0, 3], []):
        with pytest.raises(ValueError, match="token_lengths"):
            token_properties(lengths, properties)


def test_spread_windows_come_from_across_the_text():
    tokens = torch.arange(1000)
    properties = np.arange(1000)[:, None] % 2 == 0
    picked, labels = spread_windows(tokens, properties, 4, 10)
    assert picked.tolist()[:10] == list(range(10)) and picked.tolist()[-10:] == list(range(990, 1000))
    np.testing.assert_array_equal(labels[:, 0], picked.numpy() % 2 == 0)
    with pytest.raises(ValueError, match="n_windows"):
        spread_windows(tokens, properties, 101, 10)


def test_hooks_work_on_a_tiny_random_gpt2():
    # the loading and hooking code of notebook 08's optional GPT-2 section, offline
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=100, n_positions=32, n_embd=32, n_layer=2, n_head=2)
    gpt2 = transformers.GPT2LMHeadModel(config).eval()
    tokens = torch.randint(0, 100, (64,), generator=torch.Generator().manual_seed(1))
    block = gpt2.transformer.h[0]  # returns a tuple: collect and splice take its first element
    activations = collect(gpt2, block, tokens, batch_size=2, context=16, progress=False)
    assert activations.shape == (64, 32)
    with torch.no_grad():
        hidden = gpt2(tokens.view(4, 16), output_hidden_states=True).hidden_states[1]
    torch.testing.assert_close(activations, hidden.flatten(0, 1))
    clean = bits_per_char(gpt2, tokens, context=16)
    assert 5 < clean < 8  # a random model: about log2(100) = 6.6 bits per token
    with splice(block, torch.zeros_like):
        assert bits_per_char(gpt2, tokens, context=16) != pytest.approx(clean)
    assert bits_per_char(gpt2, tokens, context=16) == clean


def test_notebook_08s_gpt2_cell_runs_on_a_tiny_random_gpt2(monkeypatch, capsys):
    # the whole optional cell, offline: `transformers` gives a tiny random GPT-2 (8 blocks of 32)
    # and a tokenizer with one token per character instead of downloading GPT-2 small
    import ast
    import math
    import sys
    import types
    transformers = pytest.importorskip("transformers")
    from sae_helpers import train_sae
    from sae_helpers.model import STANDARD, SparseAutoencoder, TopK
    from tests.notebook_code import NOTEBOOKS

    class CharacterTokenizer:
        def __call__(self, text):
            return {"input_ids": text_to_codes(text).tolist()}

        def decode(self, ids):
            return codes_to_text(ids)

    config, model_class = transformers.GPT2Config, transformers.GPT2LMHeadModel  # before the fake replaces them

    def tiny_gpt2(name):
        torch.manual_seed(0)
        return model_class(config(vocab_size=128, n_positions=128, n_embd=32, n_layer=8, n_head=2))

    fake = types.SimpleNamespace(GPT2LMHeadModel=types.SimpleNamespace(from_pretrained=tiny_gpt2),
                                 AutoTokenizer=types.SimpleNamespace(from_pretrained=lambda name: CharacterTokenizer()))
    monkeypatch.setitem(sys.modules, "transformers", fake)
    tree = ast.parse((NOTEBOOKS / "08_language_model.py").read_text())
    cell = next(node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "RUN_GPT2")
    corpus = load_corpus()
    corpus = corpus._replace(train=corpus.train[:20_000], held_out=corpus.held_out[:4_000])
    namespace = dict(math=math, torch=torch, DEVICE=torch.device("cpu"), corpus=corpus, codes_to_text=codes_to_text,
                     collect=collect, splice=splice, bits_per_char=bits_per_char, train_sae=train_sae,
                     SparseAutoencoder=SparseAutoencoder, TopK=TopK, STANDARD=STANDARD, PROPERTIES=PROPERTIES,
                     comment=PROPERTIES.index("comment"), token_properties=token_properties,
                     best_direction_scores=best_direction_scores, truth_shares=truth_shares)
    exec(compile(ast.Module(body=cell.body, type_ignores=[]), "08 GPT-2 cell", "exec"), namespace)
    printed = capsys.readouterr().out
    bits = namespace["gpt2_bits"]
    assert set(bits) == {"model", "SAE", "zero", "mean"} and "against zero-ablation" in printed
    assert 5 < bits["model"] < 9  # a random model: about log2(128) = 7 bits per token
    assert namespace["gpt2_latents"].shape == (len(namespace["gpt2_train"]) // 128 * 128, 128)
    assert len(printed.splitlines()) == 3  # the losses, the comment latent's truth line, its top contexts
    truth = namespace["gpt2_truth"]  # one token per character here: the characters' own labels
    np.testing.assert_array_equal(truth, corpus.train_properties[: len(truth)])
    assert "GPT-2's comment latent" in printed and "comment" in printed.splitlines()[1]


def test_load_corpus_labels_are_char_properties_of_the_first_training_module():
    corpus = load_corpus()
    with _asset(CORPUS_FILE).open("rb") as file, np.load(file, allow_pickle=False) as stored:
        starts, held, left = stored["file_starts"], stored["held_out"], stored["left_out"]
    i = int(np.flatnonzero(~held & ~left)[0])
    source = "".join(map(chr, corpus.train[: starts[i + 1] - starts[i]].tolist()))
    np.testing.assert_array_equal(corpus.train_properties[: len(source)], char_properties(source))
    j = int(np.flatnonzero(held)[0])
    source = "".join(map(chr, corpus.held_out[: starts[j + 1] - starts[j]].tolist()))
    np.testing.assert_array_equal(corpus.held_out_properties[: len(source)], char_properties(source))


def test_spread_windows_round_to_the_nearest_window():
    picked, _ = spread_windows(torch.arange(110), np.zeros((110, 7), bool), 4, 10)  # rows 0, 3.33, 6.67, 10
    assert picked[::10].tolist() == [0, 30, 70, 100]


def test_bigram_normalises_over_the_next_character():
    # pairs aa twice, ab once: P(b | a) = (1 + 1) / (3 + 128)
    assert ngram_bits_per_char(text_to_codes("aaab"), text_to_codes("ab"), 2) == pytest.approx(math.log2(131 / 2))


def test_shared_share_and_substrings_reach_the_last_character():
    strings = substrings("abcdefgh", 4)
    assert "efgh" in strings and len(strings) == 5
    assert shared_share("xxxxabcd", strings, 4) == 0.5


def test_held_out_flags_follow_the_rule(tmp_path, monkeypatch):
    import sysconfig
    import tools.make_model as mm
    stdlib = tmp_path / "lib"
    stdlib.mkdir()
    rng = np.random.default_rng(1)
    bodies = ["".join(f"x{n}_{k:03d} = {int(rng.integers(1e9)):010d}\n" for k in range(120)) for n in range(6)]
    names = [f"m{n}.py" for n in range(6)]
    order = np.random.default_rng(0).permutation(6)  # make_corpus's order of the sorted paths
    bodies[order[2]] = bodies[order[4]]  # the third module copies a training module
    for name, body in zip(names, bodies):
        (stdlib / name).write_text(body)
    monkeypatch.setattr(sysconfig, "get_paths", lambda: {"stdlib": str(stdlib)})
    monkeypatch.setattr(mm, "ASSETS", tmp_path / "assets")
    monkeypatch.setattr(mm, "CORPUS_BYTES", 10**9)
    size = len(bodies[0])
    monkeypatch.setattr(mm, "HELD_OUT_BYTES", 2 * size + 1)  # starts 0, size, 2 size are below it: three modules
    mm.make_corpus()
    stored = np.load(tmp_path / "assets" / CORPUS_FILE)
    assert stored["held_out"].tolist() == [True, True, False, False, False, False]
    assert stored["left_out"].tolist() == [False, False, True, False, False, False]
