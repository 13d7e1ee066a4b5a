"""Commande ``observatoire demo`` : jeu fictif de démonstration."""

from __future__ import annotations

import json

import click

from observatoire import demo as demo_mod


@click.command("demo")
@click.argument("autres_annees", nargs=-1, type=int, metavar="[ANNÉES]...")
@click.option("--annees", multiple=True, type=int, metavar="ANNÉE",
              help="Années des données (défaut : 2022 2023 2024), ex. --annees 2022 2023 2024.")
@click.option("--graine", type=int, default=demo_mod.DEFAULT_SEED, show_default=True,
              help="Graine du modèle : même graine, mêmes valeurs.")
@click.option("--effacer", is_flag=True,
              help="Efface la démonstration (refusé sur une base réelle) ; les dispositifs "
                   "du plan cadre, bien réels, sont rechargés comme registre réel.")
@click.option("--sans-plan", is_flag=True,
              help="Avec --effacer : ne pas recharger les dispositifs du plan (base vide).")
@click.option("--sans-diffusion", is_flag=True,
              help="Ne pas préparer ni valider les diffusions publiques (plus rapide ; la "
                   "carte publique reste vide, les pages des agents sont remplies).")
@click.option("--json", "as_json", is_flag=True, help="Résumé en JSON.")
def demo(autres_annees: tuple[int, ...], annees: tuple[int, ...], graine: int, effacer: bool,
         sans_plan: bool, sans_diffusion: bool, as_json: bool) -> None:
    """Remplit une base vide avec des données fictives de démonstration.

    Trois années de contributions tirées d'un modèle sur les populations réelles, les
    dispositifs du plan, des référents dans 92 communes de l'arrondissement de Béthune.
    Tout est marqué « données fictives de démonstration » ; une base de démonstration
    refuse les imports réels jusqu'à « observatoire demo --effacer ».
    """
    if effacer:
        out = demo_mod.clear_demo(recharger_plan=not sans_plan)
        if as_json:
            click.echo(json.dumps(out, ensure_ascii=False, indent=2))
        else:
            click.echo(f"Démonstration effacée : {out['lots']} lot(s), {out['valeurs']} "
                       f"valeur(s), {out['dispositifs']} dispositif(s), {out['referents']} "
                       f"référent(s), {out.get('diffusions', 0)} diffusion(s), "
                       f"{out['fichiers']} fichier(s) d'archive. La base est prête pour des "
                       "données réelles.")
            if out["dispositifs_plan"]:
                click.echo(f"Les {out['dispositifs_plan']} dispositifs nommés par le plan "
                           "cadre sont rechargés comme registre réel (--sans-plan pour ne "
                           "pas les garder).")
        return
    years = list(annees) + list(autres_annees) or list(demo_mod.DEFAULT_YEARS)

    def progres(fraction: float, message: str) -> None:
        if not as_json:
            click.echo(f"[{fraction:4.0%}] {message}", err=True)

    out = demo_mod.load_demo(years, graine, diffusions=not sans_diffusion,
                             progress=progres)
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    click.echo(f"{demo_mod.DEMO_LABEL} chargées (graine {out['graine']}, années "
               f"{', '.join(map(str, out['annees']))}) :")
    click.echo(f"  {out['lots']} lots, {out['valeurs']} valeurs")
    click.echo(f"  {out['dispositifs']} dispositifs, {out['referents']} communes avec un "
               "référent")
    if out.get("diffusions"):
        click.echo(f"  {len(out['diffusions'])} diffusion(s) préparée(s), auditée(s) et "
                   f"validée(s) : {', '.join(str(d['annee']) for d in out['diffusions'])}")
    from observatoire import referentiel

    if referentiel.origine() == "simplifie":
        click.echo("  Contours : contours simplifiés livrés avec l'application (importez les "
                   "contours officiels avec « observatoire referentiel importer »)")
    click.echo("Pour passer aux données réelles : observatoire demo --effacer")
