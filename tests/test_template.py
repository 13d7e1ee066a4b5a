import io

import openpyxl
import pandas as pd
import pytest

from observatoire import catalogues, storage
from observatoire.ingest import import_contribution, read_contribution
from observatoire.ingest.template import DATA_SHEET, build_template


@pytest.fixture
def template():
    return build_template("iscg_bethune", 2024)


def test_template_structure(template):
    wb = openpyxl.load_workbook(io.BytesIO(template))
    assert wb.sheetnames[:2] == ["Consignes", DATA_SHEET]
    consignes = " ".join(str(c.value) for c in wb["Consignes"]["A"] if c.value)
    assert "31 mars 2025" in consignes and "résidence de la victime" in consignes
    assert "sous-préfecture de Béthune" in consignes
    ws = wb[DATA_SHEET]
    communes = catalogues.communes_du_territoire("622")
    codes = [ws.cell(row=r, column=1).value for r in range(2, ws.max_row)]
    assert codes == list(communes["code_insee"])
    assert ws.cell(row=ws.max_row, column=2).value == "Non localisé"
    items = catalogues.indicateurs_du_contributeur("iscg_bethune")
    assert [ws.cell(row=1, column=3 + k).value for k in range(len(items))] == \
        [i.libelle for i in items]
    assert ws.protection.sheet and ws["A1"].protection.locked
    assert not ws["C2"].protection.locked
    dv = ws.data_validations.dataValidation[0]
    assert dv.type == "custom" and '"s"' in dv.formula1 and "INT(" in dv.formula1
    hidden = [s for s in wb.worksheets if s.sheet_state == "veryHidden"]
    assert len(hidden) == 1
    assert "OBSERVATOIRE_MODELE" in wb.defined_names


def test_departement_territory():
    wb = openpyxl.load_workbook(io.BytesIO(build_template("caf_62", 2024)))
    ws = wb[DATA_SHEET]
    assert ws.max_row - 2 == len(catalogues.communes_du_territoire("62"))
    # La gendarmerie couvre le reste du territoire des polices : ses communes seulement.
    wb = openpyxl.load_workbook(io.BytesIO(build_template("gendarmerie_62", 2024)))
    police = catalogues.communes_couvertes("reste:police_62|reste:police_bethune")
    assert wb[DATA_SHEET].max_row - 2 == len(police) == 887 - 25


def test_filled_template_round_trips(template, engine):
    wb = openpyxl.load_workbook(io.BytesIO(template))
    ws = wb[DATA_SHEET]
    expected = {}
    items = [i.code for i in catalogues.indicateurs_du_contributeur("iscg_bethune")]
    for r in range(2, ws.max_row + 1):
        code = ws.cell(row=r, column=1).value or None
        for k, item in enumerate(items):
            if (r + k) % 3 == 0:
                continue  # laissé vide : aucune valeur
            value = "s" if (r * 7 + k) % 11 == 0 else (r * 13 + k) % 40
            ws.cell(row=r, column=3 + k, value=value)
            expected[(code, item)] = (None, True) if value == "s" else (value, False)
    buf = io.BytesIO()
    wb.save(buf)
    report = import_contribution(buf.getvalue(), "rempli.xlsx", "iscg_bethune", 2024,
                                 utilisateur="t")
    assert report.format == "modele" and report.ok and not report.avertissements
    cur = storage.current_values(engine)
    got = {(None if pd.isna(c) else c, i): (None if pd.isna(v) else int(v), bool(m))
           for c, i, v, m in zip(cur["code_insee"], cur["indicateur"], cur["valeur"],
                                 cur["masque"], strict=True)}
    assert got == expected


def test_template_for_other_year_warns(template):
    p = read_contribution(template, "m.xlsx", "iscg_bethune", 2023)
    assert any(w.code == "modele_autre_annee" for w in p.report.avertissements)
