"""The numeric environment behind the stored notebook outputs, and where it can hold.

`tools/numeric.env` declares it: one variable a line, its reason in the comment above it. Each
pins the code path of a library that picks its kernels by CPU (MKL, ATen, oneDNN, OpenBLAS,
NumPy) or the thread count, so that the digits a notebook prints are the same on every x86-64-v3
CPU (AVX2, FMA), Intel or AMD. The libraries read these variables when they load, so they are set
before any kernel starts: by `make sync` (tools/nbtools.py) and by every pytest run (this module
is a pytest plugin, loaded from pyproject.toml's addopts). Learners never need them.

Where the stored digits cannot hold (not Linux on x86-64-v3, versions other than
constraints.txt's, another BLAS), strict nbval becomes nbval's lax mode: every cell still runs
and every `assert` still holds, but printed digits are not compared, and pytest says why in one
line.
"""

import os
import platform
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENV_FILE = ROOT / "tools" / "numeric.env"
CONSTRAINTS = ROOT / "constraints.txt"
PINNED_PACKAGES = ("torch", "numpy", "scipy", "scikit-learn")


def declared():
    """{variable: value} from tools/numeric.env (comment lines and blank lines skipped)."""
    lines = ENV_FILE.read_text().splitlines()
    pairs = [line.split("=", 1) for line in lines if line.strip() and not line.startswith("#")]
    return {name.strip(): value.strip() for name, value in pairs}


def cpu_flags():
    """The instruction-set extensions Linux reports for this CPU ({"avx2", "fma", ...})."""
    lines = Path("/proc/cpuinfo").read_text().splitlines()
    return next((set(line.split(":", 1)[1].split()) for line in lines if line.startswith("flags")), set())


# x86-64-v3, the level NumPy's AVX2 loops and OpenBLAS's Haswell kernels need (abm is LZCNT)
X86_64_V3 = {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "movbe", "abm"}


def platform_mismatch():
    """Why this machine cannot reproduce the stored digits, or None. Loads no numeric library:
    on a CPU without AVX2, OpenBLAS told to run its Haswell kernels would crash."""
    if platform.system() != "Linux" or platform.machine() != "x86_64":
        return f"{platform.system()} on {platform.machine()}, not Linux on x86-64"
    missing = X86_64_V3 - cpu_flags()
    if missing:
        return "this CPU lacks " + ", ".join(sorted(missing)) + " (x86-64-v3)"
    lines = CONSTRAINTS.read_text().splitlines()
    pinned = dict(line.split("==") for line in lines if line.count("==") == 1 and not line.startswith("#"))
    for name in PINNED_PACKAGES:
        try:
            here = metadata.version(name).split("+")[0]
        except metadata.PackageNotFoundError:
            return f"{name} is not installed"
        if here != pinned[name]:
            return f"{name} {here} here, the outputs were stored with {pinned[name]} (constraints.txt)"
    return None


def pin():
    """Set the declared environment in this process, for itself and every kernel it starts, where
    the stored digits can hold. Returns None then, else the reason they cannot."""
    reason = platform_mismatch()
    if reason is not None:
        return reason  # nothing is set
    os.environ.update(declared())
    import numpy  # after the update: each library reads its variables when it loads
    import scipy
    import torch

    if not torch.backends.mkl.is_available():
        return "torch is built without MKL"
    for package in (numpy, scipy):
        blas = package.__config__.CONFIG["Build Dependencies"]["blas"]["name"]
        if blas != "scipy-openblas":
            return f"{package.__name__} is built with {blas}, not OpenBLAS"
    return None


REASON = None  # why the stored digits cannot hold here, set when pytest starts


def pytest_load_initial_conftests(early_config, parser, args):
    global REASON
    REASON = pin()


def strict_nbval(config):
    return getattr(config.option, "nbval", False)  # False also where nbval is not installed


def pytest_configure(config):
    if REASON and strict_nbval(config):
        if os.environ.get("STRICT_DIGITS") == "required":  # make test-kernels, whose point they are
            raise pytest.UsageError(f"strict nbval was required, but the stored digits cannot hold here: {REASON}")
        config.option.nbval_lax = True


def pytest_report_header(config):
    if not strict_nbval(config):
        return None
    if REASON:
        return f"nbval: lax, stored digits not compared ({REASON}); every cell runs, every assert holds"
    return "nbval: strict, under tools/numeric.env: " + " ".join(f"{k}={v}" for k, v in declared().items())


def pytest_terminal_summary(terminalreporter, config):
    if REASON and strict_nbval(config):
        terminalreporter.write_line(f"nbval ran lax: stored digits not compared ({REASON})", yellow=True)
