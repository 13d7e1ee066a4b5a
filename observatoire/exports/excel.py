"""Classeur Excel de la publication (openpyxl) : une feuille par niveau, secret appliqué.

En-têtes mis en forme, volets figés, formats de nombre (affichés à la française par
Excel en paramètres régionaux français), cellules masquées écrites « secret ». Toute
chaîne commençant par ``=``, ``+``, ``-``, ``@`` (ou tabulation, retour chariot) est
forcée en texte : pas d'injection de formule. Le fichier est reproductible octet pour
octet : dates des propriétés tirées de l'année des données, horodatages du zip fixés.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from observatoire.exports.donnees import (
    MENTION_DEMO,
    Publication,
    note_sources_manquantes,
    texte_etiquette,
)

#: Début de chaîne qu'un tableur interpréterait comme formule (OWASP « CSV injection »).
DEBUTS_DANGEREUX = ("=", "+", "-", "@", "\t", "\r")

#: (colonne de la table, en-tête, format Excel) par feuille ; None = texte.
COLONNES_EXCEL = [
    ("indicateur_libelle", "Indicateur", None),
    ("code", "Code INSEE", None),
    ("nom", "Nom", None),
    ("epci_nom", "EPCI", None),
    ("arrondissement_nom", "Arrondissement", None),
    ("population", "Population", "#,##0"),
    ("observe", "Effectif observé", "#,##0"),
    ("attendu", "Effectif attendu", "#,##0.0"),
    ("ratio", "Ratio observé / attendu", "0.00"),
    ("taux", "Taux pour 1 000 habitants", "#,##0.0"),
    ("taux_ic95_bas", "Taux : borne basse de l'intervalle exact à 95 %", "#,##0.0"),
    ("taux_ic95_haut", "Taux : borne haute de l'intervalle exact à 95 %", "#,##0.0"),
    ("taux_lisse", "Taux lissé (Bayes empirique)", "#,##0.0"),
    ("label", "Étiquette", None),
    ("couverture_libelle", "Couverture par les sources", None),
    ("secret", "Secret statistique", None),
]
DERIVEES = {"observe", "attendu", "ratio", "taux", "taux_lisse", "taux_ic95_bas",
            "taux_ic95_haut"}
FEUILLES = [("commune", "Communes"), ("epci", "EPCI"), ("arrondissement", "Arrondissements"),
            ("departement", "Département")]

_ENTETE = Font(bold=True, color="FFFFFF")
_FOND = PatternFill("solid", fgColor="3F007D")
_SECRET = Font(italic=True, color="6A51A3")


def texte_sur(valeur: str) -> tuple[str, bool]:
    """Chaîne et drapeau « à forcer en texte » si elle ressemble à une formule."""
    return valeur, valeur.startswith(DEBUTS_DANGEREUX)


def _ecrire(ws, ligne: int, col: int, valeur, fmt: str | None = None):
    cell = ws.cell(row=ligne, column=col)
    if valeur is None or valeur is pd.NA or (isinstance(valeur, float) and np.isnan(valeur)):
        return cell
    if isinstance(valeur, str):
        cell.value = valeur
        # openpyxl écrirait « =… » comme une formule : on impose le type chaîne.
        cell.data_type = "s"
        return cell
    if isinstance(valeur, (np.integer, int)):
        cell.value = int(valeur)
    else:
        cell.value = float(valeur)
    if fmt:
        cell.number_format = fmt
    return cell


def _feuille(wb: Workbook, titre: str, table: pd.DataFrame, pub: Publication) -> None:
    ws = wb.create_sheet(titre)
    cols = [c for c in COLONNES_EXCEL if c[0] in table.columns]
    debut = 1
    if pub.demo:
        _ecrire(ws, 1, 1, MENTION_DEMO.upper()).font = Font(bold=True, color="B2182B")
        debut = 2
    for j, (_c, entete, _f) in enumerate(cols, start=1):
        cell = _ecrire(ws, debut, j, entete)
        cell.font, cell.fill = _ENTETE, _FOND
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    table = table.assign(label=texte_etiquette(table).to_numpy(object))
    for i, row in enumerate(table.itertuples(index=False), start=debut + 1):
        r = row._asdict()
        secret = bool(r.get("secret", False) is True)
        for j, (c, _e, fmt) in enumerate(cols, start=1):
            v = r.get(c)
            if c == "secret":
                v = "secret" if secret else None
            if secret and c in DERIVEES:
                _ecrire(ws, i, j, "secret").font = _SECRET
            else:
                _ecrire(ws, i, j, v, fmt)
    ws.freeze_panes = ws.cell(row=debut + 1, column=4 if titre == "Communes" else 3)
    ws.auto_filter.ref = f"A{debut}:{get_column_letter(len(cols))}{debut + len(table)}"
    largeurs = {"Indicateur": 38, "Nom": 30, "EPCI": 30, "Arrondissement": 18,
                "Étiquette": 18, "Secret statistique": 34}
    for j, (_c, entete, _f) in enumerate(cols, start=1):
        ws.column_dimensions[get_column_letter(j)].width = largeurs.get(entete, 14)
    ws.row_dimensions[debut].height = 32


def _sources(wb: Workbook, pub: Publication) -> None:
    ws = wb.create_sheet("Sources et méthode")
    lignes = [("Observatoire territorial des violences intrafamiliales", None),
              (f"{pub.territoire_nom} — données {pub.annee}", None), ("", None)]
    if pub.demo:
        lignes.insert(0, (MENTION_DEMO.upper(), None))
    for ind, lib in pub.indicateurs.items():
        lignes.append((f"{lib} : {pub.ligne_source(ind)}", None))
    lignes += [("", None), (pub.attribution(), None),
               (f"Secret statistique : effectifs communaux de 1 à {pub.seuil_secret - 1} "
                f"non publiés (« secret »), ni les valeurs qui en dérivent ; masquage "
                f"secondaire des cellules qui permettraient de les retrouver.", None),
               ("Taux pour 1 000 habitants : effectif observé / population municipale × 1 000.",
                None),
               ("Étiquettes : révélatrice, pas d'écart détecté, blanche présumée, non "
                "concluant (voir la méthode dans l'atlas). Une zone blanche présumée signale "
                "une possible sous-révélation, pas une absence de violences ; « pas d'écart "
                "détecté » ne veut pas dire « tout va bien ». Une commune « hors du "
                "périmètre des sources » n'est couverte par aucune source reçue : ni "
                "effectif, ni étiquette (ce n'est ni zéro, ni secret).", None),
               ("Intervalles à 95 % : méthode exacte de Garwood (loi de Poisson).", None),
               ("", None), ("Contributions utilisées (lot, contributeur, année, date de "
                            "réception)", None)]
    for ind in pub.indicateurs:
        note = note_sources_manquantes(pub.table(ind, "commune"))
        if note:
            lignes.insert(len(lignes) - 2, (f"{pub.indicateurs[ind]} : {note}", None))
    for lot in pub.lots:
        # Jamais le nom du fichier reçu : il peut nommer une personne.
        lignes.append((f"{lot['lot']} — {lot['nom']} — {lot['annee']} — reçu le "
                       f"{lot['recu_le']}", None))
    for i, (txt, _f) in enumerate(lignes, start=1):
        _ecrire(ws, i, 1, txt)
    ws["A1"].font = Font(bold=True, size=13)
    ws.column_dimensions["A"].width = 140


def _normaliser_zip(contenu: bytes, annee: int) -> bytes:
    """Horodatages du zip et dates des propriétés fixés : même entrée, même fichier."""
    quand = (annee + 1, 1, 1, 0, 0, 0)
    iso = f"{annee + 1}-01-01T00:00:00Z"
    src = zipfile.ZipFile(io.BytesIO(contenu))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(<)",
                              rb"\g<1>" + iso.encode() + rb"\g<2>", data)
            zi = zipfile.ZipInfo(info.filename, date_time=quand)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o600 << 16
            dst.writestr(zi, data)
    return out.getvalue()


def produire_excel(pub: Publication, chemin: Path) -> Path:
    """Écrit le classeur de la publication.

    Parameters
    ----------
    pub : Publication
    chemin : Path
        Fichier ``.xlsx``.

    Returns
    -------
    Path
    """
    wb = Workbook()
    wb.remove(wb.active)
    for niveau, titre in FEUILLES:
        morceaux = []
        for ind, lib in pub.indicateurs.items():
            t = pub.table(ind, niveau)
            if t.empty:
                continue
            t.insert(0, "indicateur_libelle", lib)
            morceaux.append(t)
        if morceaux:
            _feuille(wb, titre, pd.concat(morceaux, ignore_index=True), pub)
    _sources(wb, pub)
    quand = dt.datetime(pub.annee + 1, 1, 1)
    wb.properties.creator = "Observatoire territorial des violences intrafamiliales"
    wb.properties.title = f"Observatoire des VIF — {pub.territoire_nom} — {pub.annee}"
    wb.properties.created = quand
    wb.properties.modified = quand
    wb.properties.lastModifiedBy = None
    buf = io.BytesIO()
    wb.save(buf)
    chemin.parent.mkdir(parents=True, exist_ok=True)
    chemin.write_bytes(_normaliser_zip(buf.getvalue(), pub.annee))
    return chemin
