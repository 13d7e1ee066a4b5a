"""Tendances (test exact du rapport des taux), couverture et indice de priorité, CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from observatoire.stats import (
    couverture,
    distances_dispositifs,
    indice_priorite,
    points_communes,
    rapport_taux_exact,
    serie,
    statut_referents,
    tendance,
)
from observatoire.stats.denominateurs import charger_population, importer_populations


def _communes():
    return pd.DataFrame({"code_insee": ["99001", "99002", "99003", "99004"],
                         "nom": ["Alpha", "Bêta", "Gamma", "Delta"], "departement": "99",
                         "arrondissement": "991", "arrondissement_nom": "X",
                         "epci": ["E1", "E1", "E2", "E2"], "epci_nom": ["e1", "e1", "e2", "e2"],
                         "population": [1000, 2000, 3000, 4000]})


def _valeurs(par_annee, codes=("99001", "99002", "99003", "99004")):
    rows = [(a, "p", "x", c, v, False, 1) for a, vals in par_annee.items()
            for c, v in zip(codes, vals, strict=True)]
    v = pd.DataFrame(rows, columns=["annee", "contributeur", "indicateur", "code_insee",
                                    "valeur", "masque", "lot_id"])
    v["valeur"] = v["valeur"].astype("Int64")
    return v


def test_rapport_des_taux_binomial_exact():
    # Même population : O2 | n ~ B(n, 1/2). 10 → 30 : P bilatérale = 2·P(X ≥ 30 | 40, ½).
    p = rapport_taux_exact([10], [30], [1000], [1000])
    assert p[0] == pytest.approx(2 * sps.binom.sf(29, 40, 0.5), rel=1e-12)
    # Populations différentes : p0 = pa2 / (pa1 + pa2).
    p = rapport_taux_exact([10], [30], [1000], [3000])
    assert p[0] == pytest.approx(sps.binomtest(30, 40, 0.75).pvalue)
    assert np.isnan(rapport_taux_exact([0], [0], [1], [1])[0])


def test_tendance_et_communes_fusionnees():
    # En 2023 la commune 88888 existait encore ; elle fait partie de 99001 aujourd'hui.
    v23 = _valeurs({2023: [5, 10, 40, 20]})
    v23.loc[len(v23)] = [2023, "p", "x", "88888", 6, False, 1]
    v = pd.concat([v23, _valeurs({2024: [11, 30, 38, 21]})])
    v["valeur"] = v["valeur"].astype("Int64")
    t = tendance(v, _communes(), 2023, 2024, code_map={"88888": "99001"})
    assert t["observe_1"].tolist() == [11, 10, 40, 20]
    assert t["difference"].tolist() == [0, 20, -2, 1]
    assert t["ratio_taux"].iat[1] == pytest.approx(3.0)
    assert t["sens"].iat[1] == "hausse"
    assert t["sens"].iat[2] == "pas d'évolution significative"
    assert t.attrs["type"] == "tendance"


def test_tendance_petits_effectifs_non_concluant():
    t = tendance(_valeurs({2023: [1, 0, 40, 20], 2024: [3, 0, 38, 21]}), _communes(), 2023,
                 2024)
    assert t["sens"].iat[0] == "non concluant"
    assert t["sens"].iat[1] == "non concluant"  # 0 et 0


def test_tendance_niveau_agrege_et_secret():
    t = tendance(_valeurs({2023: [2, 0, 40, 20], 2024: [9, 7, 38, 21]}), _communes(), 2023,
                 2024, niveau="epci")
    assert t["observe_1"].tolist() == [2, 60]
    assert t["difference"].tolist()[1] == -1


def test_serie_toutes_les_annees():
    s = serie(_valeurs({2022: [0, 1, 2, 3], 2023: [5, 6, 7, 8], 2024: [9, 9, 9, 9]}),
              _communes(), niveau="epci")
    assert s["annee"].unique().tolist() == [2022, 2023, 2024]
    assert s.loc[s["annee"] == 2023, "observe"].tolist() == [11, 15]
    com = serie(_valeurs({2022: [0, 1, 2, 30], 2023: [5, 6, 7, 8]}), _communes())
    assert com.loc[com["annee"] == 2022, "observe"].tolist() == [0, 1, 2, 30]


def test_distances_aux_dispositifs(square_communes):
    geo = square_communes.rename(columns={"code_insee": "code"})
    pts = points_communes(geo)
    # Centres : (650 500, 7 000 500), (651 500, …)… ; un accueil de jour au centre de 99001
    # (sans coordonnées : placé au point de sa commune), un LEAO à 3 km à l'est.
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(2154, 4326, always_xy=True).transform(654_500, 7_000_500)
    disp = pd.DataFrame({"type": ["accueil_de_jour", "leao"], "nom": ["AJ", "LEAO"],
                         "code_insee": ["99001", "99002"], "latitude": [None, lat],
                         "longitude": [None, lon]})
    d = distances_dispositifs(pts, disp)
    assert d["distance_accueil_de_jour_km"].tolist() == pytest.approx(
        [0, 1, 1, np.sqrt(2)], abs=1e-6)
    assert d["distance_leao_km"].iat[0] == pytest.approx(4.0, abs=1e-3)
    assert d["plus_proche_leao"].tolist() == ["LEAO"] * 4
    # Point pondéré par la population fourni par l'appelant.
    pts2 = points_communes(geo, pd.DataFrame({"code": ["99004"], "x": [650_500],
                                              "y": [7_000_500]}))
    assert pts2["point"].tolist() == ["centroide"] * 3 + ["pondere"]


def test_referents():
    r = statut_referents(["1", "2", "3"], pd.DataFrame({"code_insee": ["1", "2"],
                                                        "forme": [True, False]}))
    assert r["referent"].tolist() == [True, True, False]
    assert r["referent_forme"].tolist() == [True, False, False]


def test_indice_de_priorite_a_la_main():
    t = pd.DataFrame({"code": ["a", "b", "c"], "niveau": "commune",
                      "attendu": [10.0, 10.0, 10.0], "personnes_annees": [1000.0] * 3,
                      "taux_lisse": [5.0, 10.0, 15.0],  # ratios lissés 0,5 ; 1 ; 1,5
                      "distance_accueil_de_jour_km": [15.0, 0.0, 60.0],
                      "referent": [False, True, True], "referent_forme": [False, False, True]})
    poids = {"poids_sous_revelation": 0.5, "poids_distance": 0.3, "poids_sans_referent": 0.2,
             "type_distance": "accueil_de_jour"}
    out = indice_priorite(t, poids)
    assert out["composante_sous_revelation"].tolist() == pytest.approx([0.5, 0, 0])
    assert out["composante_distance"].tolist() == pytest.approx([0.5, 0, 1])
    assert out["composante_sans_referent"].tolist() == pytest.approx([1, 0.5, 0])
    # a : 0,5·0,5 + 0,3·0,5 + 0,2·1 = 0,6 ; b : 0,1 ; c : 0,3.
    assert out["indice_priorite"].tolist() == pytest.approx([0.6, 0.1, 0.3])
    assert out["rang_priorite"].tolist() == [1, 3, 2]
    # Sans distances : les poids restants sont renormalisés, et on le dit.
    out2 = indice_priorite(t.drop(columns="distance_accueil_de_jour_km"), poids)
    assert out2["indice_priorite"].iat[0] == pytest.approx((0.25 + 0.2) / 0.7)
    assert "composante_distance" not in out2.attrs["composantes_utilisees"]


def test_couverture_complete(square_communes):
    from observatoire.stats import analyser_table

    c = _communes()
    t = analyser_table(_valeurs({2024: [0, 20, 6, 14]}), c)
    geo = square_communes.rename(columns={"code_insee": "code"})
    disp = pd.DataFrame({"type": ["accueil_de_jour"], "nom": ["AJ"], "code_insee": ["99004"],
                         "latitude": [None], "longitude": [None]})
    ref = pd.DataFrame({"code_insee": ["99002"], "forme": [True]})
    out = couverture(t, geometrie=geo, dispositifs=disp, referents=ref)
    assert out["distance_accueil_de_jour_km"].iat[3] == pytest.approx(0)
    assert out["composante_sans_referent"].tolist() == [1, 0, 1, 1]
    assert out["indice_priorite"].between(0, 1).all()


def test_import_des_populations(engine, tmp_path):
    f = tmp_path / "pop.csv"
    f.write_text("CODGEO;femmes_15_64;hommes_15_64\n62001;610;600\n62002;45,5;40\n",
                 encoding="utf-8")
    assert importer_populations(f, 2021, engine=engine) == 4
    s = charger_population("femmes_15_64", 2024, engine=engine)
    assert s.to_dict() == {"62001": 610.0, "62002": 45.5}
    assert s.attrs["annee"] == 2021
    from observatoire.errors import ObservatoireError

    with pytest.raises(ObservatoireError, match="Dénominateur « inconnu » inconnu"):
        charger_population("inconnu", 2024, engine=engine)


def _run(*args, env=None, input=""):
    # Sans terminal de contrôle (start_new_session), comme une tâche planifiée.
    return subprocess.run([sys.executable, "-m", "observatoire", *args], capture_output=True,
                          text=True, env=env, input=input, start_new_session=True)


def test_cli_sans_donnees():
    out = _run("analyser", "--annee", "2024", "--indicateur", "faits_constates")
    assert out.returncode != 0
    assert "observatoire demo" in out.stderr


@pytest.mark.slow
def test_cli_sur_la_demonstration(monkeypatch, demo_reference, tmp_path):
    import os

    from tests.conftest import utiliser_demo

    utiliser_demo(demo_reference, tmp_path / "demo", monkeypatch)
    env = dict(os.environ)
    out = _run("analyser", "--annee", "2024", "--indicateur", "faits_constates", "--json",
               env=env)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["vue"] == "publique"
    lignes = doc["lignes"]
    assert len(lignes) == 887
    assert not any(r["observe"] is not None and 1 <= r["observe"] <= 4 for r in lignes)
    assert {r["label"] for r in lignes} <= {"révélatrice", "pas d'écart détecté",
                                            "blanche présumée", "non concluant"}
    # --staff : nommer un compte ne suffit jamais, son mot de passe est exigé.
    from observatoire import auth

    auth.add_account("agent.stats", "phrase de passe des tests", "agent")
    env["OBSERVATOIRE_AGENT"] = "agent.stats"
    out = _run("analyser", "--annee", "2024", "--indicateur", "faits_constates", "--staff",
               env=env)
    assert out.returncode != 0 and "mot de passe" in out.stderr and out.stdout == ""
    out = _run("analyser", "--annee", "2024", "--indicateur", "faits_constates", "--staff",
               "--mot-de-passe-stdin", "--json", env=env, input="phrase de passe des tests\n")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["vue"] == "agents"
    out = _run("analyser", "--tendance", "2023", "2024", "--indicateur", "faits_constates",
               "--niveau", "epci", env=env)
    assert out.returncode == 0 and "difference" in out.stdout
