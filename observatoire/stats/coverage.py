"""Couverture par les dispositifs d'aide, référents communaux, indice de priorité.

Distances en kilomètres, à vol d'oiseau, en Lambert-93 (EPSG:2154) : du point de la
commune (centre de gravité du contour, ou un point pondéré par la population fourni par
l'appelant) au dispositif le plus proche de chaque type (``scipy.spatial.cKDTree``).

L'indice de priorité est une moyenne pondérée de composantes toutes visibles, chacune
dans [0, 1] ; les poids viennent de ``config/territoire.toml`` (section ``[priorite]``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from observatoire.errors import ObservatoireError

__all__ = [
    "COMPOSANTES",
    "analyser_couverture",
    "couverture",
    "distances_dispositifs",
    "indice_priorite",
    "points_communes",
    "statut_referents",
]

#: Composante → (clé du poids dans [priorite], description).
COMPOSANTES: dict[str, tuple[str, str]] = {
    "composante_sous_revelation": (
        "poids_sous_revelation",
        "1 − ratio lissé (observé / attendu par source, lissé par Bayes empirique), borné à "
        "[0, 1] : 0 si la commune révèle autant ou plus qu'attendu, 1 si son ratio lissé est "
        "nul ; intervalle pour une commune masquée",
    ),
    "composante_distance": (
        "poids_distance",
        "distance au dispositif le plus proche du type retenu / plafond (30 km par défaut), "
        "bornée à 1",
    ),
    "composante_sans_referent": (
        "poids_sans_referent",
        "1 sans référent communal, 0,5 avec un référent non formé, 0 avec un référent formé",
    ),
}

DISTANCE_PLAFOND_KM = 30.0


def points_communes(geometrie, points: pd.DataFrame | None = None) -> pd.DataFrame:
    """Point de chaque commune en Lambert-93.

    Parameters
    ----------
    geometrie : geopandas.GeoDataFrame
        Contours des communes (colonne ``code``), reprojetés en EPSG:2154 si besoin.
    points : pandas.DataFrame, optional
        Points pondérés par la population (``code``, ``x``, ``y`` en Lambert-93), par
        exemple issus des carreaux INSEE ; ils remplacent le centre de gravité des
        communes qu'ils couvrent.

    Returns
    -------
    pandas.DataFrame
        ``code``, ``x``, ``y``, ``point`` (``"centroide"`` ou ``"pondere"``).
    """
    g = geometrie
    if g.crs is not None and g.crs.to_epsg() != 2154:
        g = g.to_crs(2154)
    c = g.geometry.centroid
    out = pd.DataFrame({"code": g["code"].astype(str).to_numpy(), "x": c.x.to_numpy(),
                        "y": c.y.to_numpy(), "point": "centroide"})
    if points is not None and len(points):
        p = points.set_index(points["code"].astype(str))
        dedans = out["code"].isin(p.index)
        out.loc[dedans, "x"] = out.loc[dedans, "code"].map(p["x"]).to_numpy()
        out.loc[dedans, "y"] = out.loc[dedans, "code"].map(p["y"]).to_numpy()
        out.loc[dedans, "point"] = "pondere"
    return out


def _xy_dispositifs(dispositifs: pd.DataFrame, points: pd.DataFrame) -> pd.DataFrame:
    from pyproj import Transformer

    d = dispositifs.copy().reset_index(drop=True)
    x = np.full(len(d), np.nan)
    y = np.full(len(d), np.nan)
    if {"latitude", "longitude"} <= set(d.columns):
        lat = pd.to_numeric(d["latitude"], errors="coerce").to_numpy(float)
        lon = pd.to_numeric(d["longitude"], errors="coerce").to_numpy(float)
        ok = ~np.isnan(lat) & ~np.isnan(lon)
        if ok.any():
            tr = Transformer.from_crs(4326, 2154, always_xy=True)
            x[ok], y[ok] = tr.transform(lon[ok], lat[ok])
    # Sans coordonnées, le dispositif est placé au point de sa commune.
    manque = np.isnan(x)
    if manque.any() and "code_insee" in d:
        p = points.set_index("code")
        codes = d.loc[manque, "code_insee"].astype(str)
        x[manque] = codes.map(p["x"]).to_numpy(float)
        y[manque] = codes.map(p["y"]).to_numpy(float)
    d["x"], d["y"] = x, y
    return d


def distances_dispositifs(points: pd.DataFrame, dispositifs: pd.DataFrame,
                          types: Iterable[str] | None = None) -> pd.DataFrame:
    """Distance de chaque commune au dispositif le plus proche, par type.

    Parameters
    ----------
    points : pandas.DataFrame
        ``code``, ``x``, ``y`` en Lambert-93 (:func:`points_communes`).
    dispositifs : pandas.DataFrame
        ``type``, ``nom``, et ``latitude``/``longitude`` (WGS84) ou à défaut
        ``code_insee`` (placé au point de sa commune).
    types : iterable of str, optional
        Types à mesurer ; par défaut tous ceux du registre.

    Returns
    -------
    pandas.DataFrame
        ``code`` puis, pour chaque type T, ``distance_T_km`` (NaN s'il n'existe aucun
        dispositif de ce type localisable) et ``plus_proche_T`` (nom).
    """
    out = pd.DataFrame({"code": points["code"].astype(str).to_numpy()})
    d = _xy_dispositifs(dispositifs, points)
    d = d[~np.isnan(d["x"].to_numpy(float))]
    types = sorted(set(d["type"])) if types is None else list(types)
    xy = points[["x", "y"]].to_numpy(float)
    for typ in types:
        sous = d[d["type"] == typ]
        if sous.empty:
            out[f"distance_{typ}_km"] = np.nan
            out[f"plus_proche_{typ}"] = None
            continue
        tree = cKDTree(sous[["x", "y"]].to_numpy(float))
        dist, idx = tree.query(xy, k=1)
        out[f"distance_{typ}_km"] = dist / 1000.0
        out[f"plus_proche_{typ}"] = sous["nom"].to_numpy(object)[idx]
    return out


def statut_referents(codes: Iterable[str], referents: pd.DataFrame) -> pd.DataFrame:
    """Référent VIF de chaque commune : ``referent`` (bool) et ``referent_forme`` (bool)."""
    out = pd.DataFrame({"code": [str(c) for c in codes]})
    r = referents.assign(code_insee=referents["code_insee"].astype(str)).drop_duplicates(
        "code_insee").set_index("code_insee")
    out["referent"] = out["code"].isin(r.index)
    forme = r["forme"].astype(bool) if "forme" in r else pd.Series(False, index=r.index)
    out["referent_forme"] = out["code"].isin(forme.index[forme.to_numpy(bool)])
    return out


def _rangs(indice: np.ndarray, lo: np.ndarray, hi: np.ndarray,
           classe: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rang (1 = la plus prioritaire) et bornes du rang, parmi les unités classées."""
    n = indice.size
    rang = np.full(n, np.nan)
    r_min = np.full(n, np.nan)
    r_max = np.full(n, np.nan)
    if not classe.any():
        return rang, r_min, r_max
    val = indice[classe]
    rang[classe] = pd.Series(val).rank(ascending=False, method="min").to_numpy()
    # Meilleur rang possible : compté contre les valeurs des autres avec sa borne haute ;
    # pire rang : avec sa borne basse (une unité exacte a des bornes égales).
    tri = np.sort(val)
    au_dessus_hi = val.size - np.searchsorted(tri, hi[classe], side="right")
    au_dessus_lo = val.size - np.searchsorted(tri, lo[classe], side="left")
    soi_lo = (val >= lo[classe]).astype(int)
    r_min[classe] = 1 + au_dessus_hi
    r_max[classe] = np.maximum(au_dessus_lo - soi_lo + 1, r_min[classe])
    return rang, r_min, r_max


