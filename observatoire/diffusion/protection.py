"""Secret secondaire d'un ensemble de publications : planification et audit.

**Exigence.** Pour chaque cellule *protégée* (effectif communal de 1 à seuil − 1, ou
complément « total − dont » dans cette plage), l'intervalle que l'intrus peut calculer
avec tout ce qui est publié (:func:`observatoire.diffusion.systeme.intervalles`,
intégralité comprise) doit contenir tout 1..seuil − 1 — le bas de l'intervalle pouvant
seulement valoir le minimum que la structure impose d'elle-même (un cumul de deux années
secrètes vaut au moins 2, qu'on publie ou non quoi que ce soit d'autre).

**Planification** (:func:`planifier`) : heuristique classique de suppression de cellules
par programmation linéaire (Kelly, Golden et Assad 1992, « Cell suppression: disclosure
protection for sensitive tabular data », *Networks* 22 ; c'est le sous-problème de
l'attaquant de Fischetti et Salazar-González 1999, celui des méthodes de τ-Argus). Tant
qu'une cellule protégée est exposée, on cherche le déplacement ``y`` des valeurs qui
respecte toutes les relations publiées (``E y = 0``, ``G (a + y) >= 0``), amène la cellule
exposée au bout de sa plage, et coûte le moins en cellules publiées qu'il faut faire
bouger (coût d'une cellule : sa valeur, comme le coût par défaut de τ-Argus). Les cellules
publiées que ce déplacement fait bouger sont tues. On audite à nouveau la composante, et
ainsi de suite. Les zéros ne sont jamais tus (ils portent le signal des zones blanches), et
les cellules fixées par une publication antérieure ne changent pas de statut.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from observatoire.diffusion.systeme import (
    INF,
    Certificats,
    Systeme,
    composantes,
    intervalles,
    resoudre,
)

__all__ = ["Audit", "Exposition", "auditer", "planifier"]


@dataclass
class Exposition:
    """Une cellule protégée que l'intrus resserre."""

    indice: int
    cle: object
    valeur: float
    bas: float
    haut: float

    def to_dict(self) -> dict:
        """Forme sérialisable (réservée aux agents : elle contient la valeur exacte)."""
        return {"cle": list(self.cle) if isinstance(self.cle, tuple) else self.cle,
                "valeur": self.valeur, "intervalle_intrus": [self.bas, self.haut]}


@dataclass
class Audit:
    """Résultat de l'audit : cellules protégées, exposées, programmes résolus."""

    n_protegees: int
    expositions: list[Exposition] = field(default_factory=list)
    resolutions: int = 0
    certificats: Certificats | None = None

    @property
    def sur(self) -> bool:
        """Vrai si aucune cellule protégée n'est resserrée."""
        return not self.expositions


def _exigences(systeme: Systeme, protegees: np.ndarray, seuil: int):
    haut_requis = np.where(protegees, float(seuil - 1), INF)
    return haut_requis


