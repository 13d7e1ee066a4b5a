"""Statistiques : exemple à 4 communes calculé à la main, accord avec esda, propriétés."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from esda import smoothing as esda_smoothing
from hypothesis import given, settings
from hypothesis import strategies as st
from libpysal.weights import W
from scipy import sparse

from observatoire.stats import (
    BLANCHE,
    LABELS,
    NON_CONCLUANT,
    NORME,
    REVELATRICE,
    agreger,
    analyser_table,
    mesurer_communes,
    poisson,
    smoothing,
)
from observatoire.stats.measures import NIVEAUX


def _communes(pops, epci=None, arr=None):
    n = len(pops)
    return pd.DataFrame({
        "code_insee": [f"9900{i + 1}" for i in range(n)],
        "nom": [f"C{i + 1}" for i in range(n)],
        "departement": ["99"] * n,
        "arrondissement": arr or ["991"] * n,
        "arrondissement_nom": ["Arr"] * n,
        "epci": epci or ["E1"] * n,
        "epci_nom": [f"EPCI {e}" for e in (epci or ["E1"] * n)],
        "population": pops,
    })


def _valeurs(counts, annee=2024, contributeur="police_62", masques=()):
    rows = []
    for i, c in enumerate(counts):
        code = f"9900{i + 1}"
        rows.append((annee, contributeur, "x", code, None if i in masques else c, i in masques,
                     1))
    v = pd.DataFrame(rows, columns=["annee", "contributeur", "indicateur", "code_insee",
                                    "valeur", "masque", "lot_id"])
    v["valeur"] = v["valeur"].astype("Int64")
    return v


# --- exemple à la main -------------------------------------------------------------------
# Quatre communes, une année, population 1 000 / 2 000 / 3 000 / 4 000 (10 000 au total),
# effectifs 0 / 20 / 6 / 14 (40 au total). Taux de référence (département) : 40 / 10 000
# = 4 pour 1 000. Attendus : 4, 8, 12, 16.
#  - C1 : O = 0, E = 4 : P(X <= 0) = e^-4 = 0,018316 ; bilatérale 0,0366 < 0,05
#         et E = 4 > ln(40) = 3,689 : « blanche présumée ».
#  - C2 : O = 20, E = 8 : P(X >= 20) = 1 − Σ_{k<20} e^-8 8^k / k! = 0,000253 :
#         « révélatrice ».
#  - C3 : O = 6, E = 12 : P(X <= 6) = 0,045822 ; bilatérale 0,0916 : « dans la norme ».
#  - C4 : O = 14, E = 16 : P(X <= 14) = 0,3675 : « dans la norme ».
# Ratios O/E : 0, 2,5, 0,5, 0,875 ; taux pour 1 000 : 0, 10, 2, 3,5.
def _poisson_cdf(k, mu):
    return sum(math.exp(-mu) * mu**j / math.factorial(j) for j in range(k + 1))


def test_exemple_quatre_communes_a_la_main():
    c = _communes([1000, 2000, 3000, 4000])
    t = analyser_table(_valeurs([0, 20, 6, 14]), c, surdispersion=False, fdr=False)
    assert t["attendu"].tolist() == pytest.approx([4, 8, 12, 16])
    assert t["ratio"].tolist() == pytest.approx([0, 2.5, 0.5, 0.875])
    assert t["taux"].tolist() == pytest.approx([0, 10, 2, 3.5])
    assert t.attrs["taux_reference"] == pytest.approx(4.0)
    assert t["p_defaut"].iat[0] == pytest.approx(math.exp(-4), rel=1e-12)
    assert t["p_exces"].iat[1] == pytest.approx(1 - _poisson_cdf(19, 8), rel=1e-9)
    assert t["p_exces"].iat[1] == pytest.approx(0.000253, abs=5e-7)
    assert t["p_defaut"].iat[2] == pytest.approx(_poisson_cdf(6, 12), rel=1e-12)
    assert t["p_defaut"].iat[2] == pytest.approx(0.045822, abs=5e-7)
    assert t["p_defaut"].iat[3] == pytest.approx(0.367527, abs=5e-7)
    assert t["label"].tolist() == [BLANCHE, REVELATRICE, NORME, NORME]
    assert t["observe"].tolist() == [0, 20, 6, 14]
    assert str(t["observe"].dtype) == "Int64"
    # Bayes empirique global (Marshall) à la main : m = 0,004, b̄ = 2 500,
    # s² = Σ b (r − m)² / Σ b − m / b̄.
    r = np.array([0, 20, 6, 14]) / np.array([1000, 2000, 3000, 4000])
    b = np.array([1000, 2000, 3000, 4000.0])
    s2 = (b * (r - 0.004) ** 2).sum() / b.sum() - 0.004 / 2500
    w = s2 / (s2 + 0.004 / b)
    assert t["taux_lisse"].to_numpy() == pytest.approx((w * r + (1 - w) * 0.004) * 1000)


def test_zero_non_concluant_sous_attendu_minimal_et_regroupement_propose():
    # E = 3 < ln(40) : zéro cas n'est pas significatif ; cumuler 3 ans donne E = 9.
    c = _communes([750, 2000, 3000, 4250], epci=["E1", "E1", "E2", "E2"])
    t = analyser_table(_valeurs([0, 8, 12, 20]), c, surdispersion=False, fdr=False)
    assert t["attendu"].iat[0] == pytest.approx(3.0)
    assert t["label"].iat[0] == NON_CONCLUANT
    assert t["regroupement"].iat[0] == "3_annees"
    assert "trois années" in t["regroupement_suggere"].iat[0]
    assert "2022 à 2024" in t["regroupement_suggere"].iat[0]
    # Trois années déjà cumulées : on propose l'EPCI.
    v = pd.concat([_valeurs([0, 3, 4, 7], annee=a) for a in (2022, 2023, 2024)])
    c2 = _communes([150, 2000, 3000, 4850], epci=["E1", "E1", "E2", "E2"])
    t = analyser_table(v, c2, surdispersion=False, fdr=False)
    assert t.attrs["n_annees"] == 3
    assert t["label"].iat[0] == NON_CONCLUANT
    assert t["regroupement"].iat[0] == "epci"
    assert "EPCI E1" in t["regroupement_suggere"].iat[0]


def test_attendu_minimal_est_ln_40():
    assert poisson.attendu_minimal(0.05) == pytest.approx(math.log(40))
    assert poisson.attendu_minimal(0.05, phi=2) == pytest.approx(2 * math.log(40))
    assert poisson.attendu_minimal(0.05, phi=0.5) == pytest.approx(math.log(40))


def test_labels_vocabulaire():
    assert set(LABELS) == {"révélatrice", "pas d'écart détecté", "blanche présumée",
                           "non concluant"}
    assert "pas d'une absence de violences" in LABELS[BLANCHE]
    # « Pas d'écart détecté » ne se lit pas « tout va bien ».
    assert "tout va bien" in LABELS[NORME] and "Ce n'est pas" in LABELS[NORME]


# --- accord avec esda ---------------------------------------------------------------------
def _donnees(seed=3, n=60):
    rng = np.random.default_rng(seed)
    b = rng.integers(200, 20_000, n).astype(float)
    e = rng.poisson(b * 0.004 * rng.gamma(3, 1 / 3, n)).astype(float)
    return e, b


def test_choynowski_identique_a_esda():
    e, b = _donnees()
    ref = esda_smoothing.choynowski(e, b, len(e))
    np.testing.assert_allclose(poisson.choynowski(e, b), ref, rtol=0, atol=1e-12)
    # Et nos deux queues : choynowski = la queue du côté de l'écart.
    ex = e.sum() / b.sum() * b
    pe, pd_ = poisson.queues_poisson(e, ex)
    np.testing.assert_allclose(np.where(e <= ex, pd_, pe), ref, rtol=0, atol=1e-12)
    ref_t = esda_smoothing.choynowski(e, b, len(e), threshold=0.05)
    np.testing.assert_allclose(poisson.choynowski(e, b, threshold=0.05), ref_t, atol=1e-12)


def test_bayes_empirique_identique_a_esda():
    e, b = _donnees()
    ref = esda_smoothing.Empirical_Bayes(e, b).r.ravel()
    np.testing.assert_allclose(smoothing.bayes_empirique(e, b), ref, rtol=1e-9, atol=1e-12)
    er = esda_smoothing.Excess_Risk(e, b).r.ravel()
    np.testing.assert_allclose(smoothing.risque_relatif_brut(e, b), er, rtol=1e-9)


def test_bayes_empirique_variance_negative_ramene_au_taux_moyen():
    # Dispersion plus faible que le hasard : s² < 0, tout le monde reçoit le taux moyen.
    b = np.full(10, 1000.0)
    e = np.full(10, 4.0)
    assert smoothing.bayes_empirique(e, b) == pytest.approx(np.full(10, 0.004))


def _grille(nx, ny):
    """Contiguïté reine d'une grille nx × ny (libpysal W et matrice creuse)."""
    neigh = {}
    for i in range(nx):
        for j in range(ny):
            k = i * ny + j
            neigh[k] = [a * ny + c for a in range(max(0, i - 1), min(nx, i + 2))
                        for c in range(max(0, j - 1), min(ny, j + 2)) if (a, c) != (i, j)]
    w = W(neigh, id_order=list(range(nx * ny)))
    return w, w.sparse


