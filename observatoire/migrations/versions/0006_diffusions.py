"""Diffusions publiques figées (une par année et par version).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Crée la table ``diffusions``."""
    op.create_table(
        "diffusions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("annee", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("statut", sa.String(16), nullable=False),
        sa.Column("prepare_le", sa.DateTime, nullable=False),
        sa.Column("prepare_par", sa.String(128), nullable=False),
        sa.Column("valide_le", sa.DateTime, nullable=True),
        sa.Column("valide_par", sa.String(128), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("public", sa.LargeBinary, nullable=False),
        sa.Column("prive", sa.LargeBinary, nullable=False),
        sa.Column("audit", sa.Text, nullable=False),
        sa.Column("demo", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.UniqueConstraint("annee", "version", name="uq_diffusions_annee_version"),
    )
    op.create_index("ix_diffusions_annee_statut", "diffusions", ["annee", "statut"])


def downgrade() -> None:
    """Supprime la table ``diffusions``."""
    op.drop_index("ix_diffusions_annee_statut", table_name="diffusions")
    op.drop_table("diffusions")
