"""Diffusions publiques : des publications figées, protégées ensemble, auditées contre un intrus.

Le public ne lit que des diffusions validées. Chaque année, les agents :

1. **préparent** la diffusion de N (:func:`preparer`, ``observatoire diffusion preparer
   --annee N``) : tables déclarées dans la section ``[diffusion]`` de la configuration,
   secret primaire et secondaire planifiés sur toutes les relations qu'elles publient,
   avec chaque diffusion déjà publiée comme contrainte fixe ;
2. lisent son **audit** (:func:`auditer`, ``observatoire diffusion auditer``) : l'intrus
   attaque la candidate avec toutes les diffusions publiées ;
3. la **valident** (:func:`valider`, ``observatoire diffusion valider``), ce que l'audit
   refuse tant qu'une cellule protégée est resserrée. Une diffusion validée ne change
   plus ; une correction est une nouvelle version, l'ancienne reste dans l'historique.

Contenu public d'une diffusion (dict JSON, empreinte SHA-256) : ``annee``, ``version``,
``seuil_secret``, ``parametres``, ``indicateurs`` (code, libellé, définition, « dont »),
``geographie`` (communes et leurs groupes, noms), ``tables`` (une par indicateur,
période et niveau : colonnes :data:`~observatoire.diffusion.preparation.COLONNES`,
``membres`` des unités agrégées, ``phi`` et ``seuil_p`` des étiquettes), ``sources``
(périmètre et total de chaque source), ``lots`` (contributeur, année, date de réception,
numéro de lot ; jamais le nom d'un fichier), ``meta``, ``tendances``.
"""

from __future__ import annotations

from collections.abc import Callable

from observatoire.diffusion.stockage import (
    PREPAREE,
    REMPLACEE,
    VALIDEE,
    Diffusion,
    courantes,
    historique,
    publiees,
)
from observatoire.errors import ObservatoireError

__all__ = [
    "PREPAREE",
    "REMPLACEE",
    "VALIDEE",
    "Diffusion",
    "AucuneDiffusionError",
    "auditer",
    "courante",
    "courantes",
    "historique",
    "preparer",
    "publiees",
    "valider",
]


class AucuneDiffusionError(ObservatoireError):
    """Aucune diffusion validée pour l'année demandée."""

    def __init__(self, annee: int | None = None):
        quand = f"pour {annee} " if annee is not None else ""
        super().__init__(
            f"Aucun chiffre n'a encore été publié {quand}: la diffusion de l'année n'est pas "
            f"validée. Les agents la préparent, l'auditent puis la valident (page "
            f"Publication, ou observatoire diffusion preparer / auditer / valider). Pour "
            f"essayer l'observatoire sur des données fictives : observatoire demo.")


def preparer(annee: int, *, engine=None, par: str = "agent",
             progress: Callable[[float, str], None] | None = None) -> Diffusion:
    """Prépare (et audite) la diffusion candidate de l'année ; elle n'est pas publiée.

    Parameters
    ----------
    annee : int
    engine : sqlalchemy.engine.Engine, optional
    par : str
        Qui prépare (journal).
    progress : callable, optional
        ``progress(fraction, message)``.

    Returns
    -------
    Diffusion
        La candidate (statut ``preparee``), avec son audit.
    """
    from observatoire import storage
    from observatoire.demo import is_demo
    from observatoire.diffusion import preparation, stockage

    engine = engine or storage.get_engine()
    public, prive, audit = preparation.construire(annee, engine=engine, progress=progress)
    d = stockage.enregistrer_candidate(engine, annee, public, prive, audit, par=par,
                                       demo=is_demo(engine))
    if progress:
        progress(1.0, "diffusion préparée")
    return d


def auditer(annee: int | None = None, *, engine=None, diffusion_id: int | None = None
            ) -> dict:
    """Réaudite une diffusion (la candidate de l'année par défaut) avec toutes les publiées.

    Returns
    -------
    dict
        Rapport de :func:`observatoire.diffusion.intrus.auditer_ensemble`, avec
        ``diffusion`` (numéro, année, version, statut).
    """
    from observatoire import storage
    from observatoire.config import settings
    from observatoire.diffusion import intrus, stockage
    from observatoire.errors import ObservatoireError

    engine = engine or storage.get_engine()
    if diffusion_id is not None:
        cible = stockage.charger(engine, diffusion_id, prive=True)
    else:
        if annee is None:
            raise ObservatoireError("Précisez l'année (--annee N) ou la diffusion (--id K).")
        cible = stockage.candidate(engine, annee)
        if cible is None:
            raise ObservatoireError(
                f"Aucune diffusion préparée pour {annee} : lancez d'abord « observatoire "
                f"diffusion preparer --annee {annee} ».")
    autres = [d for d in stockage.publiees(engine, prive=True) if d.id != cible.id]
    rapport = intrus.auditer_ensemble([*[(d.public, d.prive) for d in autres],
                                       (cible.public, cible.prive)],
                                      seuil=int(cible.public.get("seuil_secret",
                                                                 settings().seuil_secret)))
    rapport["diffusion"] = cible.resume()
    return rapport


def valider(annee: int | None = None, *, engine=None, diffusion_id: int | None = None,
            par: str = "agent", audit: dict | None = None) -> Diffusion:
    """Audite une dernière fois puis fige la diffusion préparée de l'année.

    Parameters
    ----------
    annee : int, optional
        Année de la diffusion préparée (ou ``diffusion_id``).
    engine : sqlalchemy.engine.Engine, optional
    diffusion_id : int, optional
    par : str
        Qui valide (journal).
    audit : dict, optional
        Audit qui vient d'être fait sur exactement les mêmes diffusions (la
        démonstration, qui prépare et valide d'un trait) : il n'est pas refait. Sinon
        l'intrus attaque à nouveau la candidate avec toutes les diffusions publiées, car
        d'autres ont pu être validées depuis la préparation.

    Raises
    ------
    ObservatoireError
        Rien à valider, ou l'audit trouve une cellule protégée resserrée.
    """
    from observatoire import storage
    from observatoire.diffusion import stockage

    engine = engine or storage.get_engine()
    if audit is not None and diffusion_id is not None:
        ident, rapport = diffusion_id, audit
    else:
        rapport = auditer(annee, engine=engine, diffusion_id=diffusion_id)
        ident = rapport["diffusion"]["id"]
    resume = {k: v for k, v in rapport.items() if k not in ("expositions", "diffusion")}
    return stockage.valider(engine, ident, par=par, audit=resume)


def courante(annee: int, *, engine=None) -> Diffusion:
    """La diffusion validée en vigueur pour l'année (ce que le public lit).

    Raises
    ------
    AucuneDiffusionError
    """
    d = courantes(engine).get(int(annee))
    if d is None:
        raise AucuneDiffusionError(annee)
    return d
