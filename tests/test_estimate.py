"""`bench estimate`: real steps timed per method, projected per spec; `bench run` shows the total."""

from __future__ import annotations

import json
import os

import pytest
import torch

from helpers import tiny_spec_text

from dg2bench.estimate import format_duration, projected_total

GENERATORS = """
[generators.dg2gan]
preset = "tiny"
max_steps = 4

[generators.oversample]
preset = "tiny"
"""


@pytest.mark.slow
def test_estimate_times_every_method_and_run_prints_the_total(bench, write_spec, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    # No step cap on the classifier: 2 epochs of batch 8 on 20 real images (+ 8 fakes).
    spec = write_spec(tiny_spec_text(generators=GENERATORS, classifier_steps=100, seeds=2))
    code, out, err = bench("estimate", str(spec), "--format", "json", "--repeats", "2", "--warmup", "1")
    assert code == 0, err
    result = json.loads(out, parse_constant=lambda name: pytest.fail(f"not strict JSON: {name}"))
    rows = {(r["role"], r["label"]): r for r in result["methods"]}
    dg2gan, control, classifier = rows[("generator", "dg2gan")], rows[("generator", "oversample")], \
        rows[("classifier", "resnet34")]
    assert dg2gan["steps_per_cell"] == 4 and dg2gan["cells"] == 2 and dg2gan["seconds_per_step"] > 0
    assert dg2gan["flops_per_step"] > 0 and dg2gan["peak_memory_mb"] > 0
    assert dg2gan["projected_seconds"] == dg2gan["seconds_per_step"] * 4 * 2
    assert control["steps_per_cell"] == 0 and control["projected_seconds"] == 0
    assert control["flops_per_step"] is None                 # NaN written as null
    assert classifier["cells"] == 2 * 3   # 2 seeds x (2 methods + baseline)
    # The baseline trains on the 20 real images only (2 x ceil(20/8) steps), a method's
    # cells on real + 8 fakes (2 x ceil(28/8)).
    assert classifier["method_steps"] == {"baseline": 6, "dg2gan": 8, "oversample": 8}
    assert classifier["projected_seconds"] == classifier["seconds_per_step"] * (6 + 8 + 8) * 2
    # Every cell predicts the test split once per classifier (no quality scoring in this spec).
    testing = rows[("testing", "resnet34 test predictions")]
    assert testing["method_steps"] == {"baseline": 1, "dg2gan": 1, "oversample": 1} and testing["seconds_per_step"] > 0
    assert not any(r["role"] == "scoring" for r in result["methods"])
    # Each method's cell makes max(8 fakes, 8 real training defects) = 8 fakes (one chunk), DG2GAN 8
    # defect-free ones too (fakes_defect_free defaults to 0 here).
    made, copied = rows[("generation", "dg2gan fakes")], rows[("generation", "oversample fakes")]
    assert made["images_per_step"] == 8 and made["method_steps"] == {"dg2gan": 1} and made["seconds_per_step"] > 0
    assert copied["projected_seconds"] == copied["seconds_per_step"] * 1 * 2
    assert result["total_seconds"] == pytest.approx(
        dg2gan["projected_seconds"] + classifier["projected_seconds"] + testing["projected_seconds"]
        + made["projected_seconds"] + copied["projected_seconds"])
    assert result["parallel_cells"] == 1 and result["wall_seconds"] == result["total_seconds"]
    assert not (tmp_path / "results").exists()
    only = projected_total(result["methods"], ("oversample",))
    assert only == pytest.approx(classifier["seconds_per_step"] * 8 * 2 + testing["seconds_per_step"] * 2
                                 + copied["seconds_per_step"] * 2)
    code, out, _ = bench("run", str(spec), "--results", str(tmp_path / "results"), "--only", "oversample")
    training, generation = (format_duration(x) for x in (classifier["seconds_per_step"] * 8 * 2,
                                                         copied["seconds_per_step"] * 2))
    assert code == 0 and f"(training {training}, generation {generation}, scoring and testing " in out
    assert "for --only oversample" in out


def test_projected_total_counts_the_named_methods_and_skips_failed_rows():
    rows = [{"seconds_per_step": 0.5, "method_steps": {"gan": 100}, "seeds": 3},
            {"seconds_per_step": float("nan"), "method_steps": {"other": 10}, "seeds": 3},   # failed (OOM)
            {"seconds_per_step": 0.1, "method_steps": {"baseline": 20, "gan": 30, "other": 30}, "seeds": 3}]
    assert projected_total(rows) == 0.5 * 100 * 3 + 0.1 * 80 * 3
    assert projected_total(rows, ("gan",)) == 0.5 * 100 * 3 + 0.1 * 30 * 3
    assert projected_total(rows, ("baseline",)) == 0.1 * 20 * 3
    assert projected_total(rows, ("other",)) == 0.1 * 30 * 3


@pytest.mark.slow
def test_only_methods_that_make_defect_free_fakes_count_them(bench, write_spec, tmp_path, monkeypatch):
    from dg2bench.contracts.plugin_manager import get_registry
    from dg2bench.estimate import makes_defect_free

    registry = get_registry()
    assert makes_defect_free(registry.get("generator", "cyclegan").cls)
    assert not makes_defect_free(registry.get("generator", "oversample").cls)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    generators = '[generators.cyclegan]\npreset = "tiny"\nmax_steps = 2\n\n[generators.oversample]\npreset = "tiny"\n'
    text = tiny_spec_text(generators=generators, classifier_steps=100).replace(
        "fakes = 8", "fakes = 8\nfakes_defect_free = 8")
    code, out, err = bench("estimate", str(write_spec(text)), "--format", "json", "--repeats", "1", "--warmup", "0")
    assert code == 0, err
    classifier = next(r for r in json.loads(out)["methods"] if r["role"] == "classifier")
    # 20 real images, batch 8, 2 epochs: baseline 2 x 3; oversample (+8 fakes) 2 x 4;
    # cyclegan (+8 fakes +8 defect-free fakes) 2 x 5.
    assert classifier["method_steps"] == {"baseline": 6, "cyclegan": 10, "oversample": 8}


def test_estimate_without_a_memory_figure_says_so_instead_of_failing(bench, write_spec, tmp_path, monkeypatch):
    import dg2bench.estimate

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(dg2bench.estimate, "peak_memory_mb", lambda device: {})    # as on Windows
    spec = write_spec(tiny_spec_text(generators='[generators.oversample]\npreset = "tiny"\n', classifier_steps=2))
    code, out, err = bench("estimate", str(spec), "--format", "json", "--repeats", "1", "--warmup", "0")
    assert code == 0, err
    classifier = next(r for r in json.loads(out)["methods"] if r["role"] == "classifier")
    assert classifier["peak_memory_mb"] is None and classifier["seconds_per_step"] > 0


@pytest.mark.slow
def test_estimate_names_the_smallest_detectable_difference_and_the_steps_schedule(bench, write_spec, tmp_path,
                                                                                  monkeypatch):
    from dg2bench.metrics.power import assumed_difference_sd, minimal_detectable_effect

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    text = tiny_spec_text(generators="[generators.oversample]\npreset = \"tiny\"\n", classifier_steps=100, seeds=3)
    spec = write_spec(text.replace("fakes = 8", 'fakes = 8\nclassifier_schedule = "steps"'))
    code, out, err = bench("estimate", str(spec), "--format", "json", "--repeats", "1", "--warmup", "0",
                           "--seed-sd", "7.5")
    assert code == 0, err
    result = json.loads(out)
    detectable = result["detectable_difference"]
    assert detectable["seeds"] == 3 and detectable["seed_sd"] == 0.075
    # The tiny split tests 6 defect images: sqrt(0.075^2 + 2 * 0.75 * 0.25 / 6) (seed correlation 1/2).
    expected = minimal_detectable_effect(assumed_difference_sd(6, 0.075), 3)     # one method: 0.05 / 1
    assert detectable["by_dataset"]["crackforest"]["defect"] == pytest.approx(expected)
    # With classifier_schedule = "steps" the baseline trains as long as an augmented cell.
    classifier = next(r for r in result["methods"] if r["role"] == "classifier")
    assert classifier["method_steps"] == {"baseline": 8, "oversample": 8}
    code, out, _ = bench("estimate", str(spec), "--repeats", "1", "--warmup", "0")
    assert code == 0 and "smallest accuracy difference detectable at 80 % power with 3 seeds" in out
    assert f"defect {minimal_detectable_effect(assumed_difference_sd(6, 0.05), 3) * 100:.1f} pp (6 test images)" in out


def test_run_without_an_estimate_says_how_to_get_one_in_its_first_line(bench, write_spec, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))   # no `bench estimate` made yet
    spec = write_spec(tiny_spec_text(classifier_steps=2))
    code, out, err = bench("run", str(spec), "--results", str(tmp_path / "results"), "--only", "baseline")
    assert code == 0, out + err
    first = out.splitlines()[0]
    assert first.startswith("estimate: none yet for this spec and settings on cpu; `bench estimate ") and \
        str(spec) in first, out


