"""Arrêt brutal (SIGKILL) d'un import au milieu de sa transaction, sur les deux moteurs.

Le processus enfant importe un lot et s'arrête de lui-même à un point précis de la
transaction (valeurs écrites, ou fichier d'archive écrit, rien de validé) ; le test le
tue alors avec SIGKILL, comme une coupure : aucun code de nettoyage ne s'exécute.
La base doit être exactement comme avant, et l'archive ne jamais contenir un lot sans
son fichier ; un fichier sans lot laissé par l'arrêt est retiré au démarrage suivant.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from observatoire import batches, config, storage

CHILD = """
import os, sys, time
from pathlib import Path
import pandas as pd
import sqlalchemy as sa
from observatoire import batches, storage

stage, ready = sys.argv[1], Path(sys.argv[2])
engine = storage.get_engine()

def pause():
    ready.write_text(str(os.getpid()))
    time.sleep(600)

if stage == "valeurs":
    # Lot et valeurs insérés, fichier pas encore écrit.
    def hook(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("INSERT INTO JOURNAL"):
            pause()
    sa.event.listen(engine, "before_cursor_execute", hook)
elif stage == "archive":
    # Fichier d'archive écrit sous son nom définitif, transaction pas encore validée.
    write = batches._write_archive
    def write_then_pause(target, contenu):
        written = write(target, contenu)
        pause()
        return written
    batches._write_archive = write_then_pause

values = pd.DataFrame({"code_insee": [f"{i:05d}" for i in range(5000)],
    "libelle_non_localise": None, "indicateur": "faits_constates", "valeur": 2,
    "masque": False, "feuille": "F", "ligne": range(5000), "colonne": "B"})
batches.store_batch(contributeur="police_62", annee=2023, fichier="nouveau.csv",
                    contenu=b"nouveau fichier", values=values, utilisateur="enfant",
                    engine=engine)
sys.exit(3)  # jamais atteint : le test tue le processus avant
"""


def _snapshot(engine) -> dict[str, list[tuple]]:
    """Contenu exact de toutes les tables (hors version Alembic), trié."""
    md = sa.MetaData()
    md.reflect(bind=engine)
    out = {}
    with engine.connect() as conn:
        for name, table in md.tables.items():
            rows = conn.execute(sa.select(table)).all()
            out[name] = sorted((tuple(r) for r in rows), key=repr)
    return out


def _archive_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _old_batch(engine):
    values = pd.DataFrame({"code_insee": ["62119", "62120", None],
                           "libelle_non_localise": [None, None, "NON RENSEIGNE"],
                           "indicateur": "faits_constates", "valeur": [3, None, 7],
                           "masque": [False, True, False], "feuille": "F",
                           "ligne": [2, 3, 4], "colonne": "B"})
    return batches.store_batch(contributeur="police_62", annee=2023, fichier="ancien.csv",
                               contenu=b"ancien fichier", values=values,
                               utilisateur="agent", engine=engine)


def _kill_mid_import(stage: str, tmp_path: Path) -> None:
    ready = tmp_path / "pret"
    proc = subprocess.Popen([sys.executable, "-c", CHILD, stage, str(ready)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            if proc.poll() is not None:
                pytest.fail(f"l'enfant s'est arrêté seul : {proc.stderr.read().decode()}")
            assert time.monotonic() < deadline, "l'enfant n'a pas atteint son point d'arrêt"
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.parametrize("stage", ["valeurs", "archive"])
def test_killed_import_leaves_database_as_before(any_engine, stage, tmp_path):
    old = _old_batch(any_engine)
    root = config.settings().archive_dir
    before_db = _snapshot(any_engine)
    before_files = _archive_files(root)

    _kill_mid_import(stage, tmp_path)

    assert _snapshot(any_engine) == before_db
    state = batches.verify_archive(any_engine)
    assert state["lots_sans_fichier"] == []
    if stage == "valeurs":
        assert _archive_files(root) == before_files
        assert state["fichiers_orphelins"] == []
    else:
        # Le fichier a bien été écrit avant l'arrêt : c'est le cas que le balayage traite.
        (orphan,) = state["fichiers_orphelins"]
        assert orphan.startswith("2023/police_62/") and orphan.endswith("nouveau.csv")

    # Redémarrage : get_engine balaie l'archive ; tout est cohérent.
    storage.reset_engines()
    engine = storage.get_engine()
    assert batches.verify_archive(engine) == {"fichiers_orphelins": [], "lots_sans_fichier": []}
    assert _archive_files(root) == before_files
    assert _snapshot(engine) == before_db

    # Aucun verrou ne reste pris : l'import suivant du même couple passe et remplace l'ancien.
    values = pd.DataFrame({"code_insee": ["62119"], "libelle_non_localise": [None],
                           "indicateur": ["faits_constates"], "valeur": [5],
                           "masque": [False], "feuille": ["F"], "ligne": [2],
                           "colonne": ["B"]})
    again = batches.store_batch(contributeur="police_62", annee=2023, fichier="nouveau.csv",
                                contenu=b"nouveau fichier", values=values,
                                utilisateur="agent", engine=engine)
    assert again.statut == "remplace" and again.remplace_lot_id == old.lot_id
    assert batches.verify_archive(engine) == {"fichiers_orphelins": [], "lots_sans_fichier": []}


def test_sweep_spares_an_import_in_progress(any_engine, tmp_path):
    # Un autre processus démarre (et balaie l'archive) pendant qu'un import, arrêté juste
    # après l'écriture de son fichier, n'a pas encore validé : le fichier doit survivre.
    ready = tmp_path / "pret"
    proc = subprocess.Popen([sys.executable, "-c", CHILD.replace("time.sleep(600)",
                                                                 "time.sleep(2)"),
                             "archive", str(ready)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not ready.exists():
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    removed = batches.sweep_archive(any_engine)  # attend la validation de l'enfant
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 3, err.decode()
    assert removed == []
    assert batches.verify_archive(any_engine) == {"fichiers_orphelins": [],
                                                  "lots_sans_fichier": []}
    assert len(batches.list_batches(any_engine)) == 1
