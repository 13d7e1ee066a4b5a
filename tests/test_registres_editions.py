"""Liste France services de l'ANCT : les en-têtes de chaque édition sont reconnus.

Les éditions sont reconstituées à partir du fichier réel de 2024 (../shared/real), en
reprenant les en-têtes de chaque édition publiée : 2020-2021 (``lib_france_services``,
``ADRESSE``, ``COMPLEMENT.D.ADRESSE``, ``LATITUDE``, ``CONTACT.MAIL``, ``TELEPHONE``,
commune par son nom et son code postal), 2022-2023 (``matricule``, ``lib_fs``, ``mail``,
``commentaire_horaires``) et la version tableur en toutes lettres.
"""

import pandas as pd
import pytest

from observatoire import registres
from tests.conftest import shared_path

EDITIONS = {
    "2021": {"lib_fs": "lib_france_services", "adresse": "ADRESSE",
             "complement_adresse": "COMPLEMENT.D.ADRESSE", "latitude": "LATITUDE",
             "longitude": "LONGITUDE", "mail": "CONTACT.MAIL", "telephone": "TELEPHONE",
             "insee_com": None, "id_fs": None, "insee_dep": None},
    "2022": {"id_fs": "matricule", "commentaire": "commentaire_horaires",
             "type_fs": "type", "format_fs": "itinerance", "groupe_fs": "groupe",
             "insee_com": "code_insee"},
    "tableur": {"lib_fs": "Nom de la France services", "adresse": "Adresse",
                "complement_adresse": "Complément d'adresse", "code_postal": "Code postal",
                "lib_com": "Commune", "insee_com": "Code INSEE", "latitude": "Latitude",
                "longitude": "Longitude", "mail": "Adresse e-mail", "telephone": "Téléphone",
                "h_lundi": "Lundi", "h_mardi": "Mardi", "h_mercredi": "Mercredi",
                "h_jeudi": "Jeudi", "h_vendredi": "Vendredi", "h_samedi": "Samedi"},
}


@pytest.mark.parametrize("edition", sorted(EDITIONS))
def test_every_anct_edition_is_recognised(edition, engine, tmp_path):
    real = pd.read_csv(shared_path("real", "dispositifs-62", "france-services-62-20240801.csv"),
                       dtype=str, keep_default_na=False)
    renames = EDITIONS[edition]
    frame = real.drop(columns=[c for c, new in renames.items() if new is None])
    frame = frame.rename(columns={c: n for c, n in renames.items() if n})
    path = tmp_path / f"france-services-{edition}.csv"
    frame.to_csv(path, index=False, sep=";" if edition == "2021" else ",")
    report = registres.import_dispositifs(path, type="france_services", engine=engine)
    assert report.lignes_lues == 50 and report.importes == 50, report.lines()
    df = registres.list_dispositifs(engine)
    first = df[df["nom"] == "France services La Poste de Sains-en-Gohelle"].iloc[0]
    assert first["code_insee"] == "62737"
    assert "Sains-en-gohelle@france-services.gouv.fr" in first["contact"]
    assert "03 91 83 23 70" in first["contact"]
    assert first["horaires"].startswith("lundi 09:00 - 12:00")
    assert df["latitude"].between(50.0, 51.0).all()
