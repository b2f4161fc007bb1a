"""initial journal: sales, steps, outbox

Revision ID: 0001
Revises:
Create Date: 2026-11-21 20:24:05.961075
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "journal_entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("sale_id", sa.String(length=36), nullable=True),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.String(length=40), nullable=False),
        sa.Column("acked_at", sa.String(length=40), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_pending", ["acked_at", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_sale_id"), ["sale_id"], unique=False)

    op.create_table(
        "processed_actions",
        sa.Column("action_id", sa.String(length=128), nullable=False),
        sa.Column("sale_id", sa.String(length=36), nullable=True),
        sa.Column("at", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("action_id"),
    )
    op.create_table(
        "sales",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kiosk_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.String(length=40), nullable=False),
        sa.Column("updated_at", sa.String(length=40), nullable=False),
        sa.Column("finished_at", sa.String(length=40), nullable=True),
        sa.Column("category", sa.String(length=16), nullable=True),
        sa.Column("region_code", sa.String(length=2), nullable=True),
        sa.Column("start_date", sa.String(length=10), nullable=True),
        sa.Column("period_months", sa.Integer(), nullable=True),
        sa.Column("amount", sa.String(length=32), nullable=True),
        sa.Column("tariff_version", sa.String(length=32), nullable=True),
        sa.Column("quote", sa.JSON(), nullable=True),
        sa.Column("consent", sa.JSON(), nullable=True),
        sa.Column("flag_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sales", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sales_state"), ["state"], unique=False)

    op.create_table(
        "applications",
        sa.Column("sale_id", sa.String(length=36), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("office", sa.Text(), nullable=False),
        sa.Column("visit_by", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["sale_id"],
            ["sales.id"],
        ),
        sa.PrimaryKeyConstraint("sale_id"),
        sa.UniqueConstraint("number"),
    )
    op.create_table(
        "payment_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sale_id", sa.String(length=36), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("result_code", sa.String(length=4), nullable=True),
        sa.Column("result_text", sa.Text(), nullable=True),
        sa.Column("receipt_no", sa.String(length=16), nullable=True),
        sa.Column("trace", sa.String(length=16), nullable=True),
        sa.Column("masked_pan", sa.String(length=32), nullable=True),
        sa.Column("auth_code", sa.String(length=16), nullable=True),
        sa.Column("terminal_id", sa.String(length=16), nullable=True),
        sa.Column("card_type", sa.String(length=32), nullable=True),
        sa.Column("terminal_time", sa.String(length=40), nullable=True),
        sa.Column("receipt_lines", sa.JSON(), nullable=True),
        sa.Column("started_at", sa.String(length=40), nullable=False),
        sa.Column("finished_at", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["sale_id"],
            ["sales.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
        sa.UniqueConstraint("sale_id", "attempt"),
    )
    with op.batch_alter_table("payment_attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payment_attempts_sale_id"), ["sale_id"], unique=False)

    op.create_table(
        "personal_data",
        sa.Column("sale_id", sa.String(length=36), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("purged_at", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["sale_id"],
            ["sales.id"],
        ),
        sa.PrimaryKeyConstraint("sale_id"),
    )
    op.create_table(
        "policies",
        sa.Column("sale_id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("series", sa.String(length=3), nullable=False),
        sa.Column("number", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("period_start", sa.String(length=40), nullable=False),
        sa.Column("period_end", sa.String(length=40), nullable=False),
        sa.Column("registered_at", sa.String(length=40), nullable=False),
        sa.Column("cancelled_at", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["sale_id"],
            ["sales.id"],
        ),
        sa.PrimaryKeyConstraint("sale_id"),
        sa.UniqueConstraint("key"),
        sa.UniqueConstraint("series", "number"),
    )
    op.create_table(
        "print_jobs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sale_id", sa.String(length=36), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("bytes_sent", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.String(length=40), nullable=False),
        sa.Column("finished_at", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["sale_id"],
            ["sales.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("print_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_print_jobs_sale_id"), ["sale_id"], unique=False)

    op.create_table(
        "sale_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sale_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.String(length=40), nullable=False),
        sa.Column("from_state", sa.String(length=32), nullable=True),
        sa.Column("to_state", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["sale_id"],
            ["sales.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("sale_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sale_events_sale_id"), ["sale_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("sale_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sale_events_sale_id"))

    op.drop_table("sale_events")
    with op.batch_alter_table("print_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_print_jobs_sale_id"))

    op.drop_table("print_jobs")
    op.drop_table("policies")
    op.drop_table("personal_data")
    with op.batch_alter_table("payment_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_attempts_sale_id"))

    op.drop_table("payment_attempts")
    op.drop_table("applications")
    with op.batch_alter_table("sales", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sales_state"))

    op.drop_table("sales")
    op.drop_table("processed_actions")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_sale_id"))
        batch_op.drop_index("ix_outbox_pending")

    op.drop_table("outbox")
    op.drop_table("journal_entries")
