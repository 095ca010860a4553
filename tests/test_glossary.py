"""GLOSSARY.md against the notebooks: every abbreviation and every word of the field that a
notebook's text uses is defined there, each word of the field is shown in a notebook, and every
notebook links the glossary."""

import re
from pathlib import Path

import pytest

from tools.nbtools import read_source
from tools.site import GLOSSARY_LINK

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
GLOSSARY = (ROOT / "GLOSSARY.md").read_text()
# every bold span is a definition
DEFINED = " ".join(re.sub(r"\s+", " ", term) for term in re.findall(r"\*\*(.+?)\*\*", GLOSSARY, flags=re.S))
# the field's words, each defined in the glossary and shown where a notebook first needs it
FIELD_WORDS = ["linear representation hypothesis", "superposition", "polysemantic", "monosemantic",
               "privileged basis", "feature splitting", "tiling", "shrinkage", "dead latent", "absorption",
               "dictionary learning", "amortis", "control", "null", "probe", "dashboard"]
# capitalised names that are not terms of the course: hardware, software, tooling, organisations, units
NOT_TERMS = {"ASCII", "CDF", "CI", "CPU", "CPython", "GPT", "GPU", "IDLE", "LayerNorm", "MB", "MLP", "NaN", "OpenAI",
             "PSF", "PyTorch", "README", "SAELens", "TP"}


def prose(source):
    """A notebook's markdown on one line, without code, inline code or link targets."""
    text = "\n".join(c.source for c in read_source(source).cells if c.cell_type == "markdown")
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"`[^`]*`|\]\([^)]*\)", "", text))


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_every_abbreviation_a_notebook_uses_is_defined(source):
    used = {re.sub(r"(?<=[A-Z])s$", "", word)  # SAEs, CPUs
            for word in re.findall(r"\b[A-Za-z]*[A-Z][A-Za-z]*[A-Z0-9]\w*\b|\b[LF][01]\b", prose(source))}
    undefined = {word for word in used if word not in DEFINED} - NOT_TERMS
    assert not undefined, f"define in GLOSSARY.md (in bold): {sorted(undefined)}"


@pytest.mark.parametrize("word", FIELD_WORDS)
def test_each_word_of_the_field_is_defined_and_shown_in_a_notebook(word):
    assert word in DEFINED.lower(), f"GLOSSARY.md does not define {word!r} in bold"
    assert any(word in prose(source).lower() for source in SOURCES), f"no notebook says {word!r}"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_every_notebook_links_the_glossary_at_the_top(source):
    assert GLOSSARY_LINK in read_source(source).cells[0].source


def test_each_entry_says_where_the_notebooks_show_it():
    entries = re.findall(r"^- \*\*.*?(?=^- |^#|\Z)", GLOSSARY, flags=re.M | re.S)
    assert len(entries) > 40
    for entry in entries:
        assert re.search(r"\(\d\d(, \d\d|-\d\d| on)*[,)]", entry), f"an entry without its notebooks: {entry[:60]}"
