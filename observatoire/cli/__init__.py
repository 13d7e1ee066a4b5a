"""Interface en ligne de commande ``observatoire``.

Les sous-commandes sont groupées par nom (``referentiel``, ``contributions``,
``dispositifs``, ``referents``, ``analyser``, ``publier``, ``demo``…). Chacune vit dans
son module et n'est importée qu'à l'appel, pour que ``observatoire --help`` reste rapide.
"""

from __future__ import annotations

import importlib
import sys

import click

from observatoire.cli import _francais
from observatoire.errors import ObservatoireError

_francais.install()

#: nom de commande -> (module, attribut). L'ordre est celui de l'aide.
COMMANDS: dict[str, tuple[str, str]] = {
    "base": ("observatoire.cli.base", "base"),
    "referentiel": ("observatoire.cli.referentiel", "referentiel"),
    "contributions": ("observatoire.cli.contributions", "contributions"),
    "ssmsi": ("observatoire.cli.ssmsi", "ssmsi"),
    "dispositifs": ("observatoire.cli.registres", "dispositifs"),
    "referents": ("observatoire.cli.registres", "referents"),
    "demo": ("observatoire.cli.demo", "demo"),
    "analyser": ("observatoire.cli.analyser", "analyser"),
    "publier": ("observatoire.cli.publier", "publier"),
    "comptes": ("observatoire.cli.comptes", "comptes"),
    "sauvegarde": ("observatoire.cli.sauvegarde", "sauvegarde"),
    "restauration": ("observatoire.cli.sauvegarde", "restauration"),
}


def _available(name: str) -> bool:
    return importlib.util.find_spec(COMMANDS[name][0]) is not None


class LazyGroup(click.Group):
    """Groupe dont les sous-commandes sont importées à la demande."""

    def list_commands(self, ctx):  # noqa: D102
        return [n for n in COMMANDS if _available(n)]

    def get_command(self, ctx, name):  # noqa: D102
        if name not in COMMANDS or not _available(name):
            return None
        module, attr = COMMANDS[name]
        return getattr(importlib.import_module(module), attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="observatoire", message="observatoire %(version)s")
def cli() -> None:
    """Observatoire territorial des violences intrafamiliales.

    Référentiel des communes, import des tableaux des contributeurs, analyses,
    publication annuelle. Chaque commande a son aide : observatoire COMMANDE --help.
    """


def main(argv: list[str] | None = None) -> None:
    """Point d'entrée : toute erreur prévue devient un message français et un code non nul."""
    try:
        cli.main(args=argv, prog_name="observatoire", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Opération annulée.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ObservatoireError as exc:
        click.echo(f"Erreur : {exc}", err=True)
        sys.exit(1)
