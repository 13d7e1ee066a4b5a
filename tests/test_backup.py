"""Sauvegarde et restauration : aller-retour exact, d'un moteur à l'autre, refus sûrs."""

from __future__ import annotations

import datetime as dt
import io
import json
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from observatoire import backup, batches, config, storage
from observatoire.backup import SauvegardeError
from tests.conftest import AGENT_OPTIONS, AGENT_PASSWORD


def _values(v, codes=("62119", "62120")):
    rows = [{"code_insee": c, "libelle_non_localise": None, "indicateur": "faits_constates",
             "valeur": v + i, "masque": False, "feuille": "F", "ligne": 2 + i, "colonne": "B"}
            for i, c in enumerate(codes)]
    rows.append({"code_insee": None, "libelle_non_localise": "NON RENSEIGNE",
                 "indicateur": "faits_constates", "valeur": None, "masque": True,
                 "feuille": "F", "ligne": 9, "colonne": "B"})
    return pd.DataFrame(rows)


def _store(engine, contributeur, annee, content, v):
    return batches.store_batch(contributeur=contributeur, annee=annee, fichier="f.xlsx",
                               contenu=content, values=_values(v), utilisateur="agent",
                               rapport={"lignes": 3, "é": "accentué"}, engine=engine)


def _populate(engine):
    """Une base réaliste : historique, valeurs masquées, registres, dates, réels."""
    _store(engine, "police_62", 2022, b"police v1", 1)
    _store(engine, "police_62", 2022, b"police v2", 10)
    _store(engine, "cidff_62", 2023, "cidff é".encode(), 5)
    with storage.transaction(engine) as conn:
        conn.execute(sa.insert(storage.dispositifs), [
            dict(type="accueil_de_jour", nom="Accueil « Béthune »", code_insee="62119",
                 latitude=50.5296, longitude=2.6408, localisation="adresse", capacite=12,
                 horaires="lun.–ven.", demo=False),
            dict(type="leao", nom="Lieu d'écoute", code_insee="62498", latitude=None,
                 longitude=None, localisation="commune", capacite=None, horaires=None,
                 demo=False),
        ])
        conn.execute(sa.insert(storage.referents), [
            dict(code_insee="62119", date_designation=dt.date(2024, 3, 8), forme=True,
                 date_formation=dt.date(2024, 11, 25), nom_referent="Réservé agents",
                 demo=False),
        ])
        conn.execute(sa.insert(storage.correspondances), [
            dict(contributeur="police_62", entete="Faits constatés",
                 indicateur="faits_constates", confirme_le=dt.datetime(2024, 2, 1, 10, 30),
                 confirme_par="agent"),
        ])
        conn.execute(sa.insert(storage.populations), [
            dict(code_insee="62119", annee=2021, categorie="femmes_15_64", valeur=8123.5),
        ])


def _snapshot(engine) -> dict:
    md = sa.MetaData()
    md.reflect(bind=engine)
    out = {}
    with engine.connect() as conn:
        for name, table in md.tables.items():
            # Les tables de l'accès changent à chaque commande authentifiée (essais,
            # journal) : leur sort à la restauration est vérifié à part.
            if name == "alembic_version" or name in storage.ACCESS_TABLES:
                continue
            q = sa.select(table)
            if name == "journal":
                q = q.where(table.c.action != "restauration_sauvegarde")
            out[name] = sorted((tuple(r) for r in conn.execute(q)), key=repr)
    return out


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _use(monkeypatch, url: str, data_dir: Path):
    """Bascule la configuration du processus vers une autre base et un autre dossier."""
    data_dir.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("OBSERVATOIRE_DB_URL", url)
    monkeypatch.setenv("OBSERVATOIRE_DATA_DIR", str(data_dir))
    config.settings.cache_clear()
    storage.reset_engines()


@pytest.fixture
def target_url(request, backend, tmp_path):
    """URL d'une base vide : même moteur que la source, ou l'autre."""
    from pg import SKIP_REASON, fresh_schema, pg_url

    kind = backend if request.param == "meme" else \
        {"sqlite": "postgresql", "postgresql": "sqlite"}[backend]
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'cible' / 'observatoire.db'}"
        return
    if pg_url() is None:
        pytest.skip(SKIP_REASON)
    with fresh_schema() as url:
        yield url
        storage.reset_engines()


