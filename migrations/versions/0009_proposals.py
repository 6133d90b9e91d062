"""proposals: wishes the organisers propose, which both sides must accept"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    with op.batch_alter_table("wishes") as batch:
        batch.add_column(
            sa.Column("proposed", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch.add_column(sa.Column("proposed_by_id", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("sender_accepted", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch.add_column(
            sa.Column("recipient_accepted", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch.add_column(
            sa.Column("reasons", sa.JSON(), server_default=sa.text("'{}'"), nullable=False)
        )
        batch.create_foreign_key(
            op.f("fk_wishes_proposed_by_id_organisers"),
            "organisers",
            ["proposed_by_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("wishes") as batch:
        batch.drop_constraint(op.f("fk_wishes_proposed_by_id_organisers"), type_="foreignkey")
        batch.drop_column("reasons")
        batch.drop_column("recipient_accepted")
        batch.drop_column("sender_accepted")
        batch.drop_column("proposed_by_id")
        batch.drop_column("proposed")
