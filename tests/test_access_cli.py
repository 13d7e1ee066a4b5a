"""Ligne de commande : mot de passe exigé pour les valeurs exactes, fichiers privés.

Les commandes sont lancées dans un processus à part, sans terminal de contrôle
(``start_new_session``) : comme une tâche planifiée. Le cas du terminal passe par un
pseudo-terminal (``pty``).
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from observatoire import auth, storage
from observatoire.access import files, journal, sessions
from tests.conftest import AGENT_OPTIONS, AGENT_PASSWORD

EXACT_COMMANDS = [
    ["analyser", "--annee", "2024", "--indicateur", "faits_constates", "--staff"],
    ["sauvegarde", "s.zip"],
    ["restauration", "s.zip"],
    ["referents", "lister", "--exact"],
    ["comptes", "lister"],
    ["comptes", "journal"],
]


def run(*args, input=None, env=None, umask=None, cwd=None):
    def child():
        os.setsid()  # aucun terminal de contrôle : /dev/tty est introuvable
        if umask is not None:
            os.umask(umask)

    return subprocess.run([sys.executable, "-m", "observatoire", *args], capture_output=True,
                          text=True, input=input if input is not None else "",
                          env=env or dict(os.environ), preexec_fn=child, cwd=cwd)


@pytest.mark.parametrize("command", EXACT_COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_exact_commands_refuse_without_the_password(command, agent, tmp_path):
    env = dict(os.environ, OBSERVATOIRE_AGENT="agent.test")
    # Nommer le compte ne suffit pas : pas de terminal, pas de --mot-de-passe-stdin.
    out = run(*command, env=env, cwd=tmp_path)
    assert out.returncode != 0 and out.stdout == ""
    assert "mot de passe" in out.stderr and "refusé" in out.stderr
    # Entrée standard fermée ou vide : refus.
    out = subprocess.run([sys.executable, "-m", "observatoire", *command, *AGENT_OPTIONS],
                         capture_output=True, text=True, stdin=subprocess.DEVNULL, cwd=tmp_path,
                         start_new_session=True)
    assert out.returncode != 0 and out.stdout == ""
    assert "Aucun mot de passe sur l'entrée standard" in out.stderr
    # Mauvais mot de passe : refus.
    out = run(*command, *AGENT_OPTIONS, input="pas le bon mot de passe\n", cwd=tmp_path)
    assert out.returncode != 0 and out.stdout == ""
    assert "incorrect" in out.stderr
    assert not (tmp_path / "s.zip").exists()


def test_exact_values_with_the_password_are_journaled(agent, capsys, monkeypatch):
    from tests.conftest import run_cli, run_cli_input

    # Une seule année : sa diffusion se prépare vite (pas de cumul de trois ans).
    assert run_cli(capsys, "demo", "--annees", "2024")[0] == 0
    code, out, err = run_cli_input(capsys, monkeypatch, AGENT_PASSWORD + "\n", "analyser",
                                   "--annee", "2024", "--indicateur", "faits_constates",
                                   "--staff", "--json", *AGENT_OPTIONS)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["vue"] == "agents"
    assert any(r["observe"] is not None and 1 <= r["observe"] <= 4 for r in doc["lignes"])
    seen = journal.entries(actions=["consultation"])
    assert len(seen) == 1
    row = seen.iloc[0]
    assert row["qui"] == "agent.test" and row["canal"] == "ligne de commande"
    assert row["quoi"].startswith("analyser --annee 2024 --indicateur faits_constates")
    assert "--staff" in row["quoi"] and AGENT_PASSWORD not in row["quoi"]
    assert row["adresse"].startswith("ligne de commande:")
    # Le public, lui, n'a besoin de rien et ne laisse pas de ligne de consultation.
    code, out, _ = run_cli_input(capsys, monkeypatch, "", "analyser", "--annee", "2024",
                                 "--indicateur", "faits_constates", "--json")
    assert code == 0 and json.loads(out)["vue"] == "publique"
    assert len(journal.entries(actions=["consultation"])) == 1
    code, out, _ = run_cli_input(capsys, monkeypatch, AGENT_PASSWORD + "\n", "referents",
                                 "lister", "--exact", *AGENT_OPTIONS)
    assert code == 0 and "Réf" in out or "référent" in out
    assert journal.entries(actions=["consultation"])["quoi"].iloc[0] == "referents lister --exact"


def test_cli_failures_are_throttled_like_the_app(agent, capsys, monkeypatch):
    from tests.conftest import run_cli_input

    for _ in range(3):
        code, _, err = run_cli_input(capsys, monkeypatch, "faux mot de passe\n", "comptes",
                                     "lister", *AGENT_OPTIONS)
        assert code != 0 and "incorrect" in err
    code, _, err = run_cli_input(capsys, monkeypatch, AGENT_PASSWORD + "\n", "comptes",
                                 "lister", *AGENT_OPTIONS)
    assert code != 0 and "Trop d'essais" in err
    actions = list(journal.entries()["action"])
    assert actions.count("échec de connexion") == 3


@pytest.mark.parametrize("named", [True, False], ids=["agent_nomme", "identifiant_demande"])
def test_password_read_from_the_terminal_without_echo(agent, tmp_path, named):
    pid, fd = pty.fork()
    if pid == 0:  # enfant : le pseudo-terminal est son terminal de contrôle
        os.execv(sys.executable, [sys.executable, "-m", "observatoire", "comptes", "lister",
                                  *(["--agent", "agent.test"] if named else [])])
    seen = b""
    deadline = time.monotonic() + 60

    def read_until(marker: bytes) -> None:
        nonlocal seen
        while marker not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 1)
            if ready:
                try:
                    seen += os.read(fd, 4096)
                except OSError:
                    return

    if not named:
        read_until(b"Identifiant")
        os.write(fd, b"agent.test\n")
    read_until(b"Mot de passe")
    os.write(fd, AGENT_PASSWORD.encode() + b"\n")
    read_until(b"agent.test\tadministrateur")
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.WEXITSTATUS(status) == 0, seen
    assert b"agent.test\tadministrateur" in seen
    assert AGENT_PASSWORD.encode() not in seen  # pas d'écho


# --- fichiers privés --------------------------------------------------------------------

def modes(root: Path) -> dict[str, int]:
    out = {}
    for path in [root, *root.rglob("*")]:
        out[str(path.relative_to(root.parent))] = path.stat().st_mode & 0o777
    return out


def assert_private(path: Path):
    for name, mode in modes(path).items():
        expected = 0o700 if (path.parent / name).is_dir() else 0o600
        assert mode == expected, (name, oct(mode))


@pytest.mark.parametrize("umask", [0o000, 0o277], ids=["umask000", "umask277"])
def test_files_are_private_after_demo_import_and_backup(isolated_data, tmp_path, umask):
    env = dict(os.environ)
    out = run("comptes", "ajouter", "agent.test", "--role", "administrateur",
              "--mot-de-passe-stdin", input=AGENT_PASSWORD + "\n", env=env, umask=umask)
    assert out.returncode == 0, out.stderr
    comptes = auth.accounts_path()
    assert comptes.stat().st_mode & 0o777 == 0o600
    out = run("demo", "--sans-diffusion", env=env, umask=umask)
    assert out.returncode == 0, out.stderr
    db = isolated_data / "observatoire.db"
    assert db.stat().st_mode & 0o777 == 0o600
    assert_private(isolated_data / "contributions")
    out = run("demo", "--effacer", env=env, umask=umask)
    assert out.returncode == 0, out.stderr
    sample = tmp_path / "faits.csv"
    sample.write_text("Commune;Faits constatés\nArras;12\nBéthune;7\n", encoding="utf-8")
    out = run("contributions", "importer", str(sample), "--contributeur", "gendarmerie_62",
              "--annee", "2023", env=env, umask=umask)
    assert out.returncode == 0, out.stdout + out.stderr
    archive = isolated_data / "contributions"
    assert list(archive.rglob("*.csv"))
    assert_private(archive)
    for suffix in files.SQLITE_SUFFIXES:
        f = db.with_name(db.name + suffix)
        if f.exists():
            assert f.stat().st_mode & 0o777 == 0o600, f
    out = run("sauvegarde", str(tmp_path / "s.zip"), *AGENT_OPTIONS,
              input=AGENT_PASSWORD + "\n", env=env, umask=umask)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "s.zip").stat().st_mode & 0o777 == 0o600


def test_base_initialiser_repairs_an_existing_installation(agent, isolated_data, tmp_path):
    import pandas as pd

    from observatoire import batches

    values = pd.DataFrame([{"code_insee": "62041", "libelle_non_localise": None,
                            "indicateur": "faits_constates", "valeur": 3, "masque": False,
                            "feuille": None, "ligne": 2, "colonne": "B"}])
    batches.store_batch(contributeur="caf_62", annee=2023, fichier="f.csv", contenu=b"x",
                        values=values, utilisateur="agent.test")
    received = next((isolated_data / "contributions").rglob("*f.csv"))
    sessions.signing_key()
    db = isolated_data / "observatoire.db"
    loose = [isolated_data, isolated_data / "contributions",
             isolated_data / "contributions" / "2023", db, received,
             sessions.key_path(), auth.accounts_path()]
    for path in loose:
        path.chmod(0o755 if path.is_dir() else 0o644)
    out = run("base", "initialiser")
    assert out.returncode == 0, out.stderr
    assert "Droits d'accès corrigés (7)" in out.stdout
    for path in loose:
        expected = "0755 → 0700" if path.is_dir() else "0644 → 0600"
        assert f"{path} : {expected}" in out.stdout
        assert path.stat().st_mode & 0o777 == (0o700 if path.is_dir() else 0o600)
    again = run("base", "initialiser")
    assert "déjà privés" in again.stdout


def test_backup_leaves_out_sessions_and_keeps_the_access_journal(agent, capsys, monkeypatch,
                                                                  tmp_path):
    from observatoire import backup

    ref, _ = sessions.open_session("agent.test", "administrateur", "local", adresse="local")
    journal.record("consultation", "agent.test", "avant la sauvegarde")
    backup.create_backup(tmp_path / "s.zip")
    with zipfile.ZipFile(tmp_path / "s.zip") as zf:
        names = zf.namelist()
    assert "tables/journal_acces.jsonl" in names
    assert not [n for n in names if "sessions_agents" in n or "tentatives" in n]
    journal.record("consultation", "agent.test", "après la sauvegarde")
    backup.restore_backup(tmp_path / "s.zip", replace=True)
    storage.reset_engines()
    quoi = list(journal.entries()["quoi"])
    assert "après la sauvegarde" in quoi and quoi.count("avant la sauvegarde") == 1
    assert sessions.check(ref) == "inconnue"  # la restauration a fermé les sessions
    with storage.get_engine().connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(
            storage.sessions_agents)).scalar_one()
    assert n == 0


def test_a_forged_backup_cannot_bring_a_session(agent, tmp_path):
    import hashlib

    from observatoire import access, backup

    backup.create_backup(tmp_path / "s.zip")
    now = access.utcnow().isoformat()
    row = ["f" * 32, "agent.test", "administrateur", "local", "0" * 64, None, None, None, None,
           None, "local", "", now, now, "2999-01-01T00:00:00", None, None]
    line = (json.dumps(row) + "\n").encode()
    with zipfile.ZipFile(tmp_path / "s.zip") as src:
        manifest = json.loads(src.read("manifest.json"))
        members = {n: src.read(n) for n in src.namelist() if n != "manifest.json"}
    cols = [c.name for c in storage.sessions_agents.columns]
    manifest["tables"]["sessions_agents"] = {
        "fichier": "tables/sessions_agents.jsonl", "colonnes": cols, "lignes": 1,
        "sha256": hashlib.sha256(line).hexdigest(), "octets": len(line)}
    members["tables/sessions_agents.jsonl"] = line
    with zipfile.ZipFile(tmp_path / "forge.zip", "w") as out:
        for name, data in members.items():
            out.writestr(name, data)
        out.writestr("manifest.json", json.dumps(manifest))
    backup.restore_backup(tmp_path / "forge.zip", replace=True)
    storage.reset_engines()
    with storage.get_engine().connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(
            storage.sessions_agents)).scalar_one() == 0
