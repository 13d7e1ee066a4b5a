"""Référentiel sur les contours réels : Pas-de-Calais (COG 2018) et France métropolitaine.

La correspondance ``correspondance-communes-62-geo2018-cog2026.csv`` n'est qu'un oracle
de test : l'import, lui, ne s'appuie que sur le COG.
"""

from __future__ import annotations

import shutil

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from observatoire import communes, config, referentiel

PDC = ("geo", "pas-de-calais")


@pytest.fixture(scope="module")
def imported_62(tmp_path_factory):
    """Import unique du fichier du 62 ; chaque test en reçoit une copie dans son dossier."""
    from tests.conftest import shared_path

    source = shared_path(*PDC, "communes-62-pas-de-calais.geojson")
    data = tmp_path_factory.mktemp("ref62")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OBSERVATOIRE_DATA_DIR", str(data))
        config.settings.cache_clear()
        report = referentiel.import_boundaries(source, attribution="IGN – ADMIN EXPRESS COG "
                                               "2018 via gregoiredavid/france-geojson",
                                               millesime="2018")
        geo = config.settings().geo_path
    config.settings.cache_clear()
    return report, geo


@pytest.fixture
def ref62(imported_62):
    report, geo = imported_62
    target = config.settings().geo_path
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(geo, target)
    return report


@pytest.fixture(scope="module")
def oracle():
    from tests.conftest import shared_path

    return pd.read_csv(shared_path(*PDC, "correspondance-communes-62-geo2018-cog2026.csv"),
                       dtype=str)


def _shared_frame(name):
    from tests.conftest import shared_path

    return gpd.read_file(shared_path(*PDC, name)).to_crs(2154)


def test_887_current_communes_matching_the_correspondence(ref62, oracle):
    com = referentiel.load_layer()
    assert len(com) == 887 and com["code"].is_unique
    assert set(com["code"]) == set(oracle["code_cog2026"])
    expected = oracle.groupby("code_cog2026")["code_geo2018"].agg(lambda s: "|".join(sorted(s)))
    got = com.set_index("code")["codes_sources"]
    pd.testing.assert_series_equal(got.sort_index(), expected.sort_index(), check_names=False)
    # Les noms sont ceux du COG actuel (jointure sur le code, jamais sur le nom).
    names = com.set_index("code")["nom"]
    assert names["62588"] == "Montreuil-sur-Mer" and names["62486"] == "Lambres-lez-Aire"
    assert names["62447"] == "Hesdin-la-Forêt"
    assert ref62["non_rapproches"] == [] and ref62["sans_contour"] == []
    moved = {r["code_source"]: r["code_actuel"] for r in ref62["rapproches"]}
    assert moved == {"62210": "62154", "62461": "62447", "62549": "62447", "62743": "62447"}


def test_absorbed_territories_are_dissolved(ref62, oracle):
    source = _shared_frame("communes-62-pas-de-calais.geojson")
    area = source.set_index("code").area
    com = referentiel.load_layer().set_index("code")
    for current in ("62447", "62154"):
        parts = oracle.loc[oracle["code_cog2026"] == current, "code_geo2018"]
        assert len(parts) > 1
        assert com.loc[current].geometry.area == pytest.approx(area[parts].sum(), rel=1e-3)
    assert com.loc["62447"].geometry.area / 1e6 == pytest.approx(21.6, abs=0.1)
    assert com.loc["62154"].geometry.area / 1e6 == pytest.approx(27.2, abs=0.1)
    assert com.loc["62447"].geometry.area > 20 * area["62447"]


def test_arrondissements_and_departement_outline(ref62):
    arr = referentiel.load_layer("arrondissement")
    assert list(arr["code"]) == ["621", "622", "623", "624", "625", "626", "627"]
    assert dict(zip(arr["code"], arr["n_communes"], strict=True)) == \
        {"621": 357, "622": 104, "623": 74, "624": 161, "625": 89, "626": 52, "627": 50}
    outline = _shared_frame("departement-62-pas-de-calais.geojson").geometry.iloc[0]
    union = shapely.union_all(arr.geometry.values)
    assert union.symmetric_difference(outline).area / outline.area < 0.005
    # Les arrondissements du fichier sont codés 62001…62007 (INSEE 621…627).
    theirs = _shared_frame("arrondissements-62-pas-de-calais.geojson")
    theirs["code"] = theirs["code"].str[:2] + theirs["code"].str[-1]
    theirs = theirs.set_index("code").geometry
    for row in arr.itertuples():
        assert row.geometry.symmetric_difference(theirs[row.code]).area \
            / theirs[row.code].area < 0.005, row.code
    dep = referentiel.load_layer("departement")
    assert dep.iloc[0].geometry.symmetric_difference(outline).area / outline.area < 0.005


