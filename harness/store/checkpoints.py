"""Read the ``.pt`` files of a results folder as data: ``torch.load(weights_only=True)`` only.

Results folders travel (shared, published, written on shared filesystems others can
write to), so a checkpoint in one is untrusted input: a full pickle load of a crafted
file runs any code it names. PyTorch's weights-only unpickler accepts tensors, numbers,
strings, bools, None, lists, tuples and dicts (and a few torch types such as dtypes),
so every checkpoint the harness writes holds only those (RNG states as tensors and
plain lists, see :func:`dg2bench.run.training.capture_rng_state`) and every one it
reads goes through :func:`load_checkpoint`. A file that needs more is refused with one
line and never loaded: ``--on-change restart`` moves its cell aside and runs it afresh.
"""

from __future__ import annotations

import pickle
import re
import zipfile
from pathlib import Path
from typing import Any

import torch

from dg2bench.errors import UnsafeCheckpointError

RESTART_FIX = "rerun with --on-change restart to move the cell aside (nothing is deleted) and start it afresh"
#: At most this many of the offending names go into the message (it stays one line).
NAMES_SHOWN = 3


def load_checkpoint(path: Path, map_location: torch.device | str) -> Any:
    """``torch.load(path, weights_only=True)``, with a one-line refusal for a pickle-only file.

    :raises UnsafeCheckpointError: the file names Python objects beyond plain data.
    """
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        # The weights-only unpickler stopped at a global it does not allow: nothing ran.
        raise needs_pickle_error(Path(path)) from None


def check_checkpoint(path: Path) -> None:
    """Raise :class:`UnsafeCheckpointError` unless ``path`` loads weights-only.

    The same unpickler as :func:`load_checkpoint`, but tensors are memory-mapped
    (``torch.save``'s zip format), not read: checking a large file costs little.
    """
    try:
        torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    except pickle.UnpicklingError:
        raise needs_pickle_error(Path(path)) from None


def check_folder_checkpoints(folder: Path) -> None:
    """:func:`check_checkpoint` every ``.pt`` file below ``folder`` (a cell's), in path order."""
    for path in sorted(Path(folder).rglob("*.pt")):
        check_checkpoint(path)


def needs_pickle_error(path: Path) -> UnsafeCheckpointError:
    """The one-line refusal of ``path``, naming what it would have made pickle import."""
    names = _unsafe_names(path)
    named = f" (it names {', '.join(names)})" if names else ""
    return UnsafeCheckpointError(str(path), f"needs a full pickle load{named}, which can run any code, so it is "
                                            "not loaded (checkpoints of dg2bench 0.1 need one too)", RESTART_FIX)


def _unsafe_names(path: Path) -> list[str]:
    """Up to :data:`NAMES_SHOWN` globals of ``path`` that the weights-only unpickler refuses.

    Read statically (the pickle is disassembled, not run); the names come from the file,
    so anything but dotted identifiers is replaced to keep the message one plain line.
    """
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:  # noqa: BLE001 - only decorates the message; the refusal stands without it
        return []
    return [re.sub(r"[^\w.]", "?", name)[:80] for name in sorted(names)[:NAMES_SHOWN]]
