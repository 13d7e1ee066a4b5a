"""Commandes ``observatoire populations`` : tableaux de l'INSEE (dénominateurs des taux)."""

from __future__ import annotations

import json

import click


@click.group()
def populations() -> None:
    """Populations de l'INSEE par commune (dénominateurs des taux)."""


def print_report(rapport: dict, as_json: bool) -> None:
    """Imprime le rapport d'un import de populations (texte ou JSON)."""
    if as_json:
        click.echo(json.dumps(rapport, ensure_ascii=False, indent=2, default=str))
        return
    verb = "lues (simulation, rien n'est enregistré)" if rapport.get("simulation") else \
        "importées"
    click.echo(f"Fichier : {rapport.get('fichier', '')} — feuille « {rapport.get('feuille')} », "
               f"en-tête ligne {rapport.get('ligne_entete')}")
    click.echo(f"{rapport['valeurs']} valeurs de population {verb} pour {rapport['annee']} "
               f"({rapport.get('communes', 0)} communes, {rapport.get('lignes_lues', 0)} "
               f"lignes lues" + (", lignes IRIS additionnées par commune)"
                                 if rapport.get("iris_additionnes") else ")"))
    for name, col in rapport.get("categories", {}).items():
        n = rapport.get("par_categorie", {}).get(name, 0)
        click.echo(f"  - {name} ← colonne « {col} » : {n} communes")
    if rapport.get("n_codes_inconnus"):
        click.echo(f"Avertissement : {rapport['n_codes_inconnus']} codes inconnus du COG "
                   f"ignorés (par exemple {', '.join(rapport['codes_inconnus'][:5])}).")


@populations.command("importer")
@click.argument("fichier", type=click.Path(exists=True, dir_okay=False))
@click.option("--annee", type=int, help="Millésime (par défaut lu dans le fichier : P20_… → 2020).")
@click.option("--feuille", help="Feuille à lire (par défaut celle des communes, trouvée).")
@click.option("--ligne-entete", "ligne_entete", type=int,
              help="Numéro de la ligne d'en-tête (par défaut trouvée).")
@click.option("--categorie", "categories", multiple=True, metavar="NOM=COLONNE",
              help="Colonne importée comme catégorie (répétable), par exemple "
                   "femmes_15_64=P20_F1564. La population municipale totale est toujours "
                   "importée sous « population ».")
@click.option("--simulation", is_flag=True, help="Lit tout et affiche le rapport sans rien écrire.")
@click.option("--json", "as_json", is_flag=True, help="Rapport JSON.")
def importer(fichier, annee, feuille, ligne_entete, categories, simulation, as_json) -> None:
    """Importe un tableau de populations de l'INSEE tel qu'il est publié.

    Populations légales (feuille « Communes », codes en deux colonnes), bases
    infracommunales par IRIS (additionnées par commune), ou tout tableau d'une colonne
    de code de commune et de colonnes de nombres.
    """
    from observatoire.stats.denominateurs import import_populations

    rapport = import_populations(fichier, annee, feuille=feuille, ligne_entete=ligne_entete,
                                 categories=list(categories) or None, simulation=simulation)
    print_report(rapport, as_json)


@populations.command("lister")
@click.option("--json", "as_json", is_flag=True, help="Sortie JSON.")
def lister(as_json) -> None:
    """Catégories de population importées, par millésime."""
    from observatoire.stats.denominateurs import categories_disponibles

    df = categories_disponibles()
    if as_json:
        click.echo(json.dumps(df.to_dict("records"), ensure_ascii=False, indent=2,
                              default=str))
        return
    if df.empty:
        click.echo("Aucune population importée (la population municipale du COG sert de "
                   "dénominateur).")
    for r in df.itertuples():
        click.echo(f"{r.categorie} · {r.annee} · {r.n_communes} communes")
