import json

import folium
import geopandas as gpd
import pandas as pd
import pytest
import shapely
from shapely.geometry import box

from observatoire import classification as cl
from observatoire import maps
from tests.conftest import shared_path


@pytest.fixture
def communes(square_communes):
    return square_communes.rename(columns={"code_insee": "code"})


def test_topology_shares_arcs_and_roundtrips(communes):
    topo = maps.encode_topology(communes, {"n": "nom", "e": "epci"}, meshes=("epci",))
    assert topo["type"] == "Topology"
    geoms = topo["objects"]["communes"]["geometries"]
    assert [g["id"] for g in geoms] == ["99001", "99002", "99003", "99004"]
    assert geoms[1]["properties"] == {"n": "Bêta", "e": "E1"}
    # 2 × 2 carrés : 4 côtés intérieurs partagés + 4 morceaux de bord = 8 arcs, pas 16.
    assert len(topo["arcs"]) == 8
    back = maps.decode_topology(topo).to_crs(2154)
    for a, b in zip(back.geometry, communes.geometry, strict=True):
        assert a.symmetric_difference(b).area / b.area < 0.01
    assert shapely.coverage_is_valid(back.geometry.values)


def test_meshes(communes):
    topo = maps.encode_topology(communes, {"n": "nom"}, meshes=("epci", "arrondissement"))
    arcs_used = {}
    for g in topo["objects"]["communes"]["geometries"]:
        for ring in g["arcs"]:
            for i in ring:
                arcs_used.setdefault(i if i >= 0 else ~i, set()).add(g["id"])
    contour = set(topo["meshes"]["contour"])
    assert contour == {i for i, u in arcs_used.items() if len(u) == 1}
    # E1 = 99001, 99002 (bas) ; E2 = 99003, 99004 (haut) : la limite est l'horizontale.
    inner_epci = set(topo["meshes"]["epci"]) - contour
    assert {frozenset(arcs_used[i]) for i in inner_epci} == {
        frozenset({"99001", "99003"}), frozenset({"99002", "99004"})}
    assert set(topo["meshes"]["arrondissement"]) == contour


def test_topology_errors(communes):
    with pytest.raises(ValueError, match="Colonnes absentes.*'population_f'"):
        maps.encode_topology(communes, {"p": "population_f"})
    with pytest.raises(ValueError, match="quantization doit valoir au moins 2"):
        maps.encode_topology(communes, {"n": "nom"}, quantization=1)


def test_enclosed_commune_ring_is_shared():
    outer = box(0, 0, 3000, 3000).difference(box(1000, 1000, 2000, 2000))
    gdf = gpd.GeoDataFrame({"code": ["1", "2"], "nom": ["Autour", "Dedans"]},
                           geometry=[outer, box(1000, 1000, 2000, 2000)], crs=2154)
    gdf = gdf.set_geometry(gdf.geometry.translate(650_000, 6_800_000))
    topo = maps.encode_topology(gdf, {"n": "nom"})
    # L'anneau commun n'a aucune jonction : il doit quand même n'être écrit qu'une fois.
    assert len(topo["arcs"]) == 2
    back = maps.decode_topology(topo).to_crs(2154)
    assert back.geometry.iloc[0].area == pytest.approx(8e6, rel=0.01)


def _table():
    return pd.DataFrame({
        "code": ["99001", "99002", "99003", "99004"], "nom": ["Alpha", "Bêta", "Gamma", "Delta"],
        "observe": pd.array([0, pd.NA, 12, 40], dtype="Int64"),
        "taux": [0.0, float("nan"), 4.0, 10.0], "taux_lisse": [0.5, float("nan"), 3.9, 9.0],
        "ratio": [0.0, float("nan"), 0.9, 2.5],
        "label": ["blanche présumée", "non concluant", "non concluant", "révélatrice"],
        "secret": [False, True, False, False]})


def test_values_from_table_never_shows_secret_counts():
    table = _table()
    classes = cl.classer(table["taux"], "quantiles", 3)
    values = maps.values_from_table(table, "taux", classes)
    assert values["99002"][0] == "secret"
    assert "secret statistique" in values["99002"][1]
    assert not any(ch.isdigit() for ch in values["99002"][1].replace("1 à 4", ""))
    assert values["99001"][3] == 1 and values["99004"][3] == 0
    assert values["99004"][0] == classes.k - 1
    assert "<b>Taux : 10,0 pour 1 000 habitants</b>" in values["99004"][1]
    labels = maps.values_from_table(table, "label")
    assert labels["99004"][0] == "révélatrice"
    assert labels["99002"][0] == "non concluant"  # l'étiquette reste sous le secret
    assert "secret" in labels["99002"][1]
    ratio = maps.values_from_table(table, "ratio", cl.classer(table["ratio"], k=3))
    assert ratio["99003"][0] == "non_concluant"
    with pytest.raises(ValueError, match="Mesure « total » inconnue"):
        maps.values_from_table(table, "total")


