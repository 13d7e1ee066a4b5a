"""Lissage bayésien empirique des taux (global et spatial), contiguïté, Moran local.

Les formules sont celles de esda (``esda.smoothing.Empirical_Bayes``,
``Spatial_Empirical_Bayes``), réécrites en opérations vectorielles et matrices creuses :
les tests vérifient l'égalité à 1e-9 avec esda sur les mêmes entrées.

References
----------
Marshall R. J. (1991), « Mapping disease and mortality rates using empirical Bayes
estimators », Applied Statistics 40, 283-294.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

__all__ = [
    "bayes_empirique",
    "bayes_empirique_intervalle",
    "bayes_empirique_spatial",
    "contiguite_reine",
    "moran_local_taux",
    "risque_relatif_brut",
]


def _vectors(observe, population) -> tuple[np.ndarray, np.ndarray]:
    e = np.asarray(observe, dtype=float).ravel()
    b = np.asarray(population, dtype=float).ravel()
    if e.shape != b.shape:
        raise ValueError(
            f"observe et population doivent avoir la même longueur (reçu {e.size} et {b.size})."
        )
    return e, b


def risque_relatif_brut(observe, population) -> np.ndarray:
    """Rapport du taux de chaque unité au taux d'ensemble (``esda.smoothing.Excess_Risk``)."""
    e, b = _vectors(observe, population)
    with np.errstate(invalid="ignore", divide="ignore"):
        return e / (b * (e.sum() / b.sum()))


