"""Étiquettes d'analyse : un mot par unité, et ce qu'il veut dire (et ne veut pas dire).

Le vocabulaire :data:`LABELS` est partagé par l'application, les cartes et les exports.
:func:`etiqueter_intervalles` est la règle unique : elle étiquette des effectifs connus
exactement ou seulement par un intervalle (cellule masquée, valeur secrète), et une
étiquette qu'elle donne vaut pour toute valeur de l'intervalle. :func:`limites_test`
donne l'entonnoir du même test : une unité hors de l'entonnoir est exactement une unité
étiquetée.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from observatoire.stats import poisson

__all__ = [
    "BLANCHE",
    "LABELS",
    "NON_CONCLUANT",
    "NORME",
    "REVELATRICE",
    "etiqueter",
    "etiqueter_intervalles",
    "limites_test",
    "seuil_benjamini_hochberg",
    "suggerer_regroupement",
]

REVELATRICE = "révélatrice"
NORME = "pas d'écart détecté"
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
        "Aucun écart décelable entre cas observés et cas attendus : l'écart est compatible "
        "avec le hasard. Ce n'est pas « tout va bien » : un écart plus petit que ce que "
        "l'attendu de la commune permet de voir passe inaperçu."
    ),
    BLANCHE: (
        "Zone blanche présumée : moins de cas qu'attendu, au-delà du hasard. C'est le signal "
        "d'une possible sous-révélation (accès aux services, repérage, confiance), pas "
        "d'une absence de violences."
    ),
    NON_CONCLUANT: (
        "Trop peu de cas attendus (petite population) ou effectif connu seulement par un "
        "intervalle trop large pour conclure dans un sens ou dans l'autre ; un regroupement "
        "(années cumulées, EPCI) est proposé."
    ),
}


def _fmt(x: float) -> str:
    return f"{x:.2f}".replace(".", ",")


def _fmt_p(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    texte = np.char.replace(np.char.mod("= %.3f", np.nan_to_num(p)), ".", ",")
    return np.where(p < 0.001, "< 0,001", texte).astype(object)


def _fmt_vec(x: np.ndarray) -> np.ndarray:
    return np.char.replace(np.char.mod("%.2f", np.nan_to_num(np.asarray(x, float))), ".",
                           ",").astype(object)


def seuil_benjamini_hochberg(p_bilaterale, alpha: float = 0.05) -> tuple[float, np.ndarray]:
    """Seuil de Benjamini–Hochberg sur les probabilités bilatérales, et q-valeurs.

    Une unité est retenue si et seulement si ``p ≤ seuil`` (équivalent à ``q ≤ alpha``).
    Sans unité retenue, le seuil est ``alpha / m`` : la probabilité qu'il faudrait pour
    qu'une première unité le soit. C'est ce seuil qui donne l'entonnoir et le plus petit
    écart décelable.

    Parameters
    ----------
    p_bilaterale : array_like
        NaN ignorés (unités non testées).
    alpha : float, default 0.05

    Returns
    -------
    seuil : float
    q : numpy.ndarray
    """
    p = np.asarray(p_bilaterale, dtype=float)
    q = poisson.benjamini_hochberg(p)
    ok = ~np.isnan(p)
    m = int(ok.sum())
    if m == 0:
        return float(alpha), q
    retenues = ok & (q <= alpha)
    seuil = float(alpha) / m
    if retenues.any():
        seuil = max(seuil, float(p[retenues].max()))
    return seuil, q


def limites_test(attendu, seuil_p: float, *, phi: float = 1.0, tau2: float = 0.0,
                 attendu_min=None, attendu_max=None) -> tuple[np.ndarray, np.ndarray]:
    """Limites de l'entonnoir du ratio O/E, tirées du test des étiquettes.

    Pour chaque unité, ``O*`` le plus petit effectif entier qui serait étiqueté
    « révélatrice » et ``O_*`` le plus grand qui serait « blanche présumée »
    (:func:`observatoire.stats.poisson.seuils_comptage`, même seuil, même φ, même τ²,
    attendus défavorables). Limites : ``(O* − ½) / E`` et ``(O_* + ½) / E`` (0 si aucun
    déficit n'est décelable) : un effectif entier O est hors de l'entonnoir si et
    seulement si son étiquette est « révélatrice » ou « blanche présumée ».

    Parameters
    ----------
    attendu : array_like
        Attendus E (ceux du ratio affiché).
    seuil_p : float
        Seuil de la probabilité bilatérale (α, ou le seuil de Benjamini–Hochberg).
    phi, tau2 : float
        Modèle de variance.
    attendu_min, attendu_max : array_like, optional
        Bornes de l'attendu (cellules masquées dans le taux de référence).

    Returns
    -------
    basse, haute : numpy.ndarray
    """
    e = np.asarray(attendu, dtype=float)
    haut, bas = poisson.seuils_comptage(e, seuil_p, phi, tau2, attendu_exces=attendu_max,
                                        attendu_defaut=attendu_min)
    return _limites(e, haut, bas)


def _limites(e: np.ndarray, haut: np.ndarray, bas: np.ndarray) -> tuple[np.ndarray,
                                                                        np.ndarray]:
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = np.isfinite(e) & (e > 0)
        haute = np.where(ok, (haut - 0.5) / e, np.nan)
        basse = np.where(ok, np.maximum((bas + 0.5) / e, 0.0), np.nan)
    return basse, haute


def etiqueter_intervalles(
    observe_min,
    observe_max,
    attendu,
    *,
    phi: float = 1.0,
    alpha: float = 0.05,
    fdr: bool = True,
    tau2: float = 0.0,
    attendu_min=None,
    attendu_max=None,
    connu=None,
    motif_inconnu=None,
    seuil_p: float | None = None,
) -> pd.DataFrame:
    """Étiquettes d'unités dont l'effectif est connu par un intervalle.

    Fonction pure et vectorisée, la règle unique des étiquettes : l'analyse l'appelle avec
    les effectifs exacts (bornes égales) et avec les intervalles des cellules masquées à
    la source ; une diffusion publique peut l'appeler avec l'intervalle que le public
    connaît d'une cellule secrète (1 à 4). Une étiquette donnée vaut pour **toute** valeur
    de l'intervalle :

    - ``p_exces = P(X ≥ observe_min)`` sous l'attendu haut, ``p_defaut = P(X ≤
      observe_max)`` sous l'attendu bas (bornes défavorables) ;
    - « révélatrice » si ``2·p_exces ≤ seuil``, « blanche présumée » si
      ``2·p_defaut ≤ seuil`` ; le seuil est α, ou celui de Benjamini–Hochberg calculé sur
      les unités testées (:func:`seuil_benjamini_hochberg`) ;
    - « non concluant » si la conclusion changerait selon la valeur dans l'intervalle
      (aux bornes favorables, l'écart serait significatif), si même zéro cas ne serait
      pas significatif (attendu trop faible), ou si l'effectif est inconnu ;
    - sinon « pas d'écart détecté », avec le plus petit écart décelable.

    Parameters
    ----------
    observe_min, observe_max : array_like
        Bornes de l'effectif (égales : effectif exact) ; ``observe_max`` peut valoir
        ``+inf`` ; NaN = inconnu.
    attendu : array_like
        Attendus E (ceux du ratio affiché).
    phi : float, default 1
        Surdispersion multiplicative appliquée (ignorée en dessous de 1).
    alpha : float, default 0.05
        Niveau bilatéral.
    fdr : bool, default True
        Benjamini–Hochberg sur les unités passées (et testables).
    tau2 : float, default 0
        Variance additive des risques relatifs (modèle à effets aléatoires).
    attendu_min, attendu_max : array_like, optional
        Bornes de l'attendu (par défaut ``attendu``).
    connu : array_like of bool, optional
        Faux : unité non testée (hors du périmètre, population inconnue…).
    motif_inconnu : array_like of str, optional
        Motif des unités non testées.
    seuil_p : float, optional
        Seuil imposé (celui de la carte entière quand on n'étiquette qu'une partie des
        unités) ; ``fdr`` n'est alors pas recalculé.

    Returns
    -------
    pandas.DataFrame
        ``label``, ``motif``, ``p_exces``, ``p_defaut``, ``p_bilaterale``, ``q_bh``,
        ``limite_basse``, ``limite_haute`` (entonnoir du même test, échelle O/E),
        ``ratio_detectable_haut`` (plus petit O/E qui aurait été « révélatrice »),
        ``ratio_detectable_bas`` (plus grand O/E qui aurait été « blanche présumée »,
        NaN si même zéro cas ne l'aurait pas été). ``attrs`` : ``seuil_p``, ``alpha``,
        ``fdr``, ``phi``, ``tau2``, ``attendu_minimal``, ``n_testees``, ``n_etiquetees``.
    """
    omin = np.asarray(observe_min, dtype=float)
    omax = np.asarray(observe_max, dtype=float)
    e = np.asarray(attendu, dtype=float)
    e_lo = e if attendu_min is None else np.asarray(attendu_min, dtype=float)
    e_hi = e if attendu_max is None else np.asarray(attendu_max, dtype=float)
    n = e.size
    ok = np.ones(n, bool) if connu is None else np.asarray(connu, dtype=bool).copy()
    ok &= ~np.isnan(omin) & ~np.isnan(omax) & np.isfinite(e_lo) & np.isfinite(e_hi) & (e_lo > 0)
    phi = max(float(phi), 1.0)
    tau2 = max(float(tau2), 0.0)
    with np.errstate(invalid="ignore"):
        pe, _ = poisson.queues(np.where(ok, omin, np.nan), np.where(ok, e_hi, np.nan), phi,
                               tau2)
        _, pd_ = poisson.queues(np.where(ok, omax, np.nan), np.where(ok, e_lo, np.nan), phi,
                                tau2)
    p_bil = poisson.p_bilaterale(pe, pd_)
    if seuil_p is not None:
        seuil = float(seuil_p)
        q = poisson.benjamini_hochberg(p_bil)
    elif fdr:
        seuil, q = seuil_benjamini_hochberg(p_bil, alpha)
    else:
        seuil, q = float(alpha), poisson.benjamini_hochberg(p_bil)
    # Bornes favorables : si l'écart y serait significatif, l'étiquette dépendrait de la
    # valeur exacte (et la donner la trahirait).
    pe_opt, _ = poisson.queues(np.where(ok, omax, np.nan), np.where(ok, e_lo, np.nan), phi,
                               tau2)
    _, pd_opt = poisson.queues(np.where(ok, omin, np.nan), np.where(ok, e_hi, np.nan), phi,
                               tau2)
    with np.errstate(invalid="ignore"):
        plus = ok & (2 * pe <= seuil)
        moins = ok & ~plus & (2 * pd_ <= seuil)
        varie = ok & ~plus & ~moins & ((2 * pe_opt <= seuil) | (2 * pd_opt <= seuil))
    haut, bas = poisson.seuils_comptage(e, seuil, phi, tau2, attendu_exces=e_hi,
                                        attendu_defaut=e_lo)
    indecelable = ok & ~plus & ~moins & ~varie & ~(bas >= 0)
    norme = ok & ~plus & ~moins & ~varie & ~indecelable
    e_min = attendu_minimal_modele(seuil, phi, tau2)

    label = np.full(n, NON_CONCLUANT, dtype=object)
    motif = np.full(n, "effectif inconnu", dtype=object)
    if motif_inconnu is not None:
        mi = np.asarray(motif_inconnu, dtype=object)
        motif = np.where(pd.notna(mi) & (mi != ""), mi, motif).astype(object)
    label[plus], label[moins], label[norme] = REVELATRICE, BLANCHE, NORME
    with np.errstate(invalid="ignore", divide="ignore"):
        r_h = np.where(e > 0, haut / e, np.nan)
        r_b = np.where((e > 0) & (bas >= 0), bas / e, np.nan)
    if plus.any():
        motif[plus] = "plus de cas qu'attendu (p " + _fmt_p(pe[plus]) + ")"
    if moins.any():
        motif[moins] = "moins de cas qu'attendu (p " + _fmt_p(pd_[moins]) + ")"
    if varie.any():
        sans_max = varie & np.isinf(omax)
        motif[varie] = np.where(omin[varie] == omax[varie],
                                "la conclusion dépendrait des cellules masquées du taux de "
                                "référence", "la conclusion dépendrait de la valeur exacte "
                                "de l'effectif")
        motif[sans_max] = ("effectif sans maximum connu (valeur non diffusée par la "
                           "source) : un déficit ne peut être ni établi ni exclu")
    if indecelable.any():
        elargi = (" avec la surdispersion et le contrôle de la multiplicité"
                  if (phi > 1 or tau2 > 0) and seuil < alpha else
                  " avec la surdispersion" if phi > 1 or tau2 > 0 else
                  " avec le contrôle de la multiplicité" if seuil < alpha else "")
        motif[indecelable] = ("attendu trop faible (" + _fmt_vec(e[indecelable])
                              + " cas ; il en faut plus de " + _fmt(e_min)
                              + elargi + " pour qu'un déficit, même zéro cas, soit "
                              "décelable)")
    if norme.any():
        motif[norme] = ("écart compatible avec le hasard ; un excès se serait vu à partir de "
                        + _fmt_vec(r_h[norme]) + " fois l'attendu, un déficit à "
                        + _fmt_vec(r_b[norme]) + " fois l'attendu ou moins")
    basse, haute = _limites(e, haut, bas)
    out = pd.DataFrame({
        "label": label, "motif": motif, "p_exces": pe, "p_defaut": pd_,
        "p_bilaterale": p_bil, "q_bh": q,
        "limite_basse": np.where(ok, basse, np.nan), "limite_haute": np.where(ok, haute, np.nan),
        "ratio_detectable_haut": np.where(ok, r_h, np.nan),
        "ratio_detectable_bas": np.where(ok, r_b, np.nan),
    })
    out.attrs.update({"seuil_p": float(seuil), "alpha": float(alpha),
                      "fdr": bool(fdr) and seuil_p is None, "phi": phi, "tau2": tau2,
                      "attendu_minimal": float(e_min), "n_testees": int(ok.sum()),
                      "n_etiquetees": int(plus.sum() + moins.sum())})
    return out


def attendu_minimal_modele(seuil_p: float, phi: float = 1.0, tau2: float = 0.0) -> float:
    """Attendu en dessous duquel même zéro cas ne serait pas significativement bas.

    Zéro cas est significatif si ``2·P(X = 0) ≤ seuil`` : ``E ≥ φ·ln(2/seuil)`` en
    quasi-Poisson (3,7 à 5 %), ``((seuil/2)^(−τ²) − 1)/τ²`` en binomiale négative.
    """
    t = float(seuil_p) / 2.0
    if tau2 > 0:
        return float((t ** (-tau2) - 1.0) / tau2)
    return max(float(phi), 1.0) * float(np.log(1.0 / t))


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
    """Étiquette et motif de chaque unité, à partir de probabilités déjà calculées.

    Forme historique de la règle (les probabilités sont fournies) ; l'analyse utilise
    :func:`etiqueter_intervalles`, qui calcule aussi les probabilités. Règles, dans
    l'ordre : unité non connue → « non concluant » ; ``2·p_exces < alpha`` (ou q-valeur
    < alpha) → « révélatrice » ; même règle sur ``p_defaut`` → « blanche présumée » ;
    ``E ≤ φ·ln(2/alpha)`` → « non concluant » ; sinon « pas d'écart détecté ».

    Parameters
    ----------
    attendu, p_exces, p_defaut : array_like
    connu : array_like of bool
    alpha : float, default 0.05
    phi : float, default 1
    q_valeurs : array_like, optional
        q-valeurs de Benjamini–Hochberg (bilatérales) : remplacent ``2·min(p)``.
    motif_inconnu : array_like of str, optional

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
            sig_plus, sig_moins = 2 * pe < alpha, 2 * pd_ < alpha
        else:
            q = np.asarray(q_valeurs, dtype=float)
            sig_plus, sig_moins = (q < alpha) & (pe < pd_), (q < alpha) & (pd_ <= pe)
    e_min = poisson.attendu_minimal(alpha, phi)
    plus = connu & sig_plus
    moins = connu & ~plus & sig_moins
    faible = connu & ~plus & ~moins & ~(e > e_min)
    label = np.full(e.size, NORME, dtype=object)
    motif = np.full(e.size, "écart compatible avec le hasard", dtype=object)
    label[~connu] = NON_CONCLUANT
    mi = (np.asarray(motif_inconnu, dtype=object) if motif_inconnu is not None
          else np.full(e.size, "", dtype=object))
    motif[~connu] = np.where(pd.notna(mi[~connu]) & (mi[~connu] != ""), mi[~connu],
                             "effectif inconnu")
    label[plus], label[moins], label[faible] = REVELATRICE, BLANCHE, NON_CONCLUANT
    if plus.any():
        motif[plus] = "plus de cas qu'attendu (p " + _fmt_p(pe[plus]) + ")"
    if moins.any():
        motif[moins] = "moins de cas qu'attendu (p " + _fmt_p(pd_[moins]) + ")"
    if faible.any():
        motif[faible] = ("attendu trop faible (" + _fmt_vec(e[faible]) + " cas, il en faut "
                         "plus de " + _fmt(e_min) + " pour qu'un déficit soit décelable)")
    return label, motif


def suggerer_regroupement(table: pd.DataFrame, *, alpha: float = 0.05, phi: float = 1.0,
                          annee_max: int | None = None,
                          attendu_minimal: float | None = None) -> pd.DataFrame:
    """Regroupement qui permettrait de conclure, pour les unités « non concluant ».

    Seules les unités non concluantes faute d'attendu suffisant reçoivent une
    suggestion (pas celles dont l'effectif est inconnu) : trois années cumulées si cela
    suffit, sinon l'EPCI (pour une commune), sinon l'arrondissement. Vectorisé.

    Parameters
    ----------
    table : pandas.DataFrame
        Colonnes ``label``, ``attendu``, ``niveau`` et, pour les communes, ``epci``,
        ``epci_nom``, ``arrondissement`` ; ``attrs["n_annees"]``.
    alpha, phi : float
        Niveau et surdispersion, pour l'attendu minimal quand il n'est pas donné.
    annee_max : int, optional
        Dernière année de la sélection, pour libeller la période cumulée.
    attendu_minimal : float, optional
        Attendu minimal du test des étiquettes (``attrs["attendu_minimal"]`` de
        :func:`etiqueter_intervalles`) ; par défaut ``φ·ln(2/alpha)``.

    Returns
    -------
    pandas.DataFrame
        ``regroupement`` (``"3_annees"``, ``"epci"``, ``"arrondissement"`` ou None) et
        ``regroupement_suggere`` (phrase française ou None), dans l'ordre de ``table``.
    """
    e_min = (poisson.attendu_minimal(alpha, phi) if attendu_minimal is None
             else float(attendu_minimal))
    n_annees = int(table.attrs.get("n_annees", 1) or 1)
    e = table["attendu"].to_numpy(dtype=float)
    cible = (table["label"] == NON_CONCLUANT).to_numpy() & (e <= e_min)
    e_3 = e * 3.0 / n_annees
    periode = (f"{annee_max - 2} à {annee_max}" if annee_max is not None else "trois années")
    n = len(table)
    e_epci = e_arr = np.full(n, np.nan)
    if "epci" in table and (table["niveau"] == "commune").all():
        e_epci = table.groupby("epci")["attendu"].transform("sum").to_numpy(dtype=float)
    if "arrondissement" in table and (table["niveau"].isin(["commune", "epci"])).all():
        e_arr = table.groupby("arrondissement")["attendu"].transform("sum").to_numpy(float)
    trois = cible & (n_annees < 3) & (e_3 > e_min)
    epci = cible & ~trois & (e_epci > e_min)
    arr = cible & ~trois & ~epci & (e_arr > e_min)
    code = np.full(n, None, dtype=object)
    texte = np.full(n, None, dtype=object)
    texte[cible] = "aucun regroupement disponible ne suffit : effectifs trop faibles"
    code[trois], code[epci], code[arr] = "3_annees", "epci", "arrondissement"
    if trois.any():
        texte[trois] = (f"cumuler trois années ({periode}) : environ " + _fmt_vec(e_3[trois])
                        + " cas attendus, assez pour conclure")
    if epci.any():
        noms = (table["epci_nom"] if "epci_nom" in table else table["epci"]).astype(
            str).to_numpy(object)
        texte[epci] = ("raisonner à l'échelle de l'EPCI (" + noms[epci] + ") : "
                       + _fmt_vec(e_epci[epci]) + " cas attendus")
    if arr.any():
        texte[arr] = ("raisonner à l'échelle de l'arrondissement : " + _fmt_vec(e_arr[arr])
                      + " cas attendus")
    return pd.DataFrame({"regroupement": code, "regroupement_suggere": texte},
                        index=table.index)
