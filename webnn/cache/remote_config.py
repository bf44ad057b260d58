"""Configuration of the graph cache's remote tier (Redis): the environment, a context option.

The remote tier is on when ``$WEBNN_CACHE_REMOTE`` holds a URL (``redis://host:port/db``,
``rediss://`` for TLS, ``unix:///path/to.sock``), or when a context is created with
``create_context(cache_remote="redis://...")``; ``cache_remote=None`` turns it off for
that context. Everything else comes from the environment (a URL given as the option
still takes them from there), or from a :class:`RemoteOptions` given as the option
(then nothing is read from the environment):

===================================== =============================================
``WEBNN_CACHE_REMOTE_SECRET``         shared secret (>= 16 bytes) authenticating
                                      entries (HMAC-SHA256); without it the remote
                                      tier is read-only
``WEBNN_CACHE_REMOTE_UNAUTHENTICATED`` ``1``: write without a secret anyway (opt-in)
``WEBNN_CACHE_REMOTE_PASSWORD``       Redis password when the URL has none
``WEBNN_CACHE_REMOTE_TIMEOUT_MS``     per-call timeout (connect and reply), 1000
``WEBNN_CACHE_REMOTE_RETRY_MS``       after a failure the remote is skipped this
                                      long before it is tried again, 5000
``WEBNN_CACHE_REMOTE_TTL_S``          expiry of each entry in Redis (default none)
``WEBNN_CACHE_REMOTE_WRITE``          ``async`` (default) or ``sync``
``WEBNN_CACHE_REMOTE_NAMESPACE``      prefix of every Redis key, default ``webnn``
===================================== =============================================

Only the ``redis`` package is needed (``pip install 'webnn[remote]'``); it is imported
when the tier is first used, and its absence is a clear error when a URL is set.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import NotSupportedError

ENV_URL = "WEBNN_CACHE_REMOTE"
ENV_SECRET = "WEBNN_CACHE_REMOTE_SECRET"  # noqa: S105  (a variable name, not a secret)
ENV_UNAUTHENTICATED = "WEBNN_CACHE_REMOTE_UNAUTHENTICATED"
ENV_PASSWORD = "WEBNN_CACHE_REMOTE_PASSWORD"  # noqa: S105
ENV_TIMEOUT = "WEBNN_CACHE_REMOTE_TIMEOUT_MS"
ENV_RETRY = "WEBNN_CACHE_REMOTE_RETRY_MS"
ENV_TTL = "WEBNN_CACHE_REMOTE_TTL_S"
ENV_WRITE = "WEBNN_CACHE_REMOTE_WRITE"
ENV_NAMESPACE = "WEBNN_CACHE_REMOTE_NAMESPACE"

SCHEMES = ("redis", "rediss", "unix")
WRITE_MODES = ("async", "sync")
MIN_SECRET_BYTES = 16
_NAMESPACE_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class _FromEnvironment:
    """The default of ``create_context(cache_remote=...)``: take ``$WEBNN_CACHE_REMOTE``."""

    def __repr__(self) -> str:
        return "<from $WEBNN_CACHE_REMOTE>"


FROM_ENVIRONMENT: Any = _FromEnvironment()


@dataclass(frozen=True)
class RemoteOptions:
    """Everything the remote tier needs (``create_context(cache_remote=RemoteOptions(...))``).

    ``secret``: bytes shared by the fleet; entries are authenticated with it, and
    without it the tier only reads (unless ``allow_unauthenticated_writes``).
    ``timeout_ms`` bounds every call (connect and each reply); after a failed call
    the remote is skipped for ``retry_ms``. ``ttl_s``: per-entry expiry in Redis.
    ``write``: "async" (a background thread with a bounded queue, the default) or
    "sync" (``save_graph`` returns after the upload). ``chunk_bytes``: values are
    split into Redis strings of at most this size. ``queue_bytes``: the most entry
    bytes waiting for an asynchronous upload. ``max_entry_bytes``: larger entries
    are neither uploaded nor downloaded.
    """

    url: str
    secret: bytes | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    allow_unauthenticated_writes: bool = False
    timeout_ms: int = 1000
    retry_ms: int = 5000
    ttl_s: int | None = None
    write: str = "async"
    namespace: str = "webnn"
    chunk_bytes: int = 8 << 20
    queue_bytes: int = 1 << 30
    max_entry_bytes: int = 8 << 30

    @property
    def authenticated(self) -> bool:
        """Entries are signed and checked with a shared secret."""
        return self.secret is not None

    @property
    def writable(self) -> bool:
        """This process may write to the remote (a secret, or the explicit opt-in)."""
        return self.secret is not None or self.allow_unauthenticated_writes

    @property
    def display_url(self) -> str:
        """The URL with any password replaced by ``***`` (for logs and the CLI)."""
        return redact(self.url)


def redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _env_int(name: str, default: int | None, minimum: int) -> int | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise TypeError(f"graph cache: ${name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise TypeError(f"graph cache: ${name} must be at least {minimum}, got {value}")
    return value


def from_environment(url: str) -> RemoteOptions:
    """Options for ``url`` with every other setting read from the environment."""
    secret = os.environ.get(ENV_SECRET) or None
    write = os.environ.get(ENV_WRITE, "").strip() or "async"
    return RemoteOptions(
        url=url,
        secret=secret.encode("utf-8") if secret is not None else None,
        password=os.environ.get(ENV_PASSWORD) or None,
        allow_unauthenticated_writes=os.environ.get(ENV_UNAUTHENTICATED, "").strip() in ("1", "true", "yes"),
        timeout_ms=_env_int(ENV_TIMEOUT, 1000, 1) or 1000,
        retry_ms=_env_int(ENV_RETRY, 5000, 0) or 0,
        ttl_s=_env_int(ENV_TTL, None, 1),
        write=write,
        namespace=os.environ.get(ENV_NAMESPACE, "").strip() or "webnn",
    )


def validate(opts: RemoteOptions, what: str = "create_context") -> RemoteOptions:
    """``opts`` if every field makes sense, else ``TypeError`` naming the field."""
    if not isinstance(opts.url, str) or not opts.url:
        raise TypeError(f"{what}: cache_remote URL must be a non-empty string, got {opts.url!r}")
    parts = urlsplit(opts.url)
    if parts.scheme not in SCHEMES:
        raise TypeError(f"{what}: cache_remote URL must start with redis://, rediss:// or unix://, "
                        f"got {redact(opts.url)!r}")
    if parts.scheme != "unix" and not parts.hostname:
        raise TypeError(f"{what}: cache_remote URL has no host: {redact(opts.url)!r}")
    if opts.secret is not None:
        if not isinstance(opts.secret, bytes):
            raise TypeError(f"{what}: the remote cache secret must be bytes, got {type(opts.secret).__name__}")
        if len(opts.secret) < MIN_SECRET_BYTES:
            raise TypeError(f"{what}: the remote cache secret (${ENV_SECRET}) must have at least "
                            f"{MIN_SECRET_BYTES} bytes, got {len(opts.secret)}")
    if opts.write not in WRITE_MODES:
        raise TypeError(f"{what}: remote cache write mode (${ENV_WRITE}) must be 'async' or 'sync', "
                        f"got {opts.write!r}")
    if not isinstance(opts.namespace, str) or not _NAMESPACE_RE.fullmatch(opts.namespace):
        raise TypeError(f"{what}: remote cache namespace (${ENV_NAMESPACE}) must be 1-64 characters of "
                        f"A-Z a-z 0-9 _ . -, got {opts.namespace!r}")
    for name, minimum in (("timeout_ms", 1), ("retry_ms", 0), ("chunk_bytes", 1 << 10),
                          ("queue_bytes", 0), ("max_entry_bytes", 1)):
        value = getattr(opts, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise TypeError(f"{what}: remote cache {name} must be an int >= {minimum}, got {value!r}")
    if opts.chunk_bytes > 256 << 20:
        raise TypeError(f"{what}: remote cache chunk_bytes must be at most 256 MiB (Redis strings stay "
                        f"well under its 512 MB limit), got {opts.chunk_bytes}")
    if opts.ttl_s is not None and (not isinstance(opts.ttl_s, int) or isinstance(opts.ttl_s, bool)
                                   or opts.ttl_s < 1):
        raise TypeError(f"{what}: remote cache ttl_s must be None or an int >= 1, got {opts.ttl_s!r}")
    return opts


def require_client(url: str, source: str) -> None:
    """A clear error naming the extra when the ``redis`` package is missing."""
    try:
        found = importlib.util.find_spec("redis") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise NotSupportedError(
            f"graph cache: the remote tier is configured ({source} = {redact(url)!r}) but the Python package "
            f"'redis' is not installed; install it with: pip install 'webnn[remote]' (or turn the remote "
            f"tier off: create_context(cache_remote=None), or unset ${ENV_URL})")


def resolve(option: Any, what: str = "create_context") -> RemoteOptions | None:
    """The remote options a context uses: None (off), or validated options."""
    if option is None:
        return None
    if option is FROM_ENVIRONMENT:
        url = os.environ.get(ENV_URL, "").strip()
        if not url:
            return None
        opts, source = from_environment(url), f"${ENV_URL}"
    elif isinstance(option, str):
        opts, source = from_environment(option), "cache_remote"
    elif isinstance(option, RemoteOptions):
        opts, source = option, "cache_remote"
    else:
        raise TypeError(f"{what}: cache_remote must be a redis:// URL, a webnn.cache.RemoteOptions or None, "
                        f"got {type(option).__name__}")
    validate(opts, what)
    require_client(opts.url, source)
    return opts


def replace(opts: RemoteOptions, **changes: Any) -> RemoteOptions:
    """A copy of ``opts`` with some fields changed (validated)."""
    return validate(dataclasses.replace(opts, **changes))
