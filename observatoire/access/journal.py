"""Journal des accès : qui s'est connecté, qui a échoué, qui a vu quelles valeurs exactes.

Chaque affichage ou export de valeurs exactes (page Valeurs exactes, registre nominatif
des référents, fichier archivé téléchargé, ``analyser --staff``, ``sauvegarde``…) y
laisse une ligne : compte, heure, canal, ce qui a été vu. Les administrateurs le lisent
sur la page Comptes (``observatoire comptes journal`` en ligne de commande).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from observatoire import access, storage

#: Actions inscrites, avec leur libellé pour l'affichage.
ACTIONS = {
    "connexion": "connexion",
    "echec_connexion": "échec de connexion",
    "refus_connexion": "essai refusé (délai ou verrouillage)",
    "verrouillage": "verrouillage",
    "deverrouillage": "déverrouillage",
    "fin_session": "fin de session",
    "refus_jeton": "jeton de session refusé",
    "consultation": "consultation de valeurs exactes",
    "compte": "gestion des comptes",
}


def record(action: str, qui: str, quoi: str = "", *, canal: str = access.CANAL_APPLICATION,
           adresse: str = "", conn: Connection | None = None) -> None:
    """Inscrit une ligne au journal des accès.

    Parameters
    ----------
    action : str
        Une clé de :data:`ACTIONS`.
    qui : str
        Compte concerné (``"?"`` quand il est inconnu).
    quoi : str
        Ce qui a été vu ou fait, en clair (indicateur, année, niveau, fichier…).
    canal : str
        ``"application"`` ou ``"ligne de commande"``.
    adresse : str
        Adresse du client (application) ou utilisateur du système (ligne de commande).
    conn : Connection, optional
        Transaction en cours ; sinon une transaction propre.
    """
    if action not in ACTIONS:
        raise ValueError(f"action de journal inconnue : {action}")
    values = dict(quand=access.utcnow(), qui=(qui or "?")[:128], action=action,
                  canal=canal[:32], quoi=quoi or None, adresse=(adresse or None) and adresse[:128])
    if conn is not None:
        conn.execute(sa.insert(storage.journal_acces).values(**values))
        return
    with storage.transaction() as own:
        own.execute(sa.insert(storage.journal_acces).values(**values))


def entries(*, actions: list[str] | None = None, qui: str | None = None,
            depuis: dt.datetime | None = None, limite: int = 1000) -> pd.DataFrame:
    """Lignes du journal, la plus récente d'abord, heures locales.

    Parameters
    ----------
    actions : list of str, optional
        Ne garder que ces actions.
    qui : str, optional
        Ne garder que ce compte.
    depuis : datetime, optional
        Heure locale de début.
    limite : int, default 1000

    Returns
    -------
    pandas.DataFrame
        ``quand`` (heure locale), ``qui``, ``action`` (libellé), ``canal``, ``quoi``,
        ``adresse``.
    """
    t = storage.journal_acces
    q = sa.select(t.c.quand, t.c.qui, t.c.action, t.c.canal, t.c.quoi, t.c.adresse)
    if actions:
        q = q.where(t.c.action.in_(actions))
    if qui:
        q = q.where(t.c.qui == qui)
    if depuis is not None:
        q = q.where(t.c.quand >= depuis.astimezone(dt.UTC).replace(tzinfo=None))
    q = q.order_by(t.c.id.desc()).limit(int(limite))
    with storage.get_engine().connect() as conn:
        rows = conn.execute(q).all()
    df = pd.DataFrame(rows, columns=["quand", "qui", "action", "canal", "quoi", "adresse"])
    df["quand"] = df["quand"].map(access.to_local)
    df["action"] = df["action"].map(lambda a: ACTIONS.get(a, a))
    return df
