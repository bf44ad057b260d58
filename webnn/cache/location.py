"""Where the graph cache lives, and the checks that make that place safe to use.

The root is chosen in this order: the context option ``cache_dir=``, then the
environment variable ``WEBNN_CACHE_DIR``, then the user's cache directory as
platformdirs reports it (``~/.cache/webnn`` on Linux). Everything the cache writes
goes into ``<root>/v1`` (the storage layout carries its schema version), a 0700
directory this module creates; files inside are 0600.

A root that is a symbolic link, is not a directory, belongs to another user, or is
writable by everyone without the sticky bit is refused with
:class:`CacheDirectoryError`: another user could otherwise read or plant compiled
graphs. Only the root and the directories below it are checked (a symlink higher up
the path, such as macOS's ``/tmp``, is the system's business).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from ..errors import NotSupportedError

#: Environment variable that overrides the default cache root.
ENV_VAR = "WEBNN_CACHE_DIR"
#: Name of the directory below the root holding this storage layout.
LAYOUT = "v1"


class CacheDirectoryError(NotSupportedError):
    """The cache directory is unsafe (symlink, foreign owner, world-writable) or not a directory.

    A ``NotSupportedError`` (DOMException name), so code that treats a disabled cache
    as optional treats a refused directory the same way; the message says why and how
    to choose another directory.
    """

    name = "NotSupportedError"


def resolve_root(option: str | os.PathLike[str] | None) -> Path:
    """The cache root for a context option: option, else ``$WEBNN_CACHE_DIR``, else platformdirs."""
    if option is not None:
        raw = os.fspath(option)
        if not raw:
            raise TypeError("create_context: cache_dir must be a non-empty path, got ''")
    else:
        raw = os.environ.get(ENV_VAR) or ""
        if not raw:
            import platformdirs

            raw = platformdirs.user_cache_dir("webnn", appauthor=False)
    return Path(raw).expanduser().absolute()


def _refuse(path: Path, why: str) -> CacheDirectoryError:
    return CacheDirectoryError(
        f"graph cache: refusing cache directory {str(path)!r}: {why}; choose another one with "
        f"create_context(cache_dir=...) or ${ENV_VAR}, or turn the cache off with cache=False")


def _check(path: Path, st: os.stat_result, *, private: bool) -> None:
    if stat.S_ISLNK(st.st_mode):
        raise _refuse(path, "it is a symbolic link")
    if not stat.S_ISDIR(st.st_mode):
        raise _refuse(path, "it is not a directory")
    if st.st_uid != os.geteuid():
        raise _refuse(path, f"it is owned by uid {st.st_uid}, not by this user (uid {os.geteuid()})")
    if private:
        if st.st_mode & 0o077:  # ours: take group/other access away rather than refuse
            os.chmod(path, stat.S_IMODE(st.st_mode) & 0o700)
    elif st.st_mode & stat.S_IWOTH and not st.st_mode & stat.S_ISVTX:
        raise _refuse(path, "it is writable by every user and has no sticky bit")


def _ensure(path: Path, *, private: bool, create: bool) -> bool:
    """Check ``path`` (creating it 0700 when asked); False if it does not exist."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        if not create:
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass  # another process made it: check what is there now
        st = os.lstat(path)
    _check(path, st, private=private)
    return True


def prepare(root: Path, *, create: bool) -> Path | None:
    """Check the root and make ``<root>/v1`` with its ``blobs`` and ``tmp`` folders.

    Returns ``<root>/v1``, or None when it does not exist and ``create`` is False.
    Raises :class:`CacheDirectoryError` for an unsafe directory and ``OSError`` when
    a directory cannot be created (read-only file system, no permission).
    """
    if not _ensure(root, private=False, create=create):
        return None
    layout = root / LAYOUT
    if not _ensure(layout, private=True, create=create):
        return None
    for sub in ("blobs", "tmp"):
        if not _ensure(layout / sub, private=True, create=create):
            return None
    return layout


def unwritable(exc: BaseException) -> str | None:
    """A reason ("disk-full", "read-only") when ``exc`` says storage cannot be written."""
    code = getattr(exc, "errno", None)
    if code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return "disk-full"
    if code in (errno.EROFS, errno.EACCES, errno.EPERM):
        return "read-only"
    text = str(exc).lower()
    if "disk is full" in text or "database or disk is full" in text:
        return "disk-full"
    if "readonly" in text or "read-only" in text or "unable to open" in text:
        return "read-only"
    return None
