"""Named points where a test can stall ``bench run``, to kill it there.

The fault suite (``tests/test_faults.py``) sets ``DG2BENCH_STALL_AT`` to a point's
name, starts ``bench run`` as a subprocess, waits for the file named by
``DG2BENCH_STALL_READY`` to appear (the process has reached the point and now
sleeps), and then kills it. The points:

- ``train:<step>`` / ``classify-<label>:<step>``: before that training step;
- ``generate``, ``score``, ``classify``: at the start of a stage of a cell;
- ``write:<file name>``: inside an atomic write, after the temporary file is written
  and before it replaces ``<file name>`` (``write:record.json``, ``write:checkpoint.pt``).

``DG2BENCH_FAIL_WRITE`` names a file whose atomic write fails halfway with ``ENOSPC``
(no space left on device), or with another errno as ``<file name>:EACCES``, to test
disk-full and unwritable-folder handling. Without these variables every point is
one dictionary lookup.
"""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

from dg2bench.runtime.interrupt import stop_requested

STALL_ENV, READY_ENV, FAIL_WRITE_ENV = "DG2BENCH_STALL_AT", "DG2BENCH_STALL_READY", "DG2BENCH_FAIL_WRITE"


def fault_point(name: str) -> None:
    """Stall here if ``DG2BENCH_STALL_AT`` names this point (after signalling readiness).

    The stall lasts until the process is killed or asked to stop by a signal.
    """
    if os.environ.get(STALL_ENV) != name:
        return
    ready = os.environ.get(READY_ENV)
    if ready:
        Path(ready).write_text(str(os.getpid()), encoding="utf-8")
    while stop_requested() is None:   # a stalled "step" ends when SIGINT/SIGTERM asks to stop
        time.sleep(0.05)


def write_fault(path: Path) -> None:
    """Raise ``ENOSPC`` (or the named errno) if ``DG2BENCH_FAIL_WRITE`` names ``path``'s file."""
    name, _, code = os.environ.get(FAIL_WRITE_ENV, "").partition(":")
    if name == Path(path).name:
        number = getattr(errno, code or "ENOSPC")
        raise OSError(number, os.strerror(number), str(path))
