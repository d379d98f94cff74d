#!/usr/bin/env bash
# Publish a results folder as benchmarks/results/NAME (docs/results.md, "Publishing"):
# the small export, its tables (Markdown, which tests/test_published.py re-renders and
# compares, and CSV), the HTML report and the report's figures as PNG files.
#
#   bash benchmarks/publish.sh RESULTS NAME      e.g. results/crackforest-cpu crackforest-cpu
#
# A RUNS.md already in the destination (the run's bookkeeping) is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -ne 2 ]; then
    echo "usage: bash benchmarks/publish.sh RESULTS NAME" >&2
    exit 2
fi
results=$1
dest=benchmarks/results/$2
staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
bench export "$results" "$staging/export"
if [ -f "$dest/RUNS.md" ]; then cp "$dest/RUNS.md" "$staging/export/RUNS.md"; fi
rm -rf "$dest"
mkdir -p "$(dirname "$dest")"
cp -r "$staging/export" "$dest"
COLUMNS=120 bench leaderboard "$dest" --table all --format markdown > "$dest/leaderboards.md"
bench leaderboard "$dest" --table all --format csv > "$dest/leaderboards.csv"
bench report "$dest" --out "$dest/report.html"
bench figures "$dest" --out "$dest/figures"
du -sh "$dest"
