"""Attaques d'un intrus contre les publications : elles réussissent contre une protection
cellule par cellule ou requête par requête, et échouent contre une diffusion planifiée.

Chaque attaque est d'abord jouée contre une protection naïve (celle que l'observatoire
avait : secret primaire, puis secret secondaire vérifié par les seules égalités exactes),
pour montrer qu'elle porte ; puis contre le plan des diffusions, où elle doit échouer.
L'intrus est celui de ``test_diffusion_protection`` : programme en nombres entiers écrit
avec scipy, sans rien du module attaqué.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from observatoire.diffusion.plan import (
    CleTable,
    SourceLot,
    TableExacte,
    choisir,
    structure_diffusion,
)
from tests.test_diffusion_protection import (
    SEUIL,
    _tables,
    _territoire,
    intrus_milp,
    minimum_a_priori,
)

# Cas trouvés par recherche aléatoire : la protection naïve y laisse un effectif encadré.
CAS_BORNES = [
    # valeurs, EPCI, arrondissement
    ([4, 1, 0, 3, 5, 3], [2, 1, 1, 2, 2, 1], [0, 1, 1, 1, 0, 0]),
    ([0, 2, 2, 9, 1, 4, 1, 0, 7], [0, 0, 1, 1, 0, 2, 2, 2, 0], [1, 0, 1, 1, 0, 1, 0, 0, 1]),
    ([2, 1, 1, 1, 6], [0, 2, 1, 0, 2], [1, 1, 0, 1, 1]),
]


def _relations(communes, niveaux=("epci", "arrondissement", "departement")):
    c = communes.assign(departement="D")
    rel = []
    for niv in niveaux:
        for g in sorted(c[niv].unique()):
            rel.append((("cellule", "v", "2024", niv, g),
                        [("cellule", "v", "2024", "commune", k)
                         for k in c.loc[c[niv] == g, "code"]]))
    return rel


def _naif(communes, valeurs):
    """Secret primaire, puis secondaire tant qu'une égalité exacte détermine une cellule.

    La vérification est celle d'avant les diffusions : une cellule tue est trouvée si elle
    est déterminée par les relations (son vecteur unité est dans l'espace des lignes) —
    les bornes (une cellule tue vaut au moins 1) sont ignorées.
    """
    rel = _relations(communes)
    cles = [("cellule", "v", "2024", "commune", k) for k in communes["code"]]
    totaux = [t for t, _p in rel]
    toutes = cles + totaux
    vals = dict(zip(cles, map(float, valeurs), strict=True))
    for t, parts in rel:
        vals[t] = sum(vals[p] for p in parts)
    tue = {c: (c in cles and 1 <= vals[c] <= SEUIL - 1) for c in toutes}
    for _ in range(50):
        libres = [c for c in toutes if tue[c]]
        if not libres:
            break
        a = np.zeros((len(rel), len(libres)))
        li = {c: j for j, c in enumerate(libres)}
        for r, (t, parts) in enumerate(rel):
            for c, coef in [(t, -1.0)] + [(p, 1.0) for p in parts]:
                if c in li:
                    a[r, li[c]] += coef
        _u, s, vt = np.linalg.svd(a, full_matrices=False)
        base = vt[: int((s > 1e-9).sum())]
        determine = 1 - (base * base).sum(axis=0) < 1e-9
        if not determine.any():
            break
        # Taire la plus petite cellule non nulle visible d'un groupe de la cellule trouvée.
        cible = libres[int(np.flatnonzero(determine)[0])]
        for t, parts in rel:
            if cible == t or cible in parts:
                cand = [p for p in parts if not tue[p] and vals[p] > 0]
                choix = min(cand, key=lambda p: vals[p]) if cand else t
                tue[choix] = True
                break
    return {c: (None if tue[c] else vals[c]) for c in toutes}, rel


@pytest.mark.parametrize("valeurs, epci, arr", CAS_BORNES)
def test_bornes_programme_lineaire(valeurs, epci, arr):
    communes = _territoire(valeurs, epci, arr)
    publiees, rel = _naif(communes, valeurs)
    plages = intrus_milp(publiees, rel, {})
    naif_expose = [c for c, (lo, hi) in plages.items()
                   if c[3] == "commune" and 1 <= valeurs[int(c[4][1:])] <= SEUIL - 1
                   and (lo > 1 or hi < SEUIL - 1)]
    assert naif_expose, "l'attaque par bornes doit porter contre la protection naïve"
    # Le plan des diffusions : plus aucune cellule encadrée.
    tables = _tables(communes, valeurs)
    s = structure_diffusion(tables, seuil=SEUIL)
    publie, audit, _ = choisir(s, [], SEUIL)
    assert audit.sur
    vues = {c: (s.valeur[k] if publie[k] else None) for k, c in enumerate(s.cles)}
    for c, (lo, hi) in intrus_milp(vues, rel, {}).items():
        if s.protegee[s.position(c)]:
            assert lo <= 1 and hi >= SEUIL - 1, (c, lo, hi)


def test_deux_annees_moins_une():
    """(2022 + 2023) − 2023 = 2022 : le cumul et l'année sont planifiés ensemble."""
    communes = _territoire([3, 8, 20], [0, 0, 0], [0, 0, 0])
    t23 = _tables(communes, [3, 8, 20], periode="2023")
    t24 = _tables(communes, [6, 9, 21], periode="2024")
    cumul = TableExacte(CleTable("v", "2023-2024", "commune"),
                        communes.assign(observe=pd.array([9, 17, 41], dtype="Int64"),
                                        observe_min=[9, 17, 41], couverture="complete"),
                        annees=(2023, 2024))
    s = structure_diffusion(t23 + t24 + [cumul], seuil=SEUIL)
    publie, audit, _ = choisir(s, [], SEUIL)
    assert audit.sur
    vus = dict(zip(s.cles, publie, strict=True))
    # Le cumul de c0 (9) moins 2024 (6) donnerait 2023 = 3 : l'un des deux est tu.
    assert not (vus[("cellule", "v", "2023-2024", "commune", "c0")]
                and vus[("cellule", "v", "2024", "commune", "c0")])


def test_complement_dont_les_hommes():
    """Total − « dont femmes » = les hommes : 1 à 4, protégé comme une cellule."""
    communes = _territoire([14, 40, 7], [0, 0, 1], [0, 0, 0])
    tot = _tables(communes, [14, 40, 7], indicateur="tot")
    fem = _tables(communes, [12, 31, 7], indicateur="fem")
    s = structure_diffusion(tot + fem, seuil=SEUIL, dont={"fem": "tot"})
    publie, audit, _ = choisir(s, [], SEUIL)
    assert audit.sur
    val = dict(zip(s.cles, s.valeur, strict=True))
    vu = dict(zip(s.cles, publie, strict=True))
    for code in ("c0", "c1", "c2"):
        t, f = ("cellule", "tot", "2024", "commune", code), ("cellule", "fem", "2024",
                                                              "commune", code)
        if vu[t] and vu[f]:
            assert not 1 <= val[t] - val[f] <= SEUIL - 1, code


def test_totaux_des_sources():
    """Le taux de référence d'une source petite révèle son total : il est une relation."""
    # Une source couvre c0 et c1 seulement, total 7 ; une autre couvre tout.
    communes = _territoire([3, 9, 30], [0, 0, 0], [0, 0, 0])
    tables = _tables(communes, [3, 9, 30])
    sources = [SourceLot("v", "petite", 2024, ["c0", "c1"], 7.0),
               SourceLot("v", "grande", 2024, ["c0", "c1", "c2"], 35.0)]
    s = structure_diffusion(tables, seuil=SEUIL, sources=sources)
    publie, audit, _ = choisir(s, [], SEUIL)
    assert audit.sur
    assert s.couvertures, "les totaux des sources entrent dans le système de l'intrus"


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 8), st.integers(0, 8), st.integers(0, 2),
                          st.integers(0, 1)), min_size=2, max_size=7),
       st.integers(0, 3))
