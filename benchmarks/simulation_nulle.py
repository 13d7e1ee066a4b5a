"""Fausses étiquettes par carte sous l'hypothèse nulle : les chiffres de la méthode.

Pour chaque disposition de sources (:data:`observatoire.stats.simulation.DISPOSITIONS`),
``R`` cartes des 887 communes du Pas-de-Calais (vraies populations, graine fixe) où le
taux vrai est le même partout : toute étiquette « révélatrice » ou « blanche présumée »
est fausse. Imprime, avec et sans Benjamini–Hochberg, le nombre moyen de fausses
étiquettes par carte, la part des cartes qui en ont au moins une, leur répartition par
arrondissement (et ce que le test exact en donnerait sous la vérité), et la surdispersion
estimée (φ multiplicatif, τ² additif) ; pour la vérité surdispersée, les deux modèles.

Usage : ``.venv/bin/python benchmarks/simulation_nulle.py [R]`` (R = 200 par défaut).
"""

from __future__ import annotations

import sys
import time

import numpy as np


def simuler(disposition: str, cartes: int, modele: str = "multiplicative") -> dict:
    """Résumé de ``cartes`` cartes simulées d'une disposition."""
    from observatoire import catalogues
    from observatoire import communes as _communes
    from observatoire.stats import BLANCHE, REVELATRICE, analyser_table, poisson
    from observatoire.stats import simulation as sim

    com = _communes.load_communes("62")
    arr = com["arrondissement"].to_numpy(object)
    rng = np.random.default_rng([62, list(sim.DISPOSITIONS).index(disposition)])
    r = {"bh": [], "sans": [], "attendu": [], "phi": [], "tau2": [],
         "arr": {a: [0.0, 0.0, 0.0] for a in np.unique(arr)}}
    for _ in range(cartes):
        carte = sim.simuler(disposition, com, rng)
        t = analyser_table(carte.valeurs, com, territoires_contributeurs=carte.territoires or None,
                           groupes_sources=catalogues.groupes_sources(carte.territoires),
                           surdispersion=modele)
        bh = t["label"].isin([REVELATRICE, BLANCHE]).to_numpy()
        sans = np.nan_to_num(t["p_bilaterale"].to_numpy(float), nan=1.0) <= 0.05
        phi = max(t.attrs["phi"], 1.0) if modele == "multiplicative" else 1.0
        tau2 = t.attrs["tau2"] if modele == "additive" else 0.0
        att = sim.esperance_fausses_etiquettes(t["attendu"], carte.moyenne, 0.05, phi=phi,
                                               tau2=tau2, k=carte.k)
        obs = t["observe"].to_numpy(dtype=float, na_value=np.nan)
        r["bh"].append(bh.sum())
        r["sans"].append(sans.sum())
        r["attendu"].append(att.sum())
        r["phi"].append(t.attrs["phi"])
        r["tau2"].append(poisson.estimer_dispersion(obs, t["attendu"], "additive").tau2)
        for a, tot in r["arr"].items():
            m = arr == a
            tot[0] += sans[m].sum()
            tot[1] += att[m].sum()
            tot[2] += bh[m].sum()
    return r


def _f(x: float, d: int = 2) -> str:
    return f"{x:.{d}f}".replace(".", ",")


def main(cartes: int = 200) -> dict:
    """Imprime le tableau des fausses étiquettes et le renvoie."""
    from observatoire.stats import simulation as sim

    resultats = {}
    t0 = time.perf_counter()
    essais = [(d, "multiplicative") for d in sim.DISPOSITIONS] + [("surdispersion", "additive")]
    for disposition, modele in essais:
        r = simuler(disposition, cartes, modele)
        resultats[(disposition, modele)] = r
        bh, sans = np.asarray(r["bh"]), np.asarray(r["sans"])
        print(f"{sim.DISPOSITIONS[disposition]} — surdispersion {modele}")
        print(f"  fausses étiquettes par carte : {_f(bh.mean())} avec Benjamini–Hochberg "
              f"(au moins une sur {_f(100 * (bh > 0).mean(), 1)} % des cartes), "
              f"{_f(sans.mean())} sans (le test exact en donne {_f(np.mean(r['attendu']))} "
              f"sous la vérité)")
        print(f"  surdispersion estimée : φ = {_f(np.mean(r['phi']))}, "
              f"τ² = {_f(np.mean(r['tau2']), 3)}")
        print("  par arrondissement (sans BH : observé / test exact ; avec BH) : " + " ; ".join(
            f"{a} {_f(o / cartes)} / {_f(e / cartes)} ; {_f(b / cartes)}"
            for a, (o, e, b) in r["arr"].items()))
    print(f"{cartes} cartes par disposition, {time.perf_counter() - t0:.0f} s.")
    return resultats


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
