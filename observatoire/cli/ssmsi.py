"""Commandes ``observatoire ssmsi`` : base communale publique de la délinquance enregistrée."""

from __future__ import annotations

import click

from observatoire.cli.contributions import _user, print_import


@click.group()
def ssmsi() -> None:
    """Base communale du SSMSI (police et gendarmerie, données publiques data.gouv.fr)."""


@ssmsi.command("importer")
@click.argument("fichier", type=click.Path(exists=True, dir_okay=False))
@click.option("--annees", help="Années à importer : 2019-2023, 2021 ou 2019,2021 "
                               "(par défaut toutes celles du fichier).")
@click.option("--simulation", is_flag=True,
              help="Lit tout et affiche le rapport sans rien enregistrer.")
@click.option("--json", "as_json", is_flag=True, help="Rapport JSON.")
@click.option("--utilisateur", help="Qui importe (par défaut l'utilisateur du système).")
def importer(fichier, annees, simulation, as_json, utilisateur) -> None:
    """Importe la base communale du SSMSI (FICHIER .csv, .csv.gz ou .parquet).

    Garde les violences physiques intrafamiliales (« coups et blessures volontaires
    intrafamiliaux » dans les éditions jusqu'en 2024) et les violences sexuelles des
    communes du département configuré. Un lot par année, toutes les années en une seule
    transaction : tout est enregistré, ou rien. Les valeurs non diffusées par le SSMSI
    (ndiff) sont masquées. Réimporter le même fichier ne change rien ; une édition plus
    récente remplace chaque année, l'ancien lot reste dans l'historique.
    """
    from observatoire import ssmsi as source

    years = source.parse_years(annees)
    print_import(lambda: source.import_ssmsi(fichier, annees=years, simulation=simulation,
                                             utilisateur=_user(utilisateur)), as_json)