def test_propriete_deux_indicateurs_et_un_cumul(tirage, perte):
    """Total, « dont », deux années et leur cumul : aucun effectif protégé encadré."""
    n = len(tirage)
    v23 = [a for a, _b, _e, _r in tirage]
    v24 = [b for _a, b, _e, _r in tirage]
    f24 = [max(b - (perte if b >= perte else 0), 0) for b in v24]
    communes = _territoire(v24, [e for *_x, e, _r in tirage], [r for *_x, r in tirage])
    tables = (_tables(communes, v23, periode="2023") + _tables(communes, v24)
              + _tables(communes, f24, indicateur="f"))
    cum = [a + b for a, b in zip(v23, v24, strict=True)]
    tables.append(TableExacte(CleTable("v", "2023-2024", "commune"),
                              communes.assign(observe=pd.array(cum, dtype="Int64"),
                                              observe_min=cum, couverture="complete"),
                              annees=(2023, 2024)))
    s = structure_diffusion(tables, seuil=SEUIL, dont={"f": "v"})
    publie, audit, _ = choisir(s, [], SEUIL)
    vues = {c: (s.valeur[k] if publie[k] else None) for k, c in enumerate(s.cles)
            if c[0] == "cellule"}
    rel = [(t, list(p)) for t, p in s.sommes]
    bornes = {c: 0.0 for c in s.cles if c[0] == "complement"}
    bornes.update({c: 1.0 for c, v in vues.items() if v is None})
    vues = {**vues, **{c: None for c in s.cles if c[0] == "complement"}}
    plages = intrus_milp(vues, rel, bornes)
    for c, (lo, hi) in plages.items():
        if s.protegee[s.position(c)]:
            bas = 1.0 if lo <= 1 else minimum_a_priori(vues, rel, bornes, c)
            assert lo <= bas and hi >= SEUIL - 1, (c, lo, hi, n)
    assert audit.sur


