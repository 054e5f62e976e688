"""``python -m raybo``: same as the ``raybo`` command."""

from __future__ import annotations

import sys

from raybo.app.cli import main

sys.exit(main())
