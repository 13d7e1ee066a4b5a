"""Sauvegarde et restauration : la base et l'archive des fichiers reçus, ensemble.

Une sauvegarde est un fichier zip indépendant du moteur (SQLite ou PostgreSQL) :

- ``tables/<table>.jsonl`` : chaque table, une ligne JSON par enregistrement (liste des
  valeurs dans l'ordre des colonnes du manifeste ; dates et horodatages en ISO 8601) ;
- ``archives/<année>/<contributeur>/<fichier>`` : les fichiers des contributeurs
  référencés par les lots, tels quels ;
- ``manifest.json`` : format, date, moteur d'origine, révision Alembic du schéma,
  colonnes, nombre de lignes et SHA-256 de chaque membre.

Toutes les tables sont lues dans une seule transaction (REPEATABLE READ en lecture seule
sur PostgreSQL, transaction de lecture WAL sur SQLite) : la sauvegarde est un instantané
cohérent, même pendant un import. Les fichiers d'archive sont lus dans la même
transaction ; leur nom porte leur empreinte, ils ne changent jamais une fois écrits.

La restauration vérifie toutes les empreintes avant de toucher à quoi que ce soit, met la
base à la révision de la sauvegarde, remplace toutes les données en une transaction (ou
rien), remet les fichiers d'archive, retire ceux qu'aucun lot ne référence plus, puis
applique les migrations plus récentes. Elle marche vers une base vide ou existante
(``remplacer=True``), d'un moteur à l'autre.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import hashlib
import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from observatoire import __version__, batches, storage
from observatoire.access import files
from observatoire.config import settings
from observatoire.errors import ObservatoireError

FORMAT = "observatoire-sauvegarde"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
#: Table propre à Alembic : sa révision est dans le manifeste, pas dans les données.
ALEMBIC_TABLE = "alembic_version"
_CHUNK = 5000


class SauvegardeError(ObservatoireError):
    """Sauvegarde illisible, altérée ou incompatible avec la base visée."""


# --- encodage des valeurs --------------------------------------------------------------

def _encode(value):
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def _decoder(col_type: sa.types.TypeEngine):
    """Fonction qui rend à une valeur JSON le type Python attendu par la colonne cible."""
    if isinstance(col_type, sa.DateTime):
        return dt.datetime.fromisoformat
    if isinstance(col_type, sa.Date):
        return dt.date.fromisoformat
    if isinstance(col_type, sa.Time):
        return dt.time.fromisoformat
    if isinstance(col_type, sa.LargeBinary):
        return base64.b64decode
    if isinstance(col_type, sa.Numeric) and not isinstance(col_type, sa.Float):
        return decimal.Decimal
    return None


# --- sauvegarde -------------------------------------------------------------------------

def _snapshot_connection(engine: Engine) -> Connection:
    conn = engine.connect()
    if conn.dialect.name == "postgresql":
        # Un seul instantané pour toutes les tables, sans bloquer les écrivains.
        conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    return conn


class _HashingWriter:
    """Écrit dans un membre du zip en calculant SHA-256 et taille au passage."""

    def __init__(self, fh):
        self.fh = fh
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.fh.write(data)
        self.sha.update(data)
        self.size += len(data)


def create_backup(destination: str | os.PathLike, engine: Engine | None = None) -> dict:
    """Écrit une sauvegarde cohérente de la base et de l'archive.

    Parameters
    ----------
    destination : path-like
        Fichier zip à créer (écrit sous un nom temporaire puis renommé : jamais de
        sauvegarde à moitié écrite sous le nom final).
    engine : Engine, optional
        Base à sauvegarder ; par défaut celle de la configuration.

    Returns
    -------
    dict
        Le manifeste, plus ``fichier`` (chemin) et ``sha256`` (empreinte du zip entier).

    Examples
    --------
    >>> create_backup("sauvegarde.zip")  # doctest: +SKIP
    """
    engine = engine or storage.get_engine()
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp = destination.with_name(f".{destination.name}.{os.getpid()}.part")
    archive_root = settings().archive_dir
    manifest: dict = {
        "format": FORMAT, "version_format": FORMAT_VERSION,
        "cree_le": dt.datetime.now().isoformat(timespec="seconds"),
        "version_observatoire": __version__, "moteur": engine.dialect.name,
        "revision": None, "tables": {}, "archives": [], "anomalies": [],
    }
    try:
        # 0600 quel que soit le umask : la sauvegarde contient les valeurs exactes.
        raw = os.fdopen(files.open_private(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC), "w+b")
        with raw, zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_DEFLATED,
                                  compresslevel=6) as zf, _snapshot_connection(engine) as conn:
            with conn.begin():
                md = sa.MetaData()
                md.reflect(bind=conn)
                if ALEMBIC_TABLE in md.tables:
                    manifest["revision"] = conn.execute(
                        sa.text(f"SELECT version_num FROM {ALEMBIC_TABLE}")).scalar()
                for table in md.sorted_tables:
                    if table.name == ALEMBIC_TABLE or table.name in storage.NOT_BACKED_UP:
                        continue
                    manifest["tables"][table.name] = _dump_table(conn, zf, table)
                if "lots" in md.tables:
                    _dump_archives(conn, zf, md.tables["lots"], archive_root, manifest)
            zf.writestr(MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2))
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, destination)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return {**manifest, "fichier": str(destination), "sha256": batches.sha256_file(destination)}


def _dump_table(conn: Connection, zf: zipfile.ZipFile, table: sa.Table) -> dict:
    member = f"tables/{table.name}.jsonl"
    cols = [c.name for c in table.columns]
    order = list(table.primary_key.columns) or list(table.columns)
    # yield_per : curseur côté serveur sur PostgreSQL, mémoire bornée pour les
    # dizaines de millions de valeurs d'une base nationale.
    result = conn.execution_options(yield_per=_CHUNK).execute(
        sa.select(table).order_by(*order))
    n = 0
    with zf.open(member, "w", force_zip64=True) as raw:
        out = _HashingWriter(raw)
        for part in result.partitions():
            out.write("".join(
                json.dumps([_encode(v) for v in row], ensure_ascii=False) + "\n"
                for row in part).encode("utf-8"))
            n += len(part)
    return {"fichier": member, "colonnes": cols, "lignes": n, "sha256": out.sha.hexdigest(),
            "octets": out.size}


def _dump_archives(conn: Connection, zf: zipfile.ZipFile, lots: sa.Table, root: Path,
                   manifest: dict) -> None:
    rows = conn.execute(sa.select(lots.c.archive, lots.c.sha256).distinct()
                        .order_by(lots.c.archive)).all()
    for rel, expected in rows:
        path = root / rel
        if not path.is_file():
            manifest["anomalies"].append(f"fichier d'archive absent : {rel}")
            continue
        content = path.read_bytes()
        digest = hashlib.sha256(content).hexdigest()
        if digest != expected:
            manifest["anomalies"].append(
                f"fichier d'archive altéré (empreinte différente de celle du lot) : {rel}")
        zf.writestr(f"archives/{rel}", content)
        manifest["archives"].append({"chemin": rel, "sha256": digest, "octets": len(content)})


# --- lecture et vérification ------------------------------------------------------------

def read_manifest(source: str | os.PathLike) -> dict:
    """Manifeste d'une sauvegarde, après contrôle du format.

    Raises
    ------
    SauvegardeError
        Fichier absent, pas un zip, pas une sauvegarde de l'observatoire, ou d'un format
        plus récent que ce logiciel.
    """
    source = Path(source)
    if not source.is_file():
        raise SauvegardeError(f"La sauvegarde {source} est introuvable.")
    try:
        with zipfile.ZipFile(source) as zf:
            manifest = json.loads(zf.read(MANIFEST))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as exc:
        raise SauvegardeError(
            f"{source.name} n'est pas une sauvegarde de l'observatoire lisible ({exc}).") from exc
    if manifest.get("format") != FORMAT:
        raise SauvegardeError(f"{source.name} n'est pas une sauvegarde de l'observatoire.")
    if int(manifest.get("version_format", 0)) > FORMAT_VERSION:
        raise SauvegardeError(
            f"{source.name} vient d'une version plus récente de l'observatoire (format "
            f"{manifest['version_format']}) : mettez le logiciel à jour avant de restaurer.")
    return manifest


def verify_backup(source: str | os.PathLike) -> dict:
    """Vérifie les empreintes de tous les membres d'une sauvegarde.

    Returns
    -------
    dict
        Le manifeste.

    Raises
    ------
    SauvegardeError
        Au premier membre manquant ou altéré (rien n'est restauré dans ce cas).
    """
    manifest = read_manifest(source)
    members = [(t["fichier"], t["sha256"]) for t in manifest["tables"].values()]
    members += [(f"archives/{a['chemin']}", a["sha256"]) for a in manifest["archives"]]
    with zipfile.ZipFile(source) as zf:
        for member, expected in members:
            sha = hashlib.sha256()
            try:
                with zf.open(member) as fh:
                    for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                        sha.update(block)
            except KeyError as exc:
                raise SauvegardeError(
                    f"Sauvegarde incomplète : {member} manque dans {Path(source).name}.") from exc
            except zipfile.BadZipFile as exc:
                raise SauvegardeError(
                    f"Sauvegarde endommagée : {member} est illisible ({exc}).") from exc
            if sha.hexdigest() != expected:
                raise SauvegardeError(
                    f"Sauvegarde altérée : l'empreinte de {member} ne correspond pas au "
                    f"manifeste. Rien n'a été restauré.")
    return manifest


# --- restauration -----------------------------------------------------------------------

def _revision_order() -> list[str]:
    """Révisions Alembic du code, de la plus ancienne à la plus récente."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(storage.MIGRATIONS_DIR))
    script = ScriptDirectory.from_config(cfg)
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def _prepare_schema(engine: Engine, revision: str | None, replace: bool) -> None:
    """Met la base à la révision de la sauvegarde, si c'est possible sans perte."""
    from alembic import command

    order = _revision_order()
    if revision not in order:
        raise SauvegardeError(
            f"La sauvegarde est au schéma « {revision} », inconnu de cette version de "
            f"l'observatoire : mettez le logiciel à jour avant de restaurer.")
    current, _head = storage.schema_revisions(engine)
    empty = current is None or _is_empty(engine)
    if not empty and not replace:
        raise SauvegardeError(
            "La base visée n'est pas vide : relancez avec « --remplacer » pour remplacer "
            "toutes ses données par celles de la sauvegarde, ou visez une base vide.")
    if current is None or order.index(current) < order.index(revision):
        storage.upgrade(engine, revision)
    elif order.index(current) > order.index(revision):
        if not empty:
            raise SauvegardeError(
                f"La sauvegarde est au schéma « {revision} », plus ancien que celui de la "
                f"base (« {current} ») : restaurez-la dans une base vide ; elle sera mise "
                f"à niveau ensuite.")
        command.downgrade(storage.alembic_config(engine), revision)


def _is_empty(engine: Engine) -> bool:
    md = sa.MetaData()
    md.reflect(bind=engine)
    with engine.connect() as conn:
        # Les tables de l'accès (sessions, essais de connexion, journal des accès) ne font
        # pas une base « pleine » : restaurer demande de s'authentifier, ce qui y écrit.
        return all(conn.execute(sa.select(sa.literal(1)).select_from(t).limit(1)).first()
                   is None for t in md.tables.values()
                   if t.name != ALEMBIC_TABLE and t.name not in storage.ACCESS_TABLES)


def _iter_rows(zf: zipfile.ZipFile, member: str) -> Iterator[list]:
    with zf.open(member) as fh:
        for line in fh:
            yield json.loads(line)


def _load_table(conn: Connection, zf: zipfile.ZipFile, table: sa.Table, info: dict) -> int:
    cols = info["colonnes"]
    unknown = [c for c in cols if c not in table.columns]
    if unknown:
        raise SauvegardeError(
            f"La table {table.name} de la base n'a pas les colonnes {unknown} de la "
            f"sauvegarde : schémas incompatibles.")
    decoders = [_decoder(table.columns[c].type) for c in cols]

    def decoded(row):
        return [v if (f is None or v is None) else f(v) for f, v in zip(decoders, row,
                                                                        strict=True)]

    n = 0
    if conn.dialect.name == "postgresql":
        cur = conn.connection.driver_connection.cursor()
        quoted = ", ".join(f'"{c}"' for c in cols)
        with cur.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy:
            for row in _iter_rows(zf, info["fichier"]):
                copy.write_row(decoded(row))
                n += 1
        return n
    chunk: list[dict] = []
    for row in _iter_rows(zf, info["fichier"]):
        chunk.append(dict(zip(cols, decoded(row), strict=True)))
        if len(chunk) >= _CHUNK:
            conn.execute(sa.insert(table), chunk)
            n += len(chunk)
            chunk = []
    if chunk:
        conn.execute(sa.insert(table), chunk)
        n += len(chunk)
    return n


def _merge_access_journal(conn: Connection, zf: zipfile.ZipFile, table: sa.Table,
                          info: dict) -> int:
    """Ajoute au journal des accès les lignes de la sauvegarde qu'il n'a pas déjà."""
    cols = [c for c in info["colonnes"] if c != "id"]
    position = {c: i for i, c in enumerate(info["colonnes"])}
    decoders = {c: _decoder(table.columns[c].type) for c in cols if c in table.columns}

    def key(values: dict) -> tuple:
        return tuple(str(values.get(c)) for c in ("quand", "qui", "action", "quoi"))

    present = {key(dict(r._mapping)) for r in conn.execute(
        sa.select(table.c.quand, table.c.qui, table.c.action, table.c.quoi))}
    new = []
    for row in _iter_rows(zf, info["fichier"]):
        values = {}
        for c in cols:
            v = row[position[c]]
            f = decoders.get(c)
            values[c] = f(v) if (f is not None and v is not None) else v
        if key(values) not in present:
            present.add(key(values))
            new.append(values)
    if new:
        conn.execute(sa.insert(table), new)
    return len(new)


def _reset_sequences(conn: Connection, md: sa.MetaData) -> None:
    # Les identifiants sont restaurés tels quels : la séquence doit repartir après le plus
    # grand, sinon le prochain import buterait sur une clé déjà prise.
    for table in md.sorted_tables:
        for col in table.primary_key.columns:
            if not isinstance(col.type, sa.Integer):
                continue
            conn.execute(sa.text(
                f'SELECT setval(pg_get_serial_sequence(:t, :c), COALESCE(MAX("{col.name}"), '
                f'1), MAX("{col.name}") IS NOT NULL) FROM "{table.name}"'),
                {"t": f'"{table.name}"', "c": col.name})


def restore_backup(source: str | os.PathLike, engine: Engine | None = None,
                   replace: bool = False, utilisateur: str = "restauration") -> dict:
    """Restaure une sauvegarde dans une base vide ou, avec ``replace``, existante.

    Parameters
    ----------
    source : path-like
        Fichier écrit par :func:`create_backup`.
    engine : Engine, optional
        Base visée ; par défaut celle de la configuration. Elle peut être d'un autre
        moteur que celle d'origine.
    replace : bool, default False
        Autorise le remplacement de toutes les données d'une base non vide.
    utilisateur : str
        Qui restaure (inscrit au journal).

    Returns
    -------
    dict
        ``lignes`` par table, ``archives`` (nombre de fichiers remis), ``fichiers_retires``
        (fichiers d'archive sans lot après restauration), ``revision``.

    Raises
    ------
    SauvegardeError
        Sauvegarde altérée ou incompatible, base non vide sans ``replace`` : la base et
        l'archive restent alors telles qu'elles étaient.
    """
    manifest = verify_backup(source)
    engine = engine or storage.make_engine()
    _prepare_schema(engine, manifest["revision"], replace)
    root = settings().archive_dir
    written: list[Path] = []
    counts: dict[str, int] = {}
    try:
        with zipfile.ZipFile(source) as zf:
            for item in manifest["archives"]:
                target = root / item["chemin"]
                if batches._write_archive(target, zf.read(f"archives/{item['chemin']}")):
                    written.append(target)
            with storage.transaction(engine) as conn:
                md = sa.MetaData()
                md.reflect(bind=conn)
                tables = [t for t in md.sorted_tables if t.name != ALEMBIC_TABLE]
                missing = sorted(set(manifest["tables"]) - {t.name for t in tables})
                if missing:
                    raise SauvegardeError(
                        f"La base visée n'a pas les tables {missing} de la sauvegarde : "
                        f"schémas incompatibles.")
                # Le journal des accès n'est jamais effacé par une restauration (qui a vu
                # quoi reste su) : on y ajoute seulement les lignes de la sauvegarde.
                replaced = [t for t in tables if t.name != storage.journal_acces.name]
                if conn.dialect.name == "postgresql":
                    # Ni import ni lecture pendant le remplacement : tout ou rien, pour tous.
                    names = ", ".join(f'"{t.name}"' for t in tables)
                    conn.exec_driver_sql(f"LOCK TABLE {names} IN ACCESS EXCLUSIVE MODE")
                    conn.exec_driver_sql(
                        "TRUNCATE " + ", ".join(f'"{t.name}"' for t in replaced))
                else:
                    for table in reversed(replaced):
                        conn.execute(sa.delete(table))
                for table in tables:
                    # Une sauvegarde (même fabriquée) ne ranime ni ne crée aucune session.
                    if table.name not in manifest["tables"] or table.name in storage.NOT_BACKED_UP:
                        continue
                    info = manifest["tables"][table.name]
                    if table.name == storage.journal_acces.name:
                        counts[table.name] = _merge_access_journal(conn, zf, table, info)
                    else:
                        counts[table.name] = _load_table(conn, zf, table, info)
                if conn.dialect.name == "postgresql":
                    _reset_sequences(conn, md)
                conn.execute(sa.insert(storage.journal).values(
                    quand=dt.datetime.now().replace(microsecond=0), qui=utilisateur,
                    action="restauration_sauvegarde",
                    detail=f"{Path(source).name} du {manifest['cree_le']}"))
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    removed = batches.sweep_archive(engine)
    storage.upgrade(engine)
    return {"lignes": counts, "archives": len(manifest["archives"]),
            "fichiers_retires": removed, "revision": manifest["revision"],
            "sauvegarde_du": manifest["cree_le"], "anomalies": manifest["anomalies"]}
