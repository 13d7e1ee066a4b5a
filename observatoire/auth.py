"""Authentification des agents : OIDC (``st.login``) ou comptes locaux hachés, rôles.

Deux rôles : ``agent`` (importer, voir les effectifs exacts) et ``administrateur``
(gérer aussi les registres et les comptes). Le public n'a pas de compte : il ne voit
que les pages publiques, où le secret statistique est toujours appliqué.

Deux sources d'identité :

* **OIDC** quand ``.streamlit/secrets.toml`` contient une section ``[auth]`` complète
  (``st.login``) ; le rôle vient alors de la section ``[observatoire_roles]``
  (listes ``administrateurs``, ``agents`` d'adresses électroniques, et
  ``domaines_agents`` : domaines dont toute adresse vérifiée est agent) ;
* sinon, des **comptes locaux** dans un fichier TOML hors du dépôt
  (``OBSERVATOIRE_COMPTES``, par défaut ``~/.config/observatoire/comptes.toml``), mots
  de passe hachés par bcrypt, gérés par ``observatoire comptes``.

Dans les deux cas, l'accès d'un agent est une **session tenue par le serveur**
(:mod:`observatoire.access.sessions`) : elle survit aux rechargements de la page pour une
durée bornée, la déconnexion la termine côté serveur, un cookie expiré ou forgé ne donne
que la vue publique. Les essais de mot de passe (application et ligne de commande) sont
limités par compte et par adresse (:mod:`observatoire.access.throttle`).

Les fonctions de ce module n'importent pas Streamlit sauf celles qui en ont besoin
(:func:`oidc_configured`, :func:`current_user`, :func:`login_local`…), pour que la CLI
reste légère.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import bcrypt

from observatoire.config import ROOT
from observatoire.errors import ConfigurationError, ObservatoireError

log = logging.getLogger(__name__)

ROLES = ("agent", "administrateur")
#: Longueur minimale d'un mot de passe local.
MIN_PASSWORD_LENGTH = 12
#: bcrypt ne lit pas au-delà de 72 octets : un mot de passe plus long est refusé.
MAX_PASSWORD_BYTES = 72
#: Nombre minimal de caractères différents dans un mot de passe.
MIN_DISTINCT_CHARACTERS = 5
#: Clé de ``st.session_state`` où vit la session de l'agent connecté (jamais un widget) :
#: une :class:`observatoire.access.sessions.StaffSession`, relue en base à chaque exécution.
SESSION_KEY = "_observatoire_compte"
_COOKIE_REFUSED = "_observatoire_cookie_refuse"
_ENDED = "_observatoire_session_finie"
_SEEN = "_observatoire_vu"
_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")
# Empreinte factice : vérifier un identifiant inconnu coûte autant qu'un connu.
_DUMMY_HASH = bcrypt.hashpw(b"observatoire-factice", bcrypt.gensalt(rounds=12))


class AuthError(ObservatoireError):
    """Erreur de gestion des comptes (message français montré tel quel)."""


@dataclass(frozen=True)
class Account:
    """Agent authentifié.

    Attributes
    ----------
    identifiant : str
        Identifiant de connexion (ou adresse électronique en OIDC).
    role : str
        ``"agent"`` ou ``"administrateur"``.
    nom : str
        Nom affiché.
    source : str
        ``"local"`` ou ``"oidc"``.
    """

    identifiant: str
    role: str
    nom: str = ""
    source: str = "local"

    @property
    def is_admin(self) -> bool:
        """Vrai pour un administrateur."""
        return self.role == "administrateur"

    @property
    def label(self) -> str:
        """Libellé « Nom (rôle) » pour l'interface."""
        return f"{self.nom or self.identifiant} ({self.role})"


def default_accounts_dir() -> Path:
    """Dossier par défaut du fichier des comptes : ``~/.config/observatoire``."""
    return Path.home() / ".config" / "observatoire"


