"""``python -m server`` is ``osago-server``."""

from server.cli import main

raise SystemExit(main())
