"""Modèle standard .xlsx d'un contributeur, que le loader reconnaît et lit directement.

Le classeur a trois feuilles : « Consignes » (quoi compter, quelle commune, l'année,
l'échéance, à qui s'adresser), « Données » (une ligne par commune du territoire du
contributeur plus « Non localisé », une colonne par indicateur qu'il déclare, validation
des saisies, en-têtes verrouillés) et une feuille très masquée qui porte le tampon de
version et l'ordre des indicateurs. Le nom défini ``OBSERVATOIRE_MODELE`` double ce
tampon.
"""

from __future__ import annotations

import io
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.utils import get_column_letter
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation

from observatoire import catalogues
from observatoire.errors import ObservatoireError
from observatoire.ingest.readers import TEMPLATE_SHEET, TEMPLATE_STAMP

TEMPLATE_VERSION = "1"
DATA_SHEET = "Données"
NON_LOCALISE = "Non localisé"
#: Marque de secret proposée aux contributeurs.
SECRET_MARK = "s"


def build_template(contributeur: str, annee: int) -> bytes:
    """Construit le modèle standard d'un contributeur pour l'année N.

    Parameters
    ----------
    contributeur : str
        Identifiant du registre : son territoire donne les communes, sa colonne
        ``indicateurs`` les colonnes.
    annee : int
        Année N des données (à renvoyer avant le 31 mars N+1).

    Returns
    -------
    bytes
        Contenu du fichier .xlsx.
    """
    contrib = catalogues.get_contributeur(contributeur)
    if contrib.source_publique:
        raise ObservatoireError(
            f"« {contrib.identifiant} » est une source publique : elle n'a pas de modèle à "
            f"remplir (son fichier s'importe avec « observatoire ssmsi importer »).")
    items = catalogues.indicateurs_du_contributeur(contributeur)
    communes = catalogues.communes_du_territoire(contrib.territoire)
    annee = int(annee)
    wb = Workbook()
    info = wb.active
    info.title = "Consignes"
    _instructions(info, contrib, items, annee, len(communes))

    ws = wb.create_sheet(DATA_SHEET)
    headers = ["Code commune (INSEE)", "Commune"] + [i.libelle for i in items]
    ws.append(headers)
    for code, nom in zip(communes["code_insee"], communes["nom"], strict=True):
        ws.append([code, nom])
    ws.append(["", NON_LOCALISE])
    last = ws.max_row
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    for j, _ in enumerate(headers, start=1):
        cell = ws.cell(row=1, column=j)
        cell.font, cell.fill = bold, fill
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.row_dimensions[1].height = 45
    ws.column_dimensions["A"].width = 14
    ws.column_dimensions["B"].width = 34
    for k in range(len(items)):
        ws.column_dimensions[get_column_letter(3 + k)].width = 22
    ws.freeze_panes = "C2"
    # Codes INSEE en texte : les zéros initiaux et 2A/2B survivent à toute réouverture.
    for row in ws.iter_rows(min_row=2, max_row=last, max_col=1):
        row[0].number_format = "@"
    if items:
        first_col, last_col = "C", get_column_letter(2 + len(items))
        rng = f"{first_col}2:{last_col}{last}"
        formula = (f'=OR(AND(ISNUMBER({first_col}2),{first_col}2>=0,'
                   f'{first_col}2=INT({first_col}2)),{first_col}2="{SECRET_MARK}")')
        dv = DataValidation(type="custom", formula1=formula, allow_blank=True,
                            showErrorMessage=True, errorTitle="Valeur refusée",
                            error=("Saisissez un nombre entier positif ou nul, ou « s » "
                                   "pour une valeur couverte par le secret."),
                            showInputMessage=True, promptTitle="Effectif",
                            prompt="Entier ≥ 0, ou « s » (secret). Laissez vide si inconnu.")
        dv.add(rng)
        ws.add_data_validation(dv)
        for row in ws.iter_rows(min_row=2, max_row=last, min_col=3, max_col=2 + len(items)):
            for cell in row:
                cell.protection = Protection(locked=False)
    ws.protection.sheet = True
    ws.protection.formatCells = False
    ws.protection.formatColumns = False

    stamp = wb.create_sheet(TEMPLATE_SHEET)
    for key, value in (("tampon", TEMPLATE_STAMP), ("version", TEMPLATE_VERSION),
                       ("contributeur", contrib.identifiant), ("annee", annee),
                       ("feuille", DATA_SHEET), ("ligne_entete", 1),
                       ("indicateurs", "|".join(i.code for i in items))):
        stamp.append([key, value])
    stamp.sheet_state = "veryHidden"
    stamp.protection.sheet = True
    wb.defined_names["OBSERVATOIRE_MODELE"] = DefinedName(
        "OBSERVATOIRE_MODELE", attr_text=f'"{TEMPLATE_STAMP} v{TEMPLATE_VERSION}"')
    wb.active = 1
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _instructions(ws, contrib, items, annee: int, n_communes: int) -> None:
    lines = [
        (f"Observatoire territorial des violences intrafamiliales — données {annee}", True),
        (f"Contributeur : {contrib.nom}", False),
        ("", False),
        ("Ce qu'il faut compter", True),
        (f"Pour l'année civile {annee} (1er janvier – 31 décembre), le nombre de personnes "
         f"ou de faits de chaque colonne, par commune de résidence de la victime.", False),
    ]
    for item in items:
        text = f"• {item.libelle}"
        if item.definition:
            text += f" : {item.definition}"
        lines.append((text, False))
    lines += [
        ("", False),
        ("Comment remplir la feuille « Données »", True),
        (f"• Les {n_communes} communes de votre territoire sont déjà listées avec leur code "
         f"INSEE : ne modifiez ni les codes, ni les noms, ni les en-têtes.", False),
        ("• Commune : celle où réside la victime (pas celle du service qui l'a reçue).", False),
        ("• Une personne dont la commune est inconnue ou hors du territoire se compte sur la "
         "ligne « Non localisé ».", False),
        ("• Saisissez des nombres entiers (0 si aucun). Laissez vide si vous ne savez pas.",
         False),
        (f"• Si votre règle de secret vous interdit de donner un petit effectif, saisissez "
         f"« {SECRET_MARK} » : la valeur sera gardée comme masquée, jamais comme 0.", False),
        ("• N'ajoutez aucune donnée sur les personnes : ni nom, ni prénom, ni date de "
         "naissance, ni adresse, ni coordonnées, ni numéro de dossier. Un fichier qui en "
         "contient est refusé en entier.", False),
        ("", False),
        ("Échéance et contact", True),
        (f"• À renvoyer avant le 31 mars {annee + 1}.", False),
        (f"• Pour toute question : {contrib.contact or 'la sous-préfecture'}, qui coordonne "
         f"l'observatoire.", False),
    ]
    for k, (text, bold) in enumerate(lines, start=1):
        cell = ws.cell(row=k, column=1, value=text)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        if bold:
            cell.font = Font(bold=True, size=12 if k == 1 else 11)
    ws.column_dimensions["A"].width = 110
    ws.protection.sheet = True


def write_template(contributeur: str, annee: int, path: str | Path | None = None) -> Path:
    """Écrit le modèle standard sur disque.

    Parameters
    ----------
    contributeur : str
    annee : int
    path : path-like, optional
        Par défaut ``modele_<contributeur>_<annee>.xlsx`` dans le dossier courant.

    Returns
    -------
    Path
        Chemin écrit.
    """
    path = Path(path or f"modele_{contributeur}_{int(annee)}.xlsx")
    path.write_bytes(build_template(contributeur, annee))
    return path
