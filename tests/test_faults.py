"""Faults: kills at every stage, Ctrl-C and SIGTERM, changed configs, locks, full disks.

Each kill test starts ``bench run`` as a subprocess with ``DG2BENCH_STALL_AT`` naming a
point (see :mod:`dg2bench.runtime.fault_points`), waits until the process has reached it,
kills it with SIGKILL, reruns, and checks that the run completes, that stages finished
before the kill are not redone, that no file in the results folder is half-written,
and that the final records equal an uninterrupted run's exactly (CPU, same seed).

CI runs a small set of kill points; ``DG2BENCH_FAULTS=full`` runs every one.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image

from helpers import tiny_spec_text

pytestmark = pytest.mark.faults

GENERATOR = """
[generators.dg2gan]
preset = "tiny"
max_steps = 8
"""
SMALL_POINTS = ["train:5", "generate", "score", "classify-resnet34:3", "write:record.json", "write:checkpoint.pt"]
FULL_POINTS = SMALL_POINTS + ["train:1", "classify", "write:fakes.json", "write:train.json", "write:generator.pt",
                              "write:result.json", "write:config.json"]
POINTS = FULL_POINTS if os.environ.get("DG2BENCH_FAULTS") == "full" else SMALL_POINTS
#: Points at or after the fakes: the cell's quality score (Inception) is part of what a kill there
#: may damage or redo, so their runs score quality. Runs killed earlier, and the tests whose point
#: is a lock, a signal, a refusal or a failed write before scoring, skip it (no Inception to load).
SCORED_POINTS = {"generate", "write:fakes.json", "score", "classify", "classify-resnet34:3", "write:result.json",
                 "write:record.json"}
#: Record keys that measure time or memory, not results: they differ between runs.
VOLATILE = re.compile(r"seconds|per_second|wall|peak|rss|resumed_from_step|date|started")


def _spec_text(*, quality: bool = False, **changes: str) -> str:
    text = tiny_spec_text(generators=GENERATOR, quality=quality, fakes=8).replace("seeds = 1",
                                                                                 "seeds = 1\nbaseline = false")
    for old, new in changes.items():
        text = text.replace(old, new)
    return text


def _bench_command(spec: Path, results: Path, *extra: str) -> list[str]:
    return [sys.executable, "-c", "from dg2bench.cli import main; main()", "run", str(spec), "--results", str(results),
            *extra]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DG2BENCH_")}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


def _run(spec: Path, results: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(_bench_command(spec, results, *extra), env=env or _env(), capture_output=True, text=True,
                          timeout=600)


def _start_stalled(spec: Path, results: Path, point: str, tmp_path: Path, **env: str) -> subprocess.Popen:
    """``bench run`` stalled at ``point`` (returns once it is there); ``env``: more variables."""
    ready = tmp_path / f"ready-{re.sub(r'[^a-z0-9]', '_', point)}"
    ready.unlink(missing_ok=True)
    process = subprocess.Popen(_bench_command(spec, results), env=_env(DG2BENCH_STALL_AT=point,
                                                                       DG2BENCH_STALL_READY=str(ready), **env),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not ready.exists():
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"bench run ended (exit {process.returncode}) before reaching {point}:\n{out}\n{err}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"bench run did not reach {point} within 300 s")
        time.sleep(0.1)
    return process


def _kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)


def _science(value: Any) -> Any:
    """A record without its timings and memory figures: what must be equal between runs."""
    if isinstance(value, dict):
        return {k: _science(v) for k, v in value.items() if not VOLATILE.search(k)}
    if isinstance(value, list):
        return [_science(v) for v in value]
    return value


def _same(a: Any, b: Any) -> bool:
    """Equal nested containers of tensors (bit for bit) and plain values."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return isinstance(b, list | tuple) and len(a) == len(b) and all(map(_same, a, b))
    return a == b


def _records(results: Path) -> dict[str, Any]:
    return {str(p.relative_to(results)): _science(json.loads(p.read_text()))
            for p in sorted((results / "cells").rglob("record.json"))}


def _snapshot(results: Path) -> dict[str, tuple[int, int]]:
    """Finished stage files (done-files, weights, fakes) with their mtime and size."""
    names = {"train.json", "generator.pt", "fakes.json", "result.json", "quality.json", "record.json"}
    return {str(p): (p.stat().st_mtime_ns, p.stat().st_size) for p in (results / "cells").rglob("*")
            if p.name in names or p.suffix == ".png"}


