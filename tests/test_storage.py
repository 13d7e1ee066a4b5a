import datetime as dt

import pytest
import sqlalchemy as sa

from observatoire import storage


@pytest.fixture
def engine(any_engine):
    """Ces tests tournent sur SQLite et sur PostgreSQL (voir conftest.any_engine)."""
    return any_engine


def test_schema_created_by_migrations(engine):
    names = set(sa.inspect(engine).get_table_names())
    assert {"lots", "valeurs", "dispositifs", "referents", "meta", "alembic_version"} <= names


def _insert_lot(conn, **kw):
    values = dict(contributeur="iscg_bethune", annee=2023, fichier="f.xlsx", sha256="0" * 64,
                  archive="a", importe_le=dt.datetime(2024, 2, 1), importe_par="agent",
                  courant=True, demo=False, n_valeurs=1)
    values.update(kw)
    return conn.execute(sa.insert(storage.lots).values(**values)).inserted_primary_key[0]


def test_transaction_rolls_back_everything(engine):
    with pytest.raises(RuntimeError):
        with storage.transaction(engine) as conn:
            lot = _insert_lot(conn)
            conn.execute(sa.insert(storage.valeurs).values(
                lot_id=lot, code_insee="62119", indicateur="x", valeur=3, masque=False))
            raise RuntimeError("échec au milieu")
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(storage.lots)).scalar() == 0


def test_current_values_keeps_masked_as_na(engine):
    with storage.transaction(engine) as conn:
        lot = _insert_lot(conn)
        old = _insert_lot(conn, courant=False)
        conn.execute(sa.insert(storage.valeurs), [
            dict(lot_id=lot, code_insee="62119", indicateur="x", valeur=7, masque=False),
            dict(lot_id=lot, code_insee="62120", indicateur="x", valeur=None, masque=True),
            dict(lot_id=old, code_insee="62119", indicateur="x", valeur=99, masque=False),
        ])
    df = storage.current_values(engine, annees=[2023])
    assert len(df) == 2
    assert df.set_index("code_insee").loc["62119", "valeur"] == 7
    assert df.set_index("code_insee").loc["62120", "valeur"] is __import__("pandas").NA
    assert df.set_index("code_insee").loc["62120", "masque"]


def test_meta_roundtrip(engine):
    with storage.transaction(engine) as conn:
        storage.set_meta(conn, "mode", "demo")
    with engine.connect() as conn:
        assert storage.get_meta(conn, "mode") == "demo"


def test_values_indexed_by_lot_and_item(engine):
    # Lecture des valeurs d'un indicateur dans les lots courants : index (lot, indicateur).
    indexes = {ix["name"]: ix["column_names"] for ix in sa.inspect(engine).get_indexes("valeurs")}
    assert indexes["ix_valeurs_lot_indicateur"] == ["lot_id", "indicateur"]
