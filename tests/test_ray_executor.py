"""`bench run --executor ray` on a real local Ray cluster: same records, killed workers, no Ray.

The cluster is started once for the module (``ray.init(num_cpus=2)`` on loopback, a
few seconds); the cells are tiny. Tests that need Ray skip, with the reason, when it
is not importable; ``.ci/run`` installs the ``ray`` extra so that CI runs them.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
from pathlib import Path

import pytest
import torch

from dg2bench import hookimpl
from dg2bench.contracts.plugin_manager import get_registry
from dg2bench.runner import run_benchmark
from dg2bench.spec import load_spec
from dg2bench.store.results import CellId, ResultStore

from scalar_generator import ScalarGenerator, ScalarHyperparameters


TESTS = Path(__file__).resolve().parent
#: Timings and machine-dependent figures; everything else in a record must match.
TIMING_KEYS = {"train_seconds", "test_seconds", "first_step_seconds", "wall_seconds_this_run", "seconds",
               "images_per_second", "process_peak_rss_mb", "peak_rss_mb"}


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray cluster with 2 CPUs whose workers can import this module's plugins."""
    ray = pytest.importorskip("ray", reason="ray is not installed: pip install -e '.[test,ray]' (CI does)")
    path = os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH", "")) if p)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": path}})
    yield ray
    ray.shutdown()


