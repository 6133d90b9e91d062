"""rendered_documents: agendas and calendar feeds rendered at publication, for every API process"""

import sqlalchemy as sa
from alembic import op

from matchmaking.platform.ddl import create_table_with_id, foreign_key

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    create_table_with_id(
        "rendered_documents",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=True),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("etag", sa.String(length=40), nullable=False),
        sa.Column("last_modified", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        foreign_key("rendered_documents", "event_id", "events", ondelete="CASCADE"),
        foreign_key("rendered_documents", "participant_id", "participants", ondelete="CASCADE"),
        sa.UniqueConstraint(
            "event_id", "kind", "key", name=op.f("uq_rendered_documents_event_id_kind_key")
        ),
    )
    op.create_index(
        "ix_rendered_documents_participant_kind",
        "rendered_documents",
        ["participant_id", "kind"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_rendered_documents_participant_kind", table_name="rendered_documents")
    op.drop_table("rendered_documents")
