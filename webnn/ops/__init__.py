"""Op definitions, one module per op family; importing this registers them all."""

from . import (  # noqa: F401
    activation,
    conv,
    elementwise,
    linalg,
    normalization,
    pool,
    quantize,
    recurrent,
    reduction,
    shape,
    gather_scatter,
)
