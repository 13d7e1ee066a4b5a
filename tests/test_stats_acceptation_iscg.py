"""Acceptation : seul le tableau de l'ISCG de l'arrondissement de Béthune (2023) est chargé.

Avant cette issue, la carte publique, l'atlas et le CSV montraient les 783 communes hors
de l'arrondissement 622 comme « secret statistique » (« effectif de 1 à 4 ») : un lecteur
en concluait que chacune avait eu de 1 à 4 victimes. Elles sont maintenant « hors du
périmètre des sources » partout : analyse (JSON), CSV, classeur, atlas, carte HTML.
"""

from __future__ import annotations

import json
import subprocess

import openpyxl
import pandas as pd
import pytest

from observatoire.exports.html import donnees_embarquees
from tests.conftest import run_cli, shared_path

pytestmark = pytest.mark.slow
IND = "victimes_accueillies"


@pytest.fixture
def iscg_seul(engine):
    from observatoire import communes, referentiel
    from observatoire.ingest import import_contribution

    referentiel.import_boundaries(
        shared_path("geo", "pas-de-calais", "communes-62-pas-de-calais.geojson"),
        millesime="2018", attribution="IGN – ADMIN EXPRESS COG 2018")
    import_contribution(shared_path("samples", "contributions",
                                    "iscg_arrondissement_bethune_2023.xlsx"),
                        contributeur="iscg_bethune", annee=2023, utilisateur="t", engine=engine)
    # Le public ne lit que des diffusions validées : celle de 2023, sur ce seul lot.
    from observatoire import diffusion

    diffusion.preparer(2023, engine=engine)
    diffusion.valider(2023, engine=engine)
    c = communes.load_communes("62")
    return set(c.loc[c["arrondissement"] != "622", "code_insee"])


def test_analyse_json_hors_perimetre_jamais_secret(iscg_seul, capsys):
    code, out, err = run_cli(capsys, "analyser", "--annee", "2023", "--indicateur", IND,
                             "--json")
    assert code == 0, err
    doc = json.loads(out)
    lignes = {r["code"]: r for r in doc["lignes"]}
    assert len(iscg_seul) == 783
    for code_insee in iscg_seul:
        r = lignes[code_insee]
        assert r["couverture"] == "hors_perimetre" and r["secret"] is False
        assert r["observe"] is None and r["label"] is None and r["attendu"] is None
        assert r["couverture_libelle"] == "hors du périmètre des sources"
    assert [m["contributeur"] for m in doc["meta"]["sources_manquantes"]] == ["iscg_62"]
    assert any("source attendue absente" in a for a in doc["meta"]["avertissements"])


def test_publication_montre_les_communes_hors_perimetre(iscg_seul, tmp_path, capsys):
    sortie = tmp_path / "pub"
    code, _out, err = run_cli(capsys, "publier", "--annee", "2023", "--sortie", str(sortie),
                              "--territoire", "departement", "--indicateurs", IND)
    assert code == 0, err
    df = pd.read_csv(sortie / "donnees-2023.csv", sep=";", dtype=str, keep_default_na=False)
    com = df[df["niveau"] == "commune"].set_index("code")
    hors = com.loc[sorted(iscg_seul)]
    assert (hors["couverture"] == "hors du périmètre des sources").all()
    assert (hors["secret"] == "non").all() and (hors["observe"] == "").all()
    assert (hors["label"] == "").all()
    assert (com.drop(index=sorted(iscg_seul))["couverture"] == "couverte").all()

    ws = openpyxl.load_workbook(sortie / "tableaux-2023.xlsx")["Communes"]
    ent = [c.value for c in ws[1]]
    i_code, i_lab, i_obs = (ent.index("Code INSEE"), ent.index("Étiquette"),
                            ent.index("Effectif observé"))
    for row in ws.iter_rows(min_row=2, values_only=True):
        if row[i_code] in iscg_seul:
            assert row[i_lab] == "hors du périmètre des sources" and row[i_obs] is None

    texte = subprocess.run(["pdftotext", "-layout", str(sortie / "atlas-2023.pdf"), "-"],
                           capture_output=True, text=True, check=True).stdout
    assert "hors du périmètre des sources (783)" in texte
    assert "Sources attendues absentes" in texte
    carte = (sortie / f"carte-{IND}-2023.html").read_text(encoding="utf-8")
    valeurs = donnees_embarquees(carte)["values"]
    assert all(valeurs[c][0] == "hors_perimetre" for c in iscg_seul)
    assert not any(valeurs[c][0] == "secret" for c in iscg_seul)
