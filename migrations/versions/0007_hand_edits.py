"""hand edits of a version's timetable: meetings placed by hand or pinned, and the edit log"""

import sqlalchemy as sa
from alembic import op

from matchmaking.platform.ddl import create_table_with_id, foreign_key

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    with op.batch_alter_table("meetings") as batch:
        batch.add_column(
            sa.Column("placed_by_hand", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch.add_column(
            sa.Column("pinned", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    create_table_with_id(
        "hand_edits",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("uid", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("organiser_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        foreign_key("hand_edits", "organiser_id", "organisers", ondelete="SET NULL"),
        foreign_key("hand_edits", "version_id", "schedule_versions", ondelete="CASCADE"),
    )
    op.create_index(op.f("ix_hand_edits_version_id"), "hand_edits", ["version_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_hand_edits_version_id"), table_name="hand_edits")
    op.drop_table("hand_edits")
    with op.batch_alter_table("meetings") as batch:
        batch.drop_column("pinned")
        batch.drop_column("placed_by_hand")
