"""Sessions des agents tenues par le serveur, désignées par un cookie signé.

Une connexion réussie crée une ligne de ``sessions_agents`` et un **jeton à usage unique**
(valable :data:`JETON_TTL`, lié au navigateur qui s'est connecté). Le navigateur échange
ce jeton contre le cookie sur une route du serveur (:mod:`observatoire.access.web`) : un
script Streamlit ne peut pas poser de cookie HttpOnly, une réponse HTTP si. Le cookie
porte un secret aléatoire signé (``itsdangerous``, clé privée :func:`key_path`) ; la
base n'en garde que l'empreinte SHA-256. À chaque exécution, la session est relue :
terminée (déconnexion, administrateur, compte supprimé), expirée (durée maximale) ou
inactive trop longtemps, elle ne donne plus que la vue publique. Un cookie forgé, altéré
ou signé par une autre clé est ignoré sans même interroger la base.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from itsdangerous import BadSignature, URLSafeTimedSerializer

from observatoire import access, storage
from observatoire.access import files, journal
from observatoire.config import settings
from observatoire.errors import ConfigurationError

#: Nom du cookie de session (HttpOnly, SameSite=Strict, Secure en HTTPS).
COOKIE_NAME = "observatoire_session"
#: Durée de validité du jeton échangé contre le cookie juste après la connexion.
JETON_TTL = dt.timedelta(seconds=60)
#: Variable d'environnement : autre emplacement de la clé de signature.
KEY_ENV = "OBSERVATOIRE_CLE_SESSION"
#: Une session terminée reste en base ce temps (refus de rejouer une identité OIDC).
KEEP_ENDED = dt.timedelta(days=30)
#: La date de dernière activité n'est réécrite qu'une fois par minute au plus.
_TOUCH_EVERY = dt.timedelta(seconds=60)
_SALT = "observatoire-session"
_SUITE = re.compile(r"^/[A-Za-z0-9_\-/]{0,200}$")
_KEYS: dict[Path, bytes] = {}


@dataclass(frozen=True)
class StaffSession:
    """Référence, en mémoire du serveur, à une session ouverte.

    Attributes
    ----------
    id : str
        Identifiant de la ligne ``sessions_agents`` (jamais envoyé au navigateur).
    identifiant : str
        Compte connecté.
    source : str
        ``"local"`` ou ``"oidc"``.
    """

    id: str
    identifiant: str
    source: str


# --- clé de signature ------------------------------------------------------------------

def default_key_dir() -> Path:
    """Dossier des clés par défaut : ``<données>/cles`` (0700)."""
    return settings().data_dir / "cles"


def key_path() -> Path:
    """Fichier de la clé de signature des cookies.

    ``OBSERVATOIRE_CLE_SESSION`` s'il est défini, sinon ``<données>/cles/session.key`` :
    toutes les instances qui partagent le dossier de données partagent la clé.
    """
    raw = os.environ.get(KEY_ENV)
    return Path(raw).expanduser() if raw else default_key_dir() / "session.key"


def signing_key() -> bytes:
    """Clé de signature, créée au premier usage (fichier 0600 dans un dossier 0700).

    Deux instances qui démarrent ensemble obtiennent la même clé : la première écrit un
    fichier temporaire puis le lie sous le nom définitif (``link`` échoue si le nom
    existe), la seconde lit le fichier complet.

    Raises
    ------
    ConfigurationError
        Fichier de clé illisible ou trop court.
    """
    path = key_path()
    if path in _KEYS:
        return _KEYS[path]
    if not path.exists():
        files.make_private_dirs(path.parent)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = files.open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_hex(32) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    try:
        key = path.read_bytes().strip()
    except OSError as exc:
        raise ConfigurationError(
            f"La clé des sessions {path} est illisible ({exc.strerror}) : vérifiez ses "
            f"droits ou supprimez-la (toutes les sessions seront fermées).") from exc
    if len(key) < 32:
        raise ConfigurationError(
            f"La clé des sessions {path} est trop courte : supprimez-la, une nouvelle sera "
            f"créée (toutes les sessions seront fermées).")
    _KEYS[path] = key
    return key


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(signing_key(), salt=_SALT)


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


# --- lien avec le navigateur ---------------------------------------------------------

def normalize_address(address: str | None) -> str:
    """Adresse du client telle qu'enregistrée : ``"local"`` pour la boucle locale."""
    if not address or address in ("127.0.0.1", "::1", "localhost"):
        return "local"
    return str(address)[:64]


