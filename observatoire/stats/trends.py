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
        Probabilités bilatérales ; NaN si un effectif est inconnu ou ``n = 0``.
    """
    o1, o2 = np.asarray(o1, float), np.asarray(o2, float)
    pa1, pa2 = np.asarray(pa1, float), np.asarray(pa2, float)
    out = np.full(o1.shape, np.nan)
    cache: dict[tuple[int, int, float], float] = {}
    for i in range(o1.size):
        if np.isnan(o1[i]) or np.isnan(o2[i]) or o1[i] + o2[i] == 0 or pa1[i] + pa2[i] <= 0:
            continue
        key = (int(o2[i]), int(o1[i] + o2[i]), float(pa2[i] / (pa1[i] + pa2[i])))
        # Beaucoup d'unités partagent (k, n, p) : on ne refait pas le calcul exact.
        if key not in cache:
            cache[key] = stats.binomtest(key[0], key[1], key[2]).pvalue
        out[i] = cache[key]
    return out


def _par_annee(valeurs, communes, annee, *, territoire, niveau, population, code_map,
               territoires_contributeurs, borne_masque, noms):
    from observatoire import secrecy

    v = valeurs[valeurs["annee"] == annee]
    pop = population.get(annee) if isinstance(population, Mapping) else population
    base = mesurer_communes(v, communes, population=pop, code_map=code_map,
                            territoires_contributeurs=territoires_contributeurs,
                            borne_masque=borne_masque)
    if territoire is not None:
        codes = {str(c) for c in territoire}
        attrs = base.attrs
        base = base[base["code"].isin(codes)].reset_index(drop=True)
        base.attrs = attrs
    t = agreger(base, niveau, noms=noms)
    if niveau != "commune":
        # Totaux que le secret secondaire de l'année doit masquer (décidé sur les communes).
        t["total_protege"] = secrecy.totaux_proteges(base, niveau, borne_masque + 1).reindex(
            t["code"]).fillna(False).to_numpy(bool)
    return t


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
) -> pd.DataFrame:
    """Évolution entre deux années, par unité.

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
        Dénominateur (population municipale par défaut, la même les deux années).
    alpha : float, default 0.05
    seuil_secret : int, default 5

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
    verifier_niveau(niveau)
    borne = max(int(seuil_secret) - 1, 1)
    kw = dict(territoire=territoire, niveau=niveau, population=population, code_map=code_map,
              territoires_contributeurs=territoires_contributeurs, borne_masque=borne,
              noms=noms)
    t1 = _par_annee(valeurs, communes, annee_1, **kw)
    t2 = _par_annee(valeurs, communes, annee_2, **kw)
    out = t1[["code", "nom", "niveau"] + [c for c in _GROUPES if c in t1]].copy()
    out["annee_1"], out["annee_2"] = int(annee_1), int(annee_2)
    for k, t in (("1", t1), ("2", t2)):
        t = t.set_index("code").reindex(out["code"])
        out[f"observe_{k}"] = pd.array(t["observe"].tolist(), dtype="Int64")
        out[f"masque_{k}"] = t["masque"].to_numpy(bool)
        out[f"population_{k}"] = t["personnes_annees"].to_numpy(float)
        if "total_protege" in t:
            out[f"total_protege_{k}"] = t["total_protege"].to_numpy(bool)
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
    petit = ~inconnu & (n < N_MIN_TENDANCE)
    sig = ~np.isnan(p) & (p < alpha)
    sens[sig & (out["ratio_taux"].fillna(np.inf).to_numpy() > 1)] = "hausse"
    sens[sig & (out["ratio_taux"].fillna(np.inf).to_numpy() < 1)] = "baisse"
    sens[inconnu | (petit & ~sig)] = "non concluant"
    motif[inconnu] = "effectif inconnu une des deux années"
    motif[petit & ~sig] = (f"moins de {N_MIN_TENDANCE} cas sur les deux années : aucune "
                           "évolution ne peut être significative")
    out["sens"] = sens
    out["motif_tendance"] = motif
    out.attrs = {"type": "tendance", "niveau": niveau, "annee_1": int(annee_1),
                 "annee_2": int(annee_2), "alpha": alpha,
                 "non_localise_1": t1.attrs.get("non_localise", 0),
                 "non_localise_2": t2.attrs.get("non_localise", 0)}
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
) -> pd.DataFrame:
    """Série annuelle par unité, sur toutes les années présentes dans ``valeurs``.

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
                       borne_masque=borne, noms=noms)
        cols = ["code", "nom", "niveau"] + [c for c in _GROUPES if c in t] + [
            "observe", "masque", "n_masques", "personnes_annees"] + (
            ["total_protege"] if "total_protege" in t else [])
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
                 "annees": sorted({int(a) for a in valeurs["annee"]})}
    return out


def _contexte(indicateur, annees, contributeurs, engine, valeurs=None):
    from observatoire import communes as _communes
    from observatoire import storage
    from observatoire.config import settings
    from observatoire.stats.analyse import _territoires_contributeurs

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
    noms = None
    d = _communes.load_departements()
    noms = dict(zip(d["departement"], d["nom"], strict=True))
    return v, dict(communes=_communes.load_communes(s.departement),
                   territoire=_communes.load_territoire()["code_insee"],
                   code_map=_communes.current_code_map(),
                   territoires_contributeurs=_territoires_contributeurs(),
                   seuil_secret=s.seuil_secret, noms=noms)


def analyser_tendance(annee_1: int, annee_2: int, indicateur: str, *,
                      contributeurs: Iterable[str] | None = None, niveau: str = "commune",
                      alpha: float = 0.05, engine=None) -> pd.DataFrame:
    """:func:`tendance` sur les valeurs de la base (vue agents : passer par apply_public)."""
    v, ctx = _contexte(indicateur, [annee_1, annee_2], contributeurs, engine)
    manquantes = {int(annee_1), int(annee_2)} - {int(a) for a in v["annee"]}
    if manquantes:
        raise DonneesAbsentesError(
            f"Aucune valeur pour « {indicateur} » en {', '.join(map(str, sorted(manquantes)))} :"
            " la comparaison demande les deux années."
        )
    t = tendance(v, ctx.pop("communes"), annee_1, annee_2, niveau=niveau, alpha=alpha, **ctx)
    t.attrs["indicateur"] = indicateur
    return t


def analyser_serie(indicateur: str, *, contributeurs: Iterable[str] | None = None,
                   niveau: str = "commune", engine=None,
                   valeurs: pd.DataFrame | None = None) -> pd.DataFrame:
    """:func:`serie` sur toutes les années de la base (vue agents).

    ``valeurs`` : valeurs courantes déjà lues (:func:`observatoire.storage.current_values`),
    pour calculer plusieurs niveaux sans relire la base ; filtrées ici sur l'indicateur
    et les contributeurs.
    """
    v, ctx = _contexte(indicateur, None, contributeurs, engine, valeurs)
    t = serie(v, ctx.pop("communes"), niveau=niveau, **ctx)
    t.attrs["indicateur"] = indicateur
    return t

