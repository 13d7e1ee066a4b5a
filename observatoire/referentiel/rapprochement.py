"""Rapprochement des codes d'un fichier de contours avec le COG actuel.

Les codes sont rapprochés par le COG lui-même (communes déléguées, associées et anciens
codes absorbés, avec leur commune actuelle : :func:`observatoire.communes.current_code_map`),
jamais par le nom. Les polygones de communes fusionnées depuis sont dissous dans leur
commune actuelle. Ce qui reste sans correspondance est listé, avec une proposition
spatiale « à confirmer » (la commune actuelle qui recouvre ou entoure l'ancien polygone).
"""

from __future__ import annotations

from functools import lru_cache

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from observatoire import communes
from observatoire.referentiel.lecture import INSEE_RE

#: Statuts du rapport de rapprochement.
STATUTS = {
    "actuel": "code d'une commune actuelle",
    "deleguee": "commune déléguée, rattachée à sa commune nouvelle",
    "associee": "commune associée, rattachée à sa commune de rattachement",
    "ancien_code": "ancien code absorbé, rattaché à la commune actuelle",
    "arrondissement_municipal": "arrondissement municipal (Paris, Lyon, Marseille), rattaché "
                                "à sa commune",
    "proposition": "code inconnu du COG : commune actuelle proposée, à confirmer",
    "non_rapproche": "code inconnu du COG, sans commune actuelle voisine",
    "code_invalide": "valeur qui n'est pas un code INSEE de commune",
    "sans_contour": "commune actuelle sans polygone dans le fichier",
}

#: Écart (m) toléré entre deux contours voisins pour compter une frontière commune :
#: les fichiers diffusés arrondissent les coordonnées (5 décimales ≈ 1 m).
_SNAP = 2.0


def departement_of(code: str) -> str:
    """Département d'un code INSEE de commune (``97411`` → ``974``, ``2A004`` → ``2A``).

    Parameters
    ----------
    code : str

    Returns
    -------
    str
    """
    return code[:3] if code.startswith("97") else code[:2]


@lru_cache(maxsize=1)
def _kind_map() -> dict[str, tuple[str, str]]:
    """Code → (commune actuelle, statut), les codes actuels d'abord."""
    actuelles = communes.load_communes(None)["code_insee"]
    out = {c: (c, "actuel") for c in actuelles}
    anc = communes.load_anciennes()
    # Une commune déléguée dit mieux ce qui s'est passé qu'un simple « ancien code ».
    order = {"deleguee": 0, "associee": 1, "arrondissement_municipal": 2, "ancien_code": 3}
    anc = anc.assign(_o=anc["type"].map(order).fillna(4)).sort_values("_o", kind="stable")
    for code, cible, kind in zip(anc["code"], anc["code_commune"], anc["type"], strict=True):
        out.setdefault(code, (cible, kind))
    return out


def propose(orphans: gpd.GeoDataFrame, current: gpd.GeoDataFrame) -> pd.DataFrame:
    """Propose, pour chaque polygone sans code actuel, la commune qui le recouvre ou l'entoure.

    Parameters
    ----------
    orphans : geopandas.GeoDataFrame
        Polygones non rapprochés (index quelconque).
    current : geopandas.GeoDataFrame
        Communes actuelles (colonne ``code``), même SCR.

    Returns
    -------
    pandas.DataFrame
        Même index que ``orphans`` ; colonnes ``proposition`` (code ou None), ``methode``
        (``recouvrement`` : plus grande surface commune ; ``voisin`` : plus longue frontière
        commune) et ``part`` (part de la surface ou du périmètre concernée, 0–1).
    """
    rows = []
    geoms = current.geometry.values
    tree = shapely.STRtree(geoms)
    for geom in orphans.geometry.values:
        idx = tree.query(geom, predicate="dwithin", distance=_SNAP)
        if len(idx) == 0:
            rows.append((None, None, 0.0))
            continue
        cands = geoms[idx]
        overlap = shapely.area(shapely.intersection(cands, geom))
        best = int(np.argmax(overlap))
        if overlap[best] > 0.01 * geom.area:
            rows.append((current["code"].iat[idx[best]], "recouvrement",
                         float(overlap[best] / geom.area)))
            continue
        # Pas de recouvrement : l'ancien polygone est une enclave ou une commune de bord ;
        # la commune qui partage la plus longue frontière est celle qui l'a absorbé le plus
        # souvent (Canteleux dans Bonnières).
        shared = shapely.length(shapely.intersection(geom.boundary,
                                                     shapely.buffer(cands, _SNAP)))
        best = int(np.argmax(shared))
        rows.append((current["code"].iat[idx[best]], "voisin",
                     float(min(shared[best] / geom.boundary.length, 1.0))))
    return pd.DataFrame(rows, index=orphans.index, columns=["proposition", "methode", "part"])


def dissolve_codes(frame: gpd.GeoDataFrame, by: str) -> gpd.GeoDataFrame:
    """Un polygone par valeur de ``by`` (union des parties ; les singletons restent tels quels).

    Parameters
    ----------
    frame : geopandas.GeoDataFrame
    by : str
        Colonne de regroupement.

    Returns
    -------
    geopandas.GeoDataFrame
        Colonnes ``by``, ``codes_sources`` (codes dissous, séparés par ``|``) et géométrie.
    """
    geoms = frame.geometry.values
    keys, parts, sources = [], [], []
    src = frame["code_source"].to_numpy()
    for key, idx in frame.groupby(by, sort=True).indices.items():
        keys.append(key)
        if len(idx) == 1:
            parts.append(geoms[idx[0]])
        else:
            parts.append(shapely.union_all(geoms[idx]))
        sources.append("|".join(sorted(set(src[idx]))))
    return gpd.GeoDataFrame({by: keys, "codes_sources": sources}, geometry=parts,
                            crs=frame.crs)


