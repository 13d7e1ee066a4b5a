"""Interface en ligne de commande ``observatoire``.

Les sous-commandes sont groupées par nom (``referentiel``, ``contributions``,
``dispositifs``, ``referents``, ``analyser``, ``publier``, ``demo``…). Chacune vit dans
son module et n'est importée qu'à l'appel, pour que ``observatoire --help`` reste rapide :
la liste des commandes de l'aide générale vient de :data:`SHORT_HELP` (vérifiée par les tests
contre l'aide de chaque commande), sans importer aucun module de commande.
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
    "diffusion": ("observatoire.cli.diffusion", "diffusion"),
    "publier": ("observatoire.cli.publier", "publier"),
    "comptes": ("observatoire.cli.comptes", "comptes"),
    "sauvegarde": ("observatoire.cli.sauvegarde", "sauvegarde"),
    "restauration": ("observatoire.cli.sauvegarde", "restauration"),
    "populations": ("observatoire.cli.populations", "populations"),
}

#: Aide courte de chaque commande, pour l'aide générale (même texte que la première ligne
#: de sa docstring ; une commande absente d'ici est importée pour la lire).
SHORT_HELP: dict[str, str] = {
    "base": "Base de données : initialisation et état.",
    "referentiel": "Contours des communes, EPCI, arrondissements et département.",
    "contributions": "Tableaux des contributeurs : modèle, import, historique, restauration.",
    "ssmsi": "Base communale du SSMSI (police et gendarmerie, données publiques data.gouv.fr).",
    "dispositifs": "Registre des dispositifs d'aide (accueils de jour, LEAO, hébergement, ISCG…).",
    "referents": "Registre des communes ayant désigné un référent VIF.",
    "demo": "Remplit une base vide avec des données fictives de démonstration.",
    "analyser": "Analyse : taux, zones révélatrices et blanches présumées, tendances, couverture.",
    "diffusion": "Diffusions publiques : préparer, auditer, valider (le public ne lit qu'elles).",
    "publier": "Produit cartes (PDF, SVG, PNG), atlas PDF, classeur Excel, CSV, carte HTML et "
               "manifeste.",
    "comptes": "Comptes des agents (quand l'application n'utilise pas OIDC).",
    "sauvegarde": "Sauvegarde cohérente de la base et des fichiers reçus dans un zip.",
    "restauration": "Restaure une sauvegarde dans la base configurée (vide, ou existante avec "
                    "--remplacer).",
    "populations": "Populations de l'INSEE par commune (dénominateurs des taux).",
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
        module, attr = COMMANDS[name][:2]
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx, formatter):  # noqa: D102
        # Sans importer les modules des commandes (pandas, SQLAlchemy, geopandas…) : l'aide
        # générale répond en quelques centièmes de seconde.
        rows = []
        for name in self.list_commands(ctx):
            text = SHORT_HELP.get(name)
            if text is None:
                cmd = self.get_command(ctx, name)
                text = cmd.get_short_help_str(formatter.width) if cmd else ""
            rows.append((name, text))
        if rows:
            with formatter.section(click.core._("Commands")):
                formatter.write_dl(rows)


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
