"""Acceptation : chaque échantillon de ../shared/samples/contributions donne exactement
les valeurs de son fichier attendu ; les deux fichiers REFUSER_ sont refusés sans trace."""

import pandas as pd
import pytest

from observatoire import batches, storage
from observatoire.errors import DonneesPersonnellesError, FichierRefuseError
from observatoire.ingest import import_contribution, read_contribution
from tests.conftest import shared_path

# Stockage et ingestion tournent sur SQLite et sur PostgreSQL (conftest.backend ; les cas
# PostgreSQL sont ignorés avec leur raison sans OBSERVATOIRE_TEST_PG_URL).
pytestmark = pytest.mark.usefixtures("backend")


@pytest.fixture
def engine(any_engine):
    """Le moteur du test, sur chacun des deux backends."""
    return any_engine

SAMPLES = [
    ("iscg_arrondissement_bethune_2022.xlsx", "iscg_bethune", 2022),
    ("iscg_arrondissement_bethune_2023.xlsx", "iscg_bethune", 2023),
    ("accueil_de_jour_2023_trimestres.xlsx", "la_vie_active", 2023),
    ("gendarmerie_faits_vif_2023.xlsx", "gendarmerie_62", 2023),
    ("association_aide_victimes_2023.csv", "france_victimes_62", 2023),
]


def _expected(name):
    path = shared_path("samples", "contributions", "attendu", name.rsplit(".", 1)[0] + ".csv")
    exp = pd.read_csv(path, dtype={"code_insee": str, "note": str}, keep_default_na=False)
    return {(r.code_insee, r.indicateur): (None if r.valeur == "" else int(r.valeur),
                                           r.note == "masque_a_la_source")
            for r in exp.itertuples()}


def _as_dict(values):
    loc = values[values["code_insee"].notna()]
    return {(r.code_insee, r.indicateur): (None if pd.isna(r.valeur) else int(r.valeur),
                                           bool(r.masque))
            for r in loc.itertuples()}


@pytest.mark.parametrize(("name", "contributeur", "annee"), SAMPLES)
def test_sample_loads_exactly(name, contributeur, annee, engine):
    path = shared_path("samples", "contributions", name)
    report = import_contribution(path, contributeur=contributeur, annee=annee,
                                 utilisateur="test")
    assert report.ok and report.statut == "nouveau"
    cur = storage.current_values(engine)
    stored = cur[cur["code_insee"].notna()]
    got = {(r.code_insee, r.indicateur): (None if pd.isna(r.valeur) else int(r.valeur),
                                          bool(r.masque)) for r in stored.itertuples()}
    assert got == _expected(name)
    assert set(cur["contributeur"]) == {contributeur} and set(cur["annee"]) == {annee}
    # Masqué à la source : jamais 0 ni un nombre.
    assert cur.loc[cur["masque"], "valeur"].isna().all()


def test_non_localised_rows_are_kept():
    path = shared_path("samples", "contributions", "association_aide_victimes_2023.csv")
    parsed = read_contribution(path, contributeur="france_victimes_62", annee=2023)
    nl = parsed.values[parsed.values["code_insee"].isna()]
    assert list(nl["libelle_non_localise"]) == ["NON RENSEIGNE"]
    assert int(nl["valeur"].iloc[0]) == 7
    assert parsed.report.encodage == "cp1252"
    quarters = read_contribution(shared_path("samples", "contributions",
                                             "accueil_de_jour_2023_trimestres.xlsx"),
                                 contributeur="la_vie_active", annee=2023)
    nl = quarters.values[quarters.values["code_insee"].isna()]
    # « Hors arrondissement » des quatre trimestres : 1+2+2+5 femmes, 3+2+0+1 enfants.
    assert dict(zip(nl["indicateur"], nl["valeur"].astype(int), strict=True)) == {
        "femmes_accueillies": 10, "enfants_exposes": 6}


def _snapshot(engine, data_dir):
    archive = data_dir / "contributions"
    files = sorted(p.as_posix() for p in archive.rglob("*") if p.is_file()) \
        if archive.exists() else []
    return len(batches.list_batches(engine)), len(storage.current_values(engine)), files


@pytest.mark.parametrize(("name", "error", "match"), [
    ("REFUSER_donnees_nominatives.xlsx", DonneesPersonnellesError,
     r"données personnelles \(nom ou prénom\).*colonne A « Nom »"),
    ("REFUSER_fichier_corrompu.xlsx", FichierRefuseError, r"corrompu"),
])
def test_refused_samples_leave_nothing(name, error, match, engine, isolated_data):
    ok = shared_path("samples", "contributions", "gendarmerie_faits_vif_2023.xlsx")
    import_contribution(ok, contributeur="gendarmerie_62", annee=2023, utilisateur="t")
    before = _snapshot(engine, isolated_data)
    with pytest.raises(error, match=match):
        import_contribution(shared_path("samples", "contributions", name),
                            contributeur="gendarmerie_62", annee=2023, utilisateur="t")
    assert _snapshot(engine, isolated_data) == before
