"""Authentification des commandes qui lisent des valeurs exactes (ou gèrent les comptes).

Une commande s'en sert en une ligne, sous ses options click ::

    @click.command("sauvegarde")
    @click.option("--json", "as_json", is_flag=True)
    @_acces.exige_agent()
    def sauvegarde(as_json): ...

    @_acces.exige_agent(si="staff")        # seulement quand --staff est donné
    @_acces.exige_agent(admin=True)        # administrateurs seulement

Le décorateur ajoute ``--agent IDENTIFIANT`` et ``--mot-de-passe-stdin``, demande le mot
de passe du compte **sur le terminal** (jamais en écho), ou le lit sur l'entrée standard
avec ``--mot-de-passe-stdin`` (scripts) ; sans terminal ni cette option, ou sur une
entrée standard fermée ou vide, la commande est refusée. Nommer un compte
(``OBSERVATOIRE_AGENT`` ou ``--agent``) ne suffit jamais. Les essais sont limités comme
dans l'application (par compte, et par utilisateur du système et machine) ; chaque
exécution réussie est inscrite au journal des accès (compte, heure, commande et ses
options).
"""

from __future__ import annotations

import functools
import getpass
import io
import os
import socket
import sys
from collections.abc import Callable

import click

from observatoire import access, auth

_META = "observatoire.agent"
_STDIN = "observatoire.mot_de_passe_stdin"
AGENT_ENV = "OBSERVATOIRE_AGENT"