@pytest.fixture
def one_thread():
    """Cells on Ray get one torch thread per reserved core; the local run matches that."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@dataclasses.dataclass(frozen=True)
class _Hp(ScalarHyperparameters):
    kill_at: int = -1
    marker: str = ""


class SelfKillingGenerator(ScalarGenerator):
    """Learns one scalar; at step ``kill_at`` it SIGKILLs its own process once (``marker`` remembers)."""

    name = "self-killing"
    Hyperparameters = _Hp

    def loss(self, batch, step):
        if step == self.hparams.kill_at and not Path(self.hparams.marker).exists():
            Path(self.hparams.marker).write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)   # as the OOM killer or a lost node would
        return super().loss(batch, step)


class _Plugin:
    @hookimpl
    def register_generators(self, register):
        register(SelfKillingGenerator)


def _without_timings(value):
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items() if k not in TIMING_KEYS}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


def _killing_spec(write_spec, tmp_path, kill_at: int = 3) -> Path:
    generators = f"""
        [generators.killed]
        plugin = "self-killing"
        kill_at = {kill_at}
        marker = "{tmp_path / 'killed-once'}"

        [generators.stable]
        plugin = "self-killing"
        """
    return write_spec(generators=generators, fakes=3, classifier_steps=2)


@pytest.mark.slow
def test_ray_run_gives_the_records_and_leaderboard_of_a_local_run(ray_cluster, one_thread, tmp_path, write_spec,
                                                                   bench):
    spec = write_spec(generators='[generators.dg2gan]\npreset = "tiny"\nmax_steps = 4\n', quality=True,
                      fakes=8, classifier_steps=4)
    local, remote = tmp_path / "local", tmp_path / "ray"
    assert bench("run", str(spec), "--results", str(local))[0] == 0
    code, out, err = bench("run", str(spec), "--results", str(remote), "--executor", "ray")
    assert code == 0, err
    assert "ran 2 cells, skipped 0 complete, 0 failed" in out
    assert "crackforest/dg2gan/seed0 train" in out and "crackforest/dg2gan/seed0: complete" in out  # events forwarded
    a = {r["cell"]: r for r in ResultStore(local).records()}
    b = {r["cell"]: r for r in ResultStore(remote).records()}
    assert sorted(a) == sorted(b) == ["crackforest/baseline/seed0", "crackforest/dg2gan/seed0"]
    for cell in a:
        assert b[cell]["status"] == "complete"
        assert _without_timings(b[cell]["classification"]) == _without_timings(a[cell]["classification"])
        assert b[cell].get("quality") == a[cell].get("quality")
    assert a["crackforest/dg2gan/seed0"]["quality"]["fid"] > 0
    for table in ("classify", "fid"):
        boards = [bench("leaderboard", str(folder), "--table", table, "--format", "csv")[1] for folder in (local, remote)]
        assert boards[0] == boards[1] and boards[0]
    # Resume behaves as locally: a second run skips both cells.
    code, out, _ = bench("run", str(spec), "--results", str(remote), "--executor", "ray")
    assert code == 0 and "ran 0 cells, skipped 2 complete" in out


@pytest.mark.slow
def test_a_killed_worker_is_retried_and_the_cell_resumes_from_its_checkpoint(ray_cluster, tmp_path, write_spec):
    from dg2bench.executors.ray_cluster import RayExecutor

    registry = get_registry(extra_plugins=[_Plugin()])
    spec = load_spec(_killing_spec(write_spec, tmp_path), registry)
    store = ResultStore(tmp_path / "results")
    summary = run_benchmark(spec, registry, store, only=["killed"], executor=RayExecutor(max_retries=1))
    assert summary.ran == ["crackforest/killed/seed0"] and not summary.failed
    assert (tmp_path / "killed-once").exists()          # the first attempt did die
    record = store.records()[0]
    assert record["status"] == "complete"
    assert record["training"]["resumed_from_step"] == 2  # checkpoint_every = 2, killed at step 3
    assert record["training"]["steps"] == 12


@pytest.mark.slow
def test_a_cell_whose_worker_dies_past_the_retries_is_recorded_failed(ray_cluster, tmp_path, write_spec, bench):
    from dg2bench.executors.ray_cluster import RayExecutor

    registry = get_registry(extra_plugins=[_Plugin()])
    spec = load_spec(_killing_spec(write_spec, tmp_path), registry)
    store = ResultStore(tmp_path / "results")
    summary = run_benchmark(spec, registry, store, only=["killed", "stable"], executor=RayExecutor(max_retries=0))
    assert summary.failed == ["crackforest/killed/seed0"] and summary.ran == ["crackforest/stable/seed0"]
    records = {r["method"]: r for r in store.records()}
    assert records["killed"]["status"] == "failed"
    assert records["killed"]["reason"].startswith("worker died 1 time (")
    assert "--retry-failed" in records["killed"]["reason"]
    code, out, err = bench("leaderboard", str(store.root), "--table", "classify", "--format", "csv")
    # (Ray's own "(raylet) A worker died ..." line may land in the captured output too.)
    rows = [line for line in out.splitlines() if line.startswith("crackforest,")]
    assert code == 0 and any("stable+resnet34" in row for row in rows) and not any("killed" in row for row in rows)
    assert "note: crackforest/killed/seed0 failed and is not in the table: worker died" in err
    # --retry-failed reruns it (the marker now spares it) from its checkpoint.
    again = run_benchmark(spec, registry, store, only=["killed", "stable"], retry_failed=True,
                          executor=RayExecutor(max_retries=0))
    assert again.ran == ["crackforest/killed/seed0"] and again.skipped == ["crackforest/stable/seed0"]
    record = store.read_record(CellId("crackforest", "killed", 0))
    assert record["status"] == "complete" and record["training"]["resumed_from_step"] == 2


def test_without_ray_the_executor_says_how_to_install_it(monkeypatch, write_spec, bench, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)     # import ray -> ImportError
    code, out, err = bench("run", str(write_spec()), "--results", str(tmp_path / "r"), "--executor", "ray")
    assert code == 2 and "Traceback" not in err
    assert "error: --executor ray: ray is not installed; pip install -e '.[ray]'" in err
    assert not (tmp_path / "r").exists()              # refused before anything was written
    code, _, err = bench("run", str(write_spec()), "--results", str(tmp_path / "r"), "--address", "auto")
    assert code == 2 and "--address: only applies to --executor ray" in err


@pytest.mark.parametrize("setting, message", [("cpus_per_cell=0", "cpus_per_cell: must be > 0"),
                                              ("gpus_per_cell=-1", "gpus_per_cell: must be >= 0")])
def test_resource_keys_are_checked(write_spec, bench, tmp_path, setting, message):
    code, _, err = bench("run", str(write_spec()), "--results", str(tmp_path / "r"), "--set", setting)
    assert code == 2 and message in err


@pytest.mark.slow
def test_a_cuda_device_without_gpus_per_cell_is_refused_before_submitting(ray_cluster, write_spec, tmp_path):
    from dg2bench.errors import SpecError
    from dg2bench.executors.ray_cluster import RayExecutor, _check_device

    spec = load_spec(write_spec(), get_registry())
    with pytest.raises(SpecError, match="gpus_per_cell: is 0 but device is 'cuda'"):
        _check_device(dataclasses.replace(spec.benchmark, device="cuda"))
    with pytest.raises(SpecError, match="the Ray cluster has 2 CPUs"):
        RayExecutor()._check_resources(dataclasses.replace(spec.benchmark, cpus_per_cell=3.0))


@pytest.mark.slow
def test_an_address_nothing_answers_on_is_refused_at_once(write_spec, bench, tmp_path):
    pytest.importorskip("ray", reason="ray is not installed: pip install -e '.[test,ray]' (CI does)")
    import socket

    with socket.socket() as probe:                    # a port that was free a moment ago: nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, _, err = bench("run", str(write_spec()), "--results", str(tmp_path / "r"), "--executor", "ray",
                         "--address", f"127.0.0.1:{port}")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"--address 127.0.0.1:{port}: cannot join a Ray cluster (nothing answers there" in err
    assert not (tmp_path / "r").exists()              # refused before the driver's shared work
    code, _, err = bench("run", str(write_spec()), "--results", str(tmp_path / "r"), "--executor", "ray",
                         "--address", "nohost")
    assert code == 2 and "is not HOST:PORT" in err
