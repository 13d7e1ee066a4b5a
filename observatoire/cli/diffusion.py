"""Commandes ``observatoire diffusion`` : préparer, auditer, valider, lister, exporter.

Préparer et auditer montrent aux agents le nombre de cellules tues et, si l'audit en
trouve, les cellules que l'intrus resserre avec leur valeur exacte : ces commandes sont
réservées aux agents. Lister et exporter ne montrent que ce que le public peut lire.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from observatoire.cli import _acces


def _progres(as_json: bool):
    def progres(fraction: float, message: str) -> None:
        if not as_json:
            click.echo(f"[{fraction:4.0%}] {message}", err=True)
    return progres


def _imprimer_audit(rapport: dict) -> None:
    d = rapport.get("diffusion") or {}
    if d:
        click.echo(f"Diffusion {d['annee']}, version {d['version']} (n° {d['id']}, "
                   f"{d['statut_libelle']}).")
    click.echo(f"Diffusions attaquées ensemble : {', '.join(rapport['diffusions_auditees'])}.")
    click.echo(f"Cellules protégées : {rapport['protegees']} ; cellules tues : "
               f"{rapport['secretes']} ; programmes résolus : {rapport['resolutions']}.")
    if rapport["sur"]:
        click.echo("Audit : aucune cellule protégée n'est resserrée par l'intrus ; aucune "
                   "valeur dérivée ni évolution publiée sur une cellule secrète.")
        return
    click.echo(f"Audit : {rapport['exposees']} fuite(s) — validation impossible.")
    for e in rapport.get("expositions", [])[:50]:
        _g, ind, per, niv, code = e["cle"]
        lo, hi = e["intervalle_intrus"]
        click.echo(f"  {ind} {per} {niv} {code} : valeur {e['valeur']:g}, l'intrus la situe "
                   f"entre {lo:g} et {'∞' if hi is None else f'{hi:g}'}.")
    for f in rapport.get("fuites", [])[:50]:
        click.echo(f"  {' '.join(map(str, f['cle'][1:]))} : {f['raison']}.")


@click.group("diffusion")
def diffusion() -> None:
    """Diffusions publiques : préparer, auditer, valider (le public ne lit qu'elles).

    En novembre : observatoire diffusion preparer --annee 2025, puis auditer, puis valider ;
    observatoire publier --annee 2025 --sortie publication-2025 produit ensuite les fichiers.
    """


@diffusion.command("preparer")
@click.option("--annee", type=int, required=True, help="Année des données à diffuser.")
@click.option("--json", "as_json", is_flag=True, help="Rapport en JSON.")
@_acces.exige_agent()
def preparer(annee, as_json) -> None:
    """Prépare la diffusion candidate de l'année (secret planifié, puis audité)."""
    from observatoire import diffusion as _d

    agent = _acces.current_agent().identifiant
    d = _d.preparer(annee, par=agent, progress=_progres(as_json))
    rapport = {**d.audit, "diffusion": d.resume()}
    if as_json:
        click.echo(json.dumps(rapport, ensure_ascii=False, indent=1))
        return
    _imprimer_audit(rapport)
    if rapport["sur"]:
        click.echo(f"Pour la publier : observatoire diffusion valider --annee {annee}.")


@diffusion.command("auditer")
@click.option("--annee", type=int, help="Année de la diffusion préparée à auditer.")
@click.option("--id", "ident", type=int, help="Numéro d'une diffusion (historique).")
@click.option("--json", "as_json", is_flag=True, help="Rapport en JSON.")
@_acces.exige_agent()
def auditer(annee, ident, as_json) -> None:
    """Attaque la diffusion avec toutes les diffusions publiées, comme le ferait un intrus."""
    from observatoire import diffusion as _d

    rapport = _d.auditer(annee, diffusion_id=ident)
    if as_json:
        click.echo(json.dumps(rapport, ensure_ascii=False, indent=1))
        return
    _imprimer_audit(rapport)


@diffusion.command("valider")
@click.option("--annee", type=int, help="Année de la diffusion préparée à valider.")
@click.option("--id", "ident", type=int, help="Numéro de la diffusion préparée.")
@click.option("--json", "as_json", is_flag=True, help="Résumé en JSON.")
@_acces.exige_agent()
def valider(annee, ident, as_json) -> None:
    """Fige la diffusion préparée : elle devient ce que le public lit pour son année."""
    from observatoire import diffusion as _d

    agent = _acces.current_agent().identifiant
    d = _d.valider(annee, diffusion_id=ident, par=agent)
    if as_json:
        click.echo(json.dumps(d.resume(), ensure_ascii=False, indent=1))
        return
    click.echo(f"Diffusion {d.annee} version {d.version} validée (n° {d.id}, empreinte "
               f"SHA-256 {d.sha256}). Le public la lit désormais ; elle ne changera plus.")


@diffusion.command("lister")
@click.option("--annee", type=int, help="Seulement cette année.")
@click.option("--json", "as_json", is_flag=True, help="Sortie JSON.")
def lister(annee, as_json) -> None:
    """Historique des diffusions (préparées, validées, remplacées)."""
    from observatoire import diffusion as _d

    lignes = [d.resume() for d in _d.historique(annee=annee)]
    if as_json:
        click.echo(json.dumps(lignes, ensure_ascii=False, indent=1))
        return
    if not lignes:
        click.echo("Aucune diffusion. Préparez la première : observatoire diffusion preparer "
                   "--annee N.")
        return
    for r in lignes:
        valide = f", validée le {r['valide_le'][:10]} par {r['valide_par']}" \
            if r["valide_le"] else ""
        click.echo(f"n° {r['id']}  {r['annee']} v{r['version']}  {r['statut_libelle']}"
                   f"{valide}  SHA-256 {r['sha256'][:12]}…")


@diffusion.command("exporter")
@click.option("--annee", type=int, required=True, help="Année de la diffusion validée.")
@click.option("--sortie", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Fichier JSON à écrire (contenu public de la diffusion).")
def exporter(annee, sortie) -> None:
    """Écrit le contenu public d'une diffusion validée (JSON, tel que le lit le public)."""
    from observatoire import diffusion as _d

    d = _d.courante(annee)
    sortie.parent.mkdir(parents=True, exist_ok=True)
    sortie.write_text(json.dumps(d.public, ensure_ascii=False, indent=1) + "\n",
                      encoding="utf-8")
    click.echo(f"Diffusion {d.annee} v{d.version} écrite dans {sortie} (SHA-256 du contenu "
               f"canonique : {d.sha256}).")
