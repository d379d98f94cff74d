"""A copy of a results folder that is small and safe to publish (``bench export``).

What tables, the report and a resume read is kept: ``run.json``, the resolved specs
(``spec.resolved.toml``, ``specs/``), the split manifests (``splits/``) and, per
complete cell, every JSON and CSV file (``record.json`` with every test prediction,
``config.json``, ``train.json``, ``fakes.json``, ``quality.json``, ``losses.csv``). Images
are kept only in the folders a figure shows, of the cells it shows (the lowest seed of
each method), and only as many as it shows (:data:`dg2bench.report.figures.PER_ROW`,
the first by name), so the export's figures are those of the full folder.

At the scale of a real protocol (55 cells, 2,100 test predictions each) the records
are most of the size, so two things keep it small: a classifier's stage result
(``classify-<label>/result.json``) is left out where the complete record holds the same
result (a resume of a complete cell reads only the record), and ``record.json`` is
written without indentation (the same JSON values, about half the bytes).

Left out: weights and checkpoints (``*.pt``: large, and never needed once a cell is
complete), the real-image feature cache (``cache/``: recomputed when needed), the other
images, partial cells (no ``record.json``: resuming them needs their checkpoints),
``superseded/`` cells, lock files (they name a host and pid), temporary files, symbolic
links (they may point outside the folder) and anything else (listed by the summary).
A failed cell keeps only ``record.json`` and ``config.json``: its stage files would
send ``--retry-failed`` to the weights the export leaves out, so the retry starts afresh.

The copy is built in a temporary folder beside ``out`` and renamed into place at the
end, so ``out`` appears only when the export is whole.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path

from dg2bench.data.image_folders import IMAGE_SUFFIXES
from dg2bench.errors import BenchError
from dg2bench.store.results import RECORD_NAME, ResultStore

#: Top-level files and folders kept whole (folders: their files; the names are what a run writes).
KEPT_TOP = ("run.json", "spec.resolved.toml", "specs", "splits")
#: Files kept in a complete cell's folder (and its ``classify-<label>/``), by suffix.
CELL_SUFFIXES = (".json", ".csv")
#: What a failed cell keeps: the record (tables list the failure) and the configuration
#: (a rerun with another configuration is refused, as on the original folder).
FAILED_CELL_FILES = (RECORD_NAME, "config.json")

#: Why a file was left out, as the summary names it.
WEIGHTS = "weights and checkpoints (*.pt)"
CACHE = "feature cache (cache/)"
IMAGES = "images no figure shows"
REPEATED = "classifier results the record repeats (classify-*/result.json)"
PARTIAL = "partial cells (no record.json)"
FAILED_STAGES = "stage files of failed cells"
SUPERSEDED = "superseded cells (superseded/)"
LOCKS = "lock files"
TEMPORARY = "temporary files"
LINKS = "symbolic links"
OTHER = "other files"


@dataclasses.dataclass
class ExportSummary:
    """What :func:`export_results` copied and what it left out (files and bytes per reason)."""

    out: Path
    files: int = 0
    bytes: int = 0
    cells: int = 0
    images_per_folder: int = 0
    left_out_files: Counter = dataclasses.field(default_factory=Counter)
    left_out_bytes: Counter = dataclasses.field(default_factory=Counter)

    def leave_out(self, reason: str, path: Path) -> None:
        """Count ``path`` as left out for ``reason``."""
        self.left_out_files[reason] += 1
        self.left_out_bytes[reason] += path.lstat().st_size


def format_size(size: int) -> str:
    """``"812 B"``, ``"1.4 MB"``: decimal units, as ``du --si`` and GitHub show them."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def export_results(results: Path | str, out: Path | str, images: int | None = None) -> ExportSummary:
    """Copy what tables, the report and a resume need from ``results`` to ``out`` (see the module).

    :param images: images kept per folder a figure shows [default: as many as it shows].
    :raises BenchError: ``results`` is not a results folder, or ``out`` is not a new
        (or empty) folder outside it.
    """
    from dg2bench.report.figures import IMAGE_FOLDERS, PER_ROW, cell_dir, first_seeds

    results, out = Path(results), Path(out)
    _check_paths(results, out)
    summary = ExportSummary(out, images_per_folder=PER_ROW if images is None else images)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".export", dir=out.parent))
    # mkdtemp makes a private (0700) folder: the export is for sharing.
    staging.chmod(0o755)
    shown = {cell_dir(results, record) for record in first_seeds(
        [r for r in ResultStore(results).records() if r.get("status", "complete") == "complete"])}
    choose = _Chooser(results, summary.images_per_folder, IMAGE_FOLDERS, shown)
    try:
        for path in sorted(_files(results, summary)):
            relative = path.relative_to(results)
            reason = choose.reason_to_leave_out(relative)
            if reason:
                summary.leave_out(reason, path)
                continue
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            if path.name == RECORD_NAME:
                # The same values without indentation (the predictions are most of it).
                compact = json.dumps(json.loads(path.read_text(encoding="utf-8")), separators=(",", ":"),
                                     ensure_ascii=False)
                target.write_text(compact + "\n", encoding="utf-8")
            else:
                # copyfile, not copy2: files written atomically are private (0600); the copy
                # takes the usual permissions, as a folder to share should.
                shutil.copyfile(path, target)
            summary.files += 1
            summary.bytes += target.stat().st_size
        summary.cells = len(list(staging.glob(f"cells/*/*/seed*/{RECORD_NAME}")))
        if out.is_dir():
            out.rmdir()   # empty (checked): the rename needs it gone
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return summary


