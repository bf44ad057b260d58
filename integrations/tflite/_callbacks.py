"""The C callbacks TFLite calls, made once per process and never freed.

The runtime may call a delegate's kernel ``free`` after the Python objects that
created it have been collected (interpreters collected in a reference cycle, for
one). So the ctypes callbacks, the registration's ``custom_name`` and every
``TfLiteDelegate`` struct handed out are module-level and immortal, and they reach
Python objects through registries: a delegate struct's ``data_`` holds the id of its
:class:`WebNNDelegate`, a kernel node's ``user_data`` the handle of its kernel. A
callback whose target is gone does nothing harmful.

Every callback is wrapped: an exception never escapes into C (ctypes would print it
and return an undefined status). Kernel failures are reported through the
context's ``ReportError`` and return ``kTfLiteError`` (the interpreter turns that
into a Python exception at ``invoke()`` and stays usable); the delegate's Prepare
never fails (it claims fewer nodes instead).
"""

from __future__ import annotations

import ctypes
import itertools
import logging
import threading
import traceback
import weakref
from typing import Any

from . import _capi as C

log = logging.getLogger("webnn.tflite")

_lock = threading.Lock()
_delegates: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()
_kernels: dict[int, Any] = {}
_ids = itertools.count(1)
#: Every TfLiteDelegate struct ever handed out (56 bytes each; the runtime may hold a
#: pointer to one for as long as an interpreter lives).
_structs: list[C.TfLiteDelegate] = []

#: Builtin code of delegate kernels (schema BuiltinOperator.DELEGATE).
BUILTIN_DELEGATE = 51
_CUSTOM_NAME = ctypes.create_string_buffer(b"WebNN")


def report_error(ctxp: Any, message: str) -> None:
    """Report through ``context->ReportError`` (with "%s", so '%' in messages is safe)."""
    try:
        fn = ctxp.contents.ReportError
        if fn:
            fn(ctxp, b"%s", message.encode("utf-8", "replace")[:4000])
    except Exception:  # never let reporting itself escape into C
        log.exception("webnn tflite: ReportError failed for: %s", message)


def register_delegate(owner: Any) -> C.TfLiteDelegate:
    """A new immortal ``TfLiteDelegate`` whose Prepare dispatches to ``owner.prepare``."""
    with _lock:
        ident = next(_ids)
        _delegates[ident] = owner
        struct = C.TfLiteDelegate()
        struct.data_ = ident
        struct.Prepare = _PREPARE
        struct.flags = C.FLAG_ALLOW_DYNAMIC_TENSORS
        _structs.append(struct)
    return struct


def _owner_of_delegate(delegate_ptr: int) -> Any:
    if not delegate_ptr:
        return None
    ident = C.TfLiteDelegate.from_address(delegate_ptr).data_ or 0
    with _lock:
        return _delegates.get(ident)


def add_kernel(kernel: Any) -> int:
    with _lock:
        handle = next(_ids)
        _kernels[handle] = kernel
    return handle


def kernel_count() -> int:
    with _lock:
        return len(_kernels)


def _kernel(handle: int | None) -> Any:
    with _lock:
        return _kernels.get(handle or 0)


# -- the callbacks --------------------------------------------------------------------
def _prepare(ctxp: Any, delegatep: Any) -> int:
    try:
        owner = _owner_of_delegate(ctypes.cast(delegatep, ctypes.c_void_p).value or 0)
        if owner is None:
            return C.K_OK  # a collected delegate claims nothing
        return owner.prepare(ctxp, delegatep)
    except BaseException as exc:  # Prepare never fails: claim nothing
        log.error("webnn tflite: delegate Prepare failed, claiming nothing: %s\n%s", exc, traceback.format_exc())
        return C.K_OK


def _init(ctxp: Any, buffer: int | None, length: int) -> int | None:
    try:
        params = C.TfLiteDelegateParams.from_address(buffer)
        owner = _owner_of_delegate(params.delegate or 0)
        if owner is None:
            report_error(ctxp, "WebNN delegate: the delegate object is gone")
            return None
        kernel = owner.create_kernel(ctxp, params)
        return add_kernel(kernel)
    except BaseException as exc:
        report_error(ctxp, f"WebNN delegate: kernel init failed: {type(exc).__name__}: {exc}")
        return None


def _free(ctxp: Any, user_data: int | None, _lock: Any = _lock, _kernels: dict[int, Any] = _kernels) -> None:
    # May run while Python shuts down (module globals already None): use only the
    # objects bound as defaults, and swallow everything.
    try:
        with _lock:
            kernel = _kernels.pop(user_data or 0, None)
        if kernel is not None:
            kernel.release()
    except BaseException:  # noqa: S110  (nothing can be reported from here)
        pass


def _kernel_prepare(ctxp: Any, nodep: Any) -> int:
    try:
        kernel = _kernel(nodep.contents.user_data)
        if kernel is None:
            report_error(ctxp, "WebNN delegate: kernel missing (its init failed; see the previous error)")
            return C.K_ERROR
        kernel.prepare(ctxp, nodep)
        return C.K_OK
    except BaseException as exc:
        report_error(ctxp, f"WebNN delegate: prepare failed: {type(exc).__name__}: {exc}")
        return C.K_ERROR


def _kernel_invoke(ctxp: Any, nodep: Any) -> int:
    try:
        kernel = _kernel(nodep.contents.user_data)
        if kernel is None:
            report_error(ctxp, "WebNN delegate: kernel missing")
            return C.K_ERROR
        kernel.invoke(ctxp)
        return C.K_OK
    except BaseException as exc:
        report_error(ctxp, f"WebNN delegate: invoke failed: {type(exc).__name__}: {exc}")
        return C.K_ERROR


_PREPARE = C.DelegatePrepareFn(_prepare)
_INIT = C.InitFn(_init)
_FREE = C.FreeFn(_free)
_KPREPARE = C.NodeFn(_kernel_prepare)
_KINVOKE = C.NodeFn(_kernel_invoke)


def registration() -> C.TfLiteRegistration:
    """The full ``TfLiteRegistration`` of WebNN kernels (copied by value by the runtime)."""
    reg = C.TfLiteRegistration()
    reg.init = _INIT
    reg.free = _FREE
    reg.prepare = _KPREPARE
    reg.invoke = _KINVOKE
    reg.builtin_code = BUILTIN_DELEGATE
    reg.custom_name = ctypes.cast(_CUSTOM_NAME, ctypes.c_char_p)
    reg.version = 1
    reg.registration_external = None
    reg.inplace_operator = 0
    return reg
