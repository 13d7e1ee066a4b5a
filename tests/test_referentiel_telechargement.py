"""Téléchargement des contours (geo.api.gouv.fr) : hors ligne, réponse locale, vrai réseau."""

from __future__ import annotations

import json
import socket

import geopandas as gpd
import pytest
import requests
from shapely.geometry import box

from observatoire import config, referentiel
from observatoire.cli import main as cli_main
from observatoire.referentiel import telechargement


class FakeResponse:
    def __init__(self, content: bytes, status_code: int = 200):
        self.content = content
        self.status_code = status_code


def geo_api_payload() -> bytes:
    """Réponse au format de geo.api.gouv.fr (propriétés code, nom, codeDepartement)."""
    x0, y0 = 650_000, 7_000_000
    gdf = gpd.GeoDataFrame(
        {"nom": ["Bonnières", "Hesdin-la-Forêt"], "code": ["62154", "62447"],
         "codeDepartement": ["62", "62"]},
        geometry=[box(x0, y0, x0 + 1000, y0 + 1000), box(x0 + 1000, y0, x0 + 2000, y0 + 1000)],
        crs="EPSG:2154").to_crs(4326)
    return gdf.to_json().encode()


def test_offline_message_is_french_and_leaves_nothing(monkeypatch):
    def offline(*args, **kwargs):
        raise requests.ConnectionError("Name or service not known")

    monkeypatch.setattr(telechargement.requests, "get", offline)
    with pytest.raises(telechargement.TelechargementError,
                       match="injoignable .*hors ligne.*referentiel importer"):
        referentiel.download_boundaries("62")
    assert not referentiel.is_loaded()


def test_offline_cli_exit_code(monkeypatch, capsys):
    monkeypatch.setattr(telechargement.requests, "get",
                        lambda *a, **k: (_ for _ in ()).throw(requests.Timeout("délai")))
    with pytest.raises(SystemExit) as exc:
        cli_main(["referentiel", "telecharger", "--departement", "62"])
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("Erreur : Téléchargement des contours du département 62 impossible")
    assert "Traceback" not in err


def test_download_parses_geo_api_response(monkeypatch, capsys):
    seen = {}

    def fake_get(url, params, timeout):
        seen.update(params, url=url)
        return FakeResponse(geo_api_payload())

    monkeypatch.setattr(telechargement.requests, "get", fake_get)
    cli_main(["referentiel", "telecharger", "--departement", "62", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert seen["url"] == "https://geo.api.gouv.fr/communes"
    assert seen["codeDepartement"] == "62" and seen["geometry"] == "contour"
    assert report["communes"] == 2
    assert report["source"].startswith("IGN – ADMIN EXPRESS COG")
    assert report["millesime"]
    com = referentiel.load_layer()
    assert list(com["code"]) == ["62154", "62447"]
    assert com.area.round().tolist() == [1e6, 1e6]


@pytest.mark.parametrize("status, content, pattern", [
    (404, b"", "a répondu 404"),
    (200, b'{"type": "FeatureCollection", "features": []}', "aucune commune"),
])
def test_download_bad_answers(monkeypatch, status, content, pattern):
    monkeypatch.setattr(telechargement.requests, "get",
                        lambda *a, **k: FakeResponse(content, status))
    with pytest.raises(telechargement.TelechargementError, match=pattern):
        referentiel.download_boundaries("62")


def _online() -> bool:
    try:
        socket.create_connection(("geo.api.gouv.fr", 443), timeout=3).close()
        return True
    except OSError:
        return False


@pytest.mark.web
def test_real_download_62():
    if not _online():
        pytest.skip("geo.api.gouv.fr injoignable : machine hors ligne")
    report = referentiel.download_boundaries(config.settings().departement)
    assert report["communes"] == 887
    assert report["sans_contour"] == []