def binding(xsrf_cookie: str | None, address: str) -> str:
    """Empreinte qui lie le jeton d'échange au navigateur qui s'est connecté.

    Le jeton n'est accepté que présenté avec le même cookie anti-CSRF de Streamlit
    (``_streamlit_xsrf``) que la connexion : un jeton volé ou envoyé à un autre
    navigateur (« connexion forcée » dans le compte d'autrui) ne sert à rien. Sans
    protection anti-CSRF, le lien se fait sur l'adresse du client.
    """
    token = None
    if xsrf_cookie:
        try:
            from streamlit.web.server.starlette.starlette_app_utils import (
                decode_xsrf_token_string,
            )

            raw, _ts = decode_xsrf_token_string(xsrf_cookie)
            token = raw.hex() if raw else None
        except Exception:  # noqa: BLE001  (format inattendu : le cookie brut sert de lien)
            token = xsrf_cookie
    if token:
        return _sha("xsrf:" + token)
    return _sha("adresse:" + normalize_address(address))


def safe_suite(path: str | None) -> str:
    """Chemin de retour après l'échange : un chemin de l'application, rien d'autre."""
    if path and _SUITE.match(path) and not path.startswith("//"):
        return path
    return ""


# --- cycle de vie --------------------------------------------------------------------

def open_session(identifiant: str, role: str, source: str, *, adresse: str,
                 navigateur: str = "", lien: str = "", suite: str = "",
                 oidc_iat: int | None = None) -> tuple[StaffSession, str]:
    """Ouvre une session après une authentification réussie.

    Parameters
    ----------
    identifiant, role, source : str
    adresse : str
        Adresse du client (voir :func:`normalize_address`).
    navigateur : str
        En-tête User-Agent (tronqué), pour la liste des sessions.
    lien : str
        :func:`binding` du navigateur qui s'est connecté.
    suite : str
        Page où revenir une fois le cookie posé.
    oidc_iat : int, optional
        Date d'émission du jeton d'identité OIDC (secondes depuis 1970).

    Returns
    -------
    tuple
        ``(StaffSession, jeton)`` : le jeton à usage unique à échanger contre le cookie.
    """
    now = access.utcnow()
    sid = secrets.token_hex(16)
    jeton = secrets.token_urlsafe(32)
    p = access.policy()
    with storage.transaction() as conn:
        # Ménage à chaque connexion : vieilles sessions, vieux essais, journal au-delà de
        # sa durée de conservation.
        conn.execute(sa.delete(storage.sessions_agents).where(sa.or_(
            storage.sessions_agents.c.fin_le < now - KEEP_ENDED,
            storage.sessions_agents.c.expire_le < now - KEEP_ENDED)))
        conn.execute(sa.delete(storage.tentatives_connexion).where(
            storage.tentatives_connexion.c.quand < now - max(p.fenetre, dt.timedelta(days=1))))
        conn.execute(sa.delete(storage.journal_acces).where(
            storage.journal_acces.c.quand < now - p.conservation_journal))
        conn.execute(sa.insert(storage.sessions_agents).values(
            id=sid, identifiant=identifiant, role=role, source=source,
            jeton_hash=_sha(jeton), jeton_expire_le=now + JETON_TTL, lien=lien,
            suite=safe_suite(suite) or None, oidc_iat=oidc_iat,
            adresse=normalize_address(adresse), navigateur=(navigateur or "")[:255],
            cree_le=now, vu_le=now, expire_le=now + p.duree_session))
    return StaffSession(sid, identifiant, source), jeton