def accounts_path() -> Path:
    """Fichier des comptes locaux.

    Returns
    -------
    pathlib.Path
        ``OBSERVATOIRE_COMPTES`` s'il est défini, sinon
        ``~/.config/observatoire/comptes.toml``.

    Raises
    ------
    ConfigurationError
        Si le chemin est à l'intérieur du dépôt : des empreintes de mots de passe n'ont
        rien à faire dans un dossier versionné.
    """
    raw = os.environ.get("OBSERVATOIRE_COMPTES")
    path = Path(raw).expanduser() if raw else default_accounts_dir() / "comptes.toml"
    resolved = path.resolve()
    if resolved == ROOT or ROOT in resolved.parents:
        raise ConfigurationError(
            f"Le fichier des comptes {path} est dans le dépôt du projet : placez-le ailleurs "
            f"(variable OBSERVATOIRE_COMPTES, par défaut ~/.config/observatoire/comptes.toml)."
        )
    return path


def _read(path: Path) -> dict[str, dict]:
    if not path.exists():
        return {}
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(
            f"Le fichier des comptes {path} n'est pas un TOML valide : {exc}.") from exc
    except OSError as exc:
        raise ConfigurationError(
            f"Le fichier des comptes {path} est illisible ({exc.strerror}).") from exc
    comptes = raw.get("comptes", {})
    if not isinstance(comptes, dict):
        raise ConfigurationError(f"Le fichier des comptes {path} n'a pas de section [comptes].")
    return comptes


def _toml_str(value: str) -> str:
    # Une chaîne JSON sans caractère de contrôle est une chaîne de base TOML valide.
    return json.dumps(str(value), ensure_ascii=False)


def _write(path: Path, comptes: Mapping[str, Mapping]) -> None:
    from observatoire.access import files

    lines = ["# Comptes des agents de l'observatoire (géré par « observatoire comptes »).",
             "# Mots de passe hachés par bcrypt ; ne pas versionner ce fichier.", ""]
    for ident in sorted(comptes):
        entry = comptes[ident]
        lines.append(f"[comptes.{_toml_str(ident)}]")
        for key in ("nom", "role", "hash", "cree_le"):
            if key in entry:
                lines.append(f"{key} = {_toml_str(entry[key])}")
        lines.append("")
    files.make_private_dirs(path.parent)
    tmp = path.with_suffix(path.suffix + ".part")
    # Lisible par son seul propriétaire (quel que soit le umask) : empreintes de mots de passe.
    fd = files.open_private(tmp)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines))
    os.replace(tmp, path)


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise AuthError(f"Rôle « {role} » inconnu : choisissez parmi {', '.join(ROLES)}.")
    return role


def check_password_policy(identifiant: str, mot_de_passe: str) -> None:
    """Refuse un mot de passe trop faible, en disant pourquoi.

    Au moins :data:`MIN_PASSWORD_LENGTH` caractères, au plus :data:`MAX_PASSWORD_BYTES`
    octets (limite de bcrypt), au moins :data:`MIN_DISTINCT_CHARACTERS` caractères
    différents, et pas l'identifiant dedans. Une phrase de passe (des mots séparés par
    des espaces) est le plus simple à retenir.

    Raises
    ------
    AuthError
    """
    if len(mot_de_passe) < MIN_PASSWORD_LENGTH:
        raise AuthError(
            f"Mot de passe trop court : au moins {MIN_PASSWORD_LENGTH} caractères (une phrase "
            f"de passe de quelques mots convient).")
    if len(mot_de_passe.encode("utf-8")) > MAX_PASSWORD_BYTES:
        raise AuthError(
            f"Mot de passe trop long : au plus {MAX_PASSWORD_BYTES} octets (bcrypt ne lit pas "
            f"au-delà).")
    if len(set(mot_de_passe)) < MIN_DISTINCT_CHARACTERS:
        raise AuthError(
            f"Mot de passe trop répétitif : au moins {MIN_DISTINCT_CHARACTERS} caractères "
            f"différents.")
    ident = identifiant.strip().lower()
    if ident and ident in mot_de_passe.lower():
        raise AuthError("Le mot de passe ne doit pas contenir l'identifiant.")


