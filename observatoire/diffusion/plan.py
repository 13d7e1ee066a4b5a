"""Des tables exactes d'une diffusion à sa structure d'intrus, puis au choix des cellules tues.

Fonctions pures : elles reçoivent les tables exactes (une par indicateur, période et
niveau), les relations publiques qui les lient et les diffusions déjà publiées, et rendent
la :class:`~observatoire.diffusion.cellules.Structure` de la diffusion avec le statut de
chaque cellule.

**Secret primaire** : un effectif communal (d'une année ou d'un cumul) de 1 à seuil − 1,
et le complément communal d'un « dont » publié (total − dont) dans cette plage.

**Secret secondaire** : :func:`observatoire.diffusion.protection.planifier` sur toutes les
relations que les diffusions publient ensemble — communes → EPCI, arrondissement et
département ; total et « dont » ; cumul et années ; total de chaque source sur son
périmètre — chaque diffusion déjà publiée étant une contrainte fixe.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd

from observatoire.diffusion.cellules import CELLULE, COMPLEMENT, SOURCE, Structure, reunir
from observatoire.diffusion.protection import Audit, planifier

__all__ = ["CleTable", "SourceLot", "TableExacte", "choisir", "structure_diffusion"]

#: Niveau des effectifs communaux (secret primaire).
COMMUNE = "commune"
#: Au-delà, l'énumération des groupes de sources (2^k) n'est plus raisonnable.
MAX_SOURCES_COUVERTURE = 8


@dataclass(frozen=True)
class CleTable:
    """Identité d'une table publiée."""

    indicateur: str
    periode: str
    niveau: str


@dataclass
class TableExacte:
    """Une table d'une diffusion, en valeurs exactes (agents).

    Attributes
    ----------
    cle : CleTable
    lignes : pandas.DataFrame
        ``code``, ``observe`` (Int64, ``<NA>`` si inconnu de tous : masqué à la
        source), ``observe_min`` (plus petite valeur possible quand ``observe`` est
        inconnu), ``couverture`` (``"complete"``, ``"partielle"`` ou
        ``"hors_perimetre"`` : hors du périmètre des sources, jamais publié ni mis en
        relation).
    membres : dict, optional
        Pour une table agrégée : code de l'unité -> codes des communes dont elle est la
        somme (communes couvertes seulement).
    annees : tuple of int
        Années de la période (plusieurs pour un cumul). Les lignes d'un cumul portent
        aussi, pour chaque année ``a`` qui n'est pas une table de la diffusion,
        ``observe_a`` et ``observe_min_a``.
    publiee : bool, default True
        Faux pour une table que la diffusion ne montre pas mais dont ses relations ont
        besoin (les communes d'une année dont seuls les EPCI sont publiés, les années d'un
        cumul) : ses cellules sont cachées.
    """

    cle: CleTable
    lignes: pd.DataFrame
    membres: dict[str, list[str]] = field(default_factory=dict)
    annees: tuple[int, ...] = ()
    publiee: bool = True


@dataclass
class SourceLot:
    """Une source (contributeur) d'un indicateur une année, et ce que publie son taux.

    Attributes
    ----------
    indicateur, contributeur : str
    annee : int
    communes : list of str
        Son périmètre (communes couvertes).
    total : float
        Son total sur ce périmètre (au moins : les cellules masquées à la source y
        comptent pour 1), que révèle son taux de référence publié.
    """

    indicateur: str
    contributeur: str
    annee: int
    communes: list[str]
    total: float


def _cle(genre: str, t: CleTable, code: str) -> tuple:
    return (genre, t.indicateur, t.periode, t.niveau, str(code))


def _valeur(row) -> tuple[float, bool]:
    obs = row["observe"]
    if obs is None or obs is pd.NA or (isinstance(obs, float) and np.isnan(obs)):
        rep = row.get("observe_min")
        rep = 0.0 if rep is None or rep is pd.NA or pd.isna(rep) else float(rep)
        return rep, False
    return float(obs), True


