"""`bench estimate`: real steps timed per method, projected per spec; `bench run` shows the total."""

from __future__ import annotations

import json

from conftest import tiny_spec_text

GENERATORS = """
[generators.dg2gan]
preset = "tiny"
max_steps = 4

[generators.oversample]
preset = "tiny"
"""


def test_estimate_times_every_method_and_run_prints_the_total(bench, write_spec, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    spec = write_spec(tiny_spec_text(generators=GENERATORS, classifier_steps=3, seeds=2))
    code, out, err = bench("estimate", str(spec), "--format", "json", "--repeats", "2", "--warmup", "1")
    assert code == 0, err
    result = json.loads(out)
    rows = {(r["role"], r["label"]): r for r in result["methods"]}
    dg2gan, control, classifier = rows[("generator", "dg2gan")], rows[("generator", "oversample")], \
        rows[("classifier", "resnet34")]
    assert dg2gan["steps_per_cell"] == 4 and dg2gan["cells"] == 2 and dg2gan["seconds_per_step"] > 0
    assert dg2gan["flops_per_step"] > 0 and dg2gan["peak_memory_mb"] > 0
    assert dg2gan["projected_seconds"] == dg2gan["seconds_per_step"] * 4 * 2
    assert control["steps_per_cell"] == 0 and control["projected_seconds"] == 0
    assert classifier["steps_per_cell"] == 3 and classifier["cells"] == 2 * 3   # 2 seeds x (2 methods + baseline)
    assert result["total_seconds"] > 0 and not (tmp_path / "results").exists()
    code, out, _ = bench("run", str(spec), "--results", str(tmp_path / "results"), "--only", "oversample")
    assert code == 0 and "estimate: about" in out
