"""Référentiel géographique : import des contours, rapprochement COG, couches servies.

Les contours officiels ne sont pas versionnés : l'utilisateur les importe (IGN ADMIN
EXPRESS, contours Etalab, GeoJSON ``code``/``nom``) ou les télécharge. Tant que rien n'est
importé, les contours simplifiés livrés avec l'application (:mod:`.simplifies`) servent
de repli pour le département configuré. L'import lit le fichier
(:mod:`.lecture`), rattache chaque polygone à sa commune actuelle (:mod:`.rapprochement`),
dissout les niveaux supérieurs et calcule la géométrie web (:mod:`.niveaux`), puis écrit
le tout d'un coup dans ``settings().geo_path`` (:mod:`.stockage`).

Le reste de l'application n'appelle que :func:`load_layer`, :func:`is_loaded`,
:func:`origine` et :func:`summary`.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import pandas as pd

from observatoire import communes
from observatoire.config import settings
from observatoire.errors import ReferentielAbsentError, ReferentielInvalideError
from observatoire.referentiel import lecture, niveaux, rapprochement, simplifies, stockage
from observatoire.referentiel.niveaux import NIVEAUX, TOLERANCE_WEB
from observatoire.referentiel.telechargement import download_boundaries

__all__ = ["NIVEAUX", "import_boundaries", "load_layer", "is_loaded", "origine", "summary",
           "download_boundaries", "report_frame"]

#: Version du COG des tables attributaires (voir data/communes/SOURCE.md).
COG_SOURCE = "INSEE – COG via @etalab/decoupage-administratif 6.0.0"

_LAYER_OF = {"commune": "communes", "epci": "epci", "arrondissement": "arrondissements",
             "departement": "departements"}
_YEAR = re.compile(r"(?<!\d)(19[89]\d|20\d{2})(?!\d)")


def detect_millesime(path: Path) -> str | None:
    """Millésime lu dans le nom du fichier ou de ses dossiers (``…COG_2018…`` → ``2018``).

    Parameters
    ----------
    path : pathlib.Path

    Returns
    -------
    str or None
    """
    for part in [path.name, *(p.name for p in list(path.parents)[:3])]:
        found = _YEAR.findall(part)
        if found:
            return found[0]
    return None


def _attribution(source: lecture.Source, millesime: str | None) -> str:
    suffix = f" {millesime}" if millesime else ""
    # ADMIN EXPRESS : INSEE_COM (éditions 1 à 3.1) ou couche « commune » avec code_insee et
    # nom_officiel (éditions récentes en GeoPackage).
    if source.colonne_code.lower() == "insee_com" or (
            source.couche.lower() == "commune"
            and (source.colonne_nom or "").lower() == "nom_officiel"):
        return f"IGN – ADMIN EXPRESS COG{suffix}"
    return f"fichier {source.fichier}"


def import_boundaries(path, layer: str | None = None, departement: str | None = "config",
                      millesime: str | None = None, *, attribution: str | None = None,
                      crs: str | None = None, code_column: str | None = None,
                      accept_proposals: bool = False,
                      tolerance: float = TOLERANCE_WEB, timings: dict | None = None) -> dict:
    """Importe un fichier de contours de communes et remplace le référentiel stocké.

    Parameters
    ----------
    path : path-like
        GeoJSON, GeoPackage, shapefile ou dossier ADMIN EXPRESS.
    layer : str, optional
        Couche à lire (``COMMUNE`` pour ADMIN EXPRESS) quand le fichier en a plusieurs.
    departement : str or None, default "config"
        Département gardé ; ``"config"`` = celui de la configuration ; None = tous
        (France entière).
    millesime : str, optional
        Millésime des contours ; par défaut lu dans le nom du fichier s'il y figure.
    attribution : str, optional
        Mention de la source (« IGN – ADMIN EXPRESS COG 2018 ») ; déduite sinon.
    crs : str, optional
        SCR à imposer si le fichier n'en déclare pas ou en déclare un faux (``"4326"``).
    code_column : str, optional
        Colonne du code INSEE si elle n'est pas reconnue.
    accept_proposals : bool, default False
        Dissoudre aussi les polygones non rapprochés dans la commune proposée.
    tolerance : float
        Tolérance (m) de la simplification web.
    timings : dict, optional
        Rempli avec la durée (s) de chaque étape : ``lecture``, ``rapprochement``,
        ``dissolution``, ``simplification``, ``ecriture`` (pour les benchmarks).

    Returns
    -------
    dict
        Rapport : ``fichier``, ``millesime``, ``source``, ``communes``, ``epci``,
        ``arrondissements``, ``departements``, ``rapproches`` (anciens codes → commune
        actuelle), ``non_rapproches`` (avec proposition à confirmer), ``sans_contour``,
        ``repares``, ``vides``, ``couverture``, ``avertissements``.

    Raises
    ------
    ReferentielInvalideError
        Fichier inutilisable (voir :func:`.lecture.read_boundaries`) ; le référentiel
        stocké reste alors inchangé.

    Examples
    --------
    >>> import_boundaries("ADMIN-EXPRESS-COG_2018/COMMUNE.shp")  # doctest: +SKIP
    """
    timings = {} if timings is None else timings
    path = Path(path)
    if departement == "config":
        departement = settings().departement
    tic = time.perf_counter()
    source = lecture.read_boundaries(path, layer=layer, crs=crs, code_column=code_column)
    timings["lecture"] = time.perf_counter() - tic

    tic = time.perf_counter()
    frame = source.frame
    if departement is not None:
        # Filtre grossier avant la réparation (coûteuse) : le rapprochement affine.
        dep_codes = set(communes.load_communes(departement)["code_insee"])
        cmap = communes.current_code_map()
        target = frame["code_source"].map(cmap)
        frame = frame[target.isin(dep_codes) | (target.isna() & (
            frame["code_source"].map(rapprochement.departement_of) == departement))
            | ~frame["code_source"].str.match(lecture.INSEE_RE)].copy()
        if frame.empty:
            raise ReferentielInvalideError(
                f"Fichier de contours « {source.fichier} » : aucune commune du département "
                f"{departement} (codes lus dans la colonne « {source.colonne_code} »). "
                "Vérifiez le fichier ou le département (--departement).")
    frame, source.repares, source.vides = lecture.repair(frame)
    communes_geo, orphans, report = rapprochement.reconcile(frame, departement,
                                                            accept_proposals)
    timings["rapprochement"] = time.perf_counter() - tic
    if communes_geo.empty:
        raise ReferentielInvalideError(
            f"Fichier de contours « {source.fichier} » : aucun code de la colonne "
            f"« {source.colonne_code} » ne correspond à une commune du COG"
            + (f" du département {departement}" if departement else "") + ".")

    communes_gdf = niveaux.attach_attributes(communes_geo)
    layers, checks = niveaux.build_levels(communes_gdf, tolerance, timings)

    millesime = millesime or detect_millesime(path)
    meta = {
        "fichier": source.fichier,
        "couche": source.couche,
        "colonne_code": source.colonne_code,
        "colonne_nom": source.colonne_nom or "",
        "scr_source": source.scr_source,
        "millesime": millesime or "",
        "source": attribution or _attribution(source, millesime),
        "cog": COG_SOURCE,
        "departement": departement or "",
        "date_import": datetime.now(UTC).isoformat(timespec="seconds"),
        "tolerance_web_m": str(tolerance),
        "couverture_source_valide": str(checks["source"]["valide"]),
        "couverture_web_valide": str(checks["web"]["valide"]),
        "repares": ";".join(f"{r['code']}:{r['raison']}" for r in source.repares),
        "vides": ";".join(source.vides),
        "avertissements": ";".join(source.avertissements),
    }
    tic = time.perf_counter()
    stockage.write(settings().geo_path, layers, orphans, report, meta)
    timings["ecriture"] = time.perf_counter() - tic
    return _report(meta, report, {k: len(v) for k, v in layers.items()}, checks, source)


def _report(meta: dict, report: pd.DataFrame, counts: dict, checks: dict | None,
            source: lecture.Source | None = None) -> dict:
    """Rapport lisible (et sérialisable en JSON) d'un import ou du référentiel stocké."""
    def records(df, cols):
        return [{c: (None if pd.isna(v) else v) for c, v in zip(cols, row, strict=True)}
                for row in df[cols].itertuples(index=False)]

    moved = report[report["statut"].isin(["deleguee", "associee", "ancien_code",
                                           "arrondissement_municipal"])
                   | (report["statut"].isin(["proposition", "code_invalide"])
                      & report["code_actuel"].notna())]
    orphans = report[report["code_actuel"].isna() & report["code_source"].notna()]
    missing = report[report["statut"] == "sans_contour"]
    repares = ([{"code": r["code"], "raison": r["raison"]} for r in source.repares] if source
               else [dict(zip(("code", "raison"), x.split(":", 1), strict=False))
                     for x in meta.get("repares", "").split(";") if x])
    out = {
        "fichier": meta["fichier"],
        "couche": meta["couche"],
        "millesime": meta["millesime"] or None,
        "source": meta["source"],
        "cog": meta["cog"],
        "departement": meta["departement"] or None,
        "date_import": meta["date_import"],
        "communes": counts.get("communes", 0),
        "epci": counts.get("epci", 0),
        "arrondissements": counts.get("arrondissements", 0),
        "departements": counts.get("departements", 0),
        "rapproches": records(moved, ["code_source", "nom_source", "code_actuel", "nom_actuel",
                                      "statut"]),
        "non_rapproches": records(orphans, ["code_source", "nom_source", "statut",
                                            "proposition", "detail"]),
        "sans_contour": records(missing, ["code_actuel", "nom_actuel"]),
        "repares": repares,
        "vides": [x for x in meta.get("vides", "").split(";") if x],
        "avertissements": [x for x in meta.get("avertissements", "").split(";") if x],
    }
    if checks is not None:
        out["couverture"] = checks
    else:
        out["couverture"] = {"source": {"valide": meta.get("couverture_source_valide") == "True"},
                             "web": {"valide": meta.get("couverture_web_valide") == "True"}}
    return out