def test_taux_lisse_des_voisines(square_communes):
    """Le taux lissé spatial d'une commune visible trahit sa voisine secrète ; une diffusion
    ne publie qu'un taux lissé que l'on recalcule du seul contenu public."""
    from observatoire.diffusion import lecture
    from observatoire.diffusion.preparation import Reglages, diffuser, tables_periode
    from observatoire.stats import smoothing

    valeurs = np.array([3.0, 20.0, 12.0, 9.0])
    pops = square_communes["population"].to_numpy(float)
    w = smoothing.contiguite_reine(square_communes.geometry)
    publie = smoothing.bayes_empirique_spatial(valeurs, pops, w)
    # L'attaque : essayer 1 à 4 pour la secrète et garder la valeur qui redonne le taux
    # publié de ses voisines visibles.
    trouvees = [v for v in range(1, 5)
                if np.allclose(smoothing.bayes_empirique_spatial(
                    np.array([v, 20.0, 12.0, 9.0]), pops, w)[1:], publie[1:])]
    assert trouvees == [3], "l'attaque doit porter contre un lissage spatial publié"
    # La diffusion : pas de lissage spatial, un taux lissé global aux moments des visibles.
    m = pd.DataFrame({
        "code": square_communes["code_insee"], "nom": square_communes["nom"],
        "epci": square_communes["epci"], "arrondissement": "991", "departement": "99",
        "population": pops, "personnes_annees": pops,
        "observe": pd.array(valeurs.astype(int), dtype="Int64"), "observe_min": valeurs,
        "attendu": pops * valeurs.sum() / pops.sum(),
        "attendu_min": pops * valeurs.sum() / pops.sum(),
        "attendu_max": pops * valeurs.sum() / pops.sum(), "couverture": "complete"})
    res = diffuser(tables_periode("v", [2024], m, ("epci",)), reglages=Reglages(seuil=5))
    pub = {"annee": 2024, "tables": res.tables}
    t = lecture.table(pub, "v", "2024", "commune")
    assert "taux_lisse_spatial" not in t
    vis = ~t["secret"]
    assert t["secret"].iat[0] and vis.sum() >= 2
    recalcule = smoothing.bayes_empirique(t.loc[vis, "observe"].astype(float).to_numpy(),
                                          t.loc[vis, "personnes_annees"].to_numpy()) * 1000
    assert np.allclose(t.loc[vis, "taux_lisse"].to_numpy(), recalcule)
