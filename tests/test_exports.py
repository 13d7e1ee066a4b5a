"""Exports de la publication sur une petite publication synthétique (rapide, sans base)."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
import zipfile

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
from shapely.geometry import Point, box

from observatoire import classification as cl
from observatoire.errors import ObservatoireError
from observatoire.exports import atlas, excel, html, opendata, produire
from observatoire.exports import print_maps as pm
from observatoire.exports.donnees import Publication, etiquette_carte, statut

IND = "faits_constates"


def _publication(demo: bool = True) -> Publication:
    """6 × 6 communes carrées de 2 km, 2 arrondissements, 4 EPCI, secret déjà appliqué."""
    x0, y0 = 650_000, 7_000_000
    rows = []
    rng = np.random.default_rng(3)
    for i in range(6):
        for j in range(6):
            n = i * 6 + j
            rows.append({
                "code": f"99{n:03d}", "nom": f"Commune {n}",
                "epci": f"E{(i // 3) * 2 + j // 3}", "arrondissement": "991" if i < 3 else "992",
                "departement": "99", "population": int(500 + 300 * n),
                "geometry": box(x0 + j * 2000, y0 + i * 2000, x0 + (j + 1) * 2000,
                                y0 + (i + 1) * 2000)})
    com = gpd.GeoDataFrame(rows, crs="EPSG:2154")
    com.loc[0, "nom"] = "=HYPERLINK(\"http://x\";\"clic\")"
    observe = rng.poisson(com["population"] * 0.006).astype(float)
    observe[[1, 2, 3]] = [1, 3, 4]          # petits effectifs : secret
    observe[4] = 0                          # zéro : publié
    observe[5] = np.nan                     # pas de donnée
    t = pd.DataFrame({"code": com["code"], "nom": com["nom"], "niveau": "commune",
                      "population": com["population"], "observe": observe,
                      "epci": com["epci"], "arrondissement": com["arrondissement"]})
    t["attendu"] = t["population"] * np.nansum(observe) / t["population"].sum()
    t["taux"] = t["observe"] / t["population"] * 1000
    t["taux_lisse"] = t["taux"]
    t["ratio"] = t["observe"] / t["attendu"]
    t["label"] = np.where(t["attendu"] < 4, "non concluant", "dans la norme").astype(object)
    t.loc[[6, 7], "label"] = "blanche présumée"
    t.loc[[8], "label"] = "révélatrice"
    t.loc[[9, 10, 11], "label"] = "non concluant"  # effectifs publiés, étiquette prudente
    t.loc[5, "label"] = None
    t["secret"] = t["observe"].between(1, 4)
    for c in ("observe", "taux", "taux_lisse", "ratio", "attendu"):
        t.loc[t["secret"], c] = np.nan
    t["motif_secret"] = np.where(t["secret"], "effectif inférieur au seuil", None)

    def dissoudre(col, nom):
        g = com.dissolve(col, as_index=False)[[col, "geometry"]].rename(columns={col: "code"})
        g["nom"] = [f"{nom} {c}" for c in g["code"]]
        return g
    couches = {"commune": com, "epci": dissoudre("epci", "EPCI"),
               "arrondissement": dissoudre("arrondissement", "Arrondissement"),
               "departement": dissoudre("departement", "Département")}
    agr = {}
    for niveau in ("epci", "arrondissement", "departement"):
        g = couches[niveau][["code", "nom"]].copy()
        g["niveau"] = niveau
        g["population"] = 1000
        g["observe"] = 50.0
        g["taux"] = 5.0
        g["label"] = "dans la norme"
        g["secret"] = False
        agr[(IND, niveau)] = g
    disp = gpd.GeoDataFrame({"type": ["accueil_de_jour", "iscg"], "nom": ["A", "B"],
                             "type_libelle": ["Accueil de jour", "ISCG"]},
                            geometry=[Point(x0 + 3000, y0 + 3000), Point(x0 + 9000, y0 + 9000)],
                            crs="EPSG:2154")
    tend = pd.DataFrame({"code": ["991", "991", "99", "99"], "nom": ["A", "A", "D", "D"],
                         "niveau": ["arrondissement"] * 2 + ["departement"] * 2,
                         "annee": [2023, 2024] * 2, "observe": [40, 50, 90, 100],
                         "taux": [4.0, 5.0, 4.5, 5.0], "secret": [False] * 4})
    cov = pd.DataFrame({"code": com["code"], "nom": com["nom"],
                        "arrondissement": com["arrondissement"],
                        "population": com["population"], "referent": [True] * 10 + [False] * 26,
                        "referent_forme": [True] * 5 + [False] * 31,
                        "distance_accueil_de_jour": np.linspace(1, 12, 36)})
    return Publication(
        annee=2024, territoire_nom="Territoire test", departement="99",
        indicateurs={IND: "Faits de violences intrafamiliales constatés"}, couches=couches,
        tables={(IND, "commune"): t, **agr}, contributeurs={IND: ["Police", "Gendarmerie"]},
        tendances={IND: tend}, couverture=cov, dispositifs=disp,
        referents=pd.DataFrame({"code": ["99010", "99011"], "forme": [True, False]}),
        lots=[{"lot": 1, "contributeur": "police_62", "nom": "Police nationale",
               "annee": 2024, "recu_le": "2025-02-01", "indicateurs": [IND]}],
        source_geo={"source": "IGN ADMIN EXPRESS COG", "millesime": "2024"},
        methodologie="# Méthode\n\nUn **taux** pour 1 000 habitants.\n\n- point un\n- point deux\n",
        demo=demo, seuil_secret=5, date_donnees=dt.date(2025, 2, 1))


@pytest.fixture
def pub():
    return _publication()


def test_statut_secret_puis_absence_non_concluant_colore(pub):
    t = pub.table(IND)
    s = statut(t)
    assert s[1] == s[2] == s[3] == "secret"
    assert s[5] == "pas_de_donnee"
    # « Non concluant » est une propriété de l'étiquette, pas de la valeur : une commune
    # non concluante dont le taux est publié est colorée selon ce taux.
    nc = (t["label"] == "non concluant") & ~t["secret"]
    assert nc.sum() >= 3 and (s[nc] == "valeur").all()
    assert s[4] == "valeur"  # zéro : publié et coloré
    lab = etiquette_carte(t)
    assert lab[1] == t.loc[1, "label"]  # l'étiquette d'une commune secrète reste publiée
    assert lab[5] is None


def test_classes_calculees_sans_les_valeurs_secretes(pub):
    c = pm.classification_pour(pub, IND, methode="quantiles", k=4)
    g = pm.table_carte(pub, IND, "departement")
    assert sum(c.effectifs) == int((g["statut"] == "valeur").sum())
    assert c.bornes[-1] >= g.loc[g["statut"] == "valeur", "taux"].max()


def test_carte_svg_texte_titre_legende_echelle(pub, tmp_path):
    c = pm.classification_pour(pub, IND)
    fig = pm.figure_carte(pub, IND, "departement", c)
    fichiers = pm.enregistrer(fig, tmp_path / "carte", 2024)
    assert [p.suffix for p in fichiers] == [".pdf", ".svg", ".png"]
    svg = (tmp_path / "carte.svg").read_text(encoding="utf-8")
    textes = [re.sub(r"<[^>]+>", "", t) for t in re.findall(r"<text[^>]*>.*?</text>", svg, re.S)]
    tout = " ".join(textes)
    assert "Territoire test — Violences intrafamiliales : taux par commune, 2024" in tout
    assert "taux pour 1\u202f000 habitants" in tout or "taux pour 1 000 habitants" in tout
    for lib in c.etiquettes():
        assert lib in tout
    for etat in ("secret statistique", "effectif de 1 à 4", "pas de donnée",
                 "0 (aucun cas)", "zéro à part",
                 "zone blanche présumée", "limite d'EPCI", "limite d'arrondissement",
                 "référent VIF formé", "Accueil de jour", "km", "N",
                 "DONNÉES FICTIVES DE DÉMONSTRATION", "Sources : Police, Gendarmerie",
                 "Lambert-93", "Contours : IGN ADMIN EXPRESS COG 2024"):
        assert etat in tout, etat
    # Pas de classe « non concluant » sur une carte de valeurs.
    assert "non concluant" not in tout
    from PIL import Image

    im = Image.open(tmp_path / "carte.png")
    assert im.size == (round(11.69 * 300), round(8.27 * 300))
    assert len(set(np.asarray(im.convert("L").resize((200, 140))).ravel())) > 20


def test_carte_par_epci(pub, tmp_path):
    c = pm.classification_pour(pub, IND, niveau="epci")
    assert sum(c.effectifs) == 4  # les 4 EPCI, publiés
    fig = pm.figure_carte(pub, IND, "departement", c, niveau="epci")
    pm.enregistrer(fig, tmp_path / "e", 2024, formats=("svg",))
    svg = (tmp_path / "e.svg").read_text(encoding="utf-8")
    assert "taux par EPCI, 2024" in svg and "nombre d'EPCI" in svg
    with pytest.raises(ValueError, match="EPCI débordent"):
        pm.table_carte(pub, IND, "991", "epci")


def test_hachures_une_surface_par_classe(pub):
    """Les communes hachurées d'une classe (3 secrètes) sont dessinées en une seule surface."""
    from matplotlib.figure import Figure

    c = pm.classification_pour(pub, IND)
    ax = Figure().add_subplot()
    pm.dessiner_carte(ax, pub, IND, "departement", c, dispositifs=False, referents=False)
    hachurees = [coll for coll in ax.collections if coll.get_hatch()]
    assert [coll.get_hatch() for coll in hachurees] == [cl.STYLE_SECRET.hachures,
                                                       cl.STYLE_PAS_DE_DONNEE.hachures]
    assert [len(coll.get_paths()) for coll in hachurees] == [1, 1]
    # L'échelle et le nord sont sous le territoire, pas dessus.
    ymin = pub.couches["commune"].total_bounds[1]
    assert all(p.get_y() + p.get_height() < ymin for p in ax.patches)


