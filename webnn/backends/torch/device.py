"""Device choice for the torch backend (the spec's createContext options)."""

from __future__ import annotations

from typing import Any


def cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def resolve(device: Any, accelerated: bool) -> str:
    """Map a create_context device request to "cpu" or "cuda:N".

    Asking explicitly for a GPU that is not there is a NotSupportedError; the
    context never reports an accelerator the machine does not have.
    """
    from ...errors import NotSupportedError

    if device is None:
        return "cuda:0" if accelerated and cuda_available() else "cpu"
    text = str(device)
    if text == "cpu":
        return "cpu"
    if text in ("gpu", "cuda") or text.startswith("cuda:"):
        if not cuda_available():
            raise NotSupportedError(f"create_context: device {text!r} requested but CUDA is not available here")
        import torch

        index = 0 if text in ("gpu", "cuda") else int(text.split(":", 1)[1])
        if not 0 <= index < torch.cuda.device_count():
            raise NotSupportedError(f"create_context: {text!r} does not exist "
                                    f"({torch.cuda.device_count()} CUDA device(s))")
        return f"cuda:{index}"
    raise TypeError(f"create_context: device must be 'cpu', 'gpu', 'cuda', 'cuda:N' or a torch.device, got {device!r}")
