"""Commandes ``observatoire referentiel`` : import, téléchargement et résumé des contours."""

from __future__ import annotations

import json

import click

from observatoire import referentiel as geo
from observatoire.config import settings


@click.group()
def referentiel() -> None:
    """Contours des communes, EPCI, arrondissements et département."""


#: Libellés courts des statuts de rapprochement, pour la sortie texte.
_LIBELLES = {"deleguee": "commune déléguée", "associee": "commune associée",
             "ancien_code": "ancien code absorbé", "proposition": "proposition acceptée",
             "code_invalide": "code invalide, proposition acceptée"}


def _print_report(report: dict, as_json: bool, titre: str) -> None:
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    if not report.get("charge", True):
        click.echo(report["message"])
        return
    click.echo(titre)
    click.echo(f"  fichier : {report['fichier']} (couche {report['couche']})")
    click.echo(f"  source : {report['source']}")
    click.echo(f"  millésime : {report['millesime'] or 'non précisé (option --millesime)'}")
    click.echo(f"  département : {report['departement'] or 'France entière'}")
    click.echo(f"  importé le : {report['date_import']}")
    click.echo(f"  communes : {report['communes']} ; EPCI : {report['epci']} ; "
               f"arrondissements : {report['arrondissements']} ; "
               f"départements : {report['departements']}")
    moved = report["rapproches"]
    if moved:
        click.echo(f"  {len(moved)} ancien(s) code(s) rattaché(s) à leur commune actuelle :")
        for r in moved[:50]:
            click.echo(f"    {r['code_source']} {r['nom_source'] or ''} → {r['code_actuel']} "
                       f"{r['nom_actuel'] or ''} ({_LIBELLES.get(r['statut'], r['statut'])})")
        if len(moved) > 50:
            click.echo(f"    … et {len(moved) - 50} autres (--json pour la liste complète)")
    for r in report["repares"]:
        click.echo(f"  géométrie invalide réparée : {r['code']} ({r['raison']})")
    for code in report["vides"]:
        click.echo(f"  géométrie vide écartée : {code}")
    if report["non_rapproches"]:
        click.echo(f"  {len(report['non_rapproches'])} code(s) non rapproché(s), gardés à part "
                   "(couche non_rapproches) :")
        for r in report["non_rapproches"]:
            click.echo(f"    {r['code_source']} {r['nom_source'] or ''} : {r['detail']}")
    if report["sans_contour"]:
        click.echo(f"  {len(report['sans_contour'])} commune(s) actuelle(s) sans contour "
                   "dans le fichier (absentes des cartes) :")
        click.echo("    " + ", ".join(f"{r['code_actuel']} {r['nom_actuel']}"
                                      for r in report["sans_contour"][:30]))
    cov = report.get("couverture", {}).get("web", {})
    if cov and not cov.get("valide", True):
        click.echo("  attention : la géométrie simplifiée n'est pas une couverture parfaite "
                   "(trous ou chevauchements dans le fichier d'origine).")
    for w in report["avertissements"]:
        click.echo(f"  remarque : {w}")


_IMPORT_OPTIONS = [
    click.option("--millesime", help="Millésime des contours (par défaut lu dans le nom du "
                                     "fichier, par exemple 2018)."),
    click.option("--source", "attribution",
                 help="Mention de la source, par exemple « IGN – ADMIN EXPRESS COG 2018 »."),
    click.option("--accepter-propositions", is_flag=True,
                 help="Dissoudre aussi les polygones aux codes inconnus dans la commune "
                      "actuelle proposée (sinon ils sont seulement listés)."),
    click.option("--tolerance-web", type=click.FloatRange(min=0), default=None,
                 help="Tolérance en mètres de la géométrie simplifiée pour l'affichage "
                      "(100 par défaut)."),
    click.option("--json", "as_json", is_flag=True, help="Rapport en JSON."),
]


def _tolerance(value):
    return {} if value is None else {"tolerance": value}


def _with_options(func):
    for opt in reversed(_IMPORT_OPTIONS):
        func = opt(func)
    return func


