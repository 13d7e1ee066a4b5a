"""Au plus un lot courant par (contributeur, année) : index unique partiel.

Deux imports simultanés du même couple se sérialisent dans ``batches.store_batch``
(verrou consultatif sur PostgreSQL, BEGIN IMMEDIATE sur SQLite) ; cet index fait
garantir l'invariant par la base elle-même, sur les deux moteurs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Crée l'index unique partiel ``ux_lots_courant``."""
    op.create_index("ux_lots_courant", "lots", ["contributeur", "annee"], unique=True,
                    sqlite_where=sa.text("courant"), postgresql_where=sa.text("courant"))


def downgrade() -> None:
    """Retire l'index ``ux_lots_courant``."""
    op.drop_index("ux_lots_courant", table_name="lots")
