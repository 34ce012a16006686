"""The `nrc` command line. Each area of the package registers its own sub-commands."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from nrc import __version__

# Modules defining `register(subparsers)`; each adds its sub-commands with set_defaults(func=...).
COMMAND_MODULES = [
    "nrc.metrics.commands",
    "nrc.train.commands",
    "nrc.train.analyze",
    "nrc.data.commands",
    "nrc.ufm.commands",
    "nrc.experiments.commands",
]


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every registered sub-command."""
    parser = argparse.ArgumentParser(prog="nrc", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version", version=f"nrc {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `nrc` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except (ValueError, OSError, FloatingPointError) as err:
        print(f"nrc: error: {error_text(err)}", file=sys.stderr)
        return 2


def error_text(err: Exception) -> str:
    """The message of an expected error; an OS error names its file and its cause."""
    if isinstance(err, OSError) and err.filename is not None and err.strerror:
        return f"{err.filename}: {err.strerror}"
    return str(err)


if __name__ == "__main__":
    sys.exit(main())
