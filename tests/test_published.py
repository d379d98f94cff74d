"""Published results: each ``benchmarks/results/<name>/leaderboards.md`` is what its folder renders.

``crackforest-cpu`` (issue 19) is checked as soon as its folder and tables are committed;
until then its test skips. Any other published folder with a ``leaderboards.md`` is
checked too, with no change here.
"""

from __future__ import annotations

import shutil

import pytest

from published import (LEADERBOARDS, PUBLISHED, assert_leaderboards_match, published_folders,
                       render_leaderboards)

EXPECTED = ("crackforest-cpu",)


@pytest.mark.parametrize("name", sorted({*EXPECTED, *(path.name for path in published_folders())}))
def test_published_tables_are_what_the_folder_renders(name):
    folder = PUBLISHED / name
    if not (folder / LEADERBOARDS).is_file():
        pytest.skip(f"{folder.relative_to(PUBLISHED.parents[1])}/{LEADERBOARDS} is not published yet")
    assert_leaderboards_match(folder)


@pytest.fixture
def published_copy(tiny_run, tmp_path):
    """The tiny run exported as a published folder, with its tables written as docs/results.md says."""
    from dg2bench.report.export import export_results

    _, results = tiny_run
    folder = tmp_path / "tiny"
    export_results(results, folder)
    (folder / LEADERBOARDS).write_text(render_leaderboards(folder), encoding="utf-8")
    return folder


@pytest.mark.slow
def test_the_check_passes_on_tables_written_from_the_folder(published_copy):
    text = (published_copy / LEADERBOARDS).read_text(encoding="utf-8")
    assert "**" in text and "| " in text and "Δ vs baseline" in text   # the markdown tables, every one
    assert_leaderboards_match(published_copy)


@pytest.mark.slow
def test_the_check_fails_on_an_edited_number(published_copy):
    path = published_copy / LEADERBOARDS
    text = path.read_text(encoding="utf-8")
    line = next(line for line in text.splitlines() if line.startswith("| ") and any(c.isdigit() for c in line))
    digit = next(c for c in line if c.isdigit())
    path.write_text(text.replace(line, line.replace(digit, str((int(digit) + 1) % 10), 1), 1), encoding="utf-8")
    with pytest.raises(AssertionError, match=r"differs from the tables its records give.*bench leaderboard"):
        assert_leaderboards_match(published_copy)


@pytest.mark.slow
def test_the_check_fails_when_a_record_changes_without_the_tables(published_copy, tiny_run):
    import json

    cell = published_copy / "cells" / "crackforest" / "wgan" / "seed0" / "record.json"
    record = json.loads(cell.read_text(encoding="utf-8"))
    record["training"]["train_seconds"] = record["training"]["train_seconds"] * 10 + 100
    cell.write_text(json.dumps(record), encoding="utf-8")
    with pytest.raises(AssertionError, match="differs"):
        assert_leaderboards_match(published_copy)


@pytest.mark.slow
def test_the_check_fails_when_the_folder_renders_nothing(published_copy):
    shutil.rmtree(published_copy / "cells")
    with pytest.raises(AssertionError, match="exited 2"):
        assert_leaderboards_match(published_copy)


@pytest.mark.slow
def test_the_readme_and_docs_quote_the_tables_the_published_folder_prints():
    """README "Results" and docs/results.md hold `python benchmarks/readme_tables.py
    benchmarks/results/crackforest-cpu`'s tables, character for character."""
    import subprocess
    import sys

    repo = PUBLISHED.parents[1]
    script = repo / "benchmarks" / "readme_tables.py"
    out = subprocess.run([sys.executable, str(script), str(PUBLISHED / "crackforest-cpu")], check=True,
                         capture_output=True, text=True).stdout
    classify, quality = out.strip().split("\n\n")
    readme, results = (repo / "README.md").read_text(), (repo / "docs" / "results.md").read_text()
    assert classify in readme and quality in readme
    assert quality in results
