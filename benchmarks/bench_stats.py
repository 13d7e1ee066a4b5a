"""Banc d'essai des statistiques à l'échelle nationale (imprime ses chiffres).

35 000 communes environ (populations réelles du COG) × 10 ans pour un indicateur, avec le
modèle des périmètres : une source nationale ; une « police » sur la liste des communes
de 10 000 habitants et plus et une « gendarmerie » sur le reste (``reste:police``), qui
masque ses valeurs de 1 à 4 et manque une année ; effectifs synthétiques (Poisson
surdispersé, graine fixe) :

1. classification complète (périmètres des 29 lots, attendus par source et par année,
   φ, probabilités exactes aux bornes des intervalles, Benjamini–Hochberg, entonnoirs,
   intervalles de Garwood, Bayes empirique, étiquettes, regroupements) : cible < 10 s ;
2. ``sources_croisees`` et ``suggerer_regroupement`` vectorisées, côte à côte avec leur
   version d'avant (boucles pandas, recopiées ici comme référence) : mêmes résultats ;
3. étape de Poisson exacte, côte à côte avec ``esda.smoothing.choynowski`` sur les mêmes
   données : cible ≥ 50 fois plus rapide, mêmes probabilités à 1e-12.

Usage : ``.venv/bin/python benchmarks/bench_stats.py`` (ou ``make bench``).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

N_ANNEES = 10


def donnees(n_annees: int = N_ANNEES, graine: int = 2024):
    """Communes de France et valeurs synthétiques au format de ``storage.current_values``.

    Returns
    -------
    tuple
        ``(communes, valeurs, territoires)`` : territoires des trois sources.
    """
    from observatoire import communes

    c = communes.load_communes(None)
    rng = np.random.default_rng(graine)
    pop = c["population"].to_numpy(float)
    codes = c["code_insee"].to_numpy(object)
    risque = rng.gamma(4.0, 0.25, len(c))  # hétérogénéité réelle entre communes
    police = pop >= 10_000
    morceaux = []

    def lot(contrib, annee, taux, dedans, masquer=False):
        val = rng.poisson(pop * taux * risque)[dedans]
        masque = masquer & (val >= 1) & (val <= 4)
        valeur = pd.array(val, dtype="Int64")
        valeur[masque] = pd.NA
        morceaux.append(pd.DataFrame({
            "annee": annee, "contributeur": contrib, "indicateur": "x",
            "code_insee": codes[dedans], "valeur": valeur, "masque": masque,
            "lot_id": len(morceaux) + 1}))

    for k in range(n_annees):
        lot("national", 2015 + k, 0.005, np.ones(len(c), bool))
        lot("police", 2015 + k, 0.004, police)
        if k != 3:  # la gendarmerie n'a pas envoyé une année
            lot("gendarmerie", 2015 + k, 0.004, ~police, masquer=True)
    territoires = {"police": "|".join(codes[police]), "gendarmerie": "reste:police"}
    return c, pd.concat(morceaux, ignore_index=True), territoires


# --- versions d'avant (référence des mesures côte à côte) ------------------------------
def sources_croisees_avant(valeurs: pd.DataFrame, codes) -> pd.DataFrame:
    """``stats.sources_croisees`` avant sa vectorisation (groupby + fonction Python)."""
    v = valeurs[valeurs["code_insee"].notna()]
    signale = (v["valeur"].astype("Float64").fillna(0) > 0) | v["masque"].astype(bool)
    v = v[signale.to_numpy()]
    par = v.groupby("code_insee")["contributeur"].agg(lambda s: sorted(set(map(str, s))))
    out = pd.DataFrame({"code": [str(c) for c in codes]})
    listes = out["code"].map(par)
    out["nb_sources"] = listes.map(lambda x: len(x) if isinstance(x, list) else 0).astype(int)
    out["sources"] = listes.map(lambda x: "|".join(x) if isinstance(x, list) else "")
    return out


def suggerer_regroupement_avant(table: pd.DataFrame, e_min: float) -> pd.DataFrame:
    """``stats.suggerer_regroupement`` avant sa vectorisation (boucle sur les unités)."""
    n_annees = int(table.attrs.get("n_annees", 1) or 1)
    e = table["attendu"].to_numpy(dtype=float)
    cible = (table["label"] == "non concluant").to_numpy() & (e <= e_min)
    code = np.full(len(table), None, dtype=object)
    e_3 = e * 3.0 / n_annees
    e_epci = table.groupby("epci")["attendu"].transform("sum").to_numpy(dtype=float)
    e_arr = table.groupby("arrondissement")["attendu"].transform("sum").to_numpy(float)
    for i in np.flatnonzero(cible):
        if n_annees < 3 and e_3[i] > e_min:
            code[i] = "3_annees"
        elif e_epci[i] > e_min:
            code[i] = "epci"
            _nom = table["epci_nom"].iat[i]
        elif e_arr[i] > e_min:
            code[i] = "arrondissement"
    return pd.DataFrame({"regroupement": code}, index=table.index)


def _chrono(f, *args, **kw):
    t0 = time.perf_counter()
    out = f(*args, **kw)
    return out, time.perf_counter() - t0


def main() -> dict:
    """Lance le banc et renvoie les chiffres (secondes, facteurs, écarts maximaux)."""
    from esda.smoothing import choynowski as esda_choynowski

    from observatoire import catalogues
    from observatoire.stats import analyser_table, poisson, sources_croisees
    from observatoire.stats.labels import suggerer_regroupement

    (c, v, terr), t_prep = _chrono(donnees)
    n = len(c)
    n_lots = len(v[["contributeur", "annee"]].drop_duplicates())
    print(f"Données : {n} communes × {N_ANNEES} ans, {n_lots} lots (source nationale, police "
          f"sur {int((c['population'] >= 10_000).sum())} communes listées, gendarmerie sur le "
          f"reste, absente une année, 1 à 4 masqués) = {len(v)} valeurs "
          f"(préparées en {t_prep:.1f} s)")

    t, t_classif = _chrono(analyser_table, v, c, niveau="commune", zone_reference="territoire",
                           territoires_contributeurs=terr,
                           groupes_sources=catalogues.groupes_sources(terr))
    print(f"Classification nationale complète (périmètres, attendus par source et par année, "
          f"intervalles, BH, entonnoirs, Garwood, EB, étiquettes) : {t_classif:.2f} s "
          f"[cible < 10 s] ; φ = {t.attrs['phi']:.2f} ; seuil BH p ≤ {t.attrs['seuil_p']:.1e}")
    print("  " + ", ".join(f"{k} : {x}" for k, x in t["label"].value_counts().items()))
    print("  couverture : " + ", ".join(f"{k} : {x}" for k, x in
                                        t["couverture"].value_counts().items()))

    codes = c["code_insee"].astype(str)
    avant, t_sc_avant = _chrono(sources_croisees_avant, v, codes)
    apres, t_sc = _chrono(sources_croisees, v, codes)
    same_sc = (avant["sources"].to_numpy() == apres["sources"].to_numpy()).all() and (
        avant["nb_sources"].to_numpy() == apres["nb_sources"].to_numpy()).all()
    print(f"sources_croisees : avant {t_sc_avant:.2f} s ; vectorisée {t_sc:.3f} s → "
          f"{t_sc_avant / t_sc:.0f}× ; mêmes sources : {'oui' if same_sc else 'NON'}")
    e_min = t.attrs["attendu_minimal"]
    avant_r, t_sr_avant = _chrono(suggerer_regroupement_avant, t, e_min)
    apres_r, t_sr = _chrono(suggerer_regroupement, t, attendu_minimal=e_min)
    same_sr = (avant_r["regroupement"].fillna("-") == apres_r["regroupement"].fillna("-")).all()
    print(f"suggerer_regroupement : avant {t_sr_avant:.2f} s ; vectorisée {t_sr:.3f} s → "
          f"{t_sr_avant / t_sr:.0f}× ; mêmes suggestions : {'oui' if same_sr else 'NON'}")

    # Étape de Poisson exacte, côte à côte : mêmes effectifs cumulés, mêmes populations.
    o = t["observe"].to_numpy(float, na_value=np.nan)
    b = t["personnes_annees"].to_numpy(float)
    ok = (b > 0) & ~np.isnan(o)
    o, b = o[ok], b[ok]
    p_esda, t_esda = _chrono(esda_choynowski, o, b, len(o))
    p_nous, t_nous = _chrono(poisson.choynowski, o, b)
    e = o.sum() / b.sum() * b
    (pe, pd_), t_queues = _chrono(poisson.queues_poisson, o, e)
    ecart = float(np.max(np.abs(p_nous - p_esda)))
    ecart_queues = float(np.max(np.abs(np.where(o <= e, pd_, pe) - p_esda)))
    facteur = t_esda / t_nous
    print(f"Poisson exact : esda.choynowski {t_esda:.3f} s ; stats.poisson.choynowski "
          f"{t_nous * 1000:.1f} ms → {facteur:.0f}× plus rapide [cible ≥ 50×]")
    print(f"  deux queues (queues_poisson) : {t_queues * 1000:.1f} ms")
    print(f"  écart maximal des probabilités : {ecart:.2e} (choynowski), "
          f"{ecart_queues:.2e} (queues) [cible ≤ 1e-12]")
    ok_all = (t_classif < 10 and facteur >= 50 and max(ecart, ecart_queues) <= 1e-12
              and same_sc and same_sr)
    print("Cibles atteintes." if ok_all else "Cibles NON atteintes.")
    return {"communes": n, "classification_s": t_classif, "esda_s": t_esda,
            "poisson_s": t_nous, "facteur": facteur, "ecart": max(ecart, ecart_queues),
            "sources_croisees_s": (t_sc_avant, t_sc),
            "suggerer_regroupement_s": (t_sr_avant, t_sr)}


if __name__ == "__main__":
    main()