def auditer(systeme: Systeme, protegees: np.ndarray, seuil: int,
            certificats: Certificats | None = None, minima: dict | None = None) -> Audit:
    """Intervalle de l'intrus pour chaque cellule protégée, et celles qu'il resserre.

    Parameters
    ----------
    systeme : Systeme
        Toutes les publications ensemble (celle qu'on prépare et les validées).
    protegees : numpy.ndarray of bool
        Cellules dont l'intervalle doit contenir 1..seuil − 1.
    seuil : int
        Seuil du secret.
    certificats : Certificats, optional
        Voir :func:`~observatoire.diffusion.systeme.intervalles`.
    minima : dict, optional
        Minimums « a priori » déjà calculés (indice → minimum), complétés au passage. Ils
        ne dépendent que des relations et des zéros, pas de ce qui est publié : la
        planification les garde d'un audit à l'autre.

    Returns
    -------
    Audit
    """
    protegees = np.asarray(protegees, bool)
    expo = []
    visibles = protegees & systeme.publie
    for i in np.flatnonzero(visibles):
        v = systeme.valeur[i]
        expo.append(Exposition(int(i), systeme.cles[i], float(v), float(v), float(v)))
    iv = intervalles(systeme, seuil_haut=_exigences(systeme, protegees, seuil),
                     bas_requis=protegees, cibles=protegees & ~systeme.publie, entier=True,
                     certificats=certificats)
    trop_haut = protegees & ~systeme.publie & (iv.bas > 1 + 1e-9)
    if trop_haut.any():
        # Un cumul de deux années secrètes vaut au moins 2 par construction : ce minimum ne
        # doit rien aux valeurs publiées. On ne compte comme resserrement que ce qui dépasse
        # le minimum « a priori », celui qu'imposent les seules relations quand toute
        # cellule non nulle est tue (chacune ≥ 1) et que seuls les zéros sont publiés.
        minima = {} if minima is None else minima
        a_calculer = trop_haut.copy()
        a_calculer[list(minima)] = False
        if a_calculer.any():
            a_priori = systeme.avec_publication(systeme.publie & (systeme.valeur == 0))
            iv0 = intervalles(a_priori, seuil_haut=np.full(systeme.n, -INF),
                              bas_requis=a_calculer, cibles=a_calculer)
            for i in np.flatnonzero(a_calculer):
                minima[int(i)] = max(float(iv0.bas[i]), 1.0)
        minimum = np.ones(systeme.n)
        for i in np.flatnonzero(trop_haut):
            minimum[i] = minima[int(i)]
    else:
        minimum = np.ones(systeme.n)
    for i in np.flatnonzero(protegees & ~systeme.publie):
        if iv.bas[i] > minimum[i] + 1e-9 or iv.haut[i] < seuil - 1 - 1e-9:
            expo.append(Exposition(int(i), systeme.cles[i], float(systeme.valeur[i]),
                                   float(iv.bas[i]), float(iv.haut[i])))
    expo.sort(key=lambda e: e.indice)
    return Audit(n_protegees=int(protegees.sum()), expositions=expo,
                 resolutions=iv.resolutions)


def _deplacement(systeme: Systeme, publie: np.ndarray, candidats: np.ndarray,
                 couts: np.ndarray, p: int, cible: float, vers_le_haut: bool,
                 entier: bool, graphe: tuple | None = None
                 ) -> tuple[np.ndarray, np.ndarray | None]:
    """Cellules publiées à taire pour que la cellule ``p`` puisse atteindre ``cible``.

    Programme linéaire (ou en nombres entiers) du déplacement ``y`` de moindre coût,
    restreint à la composante de ``p`` dans le graphe de toutes les cellules (``graphe`` :
    ces composantes, calculées une fois).

    Returns
    -------
    cellules : numpy.ndarray
        Indices des cellules publiées à taire (vide si aucun déplacement n'existe).
    point : numpy.ndarray or None
        Le point vrai déplacé : réalisable une fois ces cellules tues, et où ``p`` atteint
        ``cible``. Il certifie donc cette borne sans nouvelle résolution.
    """
    lab, rows_e, rows_g = graphe or composantes(systeme, np.ones(systeme.n, bool))
    comp = lab[p]
    cols = np.flatnonzero(lab == comp)
    re_ = np.flatnonzero(rows_e == comp)
    rg = np.flatnonzero(rows_g == comp)
    a = systeme.valeur
    libres = ~publie[cols]
    mobiles = publie[cols] & candidats[cols]
    # Colonnes : y libre (cellules déjà tues), puis y+ et y- des cellules publiées mobiles.
    idx_l = cols[libres]
    idx_m = cols[mobiles]
    nl, nm = idx_l.size, idx_m.size
    e = systeme.egalites[re_]
    g = systeme.inegalites[rg]

    def bloc(mat):
        return sparse.hstack([mat[:, idx_l], mat[:, idx_m], -mat[:, idx_m]]).tocsr()

    cout = np.concatenate([np.zeros(nl), couts[idx_m], couts[idx_m]])
    lo = np.concatenate([systeme.bas[idx_l] - a[idx_l], np.zeros(nm), np.zeros(nm)])
    hi = np.concatenate([systeme.haut[idx_l] - a[idx_l], np.full(nm, INF),
                         np.maximum(a[idx_m] - 1.0, 0.0)])
    # La cellule visée atteint le bout de sa plage.
    if p in set(idx_l.tolist()):
        k = int(np.flatnonzero(idx_l == p)[0])
        if vers_le_haut:
            lo[k] = max(lo[k], cible - a[p])
        else:
            hi[k] = min(hi[k], cible - a[p])
    else:
        raise ValueError("la cellule visée doit être tue avant d'être protégée")
    blocs, bas_l, haut_l = [], [], []
    if re_.size:
        blocs.append(bloc(e))
        bas_l.append(np.zeros(re_.size))
        haut_l.append(np.zeros(re_.size))
    if rg.size:
        blocs.append(bloc(g))
        bas_l.append(-(g @ a))
        haut_l.append(np.full(rg.size, INF))
    y = resoudre(cout, sparse.vstack(blocs), np.concatenate(bas_l), np.concatenate(haut_l),
                 lo, hi, entier=entier)
    if y is None:
        return np.array([], int), None
    bouge = (y[nl:nl + nm] > 1e-7) | (y[nl + nm:] > 1e-7)
    point = a.astype(float).copy()
    point[idx_l] += y[:nl]
    point[idx_m[bouge]] += (y[nl:nl + nm] - y[nl + nm:])[bouge]
    return idx_m[bouge], _verifie(systeme, cols, re_, rg, point)


