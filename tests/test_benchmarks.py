"""The benchmark suite in its quick mode, so that it cannot rot (its numbers are not checked:
performance is reported by `make bench`, not asserted by tests)."""

import json

import pytest

from benchmarks import run as benchmarks

EXPECTED = [
    "warm-up: first notebook run (02_defining_the_sae)",
    "notebook 02_defining_the_sae: headless execution",
    "lecture toy: lecture-style loop",
    "lecture toy: train_sae",
    "lecture toy: speed-up of train_sae",
    "lecture toy: largest MSE difference",
    "4 seeds: sequential train_sae",
    "4 seeds: one SAEBatch",
    "4 seeds: speed-up of batching",
    "explorer: retrain + redraw (lecture toy)",
    "explorer: mixing redraw",
    "explorer: retrain + redraw (superposition)",
    "explorer: retrain + redraw (toy model)",
    "explorer: retrain + redraw (dead latents)",
    "superposition TopK 32 -> 128: throughput",
    "superposition TopK 64 -> 256: throughput",
    "TopK 32 -> 128, project: throughput",
    "TopK 32 -> 128, project: MCC",
    "TopK 32 -> 128, SAELens: throughput",
    "TopK 32 -> 128, SAELens: MCC",
    "TopK 32 -> 128, SAELens: project / SAELens throughput",
]


def test_quick_benchmark_table_has_every_row(tmp_path):
    rows = benchmarks.main(["--quick", "--json", str(tmp_path / "bench.json")])
    assert [row["name"] for row in rows] == EXPECTED
    assert all(row["value"] > 0 for row in rows if row["unit"] in ("s", "samples/s"))
    skipped = [row for row in rows if row["value"] is None]
    assert all(row["name"].startswith("TopK 32 -> 128, SAELens") for row in skipped), "only SAELens may skip"
    assert json.loads((tmp_path / "bench.json").read_text())["rows"] == rows
    values = {row["name"]: row["value"] for row in rows}
    assert values["lecture toy: largest MSE difference"] == 0, "train_sae is the lecture's loop"
    # each ratio is the ratio of the two rows it names, not a value measured apart
    assert values["lecture toy: speed-up of train_sae"] == pytest.approx(
        values["lecture toy: lecture-style loop"] / values["lecture toy: train_sae"])
    assert values["4 seeds: speed-up of batching"] == pytest.approx(
        values["4 seeds: sequential train_sae"] / values["4 seeds: one SAEBatch"])
