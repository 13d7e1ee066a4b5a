"""Étiquettes sous l'hypothèse nulle : cartes simulées, graine fixe, vraies populations.

Les 887 communes du Pas-de-Calais (``data/communes/communes.csv``), le même taux vrai
partout, cinq dispositions de sources (:data:`observatoire.stats.simulation.DISPOSITIONS`) :
une source départementale ; départementale et arrondissement de Béthune ; police et
gendarmerie complémentaires (petites valeurs masquées) ; une source absente une des deux
années ; vérité surdispersée. Toute étiquette « révélatrice » ou « blanche présumée » y est
fausse. On vérifie :

- avec Benjamini–Hochberg (le défaut), au plus environ une fausse étiquette par carte ;
- sans lui, pas plus que le taux nominal, ni que ce que le test exact donne sous la
  vérité (:func:`~observatoire.stats.simulation.esperance_fausses_etiquettes`),
  arrondissement par arrondissement : aucun n'en porte un excès (avant cette issue,
  l'arrondissement de Béthune en portait 9 sur 42 communes testables, contre 9 sur 106
  ailleurs) ;
- la surdispersion estimée : environ 1 sans surdispersion, et celle de la vérité avec.
"""

from __future__ import annotations

import numpy as np
import pytest

from observatoire import catalogues
from observatoire import communes as _communes
from observatoire.stats import BLANCHE, REVELATRICE, analyser_table, poisson
from observatoire.stats import simulation as sim

CARTES = 16
ALPHA = 0.05


@pytest.fixture(scope="module")
def communes_62():
    return _communes.load_communes("62")


@pytest.fixture(scope="module")
def resultats(communes_62):
    """Chaque disposition simulée CARTES fois (graine fixe), résumée."""
    arr = communes_62["arrondissement"].to_numpy(object)
    out = {}
    for k, disposition in enumerate(sim.DISPOSITIONS):
        rng = np.random.default_rng([2026, k])
        r = {"bh": [], "sans": [], "attendu": [], "testees": [], "phi": [], "tau2": [],
             "par_arr": {a: [0.0, 0.0] for a in np.unique(arr)}}
        for _ in range(CARTES):
            carte = sim.simuler(disposition, communes_62, rng)
            t = analyser_table(carte.valeurs, communes_62,
                               territoires_contributeurs=carte.territoires or None,
                               groupes_sources=catalogues.groupes_sources(carte.territoires))
            faux_bh = t["label"].isin([REVELATRICE, BLANCHE]).to_numpy()
            pb = t["p_bilaterale"].to_numpy(float)
            faux = np.nan_to_num(pb, nan=1.0) <= ALPHA  # les étiquettes sans contrôle BH
            attendu = sim.esperance_fausses_etiquettes(
                t["attendu"], carte.moyenne, ALPHA, phi=max(t.attrs["phi"], 1.0), k=carte.k)
            r["bh"].append(faux_bh.sum())
            r["sans"].append(faux.sum())
            r["attendu"].append(attendu.sum())
            r["testees"].append(int(np.isfinite(pb).sum()))
            r["phi"].append(t.attrs["phi"])
            obs = t["observe"].to_numpy(dtype=float, na_value=np.nan)
            r["tau2"].append(poisson.estimer_dispersion(obs, t["attendu"], "additive").tau2)
            for a, tot in r["par_arr"].items():
                tot[0] += faux[arr == a].sum()
                tot[1] += attendu[arr == a].sum()
        out[disposition] = r
    return out


@pytest.mark.parametrize("disposition", list(sim.DISPOSITIONS))
def test_avec_benjamini_hochberg_au_plus_une_fausse_etiquette_par_carte(resultats,
                                                                          disposition):
    assert np.mean(resultats[disposition]["bh"]) <= 1.0


@pytest.mark.parametrize("disposition", list(sim.DISPOSITIONS))
def test_sans_controle_pas_plus_que_le_taux_nominal(resultats, disposition):
    r = resultats[disposition]
    moyenne = np.mean(r["sans"])
    assert moyenne <= ALPHA * np.mean(r["testees"])
    # Et ce que le test exact donne sous la vérité (à l'erreur de simulation près).
    assert moyenne <= 1.15 * np.mean(r["attendu"]) + 3 * np.sqrt(np.mean(r["attendu"]) / CARTES)


@pytest.mark.parametrize("disposition", list(sim.DISPOSITIONS))
def test_aucun_arrondissement_ne_porte_un_exces(resultats, disposition):
    for a, (observe, attendu) in resultats[disposition]["par_arr"].items():
        obs, att = observe / CARTES, attendu / CARTES
        assert obs <= 1.3 * att + 3 * np.sqrt(att / CARTES) + 0.25, (a, obs, att)


def test_surdispersion_estimee_sur_les_communes_d_attendu_suffisant(resultats):
    for disposition in ("departement", "departement_et_arrondissement", "source_absente"):
        assert 0.8 <= np.mean(resultats[disposition]["phi"]) <= 1.2, disposition
    # Vérité gamma : variance / moyenne = 1 + E / k, soit 2,8 à 20 cas attendus ; sur les
    # communes d'attendu au moins 10, φ est de cet ordre ; τ² retrouve 1 / k = 0,09.
    r = resultats["surdispersion"]
    assert 1.8 <= np.mean(r["phi"]) <= 3.5
    assert 0.05 <= np.mean(r["tau2"]) <= 0.14
    assert np.mean(resultats["departement"]["tau2"]) <= 0.02
