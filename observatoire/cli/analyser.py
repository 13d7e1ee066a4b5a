"""Commande ``observatoire analyser`` : tableau d'analyse, tendances, couverture.

Sans ``--staff``, la commande ne lit que les diffusions validées (ce que voit le public) ;
l'analyse à la demande (sources au choix, années cumulées, Moran, couverture, valeurs
exactes) est réservée aux agents : ``--staff`` demande le mot de passe d'un compte d'agent
(:mod:`observatoire.cli._acces`).
"""

from __future__ import annotations

import json
import math

import click
import numpy as np
import pandas as pd

from observatoire.cli import _acces

NIVEAUX = ("commune", "epci", "arrondissement", "departement")

_COLONNES_TEXTE = {
    "analyse": ["code", "nom", "observe", "attendu", "ratio", "taux", "taux_lisse", "label"],
    "tendance": ["code", "nom", "observe_1", "observe_2", "difference", "ratio_taux",
                 "p_tendance", "sens"],
    "serie": ["code", "nom", "annee", "observe", "taux"],
    "couverture": ["code", "nom", "label", "referent", "composante_sous_revelation",
                   "composante_distance", "composante_sans_referent", "indice_priorite",
                   "rang_priorite"],
}


def _json_value(x):
    if x is None or x is pd.NA:
        return None
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return None if math.isnan(x) else float(x)
    return x


def _fmt(x, col: str, secret: bool) -> str:
    if secret and (x is None or x is pd.NA or (isinstance(x, float) and math.isnan(x))):
        return "secret"
    if x is None or x is pd.NA or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, (float, np.floating)):
        if col.startswith("p_"):
            return f"{x:.4f}".replace(".", ",")
        return f"{x:.2f}".replace(".", ",")
    if isinstance(x, (bool, np.bool_)):
        return "oui" if x else "non"
    return str(x)


def _imprimer(table: pd.DataFrame, genre: str, as_json: bool, vue: str) -> None:
    if as_json:
        attrs = {k: v for k, v in table.attrs.items() if isinstance(
            v, (str, int, float, bool, list, dict, type(None)))}
        lignes = [{k: _json_value(v) for k, v in rec.items()}
                  for rec in table.to_dict("records")]
        click.echo(json.dumps({"vue": vue, "type": genre, "meta": attrs, "lignes": lignes},
                              ensure_ascii=False, indent=1, default=str))
        return
    cols = [c for c in _COLONNES_TEXTE[genre] if c in table]
    secret = table["secret"].to_numpy(bool) if "secret" in table else np.zeros(len(table), bool)
    rows = [[_fmt(v, c, s) for c, v in zip(cols, r, strict=True)]
            for r, s in zip(table[cols].itertuples(index=False), secret, strict=True)]
    larg = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(cols)]
    click.echo("  ".join(c.ljust(w) for c, w in zip(cols, larg, strict=True)))
    for r in rows:
        click.echo("  ".join(v.ljust(w) for v, w in zip(r, larg, strict=True)))
    a = table.attrs
    click.echo("")
    detail = "valeurs exactes" if vue == "agents" else "secret statistique appliqué"
    click.echo(f"Vue {vue} ({detail}).")
    if "taux_reference" in a:
        disp = (f"τ² = {a.get('tau2', 0):.3f}" if a.get("surdispersion") == "additive"
                else f"φ = {a['phi']:.2f}")
        click.echo(f"Taux de référence ({a.get('zone_reference')}, par source) : "
                   f"{a['taux_reference']:.3f} pour 1 000 ; surdispersion "
                   f"{a.get('surdispersion', 'multiplicative')} {disp}"
                   f"{' (appliquée)' if a.get('phi_applique') else ' (non appliquée)'}, "
                   f"estimée sur {a.get('n_unites_surdispersion', 0)} unités d'attendu "
                   f"≥ {a.get('attendu_min_surdispersion', 10):g}.")
        controle = ("contrôle Benjamini–Hochberg" if a.get("fdr")
                    else "sans contrôle de multiplicité")
        click.echo(f"Étiquettes : seuil bilatéral {a.get('alpha', 0.05):g} ({controle}, "
                   f"p ≤ {a.get('seuil_p', 0):.2g}) ; {a.get('n_etiquetees', 0)} unité(s) "
                   f"étiquetée(s) sur {a.get('n_testees', 0)} testée(s).")
    for annee, d in (a.get("denominateurs") or {}).items():
        click.echo(f"Dénominateur {annee} : {d}.")
    if a.get("non_localise"):
        click.echo(f"Non localisés : {a['non_localise']} cas (hors communes).")
    for m in a.get("avertissements", []):
        click.echo(f"Attention : {m}.")