@dataclass(frozen=True)
class Exchange:
    """Résultat d'un échange réussi : le cookie à poser et où revenir."""

    cookie: str
    max_age: int
    suite: str


def exchange(jeton: str, lien: str) -> Exchange | None:
    """Échange un jeton à usage unique contre la valeur du cookie de session.

    Le jeton est consommé au premier essai, réussi ou non. Refusé s'il est inconnu,
    déjà servi, expiré, si la session a pris fin, ou s'il vient d'un autre navigateur.

    Returns
    -------
    Exchange or None
    """
    if not jeton or len(jeton) > 128:
        return None
    now = access.utcnow()
    t = storage.sessions_agents
    h = _sha(jeton)
    secret = secrets.token_urlsafe(32)
    with storage.transaction() as conn:
        row = conn.execute(sa.select(t).where(t.c.jeton_hash == h)).mappings().first()
        if row is None:
            return None
        taken = conn.execute(sa.update(t).where(t.c.id == row["id"], t.c.jeton_hash == h)
                             .values(jeton_hash=None, jeton_expire_le=None)).rowcount
        if taken != 1 or row["fin_le"] is not None or row["jeton_expire_le"] < now \
                or now >= row["expire_le"]:
            return None
        if not hmac.compare_digest(row["lien"] or "", lien or ""):
            journal.record("refus_jeton", row["identifiant"],
                           "jeton de session présenté par un autre navigateur",
                           canal=access.CANAL_APPLICATION, conn=conn)
            return None
        conn.execute(sa.update(t).where(t.c.id == row["id"]).values(
            secret_hash=_sha(secret), vu_le=now))
    max_age = max(1, int((row["expire_le"] - now).total_seconds()))
    return Exchange(_serializer().dumps(secret), max_age, row["suite"] or "")


def _read_cookie(value: str | None) -> str | None:
    if not value or len(value) > 512:
        return None
    try:
        secret = _serializer().loads(
            value, max_age=access.policy().duree_session.total_seconds() + 60)
    except BadSignature:  # forgé, altéré, autre clé, ou trop vieux (SignatureExpired)
        return None
    return secret if isinstance(secret, str) else None


def from_cookie(value: str | None) -> StaffSession | None:
    """Session désignée par la valeur du cookie, si elle est valide.

    Returns
    -------
    StaffSession or None
        None pour un cookie absent, forgé, altéré, signé par une autre clé, d'une
        session terminée, expirée ou inactive.
    """
    secret = _read_cookie(value)
    if secret is None:
        return None
    t = storage.sessions_agents
    with storage.get_engine().connect() as conn:
        row = conn.execute(sa.select(t.c.id, t.c.identifiant, t.c.source).where(
            t.c.secret_hash == _sha(secret), t.c.fin_le.is_(None))).first()
    if row is None:
        return None
    session = StaffSession(row.id, row.identifiant, row.source)
    return session if check(session) is None else None


def check(session: StaffSession) -> str | None:
    """Vérifie qu'une session est toujours ouverte et note l'activité.

    Returns
    -------
    str or None
        None si elle est valide ; sinon pourquoi elle ne l'est plus (``"expiration"``,
        ``"inactivité"``, ou le motif de sa fin).
    """
    now = access.utcnow()
    t = storage.sessions_agents
    engine = storage.get_engine()
    with engine.connect() as conn:
        row = conn.execute(sa.select(t).where(t.c.id == session.id)).mappings().first()
    if row is None:
        return "inconnue"
    if row["fin_le"] is not None:
        return row["fin_motif"] or "terminée"
    if now >= row["expire_le"]:
        end(session.id, "expiration")
        return "expiration"
    if now - row["vu_le"] >= access.policy().inactivite:
        end(session.id, "inactivité")
        return "inactivité"
    if now - row["vu_le"] >= _TOUCH_EVERY:
        with storage.transaction(engine) as conn:
            conn.execute(sa.update(t).where(t.c.id == session.id, t.c.fin_le.is_(None))
                         .values(vu_le=now))
    return None


