"""Périmètre des sources, attendus par source, étiquettes par intervalles, états publics.

Petits cas calculés à la main ou par force brute : chaque règle de l'issue « analyse
juste » (périmètre de chaque lot, attendus par source et par année, « hors du périmètre
des sources », sources attendues manquantes, bornes des cellules masquées, étiquettes
qui ne resserrent pas un secret, entonnoir = étiquettes, intervalles exacts,
dénominateurs par année, indice de priorité sans abandon silencieux).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import optimize
from scipy import stats as sps

from observatoire import catalogues
from observatoire.errors import ObservatoireError
from observatoire.exports import donnees
from observatoire.stats import (
    BLANCHE,
    NON_CONCLUANT,
    NORME,
    REVELATRICE,
    analyser_table,
    etiqueter_intervalles,
    indice_priorite,
    limites_test,
    poisson,
    seuil_benjamini_hochberg,
    smoothing,
    tendance,
)
from tests.conftest import run_cli, vue_publique


def _communes(pops, arr=None, epci=None):
    n = len(pops)
    return pd.DataFrame({
        "code_insee": [f"99{i:03d}" for i in range(n)], "nom": [f"C{i}" for i in range(n)],
        "departement": "99", "arrondissement": arr or ["991"] * n,
        "arrondissement_nom": "A", "epci": epci or ["E1"] * n, "epci_nom": "EPCI",
        "population": pops})


def _lot(contrib, counts, annee=2024, codes=None, masques=(), n=None):
    codes = codes if codes is not None else [f"99{i:03d}" for i in range(len(counts))]
    rows = [(annee, contrib, "x", c, None if i in masques else v, i in masques, 1)
            for i, (c, v) in enumerate(zip(codes, counts, strict=True))]
    v = pd.DataFrame(rows, columns=["annee", "contributeur", "indicateur", "code_insee",
                                    "valeur", "masque", "lot_id"])
    v["valeur"] = v["valeur"].astype("Int64")
    return v


# --- territoires des contributeurs -------------------------------------------------------
def test_syntaxe_des_territoires():
    c = _communes([100] * 6, arr=["991", "991", "992", "992", "993", "993"],
                  epci=["E1", "E1", "E1", "E2", "E2", "E2"])
    cc = catalogues.communes_couvertes
    assert cc("991", c) == {"99000", "99001"}
    assert cc("991|993", c) == {"99000", "99001", "99004", "99005"}
    assert cc("99002|99004", c) == {"99002", "99004"}
    # Saisies d'agents : virgules, points-virgules, espaces, préfixe suivi d'une espace.
    assert cc("99002, 99004", c) == cc("99002;99004", c) == cc(" 99002 99004 ", c)
    assert cc("arrondissement: 991", c) == {"99000", "99001"}
    assert cc("epci:E2", c) == {"99003", "99004", "99005"}
    assert cc("99|sauf:992", c) == {"99000", "99001", "99004", "99005"}
    terr = {"police": "99000|99003", "gend": "reste:police", "iscg_a": "991",
            "iscg_b": "reste:iscg_a"}
    assert cc("reste:police", c, territoires=terr) == {"99001", "99002", "99004", "99005"}
    assert cc("reste:police|reste:iscg_a", c, territoires=terr) == {"99002", "99004",
                                                                      "99005"}
    groupes = catalogues.groupes_sources(terr)
    assert groupes["gend"] == groupes["police"] != groupes["iscg_a"] == groupes["iscg_b"]
    with pytest.raises(ObservatoireError, match="« 99999 ».*ni aucun département"):
        cc("99999", c)
    with pytest.raises(ObservatoireError, match="« inconnu » n'est pas dans le registre"):
        cc("reste:inconnu", c, territoires=terr)
    with pytest.raises(ObservatoireError, match="renvoi circulaire"):
        cc("reste:a", c, territoires={"a": "reste:b", "b": "reste:a"})


def test_registre_reel_police_et_gendarmerie_se_partagent_le_departement():
    police = catalogues.codes_du_territoire(
        catalogues.get_contributeur("police_62").territoire) | catalogues.codes_du_territoire(
        catalogues.get_contributeur("police_bethune").territoire)
    gend = catalogues.codes_du_territoire(catalogues.get_contributeur("gendarmerie_62").territoire)
    dep = catalogues.codes_du_territoire("62")
    assert police | gend == dep and not police & gend
    iscg = catalogues.codes_du_territoire(catalogues.get_contributeur("iscg_62").territoire)
    assert iscg == dep - catalogues.codes_du_territoire("622")


def test_contributeurs_attendus_par_annee(monkeypatch):
    attendus = {c.identifiant for c in catalogues.contributeurs_attendus(2024,
                                                                         "faits_constates")}
    assert attendus == {"police_bethune", "police_62", "gendarmerie_62"}
    assert "ssmsi" not in {c.identifiant for c in catalogues.contributeurs_attendus(2024)}
    c = catalogues.Contributeur("x", "X", "association", "62", (), premiere_annee=2025)
    assert not c.attendu_en(2024) and c.attendu_en(2025)


# --- attendus par source -----------------------------------------------------------------
def test_attendu_par_source_sur_la_part_de_l_aire_qu_elle_couvre():
    # A couvre les 4 communes (taux 2 ‰) ; B seulement l'arrondissement 991 (1 ‰ sur sa part).
    c = _communes([1000, 1000, 2000, 2000], arr=["991", "991", "992", "992"])
    v = pd.concat([_lot("A", [2, 2, 4, 4]), _lot("B", [1, 1], codes=["99000", "99001"])])
    t = analyser_table(v, c, territoires_contributeurs={"B": "991"}, surdispersion=False)
    # A : 12 cas / 6 000 hab. ; B : 2 cas / 2 000 hab. de sa part de l'aire.
    assert t["attendu"].tolist() == pytest.approx([2 + 1, 2 + 1, 4, 4])
    assert t["observe"].tolist() == [3, 3, 4, 4]
    assert t["ratio"].tolist() == pytest.approx([1, 1, 1, 1])
    assert t.attrs["taux_reference_par_lot"] == {"A 2024": {"99": 2.0}, "B 2024": {"99": 1.0}}
    # 992 n'est pas couvert par B : couverture partielle, pas hors périmètre.
    assert t["couverture"].tolist() == ["complete", "complete", "partielle", "partielle"]
    assert t["n_lots"].tolist() == [2, 2, 1, 1]


def test_valeur_hors_du_perimetre_d_un_lot_ecartee_et_signalee():
    c = _communes([1000, 1000, 2000], arr=["991", "991", "992"])
    v = _lot("B", [3, 1, 7])  # 7 cas en 992, hors du territoire déclaré de B
    t = analyser_table(v, c, territoires_contributeurs={"B": "991"})
    assert t.attrs["hors_perimetre_lot"] == 7
    assert any("hors de son périmètre" in a for a in t.attrs["avertissements"])
    assert pd.isna(t["observe"].iat[2]) and t["couverture"].iat[2] == "hors_perimetre"


def test_perimetre_d_un_lot_prime_sur_le_registre():
    c = _communes([1000, 1000, 2000], arr=["991", "991", "992"])
    v = _lot("A", [3, 1, 7])
    t = analyser_table(v, c, couvertures={("A", 2024): {"99000", "99002"}})
    assert t["couverture"].tolist() == ["complete", "hors_perimetre", "complete"]
    assert t.attrs["hors_perimetre_lot"] == 1


def test_source_absente_une_annee_sort_de_l_attendu_cette_annee_la():
    # Police (99000) et gendarmerie (reste) ; la gendarmerie manque en 2024. En deux ans
    # cumulés, ses communes ne sont couvertes qu'en 2023 : leur attendu aussi.
    c = _communes([5000, 1000, 1000, 1000])
    terr = {"p": "99000", "g": "reste:p"}
    v = pd.concat([_lot("p", [10], codes=["99000"], annee=2023),
                   _lot("g", [2, 2, 2], codes=["99001", "99002", "99003"], annee=2023),
                   _lot("p", [10], codes=["99000"], annee=2024)])
    t = analyser_table(v, c, territoires_contributeurs=terr,
                       groupes_sources=catalogues.groupes_sources(terr), surdispersion=False)
    assert t["attendu"].tolist() == pytest.approx([20, 2, 2, 2])
    assert t["personnes_annees"].tolist() == pytest.approx([10_000, 1000, 1000, 1000])
    assert t["couverture"].tolist() == ["complete", "partielle", "partielle", "partielle"]
    assert (t["ratio"] == 1).all()


# --- cellules masquées, intervalles ---------------------------------------------------------
def test_cellules_masquees_du_taux_de_reference_par_leurs_bornes():
    c = _communes([10_000] * 4)
    t = analyser_table(_lot("A", [0, 40, 40, 40], masques={0}), c, surdispersion=False,
                       zone_reference="territoire", fdr=False)
    # Taux de référence : (120 + 1) / 40 000 au plus bas, (120 + 4) au plus haut.
    assert t["attendu_min"].iat[1] == pytest.approx(121 / 4)
    assert t["attendu_max"].iat[1] == pytest.approx(124 / 4)
    assert t["attendu"].iat[1] == pytest.approx(122.5 / 4)
    # Une étiquette n'est donnée que si elle vaut aux deux bornes : la masquée (1 à 4 cas
    # pour ~30 attendus) reste « blanche présumée ».
    assert t["label"].iat[0] == BLANCHE


def test_etiquettes_stables_quand_les_masquees_bougent_de_1_a_4():
    # Avant : les cellules masquées comptaient 2,5 dans le taux de référence et 31 à 42
    # étiquettes changeaient quand elles bougeaient dans 1..4. Une étiquette donnée avec
    # les masques tient maintenant pour les masques à 1 comme à 4.
    rng = np.random.default_rng(7)
    n = 300
    pops = rng.integers(500, 30_000, n)
    c = _communes(pops.tolist())
    counts = rng.poisson(pops * 3e-3 * rng.gamma(2, 0.5, n))
    masques = {i for i in range(n) if 1 <= counts[i] <= 4}
    assert len(masques) > 10
    t = analyser_table(_lot("A", counts.tolist(), masques=masques), c, fdr=False,
                       surdispersion=False)
    etiquetees = t["label"].isin([REVELATRICE, BLANCHE]).to_numpy()
    assert etiquetees.sum() > 20
    for valeur in (1, 4):
        exact = counts.copy()
        exact[list(masques)] = valeur
        u = analyser_table(_lot("A", exact.tolist()), c, fdr=False, surdispersion=False)
        assert (u["label"].to_numpy()[etiquetees] == t["label"].to_numpy()[etiquetees]).all()


def test_etiqueter_intervalles_vaut_pour_toute_valeur_de_l_intervalle():
    rng = np.random.default_rng(3)
    e = rng.uniform(0.2, 30, 300)
    lo = rng.integers(0, 25, 300).astype(float)
    hi = lo + rng.integers(0, 4, 300)
    for fdr in (False, True):
        lab = etiqueter_intervalles(lo, hi, e, alpha=0.05, fdr=fdr, phi=1.3)
        seuil = lab.attrs["seuil_p"]
        for k in range(4):
            val = np.minimum(lo + k, hi)
            exact = etiqueter_intervalles(val, val, e, phi=1.3, seuil_p=seuil)
            donne = lab["label"].isin([REVELATRICE, BLANCHE, NORME]).to_numpy()
            assert (exact["label"].to_numpy()[donne] == lab["label"].to_numpy()[donne]).all()


def test_entonnoir_et_etiquettes_sont_le_meme_test():
    rng = np.random.default_rng(11)
    e = rng.uniform(0.3, 200, 2000)
    o = rng.poisson(e * rng.gamma(4, 0.25, e.size)).astype(float)
    for fdr, phi, tau2 in ((False, 1.0, 0.0), (True, 1.0, 0.0), (False, 2.3, 0.0),
                           (True, 1.0, 0.15)):
        lab = etiqueter_intervalles(o, o, e, fdr=fdr, phi=phi, tau2=tau2)
        ratio = o / e
        dehors = (ratio > lab["limite_haute"]) | (ratio < lab["limite_basse"])
        etiquete = lab["label"].isin([REVELATRICE, BLANCHE])
        assert (dehors == etiquete).all(), (fdr, phi, tau2)
        lo, hi = limites_test(e, lab.attrs["seuil_p"], phi=phi, tau2=tau2)
        np.testing.assert_allclose(lo, lab["limite_basse"])
        np.testing.assert_allclose(hi, lab["limite_haute"])


def test_seuil_benjamini_hochberg_equivaut_aux_q_valeurs():
    rng = np.random.default_rng(1)
    p = np.concatenate([rng.uniform(0, 1, 400), rng.uniform(0, 1e-3, 20), [np.nan]])
    seuil, q = seuil_benjamini_hochberg(p, 0.05)
    np.testing.assert_allclose(q[:-1], sps.false_discovery_control(p[:-1], method="bh"))
    assert ((p[:-1] <= seuil) == (q[:-1] <= 0.05)).all()
    assert seuil_benjamini_hochberg(np.array([0.5, 0.9]), 0.05)[0] == pytest.approx(0.025)


def test_plus_petit_ecart_decelable():
    lab = etiqueter_intervalles([10.0], [10.0], [10.0], fdr=False)
    assert lab["label"].iat[0] == NORME
    # Attendu 10 : 18 cas seraient « révélatrice » (2·P(X ≥ 18) ≤ 5 %), 3 « blanche ».
    assert lab["ratio_detectable_haut"].iat[0] == pytest.approx(1.8)
    assert lab["ratio_detectable_bas"].iat[0] == pytest.approx(0.3)
    assert "1,80 fois l'attendu" in lab["motif"].iat[0]
    petit = etiqueter_intervalles([0.0], [0.0], [2.0], fdr=False)
    assert petit["label"].iat[0] == NON_CONCLUANT and np.isnan(petit["ratio_detectable_bas"].iat[0])


def test_intervalle_exact_de_garwood():
    lo, hi = poisson.garwood([0, 1, 7, 30])
    for o, a, b in zip([0, 1, 7, 30], lo, hi, strict=True):
        # Définition : P(X ≥ O ; bas) = 2,5 % et P(X ≤ O ; haut) = 2,5 %.
        if o:
            assert sps.poisson.sf(o - 1, a) == pytest.approx(0.025, rel=1e-9)
        assert sps.poisson.cdf(o, b) == pytest.approx(0.025, rel=1e-9)
        assert b == pytest.approx(optimize.brentq(
            lambda m, o=o: sps.poisson.cdf(o, m) - 0.025, 1e-9, 200), rel=1e-9)
    # Intervalle d'un effectif masqué : du minimum au maximum.
    lo, hi = poisson.garwood([2], [8])
    assert lo[0] == pytest.approx(poisson.garwood([2])[0][0])
    assert hi[0] == pytest.approx(poisson.garwood([8])[1][0])
    c = _communes([1000, 4000])
    t = analyser_table(_lot("A", [3, 12]), c)
    assert t["taux_ic95_bas"].iat[0] == pytest.approx(poisson.garwood([3])[0][0])
    assert t["taux_ic95_haut"].iat[1] == pytest.approx(poisson.garwood([12])[1][0] / 4)


def test_surdispersion_additive_et_binomiale_negative():
    rng = np.random.default_rng(5)
    e = rng.uniform(10, 150, 3000)
    o = rng.poisson(e * rng.gamma(1 / 0.1, 0.1, e.size)).astype(float)
    assert poisson.surdispersion_additive(o, e) == pytest.approx(0.1, abs=0.02)
    pe, pd_ = poisson.queues([30.0], [20.0], tau2=0.1)
    n, p = 10.0, 1 / (1 + 0.1 * 20)
    assert pe[0] == pytest.approx(sps.nbinom.sf(29, n, p), rel=1e-12)
    assert pd_[0] == pytest.approx(sps.nbinom.cdf(30, n, p), rel=1e-12)
    # Winsorisée et corrigée : environ 1 sans surdispersion (au lieu de 0,68).
    assert poisson.surdispersion(rng.poisson(e), e) == pytest.approx(1.0, abs=0.1)


# --- hors du périmètre, secret, sorties -----------------------------------------------------
def test_hors_perimetre_ni_secret_ni_zero_ni_etiquette():
    c = _communes([1000, 3000, 2000, 500], arr=["991", "991", "992", "992"])
    t = analyser_table(_lot("A", [2, 9], codes=["99000", "99001"]), c,
                       territoires_contributeurs={"A": "991"})
    vues = vue_publique(t, niveaux=("arrondissement",))
    pub = vues["commune"]
    hors = pub["couverture"] == "hors_perimetre"
    assert hors.tolist() == [False, False, True, True]
    assert not pub.loc[hors, "secret"].any() and pub.loc[hors, "observe"].isna().all()
    assert pub.loc[hors, "label"].isna().all()
    # 2 cas : secret primaire ; 9 cas : secret secondaire (sinon 11 − 9 le révélerait),
    # les communes hors du périmètre n'entrant dans aucun total publié.
    assert pub["secret"].tolist()[:2] == [True, True]
    assert vues["arrondissement"]["couverture"].tolist() == ["complete", "hors_perimetre"]
    assert donnees.statut(pub).tolist() == ["secret", "secret", "hors_perimetre",
                                            "hors_perimetre"]
    assert donnees.texte_etiquette(pub).tolist()[2:] == ["hors du périmètre des sources"] * 2
    # Niveau agrégé : l'arrondissement 992 est hors du périmètre, pas secret.
    a = analyser_table(_lot("A", [2, 9], codes=["99000", "99001"]), c, niveau="arrondissement",
                       territoires_contributeurs={"A": "991"})
    assert a["couverture"].tolist() == ["complete", "hors_perimetre"]
    assert a["observe"].tolist()[0] == 11


def test_etiquette_d_une_cellule_secrete_valable_de_1_a_4():
    rng = np.random.default_rng(2)
    n = 200
    pops = rng.integers(100, 8000, n)
    c = _communes(pops.tolist(), epci=[f"E{i % 9}" for i in range(n)])
    counts = rng.poisson(pops * 2e-3)
    t = analyser_table(_lot("A", counts.tolist()), c)
    pub = vue_publique(t, niveaux=("epci",))["commune"]
    # Cellules primaires (1 à 4) : secrètes dans la diffusion.
    sec = (pub["secret"] & pd.Series(counts).between(1, 4)).to_numpy()
    assert sec.sum() > 20
    donne = pub["label"].isin([REVELATRICE, BLANCHE, NORME]).to_numpy() & sec
    for valeur in range(1, 5):
        v = np.full(n, float(valeur))
        exact = etiqueter_intervalles(v, v, t["attendu"], seuil_p=pub.attrs["seuil_p"],
                                      phi=pub.attrs["phi"], attendu_min=t["attendu_min"],
                                      attendu_max=t["attendu_max"])
        assert (exact["label"].to_numpy()[donne] == pub["label"].to_numpy()[donne]).all()


def test_indice_de_priorite_sans_abandon_silencieux():
    rng = np.random.default_rng(4)
    n = 300
    pops = rng.integers(150, 20_000, n)
    c = _communes(pops.tolist(), arr=["991"] * 250 + ["992"] * 50)
    counts = rng.poisson(pops * 3e-3)
    masques = {i for i in range(250) if 1 <= counts[i] <= 4}
    t = analyser_table(_lot("A", counts[:250].tolist(), codes=list(c["code_insee"][:250]),
                            masques=masques), c, territoires_contributeurs={"A": "991"})
    t["referent"] = False
    t["referent_forme"] = False
    t["distance_accueil_de_jour_km"] = rng.uniform(0, 40, n)
    out = indice_priorite(t, {"poids_sous_revelation": 0.5, "poids_distance": 0.3,
                              "poids_sans_referent": 0.2, "type_distance": "accueil_de_jour"})
    hors = out["couverture"] == "hors_perimetre"
    assert out.loc[hors, "rang_priorite"].isna().all()
    assert out.loc[hors, "priorite_statut"].str.contains("hors du périmètre").all()
    masq = out["masque"].to_numpy(bool)
    assert (out.loc[masq, "indice_priorite_min"] <= out.loc[masq, "indice_priorite_max"]).all()
    assert (out.loc[masq, "rang_priorite_min"] <= out.loc[masq, "rang_priorite_max"]).all()
    # Plus de 100 % des premiers rangs aux communes masquées (ils étaient 100 sur 100).
    top = out.nsmallest(40, "rang_priorite")
    assert top["masque"].mean() < 0.9
    assert set(out.attrs["non_classees"]) >= set(out.loc[hors, "code"])


def test_lissage_spatial_voisinage_a_zero_et_masquees_dans_le_graphe(square_communes):
    from scipy import sparse

    w = sparse.csr_matrix(np.ones((4, 4)) - np.eye(4))
    r = smoothing.bayes_empirique_spatial(np.zeros(4), np.full(4, 1000.0), w)
    assert (r == 0).all()
    c = _communes([1000, 2000, 3000, 4000])
    geo = square_communes.rename(columns={"code_insee": "code"})
    geo["code"] = c["code_insee"]
    t = analyser_table(_lot("A", [0, 3, 30, 40], masques={1}), c, geometrie=geo, moran=True)
    # La commune masquée reste une voisine : les autres ont un taux lissé spatial et un
    # Moran local ; elle-même n'en publie pas.
    assert t["taux_lisse_spatial"].notna().tolist() == [True, False, True, True]
    assert t["moran_local_i"].notna().tolist() == [True, False, True, True]


# --- tendances, dénominateurs ---------------------------------------------------------------
def test_tendance_population_inconnue_et_sources_des_deux_annees():
    c = _communes([1000, 2000, 3000])
    v = pd.concat([_lot("A", [5, 10, 40], annee=2023), _lot("A", [9, 30, 38], annee=2024),
                   _lot("B", [50, 50, 50], annee=2024)])
    pop = {2023: pd.Series({"99000": 1000.0, "99002": 3000.0}),
           2024: pd.Series({"99000": 1000.0, "99001": 2000.0, "99002": 3000.0})}
    t = tendance(v, c, 2023, 2024, population=pop)
    assert t.attrs["sources_ecartees"] == ["B"]  # absente en 2023 : pas comparée
    assert t["observe_2"].tolist() == [9, 30, 38]
    assert t["sens"].iat[1] == "non concluant"
    assert t["motif_tendance"].iat[1] == "population inconnue une des deux années"


def test_populations_par_annee(engine):
    from observatoire.stats.denominateurs import importer_populations, populations_par_annee

    importer_populations(pd.DataFrame({"code_insee": ["62001"], "population": ["612"]}), 2023,
                         engine=engine)
    pops, sources = populations_par_annee([2023, 2024], engine=engine)
    assert pops[2023].to_dict() == {"62001": 612.0} and pops[2024] is None
    assert "2023 (table des populations)" in sources["2023"]
    assert "population actuelle du référentiel" in sources["2024"]


# --- base, import, CLI ------------------------------------------------------------------------
def _store(engine, contributeur, annee, counts, perimetre=None):
    from observatoire import batches

    vals = pd.DataFrame({"code_insee": list(counts), "libelle_non_localise": None,
                         "indicateur": "victimes_accueillies", "valeur": list(counts.values()),
                         "masque": False, "feuille": None, "ligne": None, "colonne": None})
    return batches.store_batch(contributeur=contributeur, annee=annee, fichier="f.csv",
                               contenu=f"{contributeur}{annee}{perimetre}".encode(),
                               values=vals, utilisateur="t", engine=engine,
                               perimetre=perimetre)


def test_analyse_sur_la_base_perimetre_et_source_manquante(engine):
    from observatoire import stats

    # Seule l'ISCG de Béthune a envoyé 2023 : l'ISCG du reste du département manque.
    _store(engine, "iscg_bethune", 2023, {"62119": 40, "62178": 12})
    t = stats.analyser(2023, "victimes_accueillies", engine=engine, geometrie=None)
    assert (t.loc[t["arrondissement"] != "622", "couverture"] == "hors_perimetre").all()
    assert (t.loc[t["arrondissement"] == "622", "couverture"] == "complete").all()
    assert [m["contributeur"] for m in t.attrs["sources_manquantes"]] == ["iscg_62"]
    assert any("source attendue absente" in a for a in t.attrs["avertissements"])
    pub = vue_publique(t)["commune"]
    assert not pub.loc[t["arrondissement"].to_numpy() != "622", "secret"].any()
    # Un lot au périmètre restreint : hors de lui, les communes sont hors du périmètre.
    _store(engine, "iscg_bethune", 2023, {"62119": 40}, perimetre="62119|62178")
    t = stats.analyser(2023, "victimes_accueillies", engine=engine, geometrie=None)
    assert set(t.loc[t["couverture"] != "hors_perimetre", "code"]) == {"62119", "62178"}
    assert t.loc[t["code"] == "62178", "observe"].iat[0] == 0


def test_cli_importer_avec_perimetre(engine, capsys, tmp_path):
    f = tmp_path / "iscg.csv"
    f.write_text("Commune;Victimes accueillies\nBéthune;40\nBeuvry;7\n", encoding="utf-8")
    code, out, err = run_cli(capsys, "contributions", "importer", str(f), "--contributeur",
                             "iscg_bethune", "--annee", "2023", "--perimetre", "62119|62126")
    assert code == 0, err
    assert "périmètre du lot restreint à 2 commune(s)" in out
    from observatoire import batches

    assert batches.list_batches(engine)["perimetre"].tolist() == ["62119|62126"]
    code, out, _err = run_cli(capsys, "contributions", "historique")
    assert "périmètre 62119|62126" in out
    code, out, err = run_cli(capsys, "contributions", "importer", str(f), "--contributeur",
                             "iscg_bethune", "--annee", "2023", "--perimetre", "62041")
    assert code != 0 and "déborde du territoire déclaré" in (out + err)


def test_cli_analyser_sans_fdr_et_sortie_texte(engine, agent, capsys, monkeypatch):
    from tests.conftest import AGENT_OPTIONS, AGENT_PASSWORD, run_cli_input

    _store(engine, "iscg_bethune", 2023, {"62119": 40, "62178": 12})
    # Une analyse ad hoc (sans contrôle de multiplicité) est réservée aux agents.
    code, out, err = run_cli_input(capsys, monkeypatch, AGENT_PASSWORD + "\n", "analyser",
                                   "--annee", "2023", "--indicateur", "victimes_accueillies",
                                   "--sans-fdr", "--staff", *AGENT_OPTIONS)
    assert code == 0, err
    assert "sans contrôle de multiplicité" in out
    assert "source attendue absente" in out and "hors du périmètre des sources" in out
    assert "Dénominateur 2023 : population actuelle du référentiel" in out


def test_tendance_et_serie_hors_perimetre_jamais_secretes():
    from observatoire.stats import serie

    c = _communes([1000, 2000, 3000], arr=["991", "991", "992"])
    v = pd.concat([_lot("p", [10, 20], codes=["99000", "99001"], annee=a) for a in (2023, 2024)])
    t = tendance(v, c, 2023, 2024, territoires_contributeurs={"p": "991"})
    assert t["couverture"].tolist() == ["complete", "complete", "hors_perimetre"]
    assert pd.isna(t["sens"].iat[2])
    s = serie(v, c, territoires_contributeurs={"p": "991"})
    assert (s.loc[s["couverture"] == "hors_perimetre", "observe"].isna()).all()