def test_bayes_empirique_spatial_identique_a_esda():
    e, b = _donnees(n=48)
    w, mat = _grille(6, 8)
    ref = esda_smoothing.Spatial_Empirical_Bayes(e, b, w).r.ravel()
    np.testing.assert_allclose(smoothing.bayes_empirique_spatial(e, b, mat), ref, rtol=1e-9,
                               atol=1e-15)
    np.testing.assert_allclose(smoothing.bayes_empirique_spatial(e, b, w), ref, rtol=1e-9)


def test_contiguite_reine_sur_carres(square_communes):
    mat = smoothing.contiguite_reine(square_communes)
    # 2 × 2 carrés : chacun touche les trois autres (par un côté ou un coin).
    assert mat.toarray().tolist() == [[0, 1, 1, 1], [1, 0, 1, 1], [1, 1, 0, 1], [1, 1, 1, 0]]


def test_analyse_spatiale_avec_contours(square_communes):
    c = _communes([1000, 2000, 3000, 4000])
    geo = square_communes.rename(columns={"code_insee": "code"})
    geo["code"] = c["code_insee"]
    t = analyser_table(_valeurs([0, 20, 6, 14]), c, geometrie=geo, surdispersion=False)
    ref = esda_smoothing.Spatial_Empirical_Bayes(
        np.array([0, 20, 6, 14.0]), np.array([1000, 2000, 3000, 4000.0]),
        W({0: [1, 2, 3], 1: [0, 2, 3], 2: [0, 1, 3], 3: [0, 1, 2]}, id_order=[0, 1, 2, 3])
    ).r.ravel()
    np.testing.assert_allclose(t["taux_lisse_spatial"].to_numpy(), ref * 1000, rtol=1e-9)
    assert not any("contours non importés" in a for a in t.attrs["avertissements"])