def _assert_nothing_half_written(results: Path) -> None:
    leftovers = [p for p in results.rglob("*.tmp")]
    assert not leftovers, leftovers
    for path in results.rglob("*"):
        if path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".pt":
            torch.load(path, map_location="cpu", weights_only=True)   # results folders hold plain data only
        elif path.suffix == ".png":
            with Image.open(path) as image:
                image.load()


def _reference(tmp_path_factory, quality: bool) -> tuple[Path, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("reference-scored" if quality else "reference")
    spec = folder / "spec.toml"
    spec.write_text(_spec_text(quality=quality))
    done = _run(spec, folder / "results")
    assert done.returncode == 0, done.stderr
    return folder / "results", _records(folder / "results")


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, dict[str, Any]]:
    """An uninterrupted run's folder and records (no quality score)."""
    return _reference(tmp_path_factory, quality=False)


@pytest.fixture(scope="module")
def scored_reference(tmp_path_factory) -> tuple[Path, dict[str, Any]]:
    """An uninterrupted run's folder and records, quality scored (for :data:`SCORED_POINTS`)."""
    return _reference(tmp_path_factory, quality=True)


@pytest.mark.slow
@pytest.mark.parametrize("point", POINTS)
def test_sigkill_at_any_point_then_rerun_completes_without_redoing_or_damage(request, tmp_path, point):
    scored = point in SCORED_POINTS
    reference = request.getfixturevalue("scored_reference" if scored else "reference")
    spec, results = tmp_path / "spec.toml", tmp_path / "results"
    spec.write_text(_spec_text(quality=scored))
    _kill(_start_stalled(spec, results, point, tmp_path))
    before = _snapshot(results)
    if point in ("classify", "classify-resnet34:3", "write:result.json", "write:record.json"):
        quality = results / "cells" / "crackforest" / "dg2gan" / "seed0" / "quality.json"
        assert quality.exists() and str(quality) in before   # the score finished before the kill: never redone
    assert not (results / "cells" / "crackforest" / "dg2gan" / "seed0" / "record.json").exists()
    done = _run(spec, results)
    assert done.returncode == 0, done.stderr
    after = _snapshot(results)
    assert {p: after.get(p) for p in before} == before, "a finished stage was redone"
    _assert_nothing_half_written(results)
    assert _records(results) == reference[1]
    train = json.loads((results / "cells" / "crackforest" / "dg2gan" / "seed0" / "train.json").read_text())
    if point == "train:5":
        assert train["resumed_from_step"] == 4   # the checkpoint of step 4 (6 steps, checkpoint_every = 2)
        assert "crackforest/dg2gan/seed0 train: resumed from step 4 of 6 (checkpoint)" in done.stdout, done.stdout
    if point in ("generate", "score"):
        assert "crackforest/dg2gan/seed0 train: finished in an earlier run; loading generator.pt" in done.stdout, \
            done.stdout


