"""``python -m webnn.cli``: the same as ``python -m webnn`` and the ``webnn`` script."""

from . import main

raise SystemExit(main())
