"""Périmètre de chaque lot : les communes dont une source, une année donnée, parle.

Un lot (contributeur × année) couvre le territoire déclaré du contributeur dans le
registre (``data/catalogues/contributeurs.csv``, syntaxe de
:func:`observatoire.catalogues.communes_couvertes`), ou le périmètre plus étroit que les
agents ont fixé à l'import (``observatoire contributions importer … --perimetre``),
conservé avec le lot. Dans son périmètre, une commune absente du fichier compte 0 ; hors
de lui, le lot ne dit rien de la commune.

Ces fonctions servent l'analyse (effectifs et attendus par source) et toute autre sortie
qui doit savoir ce que couvre un lot (diffusions publiques).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from observatoire.errors import ObservatoireError

__all__ = [
    "COMPLETE",
    "COUVERTURES",
    "HORS_PERIMETRE",
    "PARTIELLE",
    "couverture_lot",
    "couvertures_lots",
    "perimetres_des_lots",
    "sources_manquantes",
    "verifier_perimetre",
]

#: États de couverture d'une unité, et leur libellé français.
COMPLETE, PARTIELLE, HORS_PERIMETRE = "complete", "partielle", "hors_perimetre"
COUVERTURES: dict[str, str] = {
    COMPLETE: "couverte par les sources retenues",
    PARTIELLE: "couverte en partie (certaines sources, certaines années ou certaines communes "
               "seulement)",
    HORS_PERIMETRE: "hors du périmètre des sources",
}


def _registre() -> dict[str, str]:
    try:
        from observatoire import catalogues

        return catalogues.territoires_declares()
    except (ObservatoireError, FileNotFoundError):
        return {}


def couverture_lot(contributeur: str, annee: int | None = None, perimetre: str | None = None,
                   *, communes: pd.DataFrame | None = None,
                   territoires: Mapping[str, str] | None = None) -> frozenset[str]:
    """Communes couvertes par un lot (contributeur, année).

    Parameters
    ----------
    contributeur : str
        Identifiant du registre.
    annee : int, optional
        Année du lot (informative : le périmètre ne dépend que du registre et de
        ``perimetre``).
    perimetre : str, optional
        Périmètre enregistré avec le lot (colonne ``perimetre`` de la table ``lots``) ;
        None : le territoire déclaré du contributeur.
    communes : pandas.DataFrame, optional
        Communes où chercher (par défaut celles du département servi).
    territoires : mapping, optional
        Identifiant → territoire déclaré (par défaut le registre).

    Returns
    -------
    frozenset of str
        Codes INSEE. Un contributeur absent du registre est réputé couvrir toutes les
        communes de ``communes``.
    """
    from observatoire import catalogues
    from observatoire import communes as _communes

    frame = _communes.load_communes() if communes is None else communes
    terr = dict(_registre() if territoires is None else territoires)
    spec = perimetre or terr.get(contributeur)
    if not spec:
        return frozenset(frame["code_insee"].astype(str))
    return catalogues.communes_couvertes(spec, frame, territoires=terr)


def verifier_perimetre(contributeur: str, perimetre: str, *,
                       communes: pd.DataFrame | None = None) -> frozenset[str]:
    """Valide un périmètre d'import : lisible et inclus dans le territoire déclaré.

    Parameters
    ----------
    contributeur : str
    perimetre : str
        Syntaxe de :func:`observatoire.catalogues.communes_couvertes`.
    communes : pandas.DataFrame, optional

    Returns
    -------
    frozenset of str
        Les communes du périmètre.

    Raises
    ------
    ObservatoireError
        Périmètre illisible, vide, ou débordant du territoire déclaré (le message liste
        quelques communes en trop).
    """
    from observatoire import catalogues

    contrib = catalogues.get_contributeur(contributeur)
    codes = couverture_lot(contributeur, perimetre=perimetre, communes=communes)
    declare = couverture_lot(contributeur, communes=communes)
    if not codes:
        raise ObservatoireError(
            f"Le périmètre « {perimetre} » ne contient aucune commune du territoire servi.")
    trop = sorted(codes - declare)
    if trop:
        raise ObservatoireError(
            f"Le périmètre « {perimetre} » déborde du territoire déclaré de « {contributeur} » "
            f"({contrib.territoire}) : {len(trop)} commune(s) en trop, par exemple "
            f"{', '.join(trop[:5])}. Un périmètre d'import ne peut que restreindre le "
            f"territoire déclaré ; pour l'élargir, corrigez le registre "
            f"(data/catalogues/contributeurs.csv)."
        )
    return codes


def perimetres_des_lots(lot_ids: Iterable[int], engine=None) -> dict[int, str | None]:
    """Périmètre enregistré de chaque lot (None : territoire déclaré du contributeur).

    Parameters
    ----------
    lot_ids : iterable of int
    engine : sqlalchemy.engine.Engine, optional

    Returns
    -------
    dict
        Identifiant de lot → périmètre (texte) ou None.
    """
    import sqlalchemy as sa

    from observatoire import storage

    ids = sorted({int(i) for i in lot_ids if pd.notna(i)})
    if not ids:
        return {}
    engine = engine or storage.get_engine()
    lt = storage.lots
    with engine.connect() as conn:
        rows = conn.execute(sa.select(lt.c.id, lt.c.perimetre).where(lt.c.id.in_(ids))).all()
    return {int(r[0]): (r[1] or None) for r in rows}


def couvertures_lots(valeurs: pd.DataFrame, communes: pd.DataFrame | None = None, *,
                     territoires: Mapping[str, str] | None = None,
                     perimetres: Mapping[int, str | None] | None = None,
                     ) -> dict[tuple[str, int], frozenset[str]]:
    """Communes couvertes par chaque lot d'une sélection de valeurs.

    Parameters
    ----------
    valeurs : pandas.DataFrame
        Valeurs de la sélection (``contributeur``, ``annee``, ``lot_id``).
    communes : pandas.DataFrame, optional
    territoires : mapping, optional
        Identifiant → territoire déclaré (par défaut le registre).
    perimetres : mapping, optional
        Lot → périmètre enregistré (:func:`perimetres_des_lots`).

    Returns
    -------
    dict
        ``(contributeur, année)`` → codes INSEE couverts.
    """
    from observatoire import communes as _communes

    frame = _communes.load_communes() if communes is None else communes
    terr = dict(_registre() if territoires is None else territoires)
    cols = ["contributeur", "annee"] + (["lot_id"] if "lot_id" in valeurs else [])
    lots = valeurs[cols].drop_duplicates(["contributeur", "annee"])
    out: dict[tuple[str, int], frozenset[str]] = {}
    cache: dict[str | None, frozenset[str]] = {}
    for r in lots.itertuples(index=False):
        per = (perimetres or {}).get(int(r.lot_id)) if "lot_id" in cols and pd.notna(
            r.lot_id) else None
        spec = per or terr.get(str(r.contributeur))
        if spec not in cache:
            cache[spec] = couverture_lot(str(r.contributeur), perimetre=spec, communes=frame,
                                         territoires=terr)
        out[(str(r.contributeur), int(r.annee))] = cache[spec]
    return out


def sources_manquantes(valeurs: pd.DataFrame, annees: Iterable[int], indicateur: str,
                       contributeurs: Iterable[str] | None = None) -> list[dict]:
    """Sources que la campagne attendait pour l'indicateur et qui manquent une année.

    Compare les lots présents dans ``valeurs`` aux contributeurs attendus de chaque année
    (:func:`observatoire.catalogues.contributeurs_attendus`, la page Campagne).

    Parameters
    ----------
    valeurs : pandas.DataFrame
        Valeurs de la sélection.
    annees : iterable of int
    indicateur : str
    contributeurs : iterable of str, optional
        Sources retenues par l'utilisateur : seules celles-ci sont attendues.

    Returns
    -------
    list of dict
        ``contributeur``, ``nom``, ``annee`` de chaque lot attendu absent.
    """
    from observatoire import catalogues

    presents = {(str(c), int(a)) for c, a in
                valeurs[["contributeur", "annee"]].drop_duplicates().itertuples(index=False)}
    choisis = None if contributeurs is None else {str(c) for c in contributeurs}
    out = []
    for annee in sorted({int(a) for a in annees}):
        try:
            attendus = catalogues.contributeurs_attendus(annee, indicateur)
        except ObservatoireError:
            return []
        for c in attendus:
            if choisis is not None and c.identifiant not in choisis:
                continue
            if (c.identifiant, annee) not in presents:
                out.append({"contributeur": c.identifiant, "nom": c.nom, "annee": annee})
    return out


def matrice_couverture(lots: list[tuple[str, int]], codes: np.ndarray,
                       couvertures: Mapping[tuple[str, int], Iterable[str]] | None,
                       territoires: Mapping[str, str] | None,
                       communes: pd.DataFrame) -> np.ndarray:
    """Matrice booléenne lots × communes (usage interne de la mesure).

    ``couvertures`` prime ; à défaut le territoire déclaré (``territoires``) ; un
    contributeur inconnu des deux couvre toutes les communes.
    """
    from observatoire import catalogues

    c = np.ones((len(lots), codes.size), dtype=bool)
    codes_s = pd.Index(codes.astype(str))
    cache: dict[str, np.ndarray] = {}
    for k, (contrib, annee) in enumerate(lots):
        if couvertures is not None and (contrib, annee) in couvertures:
            c[k] = codes_s.isin(list(couvertures[(contrib, annee)]))
            continue
        spec = (territoires or {}).get(contrib)
        if not spec:
            continue
        if spec not in cache:
            cache[spec] = codes_s.isin(list(catalogues.communes_couvertes(
                spec, communes, territoires=territoires)))
        c[k] = cache[spec]
    return c