@pytest.mark.slow
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_sigint_and_sigterm_stop_fast_with_a_checkpoint_and_one_resume_line(reference, tmp_path, sig, code):
    spec, results = tmp_path / "spec.toml", tmp_path / "results"
    spec.write_text(_spec_text())
    process = _start_stalled(spec, results, "train:2", tmp_path)   # 6 steps; logs and checkpoints every 2
    sent = time.monotonic()
    process.send_signal(sig)
    _, err = process.communicate(timeout=60)
    assert time.monotonic() - sent < 10
    assert process.returncode == code, err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert f"interrupted by {signal.Signals(sig).name}" in lines[0]
    assert "train stopped after step 3 of 6 (checkpoint saved)" in lines[0], lines[0]
    command = shlex.split(lines[0].split("resume with: ", 1)[1])
    assert command[:2] == ["bench", "run"]
    done = subprocess.run([sys.executable, "-c", "from dg2bench.cli import main; main()", *command[1:]],
                          env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    train = json.loads((results / "cells" / "crackforest" / "dg2gan" / "seed0" / "train.json").read_text())
    assert train["resumed_from_step"] == 3   # mid-log: the pending loss sums were saved too
    _assert_nothing_half_written(results)
    assert _records(results) == reference[1]


@pytest.mark.slow
def test_a_changed_config_is_refused_naming_the_change_or_restarted_keeping_the_old_cell(tmp_path):
    spec, results = tmp_path / "spec.toml", tmp_path / "results"
    spec.write_text(_spec_text())
    _kill(_start_stalled(spec, results, "train:5", tmp_path))   # a checkpoint under the old config
    cell = results / "cells" / "crackforest" / "dg2gan" / "seed0"
    assert (cell / "checkpoint.pt").exists()
    spec.write_text(_spec_text(**{'max_steps = 8': 'max_steps = 8\nlr = 0.0001'}))
    refused = _run(spec, results)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    errors = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "generator.lr: 0.0002 -> 0.0001" in errors[0] and "--on-change restart" in errors[0]
    assert "took over the lock of a run that was killed" in refused.stderr   # the killed run, one note line
    assert (cell / "checkpoint.pt").exists(), "a refusal must not touch the old cell"
    restarted = _run(spec, results, "--on-change", "restart")
    assert restarted.returncode == 0, restarted.stderr
    assert "configuration changed (generator.lr: 0.0002 -> 0.0001)" in restarted.stderr
    old = list((results / "superseded" / "crackforest" / "dg2gan" / "seed0").iterdir())
    assert len(old) == 1 and (old[0] / "checkpoint.pt").exists()
    assert json.loads((cell / "train.json").read_text())["resumed_from_step"] == 0


@pytest.mark.slow
def test_the_lock_holds_against_a_second_run_and_a_killed_holder_is_taken_over(tmp_path):
    spec, results = tmp_path / "spec.toml", tmp_path / "results"
    spec.write_text(_spec_text())
    holder = _start_stalled(spec, results, "train:3", tmp_path)
    try:
        second = _run(spec, results)
        assert second.returncode == 2 and len(second.stderr.strip().splitlines()) == 1, second.stderr
        assert "another `bench run` is using this results folder" in second.stderr
        assert f"pid {holder.pid}" in second.stderr
    finally:
        _kill(holder)
    taken = _run(spec, results)
    assert taken.returncode == 0, taken.stderr
    assert f"took over the lock of a run that was killed (pid {holder.pid}" in taken.stderr
    assert not (results / ".lock.json").exists()


@pytest.mark.slow
def test_a_full_disk_is_one_line_and_damages_nothing(tmp_path):
    spec, results = tmp_path / "spec.toml", tmp_path / "results"
    spec.write_text(_spec_text())
    full = _run(spec, results, env=_env(DG2BENCH_FAIL_WRITE="fakes.json"))
    assert full.returncode == 2, full.stderr
    lines = full.stderr.strip().splitlines()
    assert len(lines) == 1 and "No space left on device" in lines[0] and "fakes.json" in lines[0], full.stderr
    cell = results / "cells" / "crackforest" / "dg2gan" / "seed0"
    assert (cell / "train.json").exists() and not (cell / "fakes.json").exists() and not (cell / "record.json").exists()
    _assert_nothing_half_written(results)
    before = _snapshot(results)
    done = _run(spec, results)
    assert done.returncode == 0, done.stderr
    assert {p: _snapshot(results).get(p) for p in before if p.endswith(("train.json", "generator.pt"))} == \
        {p: v for p, v in before.items() if p.endswith(("train.json", "generator.pt"))}


@pytest.mark.slow
def test_an_unwritable_results_folder_is_one_line(tmp_path):
    """A read-only folder (or, for root, who may write anywhere, the same error injected)."""
    spec, results = tmp_path / "spec.toml", tmp_path / "results"
    spec.write_text(_spec_text())
    results.mkdir()
    results.chmod(0o500)
    try:
        done = _run(spec, results, env=_env(DG2BENCH_FAIL_WRITE="run.json:EACCES") if os.geteuid() == 0 else None)
    finally:
        results.chmod(0o700)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Permission denied" in done.stderr and "writable" in done.stderr


def test_a_plugin_version_change_is_named_and_never_reused_silently(tmp_path):
    """The code versions are part of a cell's config: a new plugin release is a named change."""
    from dg2bench.errors import SpecError
    from dg2bench.runner import PlannedCell, check_cell_config
    from dg2bench.store.results import CellId, ResultStore

    store, cell = ResultStore(tmp_path), PlannedCell(CellId("d", "m", 0), None, None)
    config = {"code": {"dg2bench": "0.2.0", "generator:m": "their-pkg 1.0"}, "generator": {"lr": 0.0002}}
    assert check_cell_config(store, cell, config) is None
    assert check_cell_config(store, cell, config) is None   # unchanged: reused
    newer = {**config, "code": {**config["code"], "generator:m": "their-pkg 1.1"}}
    with pytest.raises(SpecError, match=r"code\.generator:m: their-pkg 1\.0 -> their-pkg 1\.1"):
        check_cell_config(store, cell, newer)
    note = check_cell_config(store, cell, newer, on_change="restart")
    assert "old cell moved to" in note and (tmp_path / "superseded" / "d" / "m" / "seed0").is_dir()
    assert json.loads((tmp_path / "cells" / "d" / "m" / "seed0" / "config.json").read_text())["config"] == newer


def test_a_results_folder_moved_with_its_data_is_reused_not_refused(tmp_path):
    """The data folder's path is not part of what a cell is: a clone elsewhere resumes it.

    The split's manifest hash pins the data wherever it lies (as the leaderboards read
    it); a published results folder resumed in another checkout keeps its cells.
    """
    from dg2bench.errors import SpecError
    from dg2bench.runner import PlannedCell, check_cell_config
    from dg2bench.store.results import CellId, ResultStore

    store, cell = ResultStore(tmp_path), PlannedCell(CellId("d", "m", 0), None, None)
    config = {"split_manifest_sha256": "abc", "dataset": {"plugin": "crackforest", "root": "/work/a/data"}}
    assert check_cell_config(store, cell, config) is None
    written = (tmp_path / "cells" / "d" / "m" / "seed0" / "config.json").read_text()
    moved = {**config, "dataset": {"plugin": "crackforest", "root": "/home/me/clone/data"}}
    assert check_cell_config(store, cell, moved) is None
    assert (tmp_path / "cells" / "d" / "m" / "seed0" / "config.json").read_text() == written   # left as made
    other = {**moved, "split_manifest_sha256": "def"}
    with pytest.raises(SpecError, match="split_manifest_sha256: abc -> def"):
        check_cell_config(store, cell, other)


@pytest.mark.slow
def test_sigint_on_a_ray_driver_cancels_its_tasks_and_the_resume_line_keeps_the_executor(reference, tmp_path):
    pytest.importorskip("ray", reason="ray is not installed: pip install -e '.[test,ray]' (CI does)")
    spec, results = tmp_path / "spec.toml", tmp_path / "results"
    spec.write_text(_spec_text())
    ready = tmp_path / "ready"
    # The Ray cell runs on as many torch threads as the reference did (conftest: OMP_NUM_THREADS, 1 unless
    # set); other thread counts sum in another order and the records differ in the last bits.
    threads = os.environ.get("OMP_NUM_THREADS", "2")
    process = subprocess.Popen(_bench_command(spec, results, "--executor", "ray", "--set", f"cpus_per_cell={threads}"),
                               env=_env(DG2BENCH_STALL_AT="train:3", DG2BENCH_STALL_READY=str(ready)),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not ready.exists():   # written by the Ray worker that runs the cell
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    line = next(line for line in err.splitlines() if line.startswith("interrupted by SIGINT"))
    assert "Ray task(s) cancelled at their last checkpoint" in line and "Traceback" not in err
    command = shlex.split(line.split("resume with: ", 1)[1])
    assert command[command.index("--executor") + 1] == "ray"
    done = subprocess.run([sys.executable, "-c", "from dg2bench.cli import main; main()", *command[1:]],
                          env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    train = json.loads((results / "cells" / "crackforest" / "dg2gan" / "seed0" / "train.json").read_text())
    assert train["resumed_from_step"] == 2
    _assert_nothing_half_written(results)
    assert _records(results) == reference[1]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["dfmgan", "diffusion-inpaint"])
def test_sigkill_mid_training_of_a_mask_generator_resumes_bit_identical(tmp_path, name):
    """The generators beyond the paper (two stages; EMA, masks) resume from a SIGKILL to the
    same weights, fakes, masks and records as an uninterrupted run."""
    # 8 steps (max_steps), checkpoints every 2: the kill at step 5 resumes from step 4.
    text = _spec_text().replace(GENERATOR, f'\n[generators.{name}]\npreset = "tiny"\nepochs = 4\nmax_steps = 8\n')
    runs = {}
    for label, point in (("whole", None), ("killed", "train:5")):
        folder = tmp_path / label
        folder.mkdir()
        (folder / "spec.toml").write_text(text)
        if point:
            _kill(_start_stalled(folder / "spec.toml", folder / "results", point, folder))
        done = _run(folder / "spec.toml", folder / "results")
        assert done.returncode == 0, done.stderr
        runs[label] = folder / "results" / "cells" / "crackforest" / name / "seed0"
    whole, killed = runs["whole"], runs["killed"]
    assert json.loads((killed / "train.json").read_text())["resumed_from_step"] == 4
    weights = [torch.load(run / "generator.pt", map_location="cpu", weights_only=True) for run in (whole, killed)]
    assert _same(*weights)
    for folder in ("fakes", "fakes_masks"):
        pngs = [sorted((run / folder).glob("*.png")) for run in (whole, killed)]
        assert pngs[0] and [p.read_bytes() for p in pngs[0]] == [p.read_bytes() for p in pngs[1]], folder
    assert _records(whole.parents[2]) == _records(killed.parents[2])
