"""Migrations Alembic sur PostgreSQL et SQLite : création, mise à niveau, retour arrière,
démarrages simultanés, invariant « un seul lot courant » tenu par la base elle-même."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest
import sqlalchemy as sa
from alembic import command

from observatoire import storage


def _indexes(engine) -> set[str]:
    return {ix["name"] for ix in sa.inspect(engine).get_indexes("lots")}


def test_create_upgrade_downgrade_both_backends(backend):
    engine = storage.make_engine()
    assert storage.schema_revisions(engine)[0] is None
    storage.upgrade(engine, "0001")
    assert storage.schema_revisions(engine)[0] == "0001"
    assert "ux_lots_courant" not in _indexes(engine)
    # Une base restée en 0001 (avant cette issue) passe à la tête sans rien perdre.
    with storage.transaction(engine) as conn:
        conn.execute(sa.insert(storage.lots).values(
            contributeur="police_62", annee=2023, fichier="f.csv", sha256="0" * 64,
            archive="2023/police_62/f.csv", importe_le=dt.datetime(2024, 2, 1),
            importe_par="agent", courant=True, demo=False, n_valeurs=0))
    storage.upgrade(engine)
    current, head = storage.schema_revisions(engine)
    assert current == head
    assert "ux_lots_courant" in _indexes(engine)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(storage.lots)).scalar() == 1
    command.downgrade(storage.alembic_config(engine), "0001")
    assert "ux_lots_courant" not in _indexes(engine)
    storage.upgrade(engine)
    assert "ux_lots_courant" in _indexes(engine)
    engine.dispose()


def _lot(**kw):
    values = dict(contributeur="police_62", annee=2023, fichier="f.csv", sha256="0" * 64,
                  archive="a", importe_le=dt.datetime(2024, 2, 1), importe_par="agent",
                  courant=True, demo=False, n_valeurs=0)
    values.update(kw)
    return sa.insert(storage.lots).values(**values)


def test_database_refuses_two_current_batches_for_one_pair(any_engine):
    with storage.transaction(any_engine) as conn:
        conn.execute(_lot())
        conn.execute(_lot(courant=False))  # l'historique, lui, peut en avoir plusieurs
        conn.execute(_lot(courant=False))
        conn.execute(_lot(annee=2022))     # autre couple
    with pytest.raises(sa.exc.IntegrityError):
        with storage.transaction(any_engine) as conn:
            conn.execute(_lot())
    with any_engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(storage.lots)).scalar() == 4


STARTUP = """
from observatoire import storage
engine = storage.get_engine()
print(storage.schema_revisions(engine)[0])
"""


def test_instances_starting_together_on_an_empty_database(backend):
    # Plusieurs instances démarrent en même temps sur une base vide : une seule crée le
    # schéma, les autres attendent puis le trouvent à jour ; aucune n'échoue.
    procs = [subprocess.Popen([sys.executable, "-c", STARTUP], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outs = [p.communicate(timeout=240) for p in procs]
    for p, (_out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
    engine = storage.make_engine()
    head = storage.schema_revisions(engine)[1]
    assert {out.strip() for out, _err in outs} == {head}
    engine.dispose()
