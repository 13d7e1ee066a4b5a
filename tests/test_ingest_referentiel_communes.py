"""Référentiel des communes pour la collecte : arrondissements municipaux, communes
déléguées et associées, codes préfixés, codes en deux colonnes (département + commune)."""

import re

from observatoire import communes, config, matching, ssmsi
from tests.test_ssmsi import VIF, as_dict, write


def _config_departement(tmp_path, monkeypatch, dep: str):
    text = config.DEFAULT_CONFIG.read_text(encoding="utf-8")
    text = text.replace('departement = "62"', f'departement = "{dep}"')
    text = re.sub(r"arrondissements = \[[^\]]*\]", "arrondissements = []", text)
    path = tmp_path / f"territoire-{dep}.toml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("OBSERVATOIRE_CONFIG", str(path))
    config.settings.cache_clear()


def test_arrondissements_municipaux_and_delegated_communes_map_to_their_commune():
    code_map = communes.current_code_map()
    assert code_map["75101"] == code_map["75120"] == "75056"
    assert code_map["69381"] == "69123" and code_map["13216"] == "13055"
    anc = communes.load_anciennes()
    kinds = set(anc["type"])
    assert {"deleguee", "associee", "arrondissement_municipal"} <= kinds
    assert (anc["type"] == "arrondissement_municipal").sum() == 20 + 9 + 16
    # Par le nom aussi, dans l'index national.
    index = matching.get_index(None)
    assert matching.match_commune("Lyon 3e Arrondissement", None, index).code_insee == "69123"
    assert matching.match_commune("69383", None, index).code_insee == "69123"
    assert matching.match_commune("Marconne", None, index).code_insee == "62447"


def test_ssmsi_arrondissements_not_counted_twice(tmp_path, monkeypatch):
    _config_departement(tmp_path, monkeypatch, "69")
    rows = [("69123", 2023, "vif", "diff", 500), ("69381", 2023, "vif", "diff", 40),
            ("69382", 2023, "vif", "diff", 60),
            # Une année sans la ligne de la commune : les arrondissements lui sont rattachés.
            ("69381", 2022, "vif", "diff", 30), ("69382", 2022, "vif", "diff", 20),
            ("69001", 2023, "vif", "diff", 3), ("69001", 2022, "vif", "diff", 2)]
    data = ssmsi.read_ssmsi(write(tmp_path, "old", rows), departement="69")
    assert data.report.ok, data.report.to_text()
    assert as_dict(data.values[2023], VIF)["69123"] == 500
    assert as_dict(data.values[2022], VIF)["69123"] == 50
    for year in (2022, 2023):
        assert data.values[year]["code_insee"].notna().all()  # rien en non localisé
    warn = [w for w in data.report.avertissements if w.code == "arrondissements_municipaux"]
    assert len(warn) == 1 and "69381" in warn[0].message and "deux fois" in warn[0].message


def test_boundary_file_with_prefixed_codes_imports(tmp_path):
    import geopandas as gpd
    import pyogrio
    from shapely.geometry import box

    from observatoire import referentiel

    x0, y0 = 650_000, 7_000_000
    codes = ["COM62154", "COM62210", "com62447"]
    gdf = gpd.GeoDataFrame({"INSEE_COM": codes, "nom": ["a", "b", "c"]},
                           geometry=[box(x0 + k * 1000, y0, x0 + (k + 1) * 1000, y0 + 1000)
                                     for k in range(3)], crs="EPSG:2154")
    path = tmp_path / "contours.gpkg"
    pyogrio.write_dataframe(gdf, path)
    report = referentiel.import_boundaries(path)
    assert sorted(referentiel.load_layer()["code"]) == ["62154", "62447"]
    assert any("préfixe" in w and "COM62154" in w for w in report["avertissements"])
