"""Imports simultanés : sur SQLite (WAL, BEGIN IMMEDIATE) et sur un vrai serveur PostgreSQL.

Pour rendre le chevauchement certain (et non probable), un import est mis en pause au
milieu de sa transaction : ses valeurs sont écrites, pas encore validées, le verrou du
couple (contributeur, année) est tenu. On lance alors l'autre import, ou un lecteur.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pandas as pd
import pytest
import sqlalchemy as sa

from observatoire import batches, storage

N = 400  # valeurs par lot : assez pour qu'un mélange se voie, assez peu pour rester rapide


def _values(v: int, n: int = N) -> pd.DataFrame:
    return pd.DataFrame({
        "code_insee": [f"{i:05d}" for i in range(n)],
        "libelle_non_localise": None,
        "indicateur": "faits_constates",
        "valeur": v,
        "masque": False,
        "feuille": "F",
        "ligne": range(2, n + 2),
        "colonne": "B",
    })


def _store(engine, contributeur: str, v: int, annee: int = 2023):
    return batches.store_batch(
        contributeur=contributeur, annee=annee, fichier=f"{contributeur}-{v}.csv",
        contenu=f"{contributeur};{annee};{v}".encode(), values=_values(v),
        utilisateur="test", engine=engine)


class PausedImport:
    """Import lancé dans un fil et arrêté juste avant l'écriture du journal.

    À ce point, le lot et toutes ses valeurs sont insérés mais non validés et le verrou
    du couple est tenu.
    """

    def __init__(self, engine, contributeur: str, v: int):
        self.engine = engine
        self.reached = threading.Event()
        self.release = threading.Event()
        self.result = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(contributeur, v), daemon=True)

    def _hook(self, conn, cursor, statement, params, context, executemany):
        if (threading.current_thread() is self._thread
                and statement.lstrip().upper().startswith("INSERT INTO JOURNAL")):
            self.reached.set()
            self.release.wait(60)

    def _run(self, contributeur, v):
        try:
            self.result = _store(self.engine, contributeur, v)
        except BaseException as exc:  # rapporté au fil principal par join()
            self.error = exc

    def __enter__(self):
        sa.event.listen(self.engine, "before_cursor_execute", self._hook)
        self._thread.start()
        assert self.reached.wait(30), "l'import n'a pas atteint le point de pause"
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.join()
        sa.event.remove(self.engine, "before_cursor_execute", self._hook)

    def join(self):
        self.release.set()
        self._thread.join(60)
        assert not self._thread.is_alive()
        if self.error is not None:
            raise self.error
        return self.result


class Background:
    """Appel dans un fil, résultat ou exception rendus par :meth:`join`."""

    def __init__(self, fn, *args):
        self.result = None
        self.error = None
        self.done = threading.Event()

        def run():
            try:
                self.result = fn(*args)
            except BaseException as exc:
                self.error = exc
            finally:
                self.done.set()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def join(self, timeout: float = 60):
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "l'appel en arrière-plan ne s'est pas terminé"
        if self.error is not None:
            raise self.error
        return self.result


def _current_lots(engine, contributeur: str, annee: int = 2023) -> list[int]:
    lt = storage.lots
    with engine.connect() as conn:
        return list(conn.execute(sa.select(lt.c.id).where(
            lt.c.contributeur == contributeur, lt.c.annee == annee,
            lt.c.courant.is_(True))).scalars())


def _assert_whole_batch(engine, contributeur: str, v: int) -> None:
    cur = storage.current_values(engine, contributeurs=[contributeur])
    assert len(cur) == N
    assert set(cur["valeur"]) == {v}
    assert cur["lot_id"].nunique() == 1


def test_same_pair_serialises_one_current_other_in_history(any_engine):
    old = _store(any_engine, "police_62", 1)
    with PausedImport(any_engine, "police_62", 2) as first:
        # Pendant l'import : le lecteur voit l'ancien lot entier, jamais la moitié du nouveau.
        _assert_whole_batch(any_engine, "police_62", 1)
        second = Background(_store, any_engine, "police_62", 3)
        time.sleep(0.5)
        assert not second.done.is_set(), "le second import n'a pas attendu le premier"
    a = first.result
    b = second.join()
    assert a.statut == "remplace" and a.remplace_lot_id == old.lot_id
    assert b.statut == "remplace" and b.remplace_lot_id == a.lot_id
    assert _current_lots(any_engine, "police_62") == [b.lot_id]
    _assert_whole_batch(any_engine, "police_62", 3)
    hist = batches.list_batches(any_engine, contributeur="police_62")
    assert sorted(hist["id"]) == sorted([old.lot_id, a.lot_id, b.lot_id])
    assert hist.set_index("id").loc[a.lot_id, "remplace_le"] is not None
    assert batches.verify_archive(any_engine) == {"fichiers_orphelins": [],
                                                  "lots_sans_fichier": []}


def test_same_pair_first_batch_ever(any_engine):
    # Aucun lot courant à verrouiller : un SELECT … FOR UPDATE ne suffirait pas ici.
    _store(any_engine, "autre", 1)  # la base a déjà son mode
    with PausedImport(any_engine, "cidff_62", 5) as first:
        second = Background(_store, any_engine, "cidff_62", 6)
        time.sleep(0.3)
    b = second.join()
    assert b.statut == "remplace" and b.remplace_lot_id == first.result.lot_id
    assert _current_lots(any_engine, "cidff_62") == [b.lot_id]
    _assert_whole_batch(any_engine, "cidff_62", 6)


def test_different_contributors_both_land(any_engine, backend):
    _store(any_engine, "autre", 1)
    with PausedImport(any_engine, "police_62", 2) as first:
        other = Background(_store, any_engine, "gendarmerie_62", 3)
        if backend == "postgresql":
            # Vraie simultanéité : l'autre couple n'attend pas l'import en pause.
            other.join(20)
            _assert_whole_batch(any_engine, "gendarmerie_62", 3)
            assert storage.current_values(any_engine, contributeurs=["police_62"]).empty
    other.join()
    assert first.result.statut == "nouveau"
    _assert_whole_batch(any_engine, "police_62", 2)
    _assert_whole_batch(any_engine, "gendarmerie_62", 3)


def test_first_imports_on_empty_database_both_land(any_engine):
    # Le premier import écrit le mode de la base : le second ne doit pas buter dessus.
    with PausedImport(any_engine, "police_62", 2) as first:
        other = Background(_store, any_engine, "gendarmerie_62", 3)
        time.sleep(0.3)
    other.join()
    assert first.result.statut == "nouveau"
    _assert_whole_batch(any_engine, "police_62", 2)
    _assert_whole_batch(any_engine, "gendarmerie_62", 3)
    with any_engine.connect() as conn:
        assert storage.get_meta(conn, "mode") == "reel"


def test_reader_never_sees_half_a_batch(any_engine):
    _store(any_engine, "police_62", 0)
    stop = threading.Event()
    seen: list[tuple[int, frozenset]] = []

    def read():
        while not stop.is_set():
            cur = storage.current_values(any_engine, contributeurs=["police_62"])
            seen.append((len(cur), frozenset(cur["valeur"])))

    reader = Background(read)
    for v in range(1, 7):
        _store(any_engine, "police_62", v)
    stop.set()
    reader.join()
    assert seen, "le lecteur n'a rien lu"
    mixed = [s for s in seen if s[0] != N or len(s[1]) != 1]
    assert mixed == []
    assert {next(iter(s[1])) for s in seen} <= set(range(7))


CHILD = """
import sys
import pandas as pd
from observatoire import batches, storage
contributeur, v = sys.argv[1], int(sys.argv[2])
values = pd.DataFrame({"code_insee": [f"{i:05d}" for i in range(N_VALUES)],
    "libelle_non_localise": None, "indicateur": "faits_constates", "valeur": v,
    "masque": False, "feuille": "F", "ligne": 2, "colonne": "B"})
