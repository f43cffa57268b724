"""The ``studio`` command: no arguments opens the window; subcommands work without it.

Every subcommand is a thin skin over :mod:`studio.app` and the packages below it (the same
functions the window calls). Errors a
user can fix print one line and exit with status 2; there are no tracebacks for bad input.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from typing import Callable, Sequence

from studio.cli import clip_train, data, export, render, scoring, train
from studio.cli.common import EXIT_FAILURE, EXIT_USAGE, CliError

__all__ = ["main", "build_parser", "CliError", "EXIT_USAGE"]


def cmd_gui(args: argparse.Namespace) -> int:
    try:
        from studio.ui.app import run_app
    except ImportError as exc:   # PySide6 missing or broken: the CLI still works
        print(f"The studio window cannot start ({exc}); reinstall with `make run`, or use the subcommands "
              "(`studio --help`), e.g. `studio generate --network MODEL.pkl --seeds 1-4`.", file=sys.stderr)
        return EXIT_USAGE
    return run_app(model=args.model)


# --------------------------------------------------------------------------------------------
# Parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="studio",
        description="GAN Art Studio. Without a command, opens the studio window (optionally on MODEL).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument("--self-test", action="store_true",
                        help="check this installation: open the bundled model, render, export a 16-bit PNG, write "
                             "the library, open and close the window offscreen (--no-window leaves that out); "
                             "one line per check, exit status 0 or 1")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (render, export, scoring, data, train, clip_train):
        module.add_parsers(sub)
    return parser


def _subcommands(parser: argparse.ArgumentParser) -> list[str]:
    return [name for action in parser._actions if isinstance(action, argparse._SubParsersAction)
            for name in action.choices]


def _version() -> str:
    from studio import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--self-test"]:
        return self_test(window="--no-window" not in argv)
    parser = build_parser()
    commands = set(_subcommands(parser))
    if not argv or (argv[0] not in commands and not argv[0].startswith("-")):
        gui = argparse.ArgumentParser(prog="studio")
        gui.add_argument("model", nargs="?", help="network file or URL to open")
        return cmd_gui(gui.parse_args(argv))
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return run_command(args.func, args)


def self_test(window: bool = True) -> int:
    """``studio --self-test [--no-window]``: one line per check of this installation; 0 or 1."""
    from studio.app.selftest import run

    extra = []
    if window:
        def window_check() -> str:
            try:
                from studio.ui.app import window_check as check
            except ImportError as exc:
                raise RuntimeError(f"the window cannot start: {exc}") from None
            return check()

        extra.append(("window", window_check))
    return run(extra, print_line=lambda line: print(line, flush=True))


def _escape_unprintable_output() -> None:
    """File names that are not valid in the terminal's encoding print escaped (``caf\\udce9``).

    Without this a strict UTF-8 terminal turns a finished command's report into an error.
    """
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")


def run_command(func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    from studio.core.errors import StudioError
    from studio.core.runtime import tune_allocator

    tune_allocator()
    _escape_unprintable_output()
    # Pillow warns about every oddity of a damaged file (corrupt EXIF, skipped tags); the studio says
    # itself what it could not read, in one line, so these would only bury that line
    warnings.filterwarnings("ignore", module=r"PIL\.")

    try:
        return func(args)
    except (StudioError, CliError, ValueError) as exc:
        if os.environ.get("STUDIO_DEBUG"):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:   # the disk or the system refused: say what and where, in one line
        if os.environ.get("STUDIO_DEBUG"):
            raise
        where = f": {exc.filename}" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_FAILURE
    except MemoryError:     # a size nobody bounded yet: still one line, and the machine lives on
        if os.environ.get("STUDIO_DEBUG"):
            raise
        print("error: not enough memory for this command; try smaller sizes or fewer images at once", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
