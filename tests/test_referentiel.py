"""Référentiel géographique sur de petites communes carrées (EPSG:2154)."""

from __future__ import annotations

import hashlib
import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from shapely.geometry import LineString, Polygon, box

from observatoire import communes, config, referentiel
from observatoire.errors import ReferentielAbsentError, ReferentielInvalideError
from observatoire.referentiel import lecture, niveaux, rapprochement, stockage
from tests.conftest import run_cli

X0, Y0 = 650_000, 7_000_000


def square(i, j, size=1000):
    return box(X0 + i * size, Y0 + j * size, X0 + (i + 1) * size, Y0 + (j + 1) * size)


@pytest.fixture
def grid() -> gpd.GeoDataFrame:
    """Six carrés de 1 km aux codes réels du 62, dont des communes fusionnées depuis.

    Colonne 0 : 62154 Bonnières et 62210 Canteleux (absorbée en 2019).
    Colonne 1 : 62447 Hesdin et 62461 Huby-Saint-Leu (déléguée de Hesdin-la-Forêt).
    Colonne 2 : 62001 Ablain-Saint-Nazaire et 62999 (code inconnu du COG).
    """
    cells = {"62154": (0, 0), "62210": (0, 1), "62447": (1, 0), "62461": (1, 1),
             "62001": (2, 0), "62999": (2, 1)}
    return gpd.GeoDataFrame({"code": list(cells), "nom": [f"C{c}" for c in cells]},
                            geometry=[square(*ij) for ij in cells.values()], crs="EPSG:2154")


def write(gdf, path, **kwargs):
    pyogrio.write_dataframe(gdf, path, **kwargs)
    return path


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- import et rapprochement ------------------------------------------------------------

def test_import_reconciles_merged_communes(grid, tmp_path):
    report = referentiel.import_boundaries(write(grid, tmp_path / "contours.gpkg"))
    com = referentiel.load_layer()
    assert sorted(com["code"]) == ["62001", "62154", "62447"]
    assert com.crs.to_epsg() == 2154
    areas = dict(zip(com["code"], com.area.round(), strict=True))
    # Les territoires absorbés sont dissous dans la commune actuelle, jamais perdus.
    assert areas == {"62001": 1e6, "62154": 2e6, "62447": 2e6}
    assert com.set_index("code").loc["62447", "nom"] == "Hesdin-la-Forêt"
    assert com.set_index("code").loc["62447", "codes_sources"] == "62447|62461"
    moved = {r["code_source"]: (r["code_actuel"], r["statut"]) for r in report["rapproches"]}
    assert moved == {"62210": ("62154", "ancien_code"), "62461": ("62447", "deleguee")}
    # Le code inconnu est listé, avec une proposition à confirmer, et non dissous.
    (orphan,) = report["non_rapproches"]
    assert orphan["code_source"] == "62999"
    assert orphan["statut"] == "proposition"
    assert orphan["proposition"] in {"62001", "62447"}
    assert "à confirmer" in orphan["detail"]
    n_62 = len(communes.load_communes("62"))
    assert len(report["sans_contour"]) == n_62 - 3
    assert report["communes"] == 3 and report["departements"] == 1


def test_unresolved_enclave_proposes_surrounding_commune(tmp_path):
    outer = square(0, 0, 3000).difference(square(1, 1))
    gdf = gpd.GeoDataFrame({"code": ["62001", "62998"]}, geometry=[outer, square(1, 1)],
                           crs="EPSG:2154")
    report = referentiel.import_boundaries(write(gdf, tmp_path / "enclave.gpkg"))
    (orphan,) = report["non_rapproches"]
    assert orphan["proposition"] == "62001"
    assert "100 % de son contour" in orphan["detail"].replace("100%", "100 %")
    assert len(referentiel.load_layer()) == 1
    kept = pyogrio.read_dataframe(config.settings().geo_path, layer="non_rapproches")
    assert list(kept["code_source"]) == ["62998"] and kept.area.iloc[0] == pytest.approx(1e6)