def test_sans_contours_le_dit():
    t = analyser_table(_valeurs([0, 20, 6, 14]), _communes([1000, 2000, 3000, 4000]))
    assert t["taux_lisse_spatial"].isna().all()
    assert any("contours non importés" in a for a in t.attrs["avertissements"])


# --- surdispersion, entonnoir, BH -----------------------------------------------------------
def test_surdispersion_estimee_et_appliquee():
    rng = np.random.default_rng(0)
    e = rng.uniform(5, 50, 2000)
    pois = rng.poisson(e)
    assert poisson.surdispersion(pois, e) < 1.1
    # Binomiale négative : variance = E (1 + E / k), nettement surdispersée.
    nb = rng.negative_binomial(3, 3 / (3 + e))
    phi = poisson.surdispersion(nb, e)
    assert phi > 2
    # Avec φ > 1 les probabilités sont moins extrêmes (quasi-Poisson).
    pe1, _ = poisson.queues_poisson([30.0], [15.0])
    pe2, _ = poisson.queues_poisson([30.0], [15.0], phi=phi)
    assert pe2[0] > pe1[0]
    # φ ≤ 1 n'est jamais appliqué.
    np.testing.assert_allclose(poisson.queues_poisson([3.0], [5.0], phi=0.5),
                               poisson.queues_poisson([3.0], [5.0]))


