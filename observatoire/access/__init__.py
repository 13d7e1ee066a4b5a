"""Accès des agents : sessions serveur, limitation des essais, journal, fichiers privés.

- :mod:`observatoire.access.sessions` : sessions tenues par la base, désignées au
  navigateur par un cookie signé (HttpOnly, SameSite=Strict, Secure en HTTPS) ;
- :mod:`observatoire.access.throttle` : échecs de connexion comptés par compte et par
  adresse du client, délais croissants, verrouillage temporaire, déverrouillage ;
- :mod:`observatoire.access.journal` : journal des accès (connexions, échecs, verrous,
  consultations de valeurs exactes), lu par les administrateurs ;
- :mod:`observatoire.access.files` : modes privés (fichiers 0600, dossiers 0700) ;
- :mod:`observatoire.access.web` : routes Starlette qui posent et retirent le cookie,
  en-têtes de sécurité.

Toutes les heures enregistrées par ce paquet sont en UTC (sans fuseau en base) : une
durée de session ne s'allonge ni ne se raccourcit au changement d'heure.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from observatoire.config import settings
from observatoire.errors import ConfigurationError

#: Canaux inscrits au journal.
CANAL_APPLICATION = "application"
CANAL_CLI = "ligne de commande"


def utcnow() -> dt.datetime:
    """Heure UTC courante, sans fuseau (comme elle est stockée), à la seconde."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def to_local(moment: dt.datetime | None) -> dt.datetime | None:
    """Heure UTC stockée → heure locale de la machine, pour l'affichage."""
    if moment is None or moment != moment:  # None ou NaT
        return None
    if hasattr(moment, "to_pydatetime"):  # Timestamp pandas
        moment = moment.to_pydatetime()
    return moment.replace(tzinfo=dt.UTC).astimezone().replace(tzinfo=None)


@dataclass(frozen=True)
class Policy:
    """Réglages de la section ``[acces]`` de la configuration.

    Attributes
    ----------
    duree_session : datetime.timedelta
        Durée maximale d'une session, quelle que soit l'activité.
    inactivite : datetime.timedelta
        Une session sans activité pendant cette durée prend fin.
    cookie_secure : str
        ``"auto"``, ``"toujours"`` ou ``"jamais"``.
    fenetre : datetime.timedelta
        Fenêtre sur laquelle les échecs de connexion sont comptés.
    echecs_sans_delai, echecs_verrouillage : int
        Par compte : échecs tolérés sans délai, puis nombre d'échecs qui verrouille.
    echecs_adresse_sans_delai, echecs_adresse_verrouillage : int
        Les mêmes seuils par adresse du client, tous comptes confondus.
    verrouillage : datetime.timedelta
        Durée d'un verrouillage, comptée depuis le dernier échec.
    conservation_journal : datetime.timedelta
        Durée de conservation du journal des accès.
    """

    duree_session: dt.timedelta = dt.timedelta(hours=8)
    inactivite: dt.timedelta = dt.timedelta(minutes=60)
    cookie_secure: str = "auto"
    fenetre: dt.timedelta = dt.timedelta(minutes=60)
    echecs_sans_delai: int = 3
    echecs_verrouillage: int = 10
    echecs_adresse_sans_delai: int = 10
    echecs_adresse_verrouillage: int = 30
    verrouillage: dt.timedelta = dt.timedelta(minutes=15)
    conservation_journal: dt.timedelta = dt.timedelta(days=365)


def policy() -> Policy:
    """Réglages d'accès lus dans la section ``[acces]`` (valeurs par défaut sinon).

    Raises
    ------
    ConfigurationError
        Valeur de mauvais type ou hors bornes, avec la clé et le fichier.
    """
    raw = settings().acces
    where = settings().config_path

    def number(key: str, default: float, minimum: float) -> float:
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
            raise ConfigurationError(
                f"{where}, section [acces] : « {key} » doit être un nombre supérieur ou égal "
                f"à {minimum:g} (lu : {value!r}).")
        return float(value)

    secure = raw.get("cookie_secure", "auto")
    if secure not in ("auto", "toujours", "jamais"):
        raise ConfigurationError(
            f"{where}, section [acces] : « cookie_secure » vaut \"auto\", \"toujours\" ou "
            f"\"jamais\" (lu : {secure!r}).")
    p = Policy(
        duree_session=dt.timedelta(hours=number("duree_session_heures", 8, 0.05)),
        inactivite=dt.timedelta(minutes=number("inactivite_minutes", 60, 1)),
        cookie_secure=secure,
        fenetre=dt.timedelta(minutes=number("fenetre_echecs_minutes", 60, 1)),
        echecs_sans_delai=int(number("echecs_sans_delai", 3, 0)),
        echecs_verrouillage=int(number("echecs_verrouillage", 10, 1)),
        echecs_adresse_sans_delai=int(number("echecs_adresse_sans_delai", 10, 0)),
        echecs_adresse_verrouillage=int(number("echecs_adresse_verrouillage", 30, 1)),
        verrouillage=dt.timedelta(minutes=number("verrouillage_minutes", 15, 1)),
        conservation_journal=dt.timedelta(days=number("conservation_journal_jours", 365, 1)),
    )
    return p
