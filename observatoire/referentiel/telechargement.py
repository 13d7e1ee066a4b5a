"""Téléchargement des contours officiels (geo.api.gouv.fr), puis import ordinaire."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

import requests

from observatoire.errors import ObservatoireError

#: API Découpage administratif (Etalab) : contours des communes actuelles, en GeoJSON.
GEO_API_URL = "https://geo.api.gouv.fr/communes"
ATTRIBUTION = "IGN – ADMIN EXPRESS COG ; INSEE – COG ; via geo.api.gouv.fr (Etalab)"


class TelechargementError(ObservatoireError):
    """Téléchargement des contours impossible (hors ligne, service indisponible)."""


def fetch_geojson(departement: str, timeout: float = 60) -> bytes:
    """Contours des communes actuelles d'un département, en GeoJSON (octets).

    Parameters
    ----------
    departement : str
        Code du département (« 62 », « 2A », « 974 »).
    timeout : float
        Délai maximal (s) de la requête.

    Returns
    -------
    bytes

    Raises
    ------
    TelechargementError
        Pas d'accès à internet, service indisponible ou réponse vide.
    """
    params = {"codeDepartement": departement, "format": "geojson", "geometry": "contour",
              "fields": "code,nom,codeDepartement"}
    try:
        resp = requests.get(GEO_API_URL, params=params, timeout=timeout)
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise TelechargementError(
            f"Téléchargement des contours du département {departement} impossible : "
            f"{GEO_API_URL} est injoignable (machine hors ligne ou réseau filtré). Importez "
            "plutôt un fichier : « observatoire referentiel importer CHEMIN » (IGN ADMIN "
            "EXPRESS, contours Etalab ou GeoJSON).") from exc
    except requests.RequestException as exc:
        raise TelechargementError(
            f"Téléchargement des contours du département {departement} impossible : "
            f"{exc.__class__.__name__}. Réessayez plus tard ou importez un fichier "
            "(« observatoire referentiel importer CHEMIN »).") from exc
    if resp.status_code != 200:
        raise TelechargementError(
            f"Le service {GEO_API_URL} a répondu {resp.status_code} pour le département "
            f"{departement}. Vérifiez le code du département ou réessayez plus tard.")
    if b'"features":[]' in resp.content.replace(b" ", b"") or not resp.content.strip():
        raise TelechargementError(
            f"Le service {GEO_API_URL} ne connaît aucune commune pour le département "
            f"« {departement} ». Vérifiez le code (par exemple 62, 2A, 974).")
    return resp.content


def download_boundaries(departement: str, timeout: float = 60, **kwargs) -> dict:
    """Télécharge les contours d'un département et les importe.

    Parameters
    ----------
    departement : str
        Code du département.
    timeout : float
        Délai maximal (s) de la requête.
    **kwargs
        Passés à :func:`observatoire.referentiel.import_boundaries`.

    Returns
    -------
    dict
        Rapport d'import.

    Raises
    ------
    TelechargementError
        Hors ligne ou service indisponible : le référentiel stocké reste inchangé.
    """
    from observatoire.referentiel import import_boundaries

    content = fetch_geojson(departement, timeout=timeout)
    with tempfile.TemporaryDirectory(prefix="observatoire-") as tmp:
        path = Path(tmp) / f"communes-{departement}-geo-api.geojson"
        path.write_bytes(content)
        kwargs.setdefault("millesime", str(date.today().year))
        kwargs.setdefault("attribution", ATTRIBUTION)
        return import_boundaries(path, departement=departement, **kwargs)
