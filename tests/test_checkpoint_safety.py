"""Results folders are data, not code: no checkpoint in one is ever loaded with pickle.

A crafted ``.pt`` file whose pickle would run code (here: create a file) is planted in
the folder a tiny interrupted run left; ``bench run`` on that folder must refuse it
with one line (exit 2) without unpickling it, and ``--on-change restart`` must move
the cell aside and run it afresh.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from conftest import tiny_spec_text

GENERATOR = """
[generators.dg2gan]
preset = "tiny"
max_steps = 8
"""
CELL = Path("cells") / "crackforest" / "dg2gan" / "seed0"


class Planted:
    """Unpickling it opens ``path`` for writing: a stand-in for any code a pickle can run."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def _spec_text() -> str:
    return tiny_spec_text(generators=GENERATOR, fakes=8).replace("seeds = 1", "seeds = 1\nbaseline = false")


def _bench(bench, *args: str) -> tuple[int | str, str]:
    """``bench`` that reports an escaping exception as a result (old code fails in many ways)."""
    try:
        code, _, err = bench(*args)
    except Exception as exc:  # noqa: BLE001 - any escape is a failure the assertions name
        return f"raised {type(exc).__name__}", str(exc)
    return code, err


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory) -> tuple[Path, Path]:
    """A run stopped by a failed write of the classifier's ``result.json``.

    Its cell holds every kind of ``.pt`` a rerun loads: ``generator.pt`` (training
    done) and ``classify-resnet34/checkpoint.pt`` (classifier interrupted).
    """
    from dg2bench.cli import main

    folder = tmp_path_factory.mktemp("interrupted")
    spec, results = folder / "spec.toml", folder / "results"
    spec.write_text(_spec_text())
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DG2BENCH_FAIL_WRITE", "result.json")
        with pytest.raises(SystemExit) as exit_info:
            main(["run", str(spec), "--results", str(results)])
    assert exit_info.value.code == 2
    cell = results / CELL
    assert (cell / "generator.pt").exists() and (cell / "classify-resnet34" / "checkpoint.pt").exists()
    assert not (cell / "record.json").exists()
    return spec, results


def _copy_and_plant(interrupted: tuple[Path, Path], tmp_path: Path, planted: str) -> tuple[Path, Path, Path]:
    """A copy of the interrupted folder with a crafted pickle at ``planted`` (below the cell).

    For ``checkpoint.pt`` the generator's finished stage is removed, so the rerun resumes
    generator training from the planted checkpoint.
    """
    spec, results = interrupted
    copy = tmp_path / "results"
    shutil.copytree(results, copy)
    cell = copy / CELL
    if planted == "checkpoint.pt":
        (cell / "train.json").unlink()
        (cell / "generator.pt").unlink()
    marker = tmp_path / "pwned"
    torch.save({"step": 2, "history": [], "rng": Planted(marker)}, cell / planted)
    return spec, copy, marker


@pytest.mark.slow
@pytest.mark.parametrize("planted", ["checkpoint.pt", "generator.pt", "classify-resnet34/checkpoint.pt"])
def test_a_planted_pickle_is_refused_with_one_line_and_never_unpickled(bench, interrupted, tmp_path, planted):
    spec, results, marker = _copy_and_plant(interrupted, tmp_path, planted)
    code, err = _bench(bench, "run", str(spec), "--results", str(results))
    assert not marker.exists(), "bench run unpickled the planted file: its code ran"
    assert code == 2, err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"error: {results / CELL / planted}: ") and "pickle" in lines[0], lines[0]
    assert "--on-change restart" in lines[0], lines[0]
    assert not (results / CELL / "record.json").exists(), "the refused cell must not run"


@pytest.mark.slow
def test_on_change_restart_moves_a_cell_with_a_planted_pickle_aside_and_runs_it_afresh(bench, interrupted, tmp_path):
    spec, results, marker = _copy_and_plant(interrupted, tmp_path, "checkpoint.pt")
    code, err = _bench(bench, "run", str(spec), "--results", str(results), "--on-change", "restart")
    assert not marker.exists(), "bench run unpickled the planted file: its code ran"
    assert code == 0, err
    assert f"{CELL.relative_to('cells').as_posix()}: checkpoint.pt needs pickle" in err, err
    old = list((results / "superseded" / CELL.relative_to("cells")).iterdir())
    assert len(old) == 1 and (old[0] / "checkpoint.pt").exists(), "nothing is deleted"
    record = (results / CELL / "record.json").read_text()
    assert '"status": "complete"' in record and '"resumed_from_step": 0' in record
