"""Accès des agents : sessions serveur, essais de connexion, journal des accès.

- ``sessions_agents`` : une session par connexion, désignée au navigateur par un cookie
  signé dont seule l'empreinte est stockée ; fin à la déconnexion, à l'expiration ou par
  un administrateur ;
- ``tentatives_connexion`` : essais par compte et par adresse, pour les délais croissants
  et le verrouillage temporaire tenus par le serveur ;
- ``journal_acces`` : connexions, échecs, verrouillages, consultations de valeurs exactes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Crée les trois tables de l'accès des agents."""
    op.create_table(
        "sessions_agents",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("identifiant", sa.String(128), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=True, unique=True),
        sa.Column("jeton_hash", sa.String(64), nullable=True, unique=True),
        sa.Column("jeton_expire_le", sa.DateTime, nullable=True),
        sa.Column("lien", sa.String(64), nullable=True),
        sa.Column("suite", sa.String(255), nullable=True),
        sa.Column("oidc_iat", sa.BigInteger, nullable=True),
        sa.Column("adresse", sa.String(64), nullable=True),
        sa.Column("navigateur", sa.String(255), nullable=True),
        sa.Column("cree_le", sa.DateTime, nullable=False),
        sa.Column("vu_le", sa.DateTime, nullable=False),
        sa.Column("expire_le", sa.DateTime, nullable=False),
        sa.Column("fin_le", sa.DateTime, nullable=True),
        sa.Column("fin_motif", sa.String(64), nullable=True),
    )
    op.create_index("ix_sessions_agents_identifiant", "sessions_agents", ["identifiant"])
    op.create_table(
        "tentatives_connexion",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("quand", sa.DateTime, nullable=False),
        sa.Column("compte", sa.String(128), nullable=False),
        sa.Column("adresse", sa.String(128), nullable=False),
        sa.Column("canal", sa.String(32), nullable=False),
        sa.Column("resultat", sa.String(16), nullable=False),
        sa.Column("compte_efface", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("adresse_efface", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_tentatives_compte_quand", "tentatives_connexion", ["compte", "quand"])
    op.create_index("ix_tentatives_adresse_quand", "tentatives_connexion",
                    ["adresse", "quand"])
    op.create_table(
        "journal_acces",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("quand", sa.DateTime, nullable=False),
        sa.Column("qui", sa.String(128), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("canal", sa.String(32), nullable=False),
        sa.Column("quoi", sa.Text, nullable=True),
        sa.Column("adresse", sa.String(128), nullable=True),
    )
    op.create_index("ix_journal_acces_quand", "journal_acces", ["quand"])


def downgrade() -> None:
    """Retire les tables de l'accès des agents."""
    op.drop_index("ix_journal_acces_quand", table_name="journal_acces")
    op.drop_table("journal_acces")
    op.drop_index("ix_tentatives_adresse_quand", table_name="tentatives_connexion")
    op.drop_index("ix_tentatives_compte_quand", table_name="tentatives_connexion")
    op.drop_table("tentatives_connexion")
    op.drop_index("ix_sessions_agents_identifiant", table_name="sessions_agents")
    op.drop_table("sessions_agents")