@referentiel.command("importer", short_help="Importe un fichier de contours des communes.")
@click.argument("chemin", type=click.Path(path_type=str))
@click.option("--couche", help="Couche à lire (COMMUNE pour ADMIN EXPRESS) quand le fichier "
                               "en a plusieurs.")
@click.option("--departement",
              help="Département à garder (par défaut celui de la configuration) ; "
                   "« tous » pour la France entière.")
@click.option("--scr", help="Système de coordonnées à imposer si le fichier n'en déclare pas "
                            "ou un faux (4326, 2154…).")
@click.option("--colonne-code", help="Colonne du code INSEE si elle n'est pas reconnue.")
@_with_options
def importer(chemin, couche, departement, scr, colonne_code, millesime, attribution,
             accepter_propositions, tolerance_web, as_json) -> None:
    """Importe les contours des communes depuis CHEMIN (GeoJSON, GeoPackage, shapefile).

    Formats reconnus : IGN ADMIN EXPRESS (couche COMMUNE, INSEE_COM/NOM), contours Etalab
    (code/nom), GeoJSON code/nom. Les anciens codes sont rattachés à leur commune actuelle
    par le COG ; le référentiel précédent n'est remplacé qu'en cas de succès.
    """
    dep = "config" if departement is None else (None if departement.lower() in
                                                  ("tous", "france") else departement)
    report = geo.import_boundaries(chemin, layer=couche, departement=dep, millesime=millesime,
                                    attribution=attribution, crs=scr, code_column=colonne_code,
                                    accept_proposals=accepter_propositions,
                                    **_tolerance(tolerance_web))
    _print_report(report, as_json, "Contours importés.")


@referentiel.command("telecharger",
                     short_help="Télécharge les contours officiels (internet), puis les importe.")
@click.option("--departement", help="Département (par défaut celui de la configuration).")
@_with_options
def telecharger(departement, millesime, attribution, accepter_propositions, tolerance_web,
                as_json) -> None:
    """Télécharge les contours officiels depuis geo.api.gouv.fr, puis les importe.

    Nécessite un accès à internet ; sinon, importez un fichier avec
    « observatoire referentiel importer CHEMIN ».
    """
    kwargs = {"accept_proposals": accepter_propositions, **_tolerance(tolerance_web)}
    if millesime:
        kwargs["millesime"] = millesime
    if attribution:
        kwargs["attribution"] = attribution
    report = geo.download_boundaries(departement or settings().departement, **kwargs)
    _print_report(report, as_json, "Contours téléchargés et importés.")


@referentiel.command("resume", short_help="Affiche le référentiel chargé.")
@click.option("--json", "as_json", is_flag=True, help="Sortie JSON.")
def resume(as_json: bool) -> None:
    """Affiche le référentiel chargé : effectifs par niveau, millésime, codes rapprochés."""
    _print_report(geo.summary(), as_json,
                  f"Référentiel géographique ({settings().territoire_nom})")


@referentiel.command("evenements",
                     short_help="Importe le fichier des mouvements de communes de l'INSEE.")
@click.argument("chemin", type=click.Path(exists=True, dir_okay=False, path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Rapport en JSON.")
def evenements(chemin: str, as_json: bool) -> None:
    """Importe les mouvements de communes du COG de l'INSEE (CSV « v_mvt_commune »).

    Complète le rapprochement : anciens codes et anciens noms (communes absorbées sans
    devenir déléguées, renommages) sont rattachés à leur commune actuelle, pour les
    contours comme pour les tableaux des contributeurs. Relancez ensuite l'import des
    contours si des codes restaient non rapprochés.
    """
    from observatoire import communes

    report = communes.import_insee_events(chemin)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    click.echo(f"Mouvements importés depuis {report['fichier']} : {report['anciens_codes']} "
               f"ancien(s) code(s), {report['anciens_noms']} ancien(s) nom(s) ; "
               f"{report['ignores']} mouvement(s) sans commune actuelle ignoré(s).")
