"""Alembic environment for the kiosk journal (run programmatically by kiosk.journal.db)."""

from __future__ import annotations

from alembic import context

from kiosk.journal.models import Base
from kiosk.sqlstore import run_migrations

run_migrations(context, Base.metadata)
