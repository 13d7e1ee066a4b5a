"""Cellules et relations d'une diffusion, et leur réunion en un seul système.

Une :class:`Structure` décrit une diffusion comme l'intrus la voit : des cellules (clé,
valeur exacte, publiée ou tue, protégée ou non) et les relations publiques entre elles.
Deux constructeurs indépendants en produisent : la préparation (depuis les valeurs
exactes, :mod:`observatoire.diffusion.preparation`) et l'intrus (depuis le seul contenu
public, :mod:`observatoire.diffusion.intrus`) ; l'audit compare ce que chacun permet.

Clé d'une cellule : ``(genre, indicateur, periode, niveau, code)`` avec ``genre`` :

- ``"cellule"`` : un effectif d'une table publiée (visible ou « secret ») ;
- ``"cache"`` : un effectif qu'aucune table de cette diffusion ne montre mais que ses
  relations font intervenir (une année d'un cumul) ;
- ``"complement"`` : total moins « dont » (les hommes parmi les victimes), jamais publié ;
- ``"source"`` : total d'une source sur son périmètre, que son taux de référence publié
  révèle (``niveau`` = ``"source"``, ``code`` = identifiant du contributeur).

**Réunion de plusieurs diffusions.** Une même clé dans deux diffusions est la même
variable quand sa valeur exacte est la même (l'intrus qui le suppose a raison) : les
relations des deux diffusions portent alors sur elle. Sinon (une correction a changé la
valeur), ce sont deux variables.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from observatoire.diffusion.systeme import INF, Systeme, SystemeBuilder

__all__ = ["Structure", "reunir"]

CELLULE, CACHE, COMPLEMENT, SOURCE = "cellule", "cache", "complement", "source"


@dataclass
class Structure:
    """Cellules et relations d'une diffusion.

    Attributes
    ----------
    cles : list of tuple
    valeur : list of float
        Valeur exacte, ou valeur représentative réalisable si ``connue`` est faux.
    connue, publie, protegee, candidate : list of bool
        ``publie`` : visible du public ; ``protegee`` : son intervalle doit contenir
        1..seuil − 1 ; ``candidate`` : cellule publiée que la planification peut taire.
    bas : list of float
        Borne inférieure que le public connaît quand la cellule n'est pas publiée.
    sommes : list of (clé, list of clé)
        ``total = Σ parties``.
    couvertures : list of (list of clé, list of clé)
        ``Σ premières − Σ secondes ≥ 0`` (les communes d'un groupe de sources reçoivent
        au moins le total de ces sources).
    haut : list of float
        Borne supérieure connue du public (``inf`` en général).
    """

    cles: list[tuple] = field(default_factory=list)
    valeur: list[float] = field(default_factory=list)
    connue: list[bool] = field(default_factory=list)
    publie: list[bool] = field(default_factory=list)
    protegee: list[bool] = field(default_factory=list)
    candidate: list[bool] = field(default_factory=list)
    bas: list[float] = field(default_factory=list)
    haut: list[float] = field(default_factory=list)
    sommes: list[tuple[tuple, list[tuple]]] = field(default_factory=list)
    couvertures: list[tuple[list[tuple], list[tuple]]] = field(default_factory=list)
    _pos: dict = field(default_factory=dict)

    def __contains__(self, cle: Hashable) -> bool:
        return cle in self._pos

    def __len__(self) -> int:
        return len(self.cles)

    def position(self, cle: Hashable) -> int:
        """Rang de la cellule ``cle``."""
        return self._pos[cle]

    def ajouter(self, cle: tuple, valeur: float, *, publie: bool, connue: bool = True,
                protegee: bool = False, candidate: bool = False, bas: float = 1.0,
                haut: float = INF) -> int:
        """Ajoute une cellule (une clé déjà vue est gardée telle quelle)."""
        if cle in self._pos:
            return self._pos[cle]
        self._pos[cle] = len(self.cles)
        self.cles.append(cle)
        self.valeur.append(float(valeur))
        self.connue.append(bool(connue))
        self.publie.append(bool(publie))
        self.protegee.append(bool(protegee))
        self.candidate.append(bool(candidate))
        self.bas.append(float(bas))
        self.haut.append(float(haut))
        return self._pos[cle]

    def somme(self, total: tuple, parties: Sequence[tuple]) -> None:
        """Relation publique ``total = Σ parties``."""
        if parties:
            self.sommes.append((total, list(parties)))

    def couverture(self, communes: Sequence[tuple], sources: Sequence[tuple]) -> None:
        """Relation ``Σ communes − Σ sources ≥ 0``."""
        if communes and sources:
            self.couvertures.append((list(communes), list(sources)))

    def marquer(self, publie: Iterable[bool]) -> None:
        """Remplace le statut publié de chaque cellule (après planification)."""
        publie = list(publie)
        if len(publie) != len(self.cles):
            raise ValueError("un statut par cellule")
        self.publie = [bool(p) for p in publie]

    def to_dict(self) -> dict:
        """Forme JSON (partie privée d'une diffusion : elle contient les valeurs exactes)."""
        return {"cles": [list(c) for c in self.cles], "valeur": self.valeur,
                "connue": self.connue, "publie": self.publie, "protegee": self.protegee,
                "bas": self.bas,
                "haut": [None if np.isinf(h) else h for h in self.haut],
                "sommes": [[list(t), [list(p) for p in ps]] for t, ps in self.sommes],
                "couvertures": [[[list(c) for c in cs], [list(s) for s in ss]]
                                for cs, ss in self.couvertures]}

    @classmethod
    def from_dict(cls, d: dict) -> Structure:
        """Relit :meth:`to_dict`."""
        s = cls()
        haut = d.get("haut") or [None] * len(d["cles"])
        for cle, v, c, p, pr, b, h in zip(d["cles"], d["valeur"], d["connue"], d["publie"],
                                          d["protegee"], d["bas"], haut, strict=True):
            s.ajouter(tuple(cle), v, publie=p, connue=c, protegee=pr, bas=b,
                      haut=INF if h is None else h)
        s.sommes = [(tuple(t), [tuple(p) for p in ps]) for t, ps in d["sommes"]]
        s.couvertures = [([tuple(c) for c in cs], [tuple(x) for x in ss])
                         for cs, ss in d["couvertures"]]
        return s


def _var_cle(cle: tuple, valeur: float) -> tuple:
    return (*cle, round(float(valeur), 6))


def reunir(structures: Sequence[Structure]) -> tuple[Systeme, list[np.ndarray],
                                                      np.ndarray, np.ndarray]:
    """Réunit plusieurs diffusions en un seul système d'intrus.

    Parameters
    ----------
    structures : sequence of Structure
        Les diffusions que le public voit ensemble ; par convention, la dernière est
        celle qu'on prépare.

    Returns
    -------
    systeme : Systeme
    colonnes : list of numpy.ndarray
        Pour chaque structure, la variable de chacune de ses cellules.
    protegees : numpy.ndarray of bool
        Variables protégées par au moins une diffusion.
    fixees : numpy.ndarray of bool
        Variables qui figurent dans une autre diffusion que la dernière (leur statut ne
        peut plus changer).
    """
    b = SystemeBuilder()
    colonnes: list[np.ndarray] = []
    for s in structures:
        cols = np.empty(len(s), int)
        for k, cle in enumerate(s.cles):
            cols[k] = b.variable(_var_cle(cle, s.valeur[k]), s.valeur[k], publie=False,
                                 connue=s.connue[k], bas=s.bas[k], haut=s.haut[k])
        colonnes.append(cols)
        for total, parties in s.sommes:
            b.somme(int(cols[s.position(total)]), [int(cols[s.position(p)]) for p in parties])
        for communes, sources in s.couvertures:
            b.combinaison([(int(cols[s.position(c)]), 1.0) for c in communes]
                          + [(int(cols[s.position(x)]), -1.0) for x in sources],
                          egalite=False)
    systeme = b.construire()
    protegees = np.zeros(systeme.n, bool)
    fixees = np.zeros(systeme.n, bool)
    publie_avant = np.zeros(systeme.n, bool)
    for i, (s, cols) in enumerate(zip(structures, colonnes, strict=True)):
        protegees[cols[np.asarray(s.protegee, bool)]] = True
        if i < len(structures) - 1:
            fixees[cols] = True
            # Ce qu'une diffusion a montré reste public, quoi qu'en dise une autre.
            publie_avant[cols[np.asarray(s.publie, bool)]] = True
    publie = publie_avant.copy()
    if structures:
        dern, cols = structures[-1], colonnes[-1]
        propre = cols[~fixees[cols]]
        publie[propre] = np.asarray(dern.publie, bool)[~fixees[cols]]
    systeme.publie = publie
    return systeme, colonnes, protegees, fixees
