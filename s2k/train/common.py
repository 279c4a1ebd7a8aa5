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
import time
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader

from s2k.checkpoint import load_checkpoint, read_metadata, save_checkpoint
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


def spread_level(low: float, high: float, index: int, count: int) -> float:
    """The ``index``-th of ``count`` levels spread evenly over ``[low, high]`` (bin centres:
    ``low + (high − low)·(index + 0.5) / count``), e.g. the noise levels of a fit's image groups."""
    return low + (high - low) * (index + 0.5) / count


def schedule_progress(it: int, iterations: int, elapsed_s: float = 0.0, time_limit_min: float = 0.0) -> float:
    """How far a run is through its schedule, in [0, 1]: ``it / iterations``, or, with a time limit
    (minutes, > 0), the larger of that and the fraction of the time limit spent (so a run capped by time,
    e.g. on a lent GPU, still ends its cosine decay)."""
    frac = it / iterations
    if time_limit_min > 0:
        frac = max(frac, elapsed_s / (60.0 * time_limit_min))
    return min(frac, 1.0)


def time_up(elapsed_s: float, time_limit_min: float) -> bool:
    """Whether a run with a time limit (minutes; 0 = none) has spent it."""
    return time_limit_min > 0 and elapsed_s >= 60.0 * time_limit_min


def lr_at(lr: float, schedule: str, progress: float) -> float:
    """Learning rate at schedule ``progress`` in [0, 1] (:func:`schedule_progress`): ``constant``, or
    ``cosine`` decay to 1 % at the end."""
    if schedule == "cosine":
        return lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(max(progress, 0.0), 1.0))))
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
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input sizes per network and scale
    return world, rank, dev


# What a resumed run may change (where its configuration has the field): how far it goes and where it runs;
# everything else (data, network, optimiser, schedule) is the run's own.
RESUME_CHANGEABLE = ("iterations", "time_limit_min", "threads", "workers", "device")


def saved_run_config(out: str | Path) -> dict[str, Any] | None:
    """The configuration of the run in folder ``out`` (from its ``last.safetensors``), or None if none."""
    last = Path(out) / "last.safetensors"
    return read_metadata(last)["config"] if last.exists() else None


def prepare_run(out: Path, cfg: C, resume: bool, main: bool) -> C:
    """Check the run folder and return the configuration to train with.

    A folder that already holds a run is only continued with ``resume`` (then the run's own configuration
    wins except for :data:`RESUME_CHANGEABLE`, taken from ``cfg``); rank 0 writes ``config.json``.
    """
    last = out / "last.safetensors"
    if last.exists() and not resume:
        raise S2KError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
    if resume and last.exists():
        saved = saved_run_config(out) or {}
        changed = {k: getattr(cfg, k) for k in RESUME_CHANGEABLE if hasattr(cfg, k)}
        cfg = config_from_dict(type(cfg), {**saved, **changed})
    if main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(asdict(cfg), indent=2) + "\n")  # type: ignore[call-overload]
    return cfg


class RunRecorder:
    """The bookkeeping every trainer shares: resume state, wall time summed over sessions, CSV rows with
    ``iteration`` and ``wall_s``, ``last`` / ``best`` checkpoints with the run's metadata (``kind``,
    ``config``, ``iteration``, ``best``, ``wall_s``). Only rank 0 writes."""

    def __init__(
        self,
        out: Path,
        kind: str,
        cfg: Any,
        modules: dict[str, torch.nn.Module],
        optimizers: dict[str, torch.optim.Optimizer],
        higher_is_better: bool,
        best_modules: dict[str, torch.nn.Module] | None = None,
    ) -> None:
        self.out, self.kind, self.cfg = out, kind, cfg
        self.modules, self.optimizers = modules, optimizers
        self.best_modules = best_modules or modules
        self.higher = higher_is_better
        self.best = -math.inf if higher_is_better else math.inf
        self.wall_before = 0.0
        self.t0 = time.time()

    def resume(self) -> int:
        """Load ``last.safetensors`` (modules, optimizers, best score, wall time); returns its iteration."""
        meta = load_checkpoint(self.out / "last.safetensors", self.modules, self.optimizers)
        self.best = meta.get("best", self.best)
        self.wall_before = meta.get("wall_s", 0.0)
        return int(meta["iteration"])

    def start_clock(self) -> None:
        self.t0 = time.time()

    @property
    def elapsed(self) -> float:
        """Seconds since :meth:`start_clock` (this session)."""
        return time.time() - self.t0

    @property
    def wall(self) -> float:
        """Seconds of training over all sessions of the run."""
        return self.wall_before + self.elapsed

    def row(self, name: str, it: int, values: dict[str, Any]) -> None:
        """Append ``values`` to the run's CSV file ``name`` after ``iteration`` and ``wall_s``."""
        append_csv(self.out / name, {"iteration": it, "wall_s": round(self.wall, 1), **values})

    def save(
        self,
        name: str,
        it: int,
        with_optimizers: bool = True,
        extra: dict[str, Any] | None = None,
        modules: dict[str, torch.nn.Module] | None = None,
    ) -> None:
        meta = {
            "kind": self.kind,
            "config": asdict(self.cfg),
            "iteration": it,
            "best": self.best,
            "wall_s": self.wall,
            **(extra or {}),
        }
        opts = self.optimizers if with_optimizers else None
        save_checkpoint(self.out / name, modules or self.modules, opts, meta)

    def offer(self, it: int, score: float, val: dict[str, float]) -> None:
        """Save ``best.safetensors`` (``best_modules``, no optimizers) when ``score`` beats the best."""
        if (score > self.best) if self.higher else (score < self.best):
            self.best = score
            self.save("best.safetensors", it, False, {"val": val}, self.best_modules)

    def validated(self, it: int, val: dict[str, float], score: float, fmt: str, shown: str, bar: Any) -> None:
        """Record a validation: a ``val.csv`` row (values formatted with ``fmt``), ``shown`` written under
        the progress bar, and ``best.safetensors`` when ``score`` beats the best (:meth:`offer`)."""
        self.row("val.csv", it, {k: format(v, fmt) for k, v in val.items()})
        bar.write(f"[{it}] {shown}")
        self.offer(it, score, val)

    def checkpoint(self, it: int, every: int, iterations: int, last_step: bool = False) -> None:
        """Save ``last.safetensors`` when due (:func:`due`); ``last_step``: after the loop, save unless the
        loop's final iteration has just saved (a run stopped by its time limit)."""
        if due(it, every, iterations) != last_step:
            self.save("last.safetensors", it)


