"""ATen -> WebNN converters, one decorated function per ATen op (see ``_base``).

Importing this package registers every converter in :data:`REGISTRY`.
"""

from . import activation, elementwise, nn, reduction, shape  # noqa: F401  (they register themselves)
from ._base import REGISTRY, ConvertContext

__all__ = ["REGISTRY", "ConvertContext"]
