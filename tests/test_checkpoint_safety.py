"""Results folders are data, not code: no checkpoint in one is ever loaded with pickle.

A crafted ``.pt`` file whose pickle would run code (here: create a file) is planted in
the folder a tiny interrupted run left; ``bench run`` on that folder must refuse it
with one line (exit 2) without unpickling it, and ``--on-change restart`` must move
the cell aside and run it afresh.
"""

from __future__ import annotations

import collections
import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from dg2bench.cli import FAILED_CELLS_EXIT
from dg2bench.contracts.contract import check_state
from dg2bench.contracts.trainable import TrainPlan
from dg2bench.errors import PluginContractError, UnsafeCheckpointError
from dg2bench.run.training import ImageBanks, capture_rng_state, restore_rng_state, train

from scalar_generator import ScalarGenerator

from helpers import tiny_spec_text

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


@pytest.mark.slow
def test_retry_failed_checks_the_failed_cell_it_reruns_and_a_skipped_cell_is_not_read(bench, interrupted, tmp_path):
    spec, results, marker = _copy_and_plant(interrupted, tmp_path, "generator.pt")
    (results / CELL / "record.json").write_text(json.dumps({"cell": "crackforest/dg2gan/seed0", "status": "failed",
                                                             "reason": "an earlier failure"}))
    code, err = _bench(bench, "run", str(spec), "--results", str(results))
    # Skipped (its files are not loaded, so not checked); still failed, so exit 3.
    assert code == FAILED_CELLS_EXIT and "pickle" not in err, err
    code, err = _bench(bench, "run", str(spec), "--results", str(results), "--retry-failed")
    assert not marker.exists()
    assert code == 2 and err.startswith(f"error: {results / CELL / 'generator.pt'}: needs a full pickle load"), err


# --- the loop's own guard, RNG states and plugin state, without a run -----------------------


def _scalar_plan(steps: int) -> TrainPlan:
    return TrainPlan(image_size=8, total_steps=steps, steps_per_epoch=steps, epochs=1, batch_size=2,
                     device=torch.device("cpu"))


def _scalar_banks() -> ImageBanks:
    return ImageBanks({"defect": torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8)})


def test_the_training_loop_loads_checkpoints_weights_only_whoever_calls_it(tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"model": Planted(marker), "step": 1}, tmp_path / "checkpoint.pt")
    generator = ScalarGenerator(ScalarGenerator.Hyperparameters(), 8)
    with pytest.raises(UnsafeCheckpointError) as refused:
        train(generator, _scalar_banks(), _scalar_plan(3), seed=0, checkpoint_path=tmp_path / "checkpoint.pt")
    assert not marker.exists()
    message = str(refused.value)
    assert "\n" not in message and "it names io.open" in message and "--on-change restart" in message


def test_rng_states_survive_a_weights_only_round_trip_exactly(tmp_path):
    random.seed(3)
    np.random.seed(4)
    random.gauss(0, 1), np.random.standard_normal()   # leave a cached Gaussian in both
    torch.save(capture_rng_state(), tmp_path / "rng.pt")
    expected = (random.random(), random.gauss(0, 1), np.random.standard_normal(3).tolist(), torch.rand(3))
    random.seed(99), np.random.seed(99), torch.manual_seed(99)
    restore_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True))
    again = (random.random(), random.gauss(0, 1), np.random.standard_normal(3).tolist(), torch.rand(3))
    assert expected[:3] == again[:3] and torch.equal(expected[3], again[3])


class NumpyStateGenerator(ScalarGenerator):
    """Keeps a numpy array in its extra state: a checkpoint of it would need pickle."""

    name = "numpystate"

    def extra_state(self):
        return {**super().extra_state(), "counts": np.zeros(3)}


def test_a_plugin_state_that_is_not_plain_data_breaks_rule_state_at_the_first_checkpoint(tmp_path):
    generator = NumpyStateGenerator(ScalarGenerator.Hyperparameters(), 8)
    with pytest.raises(PluginContractError) as broken:
        train(generator, _scalar_banks(), _scalar_plan(4), seed=0, checkpoint_path=tmp_path / "checkpoint.pt",
              checkpoint_every=2, log_every=2)
    assert broken.value.rule == "state"
    assert "state_dict()['extra']['counts'] is a numpy.ndarray" in str(broken.value)
    assert not (tmp_path / "checkpoint.pt").exists()


@pytest.mark.parametrize("state", [{"a": [1, 2.5, "x", None, True, (torch.zeros(2), torch.float32)]},
                                   collections.OrderedDict(w=torch.ones(1)), {"size": torch.Size([2, 3])}])
def test_plain_state_passes_rule_state(state):
    check_state(ScalarGenerator, state)


@pytest.mark.parametrize("state, place", [({"x": np.float64(1.0)}, "state_dict()['x'] is a numpy.float64"),
                                         ({"p": Path("a")}, "state_dict()['p'] is a pathlib."),
                                         ({1.5j: 0}, "a key of state_dict() is a builtins.complex")])
def test_state_that_needs_pickle_breaks_rule_state(state, place):
    with pytest.raises(PluginContractError, match="rule state") as broken:
        check_state(ScalarGenerator, state)
    assert place in str(broken.value)
