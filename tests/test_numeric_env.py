"""The numeric environment of the stored outputs (tools/numeric.env, tools/numeric_env.py): pytest
sets it before anything loads, it pins what it says, and where the stored digits cannot hold,
nbval runs lax: the notebook runs and its asserts hold, the digits are not compared."""

import os
import subprocess
import sys

import nbformat
import pytest
import torch

from tools import numeric_env

ROOT = numeric_env.ROOT
HOLDS = numeric_env.platform_mismatch() is None


def test_every_variable_has_its_reason_above_it():
    lines = numeric_env.ENV_FILE.read_text().splitlines()
    for i, line in enumerate(lines):
        if line and not line.startswith("#"):
            above = next(previous for previous in reversed(lines[:i]) if "=" not in previous or previous.startswith("#"))
            assert above.startswith("# "), f"{line}: say why above it"
    assert set(numeric_env.declared()) >= {"MKL_CBWR", "ATEN_CPU_CAPABILITY", "OMP_NUM_THREADS"}


@pytest.mark.skipif(not HOLDS, reason=str(numeric_env.platform_mismatch()))
def test_pytest_pinned_the_environment_before_torch_loaded():
    for name, value in numeric_env.declared().items():
        assert os.environ[name] == value
    assert torch.backends.cpu.get_cpu_capability() == "AVX2"
    assert torch.get_num_threads() == int(numeric_env.declared()["OMP_NUM_THREADS"])


def test_other_platforms_are_named(monkeypatch):
    monkeypatch.setattr(numeric_env.platform, "machine", lambda: "aarch64")
    assert "aarch64" in numeric_env.platform_mismatch()
    monkeypatch.setattr(numeric_env.platform, "system", lambda: "Darwin")
    assert numeric_env.platform_mismatch() == "Darwin on aarch64, not Linux on x86-64"


@pytest.mark.skipif(not HOLDS, reason=str(numeric_env.platform_mismatch()))
def test_a_cpu_without_avx2_or_other_versions_are_named(monkeypatch):
    monkeypatch.setattr(numeric_env, "cpu_flags", lambda: {"sse2", "avx"})
    assert numeric_env.platform_mismatch() == "this CPU has no AVX2"
    monkeypatch.undo()
    monkeypatch.setattr(numeric_env.metadata, "version", lambda name: "1.0.0")
    assert numeric_env.platform_mismatch().startswith("torch 1.0.0 here, the outputs were stored with ")


def run_nbval(tmp_path, source, stored, arm=False):
    """Strict nbval of a one-cell notebook whose stored output is `stored`, as a separate pytest
    (on a pretended ARM CPU when `arm`); returns (exit code, what it printed)."""
    cell = nbformat.v4.new_code_cell(source, execution_count=1,
                                     outputs=[nbformat.v4.new_output("stream", name="stdout", text=stored)])
    path = tmp_path / "one_cell.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), path)
    pretend = "import platform; platform.machine = lambda: 'aarch64'; " if arm else ""
    code = f"{pretend}import sys, pytest; sys.exit(pytest.main(sys.argv[1:]))"
    run = subprocess.run([sys.executable, "-c", code, str(path), "--nbval", "--nbval-current-env",
                          "-c", str(ROOT / "pyproject.toml"), "-p", "no:cacheprovider"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    return run.returncode, run.stdout


@pytest.mark.skipif(not HOLDS, reason=str(numeric_env.platform_mismatch()))
def test_strict_nbval_compares_digits_where_they_hold(tmp_path):
    code, out = run_nbval(tmp_path, "print(0.00216)", "0.00217\n")
    assert code == 1 and "nbval: strict, under tools/numeric.env" in out


def test_elsewhere_nbval_runs_lax_and_says_why_in_one_line(tmp_path):
    code, out = run_nbval(tmp_path, "print(0.00216)", "0.00217\n", arm=True)
    assert code == 0, out
    assert "nbval ran lax: stored digits not compared (Linux on aarch64, not Linux on x86-64)" in out


def test_elsewhere_every_assert_still_holds(tmp_path):
    code, out = run_nbval(tmp_path, "assert 0.00216 > 0.01, 'the SAE beats chance'", "", arm=True)
    assert code == 1 and "the SAE beats chance" in out
