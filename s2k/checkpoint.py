"""Checkpoints and weight files, in safetensors only (nothing is ever unpickled).

A checkpoint holds named modules' parameters, named optimizers' states (tensors in the file, the rest as
JSON in the metadata) and free JSON metadata (configuration, iteration, RNG state, metrics).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from s2k.errors import S2KError
from s2k.io import atomic_write

#: The folder of the shipped weight files and their model cards (inside the package).
WEIGHTS_DIR = Path(__file__).parent / "weights"


def _optimizer_to_flat(prefix: str, opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for idx, state in sd["state"].items():
        for key, val in state.items():
            if torch.is_tensor(val):
                tensors[f"{prefix}.state.{idx}.{key}"] = val.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(idx), {})[key] = val
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def save_checkpoint(
    path: str | Path,
    modules: dict[str, torch.nn.Module],
    optimizers: dict[str, torch.optim.Optimizer] | None = None,
    meta: dict[str, Any] | None = None,
    dtype: torch.dtype | None = None,
) -> None:
    """Write ``modules`` (and ``optimizers``) to a safetensors file, atomically.

    ``dtype`` (e.g. ``torch.float16``) converts float32 module tensors, for compact shipped weights
    (float64 buffers, such as a stored PCA basis, keep their precision).
    """
    tensors: dict[str, torch.Tensor] = {}
    for name, module in modules.items():
        module = getattr(module, "module", module)  # unwrap DistributedDataParallel
        for key, val in module.state_dict().items():
            t = val.detach().cpu()
            if dtype is not None and t.dtype == torch.float32:
                t = t.to(dtype)
            tensors[f"{name}.{key}"] = t.contiguous()
    opt_meta = {}
    for name, opt in (optimizers or {}).items():
        t, m = _optimizer_to_flat(f"opt.{name}", opt)
        tensors.update(t)
        opt_meta[name] = m
    metadata = {"s2k": json.dumps(meta or {}), "optimizers": json.dumps(opt_meta)}
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The free JSON metadata of a checkpoint or weight file."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return json.loads((f.metadata() or {}).get("s2k", "{}"))
    except (OSError, ValueError, RuntimeError, SafetensorError) as exc:
        raise S2KError(f"{path}: not a readable s2k weight file ({exc})") from None


def read_weight_metadata(path: str | Path, kind: str) -> dict[str, Any]:
    """The metadata of a weight file, checked to exist and to be of ``kind`` (user errors: S2KError)."""
    path = Path(path)
    if not path.is_file():
        raise S2KError(f"{path}: no such weight file")
    meta = read_metadata(path)
    if meta.get("kind") != kind:
        raise S2KError(f"{path}: not an {kind} weight file")
    return meta


def load_checkpoint(
    path: str | Path,
    modules: dict[str, torch.nn.Module],
    optimizers: dict[str, torch.optim.Optimizer] | None = None,
    strict: bool = True,
) -> dict[str, Any]:
    """Load what :func:`save_checkpoint` wrote into ``modules`` / ``optimizers``; returns the metadata."""
    try:
        with safe_open(str(path), framework="pt") as f:
            keys = list(f.keys())
            tensors = {k: f.get_tensor(k) for k in keys}
            raw = f.metadata() or {}
    except (OSError, ValueError, RuntimeError, SafetensorError) as exc:
        raise S2KError(f"{path}: not a readable s2k weight file ({exc})") from None
    for name, module in modules.items():
        module = getattr(module, "module", module)
        prefix = f"{name}."
        sd = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        ref = module.state_dict()
        sd = {k: v.to(ref[k].dtype) if k in ref else v for k, v in sd.items()}
        module.load_state_dict(sd, strict=strict)
    opt_meta = json.loads(raw.get("optimizers", "{}"))
    for name, opt in (optimizers or {}).items():
        m = opt_meta[name]
        state: dict[int, dict[str, Any]] = {}
        prefix = f"opt.{name}.state."
        for k, v in tensors.items():
            if k.startswith(prefix):
                idx, key = k[len(prefix) :].split(".", 1)
                state.setdefault(int(idx), {})[key] = v
        for idx, scal in m["scalars"].items():
            state.setdefault(int(idx), {}).update(scal)
        opt.load_state_dict({"state": state, "param_groups": m["param_groups"]})
    return json.loads(raw.get("s2k", "{}"))
