import subprocess
import sys
from pathlib import Path

import pytest

from observatoire import auth
from observatoire.config import ROOT
from observatoire.errors import ConfigurationError


@pytest.fixture
def comptes(tmp_path, monkeypatch):
    path = tmp_path / "conf" / "comptes.toml"
    monkeypatch.setenv("OBSERVATOIRE_COMPTES", str(path))
    return path


def test_add_then_verify(comptes):
    auth.add_account("marie.d", "un mot de passe long", "administrateur", "Marie D.")
    text = comptes.read_text(encoding="utf-8")
    assert "un mot de passe long" not in text
    assert "$2b$" in text
    assert comptes.stat().st_mode & 0o077 == 0
    account = auth.verify_password("Marie.D", "un mot de passe long")
    assert account == auth.Account("marie.d", "administrateur", "Marie D.")
    assert account.is_admin
    assert auth.verify_password("marie.d", "mauvais mot de passe") is None
    assert auth.verify_password("inconnu", "un mot de passe long") is None


def test_rules(comptes):
    with pytest.raises(auth.AuthError, match="trop court"):
        auth.add_account("paul", "court", "agent")
    with pytest.raises(auth.AuthError, match="Rôle « chef » inconnu"):
        auth.add_account("paul", "un mot de passe long", "chef")
    with pytest.raises(auth.AuthError, match="invalide"):
        auth.add_account("Paul Martin!", "un mot de passe long")
    auth.add_account("paul", "un mot de passe long")
    with pytest.raises(auth.AuthError, match="existe déjà"):
        auth.add_account("paul", "un autre mot de passe")
    auth.add_account("paul", "un autre mot de passe", "administrateur", remplacer=True)
    assert auth.verify_password("paul", "un mot de passe long") is None
    assert auth.verify_password("paul", "un autre mot de passe").role == "administrateur"


def test_remove_and_refresh(comptes):
    account = auth.add_account("paul", "un mot de passe long")
    assert [r["identifiant"] for r in auth.list_accounts()] == ["paul"]
    assert "hash" not in auth.list_accounts()[0]
    assert auth.refresh_account(account) == account
    auth.remove_account("paul")
    assert auth.refresh_account(account) is None
    with pytest.raises(auth.AuthError, match="n'existe pas"):
        auth.remove_account("paul")


def test_accounts_file_outside_repository(monkeypatch):
    monkeypatch.setenv("OBSERVATOIRE_COMPTES", str(ROOT / "config" / "comptes.toml"))
    with pytest.raises(ConfigurationError, match="dans le dépôt"):
        auth.accounts_path()
    monkeypatch.delenv("OBSERVATOIRE_COMPTES")
    assert auth.accounts_path() == Path.home() / ".config" / "observatoire" / "comptes.toml"


def test_corrupt_file(comptes):
    comptes.parent.mkdir(parents=True)
    comptes.write_text("[comptes\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="pas un TOML valide"):
        auth.verify_password("x", "y")


def test_role_for_email():
    roles = {"administrateurs": ["Chef@pas-de-calais.gouv.fr"], "agents": ["a@b.fr"],
             "domaines_agents": ["pas-de-calais.gouv.fr"]}
    assert auth.role_for_email("chef@pas-de-calais.gouv.fr", roles) == "administrateur"
    assert auth.role_for_email("x@pas-de-calais.gouv.fr", roles) == "agent"
    assert auth.role_for_email("a@b.fr", roles) == "agent"
    assert auth.role_for_email("x@gmail.com", roles) is None
    assert auth.role_for_email(None, roles) is None
    assert auth.role_for_email("a@b.fr", {}) is None


def cli(*args, input=None, env=None):
    return subprocess.run([sys.executable, "-m", "observatoire", "comptes", *args],
                          capture_output=True, text=True, input=input, env=env)


def test_cli_roundtrip(comptes):
    import os
    env = dict(os.environ)
    # Premier administrateur : sans authentification (personne ne pourrait le faire).
    out = cli("ajouter", "chef", "--role", "administrateur", "--mot-de-passe-stdin",
              input="phrase solide du responsable\n", env=env)
    assert out.returncode == 0, out.stderr
    # Ensuite, l'administrateur s'authentifie (1re ligne), puis le nouveau mot de passe.
    out = cli("ajouter", "agent1", "--role", "agent", "--nom", "Agent Un", "--agent", "chef",
              "--mot-de-passe-stdin", input="phrase solide du responsable\nmot de passe solide\n",
              env=env)
    assert out.returncode == 0, out.stderr
    assert "agent1" in out.stdout
    assert auth.verify_password("agent1", "mot de passe solide").nom == "Agent Un"
    out = cli("ajouter", "agent2", "--agent", "chef", "--mot-de-passe-stdin",
              input="phrase solide du responsable\ncourt\n", env=env)
    assert out.returncode != 0
    assert "trop court" in out.stderr
    # Sans le mot de passe de l'administrateur : refus, même en le nommant.
    out = cli("ajouter", "agent3", "--mot-de-passe-stdin", input="mot de passe solide\n",
              env=dict(env, OBSERVATOIRE_AGENT="chef"))
    assert out.returncode != 0 and "incorrect" in out.stderr
    assert "agent3" not in {a["identifiant"] for a in auth.list_accounts()}
    # lister : administrateurs seulement.
    out = cli("lister", "--json", env=env)
    assert out.returncode != 0 and out.stdout == ""
    out = cli("lister", "--json", "--agent", "agent1", "--mot-de-passe-stdin",
              input="mot de passe solide\n", env=env)
    assert out.returncode != 0 and "réservée aux administrateurs" in out.stderr
    out = cli("lister", "--json", "--agent", "chef", "--mot-de-passe-stdin",
              input="phrase solide du responsable\n", env=env)
    assert out.returncode == 0, out.stderr
    assert '"agent1"' in out.stdout and "$2b$" not in out.stdout
    out = cli("supprimer", "agent1", "--oui", "--agent", "chef", "--mot-de-passe-stdin",
              input="phrase solide du responsable\n", env=env)
    assert out.returncode == 0, out.stderr
    assert [a["identifiant"] for a in auth.list_accounts()] == ["chef"]


def test_password_policy(comptes):
    for pw, why in (("court", "trop court"), ("a" * 80, "trop long"),
                    ("abababababababab", "répétitif"), ("xx-paul.martin-2026", "identifiant")):
        with pytest.raises(auth.AuthError, match=why):
            auth.check_password_policy("paul.martin", pw)
    auth.check_password_policy("paul.martin", "une phrase de passe")
    # Le formulaire de la page Comptes et la CLI passent par add_account.
    with pytest.raises(auth.AuthError, match="identifiant"):
        auth.add_account("marie", "MARIE est là, 2026!", "agent")