def test_queues_quasi_poisson_continues_en_phi():
    o, e = np.array([0.0, 3, 17]), np.array([4.0, 6, 9])
    a = np.array(poisson.queues_poisson(o, e, phi=1.0))
    b = np.array(poisson.queues_poisson(o, e, phi=1.0 + 1e-9))
    np.testing.assert_allclose(a, b, rtol=1e-6)


def test_limites_entonnoir_spiegelhalter():
    # Grand attendu : proche de l'approximation normale 1 ± 1,96 / √E.
    lo, hi = poisson.limites_entonnoir([10_000.0], 0.95)
    assert lo[0] == pytest.approx(1 - 1.96 / 100, abs=2e-4)
    assert hi[0] == pytest.approx(1 + 1.96 / 100, abs=2e-4)
    # 99,8 % plus large que 95 % ; surdispersion élargit.
    lo2, hi2 = poisson.limites_entonnoir([20.0], 0.998)
    lo1, hi1 = poisson.limites_entonnoir([20.0], 0.95)
    assert lo2[0] < lo1[0] < 1 < hi1[0] < hi2[0]
    lo3, hi3 = poisson.limites_entonnoir([20.0], 0.95, phi=2.0)
    assert lo3[0] < lo1[0] and hi3[0] > hi1[0]


def test_benjamini_hochberg_comme_scipy():
    p = np.array([0.01, 0.04, 0.03, np.nan, 0.5])
    q = poisson.benjamini_hochberg(p)
    assert np.isnan(q[3])
    # Triées : 0,01·4/1 = 0,04 ; 0,03·4/2 = 0,06 ; 0,04·4/3 = 0,0533 ; 0,5 ; puis minimum
    # cumulé depuis la plus grande : 0,04 ; 0,0533 ; 0,0533 ; 0,5.
    assert q[[0, 1, 2, 4]] == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.5])


def test_fdr_rend_plus_prudent():
    rng = np.random.default_rng(5)
    n = 200
    pops = rng.integers(1000, 5000, n).tolist()
    counts = rng.poisson(np.array(pops) * 0.004).tolist()
    c = _communes(pops)
    c["code_insee"] = [f"9{i:04d}" for i in range(n)]
    v = _valeurs(counts)
    v["code_insee"] = c["code_insee"].to_numpy()
    sans = analyser_table(v, c, surdispersion=False)
    avec = analyser_table(v, c, surdispersion=False, fdr=True)
    sig = lambda t: t["label"].isin([REVELATRICE, BLANCHE]).sum()  # noqa: E731
    assert sig(avec) <= sig(sans)


# --- propriétés -------------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(o=st.lists(st.integers(0, 500), min_size=1, max_size=30),
       e=st.lists(st.floats(0, 400, allow_nan=False), min_size=1, max_size=30),
       phi=st.floats(0.5, 5))
def test_probabilites_dans_0_1(o, e, phi):
    n = min(len(o), len(e))
    pe, pd_ = poisson.queues_poisson(np.array(o[:n], float), np.array(e[:n]), phi)
    assert np.all((pe >= 0) & (pe <= 1))
    assert np.all((pd_ >= 0) & (pd_ <= 1))
    # Les deux queues se recouvrent en O : leur somme dépasse 1 (au moins P(X = O)).
    assert np.all(pe + pd_ >= 1 - 1e-9)
    pb = poisson.p_bilaterale(pe, pd_)
    assert np.all((pb >= 0) & (pb <= 1))


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_agregation_coherente_entre_niveaux(data):
    n = data.draw(st.integers(2, 25))
    pops = data.draw(st.lists(st.integers(0, 50_000), min_size=n, max_size=n))
    counts = data.draw(st.lists(st.integers(0, 60), min_size=n, max_size=n))
    epci = data.draw(st.lists(st.sampled_from(["E1", "E2", "E3"]), min_size=n, max_size=n))
    arr = data.draw(st.lists(st.sampled_from(["991", "992"]), min_size=n, max_size=n))
    masques = data.draw(st.sets(st.integers(0, n - 1), max_size=2))
    c = _communes(pops, epci=epci, arr=arr)
    c["code_insee"] = [f"9{i:04d}" for i in range(n)]
    v = _valeurs(counts, masques=masques)
    v["code_insee"] = c["code_insee"].to_numpy()
    com = analyser_table(v, c, niveau="commune")
    for niveau in ("epci", "arrondissement", "departement"):
        t = analyser_table(v, c, niveau=niveau)
        key = NIVEAUX[niveau][0]
        g = com.groupby(key)
        assert t["population"].sum() == pytest.approx(com["population"].sum())
        assert t["attendu"].sum() == pytest.approx(com["attendu"].sum())
        for _, row in t.iterrows():
            part = com[com[key] == row["code"]]
            assert row["attendu"] == pytest.approx(part["attendu"].sum())
            assert row["n_masques"] == part["n_masques"].sum()
            if part["observe"].isna().any():
                assert pd.isna(row["observe"])
            else:
                assert row["observe"] == part["observe"].sum()
        assert len(t) == g.ngroups
        assert t["label"].isin(list(LABELS)).all()
        assert t["p_exces"].dropna().between(0, 1).all()


