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

Les fonctions de ce module n'importent pas Streamlit sauf celles qui en ont besoin
(:func:`oidc_configured`, :func:`current_user`), pour que la CLI reste légère.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import bcrypt

from observatoire.config import ROOT
from observatoire.errors import ConfigurationError, ObservatoireError

ROLES = ("agent", "administrateur")
#: Longueur minimale d'un mot de passe local.
MIN_PASSWORD_LENGTH = 12
#: Clé de ``st.session_state`` où vit le compte local connecté (jamais un widget).
SESSION_KEY = "_observatoire_compte"
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
    path = Path(raw).expanduser() if raw else Path.home() / ".config" / "observatoire" / \
        "comptes.toml"
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
    comptes = raw.get("comptes", {})
    if not isinstance(comptes, dict):
        raise ConfigurationError(f"Le fichier des comptes {path} n'a pas de section [comptes].")
    return comptes


def _toml_str(value: str) -> str:
    # Une chaîne JSON sans caractère de contrôle est une chaîne de base TOML valide.
    return json.dumps(str(value), ensure_ascii=False)


def _write(path: Path, comptes: Mapping[str, Mapping]) -> None:
    lines = ["# Comptes des agents de l'observatoire (géré par « observatoire comptes »).",
             "# Mots de passe hachés par bcrypt ; ne pas versionner ce fichier.", ""]
    for ident in sorted(comptes):
        entry = comptes[ident]
        lines.append(f"[comptes.{_toml_str(ident)}]")
        for key in ("nom", "role", "hash", "cree_le"):
            if key in entry:
                lines.append(f"{key} = {_toml_str(entry[key])}")
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".part")
    # Lisible par son seul propriétaire : il contient des empreintes de mots de passe.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines))
    os.replace(tmp, path)


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise AuthError(f"Rôle « {role} » inconnu : choisissez parmi {', '.join(ROLES)}.")
    return role


def add_account(identifiant: str, mot_de_passe: str, role: str = "agent", nom: str = "",
                *, remplacer: bool = False, path: Path | None = None) -> Account:
    """Crée (ou remplace) un compte local.

    Parameters
    ----------
    identifiant : str
        Identifiant de connexion : minuscules, chiffres, ``. _ @ -`` (2 à 64 caractères).
    mot_de_passe : str
        Au moins :data:`MIN_PASSWORD_LENGTH` caractères ; seul son hachage bcrypt est écrit.
    role : {"agent", "administrateur"}
    nom : str, optional
        Nom affiché.
    remplacer : bool, default False
        Autorise à remplacer un compte existant (changement de mot de passe ou de rôle).
    path : pathlib.Path, optional
        Fichier des comptes ; par défaut :func:`accounts_path`.

    Returns
    -------
    Account

    Raises
    ------
    AuthError
        Identifiant invalide ou déjà pris, rôle inconnu, mot de passe trop court.
    """
    path = path or accounts_path()
    ident = identifiant.strip().lower()
    if not _ID_PATTERN.match(ident):
        raise AuthError(
            f"Identifiant « {identifiant} » invalide : 2 à 64 caractères parmi les minuscules, "
            f"les chiffres et . _ @ -.")
    _check_role(role)
    if len(mot_de_passe) < MIN_PASSWORD_LENGTH:
        raise AuthError(
            f"Mot de passe trop court : au moins {MIN_PASSWORD_LENGTH} caractères.")
    comptes = _read(path)
    if ident in comptes and not remplacer:
        raise AuthError(f"Le compte « {ident} » existe déjà (option --remplacer pour le "
                        f"modifier).")
    digest = bcrypt.hashpw(mot_de_passe.encode("utf-8"), bcrypt.gensalt(rounds=12))
    comptes[ident] = {"nom": nom or ident, "role": role, "hash": digest.decode("ascii"),
                      "cree_le": dt.datetime.now().replace(microsecond=0).isoformat()}
    _write(path, comptes)
    return Account(ident, role, nom or ident)


def remove_account(identifiant: str, *, path: Path | None = None) -> None:
    """Supprime un compte local.

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


def verify_password(identifiant: str, mot_de_passe: str, *,
                    path: Path | None = None) -> Account | None:
    """Vérifie un couple identifiant / mot de passe.

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
    except ValueError:  # empreinte corrompue dans le fichier
        ok = False
    if not entry or not ok or entry.get("role") not in ROLES:
        return None
    return Account(identifiant.strip().lower(), entry["role"], entry.get("nom", ""))


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


def current_user() -> Account | None:
    """Agent connecté dans la session Streamlit, ou None pour le public.

    Le compte ne vient que d'une identité vérifiée : ``st.user`` (OIDC) ou un compte
    local dont le mot de passe a été vérifié par :func:`login_local`, relu à chaque
    exécution. Ni un paramètre d'URL ni un widget ne peut le fabriquer.
    """
    import streamlit as st

    if oidc_configured():
        user = st.user
        if not user.get("is_logged_in"):
            return None
        email = user.get("email")
        if user.get("email_verified") is False:
            return None
        role = role_for_email(email, st.secrets.get("observatoire_roles", {}))
        if role is None:
            return None
        return Account(str(email).lower(), role, str(user.get("name") or email), "oidc")
    account = st.session_state.get(SESSION_KEY)
    if not isinstance(account, Account) or account.source != "local":
        return None
    fresh = refresh_account(account)
    if fresh is None:
        del st.session_state[SESSION_KEY]
    return fresh


#: Au-delà de ce nombre d'échecs dans une session, la connexion est suspendue.
MAX_FAILURES = 5
LOCKOUT_SECONDS = 60


def login_local(identifiant: str, mot_de_passe: str) -> Account | None:
    """Connecte la session Streamlit avec un compte local.

    Après :data:`MAX_FAILURES` échecs, la session attend :data:`LOCKOUT_SECONDS`
    secondes avant tout nouvel essai.

    Returns
    -------
    Account or None

    Raises
    ------
    AuthError
        Pendant la suspension qui suit trop d'échecs.
    """
    import streamlit as st

    now = dt.datetime.now().timestamp()
    fails = st.session_state.setdefault("_observatoire_echecs", [])
    fails[:] = [t for t in fails if now - t < LOCKOUT_SECONDS]
    if len(fails) >= MAX_FAILURES:
        raise AuthError(f"Trop d'essais : réessayez dans {LOCKOUT_SECONDS} secondes.")
    account = verify_password(identifiant, mot_de_passe)
    if account is None:
        fails.append(now)
        return None
    st.session_state[SESSION_KEY] = account
    return account


def logout() -> None:
    """Déconnecte la session (compte local, ou OIDC par ``st.logout``)."""
    import streamlit as st

    st.session_state.pop(SESSION_KEY, None)
    if oidc_configured():
        st.logout()