@pytest.mark.parametrize("target_url", ["meme", "autre"], indirect=True)
def test_roundtrip_into_empty_database(any_engine, target_url, tmp_path, monkeypatch):
    _populate(any_engine)
    before = _snapshot(any_engine)
    files = _files(config.settings().archive_dir)
    assert len(files) == 3
    manifest = backup.create_backup(tmp_path / "s.zip", any_engine)
    assert manifest["anomalies"] == []
    assert manifest["tables"]["valeurs"]["lignes"] == 9
    assert manifest["revision"] == storage.schema_revisions(any_engine)[1]

    _use(monkeypatch, target_url, tmp_path / "cible")
    target = storage.make_engine(target_url)
    result = backup.restore_backup(tmp_path / "s.zip", target)
    assert result["lignes"]["lots"] == 3 and result["archives"] == 3

    assert _snapshot(target) == before
    assert _files(config.settings().archive_dir) == files
    assert batches.verify_archive(target) == {"fichiers_orphelins": [], "lots_sans_fichier": []}
    current, head = storage.schema_revisions(target)
    assert current == head
    # Les identifiants repartent après les restaurés (séquences PostgreSQL remises à jour).
    new = _store(target, "gendarmerie_62", 2023, b"nouveau", 2)
    assert new.lot_id > max(r[0] for r in before["lots"])
    restored = storage.current_values(target, contributeurs=["cidff_62"])
    assert restored["masque"].sum() == 1 and restored["valeur"].isna().sum() == 1
    target.dispose()


def test_restore_into_existing_database_needs_replace(any_engine, tmp_path):
    _populate(any_engine)
    before = _snapshot(any_engine)
    files = _files(config.settings().archive_dir)
    backup.create_backup(tmp_path / "s.zip", any_engine)
    extra = _store(any_engine, "caf_62", 2023, b"arrive apres", 4)
    after_extra = _snapshot(any_engine)

    with pytest.raises(SauvegardeError, match="n'est pas vide.*--remplacer"):
        backup.restore_backup(tmp_path / "s.zip", any_engine)
    assert _snapshot(any_engine) == after_extra

    result = backup.restore_backup(tmp_path / "s.zip", any_engine, replace=True)
    assert _snapshot(any_engine) == before
    assert _files(config.settings().archive_dir) == files
    (removed,) = result["fichiers_retires"]
    assert removed.startswith("2023/caf_62/")
    assert extra.lot_id not in set(batches.list_batches(any_engine)["id"])
    with any_engine.connect() as conn:
        actions = conn.execute(sa.select(storage.journal.c.action)).scalars().all()
    assert actions.count("restauration_sauvegarde") == 1


