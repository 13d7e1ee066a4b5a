"""Schéma initial : lots, valeurs, correspondances, dispositifs, référents, populations.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Crée toutes les tables du schéma initial."""
    op.create_table(
        "meta",
        sa.Column("cle", sa.String(64), primary_key=True),
        sa.Column("valeur", sa.Text, nullable=False),
    )
    op.create_table(
        "lots",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("contributeur", sa.String(64), nullable=False),
        sa.Column("annee", sa.Integer, nullable=False),
        sa.Column("fichier", sa.String(255), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("archive", sa.String(512), nullable=False),
        sa.Column("importe_le", sa.DateTime, nullable=False),
        sa.Column("importe_par", sa.String(128), nullable=False),
        sa.Column("courant", sa.Boolean, nullable=False),
        sa.Column("remplace_le", sa.DateTime, nullable=True),
        sa.Column("demo", sa.Boolean, nullable=False),
        sa.Column("n_valeurs", sa.Integer, nullable=False),
        sa.Column("rapport", sa.Text, nullable=True),
    )
    op.create_index("ix_lots_contributeur_annee", "lots", ["contributeur", "annee"])
    op.create_table(
        "valeurs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("lot_id", sa.Integer, sa.ForeignKey("lots.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("code_insee", sa.String(5), nullable=True),
        sa.Column("libelle_non_localise", sa.String(255), nullable=True),
        sa.Column("indicateur", sa.String(64), nullable=False),
        sa.Column("valeur", sa.Integer, nullable=True),
        sa.Column("masque", sa.Boolean, nullable=False),
        sa.Column("feuille", sa.String(128), nullable=True),
        sa.Column("ligne", sa.Integer, nullable=True),
        sa.Column("colonne", sa.String(64), nullable=True),
    )
    op.create_index("ix_valeurs_lot", "valeurs", ["lot_id"])
    op.create_index("ix_valeurs_indicateur_commune", "valeurs", ["indicateur", "code_insee"])
    op.create_table(
        "correspondances_entetes",
        sa.Column("contributeur", sa.String(64), primary_key=True),
        sa.Column("entete", sa.String(255), primary_key=True),
        sa.Column("indicateur", sa.String(64), nullable=False),
        sa.Column("confirme_le", sa.DateTime, nullable=False),
        sa.Column("confirme_par", sa.String(128), nullable=False),
    )
    op.create_table(
        "dispositifs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("nom", sa.String(255), nullable=False),
        sa.Column("adresse", sa.String(512), nullable=True),
        sa.Column("code_insee", sa.String(5), nullable=False),
        sa.Column("commune", sa.String(255), nullable=True),
        sa.Column("latitude", sa.Float, nullable=True),
        sa.Column("longitude", sa.Float, nullable=True),
        sa.Column("localisation", sa.String(16), nullable=False),
        sa.Column("capacite", sa.Integer, nullable=True),
        sa.Column("unite_capacite", sa.String(64), nullable=True),
        sa.Column("horaires", sa.Text, nullable=True),
        sa.Column("contact", sa.String(255), nullable=True),
        sa.Column("source", sa.String(512), nullable=True),
        sa.Column("remarque", sa.Text, nullable=True),
        sa.Column("demo", sa.Boolean, nullable=False),
    )
    op.create_index("ix_dispositifs_type", "dispositifs", ["type"])
    op.create_table(
        "referents",
        sa.Column("code_insee", sa.String(5), primary_key=True),
        sa.Column("date_designation", sa.Date, nullable=True),
        sa.Column("forme", sa.Boolean, nullable=False),
        sa.Column("date_formation", sa.Date, nullable=True),
        sa.Column("nom_referent", sa.String(255), nullable=True),
        sa.Column("contact_referent", sa.String(255), nullable=True),
        sa.Column("source", sa.String(512), nullable=True),
        sa.Column("demo", sa.Boolean, nullable=False),
    )
    op.create_table(
        "populations",
        sa.Column("code_insee", sa.String(5), primary_key=True),
        sa.Column("annee", sa.Integer, primary_key=True),
        sa.Column("categorie", sa.String(64), primary_key=True),
        sa.Column("valeur", sa.Float, nullable=False),
    )
    op.create_table(
        "journal",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("quand", sa.DateTime, nullable=False),
        sa.Column("qui", sa.String(128), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text, nullable=True),
    )


def downgrade() -> None:
    """Supprime toutes les tables du schéma initial."""
    for table in ["journal", "populations", "referents", "dispositifs",
                  "correspondances_entetes", "valeurs", "lots", "meta"]:
        op.drop_table(table)
