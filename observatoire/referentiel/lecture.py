"""Lecture d'un fichier de contours : format, couche, colonne de code, SCR, réparation.

Une seule entrée publique, :func:`read_boundaries`, qui vérifie le fichier une fois et
rend une table homogène (``code_source``, ``nom_source``, géométrie en Lambert-93).
Chaque problème devient une :class:`~observatoire.errors.ReferentielInvalideError` dont
le message nomme le fichier, la couche et ce qu'il faut faire.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from observatoire.errors import ReferentielInvalideError

#: SCR de stockage et de calcul : Lambert-93.
LAMBERT93 = "EPSG:2154"

#: Noms de colonnes du code INSEE, par ordre de préférence (comparés sans casse).
#: ``insee_com`` : IGN ADMIN EXPRESS ; ``code`` : Etalab et geo.api.gouv.fr ;
#: ``codgeo`` : fichiers INSEE ; ``com`` : COG brut.
CODE_COLUMNS = ("insee_com", "code_insee", "codgeo", "code_commune", "codecommune",
                "insee", "depcom", "com", "code", "cod_com", "inseecom")
#: Noms de colonnes du nom de commune (comparés sans casse).
NAME_COLUMNS = ("nom", "nom_officiel", "nom_com", "nom_commune", "libgeo", "libelle",
                "nom_m", "nomcom", "name", "lib_com")
#: Couches préférées quand un fichier en a plusieurs (ADMIN EXPRESS : « COMMUNE »).
COMMUNE_LAYERS = ("commune", "communes")

INSEE_RE = re.compile(r"^(\d{5}|2[AB]\d{3})$")
_GEO_SUFFIXES = (".shp", ".gpkg", ".geojson", ".json", ".fgb")


@dataclass
class Source:
    """Contours lus et vérifiés, prêts pour le rapprochement.

    Attributes
    ----------
    frame : geopandas.GeoDataFrame
        Colonnes ``code_source``, ``nom_source`` et géométrie (Lambert-93, polygones valides).
    fichier : str
        Nom du fichier lu.
    couche : str
        Couche lue.
    colonne_code, colonne_nom : str
        Colonnes retenues dans le fichier.
    scr_source : str
        SCR du fichier (ou celui imposé par l'utilisateur).
    repares : list of dict
        Géométries invalides réparées (``code``, ``raison``).
    vides : list of str
        Codes dont la géométrie est vide ou sans surface (écartés, donc signalés).
    avertissements : list of str
        Remarques à montrer à l'utilisateur.
    """

    frame: gpd.GeoDataFrame
    fichier: str
    couche: str
    colonne_code: str
    colonne_nom: str | None
    scr_source: str
    repares: list = field(default_factory=list)
    vides: list = field(default_factory=list)
    avertissements: list = field(default_factory=list)


def _fail(path: Path, message: str) -> ReferentielInvalideError:
    return ReferentielInvalideError(f"Fichier de contours « {path.name} » : {message}")


def _dataset(path: Path) -> Path:
    """Le fichier à lire : le chemin donné, ou la couche COMMUNE d'un dossier ADMIN EXPRESS."""
    if not path.exists():
        raise _fail(path, f"introuvable ({path}). Vérifiez le chemin.")
    if path.suffix.lower() == ".7z":
        raise _fail(path, "archive 7z (format de diffusion d'ADMIN EXPRESS) : extrayez-la, "
                          "puis importez le dossier obtenu ou son fichier COMMUNE.shp.")
    if path.suffix.lower() == ".zip":
        return _zip_member(path)
    if path.is_file():
        return path
    found = sorted(p for p in path.rglob("*") if p.suffix.lower() in _GEO_SUFFIXES)
    return _choose(path, found, lambda p: str(p.relative_to(path)))


def _zip_member(path: Path) -> Path:
    """La couche des communes d'une archive zip, lue sans extraction (/vsizip/)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = [PurePosixPath(n) for n in archive.namelist()
                       if PurePosixPath(n).suffix.lower() in _GEO_SUFFIXES]
    except zipfile.BadZipFile as exc:
        raise _fail(path, "archive zip corrompue. Téléchargez-la de nouveau.") from exc
    member = _choose(path, sorted(members), str)
    # Accolades : chemin de l'archive sans ambiguïté pour GDAL (Path fusionne les « // »).
    return Path(f"/vsizip/{{{path.resolve()}}}/{member}")


def _choose(path: Path, found: list, show) -> Path:
    preferred = [p for p in found if p.stem.lower() in COMMUNE_LAYERS]
    if len(preferred) == 1:
        return preferred[0]
    if len(found) == 1:
        return found[0]
    if not found:
        raise _fail(path, "aucun fichier géographique (shapefile, GeoPackage ou GeoJSON) "
                          "dans ce dossier ou cette archive.")
    noms = ", ".join(show(p) for p in (preferred or found)[:10])
    raise _fail(path, f"plusieurs fichiers géographiques ({noms}) : donnez directement le "
                      "chemin de la couche des communes.")


def _pick_layer(path: Path, layer: str | None) -> str:
    try:
        layers = pyogrio.list_layers(path)
    except pyogrio.errors.DataSourceError as exc:
        raise _unreadable(path, exc) from exc
    names = [str(n) for n, _ in layers]
    if layer is not None:
        match = [n for n in names if n.lower() == layer.lower()]
        if not match:
            raise _fail(path, f"pas de couche « {layer} ». Couches disponibles : "
                              f"{', '.join(names)}.")
        return match[0]
    spatial = [str(n) for n, gtype in layers if gtype is not None]
    preferred = [n for n in spatial if n.lower() in COMMUNE_LAYERS]
    if len(spatial) == 1:
        return spatial[0]
    if len(preferred) == 1:
        return preferred[0]
    if not spatial:
        if names:
            return names[0]  # le contrôle de géométrie dira que ce n'est pas géographique
        raise _fail(path, "le fichier ne contient aucune couche.")
    raise _fail(path, f"plusieurs couches ({', '.join(spatial)}) : précisez celle des "
                      "communes avec --couche NOM.")


def _unreadable(path: Path, exc: Exception) -> ReferentielInvalideError:
    text = str(exc)
    if "not recognized as being in a supported file format" in text or \
            "not recognized as a supported file format" in text:
        return _fail(path, "ce n'est pas un fichier géographique reconnu. Formats attendus : "
                           "GeoJSON, GeoPackage ou shapefile (avec ses fichiers .shx, .dbf "
                           "et .prj).")
    detail = text.split(";")[0].strip()
    return _fail(path, f"fichier illisible ou corrompu ({detail}). Téléchargez-le ou "
                       "exportez-le de nouveau.")


def normalize_codes(values: pd.Series) -> pd.Series:
    """Codes INSEE normalisés en texte : zéro initial restitué, ``2a`` → ``2A``.

    Parameters
    ----------
    values : pandas.Series
        Codes tels que lus (texte, entier ou flottant selon le fichier).

    Returns
    -------
    pandas.Series
        Codes en texte ; ``None`` pour une valeur absente.
    """
    out = values.astype("string").str.strip().str.upper()
    # Un tableur ou un shapefile a pu lire le code comme un nombre : 1001.0 -> 01001.
    out = out.str.replace(r"^(\d+)\.0+$", r"\1", regex=True)
    # Code préfixé (« COM62001 », « COM_62001 », « fr-62001 ») : le code INSEE qui suit.
    out = out.str.replace(PREFIXED_RE, r"\g<code>", regex=True)
    out = out.where(~out.str.fullmatch(r"\d{4}").fillna(False), "0" + out)
    return out.astype(object).where(out.notna(), None)


#: Préfixe de lettres devant un code INSEE complet, retiré par :func:`normalize_codes`.
PREFIXED_RE = r"^[A-Z][A-Z_]{0,11}[\s_:\-.#]?(?P<code>\d{5}|2[AB]\d{3})$"


def prefixed_count(values: pd.Series) -> int:
    """Nombre de codes écrits avec un préfixe (« COM62001 »), pour le rapport."""
    out = values.astype("string").str.strip().str.upper()
    return int(out.str.fullmatch(PREFIXED_RE).fillna(False).sum())


def _code_share(values: pd.Series) -> float:
    codes = normalize_codes(values)
    return float(codes.map(lambda c: bool(c and INSEE_RE.match(c))).mean()) if len(codes) else 0.0


def _pick_columns(path: Path, layer: str, frame: pd.DataFrame,
                  code_column: str | None) -> tuple[str, str | None]:
    by_lower = {c.lower(): c for c in frame.columns if c != "geometry"}
    if code_column is not None:
        if code_column.lower() not in by_lower:
            raise _fail(path, f"couche « {layer} » : pas de colonne « {code_column} ». "
                              f"Colonnes : {', '.join(by_lower.values())}.")
        code = by_lower[code_column.lower()]
    else:
        candidates = [by_lower[c] for c in CODE_COLUMNS if c in by_lower]
        candidates += [c for lc, c in by_lower.items()
                       if ("insee" in lc or "codgeo" in lc) and c not in candidates
                       and "dep" not in lc and "reg" not in lc and "arr" not in lc]
        code = next((c for c in candidates if _code_share(frame[c]) >= 0.5), None)
        if code is None:
            def sample(c):
                vals = frame[c].dropna()
                return f" (ex. « {vals.iloc[0]} »)" if len(vals) else ""

            tried = (f" (colonnes essayées : "
                     f"{', '.join(c + sample(c) for c in candidates)}, mais leurs valeurs ne "
                     "sont pas des codes INSEE de commune)") if candidates else ""
            raise _fail(path, f"couche « {layer} » : aucune colonne de code INSEE des communes"
                              f"{tried}. Colonnes trouvées : {', '.join(by_lower.values())}. "
                              "Attendu : INSEE_COM (IGN ADMIN EXPRESS), code (Etalab), "
                              "code_insee ou codgeo ; sinon indiquez la colonne avec "
                              "--colonne-code NOM.")
    name = next((by_lower[c] for c in NAME_COLUMNS if c in by_lower and by_lower[c] != code),
                None)
    return code, name


def _looks_geographic(bounds) -> bool:
    minx, miny, maxx, maxy = bounds
    return -180.5 <= minx <= maxx <= 180.5 and -90.5 <= miny <= maxy <= 90.5


def _check_crs(path: Path, layer: str, frame: gpd.GeoDataFrame, crs: str | None) -> str:
    """Vérifie (ou impose) le SCR déclaré en le confrontant à l'étendue des coordonnées."""
    bounds = frame.total_bounds
    shown = ", ".join(f"{b:.5g}" for b in bounds)
    degrees = _looks_geographic(bounds)
    if crs is not None:
        try:
            frame.set_crs(CRS.from_user_input(crs), allow_override=True, inplace=True)
        except CRSError as exc:
            raise _fail(path, f"SCR « {crs} » inconnu ({exc}). Exemple : --scr 4326 "
                              "(longitude/latitude) ou --scr 2154 (Lambert-93).") from exc
    if frame.crs is None:
        hint = ("elles ressemblent à des degrés de longitude/latitude : relancez avec "
                "--scr 4326" if degrees else "elles sont en mètres, par exemple Lambert-93 : "
                "relancez avec --scr 2154 si c'est bien le cas")
        raise _fail(path, f"couche « {layer} » : aucun système de coordonnées déclaré "
                          f"(fichier .prj absent ?). Étendue des coordonnées : {shown} ; {hint}.")
    declared = frame.crs
    if declared.is_geographic and not degrees:
        raise _fail(path, f"couche « {layer} » : le système déclaré ({declared.to_string()}) "
                          f"est en degrés, mais les coordonnées ({shown}) sont en mètres. "
                          "Corrigez la déclaration du SCR (fichier .prj) ou indiquez le bon "
                          "avec --scr, par exemple --scr 2154.")
    if declared.is_projected and degrees:
        raise _fail(path, f"couche « {layer} » : le système déclaré ({declared.to_string()}) "
                          f"est en mètres, mais les coordonnées ({shown}) sont des degrés de "
                          "longitude/latitude. Corrigez la déclaration du SCR ou relancez avec "
                          "--scr 4326.")
    return declared.to_string()


def polygonal(geom):
    """Partie surfacique d'une géométrie réparée (les lignes et points sont écartés).

    Parameters
    ----------
    geom : shapely.Geometry or None

    Returns
    -------
    shapely.Polygon or shapely.MultiPolygon or None
        ``None`` quand il ne reste aucune surface.
    """
    if geom is None or geom.is_empty:
        return None
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    if not parts:
        return None
    return shapely.union_all(parts)


def repair(frame: gpd.GeoDataFrame, code_column: str = "code_source"):
    """Répare les géométries invalides (``make_valid``, surfaces seulement).

    Parameters
    ----------
    frame : geopandas.GeoDataFrame
        Contours (non modifiés).
    code_column : str
        Colonne du code, pour le rapport.

    Returns
    -------
    frame : geopandas.GeoDataFrame
        Contours réparés, sans les géométries vides.
    repares : list of dict
        ``code`` et ``raison`` (diagnostic GEOS) de chaque géométrie réparée.
    vides : list of str
        Codes sans surface (géométrie absente, vide ou dégénérée) : retirés.
    """
    geoms = frame.geometry.values
    invalid = np.flatnonzero(~shapely.is_valid(geoms) & ~shapely.is_missing(geoms))
    repares = []
    fixed = list(geoms)
    for i in invalid:
        raison = shapely.is_valid_reason(geoms[i])
        fixed[i] = polygonal(shapely.make_valid(geoms[i]))
        repares.append({"code": frame[code_column].iat[i], "raison": raison})
    frame = frame.set_geometry(gpd.GeoSeries(fixed, index=frame.index, crs=frame.crs))
    empty = frame.geometry.isna() | frame.geometry.is_empty | (frame.geometry.area <= 0)
    vides = [str(c) for c in frame.loc[empty, code_column]]
    return frame[~empty].copy(), repares, vides


def read_boundaries(path, layer: str | None = None, crs: str | None = None,
                    code_column: str | None = None) -> Source:
    """Lit un fichier de contours de communes et le met en Lambert-93.

    Parameters
    ----------
    path : path-like
        GeoJSON, GeoPackage, shapefile, ou dossier ADMIN EXPRESS (sa couche COMMUNE).
    layer : str, optional
        Couche à lire quand le fichier en a plusieurs (``COMMUNE`` pour ADMIN EXPRESS).
    crs : str, optional
        SCR à imposer quand le fichier n'en déclare pas ou en déclare un faux.
    code_column : str, optional
        Colonne du code INSEE quand elle n'est pas reconnue d'elle-même.

    Returns
    -------
    Source
        Contours en EPSG:2154, géométries réparées, codes normalisés.

    Raises
    ------
    ReferentielInvalideError
        Fichier introuvable, non géographique, corrompu, couche vide ou sans polygone,
        pas de colonne de code, SCR absent ou incohérent avec les coordonnées.
    """
    original = Path(path)
    path = _dataset(original)
    try:
        return _read(path, layer, crs, code_column, original)
    except ReferentielInvalideError as exc:
        if path == original:
            raise
        # Dossier ou archive : le message nomme ce que l'utilisateur a donné et la couche lue.
        prefix = f"Fichier de contours « {path.name} »"
        raise ReferentielInvalideError(str(exc).replace(
            prefix, f"Fichier de contours « {original.name} » ({path.name})", 1)) from exc


def _read(path: Path, layer: str | None, crs: str | None, code_column: str | None,
          original: Path) -> Source:
    layer = _pick_layer(path, layer)
    try:
        info = pyogrio.read_info(path, layer=layer)
        if info["geometry_type"] is None:
            raise _fail(path, f"couche « {layer} » : aucune géométrie (format "
                              f"{info['driver']}). Ce n'est pas un fichier de contours : il "
                              "faut un GeoJSON, un GeoPackage ou un shapefile de polygones.")
        frame = pyogrio.read_dataframe(path, layer=layer, use_arrow=True)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError,
            pyogrio.errors.FieldError, pyogrio.errors.GeometryError) as exc:
        raise _unreadable(path, exc) from exc
    if len(frame) == 0:
        raise _fail(path, f"la couche « {layer} » est vide (aucune commune).")
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.isna().all():
        raise _fail(path, f"couche « {layer} » : aucune géométrie. Il faut des polygones de "
                          "communes.")
    types = set(frame.geometry.dropna().geom_type)
    if not types & {"Polygon", "MultiPolygon", "GeometryCollection"}:
        raise _fail(path, f"couche « {layer} » : géométries de type {', '.join(sorted(types))}, "
                          "pas des polygones de communes.")
    code, name = _pick_columns(path, layer, frame, code_column)
    scr = _check_crs(path, layer, frame, crs)
    out = gpd.GeoDataFrame(
        {"code_source": normalize_codes(frame[code]).to_numpy(),
         "nom_source": (frame[name].astype("string").astype(object).where(frame[name].notna(),
                                                                           None).to_numpy()
                        if name else None)},
        geometry=frame.geometry.values, crs=frame.crs)
    if out.crs != CRS.from_user_input(LAMBERT93):
        out = out.to_crs(LAMBERT93)
    warnings = []
    n_prefixed = prefixed_count(frame[code])
    if n_prefixed:
        sample = frame[code][frame[code].astype("string").str.strip().str.upper()
                             .str.fullmatch(PREFIXED_RE).fillna(False)].iloc[0]
        warnings.append(f"{n_prefixed} code(s) de la colonne « {code} » sont précédés d'un "
                        f"préfixe (par exemple « {sample} ») : lus comme le code INSEE qui "
                        f"suit.")
    missing = out["code_source"].isna()
    if missing.any():
        warnings.append(f"{int(missing.sum())} entité(s) sans code INSEE dans la colonne "
                        f"« {code} » : écartées.")
        out = out[~missing].copy()
    shown = original.name if path == original else f"{original.name} ({path.name})"
    return Source(frame=out, fichier=shown,
                  couche=layer, colonne_code=code, colonne_nom=name, scr_source=scr,
                  avertissements=warnings)
