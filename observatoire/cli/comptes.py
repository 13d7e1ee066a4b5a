"""Commandes ``observatoire comptes`` : comptes locaux des agents (hors dépôt).

Toutes sont réservées aux administrateurs (mot de passe demandé, voir
:mod:`observatoire.cli._acces`), sauf la création du tout premier administrateur.
"""

from __future__ import annotations

import json
import sys

import click

from observatoire import auth
from observatoire.cli import _acces


def _first_administrator() -> bool:
    return not auth.has_administrator()


def _par() -> str:
    account = _acces.current_agent()
    return account.identifiant if account else "ligne de commande"


@click.group()
def comptes() -> None:
    """Comptes des agents (quand l'application n'utilise pas OIDC).

    Le fichier vit hors du dépôt : OBSERVATOIRE_COMPTES, par défaut
    ~/.config/observatoire/comptes.toml (0600). Seules les empreintes bcrypt y sont
    écrites. Ces commandes demandent le mot de passe d'un administrateur (--agent,
    --mot-de-passe-stdin), sauf pour créer le tout premier administrateur.
    """


@comptes.command("ajouter")
@click.argument("identifiant")
@click.option("--role", type=click.Choice(auth.ROLES), default="agent", show_default=True,
              help="agent : importer, voir les effectifs exacts ; administrateur : aussi "
                   "les registres et les comptes.")
@click.option("--nom", default="", help="Nom affiché dans l'application.")
@click.option("--remplacer", is_flag=True,
              help="Remplace un compte existant (ses sessions ouvertes prennent fin).")
@_acces.exige_agent(admin=True, sauf_si=_first_administrator, journal=False)
def ajouter(identifiant: str, role: str, nom: str, remplacer: bool) -> None:
    """Crée le compte IDENTIFIANT (le mot de passe est demandé deux fois).

    Au moins 12 caractères, pas l'identifiant dedans. Avec --mot-de-passe-stdin, le
    mot de passe du nouveau compte est lu sur l'entrée standard : sur la ligne qui suit
    celle du mot de passe de l'administrateur, ou sur la première ligne quand aucun
    administrateur n'existe encore.
    """
    if _acces.stdin_requested():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Mot de passe du nouveau compte", hide_input=True,
                                confirmation_prompt="Confirmez le mot de passe")
    account = auth.add_account(identifiant, password, role, nom, remplacer=remplacer,
                               par=_par())
    click.echo(f"Compte « {account.identifiant} » ({account.role}) enregistré dans "
               f"{auth.accounts_path()}.")


@comptes.command("lister")
@click.option("--json", "as_json", is_flag=True, help="Sortie JSON.")
@_acces.exige_agent(admin=True)
def lister(as_json: bool) -> None:
    """Liste les comptes (sans les mots de passe) : administrateurs seulement."""
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
@_acces.exige_agent(admin=True, journal=False)
def supprimer(identifiant: str, oui: bool) -> None:
    """Supprime le compte IDENTIFIANT (ses sessions ouvertes prennent fin)."""
    if not oui:
        click.confirm(f"Supprimer le compte « {identifiant} » ?", abort=True)
    auth.remove_account(identifiant, par=_par())
    click.echo(f"Compte « {identifiant} » supprimé.")


@comptes.command("debloquer")
@click.argument("identifiant", required=False)
@click.option("--adresse", help="Déverrouille une adresse de client (toutes ses tentatives).")
@_acces.exige_agent(admin=True, journal=False)
def debloquer(identifiant: str | None, adresse: str | None) -> None:
    """Déverrouille le compte IDENTIFIANT (ou une --adresse) après trop d'échecs.

    Sans argument, liste ce qui est verrouillé ou en attente.
    """
    from observatoire.access import throttle

    if not identifiant and not adresse:
        df = throttle.blocked()
        if df.empty:
            click.echo("Aucun compte ni aucune adresse en attente ou verrouillé.")
        for r in df.itertuples():
            etat = "verrouillé" if r.verrouille else "en attente"
            click.echo(f"{r.type} {r.cle} : {etat} jusqu'à {r.jusqua:%H:%M:%S} "
                       f"({r.echecs} échecs)")
        return
    n = throttle.unlock(compte=identifiant, adresse=adresse, par=_par())
    click.echo(f"Déverrouillé : {identifiant or adresse} ({n} échec(s) effacé(s)).")


@comptes.command("journal")
@click.option("--action", "actions", multiple=True,
              help="Ne garder que cette action (connexion, echec_connexion, verrouillage, "
                   "consultation…), répétable.")
@click.option("--qui", help="Ne garder que ce compte.")
@click.option("--limite", type=int, default=200, show_default=True, help="Nombre de lignes.")
@click.option("--json", "as_json", is_flag=True, help="Sortie JSON.")
@_acces.exige_agent(admin=True)
def journal(actions: tuple[str, ...], qui: str | None, limite: int, as_json: bool) -> None:
    """Journal des accès : connexions, échecs, verrous, consultations de valeurs exactes."""
    from observatoire.access import journal as access_journal

    df = access_journal.entries(actions=list(actions) or None, qui=qui, limite=limite)
    if as_json:
        rows = df.astype(object).where(df.notna(), None).to_dict("records")
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2, default=str))
        return
    for r in df.itertuples():
        click.echo(f"{r.quand:%d/%m/%Y %H:%M:%S}\t{r.qui}\t{r.action}\t{r.canal}\t"
                   f"{r.quoi or ''}")