def add_account(identifiant: str, mot_de_passe: str, role: str = "agent", nom: str = "",
                *, remplacer: bool = False, path: Path | None = None,
                par: str = "", canal: str = "ligne de commande") -> Account:
    """Crée (ou remplace) un compte local.

    Remplacer un compte (changement de mot de passe ou de rôle) termine ses sessions
    ouvertes.

    Parameters
    ----------
    identifiant : str
        Identifiant de connexion : minuscules, chiffres, ``. _ @ -`` (2 à 64 caractères).
    mot_de_passe : str
        Voir :func:`check_password_policy` ; seul son hachage bcrypt est écrit.
    role : {"agent", "administrateur"}
    nom : str, optional
        Nom affiché.
    remplacer : bool, default False
        Autorise à remplacer un compte existant (changement de mot de passe ou de rôle).
    path : pathlib.Path, optional
        Fichier des comptes ; par défaut :func:`accounts_path`.
    par : str, optional
        Administrateur qui agit (journal des accès).
    canal : str, default "ligne de commande"
        D'où vient la demande (journal des accès).

    Returns
    -------
    Account

    Raises
    ------
    AuthError
        Identifiant invalide ou déjà pris, rôle inconnu, mot de passe trop faible.
    """
    path = path or accounts_path()
    ident = identifiant.strip().lower()
    if not _ID_PATTERN.match(ident):
        raise AuthError(
            f"Identifiant « {identifiant} » invalide : 2 à 64 caractères parmi les minuscules, "
            f"les chiffres et . _ @ -.")
    _check_role(role)
    check_password_policy(ident, mot_de_passe)
    comptes = _read(path)
    existed = ident in comptes
    if existed and not remplacer:
        raise AuthError(f"Le compte « {ident} » existe déjà (option --remplacer pour le "
                        f"modifier).")
    digest = bcrypt.hashpw(mot_de_passe.encode("utf-8"), bcrypt.gensalt(rounds=12))
    comptes[ident] = {"nom": nom or ident, "role": role, "hash": digest.decode("ascii"),
                      "cree_le": dt.datetime.now().replace(microsecond=0).isoformat()}
    _write(path, comptes)
    _after_account_change(ident, f"compte {ident} {'remplacé' if existed else 'créé'} "
                                 f"(rôle {role})", par, canal, end_sessions=existed)
    return Account(ident, role, nom or ident)


def _after_account_change(ident: str, quoi: str, par: str, canal: str, *,
                          end_sessions: bool) -> None:
    from observatoire.access import journal, sessions

    if end_sessions:
        sessions.end_for_account(ident, "compte modifié", par or None)
    journal.record("compte", par or "?", quoi, canal=canal)


def remove_account(identifiant: str, *, path: Path | None = None, par: str = "",
                   canal: str = "ligne de commande") -> None:
    """Supprime un compte local et termine ses sessions.

    Raises
    ------
    AuthError
        Si le compte n'existe pas.
    """
    path = path or accounts_path()
    comptes = _read(path)
    ident = identifiant.strip().lower()
    if ident not in comptes:
        raise AuthError(f"Le compte « {identifiant} » n'existe pas (voir « observatoire "
                        f"comptes lister »).")
    del comptes[ident]
    _write(path, comptes)
    _after_account_change(ident, f"compte {ident} supprimé", par, canal, end_sessions=True)


def list_accounts(*, path: Path | None = None) -> list[dict]:
    """Comptes locaux, sans leurs empreintes.

    Returns
    -------
    list of dict
        ``identifiant``, ``nom``, ``role``, ``cree_le``, triés par identifiant.
    """
    comptes = _read(path or accounts_path())
    return [{"identifiant": ident, "nom": c.get("nom", ident), "role": c.get("role", "agent"),
             "cree_le": c.get("cree_le", "")} for ident, c in sorted(comptes.items())]


def has_administrator(*, path: Path | None = None) -> bool:
    """Vrai quand au moins un compte local a le rôle administrateur."""
    return any(c.get("role") == "administrateur" for c in _read(path or accounts_path()).values())


def verify_password(identifiant: str, mot_de_passe: str, *,
                    path: Path | None = None) -> Account | None:
    """Vérifie un couple identifiant / mot de passe (sans limitation : voir :func:`authenticate`).

    Parameters
    ----------
    identifiant, mot_de_passe : str
    path : pathlib.Path, optional

    Returns
    -------
    Account or None
        Le compte si le mot de passe est bon, None sinon (sans dire lequel des deux est
        faux ; un identifiant inconnu coûte le même temps de calcul).
    """
    comptes = _read(path or accounts_path())
    entry = comptes.get(identifiant.strip().lower())
    digest = entry.get("hash", "").encode("ascii") if entry else _DUMMY_HASH
    try:
        ok = bcrypt.checkpw(mot_de_passe.encode("utf-8"), digest)
    except ValueError:  # empreinte corrompue, ou mot de passe de plus de 72 octets
        ok = False
    if not entry or not ok or entry.get("role") not in ROLES:
        return None
    return Account(identifiant.strip().lower(), entry["role"], entry.get("nom", ""))


