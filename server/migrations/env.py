"""Alembic environment for the server database (run programmatically by server.db)."""

from __future__ import annotations

from alembic import context

from kiosk.sqlstore import run_migrations
from server.models import Base

run_migrations(context, Base.metadata)