def test_carte_des_etiquettes_et_arrondissement(pub, tmp_path):
    c = pm.classification_pour(pub, IND)
    fig = pm.figure_carte(pub, IND, "992", c, mesure="label", dispositifs=False,
                          referents=False)
    pm.enregistrer(fig, tmp_path / "e", 2024, formats=("svg",))
    svg = (tmp_path / "e.svg").read_text(encoding="utf-8")
    assert "Arrondissement 992 — Violences intrafamiliales : zones révélatrices" in svg
    assert "révélatrice" in svg and "blanche présumée" in svg and "non concluant" in svg
    assert "référent" not in svg  # couche désactivée


def test_metadonnees_pdf_fixees(pub, tmp_path):
    if not shutil.which("pdfinfo"):
        pytest.skip("pdfinfo (poppler-utils) absent")
    c = pm.classification_pour(pub, IND)
    pm.enregistrer(pm.figure_carte(pub, IND, "departement", c), tmp_path / "a", 2024,
                   formats=("pdf",))
    info = subprocess.run(["pdfinfo", str(tmp_path / "a.pdf")], capture_output=True,
                          text=True, check=True).stdout
    assert re.search(r"CreationDate:\s+.*2025", info)


def test_excel_feuilles_formats_injection(pub, tmp_path):
    chemin = excel.produire_excel(pub, tmp_path / "t.xlsx")
    wb = openpyxl.load_workbook(chemin)
    assert wb.sheetnames == ["Communes", "EPCI", "Arrondissements", "Département",
                             "Sources et méthode"]
    ws = wb["Communes"]
    assert ws["A1"].value == "DONNÉES FICTIVES DE DÉMONSTRATION"
    assert ws.freeze_panes == "D3"
    entetes = [c.value for c in ws[2]]
    assert entetes[:3] == ["Indicateur", "Code INSEE", "Nom"]
    col = {h: i for i, h in enumerate(entetes)}
    lignes = list(ws.iter_rows(min_row=3, values_only=False))
    par_code = {r[col["Code INSEE"]].value: r for r in lignes}
    # Nom hostile : écrit comme texte, jamais comme formule.
    nom0 = par_code["99000"][col["Nom"]]
    assert nom0.data_type == "s" and nom0.value.startswith("=HYPERLINK")
    assert 'f>' not in zipfile.ZipFile(chemin).read("xl/worksheets/sheet1.xml").decode()
    for code in ("99001", "99002", "99003"):
        assert par_code[code][col["Effectif observé"]].value == "secret"
        assert par_code[code][col["Taux pour 1 000 habitants"]].value == "secret"
    assert par_code["99004"][col["Effectif observé"]].value == 0
    assert par_code["99010"][col["Taux pour 1 000 habitants"]].number_format == "#,##0.0"
    for r in lignes:
        v = r[col["Effectif observé"]].value
        assert not (isinstance(v, (int, float)) and 1 <= v <= 4)
    src = [r[0] for r in wb["Sources et méthode"].iter_rows(values_only=True)]
    assert any("1 — Police nationale — 2024 — reçu le 2025-02-01" in (s or "") for s in src)
    assert not any(".xlsx" in (s or "") for s in src)  # jamais le nom d'un fichier reçu