def test_unresolved_overlap_proposes_largest_overlap():
    current = gpd.GeoDataFrame({"code": ["A", "B"]}, geometry=[square(0, 0), square(1, 0)],
                               crs="EPSG:2154")
    old = gpd.GeoDataFrame(geometry=[box(X0 + 200, Y0, X0 + 1100, Y0 + 1000)], crs="EPSG:2154")
    prop = rapprochement.propose(old, current).iloc[0]
    assert prop["proposition"] == "A" and prop["methode"] == "recouvrement"
    assert prop["part"] == pytest.approx(800 / 900)
    far = gpd.GeoDataFrame(geometry=[square(10, 10)], crs="EPSG:2154")
    assert rapprochement.propose(far, current).iloc[0]["proposition"] is None


def test_accept_proposals_dissolves_orphan(grid, tmp_path):
    report = referentiel.import_boundaries(write(grid, tmp_path / "c.gpkg"),
                                           accept_proposals=True)
    assert report["non_rapproches"] == []
    com = referentiel.load_layer().set_index("code")
    target = next(r["code_actuel"] for r in report["rapproches"] if r["code_source"] == "62999")
    assert com.loc[target].geometry.area == pytest.approx(2e6)
    assert "62999" in com.loc[target, "codes_sources"]


def test_geojson_lonlat_is_reprojected_and_joined_on_code_only(grid, tmp_path):
    wrong_names = grid.assign(nom="nom faux")
    path = write(wrong_names.to_crs(4326), tmp_path / "c.geojson", driver="GeoJSON")
    referentiel.import_boundaries(path)
    com = referentiel.load_layer()
    assert com.crs.to_epsg() == 2154
    np.testing.assert_allclose(com.total_bounds, [X0, Y0, X0 + 3000, Y0 + 2000], atol=0.01)
    assert "nom faux" not in set(com["nom"])


def test_admin_express_directory_layout(grid, tmp_path):
    folder = tmp_path / "ADMIN-EXPRESS-COG_2-0__SHP__FRA_2018-04-03" / "1_DONNEES_LIVRAISON"
    folder.mkdir(parents=True)
    ae = grid.rename(columns={"code": "INSEE_COM", "nom": "NOM"}).assign(
        INSEE_DEP="62", ID=[f"COMMUNE_{i}" for i in range(len(grid))])
    write(ae, folder / "COMMUNE.shp")
    write(ae.dissolve(), folder / "DEPARTEMENT.shp")
    report = referentiel.import_boundaries(tmp_path / "ADMIN-EXPRESS-COG_2-0__SHP__FRA_2018-04-03")
    assert report["millesime"] == "2018"
    assert report["source"] == "IGN – ADMIN EXPRESS COG 2018"
    assert report["communes"] == 3
    assert referentiel.summary()["source"] == "IGN – ADMIN EXPRESS COG 2018"


def test_geopackage_with_several_layers_needs_layer(grid, tmp_path):
    path = write(grid, tmp_path / "multi.gpkg", layer="autre")
    write(grid, path, layer="limites")
    with pytest.raises(ReferentielInvalideError, match="plusieurs couches.*--couche"):
        referentiel.import_boundaries(path)
    with pytest.raises(ReferentielInvalideError, match="pas de couche « x »"):
        referentiel.import_boundaries(path, layer="x")
    assert referentiel.import_boundaries(path, layer="LIMITES")["couche"] == "limites"


@pytest.mark.parametrize("column", ["INSEE_COM", "insee_com", "code_insee", "CODGEO", "com"])
def test_code_column_detected_case_insensitively(grid, tmp_path, column):
    path = write(grid.rename(columns={"code": column}), tmp_path / "c.gpkg")
    report = referentiel.import_boundaries(path)
    assert report["communes"] == 3


def test_code_column_option_and_wrong_candidate(grid, tmp_path):
    # Une colonne « code » qui ne contient pas de codes INSEE n'est pas retenue.
    gdf = grid.rename(columns={"code": "identifiant"}).assign(code="x")
    path = write(gdf, tmp_path / "c.gpkg")
    with pytest.raises(ReferentielInvalideError, match="leurs valeurs ne sont pas des codes"):
        referentiel.import_boundaries(path)
    assert referentiel.import_boundaries(path, code_column="identifiant")["communes"] == 3


def test_normalize_codes():
    got = lecture.normalize_codes(pd.Series(["1001", "2a004", " 62001 ", "1001.0", None]))
    assert list(got) == ["01001", "2A004", "62001", "01001", None]


