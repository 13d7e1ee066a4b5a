"""Commandes ``observatoire contributions`` : modèle, import, historique, restauration."""

from __future__ import annotations

import getpass
import json

import click

from observatoire.errors import FichierRefuseError, ObservatoireError


def _user(utilisateur: str | None) -> str:
    if utilisateur:
        return utilisateur
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "inconnu"


def _pairs(values: tuple[str, ...], what: str) -> dict[str, str]:
    out = {}
    for v in values:
        if "=" not in v:
            raise click.BadParameter(f"« {v} » : écrivez {what} sous la forme \"TEXTE=CODE\".")
        key, code = v.rsplit("=", 1)
        out[key.strip()] = code.strip()
    return out


@click.group()
def contributions() -> None:
    """Tableaux des contributeurs : modèle, import, historique, restauration."""


@contributions.command("importer")
@click.argument("fichier", type=click.Path(exists=True, dir_okay=False))
@click.option("--contributeur", required=True,
              help="Identifiant du registre (data/catalogues/contributeurs.csv).")
@click.option("--annee", required=True, type=int, help="Année N des données.")
@click.option("--simulation", is_flag=True,
              help="Lit tout et affiche le rapport sans rien enregistrer.")
@click.option("--json", "as_json", is_flag=True, help="Rapport JSON (avec les valeurs).")
@click.option("--utilisateur", help="Qui importe (par défaut l'utilisateur du système).")
@click.option("--feuille", "feuilles", multiple=True,
              help="Feuille à lire (répétable) ; par défaut toutes celles qui portent un tableau.")
@click.option("--correspondance", "correspondances", multiple=True,
              help='En-tête → indicateur pour cet import, mémorisé : "ENTETE=code".')
@click.option("--commune", "communes", multiple=True,
              help='Commune à préciser : "TEXTE=code INSEE" (ou "TEXTE=" : non localisé).')
@click.option("--accepter-propositions", "accepter_propositions", is_flag=True,
              help="Retient le premier candidat de chaque colonne de nombres sans indicateur "
                   "reconnu (le rapport le dit ; mémorisé comme une correspondance confirmée).")
@click.option("--ecarter-lignes-invalides", "ecarter_lignes_invalides", is_flag=True,
              help="Charge les lignes valides et écarte celles qui portent une valeur "
                   "invalide, chacune gardée au rapport du lot (par défaut : tout refuser).")
@click.option("--perimetre",
              help="Communes que couvre ce lot, s'il en couvre moins que le territoire déclaré "
                   "du contributeur : arrondissement(s), EPCI, codes INSEE séparés par « | » "
                   "(ex. 622, ou 62119|62510). Enregistré avec le lot.")
def importer(fichier, contributeur, annee, simulation, as_json, utilisateur, feuilles,
             correspondances, communes, accepter_propositions=False,
             ecarter_lignes_invalides=False, perimetre=None) -> None:
    """Importe le tableau FICHIER d'un contributeur pour l'année N.

    Le fichier est refusé en entier (rien n'est enregistré) s'il contient des données
    personnelles, s'il est dangereux ou illisible, ou si des valeurs sont invalides ;
    le rapport dit où. Réimporter le même couple contributeur/année remplace le lot
    courant, qui reste dans l'historique. --perimetre restreint les communes que le lot
    couvre (hors de lui, le lot ne dit rien d'elles ; dedans, une commune absente compte 0).
    """
    from observatoire.ingest import import_contribution

    overrides = _pairs(correspondances, "la correspondance")
    commune_overrides = {k: (v or None) for k, v in _pairs(communes, "la commune").items()}
    print_import(lambda: import_contribution(
        fichier, contributeur=contributeur, annee=annee, simulation=simulation,
        utilisateur=_user(utilisateur), mapping_overrides=overrides or None,
        commune_overrides=commune_overrides or None, feuilles=list(feuilles) or None,
        accept_proposals=accepter_propositions, skip_invalid_rows=ecarter_lignes_invalides,
        perimetre=perimetre or None), as_json)


def print_import(run, as_json: bool) -> None:
    """Lance un import et imprime son rapport (texte, ou JSON avec ``--json``).

    Un fichier refusé sort en code 1 : en JSON, le rapport porte la clé ``refus`` ; en
    texte, le rapport puis le message d'erreur. Un rapport avec des erreurs (simulation)
    sort aussi en code 1.
    """
    try:
        report = run()
    except FichierRefuseError as exc:
        report = getattr(exc, "rapport", None)
        if as_json:
            out = report.to_dict() if report else {"statut": "refuse", "ok": False}
            out["refus"] = str(exc)
            click.echo(json.dumps(out, ensure_ascii=False, indent=2, default=str))
            raise SystemExit(1) from exc
        if report is not None:
            click.echo(report.to_text())
        raise
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2, default=str))
    else:
        click.echo(report.to_text())
    if not report.ok:
        raise SystemExit(1)