@click.group(invoke_without_command=True)
@click.option("--annee", "annees", type=int, multiple=True,
              help="Année analysée ; répétée, les années sont cumulées.")
@click.option("--indicateur", help="Code de l'indicateur (catalogue).")
@click.option("--niveau", type=click.Choice(NIVEAUX), default="commune", show_default=True,
              help="Unité d'analyse.")
@click.option("--contributeur", "contributeurs", multiple=True,
              help="Source retenue (répétable) ; toutes par défaut.")
@click.option("--denominateur", default="population", show_default=True,
              help="population, ou une catégorie importée (femmes_15_64…).")
@click.option("--tendance", nargs=2, type=int, metavar="N1 N2",
              help="Évolution de l'année N1 à l'année N2 (test exact du rapport des taux).")
@click.option("--serie", is_flag=True, help="Série sur toutes les années disponibles.")
@click.option("--couverture", is_flag=True,
              help="Distances aux dispositifs, référents et indice de priorité (communes).")
@click.option("--fdr/--sans-fdr", "fdr", default=None,
              help="Contrôle Benjamini–Hochberg entre unités (par défaut : clé "
                   "controle_multiplicite de [analyse] dans config/territoire.toml, vrai).")
@click.option("--surdispersion", type=click.Choice(("multiplicative", "additive", "aucune")),
              default=None, help="Modèle de surdispersion (par défaut : celui de [analyse]).")
@click.option("--moran", is_flag=True, help="Moran local sur les taux (contours requis).")
@click.option("--json", "as_json", is_flag=True, help="Sortie JSON.")
@click.option("--staff", is_flag=True,
              help="Valeurs exactes (agents : mot de passe du compte demandé).")
@_acces.exige_agent(si="staff")
@click.pass_context
def analyser(ctx, annees, indicateur, niveau, contributeurs, denominateur, tendance, serie,
             couverture, fdr, surdispersion, moran, as_json, staff) -> None:
    """Analyse : taux, zones révélatrices et blanches présumées, tendances, couverture.

    Exemples : observatoire analyser --annee 2024 --indicateur victimes_accueillies ;
    observatoire analyser --tendance 2023 2024 --indicateur faits_constates --niveau epci.
    Sans --staff : la diffusion validée de l'année, seule lecture publique.
    """
    if ctx.invoked_subcommand is not None:
        return
    if not indicateur:
        raise click.UsageError("Précisez l'indicateur : --indicateur CODE.")
    if not staff:
        _public(annees, indicateur, niveau, contributeurs, denominateur, tendance, serie,
                couverture, fdr, surdispersion, moran, as_json)
        return
    from observatoire import stats

    contributeurs = list(contributeurs) or None
    if tendance:
        t = stats.analyser_tendance(tendance[0], tendance[1], indicateur,
                                    contributeurs=contributeurs, niveau=niveau)
        genre = "tendance"
    elif serie:
        t = stats.analyser_serie(indicateur, contributeurs=contributeurs, niveau=niveau)
        genre = "serie"
    else:
        if not annees:
            raise click.UsageError("Précisez au moins une année : --annee N.")
        if couverture:
            if niveau != "commune":
                raise click.UsageError("--couverture se calcule au niveau des communes.")
            t = stats.analyser_couverture(list(annees), indicateur, contributeurs=contributeurs,
                                          denominateur=denominateur, fdr=fdr, moran=moran,
                                          surdispersion=surdispersion)
            genre = "couverture"
        else:
            t = stats.analyser(list(annees), indicateur, contributeurs=contributeurs,
                               niveau=niveau, denominateur=denominateur, fdr=fdr, moran=moran,
                               surdispersion=surdispersion)
            genre = "analyse"
    t = t.copy()
    if "secret" not in t:
        t["secret"] = False
    _imprimer(t, genre, as_json, "agents")