def test_invalid_geometry_is_repaired_and_reported(grid, tmp_path):
    bowtie = Polygon([(X0 + 2000, Y0), (X0 + 3000, Y0 + 1000), (X0 + 3000, Y0),
                      (X0 + 2000, Y0 + 1000)])
    gdf = grid.copy()
    gdf.loc[gdf["code"] == "62001", "geometry"] = bowtie
    report = referentiel.import_boundaries(write(gdf, tmp_path / "c.gpkg"))
    assert [r["code"] for r in report["repares"]] == ["62001"]
    assert "Self-intersection" in report["repares"][0]["raison"]
    com = referentiel.load_layer().set_index("code")
    assert com.loc["62001"].geometry.is_valid
    assert com.loc["62001"].geometry.area == pytest.approx(5e5)
    assert referentiel.summary()["repares"][0]["code"] == "62001"


def test_repair_keeps_polygons_only():
    gdf = gpd.GeoDataFrame({"code_source": ["a", "b"]},
                           geometry=[Polygon([(0, 0), (1, 1), (1, 0), (0, 1)]),
                                     Polygon([(0, 0), (1, 0), (2, 0), (0, 0)])])
    fixed, repares, vides = lecture.repair(gdf)
    assert [r["code"] for r in repares] == ["a", "b"]
    assert vides == ["b"]  # une surface nulle ne devient pas une ligne stockée
    assert list(fixed.geom_type) == ["MultiPolygon"]
    assert len(gdf) == 2  # l'entrée n'est pas modifiée


# --- niveaux et géométrie web -----------------------------------------------------------

def test_levels_dissolve_squares(square_communes):
    epci = niveaux.dissolve_level(square_communes, "epci", coverage=True)
    assert list(epci["code"]) == ["E1", "E2"]
    assert list(epci["population"]) == [3000, 7000]
    assert list(epci["n_communes"]) == [2, 2]
    assert epci.area.tolist() == pytest.approx([2e6, 2e6])
    dep = niveaux.dissolve_level(square_communes, "departement")
    assert dep.iloc[0].geometry.equals(box(X0, Y0, X0 + 2000, Y0 + 2000))


def _wiggly_coverage():
    """Deux communes dont la frontière commune a 200 petits zigzags, plus une troisième."""
    xs = np.linspace(0, 2000, 201)
    ys = 1000 + 15 * np.sin(xs / 7)
    edge = list(zip(X0 + xs, Y0 + ys, strict=True))
    south = Polygon([(X0, Y0), (X0 + 2000, Y0), *edge[::-1]])
    north = Polygon([*edge, (X0 + 2000, Y0 + 2000), (X0, Y0 + 2000)])
    # La couverture doit être « nouée » : l'est reprend le sommet où finit la frontière.
    east = Polygon([(X0 + 2000, Y0), (X0 + 3000, Y0), (X0 + 3000, Y0 + 2000),
                    (X0 + 2000, Y0 + 2000), edge[-1]])
    return np.array([south, north, east], dtype=object)


def test_coverage_simplification_keeps_shared_edges():
    geoms = _wiggly_coverage()
    assert niveaux.coverage_check(geoms)["valide"]
    simple = niveaux.simplify_coverage(geoms, tolerance=40)
    assert shapely.get_num_coordinates(simple).sum() < shapely.get_num_coordinates(geoms).sum() / 3
    check = niveaux.coverage_check(simple)
    assert check == {"valide": True, "polygones_invalides": 0, "aretes_incoherentes": 0}
    # Ni trou ni chevauchement : l'union garde la surface et la somme des aires aussi.
    assert shapely.union_all(simple).area == pytest.approx(6e6, rel=1e-9)
    assert shapely.area(simple).sum() == pytest.approx(6e6, rel=1e-9)


def test_coverage_check_detects_overlap():
    geoms = np.array([square(0, 0), box(X0 + 900, Y0, X0 + 2000, Y0 + 1000)], dtype=object)
    check = niveaux.coverage_check(geoms)
    assert not check["valide"] and check["aretes_incoherentes"] == 2


