"""The command line's errors and exit codes.

Exit status: 0 success; 1 a failure while converting, compiling or running (the
library raised); 2 a bad invocation or bad input (unknown option or device, missing
or malformed model file, bad ``--input`` file). Every error is printed as one line;
``--debug`` adds the traceback.
"""

from __future__ import annotations

#: Exit status of a bad invocation or input (argparse uses 2 as well).
USAGE = 2
#: Exit status of a failure inside the library or a host framework.
FAILURE = 1


class CLIError(Exception):
    """An error to show as one line, with its exit status."""

    def __init__(self, message: str, code: int = USAGE) -> None:
        super().__init__(message)
        self.code = code


def one_line(exc: BaseException) -> str:
    """``Type: first line of the message`` (the rest is for ``--debug``)."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    if len(text.splitlines()) > 1:
        first += " [...]"
    if isinstance(exc, CLIError):
        return first
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