def _public(annees, indicateur, niveau, contributeurs, denominateur, tendance, serie,
            couverture, fdr, surdispersion, moran, as_json) -> None:
    """Vue publique : les tables d'une diffusion validée, rien d'autre."""
    from observatoire import diffusion
    from observatoire.diffusion import lecture

    reserve = [nom for nom, actif in (
        ("--contributeur", bool(contributeurs)), ("--denominateur", denominateur != "population"),
        ("--couverture", couverture), ("--fdr/--sans-fdr", fdr is not None),
        ("--surdispersion", surdispersion is not None), ("--moran", moran),
        ("plusieurs --annee", len(annees) > 1)) if actif]
    if reserve:
        raise click.UsageError(
            f"{', '.join(reserve)} : analyse à la demande réservée aux agents (--staff). Le "
            f"public lit les diffusions validées, protégées ensemble par le secret "
            f"statistique : observatoire analyser --annee N --indicateur CODE.")
    if tendance:
        n1, n2 = tendance
        d = diffusion.courante(n2)
        tend = [t for t in d.public.get("tendances", []) if t["indicateur"] == indicateur
                and t["niveau"] == niveau and t["annee_1"] == n1]
        if not tend:
            raise click.UsageError(
                f"La diffusion {n2} ne publie pas d'évolution {n1} → {n2} pour « {indicateur} » "
                f"au niveau {niveau} (seule l'évolution de N − 1 à N est publiée).")
        t = pd.DataFrame(tend[0]["lignes"], columns=tend[0]["colonnes"])
        t.attrs = {"annee_1": n1, "annee_2": n2, "niveau": niveau, "indicateur": indicateur,
                   "diffusion": d.version}
        _imprimer(t.assign(secret=False), "tendance", as_json, "publique")
        return
    if serie:
        publics = {a: x.public for a, x in diffusion.courantes().items()}
        if not publics:
            raise diffusion.AucuneDiffusionError()
        t = lecture.serie(publics, indicateur, (niveau,))
        t.attrs = {"niveau": niveau, "indicateur": indicateur,
                   "annees": sorted({int(a) for a in t["annee"]})}
        _imprimer(t, "serie", as_json, "publique")
        return
    if not annees:
        raise click.UsageError("Précisez l'année : --annee N.")
    d = diffusion.courante(annees[0])
    t = lecture.table(d.public, indicateur, str(annees[0]), niveau)
    t.attrs.update({"diffusion": {"annee": d.annee, "version": d.version, "sha256": d.sha256},
                    "type": "analyse"})
    _imprimer(t, "analyse", as_json, "publique")


@analyser.command("populations")
@click.argument("fichier", type=click.Path(dir_okay=False))
@click.option("--annee", type=int, required=True, help="Millésime des populations.")
@click.option("--feuille", help="Feuille à lire (par défaut celle des communes, trouvée).")
@click.option("--ligne-entete", "ligne_entete", type=int,
              help="Numéro de la ligne d'en-tête (par défaut trouvée).")
@click.option("--categorie", "categories", multiple=True, metavar="NOM=COLONNE",
              help="Colonne importée comme catégorie (répétable), ex. femmes_15_64=P20_F1564.")
def populations(fichier, annee, feuille=None, ligne_entete=None, categories=()) -> None:
    """Importe des populations par catégorie (CSV ou Excel : code commune + une colonne
    par catégorie, par exemple femmes_15_64) pour servir de dénominateur.

    Même lecture que « observatoire populations importer » (tableaux de l'INSEE tels
    qu'ils sont publiés).
    """
    from observatoire.stats.denominateurs import importer_populations

    n = importer_populations(fichier, annee, feuille=feuille, ligne_entete=ligne_entete,
                             categories=list(categories) or None)
    click.echo(f"{n} valeurs de population importées pour {annee}.")
