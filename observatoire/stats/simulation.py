"""Simulations sous l'hypothèse nulle : des cartes où l'on sait qu'il n'y a rien à trouver.

Chaque disposition de sources reproduit un cas du plan (une source départementale ; une
source départementale et une source de l'arrondissement de Béthune ; police et
gendarmerie sur des zones complémentaires, la gendarmerie masquant ses petites
valeurs ; une source absente une des deux années ; une vérité surdispersée). Le taux
vrai est le même partout (à l'effet aléatoire près pour la vérité surdispersée) :
toute étiquette « révélatrice » ou « blanche présumée » est une fausse étiquette.
Sert aux tests (``tests/test_stats_simulation_nulle.py``) et aux chiffres de la
méthode (``benchmarks/simulation_nulle.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from observatoire.stats import poisson

__all__ = ["DISPOSITIONS", "Carte", "esperance_fausses_etiquettes", "simuler"]

#: Dispositions de sources simulées : code → description.
DISPOSITIONS = {
    "departement": "une source départementale (1,5 ‰)",
    "departement_et_arrondissement": "une source départementale (1,5 ‰) et une source de "
                                     "l'arrondissement 622 (1,0 ‰)",
    "police_gendarmerie": "police (communes de 10 000 habitants et plus) et gendarmerie (le "
                          "reste, valeurs de 1 à 4 masquées), 6 ‰",
    "source_absente": "police et gendarmerie sur deux ans, la gendarmerie absente la "
                      "seconde année (1,5 ‰)",
    "surdispersion": "une source départementale, risque relatif gamma de variance 0,09 "
                     "(variance / moyenne de 2,8 à 20 cas attendus)",
}
#: Paramètre de forme du risque relatif gamma de la vérité surdispersée (τ² = 1 / k).
K_SURDISPERSION = 11.1


@dataclass
class Carte:
    """Une carte simulée : valeurs au format de ``storage.current_values`` et vérité.

    Attributes
    ----------
    valeurs : pandas.DataFrame
    territoires : dict
        Contributeur → territoire déclaré (syntaxe du registre).
    moyenne : numpy.ndarray
        Moyenne vraie de l'effectif de chaque commune (somme des lots qui la couvrent).
    k : float or None
        Forme du risque relatif gamma (None : Poisson pur).
    """

    valeurs: pd.DataFrame
    territoires: dict[str, str] = field(default_factory=dict)
    moyenne: np.ndarray | None = None
    k: float | None = None


def _lot(codes, contrib, annee, comptes, dedans, lot_id, masquer=False) -> pd.DataFrame:
    v = comptes[dedans]
    masque = masquer & (v >= 1) & (v <= 4)
    valeur = pd.array(v, dtype="Int64")
    valeur[masque] = pd.NA
    return pd.DataFrame({"annee": annee, "contributeur": contrib, "indicateur": "x",
                         "code_insee": codes[dedans], "valeur": valeur, "masque": masque,
                         "lot_id": lot_id})


def simuler(disposition: str, communes: pd.DataFrame, rng: np.random.Generator) -> Carte:
    """Tire une carte de la disposition demandée sur les populations de ``communes``.

    Parameters
    ----------
    disposition : str
        Clé de :data:`DISPOSITIONS`.
    communes : pandas.DataFrame
        Communes (``code_insee``, ``population``, ``arrondissement``).
    rng : numpy.random.Generator

    Returns
    -------
    Carte
    """
    codes = communes["code_insee"].astype(str).to_numpy(object)
    pop = communes["population"].to_numpy(float)
    arr = communes["arrondissement"].astype(str).to_numpy(object)
    tout = np.ones(len(pop), bool)
    police = pop >= 10_000
    liste_police = "|".join(codes[police])
    k = K_SURDISPERSION if disposition == "surdispersion" else None
    theta = rng.gamma(k, 1.0 / k, len(pop)) if k else np.ones(len(pop))
    lots, terr = [], {}
    moyenne = np.zeros(len(pop))

    def tirer(contrib, annee, taux, dedans, masquer=False):
        mu = pop * taux * theta
        moyenne[dedans] += (pop * taux)[dedans]
        lots.append(_lot(codes, contrib, annee, rng.poisson(mu), dedans, len(lots) + 1,
                         masquer))

    if disposition in ("departement", "surdispersion"):
        tirer("a", 2023, 1.5e-3, tout)
    elif disposition == "departement_et_arrondissement":
        tirer("a", 2023, 1.5e-3, tout)
        tirer("b", 2023, 1.0e-3, arr == "622")
        terr = {"b": "622"}
    elif disposition == "police_gendarmerie":
        tirer("p", 2023, 6e-3, police)
        tirer("g", 2023, 6e-3, ~police, masquer=True)
        terr = {"p": liste_police, "g": "reste:p"}
    elif disposition == "source_absente":
        tirer("p", 2023, 1.5e-3, police)
        tirer("g", 2023, 1.5e-3, ~police)
        tirer("p", 2024, 1.5e-3, police)
        terr = {"p": liste_police, "g": "reste:p"}
    else:
        raise ValueError(f"Disposition « {disposition} » inconnue : {', '.join(DISPOSITIONS)}.")
    return Carte(pd.concat(lots, ignore_index=True), terr, moyenne, k)


def esperance_fausses_etiquettes(attendu, moyenne, seuil_p: float, *, phi: float = 1.0,
                                 tau2: float = 0.0, k: float | None = None) -> np.ndarray:
    """Probabilité, pour chaque unité, d'une fausse étiquette sous la vérité simulée.

    Le test étiquette si l'effectif atteint le seuil d'excès ou descend au seuil de
    déficit (:func:`observatoire.stats.poisson.seuils_comptage`) ; sous la vérité
    (Poisson de moyenne ``moyenne``, ou binomiale négative de forme ``k``), c'est
    ``P(O ≥ haut) + P(O ≤ bas)``.

    Parameters
    ----------
    attendu : array_like
        Attendus utilisés par le test.
    moyenne : array_like
        Moyennes vraies.
    seuil_p : float
        Seuil du test (α sans contrôle de multiplicité).
    phi, tau2 : float
        Modèle de variance du test.
    k : float, optional
        Forme du risque relatif gamma de la vérité.

    Returns
    -------
    numpy.ndarray
    """
    from scipy import stats

    e = np.asarray(attendu, float)
    mu = np.asarray(moyenne, float)
    haut, bas = poisson.seuils_comptage(e, seuil_p, phi, tau2)
    ok = np.isfinite(haut) & (mu > 0)
    h = np.where(ok, haut, 0.0)
    b = np.where(ok, bas, -1.0)
    if k:
        n, p = k, k / (k + np.where(ok, mu, 1.0))
        prob = stats.nbinom.sf(h - 1, n, p) + np.where(b >= 0, stats.nbinom.cdf(b, n, p), 0)
    else:
        m = np.where(ok, mu, 1.0)
        prob = stats.poisson.sf(h - 1, m) + np.where(b >= 0, stats.poisson.cdf(b, m), 0)
    return np.where(ok, prob, 0.0)
