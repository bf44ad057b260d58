"""The Python object ORT's callbacks reach, through the native shim.

The shim calls these module-level functions (with the GIL held, any exception turned
into an ORT status carrying its message):

- ``factory_info(registered_name) -> (ep_name, vendor, version)``;
- ``supported_devices(devices) -> [(index, ep_metadata, ep_options)]``;
- ``create_ep(device_types, metadata, session_config) -> ep``, where ``ep`` has
  ``get_capability(graph)``, ``compile(graph, fused_node)`` and ``release()``.

:func:`install` hands this module to the shim and stops the shim from calling Python
once the interpreter begins to exit (ORT may release its objects later than that).
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Mapping, Sequence
from typing import Any

EP_NAME = "WebNNExecutionProvider"
VENDOR = "webnn"

_lock = threading.Lock()
_installed = False


def install() -> None:
    """Give the shim this module as its bridge (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        from ._library import native_module

        native = native_module()
        native.install(__import__(__name__, fromlist=["_"]))
        atexit.register(native.shutdown)
        _installed = True


def factory_info(registered_name: str) -> tuple[str, str, str]:
    """Name, vendor and version of the EP factory ORT creates for this library."""
    from webnn import __version__

    return EP_NAME, VENDOR, __version__


def supported_devices(devices: Sequence[Mapping[str, Any]]) -> list[tuple[int, dict[str, str], dict[str, str]]]:
    from .devices import supported_devices as choose

    return choose(devices)


def create_ep(device_types: Sequence[int], metadata: Sequence[Mapping[str, str]],
              config: Mapping[str, str]) -> Any:
    """A new WebNN EP for one session (options come from the session's config entries)."""
    from .ep import create_ep as make

    return make(device_types, metadata, config)