@contributions.command("historique")
@click.option("--contributeur", help="Filtre sur un contributeur.")
@click.option("--annee", type=int, help="Filtre sur une année.")
@click.option("--json", "as_json", is_flag=True, help="Sortie JSON.")
def historique(contributeur, annee, as_json) -> None:
    """Liste les lots importés (courants et remplacés), le plus récent d'abord."""
    from observatoire import batches

    df = batches.list_batches(contributeur=contributeur, annee=annee)
    if as_json:
        click.echo(json.dumps(df.to_dict("records"), ensure_ascii=False, indent=2, default=str))
        return
    if df.empty:
        click.echo("Aucun lot importé.")
        return
    for r in df.itertuples():
        etat = "courant" if r.courant else f"remplacé le {r.remplace_le}"
        ecartees = (f" · {r.lignes_ecartees} lignes écartées (voir le rapport du lot)"
                    if getattr(r, "lignes_ecartees", 0) else "")
        perimetre = f" · périmètre {r.perimetre}" if getattr(r, "perimetre", None) else ""
        click.echo(f"lot {r.id} · {r.contributeur} {r.annee} · {r.fichier} · "
                   f"{r.n_valeurs} valeurs · importé le {r.importe_le} par {r.importe_par} · "
                   f"{etat}{ecartees}{perimetre}")


@contributions.command("restaurer")
@click.argument("lot_id", type=int)
@click.option("--utilisateur", help="Qui restaure (par défaut l'utilisateur du système).")
def restaurer(lot_id, utilisateur) -> None:
    """Rend courant le lot LOT_ID ; le lot courant du même couple passe dans l'historique."""
    from observatoire import batches

    previous = batches.restore_batch(lot_id, _user(utilisateur))
    if previous == lot_id:
        click.echo(f"Le lot {lot_id} est déjà le lot courant : rien n'a changé.")
    else:
        click.echo(f"Lot {lot_id} restauré ; le lot {previous} passe dans l'historique.")


@contributions.command("modele")
@click.option("--contributeur", required=True, help="Identifiant du registre.")
@click.option("--annee", required=True, type=int, help="Année N des données à collecter.")
@click.option("--sortie", type=click.Path(dir_okay=False),
              help="Fichier .xlsx à écrire (par défaut modele_<contributeur>_<annee>.xlsx).")
def modele(contributeur, annee, sortie) -> None:
    """Écrit le modèle standard .xlsx à envoyer à un contributeur."""
    from observatoire.ingest.template import write_template

    path = write_template(contributeur, annee, sortie)
    click.echo(f"Modèle écrit : {path}")


@contributions.command("correspondances")
@click.option("--contributeur", help="Contributeur concerné (obligatoire pour confirmer).")
@click.option("--confirmer", "confirmer", multiple=True,
              help='Mémorise "ENTETE=indicateur" pour ce contributeur (répétable).')
@click.option("--oublier", "oublier", multiple=True, help="Oublie la correspondance d'un en-tête.")
@click.option("--utilisateur", help="Qui confirme (par défaut l'utilisateur du système).")
@click.option("--json", "as_json", is_flag=True, help="Sortie JSON.")
def correspondances(contributeur, confirmer, oublier, utilisateur, as_json) -> None:
    """Liste, confirme ou oublie les correspondances en-tête → indicateur mémorisées.

    Une correspondance confirmée sert à tous les imports suivants de ce contributeur.
    """
    from observatoire.ingest.headers import forget_mapping, list_mappings, remember_mapping

    if (confirmer or oublier) and not contributeur:
        raise ObservatoireError("Précisez --contributeur pour confirmer ou oublier une "
                                "correspondance.")
    for entete, code in _pairs(confirmer, "la correspondance").items():
        remember_mapping(contributeur, entete, code, _user(utilisateur))
        if not as_json:
            click.echo(f"Mémorisé : « {entete} » → {code} ({contributeur}).")
    for entete in oublier:
        n = forget_mapping(contributeur, entete)
        if not as_json:
            click.echo(f"Oublié : « {entete} »." if n else f"Aucune correspondance pour "
                                                          f"« {entete} ».")
    rows = list_mappings(contributeur)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2, default=str))
        return
    if not rows:
        click.echo("Aucune correspondance mémorisée.")
    for r in rows:
        click.echo(f"{r['contributeur']} · « {r['entete']} » → {r['indicateur']} "
                   f"(confirmée le {r['confirme_le']} par {r['confirme_par']})")