def test_masque_a_la_source_bornes_et_etiquette_conservatrice():
    # C1 masquée à la source (1 à 4 cas) pour un attendu de 40 : même à 4 cas c'est
    # très en dessous : « blanche présumée » reste juste, l'effectif reste inconnu.
    c = _communes([10_000, 10_000, 10_000, 10_000])
    t = analyser_table(_valeurs([0, 40, 40, 40], masques={0}), c, surdispersion=False,
                       zone_reference="territoire")
    assert pd.isna(t["observe"].iat[0])
    assert t["masque"].iat[0] and t["n_masques"].iat[0] == 1
    assert (t["observe_min"].iat[0], t["observe_max"].iat[0]) == (1, 4)
    assert pd.isna(t["ratio"].iat[0]) and pd.isna(t["taux_lisse"].iat[0])
    assert t["label"].iat[0] == BLANCHE
    # Taux de référence : la cellule masquée compte pour 2,5 cas.
    assert t.attrs["taux_reference"] == pytest.approx((120 + 2.5) / 40_000 * 1000)


def test_masque_non_borne_d_une_source_publique_ne_conclut_pas_au_deficit():
    # Même cellule, non diffusée par le SSMSI : elle peut valoir 0 comme 12 ; ni
    # « blanche présumée » ni « dans la norme » ne peuvent être établies.
    c = _communes([10_000, 10_000, 10_000, 10_000])
    v = _valeurs([0, 40, 40, 40], contributeur="ssmsi", masques={0})
    t = analyser_table(v, c, surdispersion=False, zone_reference="territoire",
                       sources_non_bornees={"ssmsi"})
    assert (t["observe_min"].iat[0], t["n_masques_libres"].iat[0]) == (0, 1)
    assert pd.isna(t["observe_max"].iat[0])
    assert t["label"].iat[0] == NON_CONCLUANT and "SSMSI" in t["motif"].iat[0]
    # Les communes diffusées gardent leur étiquette.
    assert (t["label"].iloc[1:] == NORME).all()
    # La même source, déclarée bornée (le cas par défaut) : déficit établi comme avant.
    borne = analyser_table(v, c, surdispersion=False, zone_reference="territoire")
    assert borne["label"].iat[0] == BLANCHE


def test_masque_non_borne_n_empeche_pas_un_exces_etabli_par_la_partie_connue():
    # Deux sources sur C1 : 90 cas connus (police) et une cellule non diffusée (SSMSI) :
    # l'excès est établi quelle que soit la cellule inconnue.
    c = _communes([10_000, 10_000, 10_000, 10_000])
    v = pd.concat([_valeurs([90, 20, 20, 20]),
                   _valeurs([0, 5, 5, 5], contributeur="ssmsi", masques={0})])
    t = analyser_table(v, c, surdispersion=False, zone_reference="territoire",
                       sources_non_bornees={"ssmsi"})
    assert t["label"].iat[0] == REVELATRICE
    # Agrégé à l'EPCI, la cellule non bornée suit : maximum inconnu.
    e = analyser_table(v, c, niveau="epci", surdispersion=False,
                       zone_reference="territoire", sources_non_bornees={"ssmsi"})
    assert e["n_masques_libres"].iat[0] == 1 and pd.isna(e["observe_max"].iat[0])


