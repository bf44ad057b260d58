"""How a cache entry looks in Redis: key names, the signed manifest, the chunks.

An entry is the local store's blob, byte for byte (``blobfile``: JSON header with the
entry's identity and versions, aligned raw arrays, the BLAKE3 checksum),
split into chunks of at most ``chunk_bytes`` plus a small manifest::

    <ns>:g1:m:<entry id>                  manifest: b"WNNR" 0x01, 32-byte MAC, JSON
    <ns>:g1:c:<entry id>:<token>:<i>      chunk i of the blob (raw bytes)
    <ns>:g1:o:<origin id>                 set of the entry ids of one origin (listing)

Names never contain a user's key, origin or device: the entry id is an HMAC-SHA256 of
``[origin, device, key, versions]`` under a key derived from the shared secret (from
the empty string without one), so another secret or another library version is
another name, and someone who can read Redis cannot test guesses of keys. ``token``
is random per upload, so a replacement never overwrites chunks a reader is fetching.

The manifest JSON holds the identity, the size, the blob checksum, the chunk layout,
the token and the creation time; its MAC (HMAC-SHA256 under a second derived key) is
checked before the JSON is parsed. The checksum in the authenticated manifest covers
the whole value, so a forged, truncated, reordered or bit-flipped chunk is caught
after reassembly, before any byte is parsed. Nothing here executes code: JSON and raw
numeric arrays only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import blobfile

FORMAT = 1
_MAGIC = b"WNNR" + bytes([FORMAT])
_MAC_BYTES = 32
#: A manifest is small; anything bigger is rejected before parsing.
MANIFEST_LIMIT = 64 << 10
_HEX64 = re.compile(r"[0-9a-f]{64}")
_TOKEN = re.compile(r"[0-9a-f]{16,64}")
_FIELDS = {"format", "origin", "device", "key", "versions", "size", "checksum", "chunk_bytes", "chunks",
           "token", "created", "auth"}


class Rejected(Exception):
    """A remote value that must not be used; ``reason`` names why (a counter reason)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


@dataclass(frozen=True)
class Keys:
    """The two keys derived from the shared secret (or from nothing)."""

    names: bytes
    mac: bytes
    authenticated: bool


def derive_keys(secret: bytes | None) -> Keys:
    base = secret or b""
    return Keys(hmac.new(base, b"webnn graph cache remote names v1", hashlib.sha256).digest(),
                hmac.new(base, b"webnn graph cache remote mac v1", hashlib.sha256).digest(),
                secret is not None)


@dataclass(frozen=True)
class Identity:
    """What an entry is: the local store's (origin, device, key, versions)."""

    origin: str
    device: str
    key: str
    versions: str

    def as_dict(self) -> dict[str, str]:
        return {"origin": self.origin, "device": self.device, "key": self.key, "versions": self.versions}


class Names:
    """Redis key names of one namespace under one secret."""

    def __init__(self, namespace: str, keys: Keys) -> None:
        self.prefix = f"{namespace}:g{FORMAT}:"
        self._keys = keys

    def _digest(self, *parts: str) -> str:
        text = json.dumps(list(parts), ensure_ascii=True, separators=(",", ":")).encode()
        return hmac.new(self._keys.names, text, hashlib.sha256).hexdigest()

    def entry_id(self, ident: Identity) -> str:
        return self._digest("entry", ident.origin, ident.device, ident.key, ident.versions)

    def manifest(self, entry_id: str) -> str:
        return f"{self.prefix}m:{entry_id}"

    def chunk(self, entry_id: str, token: str, index: int) -> str:
        return f"{self.prefix}c:{entry_id}:{token}:{index}"

    def chunks(self, entry_id: str, token: str, count: int) -> list[str]:
        return [self.chunk(entry_id, token, i) for i in range(count)]

    def origin_set(self, origin: str) -> str:
        return f"{self.prefix}o:{self._digest('origin', origin)}"

    @staticmethod
    def is_entry_id(value: object) -> bool:
        return isinstance(value, str) and _HEX64.fullmatch(value) is not None


@dataclass(frozen=True)
class Manifest:
    """A checked manifest."""

    ident: Identity
    size: int
    checksum: str
    chunk_bytes: int
    chunks: int
    token: str
    created: int


def make_manifest(ident: Identity, size: int, checksum: str, chunk_bytes: int, token: str,
                  created: int) -> Manifest:
    return Manifest(ident, size, checksum, chunk_bytes, max(1, math.ceil(size / chunk_bytes)), token, created)


def seal(manifest: Manifest, keys: Keys) -> bytes:
    """The manifest's Redis value: magic, MAC, canonical JSON."""
    doc = {**manifest.ident.as_dict(), "format": FORMAT, "size": manifest.size, "checksum": manifest.checksum,
           "chunk_bytes": manifest.chunk_bytes, "chunks": manifest.chunks, "token": manifest.token,
           "created": manifest.created, "auth": "hmac-sha256" if keys.authenticated else "none"}
    body = json.dumps(doc, sort_keys=True, ensure_ascii=True, separators=(",", ":")).encode()
    return _MAGIC + _mac(keys, body) + body


