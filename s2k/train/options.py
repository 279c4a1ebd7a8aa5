"""Config dataclasses as command-line flags: one ``--field-name`` per field, typed from its default.

Tuples are written comma-separated (``--scales 2,3,4``), booleans as ``--skips true|false``.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")


def _parse_bool(text: str) -> bool:
    low = text.lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _tuple_parser(example: tuple) -> Any:
    item_type = type(example[0]) if example else str

    def parse(text: str) -> tuple:
        try:
            return tuple(item_type(x) for x in text.split(",") if x.strip() != "")
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated {item_type.__name__}s, got {text!r}"
            ) from None

    return parse


def add_dataclass_arguments(parser: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = ()) -> None:
    """Add one optional flag per field of dataclass ``cls`` (default: the dataclass default)."""
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        flag = "--" + f.name.replace("_", "-")
        if isinstance(default, bool):
            kind: Any = _parse_bool
        elif isinstance(default, tuple):
            kind = _tuple_parser(default)
        else:
            kind = type(default)
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        parser.add_argument(flag, type=kind, default=None, help=f"(default {shown})", dest=f.name)


def dataclass_from_args(cls: type[T], args: argparse.Namespace, **overrides: Any) -> T:
    """Build ``cls`` from the flags that were given (the rest keep their defaults)."""
    values = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        if getattr(args, f.name, None) is not None
    }
    values.update(overrides)
    return cls(**values)
