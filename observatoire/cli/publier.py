"""Commande ``observatoire publier`` : la publication annuelle en une commande."""

from __future__ import annotations

import json
from pathlib import Path

import click

from observatoire.classification import METHODES, PALETTES


@click.command("publier")
@click.option("--annee", type=int, required=True, help="Année des données publiées.")
@click.option("--sortie", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Dossier où écrire la publication.")
@click.option("--territoire", "territoires", multiple=True, metavar="CODE",
              help="« departement » ou code d'arrondissement (621…) ; répétable ; "
                   "défaut : le département et tous ses arrondissements.")
@click.option("--indicateurs", "indicateurs", multiple=True, metavar="CODE",
              help="Indicateur(s) du catalogue ; défaut : tous ceux de l'année.")
@click.option("--bornes-fixes", is_flag=True,
              help="Reprendre les bornes de classes des années précédentes (et enregistrer "
                   "celles-ci s'il n'y en a pas) pour comparer les cartes d'une année à l'autre.")
@click.option("--methode", type=click.Choice(list(METHODES)[:3]), default="quantiles",
              show_default=True, help="Classification des taux.")
@click.option("--classes", "k", type=click.IntRange(3, 9), default=5, show_default=True,
              help="Nombre de classes.")
@click.option("--palette", type=click.Choice(list(PALETTES)), default="YlOrRd",
              show_default=True, help="Palette (toutes lisibles par les daltoniens).")
@click.option("--sans-dispositifs", is_flag=True,
              help="Ne pas dessiner les dispositifs ni les référents.")
@click.option("--json", "as_json", is_flag=True, help="Manifeste en JSON sur la sortie.")
def publier(annee, sortie, territoires, indicateurs, bornes_fixes, methode, k, palette,
            sans_dispositifs, as_json) -> None:
    """Produit cartes (PDF, SVG, PNG), atlas PDF, classeur Excel, CSV, carte HTML et manifeste.

    Le secret statistique est appliqué à tout ce qui sort. Exemple :
    observatoire publier --annee 2024 --sortie publication-2024
    """
    from observatoire.exports import publier as _publier

    # Un seul nom possible par option répétable : « --indicateurs a --indicateurs b » ou
    # « --indicateurs a,b ».
    inds = [i for v in indicateurs for i in v.split(",") if i] or None
    terrs = [t for v in territoires for t in v.split(",") if t] or None

    def progres(fraction: float, message: str) -> None:
        if not as_json:
            click.echo(f"[{fraction:4.0%}] {message}", err=True)

    man = _publier(annee, sortie, territoires=terrs, indicateurs=inds, progress=progres,
                   bornes_fixes=bornes_fixes, methode=methode, k=k, palette=palette,
                   dispositifs=not sans_dispositifs)
    if as_json:
        click.echo(json.dumps(man, ensure_ascii=False, indent=2))
        return
    click.echo(f"Publication {annee} écrite dans {sortie} : {len(man['fichiers'])} fichiers "
               f"(liste et SHA-256 dans manifeste.json).")
    if man.get("demo"):
        click.echo("Attention : données fictives de démonstration.")
    from observatoire import referentiel

    if referentiel.origine() == "simplifie":
        click.echo("Contours : contours simplifiés livrés avec l'application, mentionnés sur "
                   "chaque carte ; importez les contours officiels (« observatoire "
                   "referentiel importer ») avant une publication réelle.")
    for cle, duree in man["durees"].items():
        click.echo(f"  {cle} : {duree:.1f} s".replace(".", ","))
