"""Commandes ``observatoire sauvegarde`` et ``observatoire restauration``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click

from observatoire import backup, storage
from observatoire.cli import _acces


@click.command("sauvegarde")
@click.argument("fichier", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Sortie JSON (manifeste complet).")
@_acces.exige_agent()
def sauvegarde(fichier: Path | None, as_json: bool) -> None:
    """Sauvegarde cohérente de la base et des fichiers reçus dans un zip.

    FICHIER : zip à écrire (par défaut sauvegarde-observatoire-AAAAMMJJ-HHMMSS.zip dans le
    dossier courant). Toutes les tables sont lues dans un seul instantané : la sauvegarde
    peut tourner pendant que des agents importent. Le zip contient des données réservées
    aux agents (valeurs exactes, noms des référents) : il est écrit en 0600 ; conservez-le
    comme la base elle-même. Demande le mot de passe d'un agent (--agent,
    --mot-de-passe-stdin).
    """
    if fichier is None:
        fichier = Path(f"sauvegarde-observatoire-{dt.datetime.now():%Y%m%d-%H%M%S}.zip")
    if fichier.exists():
        raise click.ClickException(f"{fichier} existe déjà : choisissez un autre nom.")
    manifest = backup.create_backup(fichier, storage.get_engine())
    if as_json:
        click.echo(json.dumps(manifest, ensure_ascii=False, indent=2))
        return
    n_lignes = sum(t["lignes"] for t in manifest["tables"].values())
    click.echo(f"Sauvegarde écrite : {manifest['fichier']}")
    click.echo(f"  {len(manifest['tables'])} tables, {n_lignes} lignes, "
               f"{len(manifest['archives'])} fichiers reçus, schéma {manifest['revision']}")
    click.echo(f"  SHA-256 : {manifest['sha256']}")
    for anomalie in manifest["anomalies"]:
        click.echo(f"  Attention : {anomalie}", err=True)


@click.command("restauration")
@click.argument("fichier", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--remplacer", is_flag=True,
              help="Remplace toutes les données d'une base qui n'est pas vide.")
@click.option("--utilisateur", help="Nom inscrit au journal (défaut : le compte authentifié).")
@click.option("--json", "as_json", is_flag=True, help="Sortie JSON.")
@_acces.exige_agent()
def restauration(fichier: Path, remplacer: bool, utilisateur: str | None, as_json: bool) -> None:
    """Restaure une sauvegarde dans la base configurée (vide, ou existante avec --remplacer).

    Toutes les empreintes sont vérifiées avant de toucher à la base ; les données sont
    remplacées en une seule transaction (tout ou rien), les fichiers reçus remis en place,
    puis les migrations plus récentes appliquées. La base visée peut être d'un autre moteur
    (SQLite vers PostgreSQL et inversement) : voir OBSERVATOIRE_DB_URL. Demande le mot de
    passe d'un agent (--agent, --mot-de-passe-stdin) ; les sessions ouvertes dans
    l'application prennent fin.
    """
    agent = _acces.current_agent()
    result = backup.restore_backup(fichier, storage.make_engine(), replace=remplacer,
                                   utilisateur=utilisateur or (agent.identifiant if agent
                                                               else "restauration"))
    storage.reset_engines()
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    click.echo(f"Sauvegarde du {result['sauvegarde_du']} restaurée : "
               f"{sum(result['lignes'].values())} lignes, {result['archives']} fichiers reçus.")
    if result["fichiers_retires"]:
        click.echo(f"  {len(result['fichiers_retires'])} fichiers sans lot retirés de "
                   f"l'archive.")
    for anomalie in result["anomalies"]:
        click.echo(f"  Attention (signalé à la sauvegarde) : {anomalie}", err=True)