def indice_priorite(table: pd.DataFrame, poids: Mapping[str, float] | None = None, *,
                    type_distance: str | None = None,
                    distance_plafond_km: float | None = None) -> pd.DataFrame:
    """Indice de priorité d'action : composantes, indice et rang, sans abandon silencieux.

    - une commune hors du périmètre des sources n'est pas classée (rang vide,
      ``priorite_statut`` le dit) : on ne sait rien de sa révélation ;
    - une commune dont l'effectif est masqué est classée sur l'**intervalle** de sa
      composante de sous-révélation (bornes de l'effectif), jamais sur les seules autres
      composantes : ``indice_priorite_min``/``_max`` et ``rang_priorite_min``/``_max``
      donnent la fourchette, ``indice_priorite`` son milieu ;
    - une composante inconnue pour une commune seulement (population inconnue…) la laisse
      non classée ; une composante inconnue partout (contours non importés) est retirée
      de l'indice, poids renormalisés, et ``attrs["composantes_utilisees"]`` le dit.

    Parameters
    ----------
    table : pandas.DataFrame
        Table communale d'analyse (``ratio_lisse`` et ses bornes, ou ``taux_lisse``,
        ``attendu``, ``personnes_annees``) complétée des colonnes de
        :func:`distances_dispositifs` et :func:`statut_referents`.
    poids : mapping, optional
        ``poids_sous_revelation``, ``poids_distance``, ``poids_sans_referent``
        (``settings().priorite`` par défaut).
    type_distance : str, optional
        Type de dispositif de la composante distance (``type_distance`` de la
        configuration, sinon le premier type mesuré).
    distance_plafond_km : float, optional
        Distance au-delà de laquelle la composante vaut 1 (``distance_plafond_km`` de la
        configuration, 30 km par défaut).

    Returns
    -------
    pandas.DataFrame
        La table avec ``composante_sous_revelation`` (et ``_min``, ``_max``),
        ``composante_distance``, ``composante_sans_referent``, ``indice_priorite`` (et
        ``_min``, ``_max``), ``rang_priorite`` (1 = la plus prioritaire ; et ``_min``,
        ``_max``), ``priorite_statut`` et ``composantes_indice``.
    """
    if poids is None:
        from observatoire.config import settings

        poids = settings().priorite
    poids = dict(poids)
    out = table.copy()
    type_distance = type_distance or poids.get("type_distance")
    plafond = float(distance_plafond_km or poids.get("distance_plafond_km",
                                                      DISTANCE_PLAFOND_KM))
    if plafond <= 0:
        raise ObservatoireError(f"distance_plafond_km doit être positive (reçu {plafond}).")
    n = len(out)
    if "ratio_lisse_min" in out and "ratio_lisse_max" in out:
        r_lo = out["ratio_lisse_min"].to_numpy(float)
        r_hi = out["ratio_lisse_max"].to_numpy(float)
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            attendu = out["attendu"].to_numpy(float)
            lisse = out["taux_lisse"].to_numpy(float) / 1000.0 * out[
                "personnes_annees"].to_numpy(float)
            r_lo = r_hi = np.where(attendu > 0, lisse / attendu, np.nan)
    # Sous-révélation décroissante du ratio lissé : la borne haute du ratio donne la basse.
    c_lo = np.clip(1.0 - r_hi, 0.0, 1.0)
    c_hi = np.clip(1.0 - r_lo, 0.0, 1.0)
    exact = c_lo == c_hi
    out["composante_sous_revelation"] = np.where(exact, c_lo, np.nan)
    out["composante_sous_revelation_min"] = c_lo
    out["composante_sous_revelation_max"] = c_hi
    dist_cols = [c for c in out.columns if c.startswith("distance_") and c.endswith("_km")]
    col = f"distance_{type_distance}_km" if type_distance else (dist_cols[0] if dist_cols
                                                                  else None)
    if col and col in out:
        out["composante_distance"] = np.clip(out[col].to_numpy(float) / plafond, 0.0, 1.0)
    else:
        out["composante_distance"] = np.nan
    if "referent" in out:
        out["composante_sans_referent"] = np.where(
            ~out["referent"].fillna(False).to_numpy(bool), 1.0,
            np.where(out["referent_forme"].fillna(False).to_numpy(bool), 0.0, 0.5))
    else:
        out["composante_sans_referent"] = np.nan
    hors = (~out["couvert"].to_numpy(bool)) if "couvert" in out else np.zeros(n, bool)
    comps = {"composante_sous_revelation": (c_lo, c_hi),
             "composante_distance": (out["composante_distance"].to_numpy(float),) * 2,
             "composante_sans_referent": (out["composante_sans_referent"].to_numpy(float),) * 2}
    num_lo, num_hi, den = np.zeros(n), np.zeros(n), 0.0
    utilisees, manque = [], np.zeros(n, bool)
    noms_manque = np.full(n, "", dtype=object)
    for comp, (cle, _desc) in COMPOSANTES.items():
        w = float(poids.get(cle, 0.0))
        if w < 0:
            raise ObservatoireError(f"Le poids {cle} de [priorite] est négatif ({w}).")
        lo, hi = comps[comp]
        ok = ~np.isnan(lo) & ~np.isnan(hi)
        if w == 0 or not (ok & ~hors).any():
            continue  # composante absente partout : retirée de l'indice, et dit
        utilisees.append(comp)
        den += w
        manque |= ~ok
        noms_manque = np.where(~ok, noms_manque + comp.removeprefix("composante_") + " ",
                               noms_manque)
        num_lo += w * np.nan_to_num(lo)
        num_hi += w * np.nan_to_num(hi)
    classe = ~hors & ~manque & (den > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        i_lo = np.where(classe, num_lo / den if den else np.nan, np.nan)
        i_hi = np.where(classe, num_hi / den if den else np.nan, np.nan)
    indice = (i_lo + i_hi) / 2.0
    out["indice_priorite"] = indice
    out["indice_priorite_min"], out["indice_priorite_max"] = i_lo, i_hi
    rang, r_min, r_max = _rangs(indice, i_lo, i_hi, classe)
    out["rang_priorite"] = pd.array(np.where(np.isnan(rang), np.nan, rang), dtype="Int64") \
        if classe.any() else pd.array([pd.NA] * n, dtype="Int64")
    out["rang_priorite_min"] = pd.array([pd.NA if np.isnan(x) else int(x) for x in r_min],
                                        dtype="Int64")
    out["rang_priorite_max"] = pd.array([pd.NA if np.isnan(x) else int(x) for x in r_max],
                                        dtype="Int64")
    statut = np.where(exact, "classée", "classée sur un intervalle (effectif masqué)")
    statut = np.where(manque, "non classée : composante inconnue ("
                      + np.char.strip(noms_manque.astype(str)).astype(object) + ")", statut)
    statut = np.where(hors, "non classée : hors du périmètre des sources", statut)
    out["priorite_statut"] = statut.astype(object)
    out["composantes_indice"] = "|".join(utilisees)
    out.attrs = dict(table.attrs)
    out.attrs.update({"poids_priorite": {k: poids.get(v[0], 0.0) for k, v in
                                         COMPOSANTES.items()},
                      "type_distance": type_distance, "distance_plafond_km": plafond,
                      "composantes_utilisees": utilisees,
                      "non_classees": out.loc[~classe, "code"].astype(str).tolist()
                      if "code" in out else []})
    return out


def couverture(table: pd.DataFrame, *, geometrie=None, dispositifs: pd.DataFrame | None = None,
               referents: pd.DataFrame | None = None, points: pd.DataFrame | None = None,
               poids: Mapping[str, float] | None = None, types: Iterable[str] | None = None,
               ) -> pd.DataFrame:
    """Table communale d'analyse complétée des distances, référents et priorités.

    Parameters
    ----------
    table : pandas.DataFrame
        Sortie communale de :func:`observatoire.stats.analyser`.
    geometrie : geopandas.GeoDataFrame, optional
        Contours des communes ; sans eux, pas de distances (dit dans ``attrs``).
    dispositifs, referents : pandas.DataFrame, optional
        Registres (voir :func:`distances_dispositifs`, :func:`statut_referents`).
    points : pandas.DataFrame, optional
        Points pondérés par la population (voir :func:`points_communes`).
    poids : mapping, optional
        Poids de l'indice (``settings().priorite`` par défaut).
    types : iterable of str, optional
        Types de dispositifs mesurés.

    Returns
    -------
    pandas.DataFrame
    """
    if (table["niveau"] != "commune").any():
        raise ObservatoireError("La couverture se calcule au niveau des communes.")
    out = table.copy()
    avert = list(table.attrs.get("avertissements", []))
    if geometrie is not None and dispositifs is not None and len(dispositifs):
        pts = points_communes(geometrie, points)
        pts = pts.set_index("code").reindex(out["code"].astype(str)).reset_index()
        dist = distances_dispositifs(pts.dropna(subset=["x"]), dispositifs, types)
        out = out.merge(dist, on="code", how="left")
        out["point_distance"] = out["code"].map(pts.set_index("code")["point"])
    elif geometrie is None:
        avert.append("distances aux dispositifs non calculées : contours non importés")
    else:
        avert.append("distances aux dispositifs non calculées : registre des dispositifs vide")
    if referents is not None:
        out = out.merge(statut_referents(out["code"], referents), on="code", how="left")
    else:
        avert.append("registre des référents absent : composante « sans référent » ignorée")
    out.attrs = dict(table.attrs)
    out.attrs["avertissements"] = avert
    res = indice_priorite(out, poids)
    return res


def analyser_couverture(annees, indicateur: str, *, engine=None, points=None,
                        table: pd.DataFrame | None = None, **kwargs) -> pd.DataFrame:
    """:func:`couverture` sur la base : analyse communale, contours, registres.

    Parameters
    ----------
    annees, indicateur, **kwargs
        Comme :func:`observatoire.stats.analyser` (niveau commune).
    engine : sqlalchemy.engine.Engine, optional
    points : pandas.DataFrame, optional
        Points pondérés par la population.
    table : pandas.DataFrame, optional
        Analyse communale déjà calculée pour ces années et cet indicateur (vue agents) :
        elle n'est pas recalculée.

    Returns
    -------
    pandas.DataFrame
        Vue agents (le public ne lit que les diffusions validées).
    """
    import sqlalchemy as sa

    from observatoire import storage
    from observatoire.stats.analyse import analyser, charger_geometrie

    geometrie, _ = charger_geometrie("commune")
    t = table if table is not None else analyser(annees, indicateur, niveau="commune",
                                                 engine=engine, geometrie=geometrie, **kwargs)
    engine = engine or storage.get_engine()
    with engine.connect() as conn:
        disp = pd.DataFrame(conn.execute(sa.select(
            storage.dispositifs.c.type, storage.dispositifs.c.nom,
            storage.dispositifs.c.code_insee, storage.dispositifs.c.latitude,
            storage.dispositifs.c.longitude)).mappings().all(),
            columns=["type", "nom", "code_insee", "latitude", "longitude"])
        ref = pd.DataFrame(conn.execute(sa.select(
            storage.referents.c.code_insee, storage.referents.c.forme)).mappings().all(),
            columns=["code_insee", "forme"])
    return couverture(t, geometrie=geometrie, dispositifs=disp, referents=ref, points=points)
