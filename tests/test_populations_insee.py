"""Populations de l'INSEE lues telles qu'elles sont publiées : titres, plusieurs feuilles,
codes en deux colonnes, lignes IRIS additionnées, colonnes choisies comme catégories, et la
population municipale totale écrite sous « population » pour son année."""

import json

import openpyxl
import pytest

from observatoire.errors import ObservatoireError
from observatoire.stats.denominateurs import (
    charger_population,
    import_populations,
    lire_populations,
)
from tests.conftest import run_cli


def _save(path, sheets):
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


LEGALES = {
    "Régions": [["Populations légales 2021"], [],
                ["Code région", "Nom de la région", "Population municipale"],
                ["32", "Hauts-de-France", 5997734]],
    "Départements": [["Populations légales 2021"], [],
                     ["Code région", "Code département", "Nom du département",
                      "Population municipale"], ["32", "62", "Pas-de-Calais", 1452778]],
    "Communes": [["Recensement de la population"],
                 ["Populations légales en vigueur à compter du 1er janvier 2024"],
                 ["Date de référence statistique : 1er janvier 2021"], [], [], [],
                 ["Code région", "Nom de la région", "Code département", "Code arrondissement",
                  "Code canton", "Code commune", "Nom de la commune", "Population municipale",
                  "Population comptée à part", "Population totale"],
                 ["32", "Hauts-de-France", "62", "2", "12", "119", "Béthune", 25000, 500, 25500],
                 ["32", "Hauts-de-France", "62", "2", "12", "126", "Beuvry", 9000, 100, 9100],
                 # Un ancien code (Marconne, déléguée) : additionné à sa commune actuelle.
                 ["32", "Hauts-de-France", "62", "7", "10", "447", "Hesdin-la-Forêt", 3000, 0,
                  3000], ["32", "Hauts-de-France", "62", "7", "10", "549", "Marconne", 10, 0, 10]],
}
BASE_IC = {"IRIS": [
    ["Évolution et structure de la population en 2020"], ["Recensement 2020"], [], [],
    ["IRIS", "Région", "Département", "Commune", "Libellé commune", "Pop. 2020",
     "Femmes 15-64 ans"],
    ["IRIS", "REG", "DEP", "COM", "LIBCOM", "P20_POP", "P20_F1564"],
    ["621190101", "32", "62", "62119", "Béthune", 2000.5, 600.25],
    ["621190102", "32", "62", "62119", "Béthune", 3000, 900],
    ["621260000", "32", "62", "62126", "Beuvry", 9000, 2800]]}


def test_populations_legales_as_published(tmp_path, engine):
    path = _save(tmp_path / "ensemble.xlsx", LEGALES)
    rapport = import_populations(path, engine=engine)
    assert rapport["feuille"] == "Communes" and rapport["ligne_entete"] == 7
    assert rapport["annee"] == 2021  # date de référence, pas l'entrée en vigueur
    assert rapport["categories"] == {"population": "Population municipale"}
    s = charger_population("population", 2021, engine=engine)
    assert s.to_dict() == {"62119": 25000.0, "62126": 9000.0, "62447": 3010.0}


def test_iris_rows_summed_and_chosen_columns_as_categories(tmp_path, engine):
    path = _save(tmp_path / "base-ic-evol-struct-pop-2020.xlsx", BASE_IC)
    rapport = import_populations(path, categories=["femmes_15_64=P20_F1564"], engine=engine)
    assert rapport["annee"] == 2020 and rapport["iris_additionnes"]
    assert rapport["ligne_entete"] == 6  # la ligne des codes de variables
    f = charger_population("femmes_15_64", 2023, engine=engine)
    assert f.to_dict() == {"62119": 1500.25, "62126": 2800.0}
    assert charger_population("population", 2020, engine=engine).to_dict() == {
        "62119": 5000.5, "62126": 9000.0}


def test_sheet_and_header_row_can_be_chosen(tmp_path):
    path = _save(tmp_path / "p.xlsx", LEGALES)
    long = lire_populations(path, feuille="Communes", ligne_entete=7,
                            categories={"population_totale": "Population totale"}, annee=2021)
    assert set(long["categorie"]) == {"population_totale", "population"}
    with pytest.raises(ObservatoireError, match="pas de feuille « Cantons »"):
        lire_populations(path, feuille="Cantons")
    with pytest.raises(ObservatoireError, match="pas de colonne « P99_X »"):
        lire_populations(path, categories={"x": "P99_X"})
    with pytest.raises(ObservatoireError, match="NOM=COLONNE"):
        lire_populations(path, categories=["femmes"])


def test_csv_as_published_and_the_legacy_layout(tmp_path, engine):
    csv = tmp_path / "base-ic.csv"
    csv.write_text("IRIS;COM;P21_POP;P21_F1564\n621190101;62119;10,5;3\n621190102;62119;4;1\n",
                   encoding="utf-8")
    rapport = import_populations(csv, categories={"femmes_15_64": "P21_F1564"}, engine=engine)
    assert rapport["annee"] == 2021 and rapport["par_categorie"] == {
        "femmes_15_64": 1, "population": 1}
    assert charger_population("population", 2021, engine=engine)["62119"] == 14.5
    bad = tmp_path / "bad.csv"
    bad.write_text("CODGEO;femmes_15_64\n62119;beaucoup\n", encoding="utf-8")
    with pytest.raises(ObservatoireError, match="ligne 2, colonne B.*n'est pas un nombre"):
        import_populations(bad, 2021, engine=engine)


def test_cli_importer_and_analyser_populations(tmp_path, engine, capsys):
    path = _save(tmp_path / "base-ic-2020.xlsx", BASE_IC)
    code, out, err = run_cli(capsys, "populations", "importer", str(path), "--categorie",
                             "femmes_15_64=P20_F1564", "--simulation", "--json")
    assert code == 0, err
    assert json.loads(out)["valeurs"] == 4
    code, out, err = run_cli(capsys, "analyser", "populations", str(path), "--annee", "2020",
                             "--categorie", "femmes_15_64=P20_F1564")
    assert code == 0, err
    assert "4 valeurs de population importées pour 2020" in out
    code, out, _ = run_cli(capsys, "populations", "lister")
    assert "femmes_15_64 · 2020 · 2 communes" in out