@dataclass(frozen=True)
class LoginResult:
    """Issue d'un essai de connexion.

    Attributes
    ----------
    account : Account or None
        Le compte, ou None si l'identifiant ou le mot de passe est faux.
    attente : float
        Après un échec : secondes avant le prochain essai permis.
    verrouille : bool
        Après un échec : le compte ou l'adresse est désormais verrouillé.
    redirige : bool
        Après un succès dans l'application : le navigateur est parti chercher son cookie
        de session (il revient aussitôt, connecté).
    """

    account: Account | None
    attente: float = 0.0
    verrouille: bool = False
    redirige: bool = False

    def message(self) -> str:
        """Message d'échec pour l'utilisateur (vide après un succès)."""
        if self.account is not None:
            return ""
        text = "Identifiant ou mot de passe incorrect."
        if self.verrouille:
            text += (" Trop d'échecs : la connexion est verrouillée pour un moment (un "
                     "administrateur peut la déverrouiller).")
        elif self.attente > 0:
            text += f" Prochain essai possible dans {int(self.attente + 0.999)} seconde(s)."
        return text


def authenticate(identifiant: str, mot_de_passe: str, *, adresse: str, canal: str,
                 path: Path | None = None) -> LoginResult:
    """Vérifie un mot de passe sous la limitation des essais tenue par le serveur.

    Parameters
    ----------
    identifiant, mot_de_passe : str
    adresse : str
        Adresse du client (application) ou ``ligne de commande:utilisateur@machine``.
    canal : str
        ``"application"`` ou ``"ligne de commande"`` (journal).
    path : pathlib.Path, optional
        Fichier des comptes.

    Returns
    -------
    LoginResult

    Raises
    ------
    observatoire.access.throttle.TropDEssais
        Essai refusé (délai croissant ou verrouillage), sans vérifier le mot de passe.
    """
    from observatoire.access import throttle

    comptes = _read(path or accounts_path())
    ident = identifiant.strip().lower()
    known = ident in comptes and comptes[ident].get("role") in ROLES
    attempt = throttle.begin(throttle.account_key(ident, known), adresse, canal)
    account = None
    try:
        account = verify_password(ident, mot_de_passe, path=path)
    finally:
        wait = throttle.finish(attempt, account is not None)
    return LoginResult(account, wait.secondes, wait.verrouille)


def refresh_account(account: Account, *, path: Path | None = None) -> Account | None:
    """Relit un compte local connecté : supprimé ou changé de rôle, il perd son accès.

    Returns
    -------
    Account or None
    """
    entry = _read(path or accounts_path()).get(account.identifiant)
    if not entry or entry.get("role") not in ROLES:
        return None
    return Account(account.identifiant, entry["role"], entry.get("nom", ""), "local")


def role_for_email(email: str | None, roles: Mapping | None) -> str | None:
    """Rôle d'une identité OIDC d'après la section ``[observatoire_roles]`` des secrets.

    Parameters
    ----------
    email : str or None
        Adresse électronique vérifiée par le fournisseur d'identité.
    roles : mapping or None
        ``administrateurs`` et ``agents`` (listes d'adresses), ``domaines_agents``
        (liste de domaines).

    Returns
    -------
    str or None
        ``"administrateur"``, ``"agent"`` ou None (identité inconnue : aucun accès).
    """
    if not email or not roles:
        return None
    email = email.strip().lower()
    if email in {a.lower() for a in roles.get("administrateurs", [])}:
        return "administrateur"
    if email in {a.lower() for a in roles.get("agents", [])}:
        return "agent"
    domain = email.rsplit("@", 1)[-1]
    if domain in {d.lower().lstrip("@") for d in roles.get("domaines_agents", [])}:
        return "agent"
    return None


# --- Streamlit -----------------------------------------------------------------------

def oidc_configured() -> bool:
    """Vrai quand ``.streamlit/secrets.toml`` configure ``st.login`` (section ``[auth]``)."""
    import streamlit as st

    try:
        auth = st.secrets.get("auth", {})
    except (FileNotFoundError, KeyError, AttributeError):
        return False
    except Exception as exc:  # secrets.toml illisible : le dire, ne pas ouvrir l'accès
        if type(exc).__name__ == "StreamlitSecretNotFoundError":
            return False
        raise
    return bool(auth) and "redirect_uri" in auth and "cookie_secret" in auth