def test_import_stores_all_layers_with_valid_web_coverage(tmp_path):
    geoms = _wiggly_coverage()
    gdf = gpd.GeoDataFrame({"code": ["62001", "62002", "62003"]}, geometry=geoms,
                           crs="EPSG:2154")
    report = referentiel.import_boundaries(write(gdf, tmp_path / "c.gpkg"))
    assert report["couverture"]["web"]["valide"]
    layers = {str(n) for n, _ in pyogrio.list_layers(config.settings().geo_path)}
    assert set(stockage.SPATIAL_LAYERS) | {"non_rapproches", "rapprochement",
                                            "metadonnees"} <= layers
    web = referentiel.load_layer(web=True)
    full = referentiel.load_layer()
    assert list(web["code"]) == list(full["code"])
    assert shapely.coverage_is_valid(web.geometry.values)
    assert shapely.get_num_coordinates(web.geometry.values).sum() < \
        shapely.get_num_coordinates(full.geometry.values).sum()
    for niveau in ("epci", "arrondissement", "departement"):
        assert shapely.is_valid(referentiel.load_layer(niveau, web=True).geometry.values).all()


def test_load_layer_columns_and_populations(grid, tmp_path):
    referentiel.import_boundaries(write(grid, tmp_path / "c.gpkg"))
    com = referentiel.load_layer("commune")
    for col in ["code", "nom", "population", "epci", "epci_nom", "arrondissement",
                "arrondissement_nom", "departement"]:
        assert col in com
    cog = communes.load_communes("62").set_index("code_insee")
    assert com.set_index("code")["population"].to_dict() == \
        cog.loc[com["code"], "population"].to_dict()
    for niveau in ("epci", "arrondissement", "departement"):
        layer = referentiel.load_layer(niveau)
        assert {"code", "nom", "population"} <= set(layer.columns)
        assert layer.crs.to_epsg() == 2154
        assert layer["population"].sum() == com["population"].sum()
    dep = referentiel.load_layer("departement")
    assert list(dep["code"]) == ["62"] and dep["nom"].iloc[0] == "Pas-de-Calais"
    with pytest.raises(ValueError, match="niveau « region » inconnu"):
        referentiel.load_layer("region")


def test_load_layer_is_cached_and_copied(grid, tmp_path):
    referentiel.import_boundaries(write(grid, tmp_path / "c.gpkg"))
    first = referentiel.load_layer()
    first["nom"] = "modifié"
    assert "modifié" not in set(referentiel.load_layer()["nom"])
    before = stockage._read.cache_info().hits
    referentiel.load_layer()
    assert stockage._read.cache_info().hits > before
    # Un nouvel import est vu tout de suite (la date de modification est dans la clé).
    referentiel.import_boundaries(write(grid[grid["code"] != "62001"], tmp_path / "d.gpkg"))
    assert "62001" not in set(referentiel.load_layer()["code"])


def test_territory_comes_from_configuration(grid, tmp_path, monkeypatch):
    referentiel.import_boundaries(write(grid, tmp_path / "c.gpkg"))
    toml = tmp_path / "territoire.toml"
    toml.write_text('[territoire]\nnom = "Montreuil"\ndepartement = "62"\n'
                    'arrondissements = ["624"]\n', encoding="utf-8")
    monkeypatch.setenv("OBSERVATOIRE_CONFIG", str(toml))
    config.settings.cache_clear()
    com = referentiel.load_layer()
    assert list(com["code"]) == ["62447"]  # Hesdin-la-Forêt, arrondissement de Montreuil
    assert list(referentiel.load_layer("arrondissement")["code"]) == ["624"]
    assert referentiel.summary()["communes"] == 1


def test_import_for_all_france_and_other_departement(grid, tmp_path, monkeypatch):
    other = gpd.GeoDataFrame({"code": ["59350"]}, geometry=[square(5, 5)], crs="EPSG:2154")
    path = write(pd.concat([grid, other], ignore_index=True), tmp_path / "c.gpkg")
    report = referentiel.import_boundaries(path, departement=None)
    assert report["departements"] == 2 and report["departement"] is None
    # load_layer ne sert que le département configuré.
    assert "59350" not in set(referentiel.load_layer()["code"])
    toml = tmp_path / "nord.toml"
    toml.write_text('[territoire]\ndepartement = "59"\n', encoding="utf-8")
    monkeypatch.setenv("OBSERVATOIRE_CONFIG", str(toml))
    config.settings.cache_clear()
    assert list(referentiel.load_layer()["code"]) == ["59350"]
    assert list(referentiel.load_layer("departement")["nom"]) == ["Nord"]