def test_build_map_is_offline_and_labelled(communes):
    topo = maps.encode_topology(communes, {"n": "nom", "e": "epci", "a": "arrondissement"},
                                meshes=("epci",))
    table = _table()
    classes = cl.classer(table["taux"], "quantiles", 3)
    legend = maps.legend_html("Taux 2024", [*classes.styles(), cl.STYLE_SECRET],
                              subtitle="pour 1 000 habitants", demo=True)
    disp = pd.DataFrame({"type": ["accueil_de_jour"], "nom": ["Accueil <b>A</b>"],
                         "latitude": [50.4], "longitude": [2.8], "adresse": [None],
                         "commune": ["Arras"], "capacite": [pd.NA], "localisation": ["commune"],
                         "source": ["Plan cadre"]})
    refs = pd.DataFrame({"code_insee": ["99001", "99003"], "forme": [True, False],
                         "nom_referent": ["Jeanne Secrète", "Paul Caché"]})
    m = maps.build_map(
        topo, maps.values_from_table(table, "taux", classes), palette=classes.couleurs,
        legend=legend, meshes=[{"name": "Limites des EPCI", "mesh": "epci"}],
        dispositifs=maps.dispositifs_layers(disp, {"accueil_de_jour": "Accueil de jour"}),
        referents=maps.referents_layer(communes, refs))
    page = m.get_root().render()
    assert maps.external_resources(page) == []
    assert '/app/static/leaflet/leaflet.js' in page
    assert "Observatoire.build" in page and "Taux 2024" in page
    assert "Données fictives de démonstration" in page
    assert "motif-croisillons" in page  # hachures du secret
    assert "Accueil &lt;b&gt;A&lt;/b&gt;" in page
    assert "placé au centre de la commune" in page
    assert "Secrète" not in page and "Caché" not in page
    assert "tile.openstreetmap.org" not in page
    osm = maps.build_map(topo, {}, palette=[], osm=True).get_root().render()
    assert "tile.openstreetmap.org" in osm


def test_standalone_html_inlines_everything(communes):
    topo = maps.encode_topology(communes, {"n": "nom"})
    page = maps.standalone_html(maps.build_map(topo, {}, palette=["#ffffff"]))
    assert maps.external_resources(page) == []
    assert "/app/static/" not in page
    assert "L.Control.Search" in page and "markerClusterGroup" in page
    assert "url(data:image/png;base64," in page


def test_legend_html_escapes_and_labels():
    html = maps.legend_html("A & B", [cl.STYLE_SECRET, ("rond plein", "référent formé"),
                                      cl.STYLE_LIMITE_EPCI], notes=["<x>"])
    assert "A &amp; B" in html and "&lt;x&gt;" in html
    assert "secret statistique" in html and "référent formé" in html
    assert 'pattern id="lg-croisillons"' in html


def test_real_layer_is_a_third_of_naive_geojson():
    path = shared_path("geo", "pas-de-calais", "communes-62-pas-de-calais.geojson")
    gdf = gpd.read_file(path)
    naive = folium.Map()
    folium.GeoJson(gdf).add_to(naive)
    naive_bytes = len(naive.get_root().render().encode())
    topo = maps.encode_topology(gdf.to_crs(2154), {"n": "nom"})
    ours = len(maps.topology_json(topo).encode())
    assert ours <= naive_bytes / 3, (ours, naive_bytes)
    assert len(topo["objects"]["communes"]["geometries"]) == len(gdf)
    json.loads(maps.topology_json(topo))


def test_legend_for_map_has_every_symbol_spelled_out(communes):
    disp = pd.DataFrame({"type": ["accueil_de_jour", "ctv2s", "uaped"],
                         "nom": ["AJ 1", "Cellule", "Unité"], "latitude": [50.4, 50.5, 50.6],
                         "longitude": [2.8, 2.7, 2.6]})
    groups = maps.dispositifs_layers(disp, {"accueil_de_jour": "Accueil de jour",
                                            "ctv2s": "Cellule violences sexuelles",
                                            "uaped": "Unité pédiatrique"})
    refs = maps.referents_layer(communes, pd.DataFrame({"code_insee": ["99001", "99003"],
                                                        "forme": [True, False]}))
    assert refs["show"] is False  # discrets, éteints par défaut
    html = maps.legend_for_map(
        "Titre", "sous-titre", [cl.Style("de 1 à 2", "#ffffff")], etats=[cl.STYLE_SECRET],
        blanches=True, meshes=[{"mesh": "epci"}, {"mesh": "arrondissement"}],
        dispositifs=groups, referents=refs)
    for abbr, lib in (("AJ", "Accueil de jour"), ("VSS", "Cellule violences sexuelles"),
                      ("UAPED", "Unité pédiatrique")):
        assert f">{abbr}</span><span>{lib}" in html
    assert 'data-couche="referents"' in html and "référent VIF formé" in html
    assert "limite d&#x27;EPCI" in html and "limite d&#x27;arrondissement" in html
    assert "zone blanche présumée" in html and "plusieurs dispositifs proches" in html
    assert html.count("</li>") == 1 + 1 + 1 + 2 + 3 + 1 + 2


def test_resume_carte_reads_the_map_in_sentences():
    table = _table()
    classes = cl.classer_table(table, "taux", k=3)
    text = maps.resume_carte(table, "taux", classes, "Taux 2024")
    assert text.startswith("Carte : Taux 2024.")
    assert f"{len(table)} communes" in text and "sous le secret statistique" in text
    assert "Valeurs les plus élevées" in text
    tout_secret = maps.resume_carte(table.assign(secret=True), "taux")
    assert "0 avec une valeur publiée, 4 sous le secret statistique" in tout_secret
    assert "Valeurs les plus élevées" not in tout_secret


def test_standalone_page_is_french_and_titled(communes):
    topo = maps.encode_topology(communes, {"n": "nom"})
    page = maps.standalone_html(maps.build_map(topo, {}, palette=["#ffffff"]), titre="Carte X")
    assert page.startswith('<!DOCTYPE html>\n<html lang="fr">')
    assert "<title>Carte X</title>" in page
    js = (maps.STATIC_DIR / "observatoire" / "carte.js").read_text(encoding="utf-8")
    for francais in ("zoomInTitle", "couches", "fullscreenElement", "enterFullscreen"):
        assert francais in js
    noms = maps.NOMS
    assert noms["zoom_avant"] == "Zoom avant" and "Couches" in noms["couches"]