def test_excel_reproductible(pub, tmp_path):
    a = excel.produire_excel(pub, tmp_path / "a.xlsx").read_bytes()
    b = excel.produire_excel(pub, tmp_path / "b.xlsx").read_bytes()
    assert a == b
    z = zipfile.ZipFile(tmp_path / "a.xlsx")
    assert {i.date_time for i in z.infolist()} == {(2025, 1, 1, 0, 0, 0)}
    assert b"2025-01-01T00:00:00Z" in z.read("docProps/core.xml")


def test_csv_open_data(pub, tmp_path):
    csv, schema = opendata.produire_csv(pub, tmp_path / "d.csv")
    texte = csv.read_text(encoding="utf-8")
    lignes = texte.splitlines()
    entete = lignes[0].split(";")
    assert entete == [c for c, _t, _d in opendata.SCHEMA]
    champs = json.loads(schema.read_text(encoding="utf-8"))["fields"]
    assert [f["name"] for f in champs] == entete and all(f["description"] for f in champs)
    df = pd.read_csv(csv, sep=";", dtype=str, keep_default_na=False)
    com = df[df["niveau"] == "commune"].set_index("code")
    for code in ("99001", "99002", "99003"):
        assert com.loc[code, "observe"] == "" and com.loc[code, "taux"] == ""
        assert com.loc[code, "secret"] == "oui"
    assert com.loc["99004", "observe"] == "0"
    assert not com["observe"].isin(["1", "2", "3", "4"]).any()
    assert com.loc["99000", "nom"].startswith("'=HYPERLINK")  # neutralisé pour les tableurs
    assert set(df["demo"]) == {"oui"}
    assert re.fullmatch(r"\d+,\d\d", com.loc["99010", "taux"])
    assert opendata.produire_csv(pub, tmp_path / "e.csv")[0].read_bytes() == csv.read_bytes()


