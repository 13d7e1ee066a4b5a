"""Secret secondaire des diffusions : planification et audit contre un intrus indépendant.

L'intrus de ces tests n'utilise rien du module qu'il attaque : il écrit lui-même, avec
``scipy.optimize.milp`` (nombres entiers), le programme que tout lecteur peut écrire avec
les tables publiées (valeurs visibles, zéros publiés, cellules tues ≥ 1, totaux = sommes
des communes, total = « dont » + complément ≥ 0), et cherche le minimum et le maximum de
chaque effectif protégé.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import Bounds, LinearConstraint, milp

from observatoire.diffusion.plan import CleTable, TableExacte, choisir, structure_diffusion
from observatoire.diffusion.protection import _ModeleDeplacement, auditer, planifier
from observatoire.diffusion.systeme import SystemeBuilder, composantes, intervalles

SEUIL = 5


def _territoire(valeurs, epci, arr):
    communes = pd.DataFrame({"code": [f"c{i}" for i in range(len(valeurs))],
                             "epci": [f"E{e}" for e in epci],
                             "arrondissement": [f"A{a}" for a in arr]})
    return communes


def _tables(communes, valeurs, indicateur="v", periode="2024", niveaux=("epci", "arrondissement",
                                                                          "departement")):
    lignes = communes.assign(observe=pd.array(valeurs, dtype="Int64"), observe_min=valeurs,
                             couverture="complete")
    cols = ["code", "observe", "observe_min", "couverture"]
    out = [TableExacte(CleTable(indicateur, periode, "commune"), lignes[cols],
                       annees=(int(periode),))]
    communes = communes.assign(departement="D")
    for niv in niveaux:
        col = niv
        g = lignes.assign(departement="D").groupby(col)
        agg = pd.DataFrame({"code": list(g.groups),
                            "observe": pd.array([int(g.get_group(k)["observe"].sum())
                                                 for k in g.groups], dtype="Int64")})
        agg["observe_min"] = agg["observe"].astype(float)
        agg["couverture"] = "complete"
        membres = {k: communes.loc[communes[col] == k, "code"].tolist() for k in g.groups}
        out.append(TableExacte(CleTable(indicateur, periode, niv), agg, membres=membres,
                               annees=(int(periode),)))
    return out


def intrus_milp(publiees: dict[tuple, float | None], relations: list[tuple[tuple, list[tuple]]],
                bornes_basses: dict[tuple, float]) -> dict[tuple, tuple[float, float]]:
    """Min et max entiers de chaque cellule tue (None = tue), par scipy.optimize.milp."""
    cles = sorted({c for t, ps in relations for c in (t, *ps)} | set(publiees), key=str)
    pos = {c: i for i, c in enumerate(cles)}
    n = len(cles)
    rows = []
    for t, ps in relations:
        r = np.zeros(n)
        r[pos[t]] -= 1
        for p in ps:
            r[pos[p]] += 1
        rows.append(r)
    lo = np.zeros(n)
    # Une borne très au-dessus de tout effectif tiré : « sans maximum » vaut 10 000.
    hi = np.full(n, 10_000.0)
    for c, v in publiees.items():
        if v is not None:
            lo[pos[c]] = hi[pos[c]] = v
        else:
            lo[pos[c]] = bornes_basses.get(c, 1.0)
    for c in cles:
        if c not in publiees:
            lo[pos[c]] = bornes_basses.get(c, 0.0)
    cons = [LinearConstraint(np.array(rows), 0, 0)] if rows else []
    out = {}
    for c, v in publiees.items():
        if v is not None:
            continue
        res = []
        for sens in (1, -1):
            obj = np.zeros(n)
            obj[pos[c]] = -sens
            r = milp(obj, constraints=cons, bounds=Bounds(lo, hi), integrality=np.ones(n))
            assert r.status == 0, r.message
            res.append(-r.fun if sens == 1 else r.fun)
        out[c] = (res[1], res[0])
    return out


def minimum_a_priori(publiees, relations, bornes_basses, cle):
    """Minimum d'une cellule quand seuls les zéros sont publiés (toute autre cellule ≥ 1).

    C'est ce que la structure des publications impose d'elle-même (un cumul de deux années
    secrètes vaut au moins 2) : l'exigence de protection ne peut pas descendre plus bas.
    """
    zeros = {c: (v if v == 0 else None) for c, v in publiees.items()}
    return max(1.0, intrus_milp(zeros, relations, bornes_basses)[cle][0])


def _vue_publique(structure, publie, tables):
    """Ce que le lecteur voit, et les relations qu'il écrit lui-même (sans le module)."""
    publiees = {}
    for k, cle in enumerate(structure.cles):
        if cle[0] == "cellule" and cle[2] in {t.cle.periode for t in tables}:
            publiees[cle] = structure.valeur[k] if publie[k] else None
    relations = []
    for t in tables:
        if t.cle.niveau == "commune":
            continue
        for code, membres in t.membres.items():
            relations.append((("cellule", t.cle.indicateur, t.cle.periode, t.cle.niveau, code),
                              [("cellule", t.cle.indicateur, t.cle.periode, "commune", m)
                               for m in membres]))
    return publiees, relations


