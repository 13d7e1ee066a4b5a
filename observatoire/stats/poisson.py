"""Probabilités de Poisson exactes, limites d'entonnoir, surdispersion, Benjamini–Hochberg.

Toutes les fonctions sont vectorisées (tableaux NumPy en entrée et en sortie) : la
classification de 35 000 communes × 10 ans tient en quelques dizaines de millisecondes,
là où ``esda.smoothing.choynowski`` boucle en Python sur les unités.

References
----------
Choynowski M. (1959), « Maps based on probabilities », JASA 54, 385-388.
Spiegelhalter D. J. (2005), « Funnel plots for comparing institutional performance »,
Statistics in Medicine 24, 1185-1202.
Benjamini Y., Hochberg Y. (1995), JRSS B 57, 289-300.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special, stats

__all__ = [
    "ATTENDU_MIN_SURDISPERSION",
    "MODELES",
    "Dispersion",
    "attendu_minimal",
    "benjamini_hochberg",
    "choynowski",
    "estimer_dispersion",
    "garwood",
    "limites_entonnoir",
    "p_bilaterale",
    "queues",
    "queues_poisson",
    "seuils_comptage",
    "surdispersion",
    "surdispersion_additive",
]

#: Modèles de la variance entre unités : aucun (Poisson), multiplicatif (quasi-Poisson,
#: variance φ·E) ou additif (effets aléatoires : risque relatif de variance τ²,
#: variance E + τ²·E², loi binomiale négative).
MODELES = ("aucune", "multiplicative", "additive")
#: Attendu minimal d'une unité pour entrer dans l'estimation de la surdispersion.
ATTENDU_MIN_SURDISPERSION = 10.0
#: En dessous de ce nombre d'unités utilisables, les z ne sont pas winsorisés.
N_MIN_WINSOR = 10


def _arrays(observe, attendu) -> tuple[np.ndarray, np.ndarray]:
    o = np.asarray(observe, dtype=float)
    e = np.asarray(attendu, dtype=float)
    if o.shape != e.shape:
        raise ValueError(
            f"observe et attendu doivent avoir la même forme (reçu {o.shape} et {e.shape})."
        )
    return o, e


def queues_poisson(observe, attendu, phi: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Probabilités exactes des deux queues de Poisson.

    ``p_exces = P(X >= O)`` et ``p_defaut = P(X <= O)`` avec ``X ~ Poisson(E)``.

    Parameters
    ----------
    observe : array_like
        Effectifs observés O (entiers ≥ 0 ; NaN = inconnu).
    attendu : array_like
        Effectifs attendus E (≥ 0).
    phi : float, default 1
        Facteur de surdispersion. Au-delà de 1, on applique le modèle quasi-Poisson
        ``O/phi ~ Poisson(E/phi)`` (variance ``phi·E``) ; les queues sont alors
        prolongées aux effectifs non entiers par les fonctions gamma incomplètes
        régularisées, dont elles sont la définition exacte pour les entiers.

    Returns
    -------
    p_exces, p_defaut : numpy.ndarray
        Dans [0, 1] ; NaN là où O ou E est inconnu. Avec ``E = 0`` : 1 et 1 si O = 0,
        0 et 1 sinon.

    Notes
    -----
    Avec ``phi = 1``, ``min(p_exces, p_defaut)`` est exactement la probabilité de
    Choynowski calculée par ``esda.smoothing.choynowski`` (voir :func:`choynowski`).

    Examples
    --------
    >>> pe, pd_ = queues_poisson([0, 5], [3.0, 1.0])
    >>> round(float(pd_[0]), 4)  # exp(-3)
    0.0498
    """
    o, e = _arrays(observe, attendu)
    phi = max(float(phi), 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        k, mu = o / phi, e / phi
        inconnu = np.isnan(k) | np.isnan(mu)
        k0 = np.where(inconnu, 0.0, k)
        mu0 = np.where(inconnu, 0.0, mu)
        if phi == 1.0:
            # Forme discrète exacte : c'est la quantité de esda, au bit près.
            p_exces = stats.poisson.sf(k0 - 1, mu0)
            p_defaut = stats.poisson.cdf(k0, mu0)
        else:
            # P(X >= k) = P(k, mu) et P(X <= k) = Q(k + 1, mu) (gamma régularisées).
            p_exces = np.where(k0 > 0, special.gammainc(np.maximum(k0, 1e-300), mu0), 1.0)
            p_defaut = special.gammaincc(k0 + 1.0, mu0)
        # E = 0 : la loi est dégénérée en 0.
        p_exces = np.where(mu0 == 0, np.where(k0 > 0, 0.0, 1.0), p_exces)
        p_defaut = np.where(mu0 == 0, 1.0, p_defaut)
    p_exces = np.clip(np.where(inconnu, np.nan, p_exces), 0.0, 1.0)
    p_defaut = np.clip(np.where(inconnu, np.nan, p_defaut), 0.0, 1.0)
    return p_exces, p_defaut


def choynowski(observe, population, threshold: float | None = None) -> np.ndarray:
    """Probabilités de Choynowski, version vectorisée de ``esda.smoothing.choynowski``.

    Même définition que esda (une seule classe d'âge) : taux de référence = ΣO / Σpop,
    ``E = taux × pop`` ; si ``O <= E`` la probabilité est ``P(X <= O)``, sinon
    ``P(X >= O) = 1 - P(X <= O - 1)``.

    Parameters
    ----------
    observe, population : array_like
        Effectifs et populations, dans le même ordre.
    threshold : float, optional
        Comme esda : les probabilités supérieures ou égales au seuil valent 0.

    Returns
    -------
    numpy.ndarray
    """
    o = np.asarray(observe, dtype=float).ravel()
    b = np.asarray(population, dtype=float).ravel()
    e = o.sum() / b.sum() * b
    # esda calcule 1 - cdf(O - 1) (et non sf) : on garde sa forme pour l'égalité au bit.
    p = np.where(o <= e, stats.poisson.cdf(o, e), 1.0 - stats.poisson.cdf(o - 1, e))
    if threshold:
        p = np.where(p < threshold, p, 0.0)
    return p


def p_bilaterale(p_exces, p_defaut) -> np.ndarray:
    """Probabilité bilatérale ``min(1, 2 · min(p_exces, p_defaut))`` (NaN conservé)."""
    pe = np.asarray(p_exces, dtype=float)
    pd_ = np.asarray(p_defaut, dtype=float)
    return np.minimum(1.0, 2.0 * np.fmin(pe, pd_) + np.where(np.isnan(pe + pd_), np.nan, 0))


def _correction_winsor(winsor: float) -> float:
    """Moyenne de z² winsorisé (quantiles ``winsor``, ``1 − winsor``) pour z normal.

    ``(1 − 2w) − 2 q φ(q) + 2 w q²`` avec ``q = Φ⁻¹(1 − w)`` : 0,679 à 10 %. Diviser par
    elle rend l'estimateur winsorisé sans biais quand il n'y a pas de surdispersion (sans
    cela il vaut 0,68 en moyenne et ne dépasse presque jamais 1).
    """
    if winsor <= 0:
        return 1.0
    q = float(stats.norm.ppf(1.0 - winsor))
    return (1.0 - 2.0 * winsor) - 2.0 * q * float(stats.norm.pdf(q)) + 2.0 * winsor * q * q


def _z_utiles(observe, attendu, attendu_min: float) -> tuple[np.ndarray, np.ndarray]:
    o, e = _arrays(observe, attendu)
    ok = ~np.isnan(o) & ~np.isnan(e) & (e > 0) & (e >= attendu_min)
    return (o[ok] - e[ok]) / np.sqrt(e[ok]), e[ok]


def surdispersion(observe, attendu, winsor: float = 0.10,
                  attendu_min: float = ATTENDU_MIN_SURDISPERSION) -> float:
    """Facteur de surdispersion φ estimé sur les z-scores winsorisés (Spiegelhalter 2005).

    ``z = (O − E) / √E`` sur les unités d'attendu au moins ``attendu_min`` (les toutes
    petites communes, où O vaut 0 ou 1, tireraient φ vers le bas) ; les z sont ramenés à
    leurs quantiles ``winsor`` et ``1 − winsor`` (10 % de chaque côté), puis
    ``φ = moyenne(z²) / c``, où ``c`` (0,679 à 10 %) est la valeur de cette moyenne pour
    des z normaux : φ vaut 1 en moyenne sans surdispersion. Avec moins de
    :data:`N_MIN_WINSOR` unités, estimateur de Pearson ``Σ z² / (n − 1)``.

    Parameters
    ----------
    observe, attendu : array_like
        Unités où O ou E est inconnu, ou ``E < attendu_min``, ignorées.
    winsor : float, default 0.10
        Part winsorisée de chaque côté.
    attendu_min : float, default 10
        Attendu minimal d'une unité utilisée.

    Returns
    -------
    float
        φ (1.0 s'il y a moins de 3 unités utilisables). N'est appliqué que s'il dépasse 1.
    """
    z, _e = _z_utiles(observe, attendu, attendu_min)
    if z.size < 3:
        return 1.0
    if z.size < N_MIN_WINSOR:
        return float(np.sum(z * z) / (z.size - 1))
    lo, hi = np.quantile(z, [winsor, 1.0 - winsor])
    zw = np.clip(z, lo, hi)
    return float(np.mean(zw * zw) / _correction_winsor(winsor))


def surdispersion_additive(observe, attendu, winsor: float = 0.10,
                           attendu_min: float = ATTENDU_MIN_SURDISPERSION) -> float:
    """Variance τ² des risques relatifs entre unités (effets aléatoires additifs).

    Estimateur des moments de Spiegelhalter (2005, DerSimonian–Laird sur l'échelle du
    ratio O/E, de variance intra-unité 1/E) : ``τ² = (n φ − (n − 1)) / (Σ E − Σ E² /
    Σ E)``, φ étant celui de :func:`surdispersion` ; ramené à 0 s'il est négatif.

    Parameters
    ----------
    observe, attendu : array_like
    winsor, attendu_min : float
        Comme :func:`surdispersion`.

    Returns
    -------
    float
        τ² ≥ 0 (0 s'il y a moins de 3 unités utilisables).
    """
    z, e = _z_utiles(observe, attendu, attendu_min)
    if z.size < 3:
        return 0.0
    phi = surdispersion(observe, attendu, winsor, attendu_min)
    w = e
    den = w.sum() - (w * w).sum() / w.sum()
    if den <= 0:
        return 0.0
    return float(max((z.size * phi - (z.size - 1)) / den, 0.0))


@dataclass(frozen=True)
class Dispersion:
    """Modèle de variance retenu pour les tests (voir :func:`estimer_dispersion`).

    Attributes
    ----------
    modele : {"aucune", "multiplicative", "additive"}
    phi : float
        Facteur multiplicatif estimé (informatif même en modèle additif).
    tau2 : float
        Variance additive des risques relatifs (0 sauf modèle additif).
    n_unites : int
        Unités qui ont servi à l'estimation.
    attendu_min : float
    """

    modele: str = "multiplicative"
    phi: float = 1.0
    tau2: float = 0.0
    n_unites: int = 0
    attendu_min: float = ATTENDU_MIN_SURDISPERSION

    @property
    def phi_applique(self) -> float:
        """φ des tests : l'estimation si elle dépasse 1 en modèle multiplicatif, sinon 1."""
        return max(self.phi, 1.0) if self.modele == "multiplicative" else 1.0

    @property
    def tau2_applique(self) -> float:
        """τ² des tests : l'estimation en modèle additif, sinon 0."""
        return self.tau2 if self.modele == "additive" else 0.0

    @property
    def appliquee(self) -> bool:
        """Vrai si les tests sont élargis par rapport à Poisson."""
        return self.phi_applique > 1.0 or self.tau2_applique > 0.0


def estimer_dispersion(observe, attendu, modele: str = "multiplicative", *,
                       attendu_min: float = ATTENDU_MIN_SURDISPERSION,
                       winsor: float = 0.10) -> Dispersion:
    """Estime la surdispersion selon le modèle choisi.

    Parameters
    ----------
    observe, attendu : array_like
        Effectifs exacts (NaN pour une unité masquée ou inconnue) et attendus.
    modele : {"aucune", "multiplicative", "additive"}
    attendu_min, winsor : float
        Voir :func:`surdispersion`.

    Returns
    -------
    Dispersion
    """
    if modele not in MODELES:
        raise ValueError(f"Modèle de surdispersion « {modele} » inconnu : "
                         f"{', '.join(MODELES)}.")
    z, _e = _z_utiles(observe, attendu, attendu_min)
    if modele == "aucune":
        return Dispersion("aucune", 1.0, 0.0, int(z.size), attendu_min)
    phi = surdispersion(observe, attendu, winsor, attendu_min)
    tau2 = surdispersion_additive(observe, attendu, winsor, attendu_min) \
        if modele == "additive" else 0.0
    return Dispersion(modele, float(phi), float(tau2), int(z.size), attendu_min)


def queues(observe, attendu, phi: float = 1.0, tau2: float = 0.0) -> tuple[np.ndarray,
                                                                        np.ndarray]:
    """Queues ``P(X ≥ O)`` et ``P(X ≤ O)`` sous le modèle de variance choisi.

    ``tau2 > 0`` : binomiale négative de moyenne E et de variance ``E + τ² E²`` (risque
    relatif gamma de moyenne 1 et de variance τ²) ; sinon :func:`queues_poisson` avec φ.
    ``O`` peut valoir ``+inf`` (effectif sans maximum) : ``P(X ≥ ∞) = 0``, ``P(X ≤ ∞) = 1``.

    Parameters
    ----------
    observe, attendu : array_like
    phi : float, default 1
    tau2 : float, default 0

    Returns
    -------
    p_exces, p_defaut : numpy.ndarray
    """
    o, e = _arrays(observe, attendu)
    infini = np.isinf(o)
    o_fini = np.where(infini, 0.0, o)
    if tau2 > 0:
        with np.errstate(invalid="ignore", divide="ignore"):
            n = 1.0 / tau2
            prob = 1.0 / (1.0 + tau2 * e)
            inconnu = np.isnan(o_fini) | np.isnan(e)
            k = np.where(inconnu, 0.0, o_fini)
            ee = np.where(inconnu, 1.0, e)
            p_exces = np.where(k > 0, stats.nbinom.sf(k - 1, n, np.where(ee > 0, prob, 1.0)),
                               1.0)
            p_defaut = stats.nbinom.cdf(k, n, np.where(ee > 0, prob, 1.0))
            p_exces = np.where(ee == 0, np.where(k > 0, 0.0, 1.0), p_exces)
            p_defaut = np.where(ee == 0, 1.0, p_defaut)
            p_exces = np.where(inconnu, np.nan, np.clip(p_exces, 0.0, 1.0))
            p_defaut = np.where(inconnu, np.nan, np.clip(p_defaut, 0.0, 1.0))
    else:
        p_exces, p_defaut = queues_poisson(o_fini, e, phi)
    p_exces = np.where(infini, 0.0, p_exces)
    p_defaut = np.where(infini, 1.0, p_defaut)
    return p_exces, p_defaut


def seuils_comptage(attendu, seuil_p: float, phi: float = 1.0, tau2: float = 0.0, *,
                    attendu_exces=None, attendu_defaut=None) -> tuple[np.ndarray, np.ndarray]:
    """Effectifs entiers à partir desquels le test bilatéral conclut, pour chaque attendu.

    ``haut`` : le plus petit O tel que ``2·P(X ≥ O) ≤ seuil_p`` (excès) ; ``bas`` : le plus
    grand O tel que ``2·P(X ≤ O) ≤ seuil_p`` (déficit), −1 s'il n'y en a pas (même zéro
    cas ne serait pas significatif). C'est le même test que les étiquettes, avec les mêmes
    φ, τ² et seuil : il donne l'entonnoir et le plus petit écart décelable. Recherche
    par dichotomie sur les entiers, vectorisée.

    Parameters
    ----------
    attendu : array_like
    seuil_p : float
        Seuil de la probabilité bilatérale (α, ou le seuil de Benjamini–Hochberg).
    phi, tau2 : float
        Modèle de variance (voir :func:`queues`).
    attendu_exces, attendu_defaut : array_like, optional
        Attendus à prendre pour chaque queue (les bornes défavorables quand l'attendu est
        un intervalle : le haut pour l'excès, le bas pour le déficit).

    Returns
    -------
    haut, bas : numpy.ndarray of float
        NaN là où l'attendu est inconnu ou nul.
    """
    e = np.asarray(attendu, dtype=float)
    e_h = e if attendu_exces is None else np.asarray(attendu_exces, dtype=float)
    e_b = e if attendu_defaut is None else np.asarray(attendu_defaut, dtype=float)
    ok_h = np.isfinite(e_h) & (e_h > 0)
    ok_b = np.isfinite(e_b) & (e_b > 0)
    eh = np.where(ok_h, e_h, 1.0)
    eb = np.where(ok_b, e_b, 1.0)
    cible = float(seuil_p) / 2.0
    sd = np.sqrt(eh * max(float(phi), 1.0) * (1.0 + tau2 * eh))
    # Excès : P(X ≥ O) décroît avec O ; on cherche le plus petit O qui passe sous la cible.
    lo = np.zeros_like(eh)
    hi = np.ceil(eh + 60.0 * sd + 60.0)
    while True:
        actif = hi - lo > 0
        if not actif.any():
            break
        mid = np.floor((lo + hi) / 2.0)
        pe, _ = queues(mid, eh, phi, tau2)
        passe = pe <= cible
        hi = np.where(actif & passe, mid, hi)
        lo = np.where(actif & ~passe, mid + 1.0, lo)
    haut = np.where(ok_h, lo, np.nan)
    # Déficit : P(X ≤ O) croît avec O ; le plus grand O sous la cible (−1 si aucun).
    lo = np.full_like(eb, -1.0)
    hi = np.ceil(eb + 1.0)
    while True:
        actif = hi - lo > 0
        if not actif.any():
            break
        mid = np.ceil((lo + hi) / 2.0)
        _, pd_ = queues(np.maximum(mid, 0.0), eb, phi, tau2)
        passe = pd_ <= cible
        lo = np.where(actif & passe, mid, lo)
        hi = np.where(actif & ~passe, mid - 1.0, hi)
    bas = np.where(ok_b, lo, np.nan)
    return haut, bas


def garwood(observe_min, observe_max=None, niveau: float = 0.95) -> tuple[np.ndarray,
                                                                       np.ndarray]:
    """Intervalle exact (Garwood 1936) de la moyenne de Poisson d'un effectif observé.

    ``[χ²(α/2 ; 2 O) / 2 ; χ²(1 − α/2 ; 2 O + 2) / 2]`` ; borne basse 0 pour O = 0.
    Pour un effectif connu par intervalle (cellule masquée), la borne basse vient du
    minimum et la borne haute du maximum : l'intervalle vaut pour toute valeur possible.

    Parameters
    ----------
    observe_min : array_like
        Effectif (ou son minimum) ; NaN = inconnu.
    observe_max : array_like, optional
        Maximum de l'effectif (``+inf`` : sans maximum) ; par défaut ``observe_min``.
    niveau : float, default 0.95

    Returns
    -------
    bas, haut : numpy.ndarray
        Bornes sur l'échelle de l'effectif (diviser par les personnes-années pour un
        taux, par l'attendu pour un ratio).
    """
    lo_o = np.asarray(observe_min, dtype=float)
    hi_o = lo_o if observe_max is None else np.asarray(observe_max, dtype=float)
    a = (1.0 - niveau) / 2.0
    with np.errstate(invalid="ignore"):
        bas = np.where(lo_o > 0, stats.chi2.ppf(a, 2.0 * np.where(lo_o > 0, lo_o, 1.0)) / 2.0,
                       0.0)
        haut = np.where(np.isinf(hi_o), np.inf,
                        stats.chi2.ppf(1.0 - a, 2.0 * np.where(np.isfinite(hi_o), hi_o, 0.0)
                                       + 2.0) / 2.0)
    bas = np.where(np.isnan(lo_o), np.nan, bas)
    haut = np.where(np.isnan(hi_o), np.nan, haut)
    return bas, haut


def limites_entonnoir(attendu, niveau: float = 0.95, phi: float = 1.0) -> tuple[np.ndarray,
                                                                                 np.ndarray]:
    """Limites de l'entonnoir (funnel plot) du ratio O/E, méthode exacte de Spiegelhalter.

    Pour chaque attendu E, on prend le quantile de Poisson ``r_p`` de ``Poisson(E/φ)`` et
    on l'interpole pour lisser la discrétisation (Spiegelhalter 2005, annexe A.1.2) :
    ``α = (F(r_p) − p) / (F(r_p) − F(r_p − 1))``, limite ``φ·(r_p − α) / E``.

    Parameters
    ----------
    attendu : array_like
        Effectifs attendus (> 0 ; NaN ailleurs).
    niveau : float, default 0.95
        Couverture bilatérale (0.95 ou 0.998 en général).
    phi : float, default 1
        Surdispersion, appliquée si > 1.

    Returns
    -------
    basse, haute : numpy.ndarray
        Limites sur l'échelle du ratio O/E (la cible est 1).
    """
    e = np.asarray(attendu, dtype=float)
    phi = max(float(phi), 1.0)
    out = []
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = np.where(e > 0, e / phi, np.nan)
        for p in ((1.0 - niveau) / 2.0, (1.0 + niveau) / 2.0):
            r = stats.poisson.ppf(p, mu)
            f_r = stats.poisson.cdf(r, mu)
            f_r1 = stats.poisson.cdf(r - 1, mu)
            alpha = np.where(f_r > f_r1, (f_r - p) / (f_r - f_r1), 0.0)
            out.append(np.maximum(phi * (r - alpha), 0.0) / e)
    return out[0], out[1]


def attendu_minimal(alpha: float = 0.05, phi: float = 1.0) -> float:
    """Attendu en dessous duquel zéro cas ne peut pas être significativement bas.

    Zéro cas est significatif (bilatéral, niveau ``alpha``) si ``2·exp(−E/φ) < alpha``,
    soit ``E > φ·ln(2/alpha)`` : environ 3,7 à 5 % (3,0 pour un test unilatéral).

    Parameters
    ----------
    alpha : float, default 0.05
    phi : float, default 1

    Returns
    -------
    float
    """
    return max(float(phi), 1.0) * float(np.log(2.0 / alpha))


def benjamini_hochberg(p) -> np.ndarray:
    """q-valeurs de Benjamini–Hochberg (taux de fausses découvertes), NaN ignorés.

    Parameters
    ----------
    p : array_like
        Probabilités dans [0, 1].

    Returns
    -------
    numpy.ndarray
        q-valeurs ajustées, dans l'ordre d'entrée ; NaN là où p est NaN.
    """
    p = np.asarray(p, dtype=float)
    q = np.full_like(p, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        q[ok] = stats.false_discovery_control(p[ok], method="bh")
    return q
