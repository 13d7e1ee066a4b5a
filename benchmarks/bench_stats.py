"""Banc d'essai des statistiques à l'échelle nationale (imprime ses chiffres).

35 000 communes environ (populations réelles du COG) × 10 ans pour un indicateur, effectifs
synthétiques (Poisson surdispersé, graine fixe) :

1. classification complète (mesures, attendus, φ, probabilités exactes, entonnoirs,
   Bayes empirique, étiquettes) : cible < 10 s ;
2. étape de Poisson exacte, côte à côte avec ``esda.smoothing.choynowski`` sur les mêmes
   données : cible ≥ 50 fois plus rapide, mêmes probabilités à 1e-12.

Usage : ``.venv/bin/python benchmarks/bench_stats.py`` (ou ``make bench``).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd


def donnees(n_annees: int = 10, graine: int = 2024):
    """Communes de France et valeurs synthétiques au format de ``storage.current_values``."""
    from observatoire import communes

    c = communes.load_communes(None)
    rng = np.random.default_rng(graine)
    pop = c["population"].to_numpy(float)
    risque = rng.gamma(4.0, 0.25, len(c))  # hétérogénéité réelle entre communes
    morceaux = []
    for k in range(n_annees):
        val = rng.poisson(pop * 0.005 * risque)
        morceaux.append(pd.DataFrame({
            "annee": 2015 + k, "contributeur": "national", "indicateur": "x",
            "code_insee": c["code_insee"].to_numpy(), "valeur": val, "masque": False,
            "lot_id": k}))
    v = pd.concat(morceaux, ignore_index=True)
    v["valeur"] = v["valeur"].astype("Int64")
    return c, v


def main() -> dict:
    """Lance le banc et renvoie les chiffres (secondes, facteur, écart maximal)."""
    from esda.smoothing import choynowski as esda_choynowski

    from observatoire.stats import analyser_table, poisson

    t0 = time.perf_counter()
    c, v = donnees()
    t_prep = time.perf_counter() - t0
    n = len(c)
    print(f"Données : {n} communes × 10 ans = {len(v)} valeurs (préparées en {t_prep:.1f} s)")

    t0 = time.perf_counter()
    t = analyser_table(v, c, niveau="commune", zone_reference="territoire",
                       surdispersion=True)
    t_classif = time.perf_counter() - t0
    print(f"Classification nationale complète (10 ans cumulés, EB, entonnoirs, étiquettes) : "
          f"{t_classif:.2f} s  [cible < 10 s] ; φ = {t.attrs['phi']:.2f}")
    print("  " + ", ".join(f"{k} : {v}" for k, v in t["label"].value_counts().items()))

    # Étape de Poisson exacte, côte à côte : mêmes effectifs cumulés, mêmes populations.
    o = t["observe"].to_numpy(float)
    b = t["personnes_annees"].to_numpy(float)
    ok = b > 0
    o, b = o[ok], b[ok]
    t0 = time.perf_counter()
    p_esda = esda_choynowski(o, b, len(o))
    t_esda = time.perf_counter() - t0
    t0 = time.perf_counter()
    p_nous = poisson.choynowski(o, b)
    t_nous = time.perf_counter() - t0
    t0 = time.perf_counter()
    e = o.sum() / b.sum() * b
    pe, pd_ = poisson.queues_poisson(o, e)
    t_queues = time.perf_counter() - t0
    ecart = float(np.max(np.abs(p_nous - p_esda)))
    ecart_queues = float(np.max(np.abs(np.where(o <= e, pd_, pe) - p_esda)))
    facteur = t_esda / t_nous
    print(f"Poisson exact : esda.choynowski {t_esda:.3f} s ; stats.poisson.choynowski "
          f"{t_nous * 1000:.1f} ms → {facteur:.0f}× plus rapide [cible ≥ 50×]")
    print(f"  deux queues (queues_poisson) : {t_queues * 1000:.1f} ms")
    print(f"  écart maximal des probabilités : {ecart:.2e} (choynowski), "
          f"{ecart_queues:.2e} (queues) [cible ≤ 1e-12]")
    ok_all = t_classif < 10 and facteur >= 50 and max(ecart, ecart_queues) <= 1e-12
    print("Cibles atteintes." if ok_all else "Cibles NON atteintes.")
    return {"communes": n, "classification_s": t_classif, "esda_s": t_esda,
            "poisson_s": t_nous, "facteur": facteur, "ecart": max(ecart, ecart_queues)}


if __name__ == "__main__":
    main()