def test_exemple_a_la_main():
    # EPCI E1 : 3 (secret), 12, 7 ; E2 : 0, 2 (secret), 9. Totaux publiés.
    communes = _territoire([3, 12, 7, 0, 2, 9], [1, 1, 1, 2, 2, 2], [1, 1, 1, 1, 1, 1])
    tables = _tables(communes, [3, 12, 7, 0, 2, 9])
    s = structure_diffusion(tables, seuil=SEUIL)
    publie, audit, _ctx = choisir(s, [], SEUIL)
    assert audit.sur
    vus = dict(zip(s.cles, publie, strict=True))
    # Chaque cellule primaire est tue, et une seconde cellule non nulle de son EPCI aussi.
    assert not vus[("cellule", "v", "2024", "commune", "c0")]
    assert not vus[("cellule", "v", "2024", "commune", "c4")]
    assert vus[("cellule", "v", "2024", "commune", "c3")]  # le zéro reste publié
    assert sum(not vus[("cellule", "v", "2024", "commune", f"c{i}")] for i in range(6)) == 4
    pub, rel = _vue_publique(s, publie, tables)
    for cle, (lo, hi) in intrus_milp(pub, rel, {}).items():
        if s.protegee[s.position(cle)]:
            assert lo <= 1 and hi >= SEUIL - 1, (cle, lo, hi)


def test_soustraction_simple_bloquee():
    # Sans secret secondaire, total − visibles = la cellule secrète.
    b = SystemeBuilder()
    a = b.variable("a", 2, publie=False)
    c = b.variable("c", 10, publie=True)
    t = b.variable("t", 12, publie=True)
    b.somme(t, [a, c])
    s = b.construire()
    prot = np.array([True, False, False])
    aud = auditer(s, prot, SEUIL)
    assert not aud.sur and aud.expositions[0].bas == aud.expositions[0].haut == 2
    publie, aud2 = planifier(s, prot, np.array([False, True, True]), SEUIL)
    assert aud2.sur
    assert not publie[c] or not publie[t]


@pytest.mark.parametrize("entier", [False, True], ids=["continu", "entier"])
def test_deplacement_continu_et_entier_tait_la_cellule_la_moins_chere(entier):
    # a = t − c : pour que a puisse valoir 4, il faut bouger c (coût 10) ou t (coût 12).
    b = SystemeBuilder()
    a = b.variable("a", 2, publie=False)
    c = b.variable("c", 10, publie=True)
    t = b.variable("t", 12, publie=True)
    b.somme(t, [a, c])
    s = b.construire()
    lab, rows_e, rows_g = composantes(s, np.ones(s.n, bool))
    modele = _ModeleDeplacement(s, np.flatnonzero(lab == lab[a]),
                                np.flatnonzero(rows_e == lab[a]),
                                np.flatnonzero(rows_g == lab[a]), entier=entier)
    taire, point = modele(s.publie, np.array([False, True, True]), s.valeur, a, 4.0, True)
    assert taire.tolist() == [c]
    assert point is not None and point.tolist() == [4.0, 8.0, 12.0]
    # Une fois c tue, plus rien à bouger : le programme reste réalisable sans coût.
    publie = s.publie.copy()
    publie[c] = False
    taire, point = modele(publie, np.array([False, True, True]), s.valeur, a, 4.0, True)
    assert taire.size == 0 and point is not None
    assert point[a] >= 4.0 and point[a] + point[c] == point[t] == 12.0


