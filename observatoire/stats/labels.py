"""Étiquettes d'analyse : un mot par unité, et ce qu'il veut dire (et ne veut pas dire).

Le vocabulaire :data:`LABELS` est partagé par l'application, les cartes et les exports.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from observatoire.stats.poisson import attendu_minimal

__all__ = [
    "BLANCHE",
    "LABELS",
    "NON_CONCLUANT",
    "NORME",
    "REVELATRICE",
    "etiqueter",
    "suggerer_regroupement",
]

REVELATRICE = "révélatrice"
NORME = "dans la norme"
BLANCHE = "blanche présumée"
NON_CONCLUANT = "non concluant"

#: Étiquette → description française (légendes, infobulles, méthodologie).
LABELS: dict[str, str] = {
    REVELATRICE: (
        "Plus de cas que ne le laisse attendre la population, au-delà de ce que le hasard "
        "explique : les violences y sont davantage révélées (ou plus fréquentes). Ce n'est "
        "pas un classement des communes « les plus violentes »."
    ),
    NORME: (
        "L'écart entre cas observés et cas attendus est compatible avec le hasard."
    ),
    BLANCHE: (
        "Zone blanche présumée : moins de cas qu'attendu, au-delà du hasard. C'est le signal "
        "d'une possible sous-révélation (accès aux services, repérage, confiance), pas "
        "d'une absence de violences."
    ),
    NON_CONCLUANT: (
        "Trop peu de cas attendus (petite population) ou données incomplètes pour conclure "
        "dans un sens ou dans l'autre ; un regroupement (années cumulées, EPCI) est proposé."
    ),
}


def _fmt(x: float) -> str:
    return f"{x:.2f}".replace(".", ",")


def _fmt_p(p: float) -> str:
    return "< 0,001" if p < 0.001 else f"= {p:.3f}".replace(".", ",")


def etiqueter(
    attendu,
    p_exces,
    p_defaut,
    *,
    connu,
    alpha: float = 0.05,
    phi: float = 1.0,
    q_valeurs=None,
    motif_inconnu=None,
) -> tuple[np.ndarray, np.ndarray]:
    """Étiquette et motif de chaque unité.

    Règles, dans l'ordre :

    1. effectif inconnu (hors du périmètre des sources, couverture partielle, masque
       ne permettant pas de conclure) → « non concluant » ;
    2. excès significatif (``2·p_exces < alpha``, ou q-valeur < alpha si Benjamini–
       Hochberg) → « révélatrice » ;
    3. défaut significatif (même règle sur ``p_defaut``) → « blanche présumée » ;
    4. attendu trop faible pour qu'un déficit, même zéro cas, soit décelable
       (``E <= φ·ln(2/alpha)``, ≈ 3,7 à 5 %) → « non concluant » ;
    5. sinon → « dans la norme ».

    Parameters
    ----------
    attendu, p_exces, p_defaut : array_like
        Attendus et probabilités unilatérales (déjà ajustées de la surdispersion).
    connu : array_like of bool
        Faux si l'effectif n'est pas exploitable (règle 1).
    alpha : float, default 0.05
        Niveau bilatéral (entonnoir à 95 %).
    phi : float, default 1
        Surdispersion (intervient dans l'attendu minimal).
    q_valeurs : array_like, optional
        q-valeurs de Benjamini–Hochberg (bilatérales) : remplacent ``2·min(p)``.
    motif_inconnu : array_like of str, optional
        Motif à afficher pour les unités non connues.

    Returns
    -------
    label, motif : numpy.ndarray of str
    """
    e = np.asarray(attendu, dtype=float)
    pe = np.asarray(p_exces, dtype=float)
    pd_ = np.asarray(p_defaut, dtype=float)
    connu = np.asarray(connu, dtype=bool) & ~np.isnan(pe) & ~np.isnan(pd_)
    with np.errstate(invalid="ignore"):
        if q_valeurs is None:
            sig_plus = 2 * pe < alpha
            sig_moins = 2 * pd_ < alpha
        else:
            q = np.asarray(q_valeurs, dtype=float)
            sig_plus = (q < alpha) & (pe < pd_)
            sig_moins = (q < alpha) & (pd_ <= pe)
    e_min = attendu_minimal(alpha, phi)
    n = e.size
    label = np.full(n, NORME, dtype=object)
    motif = np.full(n, "", dtype=object)
    for i in range(n):
        if not connu[i]:
            label[i] = NON_CONCLUANT
            motif[i] = (motif_inconnu[i] if motif_inconnu is not None and motif_inconnu[i]
                        else "effectif inconnu")
        elif sig_plus[i]:
            label[i] = REVELATRICE
            motif[i] = f"plus de cas qu'attendu (p {_fmt_p(pe[i])})"
        elif sig_moins[i]:
            label[i] = BLANCHE
            motif[i] = f"moins de cas qu'attendu (p {_fmt_p(pd_[i])})"
        elif not e[i] > e_min:
            label[i] = NON_CONCLUANT
            motif[i] = (f"attendu trop faible ({_fmt(e[i])} cas, il en faut plus de "
                        f"{_fmt(e_min)} pour qu'un déficit soit décelable)")
        else:
            motif[i] = "écart compatible avec le hasard"
    return label, motif


def suggerer_regroupement(table: pd.DataFrame, *, alpha: float = 0.05, phi: float = 1.0,
                          annee_max: int | None = None) -> pd.DataFrame:
    """Regroupement qui permettrait de conclure, pour les unités « non concluant ».

    Seules les unités non concluantes faute d'attendu suffisant reçoivent une
    suggestion (pas celles dont l'effectif est inconnu) : trois années cumulées si cela
    suffit, sinon l'EPCI (pour une commune), sinon l'arrondissement.

    Parameters
    ----------
    table : pandas.DataFrame
        Colonnes ``label``, ``attendu``, ``niveau`` et, pour les communes, ``epci``,
        ``epci_nom``, ``arrondissement`` ; ``attrs["n_annees"]``.
    alpha, phi : float
        Comme :func:`etiqueter`.
    annee_max : int, optional
        Dernière année de la sélection, pour libeller la période cumulée.

    Returns
    -------
    pandas.DataFrame
        ``regroupement`` (``"3_annees"``, ``"epci"``, ``"arrondissement"`` ou None) et
        ``regroupement_suggere`` (phrase française ou None), dans l'ordre de ``table``.
    """
    e_min = attendu_minimal(alpha, phi)
    n_annees = int(table.attrs.get("n_annees", 1) or 1)
    e = table["attendu"].to_numpy(dtype=float)
    cible = (table["label"] == NON_CONCLUANT).to_numpy() & (e <= e_min)
    code = np.full(len(table), None, dtype=object)
    texte = np.full(len(table), None, dtype=object)
    e_3 = e * 3.0 / n_annees
    periode = (f"{annee_max - 2} à {annee_max}" if annee_max is not None else "trois années")
    e_epci = e_arr = None
    if "epci" in table and (table["niveau"] == "commune").all():
        e_epci = table.groupby("epci")["attendu"].transform("sum").to_numpy(dtype=float)
    if "arrondissement" in table and (table["niveau"].isin(["commune", "epci"])).all():
        e_arr = table.groupby("arrondissement")["attendu"].transform("sum").to_numpy(float)
    for i in np.flatnonzero(cible):
        if n_annees < 3 and e_3[i] > e_min:
            code[i] = "3_annees"
            texte[i] = (f"cumuler trois années ({periode}) : environ {_fmt(e_3[i])} cas "
                        f"attendus, assez pour conclure")
        elif e_epci is not None and e_epci[i] > e_min:
            code[i] = "epci"
            nom = table["epci_nom"].iat[i] if "epci_nom" in table else table["epci"].iat[i]
            texte[i] = (f"raisonner à l'échelle de l'EPCI ({nom}) : {_fmt(e_epci[i])} cas "
                        f"attendus")
        elif e_arr is not None and e_arr[i] > e_min:
            code[i] = "arrondissement"
            texte[i] = (f"raisonner à l'échelle de l'arrondissement : {_fmt(e_arr[i])} cas "
                        f"attendus")
        else:
            texte[i] = "aucun regroupement disponible ne suffit : effectifs trop faibles"
    return pd.DataFrame({"regroupement": code, "regroupement_suggere": texte},
                        index=table.index)
