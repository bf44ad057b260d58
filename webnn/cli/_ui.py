"""Where the command line writes: results on stdout, progress and notes on stderr.

:class:`UI` holds the two rich consoles and the ``--json`` / ``--debug`` switches.
With ``--json`` stdout carries exactly one JSON document and nothing else. Progress
spinners appear only when stderr is a terminal. Native libraries (TensorFlow, TFLite,
XNNPACK) print start-up chatter straight to file descriptor 2; :meth:`UI.native_quiet`
silences that descriptor around such calls unless ``--debug`` is given, while our
own stderr console keeps writing to a duplicate of it.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import warnings
from collections.abc import Iterator
from typing import Any


class UI:
    """Consoles and switches of one command invocation."""

    def __init__(self, *, json_mode: bool = False, debug: bool = False) -> None:
        from rich.console import Console

        self.json_mode = json_mode
        self.debug = debug
        width = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 120
        self.out = Console(highlight=False, soft_wrap=False, width=width)
        try:
            err_file = os.fdopen(os.dup(sys.stderr.fileno()), "w", buffering=1, encoding="utf-8")
        except (OSError, ValueError, AttributeError):  # stderr without a descriptor (embedded use)
            err_file = sys.stderr
        self._err_file = err_file
        self.err = Console(file=err_file, highlight=False, width=width)
        self.warnings: list[str] = []

    # -- results ---------------------------------------------------------------------------
    def print(self, *objects: Any, **kwargs: Any) -> None:
        """Human output (suppressed with ``--json``)."""
        if not self.json_mode:
            self.out.print(*objects, **kwargs)

    def emit_json(self, document: Any) -> None:
        """The one JSON document of a ``--json`` invocation."""
        sys.stdout.write(json.dumps(document, indent=2, default=_json_default, allow_nan=False) + "\n")
        sys.stdout.flush()

    # -- stderr ----------------------------------------------------------------------------
    def note(self, message: str) -> None:
        """A remark on stderr (never mixed into results)."""
        self.err.print(f"[dim]note:[/dim] {message}", markup=True, highlight=False)

    @contextlib.contextmanager
    def status(self, message: str) -> Iterator[None]:
        """A spinner on stderr while something slow happens (only on a terminal)."""
        if self.err.is_terminal:
            with self.err.status(message, spinner="dots"):
                yield
        else:
            yield

    def progress(self) -> Any:
        """A rich progress bar on stderr (disabled when stderr is not a terminal)."""
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=self.err, transient=True, disable=not self.err.is_terminal)

    @contextlib.contextmanager
    def native_quiet(self) -> Iterator[None]:
        """Silence file descriptor 2 (native libraries' logging) unless ``--debug``."""
        if self.debug:
            yield
            return
        try:
            fd = sys.stderr.fileno()
        except (AttributeError, ValueError, OSError):
            yield
            return
        sys.stderr.flush()
        saved = os.dup(fd)
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, fd)
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, fd)
            os.close(saved)
            os.close(devnull)

    @contextlib.contextmanager
    def collect_warnings(self) -> Iterator[list[str]]:
        """Record Python warnings raised inside (fallback notices from the integrations)
        instead of letting them print; they are kept in :attr:`warnings` and yielded."""
        found: list[str] = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            warnings.filterwarnings("ignore", message=r".*tf\.lite\.Interpreter is deprecated.*")
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            warnings.filterwarnings("ignore", category=FutureWarning)
            try:
                yield found
            finally:
                for w in caught:
                    text = f"{w.category.__name__}: {str(w.message).strip()}"
                    if text not in found:
                        found.append(text)
                for text in found:
                    if text not in self.warnings:
                        self.warnings.append(text)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.err.file.flush()
        if self._err_file is not sys.stderr:
            with contextlib.suppress(Exception):
                self._err_file.close()


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def fmt_seconds(seconds: float | None) -> str:
    """``12.3 ms`` / ``1.23 s``."""
    if seconds is None:
        return "-"
    if seconds < 1.0:
        return f"{seconds * 1e3:.3g} ms" if seconds < 0.01 else f"{seconds * 1e3:.0f} ms"
    return f"{seconds:.2f} s"


def fmt_bytes(n: int) -> str:
    """``1.5 MiB``."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"
