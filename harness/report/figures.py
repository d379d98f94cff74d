"""PNG figures from a results folder: fakes vs real, sources vs fakes, confusion matrices,
misclassified test images, loss curves, quality vs diversity.

Everything is read from cell records and saved images (nothing is re-run); each
function returns PNG bytes, or None when the results hold nothing to draw. Matplotlib
runs with the Agg backend (no display needed).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from dg2bench.data.image_folders import IMAGE_SUFFIXES  # noqa: E402
from PIL import Image  # noqa: E402

Record = dict[str, Any]

#: Images per row of a figure. ``bench export`` keeps this many of each folder in
#: ``IMAGE_FOLDERS`` (the first ones by name, as ``_images`` picks them), so the figures of
#: an export are those of the full results folder.
PER_ROW = 8
#: The image folders the figures read: a cell's ``fakes/``, ``fakes_sources/``,
#: ``fakes_masks/`` and ``classify-<label>/misclassified/``, and
#: ``samples/<dataset>/real_defects/``.
IMAGE_FOLDERS = ("fakes", "fakes_sources", "fakes_masks", "misclassified", "real_defects")


def _png(figure: plt.Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def _images(folder: Path, limit: int) -> list[np.ndarray]:
    if not folder.is_dir():
        return []
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[:limit]
    out = []
    for path in paths:
        try:
            with Image.open(path) as image:
                out.append(np.asarray(image.convert("RGB")))
        except (OSError, ValueError):
            continue   # a damaged saved image leaves a gap, not a failed report
    return out


def first_seeds(records: list[Record]) -> list[Record]:
    """Per dataset and method, the complete record of the lowest seed (what figures show)."""
    chosen: dict[tuple[str, str], Record] = {}
    for record in sorted(records, key=lambda r: r["seed"]):
        if record.get("status", "complete") == "complete":
            chosen.setdefault((record["dataset"], record["method"]), record)
    return list(chosen.values())


def _rows_of_images(rows: list[tuple[str, list[np.ndarray]]], title: str) -> bytes | None:
    rows = [(label, images) for label, images in rows if images]
    if not rows:
        return None
    columns = max(len(images) for _, images in rows)
    figure, axes = plt.subplots(len(rows), columns, figsize=(1.2 * columns, 1.35 * len(rows)), squeeze=False)
    for r, (label, images) in enumerate(rows):
        for c in range(columns):
            axis = axes[r][c]
            axis.set_xticks([])
            axis.set_yticks([])
            if c < len(images):
                axis.imshow(images[c])
            else:
                axis.axis("off")
        axes[r][0].set_ylabel(label, fontsize=8)
    figure.suptitle(title, fontsize=10)
    return _png(figure)


def cell_dir(results: Path, record: Record) -> Path:
    """The folder of a record's cell."""
    return results / "cells" / record["dataset"] / record["method"] / f"seed{record['seed']}"


def fakes_vs_real(results: Path, dataset: str, records: list[Record], per_row: int = PER_ROW) -> bytes | None:
    """Per method (lowest seed) a row of its fakes, under a row of real training defects (Figs. 5-7)."""
    rows = [("real defects", _images(results / "samples" / dataset / "real_defects", per_row))]
    for record in first_seeds(records):
        if record["dataset"] == dataset and record.get("fakes"):
            rows.append((record["method"], _images(cell_dir(results, record) / "fakes", per_row)))
    return _rows_of_images(rows, f"{dataset}: real training defects and each method's fakes") if len(rows) > 1 else None


def sources_vs_fakes(results: Path, record: Record, per_row: int = PER_ROW) -> bytes | None:
    """A method's fakes with what goes with each: the defect-free source it was made
    from (translation methods) above it, the defect mask it was made with or made
    (mask-aware methods) below it. None when there is neither."""
    folder = cell_dir(results, record)
    sources = _images(folder / "fakes_sources", per_row)
    masks = _images(folder / "fakes_masks", len(sources) or per_row)
    if not sources and not masks:
        return None
    rows = [("source", sources)] if sources else []
    rows.append(("fake", _images(folder / "fakes", len(sources) or len(masks))))
    if masks:
        rows.append(("mask", masks))
    path = " → ".join(["defect-free source"] * bool(sources) + ["fake"] + ["mask"] * bool(masks))
    return _rows_of_images(rows, f"{record['dataset']} / {record['method']}: {path}")