def test_the_real_defects_scoring_counts_under_only_when_a_generator_runs():
    """The real defects are scored once per results folder, for whichever generator comes
    first: `--only dg2gan` pays for it, `--only baseline` does not."""
    from dg2bench.estimate import projected_total

    rows = [{"seconds_per_step": 2.0, "method_steps": {"real defects": 3}, "seeds": 1},
            {"seconds_per_step": 1.0, "method_steps": {"dg2gan": 10, "baseline": 0}, "seeds": 2}]
    assert projected_total(rows) == 26.0
    assert projected_total(rows, ("dg2gan",)) == 26.0
    assert projected_total(rows, ("baseline",)) == 0.0


def test_a_kept_estimate_is_found_only_by_a_run_under_the_same_executor(registry, write_spec, tmp_path, monkeypatch):
    """An estimate made for `--executor ray` divides its sum among cells side by side: a
    local run (one cell at a time) must not show it as its own."""
    from dg2bench.estimate import load_estimate, save_estimate
    from dg2bench.spec import load_spec

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    spec = load_spec(write_spec(tiny_spec_text(classifier_steps=2)), registry)
    cpu = torch.device("cpu")
    save_estimate({"executor": "ray", "parallel_cells": 2}, spec, cpu, "ray")
    assert load_estimate(spec, cpu, "local") is None
    assert load_estimate(spec, cpu, "ray") == {"executor": "ray", "parallel_cells": 2}


