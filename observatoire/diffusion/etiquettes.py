"""Étiquettes d'une table publique, et leur inversion par l'intrus.

La règle est celle des statistiques, :func:`observatoire.stats.labels.etiqueter_intervalles`,
appliquée aux **intervalles publics** : une cellule visible a un intervalle réduit à sa
valeur ; une cellule secrète, celui que calcule l'intrus. Avec le contrôle de
Benjamini–Hochberg, le seuil effectif ``seuil_p`` est calculé sur ces intervalles et publié
avec la table : l'étiquette d'une unité ne dépend alors que de son intervalle public, de
son attendu et de ce seuil — rien de ce que le public ne sait déjà.
"""

from __future__ import annotations

import numpy as np

__all__ = ["effectifs_compatibles", "etiqueter_table"]


def etiqueter_table(omin, omax, attendu, *, phi: float, alpha: float, fdr: bool, connu,
                    attendu_min=None, attendu_max=None, tau2: float = 0.0,
                    motif_inconnu=None):
    """Étiquettes d'une table à partir des intervalles publics de ses unités.

    Returns
    -------
    pandas.DataFrame
        Sortie de :func:`~observatoire.stats.labels.etiqueter_intervalles` ;
        ``attrs["seuil_p"]`` : le seuil effectif, à publier avec la table.
    """
    from observatoire.stats.labels import etiqueter_intervalles

    return etiqueter_intervalles(omin, omax, attendu, phi=phi, alpha=alpha, fdr=fdr,
                                 connu=connu, attendu_min=attendu_min,
                                 attendu_max=attendu_max, tau2=tau2,
                                 motif_inconnu=motif_inconnu)


def effectifs_compatibles(labels, attendu, *, table: dict, attendu_min=None,
                          attendu_max=None, k_max: int | None = None
                          ) -> tuple[np.ndarray, np.ndarray]:
    """Plus petit et plus grand effectif entier qui recevraient chaque étiquette.

    C'est l'inversion des étiquettes par l'intrus : il connaît l'attendu, φ, τ² et le
    seuil effectif publiés avec la table. Toutes les cellules d'une table sont traitées
    d'un seul appel à la règle (une grille d'effectifs par cellule).

    Parameters
    ----------
    labels : array_like of str
        Étiquette publiée de chaque cellule.
    attendu, attendu_min, attendu_max : array_like
        Attendus (et leurs bornes) de chaque cellule.
    table : dict
        La table publique (``phi``, ``tau2``, ``seuil_p``, ``alpha``).
    k_max : int, optional
        Plus grand effectif essayé (par défaut ``5 E + 60``).

    Returns
    -------
    bas, haut : numpy.ndarray
        ``haut`` vaut ``inf`` quand tout grand effectif convient.
    """
    from observatoire.stats.labels import etiqueter_intervalles

    labels = np.asarray(labels, dtype=object)
    e = np.asarray(attendu, float)
    e_lo = e if attendu_min is None else np.asarray(attendu_min, float)
    e_hi = e if attendu_max is None else np.asarray(attendu_max, float)
    m = e.size
    bas = np.zeros(m)
    haut = np.full(m, np.inf)
    if m == 0:
        return bas, haut
    kmax = np.asarray(k_max if k_max is not None else np.maximum(60, 5 * e + 60), int)
    kmax = np.broadcast_to(kmax, (m,))
    longueurs = kmax + 1
    cellule = np.repeat(np.arange(m), longueurs)
    k = np.concatenate([np.arange(n) for n in longueurs]).astype(float)
    r = etiqueter_intervalles(k, k, e[cellule], phi=float(table.get("phi") or 1.0),
                              alpha=float(table.get("alpha") or 0.05),
                              seuil_p=float(table.get("seuil_p") or 0.0),
                              attendu_min=e_lo[cellule], attendu_max=e_hi[cellule],
                              tau2=float(table.get("tau2") or 0.0))
    ok = r["label"].to_numpy(object) == labels[cellule]
    debut = np.concatenate([[0], np.cumsum(longueurs)[:-1]])
    for i in range(m):
        idx = np.flatnonzero(ok[debut[i]:debut[i] + longueurs[i]])
        if idx.size == 0:
            continue
        bas[i] = float(idx[0])
        haut[i] = np.inf if idx[-1] == kmax[i] else float(idx[-1])
    return bas, haut
