"""browser sessions: one row per sign-in of a browser (organiser or participant)"""

import sqlalchemy as sa
from alembic import op

from matchmaking.platform.ddl import create_table_with_id, foreign_key

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    create_table_with_id(
        "browser_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("api_token_id", sa.Integer(), nullable=True),
        sa.Column("participant_id", sa.Integer(), nullable=True),
        sa.Column("participant_token_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        foreign_key("browser_sessions", "api_token_id", "api_tokens", ondelete="CASCADE"),
        foreign_key("browser_sessions", "participant_id", "participants", ondelete="CASCADE"),
        sa.UniqueConstraint("token_hash", name=op.f("uq_browser_sessions_token_hash")),
    )
    op.create_index(op.f("ix_browser_sessions_api_token_id"), "browser_sessions", ["api_token_id"])
    op.create_index(
        op.f("ix_browser_sessions_participant_id"), "browser_sessions", ["participant_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_browser_sessions_participant_id"), table_name="browser_sessions")
    op.drop_index(op.f("ix_browser_sessions_api_token_id"), table_name="browser_sessions")
    op.drop_table("browser_sessions")
