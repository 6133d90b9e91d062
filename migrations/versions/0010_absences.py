"""absences: who is away from when on the event day, for the re-plan of the rest of the day"""

import sqlalchemy as sa
from alembic import op

from matchmaking.platform.ddl import create_table_with_id, foreign_key

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    create_table_with_id(
        "absences",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("absent_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("organiser_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        foreign_key("absences", "event_id", "events", ondelete="CASCADE"),
        foreign_key("absences", "organiser_id", "organisers", ondelete="SET NULL"),
        foreign_key("absences", "participant_id", "participants", ondelete="CASCADE"),
        sa.UniqueConstraint("participant_id", name=op.f("uq_absences_participant_id")),
    )
    op.create_index(op.f("ix_absences_event_id"), "absences", ["event_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_absences_event_id"), table_name="absences")
    op.drop_table("absences")