def test_each_commune_in_exactly_one_arrondissement_and_one_epci(ref62):
    com = referentiel.load_layer()
    assert (com["epci"] != "").all() and (com["arrondissement"] != "").all()
    points = gpd.GeoDataFrame(com[["code", "epci", "arrondissement"]],
                              geometry=com.representative_point(), crs=com.crs)
    for niveau in ("epci", "arrondissement"):
        layer = referentiel.load_layer(niveau)
        hits = gpd.sjoin(points, layer[["code", "geometry"]].rename(columns={"code": "zone"}),
                         predicate="within")
        assert hits["code"].value_counts().max() == 1 and len(hits) == len(com), niveau
        assert (hits[niveau] == hits["zone"]).all(), niveau
        assert layer.area.sum() == pytest.approx(com.area.sum(), rel=1e-9)


def test_populations_sum_to_cog_total(ref62):
    total = int(communes.load_communes("62")["population"].sum())
    assert referentiel.load_layer()["population"].sum() == total
    for niveau in ("arrondissement", "departement"):
        assert referentiel.load_layer(niveau)["population"].sum() == total
    # Un EPCI à cheval sur deux départements n'est compté ici que pour sa partie du 62.
    assert referentiel.load_layer("epci")["population"].sum() == total
    assert referentiel.load_layer("departement")["population"].iloc[0] == total


def test_web_geometry_is_a_valid_coverage(ref62):
    web = referentiel.load_layer(web=True)
    full = referentiel.load_layer()
    geoms = web.geometry.values
    assert shapely.is_valid(geoms).all()
    assert shapely.coverage_is_valid(geoms)
    assert len(shapely.coverage_invalid_edges(geoms)[~shapely.is_empty(
        shapely.coverage_invalid_edges(geoms))]) == 0
    # Pas de chevauchement : somme des aires = aire de l'union ; pas de trou créé : même
    # nombre d'anneaux intérieurs que l'original.
    union = shapely.union_all(geoms)
    assert shapely.area(geoms).sum() == pytest.approx(union.area, rel=1e-9)
    original = shapely.union_all(full.geometry.values)
    assert shapely.get_num_interior_rings(shapely.get_parts(union)).sum() == \
        shapely.get_num_interior_rings(shapely.get_parts(original)).sum()
    assert union.symmetric_difference(original).area / original.area < 0.01
    assert shapely.get_num_coordinates(geoms).sum() < \
        shapely.get_num_coordinates(full.geometry.values).sum()
    # Les niveaux web sont dissous depuis les communes simplifiées : mêmes frontières.
    arr = referentiel.load_layer("arrondissement", web=True)
    assert shapely.coverage_is_valid(arr.geometry.values)
    assert arr.area.sum() == pytest.approx(union.area, rel=1e-9)


def test_summary_of_real_import(ref62):
    info = referentiel.summary()
    assert (info["communes"], info["arrondissements"], info["departements"]) == (887, 7, 1)
    assert info["epci"] == len(set(communes.load_communes("62")["epci"]))
    assert info["millesime"] == "2018"
    assert info["source"].startswith("IGN – ADMIN EXPRESS COG 2018")
    assert len(info["rapproches"]) == 4


@pytest.mark.slow
def test_national_import():
    from tests.conftest import shared_path

    path = shared_path("geo", "france", "communes-metropole-2018.gpkg")
    report = referentiel.import_boundaries(path, departement=None)
    assert report["millesime"] == "2018"
    assert len(report["rapproches"]) == 493
    assert report["non_rapproches"] == []
    assert [r["code"] for r in report["repares"]] == ["14174"]
    # Sur les 11 communes actuelles sans polygone de même code, 4 sont reconstituées
    # depuis leurs anciens codes (communes nouvelles, changement de code) ; 7 (communes rétablies
    # depuis 2018) restent sans contour et sont listées.
    missing = [r["code_actuel"] for r in report["sans_contour"]]
    assert missing == ["14666", "15031", "15035", "15047", "15171", "85165", "85212"]
    stored = referentiel.load_layer().set_index("code")  # département de la configuration
    assert len(stored) == 887
    full = gpd.read_file(config.settings().geo_path, layer="communes").set_index("code")
    assert len(full) == 35228 - 493 + 4
    for code in ("12218", "14581", "49126", "69114"):
        assert code not in full.loc[code, "codes_sources"].split("|")
    assert full.loc["14174"].geometry.is_valid
    assert report["couverture"]["web"]["valide"]
    assert report["departements"] == 96
    metro = communes.load_communes(None)
    metro = metro[metro["departement"].str.len() == 2]
    assert full["population"].sum() == metro["population"].sum() - int(
        metro.set_index("code_insee").loc[missing, "population"].sum())
    assert np.isclose(full.area.sum(), gpd.read_file(config.settings().geo_path,
                                                     layer="departements").area.sum())
