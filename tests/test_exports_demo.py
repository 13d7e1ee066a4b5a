"""Publication complète sur la démonstration et les vrais contours du Pas-de-Calais.

Vérifie, sur des données qui contiennent des effectifs communaux de 1 à 4, que rien de ce
qui sort ne les révèle (texte des PDF par pdftotext, XML des SVG, données de la carte
HTML, cellules Excel, CSV), que les fichiers se reproduisent à l'octet près, et dépose
sous ``build/publication/`` les images à regarder (carte du département, premières pages
de l'atlas).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from tests.conftest import utiliser_demo

IND = "victimes_accompagnees"
BUILD = Path(__file__).resolve().parent.parent / "build" / "publication"

pytestmark = pytest.mark.slow


@pytest.fixture
def demo_publiee(demo_reference, tmp_path, monkeypatch):
    from observatoire import stats, storage
    from observatoire.exports import produire
    from observatoire.exports.donnees import rassembler

    # La démonstration de la session : contours réels, diffusions 2022 à 2024 validées.
    utiliser_demo(demo_reference, tmp_path / "demo", monkeypatch)
    engine = storage.get_engine()
    pub = rassembler(2024, [IND], engine=engine)
    man = produire(pub, tmp_path / "a", territoires=["departement", "622"])
    exact = stats.analyser(2024, IND, engine=engine)  # vue agents : la vérité à cacher
    return pub, man, tmp_path / "a", exact


def _petits(exact: pd.DataFrame) -> pd.DataFrame:
    obs = exact["observe"].astype("Float64")
    return exact[(obs >= 1) & (obs <= 4)].fillna({"observe": 0})


def test_publication_demo_complete_sans_petit_effectif(demo_publiee, tmp_path):
    pub, man, sortie, exact = demo_publiee
    petits = _petits(exact)
    assert len(petits) > 20, "la démonstration doit contenir des effectifs de 1 à 4"
    codes_petits = set(petits["code"])

    chemins = {f["chemin"] for f in man["fichiers"]}
    for attendu in ("atlas-2024.pdf", "tableaux-2024.xlsx", "donnees-2024.csv",
                    f"carte-{IND}-2024.html", f"cartes/{IND}-departement-taux.pdf",
                    f"cartes/{IND}-departement-taux.svg", f"cartes/{IND}-departement-taux.png",
                    f"cartes/{IND}-arrondissement-622-taux.png",
                    f"cartes/{IND}-departement-taux-epci.pdf",
                    f"cartes/{IND}-departement-etiquettes.pdf"):
        assert attendu in chemins, attendu
    assert man["demo"] is True and man["entrees"]["lots"]
    # Le manifeste dit que l'audit est passé, pas combien de cellules sont vraiment petites.
    assert man["diffusion"]["audit"]["sur"] is True
    assert not {"protegees", "secretes", "planification"} & set(man["diffusion"]["audit"])

    # CSV
    df = pd.read_csv(sortie / "donnees-2024.csv", sep=";", dtype=str, keep_default_na=False)
    com = df[df["niveau"] == "commune"].set_index("code")
    assert not com["observe"].isin(["1", "2", "3", "4"]).any()
    assert (com.loc[list(codes_petits), "secret"] == "oui").all()
    assert (com.loc[list(codes_petits), "taux"] == "").all()
    assert set(df["demo"]) == {"oui"}

    # Excel
    ws = openpyxl.load_workbook(sortie / "tableaux-2024.xlsx")["Communes"]
    ent = [c.value for c in ws[2]]
    i_code, i_obs = ent.index("Code INSEE"), ent.index("Effectif observé")
    for row in ws.iter_rows(min_row=3, values_only=True):
        v = row[i_obs]
        assert not (isinstance(v, (int, float)) and 1 <= v <= 4)
        if row[i_code] in codes_petits:
            assert v == "secret"

    # HTML : données embarquées
    from observatoire.exports.html import donnees_embarquees

    page = (sortie / f"carte-{IND}-2024.html").read_text(encoding="utf-8")
    assert not re.search(r'<(script|link)[^>]+(src|href)="(https?:)?//', page)
    valeurs = donnees_embarquees(page)["values"]
    assert len(valeurs) == 887
    effectifs = [int(x) for v in valeurs.values()
                 for x in re.findall(r"Effectif : (\d+)", v[1])]
    assert len(effectifs) > 300 and not any(1 <= x <= 4 for x in effectifs)
    assert all(valeurs[c][0] == "secret" and "Effectif" not in valeurs[c][1]
               for c in codes_petits)

    # SVG : texte de la carte, sans taux de commune secrète
    svg = (sortie / "cartes" / f"{IND}-departement-taux.svg").read_text(encoding="utf-8")
    textes = {re.sub(r"<[^>]+>", "", t).strip()
              for t in re.findall(r"<text[^>]*>.*?</text>", svg, re.S)}
    assert "DONNÉES FICTIVES DE DÉMONSTRATION" in textes
    assert any("taux par commune, 2024" in t for t in textes)

    # PDF : atlas (tableaux des communes) et carte
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) absent")
    texte = subprocess.run(["pdftotext", "-layout", str(sortie / "atlas-2024.pdf"), "-"],
                           capture_output=True, text=True, check=True).stdout
    pages = [p for p in texte.split("\f") if p.strip()]
    assert all("données fictives de démonstration" in p for p in pages)
    vus = 0
    for ligne in texte.splitlines():
        m = re.search(r"\b(62\d{3})\s+([\d\u202f ]+?)\s{2,}(\S+)", ligne)
        if not m:
            continue
        vus += 1
        assert m.group(3) not in {"1", "2", "3", "4"}, ligne
        if m.group(1) in codes_petits:
            assert m.group(3) == "secret", ligne
    assert vus >= 100  # le tableau de l'arrondissement de Béthune a été lu
    carte = subprocess.run(["pdftotext", str(sortie / "cartes" / f"{IND}-departement-taux.pdf"),
                            "-"], capture_output=True, text=True, check=True).stdout
    assert "Taux pour 1 000 habitants" in carte.replace("\u202f", " ")
    assert "secret statistique" in carte and "0 (aucun cas)" in carte
    assert "Contours : IGN – ADMIN EXPRESS COG 2018" in carte
    # « Non concluant » qualifie l'étiquette, pas la valeur : seulement sur la carte des
    # étiquettes ; sur celle des taux, ces communes sont colorées selon leur taux.
    assert "non concluant" not in carte
    etiquettes = subprocess.run(["pdftotext", str(sortie / "cartes" /
                                                  f"{IND}-departement-etiquettes.pdf"), "-"],
                                capture_output=True, text=True, check=True).stdout
    assert "non concluant" in etiquettes

    # Images à regarder
    BUILD.mkdir(parents=True, exist_ok=True)
    shutil.copy(sortie / "cartes" / f"{IND}-departement-taux.png", BUILD / "carte-departement.png")
    if shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-r", "60", "-png", "-f", "1", "-l", "6",
                        str(sortie / "atlas-2024.pdf"), str(BUILD / "atlas")], check=True)
        assert len(list(BUILD.glob("atlas-*.png"))) >= 6
    from PIL import Image

    im = Image.open(BUILD / "carte-departement.png")
    assert im.size == (3507, 2481)
    gris = np.asarray(im.convert("L").resize((350, 248)))
    assert (gris < 250).mean() > 0.2  # la carte n'est pas blanche

    # Reproductible : mêmes entrées, mêmes octets (PDF et SVG compris).
    from observatoire.exports import produire

    man2 = produire(pub, tmp_path / "b", territoires=["622"])
    h1 = {f["chemin"]: f["sha256"] for f in man["fichiers"]}
    h2 = {f["chemin"]: f["sha256"] for f in man2["fichiers"]}
    communs = set(h1) & set(h2)
    assert len(communs) >= 8
    assert {c: h1[c] for c in communs} == {c: h2[c] for c in communs}
