"""Carte interactive autonome (HTML) : la carte de l'application, hors ligne, en un fichier.

Construite par :func:`observatoire.maps.build_map`, comme la carte publique de
l'application (TopoJSON quantifié des communes, limites d'EPCI et d'arrondissement,
dispositifs, référents, légende, recherche, plein écran), puis rendue autonome par
:func:`observatoire.maps.standalone_html` : Leaflet, ses extensions et nos styles sont
recopiés dans la page, leurs images en ``data:``, aucun fond tuilé n'est demandé. La
page ne contient que des données publiques (textes tirés de la table publique, sans
aucun effectif secret) et se reproduit à l'octet près : les identifiants aléatoires de
folium sont remplacés par des identifiants séquentiels.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from observatoire import classification as cl
from observatoire import maps
from observatoire.exports import print_maps as pm
from observatoire.exports.donnees import Publication, note_sources_manquantes


def _ids_deterministes(racine) -> None:
    """Remplace les identifiants aléatoires (uuid4) de folium par un compteur."""
    n = 0
    pile = [racine]
    while pile:
        el = pile.pop(0)
        el._id = f"{n:08d}"
        n += 1
        pile.extend(el._children.values())
        for attr in ("header", "html", "script"):
            sous = getattr(el, attr, None)
            if sous is not None and hasattr(sous, "_children") and sous is not el:
                pile.append(sous)


def _legende(pub: Publication, indicateur: str, classification: cl.Classification,
             table: pd.DataFrame, limites, dispositifs, referents) -> str:
    titre, sous = pm.titres(pub, indicateur, "departement")
    notes = [f"Secret statistique : effectifs communaux de 1 à {pub.seuil_secret - 1} "
             f"non publiés, ni les valeurs qui en dérivent.",
             pub.ligne_source(indicateur), pub.attribution()]
    notes += [note_sources_manquantes(table)] if note_sources_manquantes(table) else []
    if classification.note_classes():
        notes.insert(0, f"Classes : {classification.note_classes()}.")
    valeurs = [maps.LegendItem(st, n=n) for st, n in
               zip(classification.styles(), classification.effectifs or
                   [None] * classification.k, strict=True)]
    return maps.legend_for_map(
        titre, f"{sous} — classes : {classification.description_methode()}", valeurs,
        etats=[cl.STYLE_SECRET, cl.STYLE_HORS_PERIMETRE, cl.STYLE_PAS_DE_DONNEE],
        blanches=bool((table["label"] == "blanche présumée").any()), meshes=limites,
        dispositifs=dispositifs, referents=referents, notes=notes, demo=pub.demo)


def _dispositifs(pub: Publication) -> list[dict]:
    d = pub.dispositifs
    if d is None or d.empty:
        return []
    wgs = d.to_crs(4326)
    df = pd.DataFrame({"type": wgs["type"].astype(str), "nom": wgs["nom"].astype(str),
                       "commune": wgs["commune"] if "commune" in wgs else None,
                       "latitude": wgs.geometry.y, "longitude": wgs.geometry.x})
    libelles = (dict(zip(wgs["type"].astype(str), wgs["type_libelle"].astype(str),
                         strict=True)) if "type_libelle" in wgs else {})
    return maps.dispositifs_layers(df, libelles)


def _referents(pub: Publication, communes) -> dict | None:
    r = pub.referents
    if r is None or r.empty:
        return None
    # Seulement la commune et la formation : la vue publique des référents.
    return maps.referents_layer(communes, pd.DataFrame({"code_insee": r["code"].astype(str),
                                                        "forme": r["forme"].astype(bool)}))


def encoder_topologie(pub: Publication) -> dict:
    """Topologie quantifiée des communes de la publication, commune à tous ses indicateurs.

    Contours simplifiés en couverture à l'import (voisines jointives) s'il y en a,
    sinon les contours eux-mêmes.
    """
    communes = pub.couches_web.get("commune", pub.couches["commune"])
    return maps.encode_topology(communes, {"n": "nom", "e": "epci", "a": "arrondissement"},
                                meshes=("epci", "arrondissement"))


def produire_html(pub: Publication, chemin: Path, indicateur: str,
                  classification: cl.Classification, *, topologie: dict | None = None) -> Path:
    """Écrit la carte interactive autonome d'un indicateur (département, communes).

    Parameters
    ----------
    pub : Publication
    chemin : Path
        Fichier ``.html``.
    indicateur : str
    classification : Classification
        Les mêmes classes que les cartes imprimées.
    topologie : dict, optional
        Topologie des communes déjà encodée pour la même publication
        (:func:`encoder_topologie`) ; calculée sinon.

    Returns
    -------
    Path

    Raises
    ------
    RuntimeError
        La page demanderait une ressource distante (elle ne fonctionnerait pas hors
        ligne) : ne devrait jamais arriver.
    """
    communes = pub.couches_web.get("commune", pub.couches["commune"])
    topo = topologie if topologie is not None else encoder_topologie(pub)
    table = pub.table(indicateur, "commune")
    valeurs = maps.values_from_table(table, "taux", classification,
                                     seuil_secret=pub.seuil_secret)
    limites = [
        {"name": "Limites des EPCI", "mesh": "epci", "color": cl.STYLE_LIMITE_EPCI.contour,
         "weight": 1.2, "dash": cl.STYLE_LIMITE_EPCI.tirets},
        {"name": "Limites des arrondissements", "mesh": "arrondissement",
         "color": cl.STYLE_LIMITE_ARRONDISSEMENT.contour, "weight": 2.2},
    ]
    titre, _sous = pm.titres(pub, indicateur, "departement")
    dispositifs, referents = _dispositifs(pub), _referents(pub, communes)
    m = maps.build_map(topo, valeurs, palette=list(classification.couleurs),
                       legend=_legende(pub, indicateur, classification, table, limites,
                                       dispositifs, referents),
                       meshes=limites, dispositifs=dispositifs, referents=referents, osm=False,
                       layer_name=titre, titre=titre,
                       resume=maps.resume_carte(table, "taux", classification, titre))
    _ids_deterministes(m.get_root())
    page = maps.standalone_html(m, titre=f"{titre} — Observatoire VIF")
    distants = maps.external_resources(page) + re.findall(
        r'<(?:script|link)[^>]+(?:src|href)="(https?:[^"]+)"', page)
    if distants:
        raise RuntimeError(f"Ressources distantes dans la carte autonome : {distants}")
    chemin.parent.mkdir(parents=True, exist_ok=True)
    chemin.write_text(page, encoding="utf-8", newline="\n")
    return chemin


def donnees_embarquees(page: str) -> dict:
    """Configuration de carte embarquée dans une page produite par :func:`produire_html`.

    Sert aux vérifications (aucun effectif secret dans la page) : ``values`` (code ->
    ``[classe, texte, nom, blanche]``), ``topology``, ``legend``…

    Parameters
    ----------
    page : str
        Contenu HTML.

    Returns
    -------
    dict
    """
    m = re.search(r"Observatoire\.build\([^,]+,\s*(\{.*?\})\);\s*$", page, re.S | re.M)
    if m is None:
        raise ValueError("Aucune carte de l'observatoire dans cette page.")
    return json.loads(m.group(1))