def bayes_empirique(observe, population) -> np.ndarray:
    """Taux lissé par Bayes empirique global (estimateur des moments de Marshall).

    Chaque taux ``r_i = O_i / b_i`` est rapproché du taux d'ensemble ``m`` d'autant plus
    que la population est petite : ``m + w_i (r_i − m)``, ``w_i = s² / (s² + m / b_i)``
    où ``s²`` est la variance entre unités estimée par les moments.

    Parameters
    ----------
    observe, population : array_like
        Effectifs et populations (population > 0). Les unités de population nulle ou
        d'effectif inconnu (NaN) n'entrent pas dans les moments et reçoivent NaN.

    Returns
    -------
    numpy.ndarray
        Taux lissés (par habitant).

    Notes
    -----
    Même calcul que ``esda.smoothing.Empirical_Bayes``, à une différence près : quand la
    variance estimée ``s²`` est négative (moins de dispersion que le hasard n'en
    produit), esda garde un poids négatif ; ici on la ramène à 0, ce qui donne le taux
    d'ensemble à toutes les unités (c'est aussi ce que fait esda pour le lissage spatial).
    """
    e, b = _vectors(observe, population)
    out = np.full(e.shape, np.nan)
    ok = ~np.isnan(e) & (b > 0)
    if not ok.any():
        return out
    e, b = e[ok], b[ok]
    m = e.sum() / b.sum()
    rate = e / b
    s2 = (b * (rate - m) ** 2).sum() / b.sum() - m / b.mean()
    s2 = max(s2, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(s2 + m / b > 0, s2 / (s2 + m / b), 0.0)
    out[ok] = w * rate + (1.0 - w) * m
    return out


def bayes_empirique_intervalle(observe, population, observe_min,
                               observe_max) -> tuple[np.ndarray, np.ndarray]:
    """Taux lissé (Bayes empirique global) d'unités connues par un intervalle d'effectif.

    Moyenne et variance entre unités estimées sur ``observe`` (effectifs exacts, ou
    valeur médiane plausible des cellules masquées), comme :func:`bayes_empirique` ;
    chaque taux lissé ``m + w_i (O_i / b_i − m)`` étant croissant en ``O_i``, ses bornes
    viennent des bornes de l'effectif.

    Parameters
    ----------
    observe, population : array_like
        Comme :func:`bayes_empirique`.
    observe_min, observe_max : array_like
        Bornes de l'effectif de chaque unité (``observe_max`` peut valoir ``+inf``).

    Returns
    -------
    bas, haut : numpy.ndarray
        Bornes du taux lissé (par habitant) ; NaN là où :func:`bayes_empirique` l'est.
    """
    e, b = _vectors(observe, population)
    lo = np.asarray(observe_min, dtype=float).ravel()
    hi = np.asarray(observe_max, dtype=float).ravel()
    bas = np.full(e.shape, np.nan)
    haut = np.full(e.shape, np.nan)
    ok = ~np.isnan(e) & (b > 0)
    if not ok.any():
        return bas, haut
    m = e[ok].sum() / b[ok].sum()
    rate = e[ok] / b[ok]
    s2 = max((b[ok] * (rate - m) ** 2).sum() / b[ok].sum() - m / b[ok].mean(), 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(s2 + m / b[ok] > 0, s2 / (s2 + m / b[ok]), 0.0)
        bas[ok] = m + w * (lo[ok] / b[ok] - m)
        haut[ok] = np.where(np.isinf(hi[ok]) & (w > 0), np.inf,
                            m + w * (np.where(np.isinf(hi[ok]), 0.0, hi[ok]) / b[ok] - m))
    return bas, haut


def contiguite_reine(geometries) -> sparse.csr_matrix:
    """Matrice binaire de contiguïté « reine » (un point commun suffit).

    Parameters
    ----------
    geometries : geopandas.GeoSeries or GeoDataFrame
        Polygones, dans l'ordre des unités.

    Returns
    -------
    scipy.sparse.csr_matrix
        ``W[i, j] = 1`` si i et j se touchent ; diagonale nulle.
    """
    import warnings

    from libpysal.weights import Queen

    geoms = getattr(geometries, "geometry", geometries)
    with warnings.catch_warnings():
        # libpysal prévient des îles (unités sans voisine) : elles gardent leur seul taux.
        warnings.simplefilter("ignore")
        w = Queen.from_iterable(list(geoms), ids=list(range(len(geoms))))
    w.transform = "b"
    return sparse.csr_matrix(w.sparse, dtype=float)


def bayes_empirique_spatial(observe, population, w) -> np.ndarray:
    """Taux lissé par Bayes empirique spatial (voisinage = l'unité et ses contiguës).

    Même estimateur que ``esda.smoothing.Spatial_Empirical_Bayes`` avec des poids
    binaires : moyenne locale ``m_i = Σ_N O / Σ_N b`` sur ``N = {i} ∪ voisins(i)``,
    variance locale ``s²_i = Σ_N b_j (r_j − m_i)² / Σ_N b − m_i / (Σ_N b / |N|)``
    (ramenée à 0 si négative), puis ``m_i + (r_i − m_i) s²_i / (s²_i + m_i / b_i)``.

    Parameters
    ----------
    observe, population : array_like
        Effectifs et populations (> 0), dans l'ordre des lignes de ``w``.
    w : scipy.sparse matrix or libpysal.weights.W
        Contiguïté binaire (diagonale nulle). Un ``W`` de libpysal est pris dans son
        ``id_order``.

    Returns
    -------
    numpy.ndarray
        Taux lissés (par habitant) ; NaN pour une population nulle ; la moyenne locale (0)
        quand l'unité et toutes ses voisines n'ont aucun cas.
    """
    e, b = _vectors(observe, population)
    if hasattr(w, "sparse"):
        mat = w.sparse
    else:
        mat = w
    mat = sparse.csr_matrix(mat, dtype=float)
    n = e.size
    if mat.shape != (n, n):
        raise ValueError(f"La matrice de voisinage est {mat.shape}, attendu ({n}, {n}).")
    # Voisinage fermé : l'unité et ses voisines, chacune une fois (poids binaires).
    a = (mat != 0).astype(float) + sparse.identity(n, format="csr")
    a.data[:] = 1.0
    a = a.tocoo()
    rows, cols = a.row, a.col
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = e / b
        bi = np.bincount(rows, weights=b[cols], minlength=n)
        m = np.bincount(rows, weights=e[cols], minlength=n) / bi
        nb = np.bincount(rows, minlength=n).astype(float)
        v = np.bincount(rows, weights=(rate[cols] - m[rows]) ** 2 * b[cols], minlength=n)
        s2 = v / bi - m / (bi / nb)
        s2 = np.where(s2 < 0, 0.0, s2)
        den = s2 + m / b
        # Une unité et toutes ses voisines à zéro : moyenne locale nulle, variance nulle ;
        # le taux lissé est cette moyenne (0), pas « 0 / 0 ».
        w = np.where(den > 0, s2 / np.where(den > 0, den, 1.0), 0.0)
        return np.where(b > 0, m + (rate - m) * w, np.nan)


def moran_local_taux(observe, population, geometries, permutations: int = 999,
                     seed: int = 12345) -> pd.DataFrame:
    """Moran local sur les taux (``esda.Moran_Local_Rate``, standardisation d'Assunção).

    Parameters
    ----------
    observe, population : array_like
    geometries : geopandas.GeoSeries
        Polygones des unités (contiguïté reine, poids standardisés en ligne).
    permutations : int, default 999
    seed : int, default 12345
        Graine des permutations, pour des résultats reproductibles.

    Returns
    -------
    pandas.DataFrame
        Colonnes ``moran_local_i``, ``moran_local_p`` (pseudo-p des permutations),
        ``moran_local_groupe`` : « haut-haut », « bas-bas », « haut-bas », « bas-haut »,
        ou « non significatif » (p ≥ 0,05).
    """
    import warnings

    from esda.moran import Moran_Local_Rate
    from libpysal.weights import Queen

    geoms = getattr(geometries, "geometry", geometries)
    with warnings.catch_warnings():
        # libpysal prévient des îles (communes sans voisine) : elles restent non significatives.
        warnings.simplefilter("ignore")
        w = Queen.from_iterable(list(geoms), ids=list(range(len(geoms))))
        lm = Moran_Local_Rate(np.asarray(observe, float), np.asarray(population, float), w,
                              permutations=permutations, seed=seed)
    noms = {1: "haut-haut", 2: "bas-haut", 3: "bas-bas", 4: "haut-bas"}
    groupe = [noms[q] if p < 0.05 else "non significatif" for q, p in zip(lm.q, lm.p_sim,
                                                                          strict=True)]
    return pd.DataFrame({"moran_local_i": lm.Is, "moran_local_p": lm.p_sim,
                         "moran_local_groupe": groupe})
