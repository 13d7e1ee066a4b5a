"""Le système linéaire de l'intrus : ce qu'un lecteur peut écrire avec tout ce qui est publié.

Chaque cellule publiée ou tue (effectif d'une commune, total d'un EPCI, cumul de trois
ans, « dont femmes » et son complément…) est une variable. Les relations publiques entre
cellules (un total est la somme de ses parties, un cumul la somme de ses années, un total
moins son « dont » est un complément ≥ 0, le total de chaque source sur son périmètre est
couvert par les communes de ce périmètre) sont des égalités et des inégalités linéaires
homogènes. Un lecteur qui connaît les valeurs publiées, les zéros publiés et le fait qu'une
cellule tue vaut au moins 1 peut calculer, pour chaque cellule tue, l'intervalle de ses
valeurs possibles : le minimum et le maximum d'un programme linéaire. C'est l'audit
classique du secret secondaire (Cox 1980 ; Fischetti et Salazar-González 1999), celui de
τ-Argus, résolu ici avec HiGHS.

Les programmes sont résolus composante connexe par composante connexe (les cellules tues
reliées par au moins une relation), avec un seul modèle HiGHS par composante dont seule la
fonction objectif change d'une résolution à l'autre (démarrage à chaud du simplexe). Chaque
solution est un point réalisable : elle certifie d'un coup, pour toutes les variables de
la composante, qu'une valeur est atteignable, ce qui évite la plupart des résolutions.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

__all__ = ["Intervalles", "Systeme", "SystemeBuilder", "intervalles", "modele_highs",
           "resoudre"]

INF = float("inf")
_TOL = 1e-7


@dataclass
class Systeme:
    """Variables et relations linéaires homogènes d'un ensemble de publications.

    Attributes
    ----------
    cles : list
        Clé de chaque variable (dans l'ordre des colonnes).
    valeur : numpy.ndarray
        Valeur exacte de chaque variable (connue des agents). Une variable dont la valeur
        exacte est inconnue de tous (cellule masquée à la source) porte une valeur
        représentative réalisable (le système est satisfait) et ``connue`` faux.
    connue : numpy.ndarray of bool
    publie : numpy.ndarray of bool
        Valeur connue du public (fixée dans le système).
    bas, haut : numpy.ndarray
        Bornes que le public connaît pour les variables non publiées (1 pour une
        cellule tue : les zéros sont toujours publiés ; 0 pour un complément).
    egalites : scipy.sparse.csr_matrix
        ``E x = 0``.
    inegalites : scipy.sparse.csr_matrix
        ``G x >= 0``.
    """

    cles: list
    valeur: np.ndarray
    connue: np.ndarray
    publie: np.ndarray
    bas: np.ndarray
    haut: np.ndarray
    egalites: sparse.csr_matrix
    inegalites: sparse.csr_matrix
    index: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Nombre de variables."""
        return len(self.cles)

    def avec_publication(self, publie: np.ndarray) -> Systeme:
        """Le même système avec un autre choix des cellules publiées."""
        return Systeme(self.cles, self.valeur, self.connue, np.asarray(publie, bool),
                       self.bas, self.haut, self.egalites, self.inegalites, self.index)


class SystemeBuilder:
    """Construit un :class:`Systeme` variable par variable, relation par relation."""

    def __init__(self) -> None:
        self._cles: list = []
        self._index: dict = {}
        self._val: list[float] = []
        self._connue: list[bool] = []
        self._publie: list[bool] = []
        self._bas: list[float] = []
        self._haut: list[float] = []
        self._eq: list[tuple[list[int], list[float]]] = []
        self._ineq: list[tuple[list[int], list[float]]] = []

    def __contains__(self, cle: Hashable) -> bool:
        return cle in self._index

    def indice(self, cle: Hashable) -> int:
        """Colonne de la variable ``cle`` (KeyError si absente)."""
        return self._index[cle]

    def variable(self, cle: Hashable, valeur: float, *, publie: bool, connue: bool = True,
                 bas: float = 1.0, haut: float = INF) -> int:
        """Ajoute (ou retrouve) une variable ; renvoie sa colonne.

        Une variable déjà présente garde ses attributs, sauf ``publie`` qui devient vrai
        dès qu'une publication la montre.
        """
        if cle in self._index:
            i = self._index[cle]
            self._publie[i] = self._publie[i] or bool(publie)
            return i
        i = len(self._cles)
        self._index[cle] = i
        self._cles.append(cle)
        self._val.append(float(valeur))
        self._connue.append(bool(connue))
        self._publie.append(bool(publie))
        self._bas.append(float(bas))
        self._haut.append(float(haut))
        return i

    def somme(self, total: int, parties: Sequence[int]) -> None:
        """Relation ``total = Σ parties``."""
        parties = list(parties)
        if not parties:
            return
        self._eq.append(([total, *parties], [-1.0] + [1.0] * len(parties)))

    def combinaison(self, termes: Sequence[tuple[int, float]], *, egalite: bool) -> None:
        """Relation ``Σ coef · x = 0`` (égalité) ou ``Σ coef · x >= 0``."""
        idx = [int(i) for i, _c in termes]
        coef = [float(c) for _i, c in termes]
        (self._eq if egalite else self._ineq).append((idx, coef))

    def construire(self) -> Systeme:
        """Le système, matrices creuses comprises."""
        n = len(self._cles)

        def _mat(rows):
            r, c, d = [], [], []
            for k, (idx, coef) in enumerate(rows):
                r += [k] * len(idx)
                c += idx
                d += coef
            return sparse.csr_matrix((d, (r, c)), shape=(len(rows), n))

        return Systeme(
            cles=list(self._cles), valeur=np.asarray(self._val, float),
            connue=np.asarray(self._connue, bool), publie=np.asarray(self._publie, bool),
            bas=np.asarray(self._bas, float), haut=np.asarray(self._haut, float),
            egalites=_mat(self._eq), inegalites=_mat(self._ineq), index=dict(self._index))


@dataclass
class Intervalles:
    """Intervalle de chaque variable non publiée que le public peut calculer.

    Attributes
    ----------
    bas, haut : numpy.ndarray
        Minimum et maximum du programme linéaire (``haut`` vaut ``inf`` si rien ne borne
        la variable). Pour une variable publiée : sa valeur. Quand un seuil a été donné
        et qu'un point réalisable l'atteint, ``haut`` est ce point (``haut_exact`` faux) :
        on sait seulement que le maximum est au moins cette valeur.
    haut_exact : numpy.ndarray of bool
    bas_entier, haut_entier : numpy.ndarray of bool
        Vrai quand un point réalisable **entier** atteint la borne (ou le seuil) : le
        public ne peut pas resserrer l'intervalle en tenant compte de l'intégralité.
    bas_exact : numpy.ndarray of bool
        Faux quand seul un point sous le ``plancher_bas`` a été trouvé : ``bas`` est
        alors la borne publique et le vrai minimum est entre elle et le plancher.
    resolutions : int
        Programmes linéaires résolus (les autres bornes sont certifiées par des points).
    """

    bas: np.ndarray
    haut: np.ndarray
    haut_exact: np.ndarray
    bas_entier: np.ndarray
    haut_entier: np.ndarray
    resolutions: int = 0
    bas_exact: np.ndarray | None = None


@dataclass
class Certificats:
    """Extrêmes déjà atteints par des points réalisables, variable par variable.

    Valables pour tout système dont l'ensemble réalisable contient celui des points qui
    les ont produits : taire une cellule de plus ne fait qu'agrandir cet ensemble, si bien
    que les certificats d'un audit servent aux suivants (planification, intervalles des
    étiquettes).
    """

    vu_max: np.ndarray
    vu_min: np.ndarray
    vu_max_e: np.ndarray
    vu_min_e: np.ndarray

    @classmethod
    def du_point_vrai(cls, systeme: Systeme) -> Certificats:
        """Le point vrai, réalisable et entier."""
        v = systeme.valeur.astype(float)
        return cls(v.copy(), v.copy(), v.copy(), v.copy())

    def noter(self, x: np.ndarray, cols: np.ndarray | None = None) -> None:
        """Ajoute un point réalisable (``x`` : valeurs des colonnes ``cols``, ou toutes)."""
        cols = slice(None) if cols is None else cols
        self.vu_max[cols] = np.maximum(self.vu_max[cols], x)
        self.vu_min[cols] = np.minimum(self.vu_min[cols], x)
        if _entier(x):
            self.vu_max_e[cols] = np.maximum(self.vu_max_e[cols], np.round(x))
            self.vu_min_e[cols] = np.minimum(self.vu_min_e[cols], np.round(x))


_BANNIERE = threading.Lock()
_BANNIERE_VUE = False


def _highs():
    """Un solveur HiGHS silencieux.

    La bibliothèque C++ écrit son bandeau sur la sortie standard à la première
    construction du processus, avant toute option : on le détourne, sans quoi il se
    mêlerait au JSON de la ligne de commande.
    """
    global _BANNIERE_VUE
    import highspy

    with _BANNIERE:
        if not _BANNIERE_VUE:
            _BANNIERE_VUE = True
            with _stdout_detourne():
                h = highspy.Highs()
        else:
            h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    return h


@contextlib.contextmanager
def _stdout_detourne():
    try:
        fd = os.dup(1)
    except OSError:  # pas de sortie standard (service)
        yield
        return
    try:
        with open(os.devnull, "w") as nul:
            os.dup2(nul.fileno(), 1)
            try:
                yield
            finally:
                os.dup2(fd, 1)
    finally:
        os.close(fd)


def composantes(systeme: Systeme, libres: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                               np.ndarray]:
    """Composantes connexes des variables ``libres`` reliées par les relations.

    Returns
    -------
    etiquette : numpy.ndarray
        Composante de chaque variable libre (-1 pour les autres).
    lignes_eq, lignes_ineq : numpy.ndarray
        Composante de chaque relation (-1 si elle ne contient aucune variable libre).
    """
    libres = np.asarray(libres, bool)
    cols = np.flatnonzero(libres)
    etiquette = np.full(systeme.n, -1)
    e = systeme.egalites[:, cols].tocsr()
    g = systeme.inegalites[:, cols].tocsr()
    m_e, m_g, k = e.shape[0], g.shape[0], cols.size
    inc = sparse.vstack([e, g]).tocoo()
    # Graphe biparti relations–variables : une composante = un petit programme.
    graphe = sparse.coo_matrix((np.ones(inc.nnz), (inc.row, inc.col + m_e + m_g)),
                               shape=(m_e + m_g + k, m_e + m_g + k))
    _n, lab = connected_components(graphe, directed=False)
    etiquette[cols] = lab[m_e + m_g:]
    lignes = lab[:m_e + m_g].copy()
    vides = np.diff(sparse.vstack([e, g]).tocsr().indptr) == 0
    lignes[vides] = -1
    return etiquette, lignes[:m_e], lignes[m_e:]


class _Composante:
    """Programme linéaire d'une composante : un modèle HiGHS, des objectifs successifs."""

    def __init__(self, systeme: Systeme, cols: np.ndarray, rows_eq: np.ndarray,
                 rows_ineq: np.ndarray, entier: bool = False):
        self.cols = cols
        v = systeme.valeur
        pub = systeme.publie
        fixes = np.where(pub, v, 0.0)
        e = systeme.egalites[rows_eq]
        g = systeme.inegalites[rows_ineq]
        # Les variables publiées passent au second membre.
        rhs_e = -(e @ fixes)
        rhs_g = -(g @ fixes)
        a = sparse.vstack([e[:, cols], g[:, cols]]).tocsc()
        self.a = a.tocsr()
        self.rhs_lo = np.concatenate([rhs_e, rhs_g])
        self.rhs_hi = np.concatenate([rhs_e, np.full(rhs_g.size, INF)])
        self.lo = systeme.bas[cols].astype(float)
        self.hi = systeme.haut[cols].astype(float)
        n = cols.size
        self.h = modele_highs(np.zeros(n), a, self.rhs_lo, self.rhs_hi, self.lo, self.hi,
                              entier=entier)
        # Seule la fonction objectif change d'une résolution à l'autre : la base optimale
        # précédente reste réalisable, le simplexe primal repart d'elle (trois fois plus
        # rapide ici que le dual, qui repartirait presque de zéro).
        self.h.setOptionValue("simplex_strategy", 4)
        self.n = n
        self._couts = np.zeros(n)
        self.resolutions = 0

    def _resoudre(self, couts: np.ndarray) -> np.ndarray | None:
        import highspy

        h = self.h
        change = np.flatnonzero(couts != self._couts)
        if change.size:
            h.changeColsCost(change.size, change.astype(np.int32), couts[change])
            self._couts = couts.copy()
        h.run()
        self.resolutions += 1
        statut = h.getModelStatus()
        if statut == highspy.HighsModelStatus.kOptimal:
            return np.asarray(h.getSolution().col_value, float)[:self.n]
        if statut in (highspy.HighsModelStatus.kUnbounded,
                      highspy.HighsModelStatus.kUnboundedOrInfeasible):
            return None
        raise RuntimeError(f"HiGHS : statut inattendu {h.modelStatusToString(statut)}")

    def somme_minimale(self, poids: np.ndarray) -> np.ndarray | None:
        """Point qui minimise la somme pondérée des variables (None si non borné)."""
        couts = np.zeros_like(self._couts)
        couts[:self.n] = poids
        return self._resoudre(couts)

    def pousser(self, locales: np.ndarray, plafonds: np.ndarray) -> np.ndarray | None:
        """Point qui pousse d'un coup les variables ``locales`` vers leur plafond.

        Leurs bornes hautes sont ramenées à leur plafond le temps de maximiser leur somme :
        tout point trouvé est réalisable pour le système d'origine.
        """
        h = self.h
        idx = np.asarray(locales, np.int32)
        lp = h.getLp()
        lo0 = np.asarray(lp.col_lower_)[idx]
        hi0 = np.asarray(lp.col_upper_)[idx]
        h.changeColsBounds(idx.size, idx, lo0, np.minimum(hi0, plafonds))
        try:
            couts = np.zeros_like(self._couts)
            couts[idx] = -1.0
            return self._resoudre(couts)
        except RuntimeError:
            return None
        finally:
            h.changeColsBounds(idx.size, idx, lo0, hi0)

    def entier_local(self, x: np.ndarray, depart: np.ndarray, j: int, *,
                     au_moins: float | None = None, au_plus: float | None = None
                     ) -> np.ndarray | None:
        """Point entier réalisable où ``j`` atteint une borne, cherché près de ``depart``.

        ``x`` est un point continu qui atteint la borne ; seules les variables où il
        diffère du point entier ``depart`` (le point vrai) sont laissées libres, les
        autres gardent leur valeur de ``depart`` : un petit programme en nombres entiers,
        dont toute solution est aussi une solution du système entier.
        """
        libres = np.flatnonzero(np.abs(x - depart) > _TOL)
        libres = np.union1d(libres, [j])
        fixes = np.setdiff1d(np.arange(self.n), libres)
        a_l = self.a[:, libres]
        lignes = np.flatnonzero(np.diff(a_l.tocsr().indptr) > 0)
        a_l = a_l[lignes]
        reste = self.a[lignes][:, fixes] @ depart[fixes]
        lo = self.lo[libres].copy()
        hi = self.hi[libres].copy()
        k = int(np.flatnonzero(libres == j)[0])
        if au_moins is not None:
            lo[k] = max(lo[k], au_moins)
        if au_plus is not None:
            hi[k] = min(hi[k], au_plus)
        if lo[k] > hi[k]:
            return None
        x_l = resoudre(np.zeros(libres.size), a_l, self.rhs_lo[lignes] - reste,
                       self.rhs_hi[lignes] - reste, lo, hi, entier=True)
        self.resolutions += 1
        if x_l is None:
            return None
        out = depart.astype(float).copy()
        out[libres] = np.round(x_l)
        return out

    def realisable(self, j: int, *, au_moins: float | None = None,
                   au_plus: float | None = None) -> np.ndarray | None:
        """Un point réalisable où la colonne ``j`` vaut au moins / au plus une valeur.

        Sans objectif : en nombres entiers, HiGHS s'arrête au premier point trouvé, bien
        plus vite qu'en prouvant un optimum. None si aucun point n'existe.
        """
        import highspy

        h = self.h
        lp = h.getLp()
        lo0, hi0 = lp.col_lower_[j], lp.col_upper_[j]
        h.changeColBounds(j, lo0 if au_moins is None else max(lo0, au_moins),
                          hi0 if au_plus is None else min(hi0, au_plus))
        try:
            couts = np.zeros_like(self._couts)
            change = np.flatnonzero(couts != self._couts)
            if change.size:
                h.changeColsCost(change.size, change.astype(np.int32), couts[change])
                self._couts = couts
            h.run()
            self.resolutions += 1
            statut = h.getModelStatus()
            if statut == highspy.HighsModelStatus.kOptimal:
                return np.asarray(h.getSolution().col_value, float)[:self.n]
            if statut in (highspy.HighsModelStatus.kInfeasible,
                          highspy.HighsModelStatus.kUnboundedOrInfeasible):
                return None
            raise RuntimeError(f"HiGHS : statut inattendu {h.modelStatusToString(statut)}")
        finally:
            h.changeColBounds(j, lo0, hi0)

    def optimum(self, j: int, sens: int) -> tuple[float, np.ndarray | None]:
        """Maximum (``sens`` = 1) ou minimum (-1) de la colonne locale ``j``.

        Returns
        -------
        valeur, point
            ``inf``/``-inf`` et None si non borné ; le point optimal sinon.
        """
        couts = np.zeros_like(self._couts)
        couts[j] = -float(sens)
        x = self._resoudre(couts)
        if x is None:
            return sens * INF, None
        return float(x[j]), x


def modele_highs(couts: np.ndarray, a: sparse.spmatrix, lignes_bas: np.ndarray,
                 lignes_haut: np.ndarray, bas: np.ndarray, haut: np.ndarray, *,
                 entier: bool = False):
    """Un solveur HiGHS silencieux chargé de ``min couts · x`` sous
    ``lignes_bas <= a x <= lignes_haut`` et ``bas <= x <= haut`` (``±inf`` : sans borne).
    """
    import highspy

    a = sparse.csc_matrix(a)
    inf = highspy.kHighsInf

    def bornes(v):
        v = np.asarray(v, float)
        return np.where(np.isposinf(v), inf, np.where(np.isneginf(v), -inf, v))

    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = a.shape[1], a.shape[0]
    lp.col_cost_ = np.asarray(couts, float)
    lp.col_lower_, lp.col_upper_ = bornes(bas), bornes(haut)
    lp.row_lower_, lp.row_upper_ = bornes(lignes_bas), bornes(lignes_haut)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr
    lp.a_matrix_.index_ = a.indices
    lp.a_matrix_.value_ = a.data
    if entier:
        lp.integrality_ = [highspy.HighsVarType.kInteger] * a.shape[1]
    h = _highs()
    h.passModel(lp)
    return h


def resoudre(couts: np.ndarray, a: sparse.spmatrix, lignes_bas: np.ndarray,
             lignes_haut: np.ndarray, bas: np.ndarray, haut: np.ndarray, *,
             entier: bool = False) -> np.ndarray | None:
    """Minimise ``couts · x`` sous ``lignes_bas <= a x <= lignes_haut``, ``bas <= x <= haut``.

    Un appel direct à HiGHS (``inf`` pour l'absence de borne) : pour les programmes
    résolus une seule fois, sans le coût de conversion de :func:`scipy.optimize.milp`.

    Returns
    -------
    numpy.ndarray or None
        Un optimum, ou None si le programme n'en a pas (irréalisable, non borné).
    """
    import highspy

    h = modele_highs(couts, a, lignes_bas, lignes_haut, bas, haut, entier=entier)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    return np.asarray(h.getSolution().col_value, float)


class _Paresseuse:
    """Une :class:`_Composante` construite seulement au premier programme à résoudre.

    Souvent les certificats suffisent pour toutes les cellules d'une composante : on
    évite alors de bâtir son modèle.
    """

    def __init__(self, *args, **kwargs):
        self._args, self._kwargs, self._pb = args, kwargs, None

    @property
    def resolutions(self) -> int:
        return 0 if self._pb is None else self._pb.resolutions

    def __getattr__(self, nom):
        if self._pb is None:
            self._pb = _Composante(*self._args, **self._kwargs)
        return getattr(self._pb, nom)


def _entier(x: np.ndarray) -> bool:
    return bool(np.all(np.abs(x - np.round(x)) < _TOL))


#: Tours de programmes « pousser » avant les résolutions une à une.
_TOURS = 6


def intervalles(systeme: Systeme, *, seuil_haut: np.ndarray | None = None,
                bas_requis: np.ndarray | None = None,
                cibles: np.ndarray | None = None,
                entier: bool = False,
                certificats: Certificats | None = None,
                plancher_bas: np.ndarray | None = None) -> Intervalles:
    """Intervalle de chaque cellule non publiée, tel qu'un intrus le calcule.

    Parameters
    ----------
    systeme : Systeme
    seuil_haut : numpy.ndarray, optional
        Pour chaque variable, la valeur au-delà de laquelle son maximum exact n'importe
        plus (par exemple le seuil du secret − 1 pour une cellule protégée) : un point
        réalisable qui l'atteint suffit. ``inf`` (défaut) : maximum exact.
    bas_requis : numpy.ndarray of bool, optional
        Variables dont le minimum est demandé (défaut : toutes). Un point réalisable à la
        borne inférieure suffit à le certifier.
    cibles : numpy.ndarray of bool, optional
        Variables à examiner (défaut : toutes les non publiées).
    entier : bool, default False
        Vérifier aussi, par un programme en nombres entiers, les bornes que seuls des
        points fractionnaires atteignent (l'intrus sait qu'un effectif est entier).
    certificats : Certificats, optional
        Extrêmes déjà certifiés pour un ensemble réalisable contenu dans celui-ci ; mis à
        jour avec les points trouvés (à repasser à l'appel suivant).
    plancher_bas : numpy.ndarray, optional
        Pour chaque variable, la valeur sous laquelle son minimum exact n'importe plus :
        un point réalisable qui descend jusque-là suffit (``bas_exact`` faux).

    Returns
    -------
    Intervalles
    """
    n = systeme.n
    libres = ~systeme.publie
    cibles = libres if cibles is None else (np.asarray(cibles, bool) & libres)
    seuil_haut = np.full(n, INF) if seuil_haut is None else np.asarray(seuil_haut, float)
    bas_requis = np.ones(n, bool) if bas_requis is None else np.asarray(bas_requis, bool)
    plancher = np.full(n, -INF) if plancher_bas is None else np.asarray(plancher_bas, float)
    bas_exact = np.ones(n, bool)
    bas = np.where(systeme.publie, systeme.valeur, systeme.bas).astype(float)
    haut = np.where(systeme.publie, systeme.valeur, INF).astype(float)
    haut_exact = systeme.publie.copy()
    bas_entier = systeme.publie.copy()
    haut_entier = systeme.publie.copy()
    # Le point vrai est réalisable et entier : premier certificat.
    cert = certificats if certificats is not None else Certificats.du_point_vrai(systeme)
    vu_max, vu_min, vu_max_e, vu_min_e = cert.vu_max, cert.vu_min, cert.vu_max_e, cert.vu_min_e
    lab, rows_e, rows_g = composantes(systeme, libres)
    resolutions = 0
    for comp in np.unique(lab[cibles]):
        cols = np.flatnonzero(lab == comp)
        re_ = np.flatnonzero(rows_e == comp)
        rg = np.flatnonzero(rows_g == comp)
        if re_.size == 0 and rg.size == 0:
            # Aucune relation : seule la borne publique vaut (au moins 1, sans maximum).
            continue
        loc_cible = cibles[cols]
        pb = _Paresseuse(systeme, cols, re_, rg)

        def noter(x: np.ndarray, cols=cols) -> None:
            cert.noter(x, cols)

        # Un seul programme « minimiser la somme » met d'un coup la plupart des variables à
        # leur borne basse : autant de minimums certifiés sans résolution.
        reste = loc_cible & bas_requis[cols] & (vu_min[cols] > systeme.bas[cols] + _TOL)
        if reste.sum() > 2:
            x = pb.somme_minimale(reste.astype(float))
            if x is not None:
                noter(x)
        # Puis un programme qui pousse ensemble vers leur plafond les variables dont on ne
        # veut savoir que si elles l'atteignent.
        plaf = seuil_haut[cols]
        for _ in range(_TOURS):
            reste = loc_cible & np.isfinite(plaf) & (vu_max[cols] + _TOL < plaf)
            if reste.sum() <= 2:
                break
            x = pb.pousser(np.flatnonzero(reste), plaf[reste])
            if x is None:
                break
            noter(x)
            if (loc_cible & np.isfinite(plaf) & (vu_max[cols] + _TOL < plaf)).sum() \
                    > 0.8 * reste.sum():
                break  # le tour n'a presque rien certifié : on passe aux résolutions
        locaux = np.flatnonzero(loc_cible)
        for j in locaux:
            c = cols[j]
            if bas_requis[c] and vu_min[c] > systeme.bas[c] + _TOL \
                    and vu_min[c] > plancher[c] + _TOL:
                val, x = pb.optimum(j, -1)
                if x is not None:
                    noter(x)
                bas[c] = val
            elif vu_min[c] > systeme.bas[c] + _TOL and bas_requis[c]:
                bas[c] = systeme.bas[c]
                bas_exact[c] = False
            else:
                bas[c] = systeme.bas[c] if vu_min[c] <= systeme.bas[c] + _TOL else vu_min[c]
            if vu_max[c] + _TOL >= seuil_haut[c]:
                haut[c] = vu_max[c]
                continue
            val, x = pb.optimum(j, 1)
            if x is not None:
                noter(x)
            haut[c] = val
            haut_exact[c] = True
        resolutions += pb.resolutions
        for j in locaux:
            c = cols[j]
            bas_entier[c] = vu_min_e[c] <= bas[c] + _TOL
            cible_haut = min(haut[c], seuil_haut[c])
            haut_entier[c] = vu_max_e[c] + _TOL >= cible_haut
        if entier:
            manquants = [j for j in locaux if not (bas_entier[cols[j]] and
                                                   haut_entier[cols[j]])]
            depart = systeme.valeur[cols].astype(float)
            pbi = None
            avant = pb.resolutions
            for j in manquants:
                c = cols[j]
                # Un point entier à la borne du programme continu suffit, et il certifie
                # aussi les autres variables. On le cherche d'abord près du point vrai (un
                # petit programme), puis dans toute la composante ; l'optimum entier
                # n'est calculé que s'il n'y en a pas.
                for sens in (-1, 1):
                    if sens < 0:
                        if bas_entier[c] or vu_min_e[c] <= bas[c] + _TOL:
                            continue
                        borne = {"au_plus": float(np.floor(bas[c] + _TOL))}
                    else:
                        cible = min(haut[c], seuil_haut[c])
                        if haut_entier[c] or vu_max_e[c] + _TOL >= cible or \
                                not np.isfinite(cible):
                            continue
                        borne = {"au_moins": float(np.ceil(cible - _TOL))}
                    x_lp = pb.realisable(j, **borne)
                    x = None if x_lp is None else pb.entier_local(x_lp, depart, j, **borne)
                    if x is None:
                        if pbi is None:
                            pbi = _Composante(systeme, cols, re_, rg, entier=True)
                        x = pbi.realisable(j, **borne)
                    if x is not None:
                        noter(np.round(x))
                        continue
                    val, _x = (pbi or pb).optimum(j, sens)
                    if sens < 0:
                        bas[c] = max(bas[c], val)
                    else:
                        haut[c] = min(haut[c], val)
                        haut_exact[c] = haut_exact[c] or val < seuil_haut[c]
                bas_entier[c] = haut_entier[c] = True
            resolutions += pb.resolutions - avant + (pbi.resolutions if pbi is not None else 0)
    return Intervalles(bas=bas, haut=haut, haut_exact=haut_exact, bas_entier=bas_entier,
                       haut_entier=haut_entier, resolutions=resolutions, bas_exact=bas_exact)


def lignes_de(systeme: Systeme, cols: Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
    """Relations (égalités, inégalités) qui contiennent au moins une des colonnes."""
    cols = np.asarray(list(cols), int)
    e = systeme.egalites[:, cols]
    g = systeme.inegalites[:, cols]
    return (np.flatnonzero(np.diff(e.tocsr().indptr) > 0),
            np.flatnonzero(np.diff(g.tocsr().indptr) > 0))
