"""PostgreSQL pour les tests : un schéma neuf par test sur le serveur de ``.ci/run``.

``.ci/run`` démarre un serveur jetable et exporte ``OBSERVATOIRE_TEST_PG_URL``
(``postgresql+psycopg://…``). Sans cette variable, les cas PostgreSQL sont ignorés avec
leur raison. Chaque test reçoit son propre schéma (``search_path`` posé dans l'URL) : les
migrations Alembic y créent les tables comme dans une base vide, et le schéma est
supprimé à la fin du test.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

PG_ENV = "OBSERVATOIRE_TEST_PG_URL"
SKIP_REASON = (f"{PG_ENV} non défini : cas PostgreSQL ignorés (.ci/run démarre un serveur "
               f"jetable et définit cette variable)")


def pg_url() -> str | None:
    """URL du serveur de test, ou None quand aucun n'est configuré."""
    return os.environ.get(PG_ENV) or None


def url_with_schema(base_url: str, schema: str) -> str:
    """URL dont les connexions travaillent dans ``schema`` (``search_path``)."""
    url = sa.engine.make_url(base_url)
    url = url.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@contextlib.contextmanager
def fresh_schema(base_url: str | None = None) -> Iterator[str]:
    """Crée un schéma vide, rend l'URL qui y pointe, le supprime ensuite.

    Parameters
    ----------
    base_url : str, optional
        Serveur ; par défaut ``OBSERVATOIRE_TEST_PG_URL``.

    Yields
    ------
    str
        URL SQLAlchemy à passer à ``OBSERVATOIRE_DB_URL`` ou ``storage.make_engine``.
    """
    base_url = base_url or pg_url()
    if base_url is None:
        raise RuntimeError(SKIP_REASON)
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(base_url, poolclass=NullPool)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        yield url_with_schema(base_url, schema)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()
