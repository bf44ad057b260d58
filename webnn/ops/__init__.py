"""Op definitions, one module per op family; importing this registers them all."""

from . import (  # noqa: F401
    activation,
    conv,
    elementwise,
    gather_scatter,
    linalg,
    normalization,
    pool,
    quantize,
    recurrent,
    reduction,
    shape,
)