def _mac(keys: Keys, body: bytes) -> bytes:
    return hmac.new(keys.mac, b"manifest\0" + body, hashlib.sha256).digest()


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse(body: bytes) -> Manifest:
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Rejected("malformed", f"the manifest is not JSON: {exc}") from None
    if not isinstance(doc, dict) or set(doc) != _FIELDS:
        raise Rejected("malformed", "the manifest has the wrong fields")
    texts = ("origin", "device", "key", "versions", "checksum", "token", "auth")
    ints = ("format", "size", "chunk_bytes", "chunks", "created")
    if not all(isinstance(doc[f], str) for f in texts) or not all(_is_int(doc[f]) for f in ints):
        raise Rejected("malformed", "the manifest's fields have the wrong types")
    if doc["format"] != FORMAT:
        raise Rejected("stale", f"remote entry format {doc['format']}, this library reads {FORMAT}")
    size, chunk_bytes, chunks = doc["size"], doc["chunk_bytes"], doc["chunks"]
    if (size <= 0 or chunk_bytes <= 0 or chunks != max(1, math.ceil(size / chunk_bytes))
            or not _HEX64.fullmatch(doc["checksum"]) or not _TOKEN.fullmatch(doc["token"])):
        raise Rejected("malformed", "the manifest's layout fields are inconsistent")
    ident = Identity(doc["origin"], doc["device"], doc["key"], doc["versions"])
    return Manifest(ident, size, doc["checksum"], chunk_bytes, chunks, doc["token"], doc["created"])


def open_manifest(raw: object, keys: Keys, max_entry_bytes: int) -> Manifest:
    """Check the MAC, then parse; :class:`Rejected` for anything but a well-formed, authentic manifest."""
    if not isinstance(raw, bytes) or len(raw) > MANIFEST_LIMIT:
        raise Rejected("malformed", "the manifest is not a short byte string")
    if len(raw) < len(_MAGIC) + _MAC_BYTES or raw[:4] != _MAGIC[:4]:
        raise Rejected("malformed", "the manifest has no webnn header")
    if raw[4] != FORMAT:
        raise Rejected("stale", f"remote entry format {raw[4]}, this library reads {FORMAT}")
    mac, body = raw[len(_MAGIC):len(_MAGIC) + _MAC_BYTES], raw[len(_MAGIC) + _MAC_BYTES:]
    if not hmac.compare_digest(mac, _mac(keys, body)):
        raise Rejected("bad-mac", "the manifest's MAC does not verify under this secret (forged, damaged, "
                                  "or written with another secret)")
    manifest = _parse(body)
    if manifest.size > max_entry_bytes:
        raise Rejected("too-large", f"the entry has {manifest.size} bytes, more than max_entry_bytes "
                                    f"({max_entry_bytes})")
    return manifest


def peek_chunks(raw: object) -> tuple[str, int] | None:
    """``(token, chunk count)`` of a manifest whose MAC is not checked (to expire chunks of
    a value being replaced or removed; used only for names under the same entry id)."""
    if not isinstance(raw, bytes) or len(raw) > MANIFEST_LIMIT or raw[:4] != _MAGIC[:4]:
        return None
    try:
        m = _parse(raw[len(_MAGIC) + _MAC_BYTES:])
    except Rejected:
        return None
    return (m.token, m.chunks) if m.chunks <= 1 << 16 else None


def check_identity(manifest: Manifest, names: Names, entry_id: str, expected: Identity | None) -> None:
    """The manifest is the entry its name says (and the one asked for)."""
    if names.entry_id(manifest.ident) != entry_id or (expected is not None and manifest.ident != expected):
        raise Rejected("foreign", "the manifest describes another entry than the one under its name")


def split(buf: np.ndarray, chunk_bytes: int) -> list[memoryview]:
    """Zero-copy views of ``buf`` in chunks (at least one)."""
    view = memoryview(buf).cast("B")
    return [view[i:i + chunk_bytes] for i in range(0, max(len(view), 1), chunk_bytes)]


def chunk_sizes(manifest: Manifest) -> list[int]:
    """The length each chunk must have."""
    return [min(manifest.chunk_bytes, manifest.size - i * manifest.chunk_bytes) for i in range(manifest.chunks)]


def verify(manifest: Manifest, buf: np.ndarray, lengths: Sequence[int | None],
           checksum: str | None = None) -> np.ndarray:
    """``buf`` (the chunks laid end to end) if every chunk came whole and the whole value
    matches the manifest's checksum (``checksum``: already computed over ``buf``), else
    :class:`Rejected`."""
    if len(lengths) != manifest.chunks:
        raise Rejected("missing-chunk", f"{len(lengths)} chunks came, the manifest names {manifest.chunks}")
    for i, (got, want) in enumerate(zip(lengths, chunk_sizes(manifest))):
        if got is None:
            raise Rejected("missing-chunk", f"chunk {i} of {manifest.chunks} is gone (expired or evicted)")
        if got != want:
            raise Rejected("wrong-length", f"chunk {i} has {got} bytes, the manifest says {want}")
    if buf.size != manifest.size or (checksum or blobfile.checksum(buf)) != manifest.checksum:
        raise Rejected("checksum", "the reassembled value does not match the manifest's checksum")
    return buf


def decode(buf: np.ndarray, expected: Identity) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The backend header and arrays of a verified blob that names ``expected``."""
    try:
        meta, arrays = blobfile.parse(buf)
    except blobfile.BlobFormatError as exc:
        raise Rejected("bad-format", f"the blob is malformed: {exc}") from exc
    if meta.get("entry") != expected.as_dict() or not isinstance(meta.get("backend"), dict):
        raise Rejected("identity", "the blob belongs to another entry")
    return meta["backend"], arrays


def encode(ident: Identity, backend_meta: Mapping[str, Any],
           arrays: Mapping[str, np.ndarray]) -> tuple[np.ndarray, str]:
    """The blob bytes the local store would write for this entry, and their checksum."""
    meta = {"entry": ident.as_dict(), "backend": dict(backend_meta)}
    return blobfile.encode(blobfile.plan(meta, arrays))
