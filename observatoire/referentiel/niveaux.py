"""Attributs COG, niveaux dérivés (EPCI, arrondissement, département) et géométrie web.

Les EPCI, arrondissements et départements sont la dissolution des communes : leurs
limites coïncident donc exactement avec celles des communes. La géométrie « web » est
une simplification de couverture (:func:`shapely.coverage_simplify`) : les communes
voisines gardent leurs frontières communes, sans trou ni chevauchement, et les niveaux
supérieurs sont dissous depuis les communes simplifiées.
"""

from __future__ import annotations

import time

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from observatoire import communes

#: Niveaux servis par :func:`observatoire.referentiel.load_layer`.
NIVEAUX = ("commune", "epci", "arrondissement", "departement")

#: Tolérance (m) de la simplification web : racine de l'aire des triangles retirés
#: (Visvalingam–Whyatt). À 100 m, l'aire d'une commune bouge de moins de 2 % (contours
#: ADMIN EXPRESS déjà généralisés du 62) : invisible à l'échelle d'un département.
TOLERANCE_WEB = 100.0

#: Colonnes des communes, dans l'ordre du contrat (docs/architecture.md).
COMMUNE_COLUMNS = ["code", "nom", "population", "epci", "epci_nom", "arrondissement",
                   "arrondissement_nom", "departement", "codes_sources"]