def _verifie(systeme: Systeme, cols, re_, rg, point: np.ndarray) -> np.ndarray | None:
    """Le point, s'il respecte vraiment tout (tolérances du solveur comprises), sinon None.

    Un point douteux ne sert pas de certificat : l'audit qui suit recalcule la borne.
    """
    e = systeme.egalites[re_]
    g = systeme.inegalites[rg]
    ok = (np.all(point[cols] >= systeme.bas[cols] - 1e-7)
          and np.all(point[cols] <= systeme.haut[cols] + 1e-7)
          and (re_.size == 0 or np.abs(e @ point).max() < 1e-6)
          and (rg.size == 0 or (g @ point).min() > -1e-6))
    return point if ok else None


class _ModeleDeplacement:
    """Le programme de déplacement d'une composante, gardé d'un appel à l'autre.

    Variables ``y+`` et ``y-`` de chaque cellule. D'un appel à l'autre seules changent
    les bornes (cellules tues entre-temps, cellule visée) et les coûts : le simplexe
    repart de la base précédente au lieu de tout reprendre (le même programme que
    :func:`_deplacement`, en continu).
    """

    def __init__(self, systeme: Systeme, cols: np.ndarray, re_: np.ndarray,
                 rg: np.ndarray):
        import highspy

        from observatoire.diffusion.systeme import _highs

        self.systeme, self.cols, self.re_, self.rg = systeme, cols, re_, rg
        m = sparse.vstack([systeme.egalites[re_][:, cols],
                           systeme.inegalites[rg][:, cols]])
        a = sparse.hstack([m, -m]).tocsc()
        self.inf = highspy.kHighsInf
        g_a = systeme.inegalites[rg] @ systeme.valeur
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = a.shape[1], a.shape[0]
        lp.col_cost_ = np.zeros(a.shape[1])
        lp.col_lower_ = np.zeros(a.shape[1])
        lp.col_upper_ = np.zeros(a.shape[1])
        lp.row_lower_ = np.concatenate([np.zeros(re_.size), -g_a])
        lp.row_upper_ = np.concatenate([np.zeros(re_.size), np.full(rg.size, self.inf)])
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = a.indptr
        lp.a_matrix_.index_ = a.indices
        lp.a_matrix_.value_ = a.data
        self.h = _highs()
        self.h.passModel(lp)
        self.tous = np.arange(2 * cols.size, dtype=np.int32)

    def __call__(self, publie: np.ndarray, candidats: np.ndarray, couts: np.ndarray,
                 p: int, cible: float, vers_le_haut: bool
                 ) -> tuple[np.ndarray, np.ndarray | None]:
        import highspy

        s, cols = self.systeme, self.cols
        a = s.valeur[cols].astype(float)
        pub = publie[cols]
        mob = pub & candidats[cols]
        haut_p = np.where(~pub, s.haut[cols] - a, np.where(mob, np.inf, 0.0))
        haut_m = np.where(~pub, a - s.bas[cols], np.where(mob, np.maximum(a - 1.0, 0.0),
                                                          0.0))
        bas_p = np.zeros(cols.size)
        bas_m = np.zeros(cols.size)
        k = int(np.searchsorted(cols, p))
        if vers_le_haut:
            bas_p[k], haut_m[k] = cible - a[k], 0.0
        else:
            bas_m[k], haut_p[k] = a[k] - cible, 0.0
        if bas_p[k] > haut_p[k] or bas_m[k] > haut_m[k]:
            return np.array([], int), None
        haut = np.concatenate([haut_p, haut_m])
        haut = np.where(np.isinf(haut), self.inf, haut)
        c = np.where(mob, couts[cols], 0.0)
        h = self.h
        h.changeColsBounds(self.tous.size, self.tous, np.concatenate([bas_p, bas_m]), haut)
        h.changeColsCost(self.tous.size, self.tous, np.concatenate([c, c]))
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return np.array([], int), None
        y = np.asarray(h.getSolution().col_value, float)
        yp, ym = y[:cols.size], y[cols.size:]
        bouge = mob & ((yp > 1e-7) | (ym > 1e-7))
        point = s.valeur.astype(float).copy()
        libres = ~pub
        point[cols[libres]] += (yp - ym)[libres]
        point[cols[bouge]] += (yp - ym)[bouge]
        return cols[bouge], _verifie(s, cols, self.re_, self.rg, point)