def test_html_autonome_deterministe_public(pub, tmp_path):
    c = pm.classification_pour(pub, IND)
    a = html.produire_html(pub, tmp_path / "a.html", IND, c).read_text(encoding="utf-8")
    b = html.produire_html(pub, tmp_path / "b.html", IND, c).read_text(encoding="utf-8")
    assert a == b
    assert not re.search(r'<(script|link)[^>]+(src|href)="(https?:)?//', a)
    assert "L.map(" in a and "Observatoire.build(" in a  # Leaflet et carte.js intégrés
    assert "Données fictives de démonstration" in a
    cfg = html.donnees_embarquees(a)
    assert cfg["osm"] is None  # aucun fond tuilé distant
    valeurs = cfg["values"]
    assert len(valeurs) == 36
    for code in ("99001", "99002", "99003"):
        classe, texte = valeurs[code][:2]
        assert classe == "secret" and "Effectif" not in texte and "Taux" not in texte
    assert "Effectif : 0" in valeurs["99004"][1] and valeurs["99004"][0] == 0
    assert valeurs["99005"][0] is None  # pas de donnée
    effectifs = [int(x) for v in valeurs.values()
                 for x in re.findall(r"Effectif : (\d+)", v[1])]
    assert effectifs and not any(1 <= x <= 4 for x in effectifs)
    # Commune non concluante publiée : colorée selon son taux, comme sur le papier.
    assert isinstance(valeurs["99009"][0], int)
    assert "Contours : IGN ADMIN EXPRESS COG 2024" in cfg["legend"]


