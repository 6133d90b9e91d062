"""Confirmed organisation membership, invitation links, one active solve per event

- `participants.membership_confirmed`: everyone present now is a confirmed member.
- `organisations.invitation_token_hash`: the hash of an organisation's invitation link.
- `uq_solve_jobs_one_active_per_event`: at most one queued or running solve per event. Should
  an event have several now, the oldest running one (else the oldest queued one) is kept and
  the others are cancelled first.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

ACTIVE = "status IN ('queued', 'running')"


def _cancel_extra_active_jobs() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            f"SELECT id, event_id, status, created_at FROM solve_jobs WHERE {ACTIVE} "
            "ORDER BY event_id, CASE status WHEN 'running' THEN 0 ELSE 1 END, created_at, id"
        )
    ).all()
    kept: set[int] = set()
    extra: list[str] = []
    for job_id, event_id, _status, _created in rows:
        if event_id in kept:
            extra.append(job_id)
        else:
            kept.add(event_id)
    for job_id in extra:
        bind.execute(
            sa.text(
                "UPDATE solve_jobs SET status = 'cancelled', cancel_requested = :yes, "
                "finished_at = CURRENT_TIMESTAMP, error = 'cancelled: another solve of the "
                "event was under way' WHERE id = :id"
            ),
            {"id": job_id, "yes": True},
        )


def upgrade() -> None:
    # Plain ALTER TABLE … ADD COLUMN on both databases (no batch copy of the tables).
    op.add_column(
        "participants",
        sa.Column("membership_confirmed", sa.Boolean(), server_default=sa.true(), nullable=False),
    )
    op.add_column(
        "organisations", sa.Column("invitation_token_hash", sa.String(length=64), nullable=True)
    )
    op.create_index(
        op.f("ix_organisations_invitation_token_hash"),
        "organisations",
        ["invitation_token_hash"],
        unique=True,
    )
    _cancel_extra_active_jobs()
    op.create_index(
        "uq_solve_jobs_one_active_per_event",
        "solve_jobs",
        ["event_id"],
        unique=True,
        sqlite_where=sa.text(ACTIVE),
        postgresql_where=sa.text(ACTIVE),
    )


def downgrade() -> None:
    op.drop_index("uq_solve_jobs_one_active_per_event", table_name="solve_jobs")
    # Plain ALTER TABLE … DROP COLUMN (SQLite 3.35+), not a batch copy of the tables: on SQLite
    # with foreign keys on, dropping the old table would cascade to wishes and meetings.
    op.drop_index(op.f("ix_organisations_invitation_token_hash"), table_name="organisations")
    op.execute("ALTER TABLE organisations DROP COLUMN invitation_token_hash")
    op.execute("ALTER TABLE participants DROP COLUMN membership_confirmed")
