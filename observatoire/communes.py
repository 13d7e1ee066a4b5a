"""Référentiel des communes : tables attributaires versionnées (COG, populations, EPCI).

Les tables viennent de ``data/communes/`` (régénérées par
``scripts/generer_referentiel.py``). Les codes INSEE restent des chaînes de bout en
bout (zéros initiaux, 2A/2B). Les contours, eux, sont importés : voir
:mod:`observatoire.referentiel`.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

from observatoire.config import REFERENCE_DIR, settings

_STR = {"code_insee": str, "departement": str, "region": str, "arrondissement": str,
        "epci": str, "codes_postaux": str, "code": str, "code_commune": str, "chef_lieu": str}


def _read(name: str) -> pd.DataFrame:
    df = pd.read_csv(REFERENCE_DIR / f"{name}.csv", dtype=_STR, keep_default_na=False)
    return df


@lru_cache(maxsize=4)
def _all_communes() -> pd.DataFrame:
    df = _read("communes")
    df["population"] = df["population"].astype("int64")
    return df


def load_communes(departement: str | None = "config", arrondissements=None) -> pd.DataFrame:
    """Communes actuelles (COG) avec leurs attributs.

    Parameters
    ----------
    departement : str or None, default "config"
        Code du département ; ``"config"`` = celui de la configuration ; None = France entière.
    arrondissements : iterable of str, optional
        Restreint aux arrondissements donnés.

    Returns
    -------
    pandas.DataFrame
        Colonnes ``code_insee``, ``nom``, ``departement``, ``region``, ``arrondissement``,
        ``arrondissement_nom``, ``epci``, ``epci_nom``, ``population``, ``codes_postaux``.
    """
    df = _all_communes()
    if departement == "config":
        departement = settings().departement
    if departement is not None:
        df = df[df["departement"] == departement]
    if arrondissements:
        df = df[df["arrondissement"].isin(list(arrondissements))]
    return df.reset_index(drop=True).copy()


def load_territoire() -> pd.DataFrame:
    """Communes du territoire servi (département et arrondissements de la configuration)."""
    s = settings()
    return load_communes(s.departement, s.arrondissements or None)


@lru_cache(maxsize=1)
def load_anciennes() -> pd.DataFrame:
    """Communes déléguées, associées et anciens codes, avec leur commune actuelle.

    Returns
    -------
    pandas.DataFrame
        Colonnes ``code``, ``nom``, ``type`` (``deleguee``, ``associee``, ``ancien_code``),
        ``code_commune``.
    """
    return _read("communes_anciennes")


@lru_cache(maxsize=1)
def load_epci() -> pd.DataFrame:
    """EPCI à fiscalité propre : ``epci``, ``nom``, ``type``, ``population``."""
    return _read("epci")


@lru_cache(maxsize=1)
def load_arrondissements() -> pd.DataFrame:
    """Arrondissements : ``arrondissement``, ``nom``, ``departement``, ``chef_lieu``."""
    return _read("arrondissements")


@lru_cache(maxsize=1)
def load_departements() -> pd.DataFrame:
    """Départements : ``departement``, ``nom``, ``region``, ``chef_lieu``."""
    return _read("departements")


def current_code_map() -> dict[str, str]:
    """Associe tout code connu (actuel, délégué, associé, ancien) à sa commune actuelle."""
    mapping = {c: c for c in _all_communes()["code_insee"]}
    anc = load_anciennes()
    for code, cible in zip(anc["code"], anc["code_commune"], strict=True):
        mapping.setdefault(code, cible)
    return mapping
