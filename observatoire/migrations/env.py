"""Environnement Alembic : le moteur vient de ``observatoire.storage``."""

import sqlalchemy as sa
from alembic import context

from observatoire.storage import lock_key, make_engine, metadata

config = context.config
engine = config.attributes.get("engine") or make_engine(config.get_main_option("sqlalchemy.url"))

with engine.connect() as connection:
    if connection.dialect.name == "sqlite":
        # Verrou d'écriture dès le début : deux processus qui démarrent ensemble sur une
        # base vide ne tentent pas de créer le schéma chacun de leur côté.
        connection.execution_options(sqlite_begin="IMMEDIATE")
    context.configure(connection=connection, target_metadata=metadata,
                      render_as_batch=engine.dialect.name == "sqlite")
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Plusieurs instances de l'application démarrent en même temps sur la même
            # base : une seule applique les migrations, les autres attendent puis
            # constatent que la base est à jour.
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"),
                               {"k": lock_key("alembic", "migrations")})
        context.run_migrations()
    connection.commit()