def test_borne_tous_a_un():
    # Deux secrets d'un groupe dont le reste du total vaut 2 : les deux valent 1.
    b = SystemeBuilder()
    x = b.variable("x", 1, publie=False)
    y = b.variable("y", 1, publie=False)
    z = b.variable("z", 20, publie=True)
    t = b.variable("t", 22, publie=True)
    b.somme(t, [x, y, z])
    s = b.construire()
    iv = intervalles(s)
    assert iv.haut[x] == 1 and iv.haut[y] == 1
    publie, aud = planifier(s, np.array([True, True, False, False]),
                            np.array([False, False, True, True]), SEUIL)
    assert aud.sur


def test_complement_dont():
    # Total 12, dont femmes 9 : 3 hommes, à protéger.
    communes = _territoire([12, 30], [1, 1], [1, 1])
    total = _tables(communes, [12, 30], indicateur="tot")
    femmes = _tables(communes, [9, 27], indicateur="fem")
    s = structure_diffusion(total + femmes, seuil=SEUIL, dont={"fem": "tot"})
    assert ("complement", "fem", "2024", "commune", "c0") in s
    publie, audit, _ = choisir(s, [], SEUIL)
    assert audit.sur
    vus = dict(zip(s.cles, publie, strict=True))
    assert not (vus[("cellule", "tot", "2024", "commune", "c0")]
                and vus[("cellule", "fem", "2024", "commune", "c0")])


def test_diffusion_anterieure_fixe():
    # 2023 publiée : commune c0 secrète (2). En 2024, un cumul la relie à 2024.
    communes = _territoire([2, 40], [1, 1], [1, 1])
    t23 = _tables(communes, [2, 40], periode="2023")
    s23 = structure_diffusion(t23, seuil=SEUIL)
    p23, a23, _ = choisir(s23, [], SEUIL)
    s23.marquer(p23)
    assert a23.sur
    t24 = _tables(communes, [7, 41], periode="2024")
    cumul = TableExacte(CleTable("v", "2023-2024", "commune"),
                        communes.assign(observe=pd.array([9, 81], dtype="Int64"),
                                        observe_min=[9, 81], couverture="complete",
                                        observe_2023=pd.array([2, 40], dtype="Int64"),
                                        observe_min_2023=[2, 40]),
                        annees=(2023, 2024))
    s24 = structure_diffusion(t24 + [cumul], seuil=SEUIL)
    p24, a24, _ = choisir(s24, [s23], SEUIL)
    assert a24.sur
    vus = dict(zip(s24.cles, p24, strict=True))
    # Le cumul 9 et l'effectif 2024 (7) publiés ensemble donneraient 2023 = 2.
    assert not (vus[("cellule", "v", "2023-2024", "commune", "c0")]
                and vus[("cellule", "v", "2024", "commune", "c0")])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 9), st.integers(0, 3), st.integers(0, 1)),
                min_size=2, max_size=12))
def test_propriete_aucune_cellule_resserree(communes_tirees):
    valeurs = [v for v, _e, _a in communes_tirees]
    communes = _territoire(valeurs, [e for _v, e, _a in communes_tirees],
                           [a for _v, _e, a in communes_tirees])
    tables = _tables(communes, valeurs)
    s = structure_diffusion(tables, seuil=SEUIL)
    publie, audit, _ = choisir(s, [], SEUIL)
    pub, rel = _vue_publique(s, publie, tables)
    # Aucune valeur entre 1 et 4 n'est publiée.
    assert not any(v is not None and 1 <= v <= SEUIL - 1 and c[3] == "commune"
                   for c, v in pub.items())
    plages = intrus_milp(pub, rel, {})
    for cle, (lo, hi) in plages.items():
        if s.protegee[s.position(cle)]:
            assert lo <= 1 and hi >= SEUIL - 1, (cle, lo, hi)
    # L'audit du module dit la même chose que l'intrus indépendant.
    assert audit.sur
