"""Give an exported denoiser weight file the training history of the weights it started from.

    python scripts/stack_history.py BASE NEW --command "s2k train denoiser ..." --where "1x NVIDIA H200 ..."

``NEW`` (from ``s2k train export``) holds only its own run in its ``training`` metadata; the model card
(``benchmarks/sr_model_card.py``) lists every stage from ``history``. This writes into ``NEW``:
``history`` = ``BASE``'s stages (or its ``training`` as stage 1) followed by ``NEW``'s run as the next stage,
with the command that ran it, where, and (``--val-images``) what its validation images were. The tensors
are rewritten unchanged.
"""

from __future__ import annotations

import argparse
import json

from safetensors import safe_open
from safetensors.torch import save_file

from s2k.checkpoint import read_metadata


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("base")
    p.add_argument("new")
    p.add_argument("--command", required=True)
    p.add_argument("--where", required=True)
    p.add_argument(
        "--val-images",
        default="",
        help="what the run's validation images were, where its --val-dir was a copy "
        "(e.g. 'BSD100 images 61-68, copied to .gpu/val')",
    )
    args = p.parse_args()
    base = read_metadata(args.base)
    stages = base.get("history") or [{**base["training"], "stage": 1}]
    with safe_open(args.new, framework="pt") as f:
        raw = dict(f.metadata() or {})
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    meta = json.loads(raw["s2k"])
    stage = {**meta["training"], "stage": stages[-1]["stage"] + 1}
    stage.update(command=args.command, where=args.where)
    if args.val_images:
        stage["val_images"] = args.val_images
    meta["history"] = [*stages, stage]
    raw["s2k"] = json.dumps(meta)
    save_file(tensors, args.new, metadata=raw)
    print(f"{args.new}: stages {[s['stage'] for s in meta['history']]}")


if __name__ == "__main__":
    main()