def due(it: int, every: int, iterations: int) -> bool:
    """Whether a periodic action (log, validation, checkpoint) falls on iteration ``it``."""
    return it % every == 0 or it == iterations


def end_run(bar: Any, world: int) -> None:
    """Close the progress bar and leave the process group (under torchrun)."""
    bar.close()
    if world > 1:
        dist.destroy_process_group()


def check_init(path: str | Path, expected: dict[str, Any], network_of: dict[str, Any]) -> None:
    """Check that weights to fine-tune from hold the configured network: ``network_of`` maps each accepted
    metadata ``kind`` to a function giving the file's network description from its metadata."""
    meta = read_metadata(path)
    kind = meta.get("kind")
    if kind not in network_of:
        raise S2KError(f"{path}: not one of {', '.join(network_of)}")
    theirs = network_of[kind](meta)
    if theirs != expected:
        raise S2KError(f"{path}: its network {theirs} differs from the configured {expected}")


def make_loader(dataset: torch.utils.data.IterableDataset, workers: int, prefetch: int) -> DataLoader:
    """A DataLoader over an endless batch stream (batches are made whole by the dataset)."""
    return DataLoader(
        dataset,
        batch_size=None,
        num_workers=workers,
        persistent_workers=workers > 0,
        prefetch_factor=prefetch if workers > 0 else None,
    )


def begin_run(cfg: C, out: Path, resume: bool) -> tuple[C, int, int, torch.device]:
    """The start every trainer shares: join the process group (under torchrun), threads, seed, run folder;
    returns ``(config to train with, world size, rank, device)``."""
    world, rank, device = setup_distributed(cfg.device)  # type: ignore[attr-defined]
    if cfg.threads:  # type: ignore[attr-defined]
        torch.set_num_threads(cfg.threads)  # type: ignore[attr-defined]
    torch.manual_seed(cfg.seed)  # type: ignore[attr-defined]
    return prepare_run(out, cfg, resume, rank == 0), world, rank, device


def export_run(
    checkpoint: str | Path,
    output: str | Path,
    run_kind: str,
    build: Any,
    half: bool = True,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write a run checkpoint's network as a shippable weight file (fp16 by default; float64 buffers kept).

    ``build(run_config_dict) -> (module name, module, metadata)`` makes the empty network and the weight
    file's own metadata (``kind`` and the network description); the training summary (iteration, wall
    time, configuration, validation) is added under ``training``. Returns the written metadata.
    """
    run_meta = read_metadata(checkpoint)
    if run_meta.get("kind") != run_kind:
        raise S2KError(f"{checkpoint}: not an {run_kind} checkpoint")
    name, net, own = build(run_meta["config"])
    load_checkpoint(checkpoint, {name: net}, strict=True)
    meta = {
        **own,
        "training": {
            "iteration": run_meta["iteration"],
            "wall_s": run_meta.get("wall_s"),
            "config": run_meta["config"],
            "val": run_meta.get("val"),
        },
        **(extra or {}),
    }
    save_checkpoint(output, {name: net}, None, meta, dtype=torch.float16 if half else None)
    return meta
