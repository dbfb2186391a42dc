"""Which torch device a `--device` setting names: one place for training and for loading models."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import torch

from sketchlab.errors import ConfigError


def resolve_device(spec: str | torch.device) -> torch.device:
    """"auto" means CUDA when there is a GPU, else the CPU; a device that is unknown or not on this machine is a
    one-line ConfigError (torch would fail later with a traceback, or an assertion for a CPU-only build)."""
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(spec)
    except (RuntimeError, TypeError) as error:
        raise ConfigError(f"unknown device {spec!r}: use auto, cpu, cuda or cuda:N") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {spec!r} asked for, but CUDA is not available on this machine")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ConfigError(f"device {spec!r} asked for, but this machine has {torch.cuda.device_count()} GPU(s)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device {spec!r} asked for, but Apple's MPS is not available on this machine")
    if device.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"device {spec!r} is not supported: use auto, cpu, cuda, cuda:N or mps")
    return device


@functools.cache
def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bf16 in hardware (x86's avx512_bf16 or AMX): there bf16 matrix products run at
    2-4x float32's speed. Elsewhere torch emulates bf16, slower than float32, so nothing chooses it by default."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    return any(flag in flags.split() for flag in ("avx512_bf16", "amx_bf16"))
