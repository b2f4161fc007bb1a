"""personal data and kiosk secrets sealed at rest; blind-index tables; rate-limit counters

Columns that held personal data as JSON (policies' parties and vehicle, applications' data, events'
personal part) and the kiosks' signing secrets become text holding ``<key id>:<Fernet token>``;
every plain row found is sealed with the key file's first key, and the searchable values of policies
and applications get their blind-index digests. Rows already sealed are left as they are, so a
database half-migrated by hand is finished, not sealed twice.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-14 10:00:00
"""

import json
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from server.keys import Keyring, ensure_index_key, is_sealed, keyring_for
from server.search import personal_digests

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: table, primary key, columns to seal (as they were: JSON text, or the secret's hex)
SEALED = (
    ("kiosks", "id", ("secret",)),
    ("policies", "id", ("vehicle", "policyholder", "owner", "drivers", "extra")),
    ("applications", "number", ("data",)),
    ("events", "event_id", ("personal",)),
)
_CHUNK = 500


def _rows(connection: sa.Connection, name: str, key: str, columns: tuple[str, ...]) -> Iterator[Any]:
    """Every row, in primary-key order, a chunk at a time (large tables never sit in memory)."""
    table = sa.table(name, sa.column(key), *(sa.column(c, sa.Text) for c in columns))
    last = None
    while True:
        query = sa.select(table).order_by(table.c[key]).limit(_CHUNK)
        if last is not None:
            query = query.where(table.c[key] > last)
        chunk = connection.execute(query).all()
        if not chunk:
            return
        yield from chunk
        last = chunk[-1][0]


def _plain(value: str | None, column: str) -> tuple[bool, Any]:
    """(needs sealing, the value) of a stored cell."""
    if value is None or is_sealed(value):
        return False, None
    if column == "secret":
        return True, value
    return True, json.loads(value)


def _seal_all(connection: sa.Connection, keyring: Keyring) -> None:
    for name, key, columns in SEALED:
        table = sa.table(name, sa.column(key), *(sa.column(c, sa.Text) for c in columns))
        for row in _rows(connection, name, key, columns):
            values = {}
            for column, stored in zip(columns, row[1:], strict=True):
                needed, value = _plain(stored, column)
                if needed:
                    values[column] = None if value is None else keyring.seal(value)
            if values:
                connection.execute(table.update().where(table.c[key] == row[0]).values(**values))


def _index_all(connection: sa.Connection, keyring: Keyring) -> None:
    policy_keys = sa.table("policy_keys", sa.column("policy_id"), sa.column("field"), sa.column("digest"))
    for row in _rows(connection, "policies", "id", ("vehicle", "policyholder", "owner", "drivers")):
        vehicle, holder, owner, drivers = (None if v is None else keyring.open(v) for v in row[1:])
        found = personal_digests(
            keyring, {"vehicle": vehicle, "policyholder": holder, "owner": owner, "drivers": drivers}
        )
        if found:
            connection.execute(
                policy_keys.insert(), [{"policy_id": row[0], "field": f, "digest": d} for f, d in sorted(found)]
            )
    application_keys = sa.table("application_keys", sa.column("number"), sa.column("field"), sa.column("digest"))
    for row in _rows(connection, "applications", "number", ("data",)):
        data = None if row[1] is None else keyring.open(row[1])
        personal = data.get("personal", data) if isinstance(data, dict) else None
        found = personal_digests(keyring, personal)
        if found:
            connection.execute(
                application_keys.insert(), [{"number": row[0], "field": f, "digest": d} for f, d in sorted(found)]
            )


def _has_rows(connection: sa.Connection) -> bool:
    return any(
        connection.execute(sa.select(sa.literal(1)).select_from(sa.table(name)).limit(1)).first() is not None
        for name, _key, _columns in SEALED
    )


def upgrade() -> None:
    connection = op.get_bind()
    postgres = connection.dialect.name == "postgresql"
    if not postgres:
        # The copies batch mode makes of a table would trip the foreign keys pointing at it mid-way.
        op.execute("PRAGMA defer_foreign_keys = ON")
    for name, _key, columns in SEALED:
        with op.batch_alter_table(name) as batch:
            for column in columns:
                batch.alter_column(column, type_=sa.Text(), postgresql_using=f"{column}::text")

    op.create_table(
        "server_secrets",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "policy_keys",
        sa.Column("policy_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=16), nullable=False),
        sa.Column("digest", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["policy_id"], ["policies.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("policy_id", "field", "digest"),
    )
    op.create_index("ix_policy_keys_digest", "policy_keys", ["field", "digest"], unique=False)
    op.create_table(
        "application_keys",
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("field", sa.String(length=16), nullable=False),
        sa.Column("digest", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["number"], ["applications.number"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("number", "field", "digest"),
    )
    op.create_index("ix_application_keys_digest", "application_keys", ["field", "digest"], unique=False)
    op.create_table(
        "rate_limits",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_rate_limits_expires_at", "rate_limits", ["expires_at"], unique=False)

    if not _has_rows(connection):
        return
    # Rows written before this revision: seal them now, with the keys the server opened the database with.
    keyring = keyring_for(connection.dialect)
    ensure_index_key(connection, keyring)
    _seal_all(connection, keyring)
    _index_all(connection, keyring)


def downgrade() -> None:
    raise NotImplementedError("personal data is not put back in plain text; restore a backup instead")