def end(session_id: str, motif: str, par: str | None = None) -> bool:
    """Termine une session côté serveur (son cookie ne vaut plus rien).

    Parameters
    ----------
    session_id : str
    motif : str
        ``"déconnexion"``, ``"expiration"``, ``"administrateur"``…, inscrit au journal.
    par : str, optional
        Administrateur qui la termine.

    Returns
    -------
    bool
        Vrai si la session était ouverte.
    """
    t = storage.sessions_agents
    now = access.utcnow()
    with storage.transaction() as conn:
        row = conn.execute(sa.select(t.c.identifiant, t.c.adresse).where(
            t.c.id == session_id, t.c.fin_le.is_(None))).first()
        if row is None:
            return False
        conn.execute(sa.update(t).where(t.c.id == session_id, t.c.fin_le.is_(None))
                     .values(fin_le=now, fin_motif=motif, jeton_hash=None))
        quoi = f"fin de session : {motif}" + (f" (par {par})" if par else "")
        journal.record("fin_session", row.identifiant, quoi, adresse=row.adresse or "",
                       conn=conn)
    return True


def end_by_cookie(value: str | None, motif: str = "déconnexion") -> bool:
    """Termine la session désignée par un cookie (route de déconnexion)."""
    secret = _read_cookie(value)
    if secret is None:
        return False
    t = storage.sessions_agents
    with storage.get_engine().connect() as conn:
        sid = conn.execute(sa.select(t.c.id).where(t.c.secret_hash == _sha(secret))).scalar()
    return bool(sid) and end(sid, motif)


def end_for_account(identifiant: str, motif: str, par: str | None = None) -> int:
    """Termine toutes les sessions ouvertes d'un compte ; rend leur nombre."""
    t = storage.sessions_agents
    with storage.get_engine().connect() as conn:
        ids = conn.execute(sa.select(t.c.id).where(
            t.c.identifiant == identifiant, t.c.fin_le.is_(None))).scalars().all()
    return sum(end(sid, motif, par) for sid in ids)


def oidc_login_usable(identifiant: str, iat: int | None) -> bool:
    """Une identité OIDC (adresse et date d'émission) peut-elle ouvrir une session ?

    Le cookie d'identité de Streamlit vit 30 jours et ne se révoque pas côté serveur :
    une identité n'ouvre une session que si elle a été émise depuis moins que la durée
    d'une session, et une seule fois — après la déconnexion ou l'expiration de cette
    session, il faut se reconnecter chez le fournisseur d'identité.
    """
    if iat is None:
        return False
    issued = dt.datetime.fromtimestamp(int(iat), dt.UTC).replace(tzinfo=None)
    now = access.utcnow()
    if issued > now + dt.timedelta(minutes=5) or now - issued > access.policy().duree_session:
        return False
    t = storage.sessions_agents
    with storage.get_engine().connect() as conn:
        used = conn.execute(sa.select(sa.func.count()).select_from(t).where(
            t.c.identifiant == identifiant, t.c.oidc_iat == int(iat),
            t.c.fin_le.is_not(None))).scalar_one()
    return used == 0


def active_sessions() -> pd.DataFrame:
    """Sessions ouvertes (heures locales), la plus récente d'abord.

    Returns
    -------
    pandas.DataFrame
        ``id``, ``identifiant``, ``role``, ``source``, ``adresse``, ``navigateur``,
        ``cree_le``, ``vu_le``, ``expire_le``.
    """
    t = storage.sessions_agents
    now = access.utcnow()
    cols = [t.c.id, t.c.identifiant, t.c.role, t.c.source, t.c.adresse, t.c.navigateur,
            t.c.cree_le, t.c.vu_le, t.c.expire_le]
    with storage.get_engine().connect() as conn:
        rows = conn.execute(sa.select(*cols).where(
            t.c.fin_le.is_(None), t.c.expire_le > now,
            t.c.vu_le > now - access.policy().inactivite).order_by(t.c.cree_le.desc())).all()
    df = pd.DataFrame(rows, columns=[c.name for c in cols])
    for col in ("cree_le", "vu_le", "expire_le"):
        df[col] = df[col].map(access.to_local)
    return df
