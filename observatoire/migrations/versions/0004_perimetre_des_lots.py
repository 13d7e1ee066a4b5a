"""Périmètre de chaque lot.

Un lot couvre le territoire déclaré de son contributeur dans le registre, ou un
périmètre plus étroit fixé par les agents à l'import (``observatoire contributions
importer … --perimetre``). La colonne ``lots.perimetre`` le conserve avec le lot : NULL
pour le territoire déclaré (tous les lots existants).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Ajoute la colonne ``lots.perimetre``."""
    op.add_column("lots", sa.Column("perimetre", sa.Text, nullable=True))


def downgrade() -> None:
    """Retire la colonne ``lots.perimetre``."""
    # ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35, PostgreSQL) : la table n'est pas recréée
    # et garde son index unique partiel ux_lots_courant.
    op.drop_column("lots", "perimetre")