def test_atlas_pages_et_texte(pub, tmp_path):
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) absent")
    c = pm.classification_pour(pub, IND)
    chemin = atlas.produire_atlas(pub, tmp_path / "atlas.pdf", {IND: c})
    texte = subprocess.run(["pdftotext", "-layout", str(chemin), "-"], capture_output=True,
                           text=True, check=True).stdout
    pages = texte.split("\f")
    n = len([p for p in pages if p.strip()])
    assert n >= 10
    assert f"page 1 / {n}" in pages[0] and f"page {n} / {n}" in pages[n - 1]
    assert all("données fictives de démonstration" in p for p in pages if p.strip())
    assert "Sommaire" in pages[1] and "Méthode" in pages[1]
    for attendu in ("Tendances", "Couverture et référents", "Sources des données",
                    "Un taux pour 1 000 habitants.", "– point un"):
        assert attendu in texte, attendu
    for code in ("99001", "99002", "99003"):
        ligne = next(li for li in texte.splitlines() if code in li)
        assert re.search(code + r"\s+[\d\u202f ]+\s+secret\s+secret", ligne), ligne
    # Page de carte : la carte isolée, avec par-dessus le pied de page de l'atlas.
    assert "taux par commune, 2024" in pages[2] and f"page 3 / {n}" in pages[2]
    assert "Observatoire territorial des VIF — Territoire test" in pages[2]
    assert "0 (aucun cas)" in pages[2] and "Lambert-93" in pages[2]
    # Colonnes alignées : même début de colonne « Code » sur chaque ligne du tableau.
    debuts = {li.index(m.group(0)) for li in texte.splitlines()
              if (m := re.search(r"\b99\d{3}\b", li)) and li.startswith("Commune ")}
    assert len(debuts) == 1, debuts


def test_polices_incorporees_et_texte_cherchable(pub, tmp_path):
    """Polices Type 3 : incorporées, avec leur table Unicode (texte extractible)."""
    if not shutil.which("pdffonts"):
        pytest.skip("pdffonts (poppler-utils) absent")
    c = pm.classification_pour(pub, IND)
    carte = pm.enregistrer(pm.figure_carte(pub, IND, "departement", c), tmp_path / "c", 2024,
                           formats=("pdf",))[0]
    chemin = atlas.produire_atlas(pub, tmp_path / "atlas.pdf", {IND: c})
    for pdf in (carte, chemin):
        sortie = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True,
                                check=True).stdout.splitlines()[2:]
        assert sortie, pdf
        for ligne in sortie:
            # nom, type (« Type 3 »), encodage, emb, sub, uni, objet
            emb, _sub, uni = ligne.split()[-5:-2]
            assert (emb, uni) == ("yes", "yes"), ligne
    familles = {li.split()[0].split("+")[-1] for li in sortie}
    assert {"DejaVuSans", "DejaVuSans-Bold", "DejaVuSansMono"} <= familles


def test_atlas_reprend_les_figures_des_cartes(pub, tmp_path, monkeypatch):
    """Les pages de carte de l'atlas sont les figures déjà dessinées, pas de nouveau tracé."""
    c = pm.classification_pour(pub, IND)
    ce = pm.classification_pour(pub, IND, niveau="epci")
    figures = {(IND, "departement", "taux", "commune"): pm.figure_carte(pub, IND, "departement", c),
               (IND, "departement", "taux", "epci"): pm.figure_carte(
                   pub, IND, "departement", ce, niveau="epci"),
               (IND, "departement", "label", "commune"): pm.figure_carte(
                   pub, IND, "departement", c, mesure="label")}
    for code in ("991", "992"):
        figures[(IND, code, "taux", "commune")] = pm.figure_carte(pub, IND, code, c)
    textes_avant = {k: len(f.texts) for k, f in figures.items()}

    def interdit(*a, **k):
        raise AssertionError("carte redessinée")

    monkeypatch.setattr(pm, "figure_carte", interdit)
    chemin = atlas.produire_atlas(pub, tmp_path / "atlas.pdf", {IND: c},
                                  classifications_epci={IND: ce}, figures=figures)
    # Le pied de page ajouté pour l'atlas est retiré : la figure reste celle du fichier.
    assert {k: len(f.texts) for k, f in figures.items()} == textes_avant
    if shutil.which("pdfinfo"):
        info = subprocess.run(["pdfinfo", "-f", "1", "-l", "40", str(chemin)],
                              capture_output=True, text=True, check=True).stdout
        tailles = re.findall(r"Page\s+\d+ size:\s+([\d.]+) x ([\d.]+)", info)
        paysage = [t for t in tailles if float(t[0]) > float(t[1])]
        assert len(paysage) == 5  # 3 cartes du département, 2 arrondissements