def confusion_matrices(records: list[Record], dataset: str, classifier: str) -> bytes | None:
    """Mean confusion matrix over seeds, baseline first, then each method (Fig. 9)."""
    groups: dict[str, list[np.ndarray]] = {}
    for record in records:
        result = record.get("classification", {}).get(classifier)
        if record["dataset"] == dataset and result:
            m = result["metrics"]
            groups.setdefault(record["method"], []).append(np.array([[m["tn"], m["fp"]], [m["fn"], m["tp"]]], float))
    if not groups:
        return None
    names = sorted(groups, key=lambda n: (n != "baseline", n))
    figure, axes = plt.subplots(1, len(names), figsize=(2.3 * len(names), 2.4), squeeze=False)
    for axis, name in zip(axes[0], names):
        matrix = np.mean(groups[name], axis=0)
        axis.imshow(matrix, cmap="Blues")
        for (i, j), value in np.ndenumerate(matrix):
            axis.text(j, i, f"{value:.1f}".rstrip("0").rstrip("."), ha="center", va="center", fontsize=9)
        axis.set_xticks([0, 1], ["free", "defect"], fontsize=7)
        axis.set_yticks([0, 1], ["free", "defect"], fontsize=7)
        axis.set_xlabel("predicted", fontsize=7)
        axis.set_title(f"{classifier}-only" if name == "baseline" else name, fontsize=8)
    axes[0][0].set_ylabel("true", fontsize=7)
    figure.suptitle(f"{dataset}: confusion matrices ({classifier}, mean over seeds)", fontsize=10)
    return _png(figure)


def misclassified(results: Path, records: list[Record], dataset: str, classifier: str,
                  per_row: int = PER_ROW) -> bytes | None:
    """The first misclassified test images of each method's classifier (lowest seed; Fig. 10)."""
    rows = []
    for record in sorted(first_seeds(records), key=lambda r: (r["method"] != "baseline", r["method"])):
        if record["dataset"] == dataset and classifier in record.get("classification", {}):
            folder = cell_dir(results, record) / f"classify-{classifier}" / "misclassified"
            label = f"{classifier}-only" if record["method"] == "baseline" else record["method"]
            rows.append((label, _images(folder, per_row)))
    return _rows_of_images(rows, f"{dataset}: misclassified test images ({classifier}, lowest seed)")


def loss_curves(results: Path, records: list[Record], dataset: str) -> bytes | None:
    """Every logged training loss of each generator (lowest seed), one panel per method."""
    panels = []
    for record in first_seeds(records):
        path = cell_dir(results, record) / "losses.csv"
        if record["dataset"] == dataset and path.exists():
            with path.open(encoding="utf-8") as handle:
                rows = list(csv.DictReader(handle))
            if rows:
                panels.append((record["method"], rows))
    if not panels:
        return None
    figure, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 2.6), squeeze=False)
    for axis, (method, rows) in zip(axes[0], panels):
        steps = [float(r["step"]) for r in rows]
        for key in [k for k in rows[0] if k != "step"]:
            axis.plot(steps, [float(r[key]) for r in rows], label=key, linewidth=1)
        axis.set_title(method, fontsize=8)
        axis.set_xlabel("step", fontsize=7)
        axis.tick_params(labelsize=6)
        axis.legend(fontsize=5)
    figure.suptitle(f"{dataset}: training losses (lowest seed)", fontsize=10)
    return _png(figure)


def quality_scatter(records: list[Record], dataset: str) -> bytes | None:
    """Precision vs recall and density vs coverage per method (quality vs diversity)."""
    points: dict[str, list[dict[str, float]]] = {}
    for record in records:
        if record["dataset"] == dataset and record.get("quality"):
            points.setdefault(record["method"], []).append(record["quality"]["prdc"])
    if not points:
        return None
    figure, axes = plt.subplots(1, 2, figsize=(7, 3))
    for axis, (x, y) in zip(axes, (("recall", "precision"), ("coverage", "density"))):
        for method, values in sorted(points.items()):
            xs, ys = [v[x] for v in values], [v[y] for v in values]
            axis.scatter(xs, ys, label=method, s=18)
        axis.set_xlabel(f"{x} (diversity)", fontsize=8)
        axis.set_ylabel(f"{y} (quality)", fontsize=8)
        axis.tick_params(labelsize=7)
    axes[1].legend(fontsize=6, loc="best")
    figure.suptitle(f"{dataset}: quality vs diversity (one point per seed)", fontsize=10)
    return _png(figure)