def test_referentiel_of_another_departement_is_reported(grid, tmp_path, monkeypatch):
    referentiel.import_boundaries(write(grid, tmp_path / "c.gpkg"))
    toml = tmp_path / "nord.toml"
    toml.write_text('[territoire]\ndepartement = "59"\n', encoding="utf-8")
    monkeypatch.setenv("OBSERVATOIRE_CONFIG", str(toml))
    config.settings.cache_clear()
    with pytest.raises(ReferentielAbsentError, match="ne couvre pas le territoire"):
        referentiel.load_layer()
    info = referentiel.summary()
    assert info["charge"] is False and "département 62" in info["message"]


def test_absent_referentiel(sans_contours_livres):
    assert not referentiel.is_loaded() and referentiel.origine() is None
    with pytest.raises(ReferentielAbsentError, match="referentiel importer"):
        referentiel.load_layer()
    assert referentiel.summary()["charge"] is False


def test_detect_millesime(tmp_path):
    assert referentiel.detect_millesime(tmp_path / "communes-metropole-2018.gpkg") == "2018"
    assert referentiel.detect_millesime(tmp_path / "communes-62-pas-de-calais.geojson") is None
    assert referentiel.detect_millesime(
        tmp_path / "ADMIN-EXPRESS-COG_3-1__SHP__FRA_2022-04-15" / "COMMUNE.shp") == "2022"


# --- fichiers refusés : message clair, référentiel inchangé -----------------------------

@pytest.fixture
def stored(grid, tmp_path):
    """Un référentiel déjà importé ; renvoie son empreinte."""
    referentiel.import_boundaries(write(grid, tmp_path / "bon.gpkg"))
    return digest(config.settings().geo_path)


