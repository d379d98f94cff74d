"""`bench report`: one self-contained HTML page, checked in headless Chromium when present."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from helpers import tiny_spec_text

#: Every test reads one tiny two-seed `bench run` and its report: end to end.
pytestmark = pytest.mark.slow

GENERATORS = """
[generators.cyclegan]
preset = "tiny"
max_steps = 4

[generators.oversample]
preset = "tiny"
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """A tiny two-seed run with quality scores, and its report."""
    from dg2bench.cli import main

    folder = tmp_path_factory.mktemp("report")
    spec = folder / "spec.toml"
    spec.write_text(tiny_spec_text(generators=GENERATORS, quality=True, fakes=8, classifier_steps=4, seeds=2))
    results = folder / "results"
    for args in (["run", str(spec), "--results", str(results)], ["report", str(results)]):
        with pytest.raises(SystemExit) as exit_info:
            main(args)
            raise SystemExit(0)
        assert exit_info.value.code in (0, None)
    return results / "report.html"


def test_report_holds_every_table_figure_and_the_spec(report):
    text = report.read_text(encoding="utf-8")
    for anchor in ("table-time", "table-fid", "table-classify"):
        assert f'id="{anchor}"' in text
    assert len(re.findall(r'<table[^>]*class="dataframe leaderboard', text)) == 3
    images = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,', text)
    for expected in ("fakes vs real", "cyclegan sources and fakes", "confusion matrices resnet34",
                     "misclassified resnet34", "loss curves", "quality vs diversity"):
        assert any(expected in alt for alt in images), expected
    assert "[benchmark]" in text and "Δ vs baseline (pp)" in text and "Wilson 95 %" in text
    assert "http://" not in text.replace("http://www.w3.org", "") and "https://" not in text


def test_report_renders_in_headless_chromium(report, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("headless Chromium is not installed: apt-get install chromium (CI installs it)")
    result = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         "--enable-logging=stderr", "--log-level=0", "--virtual-time-budget=5000", "--dump-dom",
         report.resolve().as_uri()], capture_output=True, text=True, timeout=120)
    body = re.search(r"<body[^>]*>", result.stdout)
    assert body, result.stderr[-2000:]
    images = int(re.search(r'data-images="(\d+)"', body.group(0)).group(1))
    assert images == report.read_text(encoding="utf-8").count("<img ") >= 6
    assert 'data-broken-images="0"' in body.group(0)
    assert result.stdout.count("<table") >= 4       # environment + three leaderboards
    console = [line for line in result.stderr.splitlines() if "CONSOLE" in line]
    assert not console, console


def test_report_names_every_spec_run_into_its_folder(report, tmp_path):
    from dg2bench.report.html import build_report

    results = report.parent
    assert (results / "specs" / "tiny.toml").read_text() == (results / "spec.resolved.toml").read_text()
    assert (results / "specs" / "tiny.run.json").exists()
    # A second spec run into the same folder (as the Quick start's second dataset is).
    shared = tmp_path / "shared"
    shutil.copytree(results, shared)
    text = (shared / "specs" / "tiny.toml").read_text().replace('name = "tiny"', 'name = "second"')
    (shared / "specs" / "second.toml").write_text(text)
    (shared / "specs" / "second.run.json").write_text('{"spec": "second.toml", "device": "cpu"}')
    page = build_report(shared)
    assert "<h1>dg2bench report: second + tiny</h1>" in page
    assert "<h2>Resolved specs</h2>" in page and page.count("name = &quot;second&quot;") == 1 and \
        page.count("name = &quot;tiny&quot;") == 1
    assert "<h3>second</h3>" in page and "second.toml" in page
