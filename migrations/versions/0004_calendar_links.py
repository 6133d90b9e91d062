"""several calendar links per participant: calendar_links replaces participants.calendar_token_hash

A participant keeps every subscription link they made until they replace them all, so a link
in one calendar app no longer stops working when they subscribe in another. The existing
link of each participant moves to the new table unchanged (same hash: the URL keeps working).
"""

import sqlalchemy as sa
from alembic import op

from matchmaking.platform.ddl import create_table_with_id, foreign_key

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    create_table_with_id(
        "calendar_links",
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        foreign_key("calendar_links", "participant_id", "participants", ondelete="CASCADE"),
        sa.UniqueConstraint("token_hash", name=op.f("uq_calendar_links_token_hash")),
    )
    with op.batch_alter_table("calendar_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_calendar_links_participant_id"), ["participant_id"], unique=False
        )
    op.execute(
        "INSERT INTO calendar_links (participant_id, token_hash, created_at) "
        "SELECT id, calendar_token_hash, updated_at FROM participants "
        "WHERE calendar_token_hash IS NOT NULL"
    )
    # On SQLite this recreates the participants table; migrations/env.py runs revisions there
    # with foreign keys off, so dropping the old table cascades to nothing.
    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_participants_calendar_token_hash"), type_="unique")
        batch_op.drop_column("calendar_token_hash")


def downgrade() -> None:
    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("calendar_token_hash", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_participants_calendar_token_hash"), ["calendar_token_hash"]
        )
    # One link per participant fits the old column: the newest one stays valid.
    op.execute(
        "UPDATE participants SET calendar_token_hash = ("
        "SELECT token_hash FROM calendar_links WHERE participant_id = participants.id "
        "ORDER BY id DESC LIMIT 1)"
    )
    with op.batch_alter_table("calendar_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calendar_links_participant_id"))
    op.drop_table("calendar_links")
