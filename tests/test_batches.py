import pandas as pd
import pytest

from observatoire import batches, storage
from observatoire.errors import ModeIncompatibleError, ObservatoireError


@pytest.fixture
def engine(any_engine):
    """Ces tests tournent sur SQLite et sur PostgreSQL (voir conftest.any_engine)."""
    return any_engine


def _values(v=3):
    return pd.DataFrame([
        {"code_insee": "62119", "libelle_non_localise": None, "indicateur": "faits_constates",
         "valeur": v, "masque": False, "feuille": "F", "ligne": 2, "colonne": "B"},
        {"code_insee": "62120", "libelle_non_localise": None, "indicateur": "faits_constates",
         "valeur": None, "masque": True, "feuille": "F", "ligne": 3, "colonne": "B"},
        {"code_insee": None, "libelle_non_localise": "NON RENSEIGNE",
         "indicateur": "faits_constates", "valeur": 7, "masque": False, "feuille": "F",
         "ligne": 4, "colonne": "B"},
    ])


def _store(content=b"a", v=3, **kw):
    return batches.store_batch(contributeur="gendarmerie_62", annee=2023, fichier="f.xlsx",
                               contenu=content, values=_values(v), utilisateur="test", **kw)


def test_replace_keeps_history_and_restore(engine):
    first = _store(b"v1", 3)
    assert first.statut == "nouveau"
    again = _store(b"v1", 3)
    assert again.statut == "inchange" and again.lot_id == first.lot_id
    second = _store(b"v2", 9)
    assert second.statut == "remplace" and second.remplace_lot_id == first.lot_id
    cur = storage.current_values(engine)
    assert cur.loc[cur.code_insee == "62119", "valeur"].item() == 9
    hist = batches.list_batches(engine)
    assert list(hist["courant"]) == [True, False]
    batches.restore_batch(first.lot_id, "test", engine)
    cur = storage.current_values(engine)
    assert cur.loc[cur.code_insee == "62119", "valeur"].item() == 3
    assert batches.verify_archive(engine) == {"fichiers_orphelins": [], "lots_sans_fichier": []}


def test_failed_store_leaves_nothing(engine, monkeypatch):
    bad = _values().astype({"valeur": object})
    bad.loc[0, "valeur"] = "pas un nombre"
    with pytest.raises(ValueError):
        batches.store_batch(contributeur="x", annee=2023, fichier="f.csv", contenu=b"zz",
                            values=bad, utilisateur="t")
    assert batches.list_batches(engine).empty
    assert batches.verify_archive(engine)["fichiers_orphelins"] == []


def test_demo_and_real_never_mix(engine):
    _store(b"demo", demo=True)
    with pytest.raises(ModeIncompatibleError, match="démonstration"):
        _store(b"reel")


def test_current_values_of_one_departement(engine):
    # Une base nationale : l'analyse du Pas-de-Calais ne lit que ses communes et le non
    # localisé, filtrés par la base.
    values = _values()
    values.loc[len(values)] = {"code_insee": "59350", "libelle_non_localise": None,
                               "indicateur": "faits_constates", "valeur": 40,
                               "masque": False, "feuille": "F", "ligne": 5, "colonne": "B"}
    batches.store_batch(contributeur="gendarmerie_62", annee=2023, fichier="f.xlsx",
                        contenu=b"national", values=values, utilisateur="test")
    everything = storage.current_values(engine)
    assert sorted(everything["code_insee"].fillna("-")) == ["-", "59350", "62119", "62120"]
    only_62 = storage.current_values(engine, departement="62")
    assert sorted(only_62["code_insee"].fillna("-")) == ["-", "62119", "62120"]
    assert only_62.loc[only_62["code_insee"] == "62120", "valeur"].isna().all()
    only_59 = storage.current_values(engine, departement="59")
    assert sorted(only_59["code_insee"].fillna("-")) == ["-", "59350"]
    with pytest.raises(ObservatoireError, match="département invalide"):
        storage.current_values(engine, departement="6%")
