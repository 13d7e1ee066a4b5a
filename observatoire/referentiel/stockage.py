"""Stockage du référentiel dans un GeoPackage : écriture atomique, lectures en cache.

Tout l'import est écrit dans un fichier temporaire du même dossier, puis substitué d'un
coup (:func:`os.replace`) : un import qui échoue laisse le référentiel précédent intact.
Les lectures sont mises en cache par (chemin, inode, date de modification, taille) : l'application
appelle :func:`observatoire.referentiel.load_layer` à chaque page.
"""

from __future__ import annotations

import os
import tempfile
from functools import lru_cache
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

#: Couches spatiales écrites par un import, toutes en MultiPolygon.
SPATIAL_LAYERS = ("communes", "communes_web", "epci", "epci_web", "arrondissements",
                  "arrondissements_web", "departements", "departements_web")
#: Couche des polygones non rapprochés (codes inconnus du COG), gardés pour contrôle.
ORPHANS_LAYER = "non_rapproches"
#: Tables non spatiales.
REPORT_TABLE = "rapprochement"
META_TABLE = "metadonnees"


def exists(path: Path) -> bool:
    """Vrai si le GeoPackage du référentiel existe.

    Parameters
    ----------
    path : pathlib.Path

    Returns
    -------
    bool
    """
    return Path(path).is_file()


def write(path: Path, layers: dict, orphans: gpd.GeoDataFrame, report: pd.DataFrame,
          meta: dict) -> None:
    """Écrit toutes les couches dans ``path``, de façon atomique.

    Parameters
    ----------
    path : pathlib.Path
        GeoPackage de destination (remplacé d'un coup).
    layers : dict of str to geopandas.GeoDataFrame
        Les couches de :data:`SPATIAL_LAYERS`.
    orphans : geopandas.GeoDataFrame
        Polygones non rapprochés.
    report : pandas.DataFrame
        Rapport de rapprochement.
    meta : dict of str to str
        Métadonnées (source, millésime, date…).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".referentiel-", suffix=".gpkg", dir=path.parent)
    os.close(fd)
    os.unlink(tmp)  # GDAL crée le fichier lui-même
    # SQLite synchronise le disque à chaque transaction (une dizaine par couche) : inutile
    # pour un fichier temporaire, que l'on synchronise une seule fois avant de le substituer.
    previous = pyogrio.get_gdal_config_option("OGR_SQLITE_SYNCHRONOUS")
    pyogrio.set_gdal_config_options({"OGR_SQLITE_SYNCHRONOUS": "OFF"})
    try:
        for name in SPATIAL_LAYERS:
            pyogrio.write_dataframe(layers[name], tmp, layer=name, driver="GPKG",
                                    promote_to_multi=True)
        pyogrio.write_dataframe(
            gpd.GeoDataFrame(orphans[["code_source", "nom_source", "statut", "proposition",
                                      "methode", "part"]].astype(
                {"proposition": object, "methode": object, "part": float}),
                geometry=orphans.geometry.values, crs=layers["communes"].crs),
            tmp, layer=ORPHANS_LAYER, driver="GPKG", promote_to_multi=True,
            geometry_type="MultiPolygon")
        pyogrio.write_dataframe(report.astype(object), tmp, layer=REPORT_TABLE, driver="GPKG")
        pyogrio.write_dataframe(pd.DataFrame({"cle": list(meta), "valeur": [str(v) for v in
                                                                           meta.values()]}),
                                tmp, layer=META_TABLE, driver="GPKG")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        pyogrio.set_gdal_config_options({"OGR_SQLITE_SYNCHRONOUS": previous})
        if os.path.exists(tmp):
            os.unlink(tmp)
    _read.cache_clear()


def _key(path: Path) -> tuple[str, tuple[int, int, int]]:
    # os.replace donne un nouvel inode : avec la date et la taille, un import fait par un
    # autre processus (la CLI pendant que l'application tourne) invalide le cache.
    st = Path(path).stat()
    return str(path), (st.st_ino, st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=32)
def _read(path: str, version: tuple[int, int, int], layer: str) -> pd.DataFrame:
    return pyogrio.read_dataframe(path, layer=layer, use_arrow=True)


def read_layer(path: Path, layer: str) -> gpd.GeoDataFrame:
    """Couche spatiale stockée (en cache ; ne pas modifier le résultat sur place).

    Parameters
    ----------
    path : pathlib.Path
    layer : str

    Returns
    -------
    geopandas.GeoDataFrame
    """
    return _read(*_key(path), layer)


def read_table(path: Path, layer: str) -> pd.DataFrame:
    """Table non spatiale stockée (en cache ; ne pas modifier le résultat sur place).

    Parameters
    ----------
    path : pathlib.Path
    layer : str

    Returns
    -------
    pandas.DataFrame
    """
    df = _read(*_key(path), layer)
    return df.drop(columns="geometry", errors="ignore")


def read_meta(path: Path) -> dict:
    """Métadonnées du dernier import (clé → valeur, en texte).

    Parameters
    ----------
    path : pathlib.Path

    Returns
    -------
    dict of str to str
    """
    df = read_table(path, META_TABLE)
    return {k: ("" if v is None or pd.isna(v) else str(v))
            for k, v in zip(df["cle"], df["valeur"], strict=True)}