def test_communes_sans_cas_a_zero_et_non_localises():
    c = _communes([1000, 2000, 3000])
    v = _valeurs([5, 7])  # la troisième commune n'apparaît pas : 0, pas manquant
    v = pd.concat([v, pd.DataFrame([{"annee": 2024, "contributeur": "police_62",
                                     "indicateur": "x", "code_insee": None,
                                     "valeur": 3, "masque": False, "lot_id": 1}])])
    v["valeur"] = v["valeur"].astype("Int64")
    t = mesurer_communes(v, c)
    assert t["observe"].tolist() == [5, 7, 0]
    assert t.attrs["non_localise"] == 3


def test_anciennes_communes_ramenees_a_la_commune_actuelle():
    c = _communes([1000, 2000])
    v = _valeurs([5, 7])
    v.loc[len(v)] = [2024, "police_62", "x", "88888", 4, False, 1]
    v["valeur"] = v["valeur"].astype("Int64")
    t = mesurer_communes(v, c, code_map={"88888": "99001"})
    assert t["observe"].tolist() == [9, 7]


def test_couverture_des_contributeurs():
    c = _communes([1000, 2000, 3000], arr=["991", "991", "992"])
    v = _valeurs([5, 7, 0])
    t = analyser_table(v, c, territoires_contributeurs={"police_62": "991"})
    assert pd.isna(t["observe"].iat[2])
    # Hors du périmètre des sources : ni effectif, ni attendu, ni étiquette.
    assert pd.isna(t["label"].iat[2]) and pd.isna(t["attendu"].iat[2])
    assert t["couverture"].iat[2] == "hors_perimetre"
    assert t["couverture_libelle"].iat[2] == "hors du périmètre des sources"
    assert "périmètre" in t["motif"].iat[2]
    # Deux sources aux territoires complémentaires (police / gendarmerie) : chaque commune
    # couverte par l'une au moins est couverte ; la couverture partielle est signalée.
    v2 = pd.concat([v, _valeurs([1, 1, 1], contributeur="iscg_62")])
    t2 = analyser_table(v2, c, territoires_contributeurs={"police_62": "991"})
    assert t2["observe"].tolist() == [6, 8, 1]
    assert t2["couvert"].tolist() == [True, True, True]
    assert t2["couvert_partiel"].tolist() == [False, False, True]
    assert t2["nb_sources"].tolist() == [2, 2, 1]
    # Niveau agrégé : une commune hors périmètre rend l'arrondissement 992 inconnu.
    a = analyser_table(v, c, niveau="arrondissement",
                       territoires_contributeurs={"police_62": "991"})
    assert a["observe"].tolist()[0] == 12 and pd.isna(a["observe"].iat[1])


def test_niveau_et_zone_invalides():
    from observatoire.errors import ObservatoireError

    c = _communes([1000])
    with pytest.raises(ObservatoireError, match="Niveau « canton » inconnu"):
        analyser_table(_valeurs([1]), c, niveau="canton")
    with pytest.raises(ObservatoireError, match="Aire de référence « region » inconnue"):
        analyser_table(_valeurs([1]), c, zone_reference="region")


def test_zone_reference_arrondissement():
    c = _communes([1000, 1000, 1000, 1000], arr=["991", "991", "992", "992"])
    t = analyser_table(_valeurs([2, 2, 10, 10]), c, zone_reference="arrondissement")
    assert t["attendu"].tolist() == pytest.approx([2, 2, 10, 10])
    assert t.attrs["taux_reference_par_zone"] == pytest.approx({"991": 2.0, "992": 10.0})


def test_agreger_commune_est_identite():
    c = _communes([1000, 2000])
    t = mesurer_communes(_valeurs([1, 2]), c)
    assert agreger(t, "commune").equals(t)


def test_matrice_creuse_acceptee():
    e, b = _donnees(n=4)
    mat = sparse.csr_matrix(np.ones((4, 4)) - np.eye(4))
    assert np.isfinite(smoothing.bayes_empirique_spatial(e, b, mat)).all()