def is_loaded() -> bool:
    """Vrai quand un référentiel de contours officiels a été importé.

    Returns
    -------
    bool
        Faux avec les seuls contours simplifiés livrés (voir :func:`origine`).
    """
    return stockage.exists(settings().geo_path)


def origine() -> str | None:
    """D'où viennent les contours servis.

    Returns
    -------
    {"importe", "simplifie"} or None
        ``"importe"`` : contours officiels importés ; ``"simplifie"`` : contours
        simplifiés livrés avec l'application pour le département configuré ; None :
        aucun contour pour ce département.
    """
    if stockage.exists(settings().geo_path):
        return "importe"
    return "simplifie" if simplifies.disponible(settings().departement) else None


def load_layer(niveau: str = "commune", web: bool = False) -> gpd.GeoDataFrame:
    """Contours du territoire configuré, en Lambert-93 (EPSG:2154).

    Parameters
    ----------
    niveau : {"commune", "epci", "arrondissement", "departement"}
    web : bool, default False
        Géométrie simplifiée (couverture topologique) pour l'affichage.

    Returns
    -------
    geopandas.GeoDataFrame
        Colonnes ``code``, ``nom``, ``population`` ; pour les communes aussi ``epci``,
        ``epci_nom``, ``arrondissement``, ``arrondissement_nom``, ``departement``,
        ``codes_sources``. Les communes sont celles du département et des arrondissements
        de la configuration ; les EPCI et arrondissements, ceux qui en ont au moins une
        (géométrie et population limitées au département importé) ; le département,
        celui de la configuration. Une copie : la modifier ne touche pas au cache.

    Raises
    ------
    ReferentielAbsentError
        Rien n'est importé et aucun contour simplifié n'est livré pour le département
        configuré, ou le référentiel importé ne couvre pas le territoire.
    ValueError
        Niveau inconnu.

    Notes
    -----
    Sans import, les contours simplifiés livrés avec l'application servent aux deux
    valeurs de ``web`` (voir :func:`origine`).
    """
    if niveau not in _LAYER_OF:
        raise ValueError(f"niveau « {niveau} » inconnu : attendu l'un de {', '.join(NIVEAUX)}.")
    path = settings().geo_path
    s = settings()
    name = _LAYER_OF[niveau] + ("_web" if web else "")
    if stockage.exists(path):
        layer = stockage.read_layer(path, name)
        com = stockage.read_layer(path, "communes")
    elif simplifies.disponible(s.departement):
        livrees = simplifies.couches(s.departement)
        layer, com = livrees[name], livrees["communes"]
    else:
        raise ReferentielAbsentError()
    com = com[com["departement"] == s.departement]
    if s.arrondissements:
        com = com[com["arrondissement"].isin(s.arrondissements)]
    if com.empty:
        meta = stockage.read_meta(path)
        raise ReferentielAbsentError(
            f"Le référentiel importé (fichier « {meta.get('fichier', '?')} », département "
            f"{meta.get('departement') or 'France entière'}) ne couvre pas le territoire "
            f"configuré (département {s.departement}). Importez les contours de ce "
            "département avec « observatoire referentiel importer CHEMIN ».")
    if niveau == "commune":
        keep = layer["code"].isin(com["code"])
    elif niveau == "departement":
        keep = layer["code"] == s.departement
    else:
        keep = layer["code"].isin(com[niveau])
    return layer[keep].reset_index(drop=True).copy()


