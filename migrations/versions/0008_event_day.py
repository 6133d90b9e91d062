"""the event day and after: check-ins, attendance of meetings, feedback"""

import sqlalchemy as sa
from alembic import op

from matchmaking.platform.ddl import create_table_with_id, foreign_key, text_enum

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    create_table_with_id(
        "check_ins",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("organiser_id", sa.Integer(), nullable=True),
        foreign_key("check_ins", "event_id", "events", ondelete="CASCADE"),
        foreign_key("check_ins", "organiser_id", "organisers", ondelete="SET NULL"),
        foreign_key("check_ins", "participant_id", "participants", ondelete="CASCADE"),
        sa.UniqueConstraint("participant_id", name=op.f("uq_check_ins_participant_id")),
    )
    op.create_index(op.f("ix_check_ins_event_id"), "check_ins", ["event_id"], unique=False)

    create_table_with_id(
        "meeting_attendance",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=200), nullable=False),
        sa.Column("outcome", text_enum("meeting_outcome", "held", "no_show"), nullable=False),
        sa.Column("absent_id", sa.Integer(), nullable=True),
        sa.Column("organiser_id", sa.Integer(), nullable=True),
        sa.Column("participant_id", sa.Integer(), nullable=True),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
        foreign_key("meeting_attendance", "absent_id", "participants", ondelete="SET NULL"),
        foreign_key("meeting_attendance", "event_id", "events", ondelete="CASCADE"),
        foreign_key("meeting_attendance", "organiser_id", "organisers", ondelete="SET NULL"),
        foreign_key("meeting_attendance", "participant_id", "participants", ondelete="SET NULL"),
        sa.UniqueConstraint("event_id", "uid", name=op.f("uq_meeting_attendance_event_id_uid")),
    )
    op.create_index(
        op.f("ix_meeting_attendance_event_id"), "meeting_attendance", ["event_id"], unique=False
    )

    create_table_with_id(
        "meeting_feedback",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=200), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("usefulness", sa.Integer(), nullable=False),
        sa.Column("follow_up", text_enum("follow_up", "yes", "no", "maybe"), nullable=False),
        sa.Column(
            "cooperation",
            text_enum("cooperation", "project", "purchase", "partnership", "other"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "usefulness BETWEEN 1 AND 5", name=op.f("ck_meeting_feedback_usefulness_1_to_5")
        ),
        foreign_key("meeting_feedback", "event_id", "events", ondelete="CASCADE"),
        foreign_key("meeting_feedback", "participant_id", "participants", ondelete="CASCADE"),
        sa.UniqueConstraint(
            "event_id",
            "uid",
            "participant_id",
            name=op.f("uq_meeting_feedback_event_id_uid_participant_id"),
        ),
    )
    op.create_index(
        op.f("ix_meeting_feedback_event_id"), "meeting_feedback", ["event_id"], unique=False
    )
    op.create_index(
        op.f("ix_meeting_feedback_participant_id"),
        "meeting_feedback",
        ["participant_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_meeting_feedback_participant_id"), table_name="meeting_feedback")
    op.drop_index(op.f("ix_meeting_feedback_event_id"), table_name="meeting_feedback")
    op.drop_table("meeting_feedback")
    op.drop_index(op.f("ix_meeting_attendance_event_id"), table_name="meeting_attendance")
    op.drop_table("meeting_attendance")
    op.drop_index(op.f("ix_check_ins_event_id"), table_name="check_ins")
    op.drop_table("check_ins")