def structure_diffusion(tables: Sequence[TableExacte], *, seuil: int,
                        dont: Mapping[str, str] | None = None,
                        sources: Sequence[SourceLot] = ()) -> Structure:
    """Structure d'intrus d'une diffusion, avant le choix du secret secondaire.

    Les cellules sont publiées sauf le secret primaire et les effectifs inconnus ; les
    années d'un cumul qui ne sont pas des tables de cette diffusion y figurent comme
    cellules cachées (ni publiées ni candidates : une diffusion antérieure qui les a
    publiées fixera leur statut à la réunion).

    Parameters
    ----------
    tables : sequence of TableExacte
    seuil : int
        Seuil du secret.
    dont : mapping, optional
        Indicateur « dont » -> indicateur qui l'inclut (victimes femmes -> victimes).
    sources : sequence of SourceLot
        Sources de chaque indicateur et année (relations de couverture).

    Returns
    -------
    Structure
    """
    s = Structure()
    dont = dict(dont or {})
    par_cle = {t.cle: t for t in tables}

    def cellule(t: CleTable, row) -> tuple:
        v, connue = _valeur(row)
        protegee = t.niveau == COMMUNE and connue and 1 <= v <= seuil - 1
        cle = _cle(CELLULE, t, row["code"])
        s.ajouter(cle, v, publie=connue and not protegee, connue=connue, protegee=protegee,
                  candidate=connue and v >= 1 and not protegee, bas=min(1.0, v))
        return cle

    def cachee(ind: str, annee: int, code: str, v: float, connue: bool) -> tuple:
        cle = (CELLULE, ind, str(annee), COMMUNE, str(code))
        s.ajouter(cle, v, publie=False, connue=connue,
                  protegee=connue and 1 <= v <= seuil - 1, candidate=False,
                  bas=min(0.0, v))
        return cle

    valeurs_communes: dict[tuple[str, str], dict[str, tuple[float, bool]]] = {}
    for t in tables:
        lignes = t.lignes[t.lignes["couverture"] != "hors_perimetre"]
        if t.publiee:
            for row in lignes.to_dict("records"):
                cellule(t.cle, row)
        if t.cle.niveau == COMMUNE:
            valeurs_communes[(t.cle.indicateur, t.cle.periode)] = {
                str(r["code"]): _valeur(r) for r in lignes.to_dict("records")}
    # Agrégats : sommes des communes couvertes.
    for t in tables:
        if t.cle.niveau == COMMUNE or not t.publiee:
            continue
        vc = valeurs_communes.get((t.cle.indicateur, t.cle.periode), {})
        for code, membres in t.membres.items():
            total = _cle(CELLULE, t.cle, code)
            if total not in s:
                continue
            parties = []
            for m in membres:
                cle_m = (CELLULE, t.cle.indicateur, t.cle.periode, COMMUNE, str(m))
                if cle_m not in s:
                    v, connue = vc.get(str(m), (0.0, False))
                    cle_m = cachee(t.cle.indicateur, t.cle.periode, m, v, connue)
                parties.append(cle_m)
            s.somme(total, parties)
    # Cumuls : somme des années (celles d'autres diffusions figurent comme cachées).
    annuelles = {(t.cle.indicateur, t.cle.periode): t for t in tables
                 if t.cle.niveau == COMMUNE and len(t.annees) == 1}
    for t in tables:
        if t.cle.niveau != COMMUNE or len(t.annees) < 2 or not t.publiee:
            continue
        for row in t.lignes[t.lignes["couverture"] != "hors_perimetre"].to_dict("records"):
            code = str(row["code"])
            total = _cle(CELLULE, t.cle, code)
            parties = []
            for a in t.annees:
                cle_a = (CELLULE, t.cle.indicateur, str(a), COMMUNE, code)
                if cle_a not in s:
                    if (t.cle.indicateur, str(a)) in annuelles:
                        v, connue = valeurs_communes[(t.cle.indicateur, str(a))][code]
                    else:
                        v, connue = _valeur({"observe": row[f"observe_{a}"],
                                             "observe_min": row.get(f"observe_min_{a}")})
                    cle_a = cachee(t.cle.indicateur, a, code, v, connue)
                parties.append(cle_a)
            s.somme(total, parties)
    # Total et « dont » : leur différence est un effectif de plus (jamais publié).
    for fille, mere in dont.items():
        for t in tables:
            if t.cle.indicateur != fille:
                continue
            tm = par_cle.get(CleTable(mere, t.cle.periode, t.cle.niveau))
            if tm is None:
                continue
            for cle_f in [c for c in s.cles if c[0] == CELLULE and c[1:4] ==
                          (fille, t.cle.periode, t.cle.niveau)]:
                cle_m = (CELLULE, mere, t.cle.periode, t.cle.niveau, cle_f[4])
                if cle_m not in s:
                    continue
                i_f, i_m = s.position(cle_f), s.position(cle_m)
                v = s.valeur[i_m] - s.valeur[i_f]
                connue = s.connue[i_m] and s.connue[i_f]
                cle_c = (COMPLEMENT, fille, t.cle.periode, t.cle.niveau, cle_f[4])
                s.ajouter(cle_c, v, publie=False, connue=connue,
                          protegee=t.cle.niveau == COMMUNE and connue and 1 <= v <= seuil - 1,
                          candidate=False, bas=min(0.0, v))
                s.somme(cle_m, [cle_f, cle_c])
    # Couverture des sources : les communes d'un groupe de sources reçoivent au moins leur
    # total (théorème de Gale : ces inégalités décrivent exactement les effectifs
    # communaux compatibles avec les totaux publiés des sources).
    groupes: dict[tuple[str, int], list[SourceLot]] = {}
    for src in sources:
        groupes.setdefault((src.indicateur, src.annee), []).append(src)
    for (ind, annee), lots in groupes.items():
        if len(lots) > MAX_SOURCES_COUVERTURE:
            lots = sorted(lots, key=lambda x: -x.total)[:MAX_SOURCES_COUVERTURE]
        vc = valeurs_communes.get((ind, str(annee)), {})
        cles_src = []
        for src in lots:
            cle = (SOURCE, ind, str(annee), SOURCE, src.contributeur)
            s.ajouter(cle, float(src.total), publie=True, candidate=False, bas=0.0)
            cles_src.append(cle)
        for k in range(1, len(lots) + 1):
            for groupe in combinations(range(len(lots)), k):
                communes = sorted({c for g in groupe for c in lots[g].communes})
                cles_c = []
                for c in communes:
                    cle_c = (CELLULE, ind, str(annee), COMMUNE, str(c))
                    if cle_c not in s:
                        v, connue = vc.get(str(c), (0.0, False))
                        cle_c = cachee(ind, annee, c, v, connue)
                    cles_c.append(cle_c)
                s.couverture(cles_c, [cles_src[g] for g in groupe])
    _verifier(s)
    return s