@pytest.mark.slow
def test_estimate_times_a_gradient_penalty_step_without_counting_its_flops(bench, write_spec, tmp_path, monkeypatch):
    # torch's FLOP counter cannot follow WGAN-GP's double backward; the row failed with
    # "A leaf node was passed to _will_engine_execute_node ...".
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    spec = write_spec(tiny_spec_text(generators='[generators.wgan-gp]\nplugin = "wgan"\npreset = "tiny-gp"\n'
                                                 'max_steps = 4\n'))
    code, out, err = bench("estimate", str(spec), "--format", "json", "--repeats", "1", "--warmup", "0")
    assert code == 0, err
    row = next(r for r in json.loads(out)["methods"] if r["label"] == "wgan-gp")
    assert not row["error"] and row["seconds_per_step"] > 0 and row["flops_per_step"] is None


@pytest.mark.slow
def test_a_plugin_error_of_any_kind_marks_its_row_and_the_others_go_on(bench, write_spec, tmp_path, monkeypatch):
    from dg2bench.plugins.generators.wgan import Wgan

    def broken(self, batch, step):
        raise AssertionError("Expected gradient function to be set")

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(Wgan, "train_step", broken)
    spec = write_spec(tiny_spec_text(generators='[generators.wgan]\npreset = "tiny"\n\n'
                                                 '[generators.dfmgan]\npreset = "tiny"\n'))
    code, out, err = bench("estimate", str(spec), "--format", "json", "--repeats", "1", "--warmup", "0")
    assert code == 0, err
    rows = {r["label"]: r for r in json.loads(out)["methods"]}
    assert rows["wgan"]["error"] == "AssertionError: Expected gradient function to be set"
    # DFMGAN's first block once expanded its constant under no_grad: a view the FLOP counter's hooks refused.
    assert not rows["dfmgan"]["error"] and rows["dfmgan"]["seconds_per_step"] > 0


@pytest.mark.slow
def test_estimate_times_scoring_and_divides_the_wall_time_among_cells_side_by_side(bench, write_spec, tmp_path,
                                                                                  monkeypatch):
    """With quality scoring on, the fakes of every generator cell and the real defects (once)
    go through Inception; under `--executor ray` on a CPU, cells that fit run side by side."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    text = tiny_spec_text(generators="[generators.oversample]\npreset = \"tiny\"\n", classifier_steps=2, seeds=2,
                          quality=True)
    spec = write_spec(text)
    code, out, err = bench("estimate", str(spec), "--format", "json", "--repeats", "1", "--warmup", "0",
                           "--executor", "ray", "--set", "cpus_per_cell=1")
    assert code == 0, err
    result = json.loads(out)
    scoring = {r["label"]: r for r in result["methods"] if r["role"] == "scoring"}
    fakes = scoring["Inception features of the fakes"]
    real = scoring["Inception features of the real defects (once)"]
    assert fakes["method_steps"] == {"oversample": 1} and fakes["seeds"] == 2 and fakes["seconds_per_step"] > 0
    assert real["seeds"] == 1 and real["seconds_per_step"] == fakes["seconds_per_step"]
    metrics = scoring["FID, KID, PRDC and their bootstrap"]
    assert metrics["method_steps"] == {"oversample": 1} and metrics["seeds"] == 2 and metrics["seconds_per_step"] > 0
    slots = max(1, os.cpu_count() or 1)
    assert result["parallel_cells"] == slots and result["threads_per_cell"] == 1
    assert result["wall_seconds"] == pytest.approx(result["total_seconds"] / slots)


def test_cells_side_by_side_only_under_ray_on_a_cpu():
    from types import SimpleNamespace

    import torch

    from dg2bench.estimate import parallel_cells

    spec = SimpleNamespace(benchmark=SimpleNamespace(cpus_per_cell=1.0))
    cpu = torch.device("cpu")
    assert parallel_cells(spec, cpu, "ray", cores=2) == (2, 1)
    assert parallel_cells(spec, cpu, "local", cores=2) == (1, None)
    assert parallel_cells(spec, torch.device("cuda"), "ray", cores=2) == (1, None)
    assert parallel_cells(SimpleNamespace(benchmark=SimpleNamespace(cpus_per_cell=2.0)), cpu, "ray", cores=2) == (1, 2)
    # Ray starts 4 half-core cells, but only 2 one-thread cells make progress on 2 cores.
    assert parallel_cells(SimpleNamespace(benchmark=SimpleNamespace(cpus_per_cell=0.5)), cpu, "ray", cores=2) == (2, 1)