def _check_paths(results: Path, out: Path) -> None:
    if not results.is_dir():
        raise BenchError(str(results), "no such results folder", "pass the folder given to `bench run --results`")
    if not ResultStore(results).records():
        raise BenchError(str(results), "holds no complete cell record", "run `bench run SPEC --results DIR` first")
    if out.exists() and not out.is_dir():
        raise BenchError(str(out), "is a file", "pass a new folder to export into")
    if out.is_dir() and any(out.iterdir()):
        raise BenchError(str(out), "exists and is not empty", "remove it first, or pass a new folder")
    resolved_results, resolved_out = results.resolve(), out.resolve()
    if resolved_out == resolved_results or resolved_results in resolved_out.parents:
        raise BenchError(str(out), f"is inside the results folder {results}", "pass a folder outside it")


def _files(results: Path, summary: ExportSummary):
    """Every file below ``results``; symbolic links are counted as left out, never followed."""
    for folder, dirs, names in os.walk(results):
        for name in names + [d for d in dirs if (Path(folder) / d).is_symlink()]:
            path = Path(folder) / name
            if path.is_symlink():
                summary.leave_out(LINKS, path)
            else:
                yield path


class _Chooser:
    """Decides per file; remembers each cell's status and each image folder's first images
    (read once: a folder of thousands of fakes is listed once, not once per fake)."""

    def __init__(self, results: Path, images: int, image_folders: tuple[str, ...], shown: set[Path]) -> None:
        self.results, self.images, self.image_folders = results, images, image_folders
        self.shown = shown      # the cell folders whose images a figure shows
        self._status: dict[Path, str | None] = {}
        self._first: dict[Path, set[str]] = {}

    def reason_to_leave_out(self, relative: Path) -> str | None:
        """Why ``relative`` (below the results folder) stays out of the export, or None to keep it."""
        parts, name = relative.parts, relative.name
        if name.startswith(".") and name.endswith(".tmp"):
            return TEMPORARY
        if relative.suffix == ".pt":
            return WEIGHTS
        if parts[0] in (".lock", ".lock.json"):
            return LOCKS
        if parts[0] == "cache":
            return CACHE
        if parts[0] == "superseded":
            return SUPERSEDED
        if parts[0] in KEPT_TOP:
            return None
        if parts[0] == "samples":
            return self._image_reason(relative)
        if parts[0] == "cells" and len(parts) >= 5:
            status = self._cell_status(self.results.joinpath(*parts[:4]))
            if status is None:
                return PARTIAL
            if status != "complete":
                return None if len(parts) == 5 and name in FAILED_CELL_FILES else FAILED_STAGES
            if relative.suffix.lower() in IMAGE_SUFFIXES:
                shown = self.results.joinpath(*parts[:4]) in self.shown
                return self._image_reason(relative) if shown else IMAGES
            if len(parts) == 6 and parts[4].startswith("classify-") and name == "result.json" and \
                    self._repeated_in_record(relative, parts[4].removeprefix("classify-")):
                return REPEATED
            return None if relative.suffix in CELL_SUFFIXES else OTHER
        return OTHER

    def _image_reason(self, relative: Path) -> str | None:
        """Keep the first images (by name, as the figures pick them) of a folder a figure shows."""
        if relative.suffix.lower() not in IMAGE_SUFFIXES:
            return OTHER
        folder = self.results / relative.parent
        if folder.name not in self.image_folders:
            return IMAGES
        if folder not in self._first:
            names = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            self._first[folder] = set(names[:self.images])
        return None if relative.name in self._first[folder] else IMAGES

    def _repeated_in_record(self, relative: Path, classifier: str) -> bool:
        """Whether the complete record of ``relative``'s cell holds this classifier result unchanged."""
        cell = self.results.joinpath(*relative.parts[:4])
        try:
            record = json.loads((cell / RECORD_NAME).read_text(encoding="utf-8"))
            result = json.loads((self.results / relative).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return (record.get("classification") or {}).get(classifier) == result

    def _cell_status(self, cell: Path) -> str | None:
        """A cell's record status (``complete``, ``failed``), or None when it has no record yet."""
        if cell not in self._status:
            try:
                record = json.loads((cell / RECORD_NAME).read_text(encoding="utf-8"))
                # Records of the first versions have no status: they were complete (as figures.py reads them).
                self._status[cell] = record.get("status", "complete")
            except FileNotFoundError:
                self._status[cell] = None
            except (OSError, ValueError) as exc:
                raise BenchError(str(cell / RECORD_NAME), f"is not a readable cell record ({exc})",
                                 "delete that cell's folder and rerun `bench run` to redo the cell") from None
        return self._status[cell]