def _verifier(s: Structure) -> None:
    """Les valeurs (exactes ou représentatives) satisfont toutes les relations.

    Sans quoi le système de l'intrus n'aurait pas le point vrai pour solution et l'audit
    ne voudrait rien dire : c'est une erreur de construction, jamais un cas de données.
    """
    val = dict(zip(s.cles, s.valeur, strict=True))
    for total, parties in s.sommes:
        ecart = val[total] - sum(val[p] for p in parties)
        if abs(ecart) > 1e-6:
            raise ValueError(f"relation incohérente : {total} ≠ somme de {len(parties)} "
                             f"parties (écart {ecart})")
    for communes, sources in s.couvertures:
        if sum(val[c] for c in communes) < sum(val[x] for x in sources) - 1e-6:
            raise ValueError(f"couverture incohérente pour {sources}")


def choisir(candidate: Structure, anterieures: Sequence[Structure], seuil: int
            ) -> tuple[np.ndarray, Audit, dict]:
    """Secret secondaire de la diffusion ``candidate``, les antérieures étant fixées.

    Returns
    -------
    publie : numpy.ndarray of bool
        Statut de chaque cellule de ``candidate``.
    audit : Audit
        Audit final sur toutes les diffusions réunies.
    contexte : dict
        ``systeme``, ``colonnes`` (variable de chaque cellule de ``candidate``),
        ``protegees`` : pour calculer ensuite les intervalles publics.
    """
    structures = [*anterieures, candidate]
    systeme, colonnes, protegees, fixees = reunir(structures)
    cols = colonnes[-1]
    cand_mask = np.zeros(systeme.n, bool)
    cand_mask[cols[np.asarray(candidate.candidate, bool)]] = True
    cand_mask &= ~fixees
    publie, audit = planifier(systeme, protegees, cand_mask, seuil)
    systeme.publie = publie
    return publie[cols], audit, {"systeme": systeme, "colonnes": cols,
                                 "protegees": protegees, "certificats": audit.certificats}
