"""cooperation profiles (offers, seeks, delegation) and spreadsheet uploads"""

import sqlalchemy as sa
from alembic import op

from matchmaking.platform.ddl import create_table_with_id, foreign_key

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    with op.batch_alter_table("organisations") as batch:
        batch.add_column(
            sa.Column("offers", sa.JSON(), server_default=sa.text("'[]'"), nullable=False)
        )
        batch.add_column(
            sa.Column("seeks", sa.JSON(), server_default=sa.text("'[]'"), nullable=False)
        )
        batch.add_column(
            sa.Column("delegation", sa.String(length=100), server_default="", nullable=False)
        )
    create_table_with_id(
        "sheet_uploads",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("filename", sa.String(length=300), nullable=False),
        sa.Column("main", sa.LargeBinary(), nullable=False),
        sa.Column("extra", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        foreign_key("sheet_uploads", "event_id", "events", ondelete="CASCADE"),
        sa.UniqueConstraint("event_id", "digest", name=op.f("uq_sheet_uploads_event_id_digest")),
    )
    op.create_index(op.f("ix_sheet_uploads_event_id"), "sheet_uploads", ["event_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_sheet_uploads_event_id"), table_name="sheet_uploads")
    op.drop_table("sheet_uploads")
    with op.batch_alter_table("organisations") as batch:
        batch.drop_column("delegation")
        batch.drop_column("seeks")
        batch.drop_column("offers")