def test_cartes_identiques_avec_ou_sans_atlas(pub, tmp_path):
    """Dessinées au fil de l'atlas ou seules, les cartes sont les mêmes octets."""
    seules = produire(pub, tmp_path / "a", territoires=["991"], artefacts=["cartes"])
    etapes = []
    avec = produire(pub, tmp_path / "b", territoires=["991"], artefacts=["cartes", "atlas"],
                    progress=lambda f, m: etapes.append(f))
    h1 = {f["chemin"]: f["sha256"] for f in seules["fichiers"]}
    h2 = {f["chemin"]: f["sha256"] for f in avec["fichiers"] if f["chemin"].startswith("cartes/")}
    assert len(h1) == 3 and h1 == h2
    assert "atlas-2024.pdf" in {f["chemin"] for f in avec["fichiers"]}
    assert etapes == sorted(etapes) and etapes[-1] == 1.0
    assert set(avec["durees"]) == {"carte arrondissement-991-taux (faits_constates)", "atlas"}


def test_produire_verifie_les_territoires(pub, tmp_path):
    with pytest.raises(ObservatoireError, match="Territoire « 999 » inconnu"):
        produire(pub, tmp_path, territoires=["999"], artefacts=["csv"])
    with pytest.raises(ObservatoireError, match="Artefacts inconnus : video"):
        produire(pub, tmp_path, artefacts=["video"])


def test_bornes_fixes_reprises(pub, tmp_path):
    bornes = tmp_path / "bornes.json"
    m1 = produire(pub, tmp_path / "a", territoires=["991"], artefacts=["csv"],
                  bornes_fixes=True, chemin_bornes=bornes, methode="jenks")
    assert m1["parametres"]["origine_classes"][IND].startswith("jenks, enregistrées")
    m2 = produire(pub, tmp_path / "b", territoires=["991"], artefacts=["csv"],
                  bornes_fixes=True, chemin_bornes=bornes, methode="quantiles")
    assert m2["parametres"]["origine_classes"][IND] == "bornes fixes enregistrées"
    assert m2["classes"][IND]["bornes"] == m1["classes"][IND]["bornes"]
    assert cl.charger_bornes_fixes(bornes, f"{IND}/taux/commune") is not None


def test_manifeste(pub, tmp_path):
    etapes = []
    man = produire(pub, tmp_path, territoires=["991", "departement"],
                   artefacts=["cartes", "csv", "excel"],
                   progress=lambda f, m: etapes.append((f, m)))
    ecrit = json.loads((tmp_path / "manifeste.json").read_text(encoding="utf-8"))
    chemins = [f["chemin"] for f in ecrit["fichiers"]]
    for carte in ("arrondissement-991-taux", "departement-taux", "departement-taux-epci",
                  "departement-etiquettes"):
        for ext in ("pdf", "svg", "png"):
            assert f"cartes/faits_constates-{carte}.{ext}" in chemins, (carte, ext)
    assert set(ecrit["classes"]) == {IND, f"{IND}/epci"}
    assert "tableaux-2024.xlsx" in chemins and "donnees-2024.csv" in chemins
    import hashlib

    for f in ecrit["fichiers"]:
        assert hashlib.sha256((tmp_path / f["chemin"]).read_bytes()).hexdigest() == f["sha256"]
    assert ecrit["entrees"]["lots"][0] == {"lot": 1, "contributeur": "police_62",
                                           "nom": "Police nationale", "annee": 2024,
                                           "recu_le": "2025-02-01", "indicateurs": [IND]}
    assert ecrit["entrees"]["referentiel"]["millesime"] == "2024"
    assert "durees" not in ecrit and "durees" in man
    assert etapes[-1] == (1.0, "manifeste")
    assert [f for f, _m in etapes] == sorted(f for f, _m in etapes)
