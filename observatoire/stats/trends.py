"""Tendances : N contre N-1 (ou deux années quelconques) et séries sur toutes les années.

Les codes de chaque année sont ramenés aux communes actuelles
(:func:`observatoire.communes.current_code_map`) avant comparaison : une commune
fusionnée se compare à la somme de ses anciennes communes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
from scipy import stats

from observatoire.stats.measures import (
    DonneesAbsentesError,
    agreger,
    mesurer_communes,
    selectionner,
    verifier_niveau,
)

__all__ = ["analyser_serie", "analyser_tendance", "serie", "rapport_taux_exact", "tendance"]

_GROUPES = ("epci", "epci_nom", "arrondissement", "arrondissement_nom", "departement")
#: En dessous de ce total sur deux ans, aucun test binomial bilatéral ne peut conclure à 5 %.
N_MIN_TENDANCE = 6


def rapport_taux_exact(o1, o2, pa1, pa2) -> np.ndarray:
    """Test exact conditionnel du rapport des taux entre deux années.

    Sachant ``n = O1 + O2``, sous l'hypothèse de taux égaux ``O2 ~ Binomiale(n,
    pa2 / (pa1 + pa2))`` ; la probabilité bilatérale est celle de
    :func:`scipy.stats.binomtest`.

    Parameters
    ----------
    o1, o2 : array_like
        Effectifs des deux années (NaN = inconnu).
    pa1, pa2 : array_like
        Dénominateurs (personnes-années) des deux années.

    Returns
    -------
    numpy.ndarray
        Probabilités bilatérales ; NaN si un effectif ou une population est inconnu, ou
        ``n = 0``.
    """
    o1, o2 = np.asarray(o1, float), np.asarray(o2, float)
    pa1, pa2 = np.asarray(pa1, float), np.asarray(pa2, float)
    out = np.full(o1.shape, np.nan)
    cache: dict[tuple[int, int, float], float] = {}
    for i in range(o1.size):
        # Population inconnue (NaN) une des années : pas de test, jamais d'erreur.
        if (np.isnan(o1[i]) or np.isnan(o2[i]) or o1[i] + o2[i] == 0
                or not (pa1[i] > 0 and pa2[i] > 0)):
            continue
        key = (int(o2[i]), int(o1[i] + o2[i]), float(pa2[i] / (pa1[i] + pa2[i])))
        # Beaucoup d'unités partagent (k, n, p) : on ne refait pas le calcul exact.
        if key not in cache:
            cache[key] = stats.binomtest(key[0], key[1], key[2]).pvalue
        out[i] = cache[key]
    return out


def _par_annee(valeurs, communes, annee, *, territoire, niveau, population, code_map,
               territoires_contributeurs, borne_masque, noms, couvertures=None,
               groupes_sources=None):
    v = valeurs[valeurs["annee"] == annee]
    pop = population.get(annee) if isinstance(population, Mapping) else population
    base = mesurer_communes(v, communes, population=pop, code_map=code_map,
                            territoires_contributeurs=territoires_contributeurs,
                            borne_masque=borne_masque, couvertures=couvertures,
                            groupes_sources=groupes_sources)
    if territoire is not None:
        codes = {str(c) for c in territoire}
        attrs = base.attrs
        base = base[base["code"].isin(codes)].reset_index(drop=True)
        base.attrs = attrs
    return agreger(base, niveau, noms=noms)


def tendance(
    valeurs: pd.DataFrame,
    communes: pd.DataFrame,
    annee_1: int,
    annee_2: int,
    *,
    territoire: Iterable[str] | None = None,
    niveau: str = "commune",
    population: pd.Series | Mapping[int, pd.Series] | None = None,
    code_map: Mapping[str, str] | None = None,
    territoires_contributeurs: Mapping[str, str] | None = None,
    alpha: float = 0.05,
    seuil_secret: int = 5,
    noms: Mapping[str, str] | None = None,
    couvertures: Mapping[tuple[str, int], Iterable[str]] | None = None,
    groupes_sources: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Évolution entre deux années, par unité, à sources et périmètres égaux.

    On compare ce qui est comparable : seules les sources présentes les deux années
    entrent dans la comparaison (les autres sont écartées et nommées dans
    ``attrs["sources_ecartees"]``), et chacune sur les seules communes qu'elle couvre les
    deux années.

    Parameters
    ----------
    valeurs : pandas.DataFrame
        Valeurs des deux années (``storage.current_values``).
    communes : pandas.DataFrame
        Communes actuelles.
    annee_1, annee_2 : int
        Année de départ et année d'arrivée.
    territoire, niveau, code_map, territoires_contributeurs, noms
        Comme :func:`observatoire.stats.analyser_table`.
    population : Series or mapping année → Series, optional
        Dénominateur (population municipale par défaut, la même les deux années), ou un
        par année. Une population inconnue donne « non concluant », jamais une erreur.
    alpha : float, default 0.05
    seuil_secret : int, default 5
    couvertures, groupes_sources : mapping, optional
        Périmètres des lots et groupes de sources (voir
        :func:`observatoire.stats.measures.mesurer_communes`).

    Returns
    -------
    pandas.DataFrame
        ``code``, ``nom``, ``niveau`` (et groupes pour les communes), ``annee_1``,
        ``annee_2``, ``observe_1``, ``observe_2`` (Int64), ``masque_1``, ``masque_2``,
        ``population_1``, ``population_2``, ``taux_1``, ``taux_2`` (pour 1 000),
        ``difference``, ``ratio_taux``, ``p_tendance``, ``sens`` (« hausse »,
        « baisse », « pas d'évolution significative », « non concluant »),
        ``motif_tendance``. ``attrs["type"] == "tendance"``.
    """
    from observatoire.stats.perimetres import matrice_couverture

    verifier_niveau(niveau)
    borne = max(int(seuil_secret) - 1, 1)
    a1, a2 = int(annee_1), int(annee_2)
    par = valeurs.groupby("contributeur")["annee"].agg(lambda x: {int(a) for a in x})
    communes_sources = sorted(c for c, ans in par.items() if {a1, a2} <= ans)
    ecartees = sorted(c for c, ans in par.items() if ({a1, a2} & ans) and c not in
                      communes_sources)
    valeurs = valeurs[valeurs["contributeur"].isin(communes_sources)]
    codes = communes["code_insee"].astype(str).to_numpy(object)
    lots = [(c, a) for c in communes_sources for a in (a1, a2)]
    cov = matrice_couverture(lots, codes, couvertures, territoires_contributeurs, communes)
    # Chaque source sur les communes qu'elle couvre les deux années.
    commun = {}
    for k, c in enumerate(communes_sources):
        codes_c = frozenset(codes[cov[2 * k] & cov[2 * k + 1]])
        commun[(c, a1)] = commun[(c, a2)] = codes_c
    kw = dict(territoire=territoire, niveau=niveau, population=population, code_map=code_map,
              territoires_contributeurs=territoires_contributeurs, borne_masque=borne,
              noms=noms, couvertures=commun, groupes_sources=groupes_sources)
    t1 = _par_annee(valeurs, communes, a1, **kw)
    t2 = _par_annee(valeurs, communes, a2, **kw)
    out = t1[["code", "nom", "niveau"] + [c for c in _GROUPES if c in t1]].copy()
    out["annee_1"], out["annee_2"] = int(annee_1), int(annee_2)
    for k, t in (("1", t1), ("2", t2)):
        t = t.set_index("code").reindex(out["code"])
        out[f"observe_{k}"] = pd.array(t["observe"].tolist(), dtype="Int64")
        out[f"masque_{k}"] = t["masque"].to_numpy(bool)
        out[f"population_{k}"] = t["personnes_annees"].to_numpy(float)
    o1 = out["observe_1"].to_numpy(dtype=float, na_value=np.nan)
    o2 = out["observe_2"].to_numpy(dtype=float, na_value=np.nan)
    pa1, pa2 = out["population_1"].to_numpy(float), out["population_2"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["taux_1"] = np.where(pa1 > 0, o1 / pa1 * 1000, np.nan)
        out["taux_2"] = np.where(pa2 > 0, o2 / pa2 * 1000, np.nan)
        out["difference"] = pd.array(
            [pd.NA if np.isnan(a - b) else int(a - b) for a, b in zip(o2, o1, strict=True)],
            dtype="Int64")
        out["ratio_taux"] = np.where(out["taux_1"] > 0, out["taux_2"] / out["taux_1"], np.nan)
    p = rapport_taux_exact(o1, o2, pa1, pa2)
    out["p_tendance"] = p
    n = o1 + o2
    sens = np.full(len(out), "pas d'évolution significative", dtype=object)
    motif = np.full(len(out), "", dtype=object)
    inconnu = np.isnan(n)
    with np.errstate(invalid="ignore"):
        sans_pop = ~inconnu & ~((pa1 > 0) & (pa2 > 0))
    petit = ~inconnu & ~sans_pop & (n < N_MIN_TENDANCE)
    sig = ~np.isnan(p) & (p < alpha)
    ratio = out["ratio_taux"].to_numpy(float)
    sens[sig & ~(ratio <= 1)] = "hausse"
    sens[sig & (ratio < 1)] = "baisse"
    sens[inconnu | sans_pop | (petit & ~sig)] = "non concluant"
    motif[inconnu] = "effectif inconnu une des deux années"
    motif[sans_pop] = "population inconnue une des deux années"
    motif[petit & ~sig] = (f"moins de {N_MIN_TENDANCE} cas sur les deux années : aucune "
                           "évolution ne peut être significative")
    hors = ~t1.set_index("code")["couvert"].reindex(out["code"]).fillna(False).to_numpy(bool)
    sens[hors] = None
    motif[hors] = ("hors du périmètre des sources présentes les deux années : pas de "
                   "comparaison")
    out["sens"] = sens
    out["motif_tendance"] = motif
    out["couverture"] = t1.set_index("code")["couverture"].reindex(out["code"]).to_numpy(object)
    out.attrs = {"type": "tendance", "niveau": niveau, "annee_1": a1, "annee_2": a2,
                 "alpha": alpha, "sources_comparees": communes_sources,
                 "sources_ecartees": ecartees,
                 "non_localise_1": t1.attrs.get("non_localise", 0),
                 "non_localise_2": t2.attrs.get("non_localise", 0),
                 "avertissements": ([f"sources écartées de la comparaison (absentes une des "
                                     f"deux années) : {', '.join(ecartees)}"] if ecartees
                                    else [])}
    return out


def serie(
    valeurs: pd.DataFrame,
    communes: pd.DataFrame,
    *,
    territoire: Iterable[str] | None = None,
    niveau: str = "commune",
    population: pd.Series | Mapping[int, pd.Series] | None = None,
    code_map: Mapping[str, str] | None = None,
    territoires_contributeurs: Mapping[str, str] | None = None,
    seuil_secret: int = 5,
    noms: Mapping[str, str] | None = None,
    couvertures: Mapping[tuple[str, int], Iterable[str]] | None = None,
    groupes_sources: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Série annuelle par unité, sur toutes les années présentes dans ``valeurs``.

    Chaque année avec ses sources et leurs périmètres (``couvertures``) ; les sources de
    chaque année sont dans ``attrs["sources_par_annee"]``.

    Returns
    -------
    pandas.DataFrame
        Une ligne par unité et par année : ``code``, ``nom``, ``niveau``, groupes,
        ``annee``, ``observe`` (Int64), ``masque``, ``n_masques``, ``personnes_annees``,
        ``taux`` (pour 1 000), ``non_localise`` (de l'année, répété).
        ``attrs["type"] == "serie"``.
    """
    verifier_niveau(niveau)
    borne = max(int(seuil_secret) - 1, 1)
    morceaux = []
    for annee in sorted({int(a) for a in valeurs["annee"]}):
        t = _par_annee(valeurs, communes, annee, territoire=territoire, niveau=niveau,
                       population=population, code_map=code_map,
                       territoires_contributeurs=territoires_contributeurs,
                       borne_masque=borne, noms=noms, couvertures=couvertures,
                       groupes_sources=groupes_sources)
        cols = ["code", "nom", "niveau"] + [c for c in _GROUPES if c in t] + [
            "observe", "masque", "n_masques", "personnes_annees", "couverture"]
        m = t[cols].copy()
        m.insert(3, "annee", annee)
        pa = m["personnes_annees"].to_numpy(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            m["taux"] = np.where(pa > 0, m["observe"].to_numpy(float, na_value=np.nan) / pa
                                 * 1000, np.nan)
        m["non_localise"] = t.attrs.get("non_localise", 0)
        morceaux.append(m)
    if not morceaux:
        raise DonneesAbsentesError("Aucune année à mettre en série pour cette sélection.")
    out = pd.concat(morceaux, ignore_index=True)
    out.attrs = {"type": "serie", "niveau": niveau,
                 "annees": sorted({int(a) for a in valeurs["annee"]}),
                 "sources_par_annee": {str(a): sorted(set(g)) for a, g in
                                       valeurs.groupby("annee")["contributeur"]}}
    return out


def _contexte(indicateur, annees, contributeurs, engine, valeurs=None):
    from observatoire import communes as _communes
    from observatoire import storage
    from observatoire.config import settings
    from observatoire.stats.analyse import _denominateurs, contexte_lots

    s = settings()
    if valeurs is None:
        v = storage.current_values(engine, annees, [indicateur], contributeurs,
                                   departement=s.departement)
    else:
        v = selectionner(valeurs, indicateur, annees, contributeurs)
    if v.empty:
        raise DonneesAbsentesError(
            f"Aucune valeur pour l'indicateur « {indicateur} »"
            + (f" en {', '.join(map(str, annees))}" if annees else "")
            + ". Importez les tableaux des contributeurs ou lancez « observatoire demo »."
        )
    d = _communes.load_departements()
    noms = dict(zip(d["departement"], d["nom"], strict=True))
    univers = _communes.load_communes(s.departement)
    lots = contexte_lots(v, univers, engine=engine)
    lots.pop("sources_non_bornees")
    population, sources_pop, _avert = _denominateurs("population",
                                                     sorted({int(a) for a in v["annee"]}),
                                                     univers, engine)
    return v, dict(communes=univers,
                   territoire=_communes.load_territoire()["code_insee"],
                   code_map=_communes.current_code_map(), population=population,
                   seuil_secret=s.seuil_secret, noms=noms, **lots), sources_pop


def analyser_tendance(annee_1: int, annee_2: int, indicateur: str, *,
                      contributeurs: Iterable[str] | None = None, niveau: str = "commune",
                      alpha: float = 0.05, engine=None) -> pd.DataFrame:
    """:func:`tendance` sur les valeurs de la base (vue agents)."""
    v, ctx, sources_pop = _contexte(indicateur, [annee_1, annee_2], contributeurs, engine)
    manquantes = {int(annee_1), int(annee_2)} - {int(a) for a in v["annee"]}
    if manquantes:
        raise DonneesAbsentesError(
            f"Aucune valeur pour « {indicateur} » en {', '.join(map(str, sorted(manquantes)))} :"
            " la comparaison demande les deux années."
        )
    t = tendance(v, ctx.pop("communes"), annee_1, annee_2, niveau=niveau, alpha=alpha, **ctx)
    t.attrs["indicateur"] = indicateur
    t.attrs["denominateurs"] = sources_pop
    return t


def analyser_serie(indicateur: str, *, contributeurs: Iterable[str] | None = None,
                   niveau: str = "commune", engine=None,
                   valeurs: pd.DataFrame | None = None) -> pd.DataFrame:
    """:func:`serie` sur toutes les années de la base (vue agents).

    ``valeurs`` : valeurs courantes déjà lues (:func:`observatoire.storage.current_values`),
    pour calculer plusieurs niveaux sans relire la base ; filtrées ici sur l'indicateur
    et les contributeurs.
    """
    v, ctx, sources_pop = _contexte(indicateur, None, contributeurs, engine, valeurs)
    t = serie(v, ctx.pop("communes"), niveau=niveau, **ctx)
    t.attrs["indicateur"] = indicateur
    t.attrs["denominateurs"] = sources_pop
    return t