def client_address() -> str:
    """Adresse du client de la session Streamlit (``"local"`` en boucle locale).

    Derrière le proxy inverse, c'est l'adresse que le proxy transmet (``X-Forwarded-For``)
    quand le serveur lui fait confiance (``FORWARDED_ALLOW_IPS`` d'uvicorn, voir
    docs/deploiement.md) ; sinon celle du proxy, ce qui limite alors tous les clients
    ensemble.
    """
    import streamlit as st

    from observatoire.access import sessions

    address = st.context.ip_address
    return sessions.normalize_address(address if isinstance(address, str) else None)


def _context_value(getter) -> str:
    try:
        value = getter()
    except Exception:  # noqa: BLE001  (hors d'une session de navigateur : AppTest, tâche)
        return ""
    return value if isinstance(value, str) else ""


def _browser_binding() -> str:
    import streamlit as st

    from observatoire.access import sessions

    xsrf = _context_value(lambda: st.context.cookies.get("_streamlit_xsrf"))
    return sessions.binding(xsrf or None, client_address())


def _current_path() -> str:
    import urllib.parse

    import streamlit as st

    url = _context_value(lambda: st.context.url)
    return urllib.parse.urlsplit(url).path if url else ""


def _redirect(url: str) -> bool:
    """Envoie le navigateur à ``url`` (message ``auth_redirect``, celui de ``st.login``)."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx(suppress_warning=True)
    if ctx is None:
        return False
    msg = ForwardMsg()
    msg.auth_redirect.url = url
    ctx.enqueue(msg)
    return True


def _open_browser_session(account: Account, oidc_iat: int | None = None) -> bool:
    """Ouvre la session serveur et envoie le navigateur chercher son cookie.

    Returns
    -------
    bool
        Vrai si le navigateur est redirigé vers la route qui pose le cookie ; faux quand
        l'application tourne sans ces routes (tests, autre lanceur) : la session ne vaut
        alors que pour cet onglet.
    """
    import streamlit as st

    from observatoire.access import sessions, web

    ref, jeton = sessions.open_session(
        account.identifiant, account.role, account.source, adresse=client_address(),
        navigateur=_context_value(lambda: st.context.headers.get("User-Agent")),
        lien=_browser_binding(), suite=_current_path(), oidc_iat=oidc_iat)
    st.session_state[SESSION_KEY] = ref
    st.session_state.pop(_ENDED, None)
    if not web.installed():
        return False
    return _redirect(web.session_url(jeton))


def _restore_from_cookie():
    import streamlit as st

    from observatoire.access import sessions

    value = _context_value(lambda: st.context.cookies.get(sessions.COOKIE_NAME))
    if not value or st.session_state.get(_COOKIE_REFUSED) == value:
        return None
    ref = sessions.from_cookie(value)
    if ref is None:
        # Cookie forgé, expiré ou d'une session terminée : vue publique, et on ne le
        # relit plus à chaque exécution de cette session.
        st.session_state[_COOKIE_REFUSED] = value
        return None
    st.session_state[SESSION_KEY] = ref
    return ref


def _oidc_account(identifiant: str) -> Account | None:
    import streamlit as st

    role = role_for_email(identifiant, st.secrets.get("observatoire_roles", {}))
    if role is None:
        return None
    name = str(st.user.get("name") or identifiant) if st.user.get("is_logged_in") else identifiant
    return Account(identifiant, role, name, "oidc")


def _oidc_login() -> Account | None:
    """Identité OIDC vérifiée sans session serveur : en ouvre une (une fois par identité)."""
    import streamlit as st

    from observatoire.access import journal, sessions

    user = st.user
    if not user.get("is_logged_in") or user.get("email_verified") is False:
        return None
    email = str(user.get("email") or "").strip().lower()
    account = _oidc_account(email) if email else None
    if account is None:
        return None
    iat = user.get("iat")
    if not sessions.oidc_login_usable(email, iat if isinstance(iat, int) else None):
        st.session_state[_ENDED] = "identité OIDC déjà utilisée ou trop ancienne"
        return None
    journal.record("connexion", email, "connexion OIDC", adresse=client_address())
    _open_browser_session(account, oidc_iat=int(iat))
    return account


def current_user() -> Account | None:
    """Agent connecté dans la session Streamlit, ou None pour le public.

    Le compte ne vient que d'une session serveur ouverte après une authentification
    vérifiée (mot de passe par :func:`login_local`, ou identité OIDC), retrouvée par la
    référence gardée dans ``st.session_state`` ou par le cookie de session, et relue en
    base à chaque exécution : terminée, expirée ou inactive, elle ne vaut plus rien ; un
    compte supprimé ou sans rôle perd aussitôt son accès. Ni un paramètre d'URL ni un
    widget ne peut la fabriquer.
    """
    import streamlit as st

    from observatoire.access import sessions

    ref = st.session_state.get(SESSION_KEY)
    if not isinstance(ref, sessions.StaffSession):
        if ref is not None:
            del st.session_state[SESSION_KEY]
        ref = _restore_from_cookie()
    if ref is None:
        return _oidc_login() if oidc_configured() else None
    motif = sessions.check(ref)
    if motif is not None:
        del st.session_state[SESSION_KEY]
        st.session_state[_ENDED] = motif
        return None
    if ref.source == "oidc":
        account = _oidc_account(ref.identifiant) if oidc_configured() else None
    else:
        fresh = refresh_account(Account(ref.identifiant, "agent"))
        account = fresh
    if account is None:
        sessions.end(ref.id, "compte supprimé ou sans rôle")
        del st.session_state[SESSION_KEY]
        return None
    return account


def session_end_reason() -> str | None:
    """Pourquoi la session de cet onglet a pris fin (expiration…), une seule fois."""
    import streamlit as st

    return st.session_state.pop(_ENDED, None)


def login_local(identifiant: str, mot_de_passe: str) -> LoginResult:
    """Connecte la session Streamlit avec un compte local.

    Les essais sont limités par le serveur (par compte et par adresse du client, voir
    :mod:`observatoire.access.throttle`). Après un succès, une session serveur est ouverte
    et le navigateur est envoyé chercher son cookie (HttpOnly) sur la route prévue ; il
    revient aussitôt sur la page courante, connecté.

    Returns
    -------
    LoginResult

    Raises
    ------
    observatoire.access.throttle.TropDEssais
        Pendant un délai ou un verrouillage (le mot de passe n'est pas vérifié).
    """
    from observatoire import access

    result = authenticate(identifiant, mot_de_passe, adresse=client_address(),
                          canal=access.CANAL_APPLICATION)
    if result.account is not None:
        return dataclasses.replace(result, redirige=_open_browser_session(result.account))
    return result


def logout() -> bool:
    """Déconnecte : la session est terminée côté serveur, le cookie retiré du navigateur.

    Returns
    -------
    bool
        Vrai si le navigateur est envoyé sur la route qui efface le cookie (ou chez le
        fournisseur OIDC) : il revient sur la page de connexion.
    """
    import streamlit as st

    from observatoire.access import sessions, web

    ref = st.session_state.pop(SESSION_KEY, None)
    if isinstance(ref, sessions.StaffSession):
        sessions.end(ref.id, "déconnexion")
    cookie = _context_value(lambda: st.context.cookies.get(sessions.COOKIE_NAME))
    if cookie:
        sessions.end_by_cookie(cookie, "déconnexion")
        st.session_state[_COOKIE_REFUSED] = cookie
    if oidc_configured():
        st.logout()
        return True
    return web.installed() and _redirect(web.logout_url())


def journal_view(account: Account, quoi: str, *, once: bool = True) -> None:
    """Inscrit au journal des accès qu'un agent voit ou exporte des valeurs exactes.

    Parameters
    ----------
    account : Account
    quoi : str
        Ce qui est montré (page, indicateur, année, niveau…).
    once : bool, default True
        Une seule ligne par session du navigateur pour un même ``quoi`` (une page
        réexécutée à chaque clic ne remplit pas le journal) ; False pour un export.
    """
    import streamlit as st

    from observatoire import access
    from observatoire.access import journal

    seen = st.session_state.setdefault(_SEEN, set())
    if once and quoi in seen:
        return
    journal.record("consultation", account.identifiant, quoi, canal=access.CANAL_APPLICATION,
                   adresse=client_address())
    seen.add(quoi)
