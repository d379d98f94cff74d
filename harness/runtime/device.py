"""Device choice: ``auto`` picks CUDA when present; mixed precision only where safe."""

from __future__ import annotations

import os
import sys
from typing import Any

import torch
from dg2bench.errors import SpecError


def resolve_device(name: str, where: str = "--device") -> torch.device:
    """``auto`` → ``cuda`` if available else ``cpu``; an explicit CUDA request must be satisfiable.

    :param where: where ``name`` came from, named in errors (``--device``, or
        ``spec.toml: benchmark.device``: :attr:`Spec.device_source`).
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    fix = "use --device auto or --device cpu" if where.startswith("--") or not where else \
        "set device = \"auto\" (or \"cpu\") there, or pass --device cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise SpecError(where or "--device", f"{name} requested but no CUDA device is available", fix)
    try:
        return torch.device(name)
    except RuntimeError:
        raise SpecError(where or "--device", f"unknown device {name!r}", "use auto, cpu, cuda or cuda:N") from None


def prepare_device(device: torch.device) -> None:
    """Speed settings for a run on ``device``: cuDNN autotuning for the fixed image sizes.

    Autotuning picks kernels per shape, so CUDA runs are not bit-reproducible; CPU
    runs (where resume equality is promised and tested) are untouched.
    """
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True


PRECISIONS = ("auto", "fp32", "bf16")


def amp_dtype_for(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device`` (None: fp32).

    ``auto`` is bf16 autocast on CUDA GPUs that support it (no loss scaling needed) and
    fp32 on CPU; ``bf16`` asks for bf16 autocast on either (on a CPU without native
    bf16 it runs, slowly); ``fp32`` turns autocast off. Losses cast their inputs to
    fp32 whatever the autocast dtype.
    """
    if precision == "fp32":
        return None
    if precision == "bf16":
        if device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise SpecError("precision", f"{torch.cuda.get_device_name(device)} has no bf16", "use fp32 or auto")
        return torch.bfloat16
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return None


MEMORY_FORMATS = ("auto", "channels_last", "contiguous")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")


def uses_channels_last(device: torch.device, memory_format: str = "auto") -> bool:
    """Whether networks and batches go channels-last; ``auto`` says no on every device.

    Measured with ``benchmarks/perf/step_variants.py`` (docs/performance.md): channels-last
    made the bf16 DG2GAN step 1.25x slower on an H200 (0.112 vs 0.089 s/step at 256 px,
    batch 8; CycleGAN 1.05x slower) and 0.96x on the 2-core CPU by the performance issue's own measurement; instance norm and
    reflection padding are not NHWC-native. ``channels_last`` forces it for a try.
    """
    if memory_format == "auto":
        return False
    return memory_format == "channels_last"


def plan_speed_options(device: torch.device, benchmark: Any, precision: str | None = None) -> dict:
    """``TrainPlan`` keyword arguments for speed, from a spec's ``[benchmark]`` settings.

    :param benchmark: a :class:`~dg2bench.settings.BenchmarkSettings` (read by attribute:
        this leaf package imports nothing above it).
    :param precision: a plugin table's override of ``benchmark.precision``.
    """
    return {"amp_dtype": amp_dtype_for(device, precision or benchmark.precision),
            "channels_last": uses_channels_last(device, benchmark.memory_format),
            "compile_mode": benchmark.compile_mode if benchmark.compile else None,
            "inference_batch_size": int(benchmark.inference_batch_size)}


def precision_name(amp_dtype: torch.dtype | None) -> str:
    """``"bf16"`` or ``"fp32"``, as records name it."""
    return "bf16" if amp_dtype == torch.bfloat16 else "fp32"


def reset_peak_memory(device: torch.device) -> None:
    """Start a new peak-memory measurement: CUDA's peak stats, or on Linux the process's peak RSS.

    On CPU the kernel keeps one high-water mark per process (``VmHWM``); writing ``5``
    to ``/proc/self/clear_refs`` resets it to the current RSS, so a cell's peak is not
    an earlier cell's. Where that is not possible (not Linux, not permitted),
    :func:`peak_memory_mb` reports the process's peak so far, under another key.
    """
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")
        reset = True
    except OSError:
        reset = False
    global _peak_reset
    _peak_reset = reset


#: Whether the last :func:`reset_peak_memory` on CPU took effect.
_peak_reset = False


def peak_memory_mb(device: torch.device) -> dict[str, float]:
    """Peak memory since :func:`reset_peak_memory`, under a key that says what it is.

    ``cuda_peak_allocated_mb`` on a GPU; on CPU ``peak_rss_mb`` (the process's peak
    resident memory since the reset) or, where the reset was not possible,
    ``process_peak_rss_mb`` (the peak since the process started).
    """
    if device.type == "cuda":
        return {"cuda_peak_allocated_mb": torch.cuda.max_memory_allocated(device) / 2**20}
    if _peak_reset:
        try:
            with open("/proc/self/status", encoding="ascii") as handle:
                for line in handle:
                    if line.startswith("VmHWM:"):
                        return {"peak_rss_mb": int(line.split()[1]) / 1024}
        except OSError:
            pass
    try:
        import resource
    except ImportError:                                 # Windows: no portable peak to report
        return {}
    # ru_maxrss is in kB on Linux, in bytes on macOS.
    scale = 2**20 if sys.platform == "darwin" else 2**10
    return {"process_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale}


def device_name(device: torch.device) -> str:
    """A readable device name (the GPU's, on CUDA)."""
    return torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({os.cpu_count()} cores)"
