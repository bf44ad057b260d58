"""``python -m webnn``: the command line (see ``webnn.cli``)."""

from .cli import main

raise SystemExit(main())