def cli_address() -> str:
    """« Adresse » d'un essai en ligne de commande : ``ligne de commande:utilisateur@machine``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"ligne de commande:{user}@{socket.gethostname()}"[:128]


def _terminal():
    """Terminal de contrôle ouvert en lecture-écriture, ou None (tâche planifiée, tube)."""
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return None
    # Comme getpass : un terminal ne se « positionne » pas, d'où FileIO sans tampon.
    return io.TextIOWrapper(io.FileIO(fd, "r+"), encoding="utf-8", line_buffering=True)


def read_identifiant(option: str | None, from_stdin: bool) -> str:
    """Identifiant du compte : ``--agent``, sinon ``OBSERVATOIRE_AGENT``, sinon demandé."""
    ident = (option or os.environ.get(AGENT_ENV, "")).strip()
    if ident:
        return ident
    tty = None if from_stdin else _terminal()
    if tty is None:
        raise auth.AuthError(
            "Identifiant du compte manquant : précisez --agent IDENTIFIANT (ou la variable "
            f"{AGENT_ENV}).")
    with tty:
        tty.write("Identifiant : ")
        tty.flush()
        return tty.readline().strip()


def read_password(from_stdin: bool) -> str:
    """Mot de passe du compte : terminal, ou entrée standard avec ``--mot-de-passe-stdin``.

    Raises
    ------
    observatoire.auth.AuthError
        Pas de terminal sans ``--mot-de-passe-stdin`` ; entrée standard fermée ou vide.
    """
    if from_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            raise auth.AuthError(
                "Aucun mot de passe sur l'entrée standard (--mot-de-passe-stdin attend le mot "
                "de passe du compte sur la première ligne) : accès refusé.")
        return password
    tty = _terminal()
    if tty is None:
        raise auth.AuthError(
            "Cette commande montre des valeurs exactes : elle demande le mot de passe du "
            "compte sur un terminal. Sans terminal (script, tâche planifiée), passez-le sur "
            "l'entrée standard avec --mot-de-passe-stdin. Accès refusé.")
    tty.close()
    # getpass lit le terminal de contrôle, sans écho ; il vient d'être trouvé ouvrable.
    password = getpass.getpass("Mot de passe : ")
    if not password:
        raise auth.AuthError("Mot de passe vide : accès refusé.")
    return password


def authenticate(identifiant: str | None, from_stdin: bool, *, admin: bool) -> auth.Account:
    """Authentifie l'utilisateur de la commande (mot de passe obligatoire).

    Raises
    ------
    observatoire.auth.AuthError
        Identifiant ou mot de passe manquant ou faux, rôle insuffisant.
    observatoire.access.throttle.TropDEssais
        Délai ou verrouillage en cours.
    """
    ident = read_identifiant(identifiant, from_stdin)
    password = read_password(from_stdin)
    result = auth.authenticate(ident, password, adresse=cli_address(),
                               canal=access.CANAL_CLI)
    if result.account is None:
        raise auth.AuthError(result.message() + " Accès refusé.")
    if admin and not result.account.is_admin:
        raise auth.AuthError(f"La commande est réservée aux administrateurs : le compte "
                             f"« {result.account.identifiant} » est {result.account.role}.")
    return result.account


def current_agent() -> auth.Account | None:
    """Compte authentifié de la commande en cours (pour le journal de la commande)."""
    ctx = click.get_current_context(silent=True)
    return ctx.meta.get(_META) if ctx is not None else None


def describe(ctx: click.Context) -> str:
    """La commande et ses options significatives, pour le journal (jamais un mot de passe)."""
    parts = [ctx.command_path.removeprefix("observatoire ").strip() or ctx.command_path]
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if value in (None, False, (), []) or param.name in ("as_json", "agent",
                                                             "mot_de_passe_stdin"):
            continue
        values = value if isinstance(value, tuple | list) else (value,)
        if isinstance(param, click.Argument):
            parts += [str(v) for v in values]
            continue
        flag = max(param.opts, key=len)
        if value is True:
            parts.append(flag)
        elif param.multiple:
            parts += [f"{flag} {' '.join(map(str, v)) if isinstance(v, tuple | list) else v}"
                      for v in values]
        else:
            parts.append(f"{flag} {' '.join(map(str, values))}")
    return " ".join(parts)


def stdin_requested() -> bool:
    """Vrai quand la commande en cours a reçu ``--mot-de-passe-stdin``."""
    ctx = click.get_current_context(silent=True)
    return bool(ctx is not None and ctx.meta.get(_STDIN))


def exige_agent(*, si: str | None = None, admin: bool = False,
                sauf_si: Callable[[], bool] | None = None, journal: bool = True) -> Callable:
    """Décorateur : la commande exige le mot de passe d'un agent (ou d'un administrateur).

    Parameters
    ----------
    si : str, optional
        Nom d'un paramètre de la commande : l'authentification n'est exigée que s'il est
        vrai (``si="staff"`` pour ``analyser --staff``).
    admin : bool, default False
        Réservée aux administrateurs.
    sauf_si : callable, optional
        Dispense quand elle rend vrai (création du tout premier administrateur).
    journal : bool, default True
        Inscrire l'exécution au journal des accès comme une consultation (False quand la
        commande inscrit elle-même ce qu'elle fait : gestion des comptes).
    """
    def decorate(command: Callable) -> Callable:
        @functools.wraps(command)
        def wrapper(*args, **kwargs):
            identifiant = kwargs.pop("agent", None)
            from_stdin = kwargs.pop("mot_de_passe_stdin", False)
            ctx = click.get_current_context()
            ctx.meta[_STDIN] = from_stdin
            needed = (si is None or bool(kwargs.get(si))) and not (sauf_si and sauf_si())
            if not needed:
                return command(*args, **kwargs)
            account = authenticate(identifiant, from_stdin, admin=admin)
            ctx.meta[_META] = account
            result = command(*args, **kwargs)
            if journal:
                from observatoire.access import journal as access_journal

                access_journal.record("consultation", account.identifiant, describe(ctx),
                                      canal=access.CANAL_CLI, adresse=cli_address())
            return result

        wrapper = click.option(
            "--mot-de-passe-stdin", "mot_de_passe_stdin", is_flag=True,
            help="Lit le mot de passe du compte sur la première ligne de l'entrée standard "
                 "(scripts) au lieu de le demander sur le terminal.")(wrapper)
        wrapper = click.option(
            "--agent", "agent", metavar="IDENTIFIANT",
            help=f"Compte qui s'authentifie (défaut : {AGENT_ENV}) ; son mot de passe est "
                 f"toujours demandé.")(wrapper)
        return wrapper
    return decorate