def _bad_files(grid, tmp_path):
    no_code = write(grid.rename(columns={"code": "identifiant"}).assign(identifiant="x"),
                    tmp_path / "sans_code.gpkg")
    csv = tmp_path / "tableau.csv"
    csv.write_text("code,nom\n62001,Ablain\n", encoding="utf-8")
    text = tmp_path / "notes.geojson"
    text.write_text("ceci n'est pas du GeoJSON", encoding="utf-8")
    empty = write(grid.iloc[:0], tmp_path / "vide.gpkg")
    lonlat_as_l93 = write(grid.to_crs(4326).set_crs(2154, allow_override=True),
                          tmp_path / "faux_scr.gpkg")
    l93_as_lonlat = write(grid.set_crs(4326, allow_override=True), tmp_path / "faux_deg.gpkg")
    no_crs = write(grid.set_crs(None, allow_override=True), tmp_path / "sans_prj.shp")
    good = grid.to_crs(4326).to_json()
    corrupt = tmp_path / "tronque.geojson"
    corrupt.write_text(good[: len(good) // 2], encoding="utf-8")
    points = write(grid.assign(geometry=grid.centroid), tmp_path / "points.gpkg")
    outside = write(gpd.GeoDataFrame({"code": ["59350"]}, geometry=[square(0, 0)],
                                     crs="EPSG:2154"), tmp_path / "nord.gpkg")
    return [
        (no_code, "aucune colonne de code INSEE"),
        (csv, "aucune géométrie"),
        (text, "pas un fichier géographique reconnu|illisible ou corrompu"),
        (empty, "est vide"),
        (lonlat_as_l93, "déclaré .*EPSG:2154.* en mètres.*degrés de longitude/latitude"),
        (l93_as_lonlat, "en degrés, mais les coordonnées .* sont en mètres"),
        (no_crs, "aucun système de coordonnées déclaré.*--scr 2154"),
        (corrupt, "illisible ou corrompu"),
        (points, "type Point, pas des polygones"),
        (outside, "aucune commune du département 62"),
        (tmp_path / "absent.gpkg", "introuvable"),
    ]


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_bad_files_leave_referentiel_unchanged(grid, tmp_path, stored):
    for path, pattern in _bad_files(grid, tmp_path):
        with pytest.raises(ReferentielInvalideError, match=pattern) as err:
            referentiel.import_boundaries(path)
        assert path.name in str(err.value)
        assert digest(config.settings().geo_path) == stored, path.name
    assert len(referentiel.load_layer()) == 3


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_scr_option_fixes_missing_crs(grid, tmp_path):
    path = write(grid.to_crs(4326).set_crs(None, allow_override=True), tmp_path / "deg.shp")
    with pytest.raises(ReferentielInvalideError, match="--scr 4326"):
        referentiel.import_boundaries(path)
    report = referentiel.import_boundaries(path, crs="4326")
    assert report["communes"] == 3
    np.testing.assert_allclose(referentiel.load_layer().total_bounds,
                               [X0, Y0, X0 + 3000, Y0 + 2000], atol=0.01)


def test_failed_write_leaves_referentiel_unchanged(grid, tmp_path, stored, monkeypatch):
    calls = {"n": 0}
    real = pyogrio.write_dataframe

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise OSError("disque plein")
        return real(*args, **kwargs)

    monkeypatch.setattr(stockage.pyogrio, "write_dataframe", flaky)
    with pytest.raises(OSError, match="disque plein"):
        referentiel.import_boundaries(write(grid.iloc[:2], tmp_path / "autre.gpkg"))
    geo = config.settings().geo_path
    assert digest(geo) == stored
    assert [p.name for p in geo.parent.iterdir()] == [geo.name]  # pas de fichier temporaire


# --- ligne de commande -----------------------------------------------------------------



def test_cli_import_and_resume(grid, tmp_path, capsys):
    path = write(grid, tmp_path / "contours-2024.gpkg")
    code, out, err = run_cli(capsys, "referentiel", "importer", str(path), "--source",
                             "IGN – ADMIN EXPRESS COG 2024")
    assert code == 0, err
    assert "communes : 3" in out
    assert "62210 C62210 → 62154 Bonnières (ancien code absorbé)" in out
    assert "62999" in out and "à confirmer" in out
    code, out, err = run_cli(capsys, "referentiel", "resume", "--json")
    data = json.loads(out)
    assert data["millesime"] == "2024"
    assert data["source"] == "IGN – ADMIN EXPRESS COG 2024"
    assert (data["communes"], data["epci"], data["arrondissements"], data["departements"]) \
        == (3, len(referentiel.load_layer("epci")), 3, 1)  # 621, 624, 627
    assert [r["code_source"] for r in data["non_rapproches"]] == ["62999"]


def test_cli_resume_without_referentiel(capsys, sans_contours_livres):
    code, out, _ = run_cli(capsys, "referentiel", "resume")
    assert code == 0 and "pas encore importés" in out


def test_simplified_contours_shipped_for_a_fresh_installation(capsys, grid, tmp_path):
    """Sans import, les contours simplifiés livrés servent ; un import les remplace."""
    assert not referentiel.is_loaded() and referentiel.origine() == "simplifie"
    communes_ = referentiel.load_layer("commune")
    assert len(communes_) == 887 and communes_.crs.to_epsg() == 2154
    assert communes_["code"].is_unique and set(communes_["arrondissement"]) == {
        "621", "622", "623", "624", "625", "626", "627"}
    assert len(referentiel.load_layer("arrondissement", web=True)) == 7
    assert len(referentiel.load_layer("departement")) == 1
    # Hesdin-la-Forêt (commune nouvelle de 2025) couvre ses anciennes communes.
    hesdin = communes_.set_index("code").loc["62447"]
    assert hesdin["nom"] == "Hesdin-la-Forêt" and hesdin.geometry.area > 15e6
    info = referentiel.summary()
    assert info["charge"] and info["simplifie"] and info["communes"] == 887
    assert "ADMIN EXPRESS" in info["source"] and "simplifiés" in info["source"]
    assert "Licence Ouverte" in info["licence"]
    code, out, _ = run_cli(capsys, "referentiel", "resume")
    assert code == 0 and "contours simplifiés" in out.lower()
    # Importer les contours officiels remplace la couche livrée.
    referentiel.import_boundaries(write(grid, tmp_path / "officiels.gpkg"))
    assert referentiel.origine() == "importe" and referentiel.summary()["simplifie"] is False


def test_shipped_layer_is_small_derived_and_documented():
    from observatoire.referentiel import simplifies

    path = simplifies.chemin("62")
    assert path.stat().st_size < 400_000  # couche web dérivée, pas le fichier d'origine
    meta = simplifies.metadonnees("62")
    assert meta["communes"] == 887 and meta["polygones_source"] == 891
    assert meta["licence"].startswith("Licence Ouverte") and meta["sha256_source"]
    source = simplifies.chemin_source("62").read_text(encoding="utf-8")
    assert "ADMIN EXPRESS" in source and "Licence Ouverte" in source
    assert "generer_contours_simplifies.py" in source


def test_cli_error_is_french_without_traceback(tmp_path, capsys):
    bad = tmp_path / "tableau.csv"
    bad.write_text("code,nom\n62001,x\n", encoding="utf-8")
    code, out, err = run_cli(capsys, "referentiel", "importer", str(bad))
    assert code == 1
    assert err.startswith("Erreur : Fichier de contours « tableau.csv »")
    assert "Traceback" not in err


def test_line_geometry_is_not_commune(tmp_path):
    gdf = gpd.GeoDataFrame({"code": ["62001"]}, geometry=[LineString([(X0, Y0), (X0 + 1, Y0)])],
                           crs="EPSG:2154")
    with pytest.raises(ReferentielInvalideError, match="LineString"):
        referentiel.import_boundaries(write(gdf, tmp_path / "lignes.gpkg"))


def test_zip_archive_read_without_extraction(grid, tmp_path):
    import zipfile

    folder = tmp_path / "ae" / "ADECOG_3-1_SHP_LAMB93_FXX"
    folder.mkdir(parents=True)
    ae = grid.rename(columns={"code": "INSEE_COM", "nom": "NOM"})
    write(ae, folder / "COMMUNE.shp")
    write(ae.dissolve(), folder / "DEPARTEMENT.shp")
    archive = tmp_path / "ADMIN-EXPRESS-COG_2021.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in folder.iterdir():
            zf.write(f, f"ADECOG/{f.name}")
    report = referentiel.import_boundaries(archive)
    assert report["communes"] == 3 and report["millesime"] == "2021"
    assert report["fichier"] == "ADMIN-EXPRESS-COG_2021.zip (COMMUNE.shp)"
    bad = tmp_path / "casse.zip"
    bad.write_bytes(b"PK\x03\x04 pas une archive")
    with pytest.raises(ReferentielInvalideError, match="« casse.zip » : archive zip corrompue"):
        referentiel.import_boundaries(bad)
    seven = tmp_path / "ADMIN-EXPRESS.7z"
    seven.write_bytes(b"7z")
    with pytest.raises(ReferentielInvalideError, match="archive 7z.*extrayez-la"):
        referentiel.import_boundaries(seven)


def test_recent_admin_express_geopackage_layout(grid, tmp_path):
    ae = grid.rename(columns={"code": "code_insee", "nom": "nom_officiel"}).assign(
        code_insee_du_departement="62", code_siren="2000")
    path = write(ae, tmp_path / "ADE-COG_4-0_GPKG_LAMB93_FXX-ED2025-01-01.gpkg",
                 layer="commune")
    write(ae.dissolve(), path, layer="departement")
    report = referentiel.import_boundaries(path)
    assert report["couche"] == "commune"
    assert report["source"] == "IGN – ADMIN EXPRESS COG 2025"
    assert report["communes"] == 3


def test_invalid_code_is_listed_with_proposal(grid, tmp_path):
    gdf = grid.copy()
    gdf.loc[gdf["code"] == "62999", "code"] = "Z-12"
    lost = gpd.GeoDataFrame({"code": ["n/a"]}, geometry=[square(20, 20)], crs="EPSG:2154")
    path = write(pd.concat([gdf, lost], ignore_index=True), tmp_path / "c.gpkg")
    report = referentiel.import_boundaries(path)
    rows = {r["code_source"]: r for r in report["non_rapproches"]}
    assert set(rows) == {"Z-12", "N/A"}
    assert rows["Z-12"]["statut"] == "code_invalide"
    assert rows["Z-12"]["proposition"] in {"62001", "62447"}
    assert rows["N/A"]["proposition"] is None
    assert "pas un code INSEE" in rows["N/A"]["detail"]
    table = referentiel.report_frame()
    assert set(table.loc[table["statut"] == "code_invalide", "code_source"]) == {"Z-12", "N/A"}


def test_cache_sees_import_from_another_process(grid, tmp_path):
    import subprocess
    import sys

    referentiel.import_boundaries(write(grid, tmp_path / "c.gpkg"))
    assert len(referentiel.load_layer()) == 3
    other = write(grid[grid["code"] == "62001"], tmp_path / "d.gpkg")
    subprocess.run([sys.executable, "-m", "observatoire", "referentiel", "importer",
                    str(other)], check=True, capture_output=True)
    assert list(referentiel.load_layer()["code"]) == ["62001"]
