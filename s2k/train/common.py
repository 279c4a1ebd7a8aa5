"""What every s2k training run shares: the run folder, distributed set-up, learning-rate schedule, CSV logs.

A run folder holds ``config.json``, ``log.csv``, ``val.csv``, ``last.safetensors`` (everything to resume)
and ``best.safetensors``. Under ``torchrun`` (environment ``WORLD_SIZE`` > 1) the process group is NCCL on
CUDA and gloo on CPU; rank 0 alone logs, validates and saves.
"""

from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, TypeVar

import torch
import torch.distributed as dist

from s2k.checkpoint import read_metadata
from s2k.errors import S2KError

C = TypeVar("C")


def config_from_dict(cls: type[C], d: dict[str, Any]) -> C:
    """Rebuild a config dataclass from its JSON form (lists back to tuples, unknown keys ignored)."""
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in names})


def append_csv(path: Path, row: dict[str, Any]) -> None:
    """Append ``row`` to a CSV file, writing the header first when the file is new."""
    new = not path.exists()
    with path.open("a", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(row))
        if new:
            w.writeheader()
        w.writerow(row)


def lr_at(lr: float, schedule: str, it: int, iterations: int) -> float:
    """Learning rate at iteration ``it``: ``constant``, or ``cosine`` decay to 1 % at ``iterations``."""
    if schedule == "cosine":
        return lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(it, iterations) / iterations)))
    return lr


def setup_distributed(device: str) -> tuple[int, int, torch.device]:
    """``(world size, rank, device)``; joins the process group when run under ``torchrun``."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    dev = torch.device(device)
    if world > 1:
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
        if dev.type == "cuda":
            dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(dev)
    return world, rank, dev


def prepare_run(out: Path, cfg: C, resume: bool, main: bool) -> C:
    """Check the run folder and return the configuration to train with.

    A folder that already holds a run is only continued with ``resume`` (then the run's own configuration
    wins and only the iteration target may change); rank 0 writes ``config.json``.
    """
    last = out / "last.safetensors"
    if last.exists() and not resume:
        raise S2KError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
    if resume and last.exists():
        saved = read_metadata(last)["config"]
        cfg = config_from_dict(type(cfg), {**saved, "iterations": cfg.iterations})  # type: ignore[attr-defined]
    if main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(asdict(cfg), indent=2) + "\n")  # type: ignore[call-overload]
    return cfg
