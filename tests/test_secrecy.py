"""Secret statistique : primaire, dérivés, secondaire, masqué à la source, vue agents."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from observatoire import secrecy
from observatoire.errors import ObservatoireError
from observatoire.stats import analyser_table, tendance


def _table(obs, epci=None, arr=None, masque=None):
    n = len(obs)
    return pd.DataFrame({
        "code": [f"9{i:04d}" for i in range(n)],
        "niveau": "commune",
        "epci": epci or ["E1"] * n,
        "arrondissement": arr or ["991"] * n,
        "departement": ["99"] * n,
        "observe": pd.array(obs, dtype="Int64"),
        "taux": [np.nan if o is None else o / 10 for o in obs],
        "label": ["dans la norme"] * n,
        "masque": masque or [False] * n,
    })


def test_secret_primaire_zero_visible():
    # 12 et 30 publiés, 0 visible, 3 et 4 masqués (deux cellules masquées dans le groupe,
    # de somme 7 : ni toutes à 1, ni toutes à 4).
    pub = secrecy.apply_public(_table([0, 3, 4, 12, 30]), 5)
    assert pub["observe"].tolist()[0] == 0
    assert pub["secret"].tolist() == [False, True, True, False, False]
    assert pd.isna(pub["observe"].iat[1]) and pd.isna(pub["taux"].iat[1])
    assert pub["label"].tolist() == ["dans la norme"] * 5  # les étiquettes restent
    assert pub["motif_secret"].iat[1] == secrecy.MOTIF_PRIMAIRE
    assert pub.attrs["vue"] == "publique"


def test_vue_agents_explicite():
    t = _table([0, 3, 4, 12, 30])
    staff = secrecy.apply_public(t, 5, staff=True)
    assert staff["observe"].tolist() == [0, 3, 4, 12, 30]
    assert staff.attrs["vue"] == "agents"
    assert not staff["secret"].any()


def test_secret_secondaire_une_seule_cellule_masquee():
    # Une seule cellule masquée dans l'EPCI : le total la révélerait ; on masque la plus
    # petite cellule non nulle publiée (7), jamais le zéro.
    pub = secrecy.apply_public(_table([3, 0, 7, 40, 25]), 5)
    assert pub["secret"].tolist() == [True, False, True, False, False]
    assert pub["motif_secret"].iat[2] == secrecy.MOTIF_SECONDAIRE
    assert pub["observe"].iat[1] == 0


def test_secret_secondaire_toutes_a_un():
    # Deux cellules masquées de somme 2 : chacune vaut forcément 1.
    pub = secrecy.apply_public(_table([1, 1, 9, 40]), 5)
    assert pub["secret"].sum() == 3
    assert pub["secret"].iat[2]


def test_secret_secondaire_toutes_au_seuil_moins_un():
    pub = secrecy.apply_public(_table([4, 4, 9, 40]), 5)
    assert pub["secret"].iat[2]


def test_total_masque_faute_de_cellule():
    # L'EPCI E1 n'a qu'une cellule masquée et des zéros : on masque son total, puis une
    # autre cellule ailleurs pour que le total du territoire ne le révèle pas.
    t = _table([2, 0, 0, 15, 22, 9], epci=["E1", "E1", "E1", "E2", "E2", "E2"])
    plan = secrecy.planifier(t, 5)
    assert "E1" in plan.totaux.get("epci", set())
    prot = secrecy.totaux_proteges(t, "epci", 5)
    assert bool(prot["E1"]) is True
    assert _deductibles(t, plan) == []


def test_masque_a_la_source():
    t = _table([None, 8, 12, 30], masque=[True, False, False, False])
    pub = secrecy.apply_public(t, 5)
    assert pub["secret"].iat[0]
    assert pub["motif_secret"].iat[0] == secrecy.MOTIF_SOURCE
    # Le total de l'EPCI est inconnu de tous : pas besoin de secret secondaire.
    assert pub["secret"].sum() == 1


def test_derives_masques_sur_le_tableau_d_analyse():
    c = pd.DataFrame({"code_insee": ["99001", "99002", "99003", "99004"],
                      "nom": list("ABCD"), "departement": "99", "arrondissement": "991",
                      "arrondissement_nom": "X", "epci": ["E1", "E1", "E2", "E2"],
                      "epci_nom": ["e1", "e1", "e2", "e2"],
                      "population": [1000, 2000, 3000, 4000]})
    v = pd.DataFrame({"annee": 2024, "contributeur": "p", "indicateur": "x",
                      "code_insee": c["code_insee"], "valeur": pd.array([2, 20, 0, 30], "Int64"),
                      "masque": False, "lot_id": 1})
    t = analyser_table(v, c)
    pub = secrecy.apply_public(t, 5)
    i = 0
    assert pub["secret"].iat[i]
    for col in ("observe", "ratio", "taux", "taux_lisse", "p_exces", "p_defaut",
                "p_bilaterale", "nb_sources", "motif"):
        assert pd.isna(pub[col].iat[i]), col
    assert pub["attendu"].iat[i] == pytest.approx(t["attendu"].iat[i])
    assert pub["label"].iat[i] == t["label"].iat[i]
    assert "observe_min" not in pub and "observe_max" not in pub
    # La commune 99002 protège 99001 dans l'EPCI E1.
    assert pub["secret"].iat[1]
    assert pub["observe"].iat[2] == 0


def test_niveau_agrege_sans_plan_refuse():
    t = pd.DataFrame({"code": ["E1"], "niveau": "epci", "observe": pd.array([3], "Int64")})
    with pytest.raises(ObservatoireError, match="total_protege"):
        secrecy.apply_public(t, 5)


def test_niveau_agrege_avec_communes():
    com = _table([2, 0, 0, 15, 22, 9], epci=["E1", "E1", "E1", "E2", "E2", "E2"])
    agg = pd.DataFrame({"code": ["E1", "E2"], "niveau": "epci",
                        "observe": pd.array([2, 46], "Int64"), "masque": False})
    pub = secrecy.apply_public(agg, 5, communes=com)
    assert pub["secret"].tolist()[0] is True or bool(pub["secret"].iat[0])
    assert pd.isna(pub["observe"].iat[0])


def test_tendance_difference_masquee():
    c = pd.DataFrame({"code_insee": ["99001", "99002", "99003", "99004"], "nom": list("ABCD"),
                      "departement": "99", "arrondissement": "991", "arrondissement_nom": "X",
                      "epci": "E1", "epci_nom": "e1", "population": [1000, 2000, 3000, 500]})
    rows = []
    for annee, vals in ((2023, [3, 10, 20, 0]), (2024, [8, 9, 21, 0])):
        for code, val in zip(c["code_insee"], vals, strict=True):
            rows.append((annee, "p", "x", code, val, False, 1))
    v = pd.DataFrame(rows, columns=["annee", "contributeur", "indicateur", "code_insee",
                                    "valeur", "masque", "lot_id"])
    v["valeur"] = v["valeur"].astype("Int64")
    t = tendance(v, c, 2023, 2024)
    assert t["difference"].tolist() == [5, -1, 1, 0]
    pub = secrecy.apply_public(t, 5)
    # 2023 : 3 masqué (primaire), 10 masqué pour le protéger (secondaire) ; 2024 publié.
    assert pd.isna(pub["observe_1"].iat[0]) and pub["observe_2"].iat[0] == 8
    assert pd.isna(pub["observe_1"].iat[1]) and pub["observe_2"].iat[1] == 9
    # Un écart révélerait l'année masquée : il l'est aussi, comme le taux et le test.
    assert pd.isna(pub["difference"].iat[0]) and pd.isna(pub["difference"].iat[1])
    assert pd.isna(pub["p_tendance"].iat[0]) and pd.isna(pub["taux_1"].iat[0])
    assert pub["difference"].iat[2] == 1 and pub["difference"].iat[3] == 0
    assert pub["motif_secret"].iat[0] == secrecy.MOTIF_PRIMAIRE
    assert pub["motif_secret"].iat[1] == secrecy.MOTIF_SECONDAIRE


# --- audit indépendant : algèbre linéaire sur les totaux publiés -----------------------------
def _deductibles(t: pd.DataFrame, plan: secrecy.PlanSecret, seuil: int = 5) -> list[str]:
    """Cellules masquées que les totaux publiés déterminent (rang d'une matrice)."""
    val = t["observe"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    sec = plan.communes["secret"].to_numpy(bool)
    n = len(t)
    # Variables : communes, puis totaux (tous les niveaux) ; une ligne par relation.
    totals = [("territoire", "*", np.ones(n, bool))]
    for niv in ("epci", "arrondissement", "departement"):
        for g in pd.unique(t[niv]):
            totals.append((niv, g, (t[niv] == g).to_numpy()))
    unknown_tot = [(niv == "territoire" and "*" in plan.totaux.get("territoire", set()))
                   or g in plan.totaux.get(niv, set()) or np.isnan(val[m]).any()
                   for niv, g, m in totals]
    cols = [i for i in range(n) if sec[i]] + [n + k for k, u in enumerate(unknown_tot) if u]
    if not cols:
        return []
    pos = {c: j for j, c in enumerate(cols)}
    rows = []

    def rel(parent, children):
        r = np.zeros(len(cols))
        if parent in pos:
            r[pos[parent]] -= 1
        for ch in children:
            if ch in pos:
                r[pos[ch]] += 1
        if r.any():
            rows.append(r)

    for k, (_niv, _g, m) in enumerate(totals):
        rel(n + k, np.flatnonzero(m))
    for niv in ("epci", "arrondissement", "departement"):
        rel(n, [n + k for k, (nv, _g, _m) in enumerate(totals) if nv == niv])
    a = np.array(rows) if rows else np.zeros((0, len(cols)))
    rank = np.linalg.matrix_rank(a) if len(a) else 0
    out = []
    for i in range(n):
        if sec[i] and not np.isnan(val[i]):
            e = np.zeros(len(cols))
            e[pos[i]] = 1
            if np.linalg.matrix_rank(np.vstack([a, e])) == rank:
                out.append(t["code"].iat[i])
    # Soustraction simple dans chaque groupe publié : cellules masquées toutes à 1.
    for k, (_niv, _g, m) in enumerate(totals):
        if unknown_tot[k]:
            continue
        masq = m & sec
        if masq.sum() >= 2 and not np.isnan(val[masq]).any() and val[masq].sum() == masq.sum():
            out.append(f"groupe {_niv} {_g} : cellules masquées toutes à 1")
    return out


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_propriete_aucune_cellule_1_4_publiee_ni_deductible(data):
    n = data.draw(st.integers(1, 14))
    obs = data.draw(st.lists(st.one_of(st.integers(0, 6), st.integers(0, 60)), min_size=n,
                             max_size=n))
    epci = data.draw(st.lists(st.sampled_from(["E1", "E2", "E3"]), min_size=n, max_size=n))
    arr = data.draw(st.lists(st.sampled_from(["991", "992"]), min_size=n, max_size=n))
    src = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
    src = [s and data.draw(st.integers(0, 4)) == 0 for s in src]  # quelques-unes seulement
    obs_src = [None if s else o for o, s in zip(obs, src, strict=True)]
    t = _table(obs_src, epci=epci, arr=arr, masque=src)
    pub = secrecy.apply_public(t, 5)
    publies = pub["observe"].dropna().astype(int)
    assert not publies.between(1, 4).any()
    assert (pub.loc[pub["secret"], "observe"].isna()).all()
    assert pd.isna(pub.loc[pub["secret"], "taux"]).all()
    # Les zéros restent visibles.
    zeros = [i for i, o in enumerate(obs_src) if o == 0]
    assert all(pub["observe"].iat[i] == 0 for i in zeros)
    plan = secrecy.planifier(t, 5)
    assert _deductibles(t, plan) == []


@settings(max_examples=40, deadline=None)
@given(seuil=st.integers(2, 11), obs=st.lists(st.integers(0, 30), min_size=2, max_size=10))
def test_propriete_seuil_configurable(seuil, obs):
    pub = secrecy.apply_public(_table(obs), seuil)
    assert not pub["observe"].dropna().astype(int).between(1, seuil - 1).any()


def test_seuil_par_defaut_de_la_configuration():
    pub = secrecy.apply_public(_table([0, 3, 4, 12, 30]))
    assert pub.attrs["seuil_secret"] == 5


def test_seuil_invalide():
    with pytest.raises(ObservatoireError, match="Seuil du secret invalide"):
        secrecy.apply_public(_table([1]), 0)
