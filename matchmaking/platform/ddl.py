"""What the Alembic revisions (`migrations/versions`) build their tables with.

A revision is history: what it creates must stay what it created. These helpers spell out once
what the revisions wrote out by hand in many places; never change what one of them builds (a
new need gets a new helper), or an old revision would create a different schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import SchemaItem


def foreign_key(
    table: str, column: str, referred: str, ondelete: str | None = None
) -> sa.ForeignKeyConstraint:
    """`table.column` refers to `referred.id`, under the name the models' naming convention
    gives it (`fk_<table>_<column>_<referred>`), written out so no convention is needed."""
    return sa.ForeignKeyConstraint(
        [column],
        [f"{referred}.id"],
        name=op.f(f"fk_{table}_{column}_{referred}"),
        ondelete=ondelete,
    )


def create_table_with_id(name: str, *elements: SchemaItem) -> None:
    """Create the table `name` keyed, as every model's table is, by an integer `id`: the first
    column, primary key `pk_<name>`; `elements` are its other columns and constraints."""
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), nullable=False),
        *elements,
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
    )


def text_enum(name: str, *values: str) -> sa.Enum:
    """An enum stored, as the models store theirs, as its value strings (at most 24 characters)
    under a CHECK constraint, the same on SQLite and PostgreSQL; `name` names the constraint."""
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=24)
