"""Commandes ``observatoire comptes`` : comptes locaux des agents (hors dépôt)."""

from __future__ import annotations

import json
import sys

import click

from observatoire import auth


@click.group()
def comptes() -> None:
    """Comptes des agents (quand l'application n'utilise pas OIDC).

    Le fichier vit hors du dépôt : OBSERVATOIRE_COMPTES, par défaut
    ~/.config/observatoire/comptes.toml. Seules les empreintes bcrypt y sont écrites.
    """


@comptes.command("ajouter")
@click.argument("identifiant")
@click.option("--role", type=click.Choice(auth.ROLES), default="agent", show_default=True,
              help="agent : importer, voir les effectifs exacts ; administrateur : aussi "
                   "les registres.")
@click.option("--nom", default="", help="Nom affiché dans l'application.")
@click.option("--mot-de-passe-stdin", "from_stdin", is_flag=True,
              help="Lit le mot de passe sur l'entrée standard (scripts) au lieu de le demander.")
@click.option("--remplacer", is_flag=True, help="Remplace un compte existant.")
def ajouter(identifiant: str, role: str, nom: str, from_stdin: bool, remplacer: bool) -> None:
    """Crée le compte IDENTIFIANT (le mot de passe est demandé deux fois)."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Mot de passe", hide_input=True,
                                confirmation_prompt="Confirmez le mot de passe")
    account = auth.add_account(identifiant, password, role, nom, remplacer=remplacer)
    click.echo(f"Compte « {account.identifiant} » ({account.role}) enregistré dans "
               f"{auth.accounts_path()}.")


@comptes.command("lister")
@click.option("--json", "as_json", is_flag=True, help="Sortie JSON.")
def lister(as_json: bool) -> None:
    """Liste les comptes (sans les mots de passe)."""
    rows = auth.list_accounts()
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo(f"Aucun compte dans {auth.accounts_path()}.")
        return
    for row in rows:
        click.echo(f"{row['identifiant']}\t{row['role']}\t{row['nom']}\t{row['cree_le']}")


@comptes.command("supprimer")
@click.argument("identifiant")
@click.option("--oui", is_flag=True, help="Ne pas demander de confirmation.")
def supprimer(identifiant: str, oui: bool) -> None:
    """Supprime le compte IDENTIFIANT."""
    if not oui:
        click.confirm(f"Supprimer le compte « {identifiant} » ?", abort=True)
    auth.remove_account(identifiant)
    click.echo(f"Compte « {identifiant} » supprimé.")
