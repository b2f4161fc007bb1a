"""initial server schema: kiosks, nonces, policies, applications, events and their projections

Revision ID: 0001
Revises:
Create Date: 2026-11-21 21:10:44.742101
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
        "applications",
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("kiosk_id", sa.String(length=64), nullable=False),
        sa.Column("sale_id", sa.String(length=64), nullable=True),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("office", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.Column("premium", sa.BigInteger(), nullable=True),
        sa.Column("visit_by", sa.String(length=10), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("number"),
        sa.UniqueConstraint("kiosk_id", "idempotency_key"),
    )
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_applications_kiosk_id"), ["kiosk_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_applications_updated_at"), ["updated_at"], unique=False)

    op.create_table(
        "end_of_day",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("kiosk_id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("groups", sa.JSON(), nullable=True),
        sa.Column("receipt_first", sa.String(length=16), nullable=True),
        sa.Column("receipt_last", sa.String(length=16), nullable=True),
        sa.Column("terminal_id", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("event_id"),
    )
    with op.batch_alter_table("end_of_day", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_end_of_day_kiosk_id"), ["kiosk_id"], unique=False)

    op.create_table(
        "events",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("kiosk_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("sale_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("personal", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("event_id"),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_kiosk_kind", ["kiosk_id", "kind", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_events_sale_id"), ["sale_id"], unique=False)

    op.create_table(
        "kiosks",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("health", sa.JSON(), nullable=True),
        sa.Column("health_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "nonces",
        sa.Column("kiosk_id", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kiosk_id", "nonce"),
    )
    with op.batch_alter_table("nonces", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_nonces_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "number_ranges",
        sa.Column("series", sa.String(length=3), nullable=False),
        sa.Column("next_number", sa.BigInteger(), nullable=False),
        sa.Column("last_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("series"),
    )
    op.create_table(
        "operator_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("operator", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    with op.batch_alter_table("operator_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_operator_sessions_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "operators",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("password", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "payments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kiosk_id", sa.String(length=64), nullable=False),
        sa.Column("sale_id", sa.String(length=64), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("receipt_no", sa.String(length=16), nullable=True),
        sa.Column("trace", sa.String(length=16), nullable=True),
        sa.Column("masked_pan", sa.String(length=32), nullable=True),
        sa.Column("auth_code", sa.String(length=16), nullable=True),
        sa.Column("terminal_id", sa.String(length=16), nullable=True),
        sa.Column("card_type", sa.String(length=32), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sale_id", "attempt"),
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index("ix_payments_kiosk_at", ["kiosk_id", "at"], unique=False)

    op.create_table(
        "policies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kiosk_id", sa.String(length=64), nullable=False),
        sa.Column("sale_id", sa.String(length=64), nullable=True),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("series", sa.String(length=3), nullable=False),
        sa.Column("number", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("premium", sa.BigInteger(), nullable=False),
        sa.Column("tariff_version", sa.String(length=32), nullable=False),
        sa.Column("coefficients", sa.JSON(), nullable=False),
        sa.Column("vehicle", sa.JSON(), nullable=False),
        sa.Column("policyholder", sa.JSON(), nullable=True),
        sa.Column("owner", sa.JSON(), nullable=True),
        sa.Column("drivers", sa.JSON(), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=True),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("annulled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("annul_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kiosk_id", "idempotency_key"),
        sa.UniqueConstraint("series", "number"),
    )
    with op.batch_alter_table("policies", schema=None) as batch_op:
        batch_op.create_index("ix_policies_end", ["status", "period_end"], unique=False)
        batch_op.create_index(batch_op.f("ix_policies_kiosk_id"), ["kiosk_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_policies_sale_id"), ["sale_id"], unique=False)

    op.create_table(
        "sales",
        sa.Column("sale_id", sa.String(length=64), nullable=False),
        sa.Column("kiosk_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("category", sa.String(length=16), nullable=True),
        sa.Column("region", sa.String(length=8), nullable=True),
        sa.Column("policy", sa.String(length=16), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sale_id"),
    )
    with op.batch_alter_table("sales", schema=None) as batch_op:
        batch_op.create_index("ix_sales_kiosk_day", ["kiosk_id", "finished_at"], unique=False)

    op.create_table(
        "renewal_quotes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=False),
        sa.Column("start_date", sa.String(length=10), nullable=False),
        sa.Column("premium", sa.BigInteger(), nullable=True),
        sa.Column("tariff_version", sa.String(length=32), nullable=True),
        sa.Column("coefficients", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("priced_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["policies.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("policy_id", "start_date"),
    )
    with op.batch_alter_table("renewal_quotes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_renewal_quotes_policy_id"), ["policy_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("renewal_quotes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_renewal_quotes_policy_id"))

    op.drop_table("renewal_quotes")
    with op.batch_alter_table("sales", schema=None) as batch_op:
        batch_op.drop_index("ix_sales_kiosk_day")

    op.drop_table("sales")
    with op.batch_alter_table("policies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_policies_sale_id"))
        batch_op.drop_index(batch_op.f("ix_policies_kiosk_id"))
        batch_op.drop_index("ix_policies_end")

    op.drop_table("policies")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index("ix_payments_kiosk_at")

    op.drop_table("payments")
    op.drop_table("operators")
    with op.batch_alter_table("operator_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_operator_sessions_expires_at"))

    op.drop_table("operator_sessions")
    op.drop_table("number_ranges")
    with op.batch_alter_table("nonces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_nonces_expires_at"))

    op.drop_table("nonces")
    op.drop_table("kiosks")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_sale_id"))
        batch_op.drop_index("ix_events_kiosk_kind")

    op.drop_table("events")
    with op.batch_alter_table("end_of_day", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_end_of_day_kiosk_id"))

    op.drop_table("end_of_day")
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_applications_updated_at"))
        batch_op.drop_index(batch_op.f("ix_applications_kiosk_id"))

    op.drop_table("applications")
