"""Contours simplifiés livrés avec l'application : la carte d'une installation neuve.

Tant qu'aucun contour n'est importé, :func:`observatoire.referentiel.load_layer` sert la
couche web simplifiée du département configuré, versionnée sous
``data/communes/contours-simplifies-<département>.topojson`` (générée par
``scripts/generer_contours_simplifies.py`` depuis IGN ADMIN EXPRESS, voir le ``.md`` à
côté). Les attributs (noms, EPCI, arrondissements, populations) viennent des tables du COG
du dépôt, comme pour un import ; EPCI, arrondissements et département sont la dissolution
des communes. Importer les contours officiels remplace cette couche.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import geopandas as gpd
import pyogrio

from observatoire.config import REFERENCE_DIR

#: Origine affichée partout où l'on cite les contours simplifiés.
MENTION = "contours simplifiés livrés avec l'application"


def chemin(departement: str) -> Path:
    """Fichier TopoJSON des contours simplifiés d'un département."""
    return REFERENCE_DIR / f"contours-simplifies-{departement}.topojson"


def chemin_source(departement: str) -> Path:
    """Fiche de source (origine, date, licence) à côté du TopoJSON."""
    return REFERENCE_DIR / f"contours-simplifies-{departement}.md"


def disponible(departement: str) -> bool:
    """Vrai si le dépôt livre des contours simplifiés pour ce département."""
    return chemin(departement).is_file()


def metadonnees(departement: str) -> dict:
    """Source, millésime, licence, date de génération (membre ``metadonnees`` du fichier)."""
    path = chemin(departement)
    return dict(_meta(str(path), path.stat().st_mtime_ns))


@lru_cache(maxsize=4)
def _meta(path: str, version: int) -> dict:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh).get("metadonnees", {})


def couches(departement: str) -> dict[str, gpd.GeoDataFrame]:
    """Les couches du référentiel construites sur les contours simplifiés (en cache).

    Returns
    -------
    dict
        Mêmes noms que le GeoPackage d'un import (``communes``, ``epci``,
        ``arrondissements``, ``departements`` et leurs versions ``_web``, identiques :
        seule la géométrie simplifiée existe), en Lambert-93.
    """
    path = chemin(departement)
    return _couches(str(path), path.stat().st_mtime_ns)


@lru_cache(maxsize=2)
def _couches(path: str, version: int) -> dict[str, gpd.GeoDataFrame]:
    from observatoire.referentiel import niveaux

    raw = pyogrio.read_dataframe(path)
    raw = gpd.GeoDataFrame({"code": raw["id"].astype(str)}, geometry=raw.geometry.values,
                           crs=4326).to_crs(2154)
    communes = niveaux.attach_attributes(raw)
    out = {"communes": communes}
    for niveau, nom in (("epci", "epci"), ("arrondissement", "arrondissements"),
                        ("departement", "departements")):
        out[nom] = niveaux.dissolve_level(communes, niveau, coverage=True)
    for nom in list(out):
        out[f"{nom}_web"] = out[nom]
    return out