def planifier(systeme: Systeme, protegees: np.ndarray, candidats: np.ndarray, seuil: int,
              couts: np.ndarray | None = None, max_iterations: int = 100_000
              ) -> tuple[np.ndarray, Audit]:
    """Choisit les cellules à taire pour qu'aucune cellule protégée ne soit resserrée.

    Parameters
    ----------
    systeme : Systeme
        ``publie`` : le point de départ (cellules protégées et inconnues déjà tues).
    protegees : numpy.ndarray of bool
        Cellules dont l'intervalle doit contenir 1..seuil − 1.
    candidats : numpy.ndarray of bool
        Cellules publiées que l'on peut encore taire (ni zéro, ni fixées par une
        publication antérieure).
    seuil : int
    couts : numpy.ndarray, optional
        Coût de taire chaque cellule (défaut : sa valeur).
    max_iterations : int
        Garde-fou.

    Returns
    -------
    publie : numpy.ndarray of bool
        Statut final de chaque variable.
    audit : Audit
        L'audit final : ``audit.sur`` est faux si une cellule ne peut pas être protégée
        (par exemple quand une publication antérieure a déjà tout montré autour d'elle).
    """
    protegees = np.asarray(protegees, bool)
    candidats = np.asarray(candidats, bool) & (systeme.valeur >= 1)
    publie = systeme.publie.copy()
    publie[protegees] = False
    couts = np.maximum(systeme.valeur, 1.0) if couts is None else np.asarray(couts, float)
    resolutions = 0
    courant = systeme.avec_publication(publie)
    # Un seul jeu de certificats : chaque cellule tue de plus agrandit l'ensemble
    # réalisable, les points déjà trouvés le restent.
    cert = Certificats.du_point_vrai(systeme)
    minima: dict = {}
    graphe = composantes(systeme, np.ones(systeme.n, bool))
    modeles: dict = {}
    audit = auditer(courant, protegees, seuil, cert, minima)
    resolutions += audit.resolutions
    restantes = []
    # Chaque cellule exposée est réexaminée seule juste avant d'être traitée : les cellules
    # tues pour une autre l'ont peut-être déjà protégée.
    for x in audit.expositions:
        seule = np.zeros(systeme.n, bool)
        seule[x.indice] = True
        etat = None
        for _ in range(max_iterations):
            etat = auditer(courant, seule, seuil, cert, minima)
            resolutions += etat.resolutions
            if etat.sur:
                break
            e = etat.expositions[0]
            vers_le_haut = e.haut < seuil - 1 - 1e-9
            cible = float(seuil - 1) if vers_le_haut else 1.0
            comp = graphe[0][e.indice]
            if comp not in modeles:
                modeles[comp] = _ModeleDeplacement(
                    systeme, np.flatnonzero(graphe[0] == comp),
                    np.flatnonzero(graphe[1] == comp), np.flatnonzero(graphe[2] == comp))
            nouvelles, point = modeles[comp](publie, candidats, couts, e.indice, cible,
                                             vers_le_haut)
            if nouvelles.size == 0:
                # Le relâchement continu suffit déjà : c'est l'intégralité qui resserre.
                nouvelles, point = _deplacement(courant, publie, candidats, couts,
                                                e.indice, cible, vers_le_haut,
                                                entier=True, graphe=graphe)
            if nouvelles.size == 0:
                break  # impossible à protéger ici : l'audit le dit
            publie[nouvelles] = False
            courant = systeme.avec_publication(publie)
            if point is not None:
                cert.noter(point)
        if etat is not None and not etat.sur:
            restantes += etat.expositions
    final = Audit(audit.n_protegees, restantes, resolutions)
    final.certificats = cert
    return publie, final
