"""``python -m deploy``: the deploy CLI (see :mod:`deploy.cli`)."""

from deploy.cli import main

raise SystemExit(main())
