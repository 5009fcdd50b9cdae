"""``python -m neural_trader``: the same as the ``neural-trader`` command."""

from .cli import main

raise SystemExit(main())
