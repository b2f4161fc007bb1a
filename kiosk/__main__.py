"""``python -m kiosk`` is ``osago-kiosk``."""

import sys

from kiosk.cli import main

sys.exit(main())