for k in range(3):
    batches.store_batch(contributeur=contributeur, annee=2023, fichier=f"p{v}-{k}.csv",
                        contenu=f"{v}-{k}".encode(), values=values.assign(valeur=v * 10 + k),
                        utilisateur=f"processus {v}")
""".replace("N_VALUES", str(N))


def test_processes_importing_same_pair(any_engine):
    # Quatre processus (leurs propres connexions, comme quatre instances de l'application)
    # importent trois fois chacun le même couple.
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, "police_62", str(v)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for v in range(1, 5)]
    for p in procs:
        _out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err.decode()
    hist = batches.list_batches(any_engine, contributeur="police_62")
    assert len(hist) == 12
    current = _current_lots(any_engine, "police_62")
    assert len(current) == 1
    cur = storage.current_values(any_engine, contributeurs=["police_62"])
    assert len(cur) == N and cur["valeur"].nunique() == 1
    lot = hist.set_index("id").loc[current[0]]
    assert lot["fichier"] == f"p{cur['valeur'].iloc[0] // 10}-{cur['valeur'].iloc[0] % 10}.csv"
    assert hist["courant"].sum() == 1 and hist["remplace_le"].notna().sum() == 11
    assert batches.verify_archive(any_engine) == {"fichiers_orphelins": [],
                                                  "lots_sans_fichier": []}


@pytest.mark.parametrize("action", ["restore", "import"])
def test_restore_and_import_serialise(any_engine, action):
    old = _store(any_engine, "police_62", 1)
    _store(any_engine, "police_62", 2)
    with PausedImport(any_engine, "police_62", 3) as first:
        if action == "restore":
            other = Background(batches.restore_batch, old.lot_id, "test", any_engine)
        else:
            other = Background(_store, any_engine, "police_62", 4)
        time.sleep(0.3)
        assert not other.done.is_set()
    other.join()
    assert len(_current_lots(any_engine, "police_62")) == 1
    _assert_whole_batch(any_engine, "police_62", 1 if action == "restore" else 4)
    assert first.result.statut == "remplace"
