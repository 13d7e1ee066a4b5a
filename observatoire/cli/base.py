"""Commandes ``observatoire base`` : création et état de la base."""

from __future__ import annotations

import json

import click
import sqlalchemy as sa

from observatoire import storage
from observatoire.config import settings


@click.group()
def base() -> None:
    """Base de données : initialisation et état."""


@base.command("initialiser")
def initialiser() -> None:
    """Crée la base ou applique les migrations en attente (idempotent).

    Remet aussi les droits privés (fichiers 0600, dossiers 0700) de la base, des fichiers
    reçus, des sauvegardes du dossier de données, des clés et du fichier des comptes, et
    dit ce qu'elle a changé.
    """
    from observatoire.access import files

    engine = storage.get_engine()
    click.echo(f"Base prête : {engine.url.render_as_string(hide_password=True)}")
    repaired = files.repair()
    if not repaired:
        click.echo("Droits d'accès : fichiers et dossiers déjà privés (0600 et 0700).")
        return
    fixed = [r for r in repaired if not r.erreur]
    if fixed:
        click.echo(f"Droits d'accès corrigés ({len(fixed)}), lisibles par le seul compte "
                   f"qui fait tourner l'observatoire :")
        for r in fixed:
            click.echo(f"  {r.text()}")
    for r in repaired:
        if r.erreur:
            click.echo(f"Attention : {r.text()}", err=True)


@base.command("etat")
@click.option("--json", "as_json", is_flag=True, help="Sortie JSON.")
def etat(as_json: bool) -> None:
    """Affiche le mode (démonstration ou réel) et le nombre de lots et de valeurs."""
    engine = storage.get_engine()
    with engine.connect() as conn:
        mode = storage.get_meta(conn, "mode") or "vide"
        n_lots = conn.execute(
            sa.select(sa.func.count()).select_from(storage.lots)
            .where(storage.lots.c.courant.is_(True))).scalar_one()
        n_val = conn.execute(sa.select(sa.func.count()).select_from(storage.valeurs)).scalar_one()
    info = {"base": engine.url.render_as_string(hide_password=True), "mode": mode,
            "lots_courants": n_lots, "valeurs": n_val,
            "territoire": settings().territoire_nom}
    if as_json:
        click.echo(json.dumps(info, ensure_ascii=False, indent=2))
    else:
        for k, v in info.items():
            click.echo(f"{k} : {v}")
