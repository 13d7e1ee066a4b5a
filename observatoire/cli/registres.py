"""Commandes ``observatoire dispositifs`` et ``observatoire referents`` : les registres."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pandas as pd

from observatoire import registres
from observatoire.cli import _acces


def _records(df: pd.DataFrame) -> list[dict]:
    """Lignes JSON : dates ISO, manquants à null."""
    out = df.astype(object).where(df.notna(), None).to_dict("records")
    for row in out:
        for key, value in row.items():
            if hasattr(value, "isoformat"):
                row[key] = value.isoformat()
    return out


def _print_report(report: registres.RegistryReport, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2, default=str))
    else:
        for line in report.lines():
            click.echo(line)


@click.group()
def dispositifs() -> None:
    """Registre des dispositifs d'aide (accueils de jour, LEAO, hébergement, ISCG…)."""


@dispositifs.command("importer")
@click.argument("fichier", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--type", "type_", metavar="TYPE",
              help="Type imposé à toutes les lignes (code du catalogue, ex. france_services).")
@click.option("--source", metavar="TEXTE",
              help="Source des lignes qui n'en donnent pas (document, site, date).")
@click.option("--remplacer", is_flag=True,
              help="Retire d'abord les dispositifs existants des types importés.")
@click.option("--json", "as_json", is_flag=True, help="Rapport en JSON.")
def importer_dispositifs(fichier: Path, type_: str | None, source: str | None,
                         remplacer: bool, as_json: bool) -> None:
    """Importe FICHIER (.csv ou .xlsx) dans le registre des dispositifs.

    Les en-têtes sont reconnus par synonymes (nom/lib_fs, code_insee/insee_com,
    latitude/longitude, h_lundi…h_samedi, mail/telephone…). Une ligne invalide fait
    refuser tout le fichier, avec la liste des problèmes (ligne, colonne).
    """
    report = registres.import_dispositifs(fichier, type=type_, source=source,
                                          replace=remplacer)
    _print_report(report, as_json)


@dispositifs.command("initialiser")
@click.option("--remplacer", is_flag=True,
              help="Retire d'abord les dispositifs existants des mêmes types.")
@click.option("--json", "as_json", is_flag=True, help="Rapport en JSON.")
def initialiser(remplacer: bool, as_json: bool) -> None:
    """Charge le registre initial : les dispositifs nommés par le plan cadre 2024-2026."""
    report = registres.load_initial_registry(replace=remplacer)
    _print_report(report, as_json)


@dispositifs.command("modele")
@click.argument("fichier", type=click.Path(dir_okay=False, path_type=Path),
                default="modele-dispositifs.xlsx")
def modele_dispositifs(fichier: Path) -> None:
    """Écrit le modèle Excel du registre des dispositifs (par défaut modele-dispositifs.xlsx)."""
    path = registres.write_dispositifs_template(fichier)
    click.echo(f"Modèle écrit : {path}")


@dispositifs.command("lister")
@click.option("--type", "types", multiple=True, metavar="TYPE",
              help="Ne garder que ce type (répétable).")
@click.option("--json", "as_json", is_flag=True, help="Sortie JSON.")
def lister_dispositifs(types: tuple[str, ...], as_json: bool) -> None:
    """Liste le registre des dispositifs."""
    codes = [registres.resolve_type(t) for t in types] or None
    df = registres.list_dispositifs(types=codes)
    if as_json:
        click.echo(json.dumps(_records(df), ensure_ascii=False, indent=2))
        return
    if df.empty:
        click.echo("Registre des dispositifs vide : « observatoire dispositifs initialiser » "
                   "charge ceux du plan cadre.")
        return
    for row in df.itertuples(index=False):
        place = {"adresse": "adresse", "commune": "placé dans sa commune",
                 "territoire": "couvre un territoire, placé au chef-lieu"}.get(
                     row.localisation, row.localisation)
        capacity = f" ; {row.capacite} {row.unite_capacite or ''}".rstrip() \
            if pd.notna(row.capacite) else ""
        fictive = " [fictif]" if row.demo else ""
        click.echo(f"{row.type} | {row.nom} | {row.commune} ({row.code_insee}) | "
                   f"{place}{capacity}{fictive}")
    click.echo(f"{len(df)} dispositif(s).")


@dispositifs.command("placer")
def placer() -> None:
    """Place les dispositifs sans coordonnées au point représentatif de leur commune.

    Nécessite les contours des communes (« observatoire referentiel importer »).
    """
    n = registres.place_at_communes()
    click.echo(f"{n} dispositif(s) placé(s) au point représentatif de leur commune.")


@click.group()
def referents() -> None:
    """Registre des communes ayant désigné un référent VIF.

    Le nom et le contact des référents sont réservés aux agents : seuls la commune, les
    dates et la formation sont publiables.
    """


@referents.command("importer")
@click.argument("fichier", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--remplacer", is_flag=True, help="Vide le registre avant l'import.")
@click.option("--json", "as_json", is_flag=True, help="Rapport en JSON.")
def importer_referents(fichier: Path, remplacer: bool, as_json: bool) -> None:
    """Importe FICHIER (.csv ou .xlsx) dans le registre des référents.

    Une commune déjà présente est mise à jour ; les autres restent (sauf --remplacer).
    """
    report = registres.import_referents(fichier, replace=remplacer)
    _print_report(report, as_json)


@referents.command("lister")
@click.option("--exact", is_flag=True,
              help="Ajoute nom et contact des référents (agents : mot de passe demandé).")
@click.option("--json", "as_json", is_flag=True, help="Sortie JSON.")
@_acces.exige_agent(si="exact")
def lister_referents(exact: bool, as_json: bool) -> None:
    """Liste les communes ayant un référent VIF (sans les noms, sauf --exact)."""
    df = registres.list_referents(exact=exact) if exact else registres.public_referents()
    if as_json:
        click.echo(json.dumps(_records(df), ensure_ascii=False, indent=2))
        return
    if df.empty:
        click.echo("Registre des référents vide : « observatoire referents importer FICHIER ».")
        return
    for row in df.itertuples(index=False):
        named = row.date_designation.strftime("%d/%m/%Y") if pd.notna(row.date_designation) \
            else "date inconnue"
        trained = "formé" if row.forme else "non formé"
        if row.forme and pd.notna(row.date_formation):
            trained += f" le {row.date_formation:%d/%m/%Y}"
        who = f" | {row.nom_referent or ''} {row.contact_referent or ''}".rstrip() \
            if exact else ""
        click.echo(f"{row.commune} ({row.code_insee}) | désigné le {named} | {trained}{who}")
    n_trained = int(df["forme"].sum())
    click.echo(f"{len(df)} commune(s) avec un référent, dont {n_trained} formé(s).")


@referents.command("modele")
@click.argument("fichier", type=click.Path(dir_okay=False, path_type=Path),
                default="modele-referents.xlsx")
def modele_referents(fichier: Path) -> None:
    """Écrit le modèle Excel du registre des référents (par défaut modele-referents.xlsx)."""
    path = registres.write_referents_template(fichier)
    click.echo(f"Modèle écrit : {path}")
