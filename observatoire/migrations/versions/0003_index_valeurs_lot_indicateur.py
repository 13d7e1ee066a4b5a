"""Index des valeurs par (lot, indicateur).

Toute lecture (analyse, carte, publication) cherche les valeurs d'un indicateur dans les
lots courants d'une année : l'index ``(lot_id, indicateur)`` sert cette jointure sans
parcourir toutes les valeurs des lots, ce qui compte à l'échelle nationale.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Crée l'index ``ix_valeurs_lot_indicateur``."""
    op.create_index("ix_valeurs_lot_indicateur", "valeurs", ["lot_id", "indicateur"])


def downgrade() -> None:
    """Retire l'index ``ix_valeurs_lot_indicateur``."""
    op.drop_index("ix_valeurs_lot_indicateur", table_name="valeurs")
