"""Plain helpers the tests share: paths, the tiny spec, a finished tiny run.

Test modules import these (``from helpers import ...``); fixtures stay in ``conftest.py``,
which pytest loads itself and which no test module imports.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CRACKFOREST = REPO / "benchmarks" / "data" / "crackforest"


def tiny_spec_text(*, generators: str = "", fakes: int = 8, quality: bool = False, classifier_steps: int = 6,
                   seeds: int = 1, extra: str = "") -> str:
    """A tiny spec on the vendored CrackForest data; ``generators`` holds [generators.*] tables."""
    return textwrap.dedent(f"""\
        [benchmark]
        name = "tiny"
        image_size = 32
        seeds = {seeds}
        device = "cpu"
        log_every = 2
        checkpoint_every = 2

        [datasets.crackforest]
        root = "{CRACKFOREST}"
        patch_size = 64
        train_defect_free = 12
        train_defect = 8
        test_defect_free = 10
        test_defect = 6

        [classifiers.resnet34]
        preset = "tiny"
        max_steps = {classifier_steps}

        [augmentation]
        fakes = {fakes}

        [metrics]
        quality = {"true" if quality else "false"}
        kid_subset_size = 4
        kid_subsets = 5
        prdc_k = 2
        """) + textwrap.dedent(generators) + textwrap.dedent(extra)


#: A translation generator (sources and fakes figure) and a noise one; the baseline comes with them.
PUBLISHABLE_GENERATORS = """
[generators.cyclegan]
preset = "tiny"
max_steps = 4

[generators.wgan]
preset = "tiny"
max_steps = 4
"""


def finished_tiny_run(folder: Path, generators: str, fakes: int) -> tuple[Path, Path]:
    """Write a tiny spec (quality scored) into ``folder`` and run it to the end: ``(spec, results)``."""
    from dg2bench.cli import main

    spec = folder / "spec.toml"
    spec.write_text(tiny_spec_text(generators=generators, quality=True, fakes=fakes, classifier_steps=4))
    results = folder / "results"
    with pytest.raises(SystemExit) as exit_info:
        main(["run", str(spec), "--results", str(results)])
        raise SystemExit(0)
    assert exit_info.value.code in (0, None)
    return spec, results
