"""The ``webnn`` command line (also ``python -m webnn``).

Commands, one module each: ``run`` (:mod:`.cmd_run`), ``inspect`` (:mod:`.cmd_inspect`),
``bench`` (:mod:`.cmd_bench`), ``cache`` (:mod:`.cmd_cache`), ``ops`` (:mod:`.cmd_ops`).
Host frameworks are imported only by the command that needs them, so ``--help`` and
the usage errors answer at once. Errors are one line on stderr with exit status 2
(bad invocation or input) or 1 (a failure while converting, compiling or running);
``--debug`` shows the traceback and the frameworks' native logging.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from ._errors import FAILURE, USAGE, CLIError, one_line

__all__ = ["build_parser", "main"]

DESCRIPTION = """\
WebNN (the W3C Web Neural Network API) on torch, with ONNX Runtime, TFLite and torch.compile
integrations that fall back to the host framework for what WebNN does not take, and a persistent
graph cache shared by all three.

Start with `webnn run`: it runs a small sample network through all three integrations and shows
where each node ran, the outputs, and the time to first result with a cold and a warm cache."""

EPILOG = """\
examples:
  webnn run                                    the embedded sample through all three integrations
  webnn run model.onnx --input x=x.npy         one model file
  webnn inspect model.tflite --svg graph.svg   placement without running, and a picture of it
  webnn bench model.onnx --runs 50             WebNN vs the host framework's own path
  webnn cache list                             the graph cache's entries
  webnn ops --format json                      what WebNN and the converters take

exit status: 0 ok, 1 a failure while converting/compiling/running, 2 a bad invocation or input.
Run `webnn COMMAND --help` for each command's options."""


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (no usage dump)."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message} (see '{self.prog} --help')\n")
        raise SystemExit(USAGE)


def build_parser() -> argparse.ArgumentParser:
    from . import cmd_bench, cmd_cache, cmd_inspect, cmd_ops, cmd_run

    parser = _Parser(prog="webnn", description=DESCRIPTION, epilog=EPILOG,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"webnn {_version()}")
    parser.add_argument("--debug", action="store_true",
                        help="show tracebacks and the frameworks' native logging (may also follow the command)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module in (cmd_run, cmd_inspect, cmd_bench, cmd_cache, cmd_ops):
        module.add_parser(sub)
    for p in sub.choices.values():
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show tracebacks and the frameworks' native logging")
    return parser


def _version() -> str:
    from .. import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``webnn`` console script and ``python -m webnn``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    import importlib.util

    if importlib.util.find_spec("rich") is None:  # a dependency; missing only in a broken install
        sys.stderr.write("webnn: error: the command line needs rich, which is not installed (pip install rich)\n")
        return FAILURE
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    from ._ui import UI

    debug = bool(getattr(args, "debug", False))
    ui = UI(json_mode=bool(getattr(args, "json", False)), debug=debug)
    try:
        return int(args.handler(args, ui) or 0)
    except CLIError as exc:
        _fail(args.command, exc, exc.code, debug)
        return exc.code
    except KeyboardInterrupt:
        sys.stderr.write(f"webnn {args.command}: interrupted\n")
        return 130
    except Exception as exc:  # a library or framework failure: one line unless --debug
        _fail(args.command, exc, FAILURE, debug)
        return FAILURE
    finally:
        ui.close()


def _fail(command: str, exc: BaseException, code: int, debug: bool) -> Any:
    if debug:
        import traceback

        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    sys.stderr.write(f"webnn {command}: error: {one_line(exc)}\n")
    sys.stderr.flush()