def test_altered_backup_is_refused_and_nothing_changes(any_engine, tmp_path):
    _populate(any_engine)
    backup.create_backup(tmp_path / "s.zip", any_engine)
    # Même manifeste, une valeur changée dans la table des valeurs.
    with zipfile.ZipFile(tmp_path / "s.zip") as src, \
            zipfile.ZipFile(tmp_path / "altere.zip", "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "tables/valeurs.jsonl":
                data = data.replace(b", 10, ", b", 99, ", 1)
                assert data != src.read(item)
            dst.writestr(item, data)
    before = _snapshot(any_engine)
    with pytest.raises(SauvegardeError, match="altérée.*valeurs"):
        backup.restore_backup(tmp_path / "altere.zip", any_engine, replace=True)
    assert _snapshot(any_engine) == before


def test_not_a_backup(tmp_path, any_engine):
    with zipfile.ZipFile(tmp_path / "autre.zip", "w") as zf:
        zf.writestr("a.txt", "rien")
    with pytest.raises(SauvegardeError, match="n'est pas une sauvegarde"):
        backup.restore_backup(tmp_path / "autre.zip", any_engine)
    (tmp_path / "faux.zip").write_text("pas un zip")
    with pytest.raises(SauvegardeError, match="n'est pas une sauvegarde"):
        backup.read_manifest(tmp_path / "faux.zip")
    with pytest.raises(SauvegardeError, match="introuvable"):
        backup.read_manifest(tmp_path / "absent.zip")


def test_backup_is_one_snapshot_even_if_an_import_commits_meanwhile(any_engine, tmp_path):
    _populate(any_engine)
    before = _snapshot(any_engine)
    state = {"done": False}

    def import_between_tables(conn, cursor, statement, params, context, executemany):
        # La sauvegarde a lu « lots » et s'apprête à lire « valeurs » : un import valide
        # entre les deux. L'instantané ne doit montrer ni son lot ni ses valeurs.
        if not state["done"] and statement.lstrip().upper().startswith("SELECT") \
                and "FROM valeurs" in statement and "lots" not in statement:
            state["done"] = True
            _store(any_engine, "police_62", 2022, b"police v3 pendant la sauvegarde", 50)

    sa.event.listen(any_engine, "before_cursor_execute", import_between_tables)
    try:
        backup.create_backup(tmp_path / "s.zip", any_engine)
    finally:
        sa.event.remove(any_engine, "before_cursor_execute", import_between_tables)
    assert state["done"]
    assert len(batches.list_batches(any_engine)) == 4  # l'import a bien eu lieu

    with zipfile.ZipFile(tmp_path / "s.zip") as zf:
        manifest = json.loads(zf.read("manifest.json"))
        lots = [json.loads(line) for line in zf.read("tables/lots.jsonl").splitlines()]
        vals = [json.loads(line) for line in zf.read("tables/valeurs.jsonl").splitlines()]
    lot_ids = {row[0] for row in lots}
    lot_col = manifest["tables"]["valeurs"]["colonnes"].index("lot_id")
    assert len(lots) == 3
    assert {row[lot_col] for row in vals} <= lot_ids
    assert len(vals) == 9

    backup.restore_backup(tmp_path / "s.zip", any_engine, replace=True)
    assert _snapshot(any_engine) == before


class _Out:
    def __init__(self, code, out, err):
        self.returncode, self.stdout, self.stderr = code, out, err


@pytest.fixture
def cli(capsys, monkeypatch, agent):
    """Lance ``observatoire …`` dans le processus (plus rapide qu'un sous-processus)."""
    from observatoire.cli import main

    def run(*args, cwd=None, input=AGENT_PASSWORD + "\n"):
        if cwd is not None:
            monkeypatch.chdir(cwd)
        if args and args[0] in ("sauvegarde", "restauration"):
            args = (*args, *AGENT_OPTIONS)  # commandes de valeurs exactes : mot de passe
        monkeypatch.setattr(sys, "stdin", io.StringIO(input))
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code or 0
        captured = capsys.readouterr()
        return _Out(code, captured.out, captured.err)

    return run


def test_cli_sauvegarde_restauration(any_engine, tmp_path, cli):
    _populate(any_engine)
    before = _snapshot(any_engine)
    out = cli("sauvegarde", str(tmp_path / "s.zip"), "--json")
    assert out.returncode == 0, out.stderr
    manifest = json.loads(out.stdout)
    assert manifest["tables"]["lots"]["lignes"] == 3 and len(manifest["sha256"]) == 64

    again = cli("sauvegarde", str(tmp_path / "s.zip"))
    assert again.returncode != 0 and "existe déjà" in again.stderr

    refused = cli("restauration", str(tmp_path / "s.zip"))
    assert refused.returncode == 1 and "--remplacer" in refused.stderr

    _store(any_engine, "caf_62", 2023, b"apres", 1)
    done = cli("restauration", str(tmp_path / "s.zip"), "--remplacer")
    assert done.returncode == 0, done.stderr
    assert "restaurée" in done.stdout and "1 fichiers sans lot retirés" in done.stdout
    assert _snapshot(any_engine) == before

    default = cli("sauvegarde", cwd=tmp_path)
    assert default.returncode == 0, default.stderr
    assert list(tmp_path.glob("sauvegarde-observatoire-*.zip"))