def report_frame() -> pd.DataFrame:
    """Rapport de rapprochement du dernier import (une ligne par code).

    Returns
    -------
    pandas.DataFrame
        Colonnes ``code_source``, ``nom_source``, ``code_actuel``, ``nom_actuel``,
        ``statut``, ``proposition``, ``detail``.

    Raises
    ------
    ReferentielAbsentError
    """
    path = settings().geo_path
    if not stockage.exists(path):
        raise ReferentielAbsentError()
    return stockage.read_table(path, "rapprochement").copy()


def summary() -> dict:
    """Ce qui est chargé : effectifs par niveau, millésime, source, codes rapprochés.

    Returns
    -------
    dict
        Mêmes clés que le rapport de :func:`import_boundaries` ; les effectifs sont ceux
        du territoire configuré, ``simplifie`` dit si ce sont les contours simplifiés
        livrés avec l'application (sans import). Sans contours pour le territoire
        configuré, ``charge`` vaut False et ``message`` dit quoi faire.
    """
    path = settings().geo_path
    if not stockage.exists(path):
        if simplifies.disponible(settings().departement):
            return _summary_simplifies()
        return {"charge": False, "message": str(ReferentielAbsentError())}
    meta = stockage.read_meta(path)
    try:
        counts = {_LAYER_OF[n]: len(load_layer(n)) for n in NIVEAUX}
    except ReferentielAbsentError as exc:  # importé, mais pour un autre territoire
        return {"charge": False, "message": str(exc), "fichier": meta.get("fichier"),
                "departement": meta.get("departement") or None}
    out = {"charge": True, **_report(meta, stockage.read_table(path, "rapprochement"),
                                     counts, None)}
    out["territoire"] = settings().territoire_nom
    out["simplifie"] = False
    return out


def _summary_simplifies() -> dict:
    """Résumé des contours simplifiés livrés (mêmes clés qu'un import)."""
    s = settings()
    meta = simplifies.metadonnees(s.departement)
    counts = {_LAYER_OF[n]: len(load_layer(n)) for n in NIVEAUX}
    source = f"{meta.get('source', 'IGN – ADMIN EXPRESS')} ({simplifies.MENTION})"
    message = (f"Contours simplifiés livrés avec l'application ({meta.get('source', 'IGN')}, "
               f"{meta.get('licence', 'Licence Ouverte')}) : importez les contours officiels "
               "pour des limites précises.")
    return {"charge": True, "simplifie": True, "fichier": simplifies.chemin(s.departement).name,
            "couche": "communes", "millesime": meta.get("millesime") or None,
            "source": source, "cog": COG_SOURCE, "departement": s.departement,
            "date_import": meta.get("genere_le"), **counts, "rapproches": [],
            "non_rapproches": [], "sans_contour": [], "repares": [], "vides": [],
            "avertissements": [message], "couverture": {"web": {"valide": True}},
            "licence": meta.get("licence"), "message": message,
            "territoire": s.territoire_nom}
