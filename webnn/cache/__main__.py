"""``python -m webnn.cache``: the graph cache command line (see ``webnn.cache.cli``)."""

from .cli import main

raise SystemExit(main())