def reconcile(frame: gpd.GeoDataFrame, departement: str | None,
              accept_proposals: bool = False):
    """Rattache chaque polygone à sa commune actuelle et dissout les communes fusionnées.

    Parameters
    ----------
    frame : geopandas.GeoDataFrame
        Colonnes ``code_source``, ``nom_source``, géométrie (Lambert-93, valide).
    departement : str or None
        Ne garder que ce département ; None = tous.
    accept_proposals : bool, default False
        Dissoudre aussi les polygones non rapprochés dans la commune proposée.

    Returns
    -------
    communes_geo : geopandas.GeoDataFrame
        Une ligne par commune actuelle ayant un contour : ``code``, ``codes_sources``,
        géométrie.
    orphans : geopandas.GeoDataFrame
        Polygones non rapprochés : ``code_source``, ``nom_source``, ``statut``,
        ``proposition``, ``methode``, ``part``, géométrie.
    report : pandas.DataFrame
        Une ligne par code du fichier (et par commune actuelle sans contour) :
        ``code_source``, ``nom_source``, ``code_actuel``, ``nom_actuel``, ``statut``
        (voir :data:`STATUTS`), ``proposition`` (commune proposée, à confirmer), ``detail``.
    """
    kinds = _kind_map()
    resolved = frame["code_source"].map(lambda c: kinds.get(c, (None, None)))
    frame = frame.assign(code_actuel=[r[0] for r in resolved], statut=[r[1] for r in resolved])
    frame.loc[~frame["code_source"].map(lambda c: bool(INSEE_RE.match(c))), "statut"] = \
        "code_invalide"
    frame["statut"] = frame["statut"].fillna("non_rapproche")
    cog = communes.load_communes(None).set_index("code_insee")
    if departement is not None:
        dep_of_target = frame["code_actuel"].map(cog["departement"])
        dep_of_code = frame["code_source"].map(departement_of)
        keep = (dep_of_target == departement) | (frame["code_actuel"].isna()
                                                  & ((dep_of_code == departement)
                                                     | (frame["statut"] == "code_invalide")))
        frame = frame[keep]
    matched = frame[frame["code_actuel"].notna()]
    orphans = frame[frame["code_actuel"].isna()].drop(columns="code_actuel")
    communes_geo = dissolve_codes(matched, "code_actuel").rename(columns={"code_actuel": "code"})
    proposals = propose(orphans, communes_geo) if len(orphans) else pd.DataFrame(
        columns=["proposition", "methode", "part"], index=orphans.index)
    orphans = orphans.join(proposals)
    orphans.loc[orphans["proposition"].notna() & (orphans["statut"] == "non_rapproche"),
                "statut"] = "proposition"
    if accept_proposals and orphans["proposition"].notna().any():
        extra = orphans[orphans["proposition"].notna()].assign(
            code_actuel=lambda d: d["proposition"])
        matched = pd.concat([matched, extra[matched.columns]])
        communes_geo = dissolve_codes(matched, "code_actuel").rename(
            columns={"code_actuel": "code"})

    # Rapport : une ligne par code source, puis les communes actuelles sans contour.
    rep = []
    noms = cog["nom"]
    for row in matched.itertuples(index=False):
        accepted = row.code_source not in kinds
        if accepted:
            detail = "proposition acceptée à l'import (--accepter-propositions)"
        elif row.statut == "actuel":
            detail = ""
        else:
            detail = f"{STATUTS[row.statut]} {row.code_actuel} {noms.get(row.code_actuel, '')}"
        rep.append((row.code_source, row.nom_source, row.code_actuel,
                    noms.get(row.code_actuel), row.statut,
                    row.code_actuel if accepted else None, detail.strip()))
    for row in orphans.itertuples(index=False):
        proposed = isinstance(row.proposition, str)
        if accept_proposals and proposed:
            continue  # déjà dans le rapport, comme commune dissoute
        if proposed:
            share = (f"recouvre {row.part:.0%} de ce polygone" if row.methode == "recouvrement"
                     else f"partage {row.part:.0%} de son contour")
            detail = (f"à confirmer : la commune actuelle {row.proposition} "
                      f"{noms.get(row.proposition, '')} {share}")
        else:
            detail = STATUTS[row.statut]
        rep.append((row.code_source, row.nom_source, None, None, row.statut,
                    row.proposition if proposed else None, detail))
    # France entière : on n'attend que les départements présents dans le fichier (un
    # fichier de métropole ne doit pas lister toutes les communes d'outre-mer).
    deps = ({departement} if departement is not None
            else set(cog["departement"].reindex(communes_geo["code"]).dropna()))
    expected = cog[cog["departement"].isin(deps)]
    for code in sorted(set(expected.index) - set(communes_geo["code"])):
        rep.append((None, None, code, noms[code], "sans_contour", None,
                    "commune actuelle sans polygone dans le fichier : absente des cartes"))
    report = pd.DataFrame(rep, columns=["code_source", "nom_source", "code_actuel",
                                        "nom_actuel", "statut", "proposition", "detail"])
    orphans = gpd.GeoDataFrame(orphans, geometry="geometry", crs=frame.crs)
    if accept_proposals:
        orphans = orphans[orphans["proposition"].isna()]
    return communes_geo, orphans, report