def attach_attributes(communes_geo: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Ajoute aux contours des communes actuelles leurs attributs COG.

    Parameters
    ----------
    communes_geo : geopandas.GeoDataFrame
        Colonne ``code`` (communes actuelles) et géométrie.

    Returns
    -------
    geopandas.GeoDataFrame
        Colonnes :data:`COMMUNE_COLUMNS` et géométrie, triées par code.
    """
    cog = communes.load_communes(None).rename(columns={"code_insee": "code"})
    out = communes_geo.merge(cog, on="code", how="left", validate="one_to_one")
    if "codes_sources" not in out:
        out["codes_sources"] = out["code"]
    out = out[COMMUNE_COLUMNS + ["geometry"]].sort_values("code", ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=communes_geo.crs)


def _union(geoms, coverage: bool):
    # Sur une couverture valide, l'union de couverture est exacte et bien plus rapide
    # que l'union générale (elle ne recalcule pas les intersections).
    return shapely.coverage_union_all(geoms) if coverage else shapely.union_all(geoms)


def dissolve_level(communes_gdf: gpd.GeoDataFrame, niveau: str,
                   coverage: bool = False) -> gpd.GeoDataFrame:
    """Dissout les communes en EPCI, arrondissements ou départements.

    Parameters
    ----------
    communes_gdf : geopandas.GeoDataFrame
        Communes avec ``code``, ``population``, ``epci``, ``arrondissement``,
        ``departement`` (et, s'ils existent, ``epci_nom``, ``arrondissement_nom``).
    niveau : {"epci", "arrondissement", "departement"}
    coverage : bool, default False
        Les communes forment une couverture valide (union de couverture, plus rapide).

    Returns
    -------
    geopandas.GeoDataFrame
        ``code``, ``nom``, ``population``, ``n_communes`` (et ``departement`` pour les
        EPCI et arrondissements), géométrie. Les communes sans ``niveau`` (îles sans EPCI)
        sont laissées de côté.
    """
    key = niveau
    data = communes_gdf[communes_gdf[key].fillna("").astype(str) != ""]
    names = _level_names(niveau, data)
    geoms = data.geometry.values
    pops = data["population"].to_numpy()
    depts = data["departement"].to_numpy()
    rows = []
    for code, idx in data.groupby(key, sort=True).indices.items():
        geom = _union(geoms[idx], coverage)
        deps = sorted(set(depts[idx]))
        rows.append({"code": code, "nom": names.get(code, code),
                     "population": int(pops[idx].sum()),
                     "n_communes": len(idx), "departement": "|".join(deps), "geometry": geom})
    out = gpd.GeoDataFrame(rows, geometry="geometry", crs=communes_gdf.crs,
                           columns=["code", "nom", "population", "n_communes", "departement",
                                    "geometry"])
    if niveau == "departement":
        out = out.drop(columns="departement")
    out["population"] = out["population"].astype("int64")
    return out


def _level_names(niveau: str, data: pd.DataFrame) -> dict:
    if niveau == "departement":
        table = communes.load_departements()
        return dict(zip(table["departement"], table["nom"], strict=True))
    col = f"{niveau}_nom"
    if col in data:
        return dict(zip(data[niveau], data[col], strict=True))
    return {}


def simplify_coverage(geoms, tolerance: float = TOLERANCE_WEB) -> np.ndarray:
    """Simplifie une couverture de polygones en gardant les frontières communes.

    Parameters
    ----------
    geoms : array-like of shapely.Geometry
        Polygones formant une couverture (communes).
    tolerance : float
        Tolérance en mètres : racine carrée de l'aire des triangles retirés
        (Visvalingam–Whyatt), sur les arêtes partagées comme sur le bord.

    Returns
    -------
    numpy.ndarray
        Polygones simplifiés, dans le même ordre.
    """
    geoms = np.asarray(geoms, dtype=object)
    simple = shapely.coverage_simplify(geoms, tolerance)
    bad = ~shapely.is_valid(simple)
    if bad.any():
        # Rare (couverture d'entrée imparfaite) : on répare sans perdre la surface.
        from observatoire.referentiel.lecture import polygonal
        simple[bad] = [polygonal(shapely.make_valid(g)) for g in simple[bad]]
    return simple


def coverage_check(geoms) -> dict:
    """Contrôle de couverture : validité, arêtes incohérentes (trous, chevauchements).

    Parameters
    ----------
    geoms : array-like of shapely.Geometry

    Returns
    -------
    dict
        ``valide`` (bool), ``polygones_invalides`` (int), ``aretes_incoherentes`` (int :
        polygones dont une arête ne coïncide pas avec celle du voisin).
    """
    geoms = np.asarray(geoms, dtype=object)
    n_edges = 0
    # coverage_is_valid s'arrête au premier défaut : on ne cherche les arêtes qu'en cas d'échec.
    if not shapely.coverage_is_valid(geoms):
        edges = shapely.coverage_invalid_edges(geoms)
        n_edges = int((~shapely.is_empty(edges) & ~shapely.is_missing(edges)).sum())
    n_invalid = int((~shapely.is_valid(geoms)).sum())
    return {"valide": bool(n_edges == 0 and n_invalid == 0), "polygones_invalides": n_invalid,
            "aretes_incoherentes": n_edges}


def build_levels(communes_gdf: gpd.GeoDataFrame, tolerance: float = TOLERANCE_WEB,
                 timings: dict | None = None):
    """Toutes les couches du référentiel : communes, EPCI, arrondissements, départements.

    Parameters
    ----------
    communes_gdf : geopandas.GeoDataFrame
        Communes avec leurs attributs (:func:`attach_attributes`), en Lambert-93.
    tolerance : float
        Tolérance de la simplification web, en mètres.
    timings : dict, optional
        Rempli avec la durée (s) des étapes ``dissolution`` et ``simplification``.

    Returns
    -------
    layers : dict of str to geopandas.GeoDataFrame
        ``communes``, ``communes_web``, ``epci``, ``epci_web``, ``arrondissements``,
        ``arrondissements_web``, ``departements``, ``departements_web``.
    checks : dict
        :func:`coverage_check` de la couverture d'origine (``source``) et simplifiée (``web``).
    """
    timings = {} if timings is None else timings
    levels = (("epci", "epci"), ("arrondissement", "arrondissements"),
              ("departement", "departements"))
    tic = time.perf_counter()
    checks = {"source": coverage_check(communes_gdf.geometry.values)}
    layers = {"communes": communes_gdf}
    for niveau, name in levels:
        layers[name] = dissolve_level(communes_gdf, niveau, checks["source"]["valide"])
    timings["dissolution"] = time.perf_counter() - tic

    tic = time.perf_counter()
    web = communes_gdf.copy()
    web.geometry = gpd.GeoSeries(simplify_coverage(communes_gdf.geometry.values, tolerance),
                                 index=web.index, crs=web.crs)
    checks["web"] = coverage_check(web.geometry.values)
    layers["communes_web"] = web
    for niveau, name in levels:
        layers[f"{name}_web"] = dissolve_level(web, niveau, checks["web"]["valide"])
    timings["simplification"] = time.perf_counter() - tic
    return layers, checks
