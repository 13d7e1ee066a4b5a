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
    modele_highs,
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

    Déplacement ``y = y+ − y-`` des valeurs qui respecte toutes les relations
    (``E y = 0``, ``G (a + y) >= 0``), amène la cellule visée au bout de sa plage, et coûte
    le moins en cellules publiées qu'il faut faire bouger ; les cellules publiées mobiles
    qui bougent sont à taire. D'un appel à l'autre seules changent les bornes (cellules
    tues entre-temps, cellule visée) et les coûts : le simplexe repart de la base
    précédente au lieu de tout reprendre. ``entier`` : le même programme en nombres
    entiers, quand seule l'intégralité resserre.
    """

    def __init__(self, systeme: Systeme, cols: np.ndarray, re_: np.ndarray,
                 rg: np.ndarray, entier: bool = False):
        self.systeme, self.cols, self.re_, self.rg = systeme, cols, re_, rg
        m = sparse.vstack([systeme.egalites[re_][:, cols],
                           systeme.inegalites[rg][:, cols]])
        a = sparse.hstack([m, -m])
        g_a = systeme.inegalites[rg] @ systeme.valeur
        zeros = np.zeros(a.shape[1])
        self.h = modele_highs(zeros, a, np.concatenate([np.zeros(re_.size), -g_a]),
                              np.concatenate([np.zeros(re_.size), np.full(rg.size, INF)]),
                              zeros, zeros, entier=entier)
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
        haut = np.where(np.isinf(haut), highspy.kHighsInf, haut)
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

    def modele(p: int, entier: bool) -> _ModeleDeplacement:
        """Programme de déplacement de la composante de ``p`` (un par composante)."""
        comp = graphe[0][p]
        if (comp, entier) not in modeles:
            modeles[comp, entier] = _ModeleDeplacement(
                systeme, np.flatnonzero(graphe[0] == comp), np.flatnonzero(graphe[1] == comp),
                np.flatnonzero(graphe[2] == comp), entier=entier)
        return modeles[comp, entier]

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
            nouvelles, point = modele(e.indice, False)(publie, candidats, couts, e.indice,
                                                       cible, vers_le_haut)
            if nouvelles.size == 0:
                # Le relâchement continu suffit déjà : c'est l'intégralité qui resserre.
                nouvelles, point = modele(e.indice, True)(publie, candidats, couts,
                                                          e.indice, cible, vers_le_haut)
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
