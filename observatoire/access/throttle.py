"""Limitation des essais de connexion, tenue par le serveur (base de données).

Les échecs sont comptés sur une fenêtre glissante (``[acces] fenetre_echecs_minutes``),
**par compte** et **par adresse du client**, dans la base : un nouvel onglet, une
nouvelle session du navigateur, un rechargement, un autre navigateur ou une autre
instance de l'application n'y changent rien. Au-delà de ``echecs_sans_delai`` échecs,
chaque essai attend un délai qui double (2 s, 4 s, 8 s… plafonné à la durée du
verrouillage) ; à ``echecs_verrouillage`` échecs, le compte est verrouillé
``verrouillage_minutes`` après le dernier échec (mêmes règles par adresse, avec leurs
seuils). Un essai refusé pendant un délai ne vérifie pas le mot de passe et ne dit pas
si le compte existe : un identifiant inconnu est limité comme un connu.

Un essai est inscrit **avant** la vérification du mot de passe (``en_cours``), sous un
verrou du compte et de l'adresse : cent essais lancés en même temps ne passent pas
ensemble entre le contrôle et l'inscription. Une connexion réussie efface les échecs de
son compte (pas ceux de son adresse) ; un administrateur peut déverrouiller un compte ou
une adresse (:func:`unlock`). Le journal des accès garde échecs, refus et verrouillages.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from observatoire import access, storage
from observatoire.access import journal
from observatoire.errors import ObservatoireError

#: Préfixe de la clé d'un identifiant inconnu (son empreinte, jamais le texte saisi :
#: un mot de passe tapé dans le champ « Identifiant » ne doit pas finir dans la base).
UNKNOWN_PREFIX = "inconnu:"


class TropDEssais(ObservatoireError):
    """Connexion suspendue (délai croissant ou verrouillage) ; message en français."""

    def __init__(self, message: str, attente: float):
        super().__init__(message)
        self.attente = attente


@dataclass(frozen=True)
class Wait:
    """Attente imposée avant le prochain essai.

    Attributes
    ----------
    secondes : float
        0 quand un essai est permis tout de suite.
    verrouille : bool
        Vrai quand le seuil de verrouillage est atteint (et pas encore écoulé).
    echecs : int
        Échecs comptés dans la fenêtre.
    """

    secondes: float
    verrouille: bool
    echecs: int


def wait(failures: Sequence[dt.datetime], now: dt.datetime, *, sans_delai: int,
         verrouillage: int, duree_verrou: dt.timedelta, fenetre: dt.timedelta) -> Wait:
    """Attente imposée par une suite d'échecs (fonction pure).

    Parameters
    ----------
    failures : sequence of datetime
        Heures des échecs (et essais en cours) du compte ou de l'adresse.
    now : datetime
    sans_delai : int
        Échecs tolérés sans délai.
    verrouillage : int
        Nombre d'échecs qui verrouille.
    duree_verrou : timedelta
        Durée du verrouillage, depuis le dernier échec ; plafond des délais.
    fenetre : timedelta
        Seuls les échecs de cette fenêtre comptent.

    Returns
    -------
    Wait
        Après ``n`` échecs : rien tant que ``n < sans_delai`` ; puis
        ``2 ** (n - sans_delai + 1)`` secondes après le dernier échec ; verrouillage de
        ``duree_verrou`` dès ``n >= verrouillage``.

    Examples
    --------
    >>> t0 = dt.datetime(2026, 1, 1)
    >>> kw = dict(sans_delai=3, verrouillage=10, duree_verrou=dt.timedelta(minutes=15),
    ...           fenetre=dt.timedelta(hours=1))
    >>> wait([t0] * 3, t0, **kw).secondes
    2.0
    >>> wait([t0] * 10, t0, **kw).verrouille
    True
    """
    recent = sorted(t for t in failures if now - t < fenetre)
    n = len(recent)
    if n == 0 or n < sans_delai:
        return Wait(0.0, False, n)
    last = recent[-1]
    cap = duree_verrou.total_seconds()
    if n >= verrouillage:
        delay, locked = cap, True
    else:
        delay, locked = min(2.0 ** min(n - sans_delai + 1, 30), cap), False
    remaining = (last + dt.timedelta(seconds=delay) - now).total_seconds()
    return Wait(max(0.0, remaining), locked and remaining > 0, n)


def account_key(identifiant: str, known: bool) -> str:
    """Clé de comptage d'un identifiant saisi : lui-même s'il est connu, son empreinte sinon."""
    ident = identifiant.strip().lower()
    if known:
        return ident
    return UNKNOWN_PREFIX + hashlib.sha256(ident.encode("utf-8")).hexdigest()[:24]


def _failures(conn, column, value, flag, since) -> list[dt.datetime]:
    t = storage.tentatives_connexion
    return list(conn.execute(sa.select(t.c.quand).where(
        column == value, t.c.resultat.in_(("echec", "en_cours")), flag.is_(False),
        t.c.quand > since)).scalars())


def _waits(conn, compte: str, adresse: str, now: dt.datetime) -> tuple[Wait, Wait]:
    p = access.policy()
    t = storage.tentatives_connexion
    since = now - p.fenetre
    w_account = wait(_failures(conn, t.c.compte, compte, t.c.compte_efface, since), now,
                     sans_delai=p.echecs_sans_delai, verrouillage=p.echecs_verrouillage,
                     duree_verrou=p.verrouillage, fenetre=p.fenetre)
    w_address = wait(_failures(conn, t.c.adresse, adresse, t.c.adresse_efface, since), now,
                     sans_delai=p.echecs_adresse_sans_delai,
                     verrouillage=p.echecs_adresse_verrouillage,
                     duree_verrou=p.verrouillage, fenetre=p.fenetre)
    return w_account, w_address


def _message(w: Wait) -> str:
    seconds = int(math.ceil(w.secondes))
    if w.verrouille:
        minutes = max(1, int(math.ceil(seconds / 60)))
        return (f"Trop d'échecs de connexion : connexion verrouillée pendant encore "
                f"{minutes} minute(s). Un administrateur peut la déverrouiller (page Comptes "
                f"ou « observatoire comptes debloquer »).")
    return f"Trop d'essais : réessayez dans {seconds} seconde(s)."


def begin(compte: str, adresse: str, canal: str) -> int:
    """Inscrit un essai de connexion, ou le refuse pendant un délai ou un verrouillage.

    Parameters
    ----------
    compte : str
        :func:`account_key` de l'identifiant saisi.
    adresse : str
        Adresse du client (ou ``ligne de commande:utilisateur@machine``).
    canal : str

    Returns
    -------
    int
        Numéro de l'essai, à passer à :func:`finish` une fois le mot de passe vérifié.

    Raises
    ------
    TropDEssais
        Essai refusé sans vérifier le mot de passe (message avec l'attente).
    """
    now = access.utcnow()
    with storage.transaction() as conn:
        # Toujours le compte puis l'adresse : deux essais ne s'attendent jamais en croix.
        storage.lock(conn, "connexion", "compte", compte)
        storage.lock(conn, "connexion", "adresse", adresse)
        w_account, w_address = _waits(conn, compte, adresse, now)
        worst = max((w_account, w_address), key=lambda w: (w.verrouille, w.secondes))
        if worst.secondes > 0:
            _record_refusal(conn, compte, adresse, canal, worst, now)
        else:
            t = storage.tentatives_connexion
            return conn.execute(sa.insert(t).values(
                quand=now, compte=compte, adresse=adresse, canal=canal, resultat="en_cours",
                compte_efface=False, adresse_efface=False)).inserted_primary_key[0]
    raise TropDEssais(_message(worst), worst.secondes)


def _record_refusal(conn, compte: str, adresse: str, canal: str, w: Wait,
                    now: dt.datetime) -> None:
    # Un refus ne coûte rien à l'attaquant (pas de vérification du mot de passe) : au plus
    # une ligne par compte et par adresse et par minute, pour que le journal reste lisible.
    j = storage.journal_acces
    recent = conn.execute(sa.select(j.c.id).where(
        j.c.action == "refus_connexion", j.c.qui == _who(compte), j.c.adresse == adresse,
        j.c.quand > now - dt.timedelta(minutes=1)).limit(1)).first()
    if recent is None:
        journal.record("refus_connexion", _who(compte), _message(w), canal=canal,
                       adresse=adresse, conn=conn)


def _who(compte: str) -> str:
    return "?" if compte.startswith(UNKNOWN_PREFIX) else compte


def finish(attempt: int, ok: bool) -> Wait:
    """Note le résultat d'un essai (journal, verrouillage éventuel).

    Returns
    -------
    Wait
        Attente désormais imposée au compte ou à l'adresse (la plus longue), pour le
        dire à l'utilisateur après un échec.
    """
    t = storage.tentatives_connexion
    now = access.utcnow()
    with storage.transaction() as conn:
        row = conn.execute(sa.select(t).where(t.c.id == attempt)).mappings().one()
        compte, adresse, canal = row["compte"], row["adresse"], row["canal"]
        storage.lock(conn, "connexion", "compte", compte)
        storage.lock(conn, "connexion", "adresse", adresse)
        conn.execute(sa.update(t).where(t.c.id == attempt).values(
            resultat="succes" if ok else "echec"))
        if ok:
            conn.execute(sa.update(t).where(t.c.compte == compte, t.c.id != attempt)
                         .values(compte_efface=True))
            journal.record("connexion", compte, "connexion réussie", canal=canal,
                           adresse=adresse, conn=conn)
            return Wait(0.0, False, 0)
        journal.record("echec_connexion", _who(compte), "mot de passe ou identifiant incorrect",
                       canal=canal, adresse=adresse, conn=conn)
        w_account, w_address = _waits(conn, compte, adresse, now)
        minutes = int(access.policy().verrouillage.total_seconds() // 60)
        # L'essai a été permis : un verrouillage constaté maintenant vient de cet échec.
        if w_account.verrouille:
            journal.record("verrouillage", _who(compte),
                           f"compte verrouillé {minutes} min après {w_account.echecs} "
                           f"échecs", canal=canal, adresse=adresse, conn=conn)
        if w_address.verrouille:
            journal.record("verrouillage", _who(compte),
                           f"adresse {adresse} verrouillée {minutes} min après "
                           f"{w_address.echecs} échecs", canal=canal, adresse=adresse,
                           conn=conn)
    return max((w_account, w_address), key=lambda w: (w.verrouille, w.secondes))


def unlock(*, compte: str | None = None, adresse: str | None = None, par: str) -> int:
    """Déverrouille un compte ou une adresse (administrateur).

    Parameters
    ----------
    compte : str, optional
        Identifiant (ou clé ``inconnu:…`` d'un identifiant inconnu).
    adresse : str, optional
    par : str
        Administrateur qui déverrouille (journal).

    Returns
    -------
    int
        Nombre d'échecs effacés.
    """
    if not compte and not adresse:
        raise ObservatoireError("Précisez le compte ou l'adresse à déverrouiller.")
    t = storage.tentatives_connexion
    n = 0
    with storage.transaction() as conn:
        if compte:
            key = compte.strip().lower()
            n += conn.execute(sa.update(t).where(t.c.compte == key, t.c.compte_efface.is_(False))
                              .values(compte_efface=True)).rowcount
            journal.record("deverrouillage", _who(key), f"compte déverrouillé par {par}",
                           conn=conn)
        if adresse:
            n += conn.execute(sa.update(t).where(t.c.adresse == adresse,
                                                 t.c.adresse_efface.is_(False))
                              .values(adresse_efface=True)).rowcount
            journal.record("deverrouillage", par, f"adresse {adresse} déverrouillée par {par}",
                           adresse=adresse, conn=conn)
    return n


def blocked() -> pd.DataFrame:
    """Comptes et adresses qui attendent un délai ou sont verrouillés, maintenant.

    Returns
    -------
    pandas.DataFrame
        ``type`` (``compte`` ou ``adresse``), ``cle``, ``echecs``, ``verrouille``,
        ``jusqua`` (heure locale).
    """
    p = access.policy()
    now = access.utcnow()
    t = storage.tentatives_connexion
    rows = []
    with storage.get_engine().connect() as conn:
        recent = conn.execute(sa.select(t.c.quand, t.c.compte, t.c.adresse, t.c.compte_efface,
                                        t.c.adresse_efface).where(
            t.c.resultat.in_(("echec", "en_cours")), t.c.quand > now - p.fenetre)).all()
    for kind, idx, flag, free, lock in (
            ("compte", 1, 3, p.echecs_sans_delai, p.echecs_verrouillage),
            ("adresse", 2, 4, p.echecs_adresse_sans_delai, p.echecs_adresse_verrouillage)):
        groups: dict[str, list[dt.datetime]] = {}
        for r in recent:
            if not r[flag]:
                groups.setdefault(r[idx], []).append(r[0])
        for key, times in sorted(groups.items()):
            w = wait(times, now, sans_delai=free, verrouillage=lock, duree_verrou=p.verrouillage,
                     fenetre=p.fenetre)
            if w.secondes > 0:
                rows.append({"type": kind, "cle": key, "echecs": w.echecs,
                             "verrouille": w.verrouille,
                             "jusqua": access.to_local(now + dt.timedelta(
                                 seconds=math.ceil(w.secondes)))})
    return pd.DataFrame(rows, columns=["type", "cle", "echecs", "verrouille", "jusqua"])
