"""Lots de contributions : écriture atomique, archive des fichiers, historique, restauration.

Un lot est l'ensemble des valeurs tirées d'un fichier accepté pour un couple
(contributeur, année). Réimporter le même couple remplace le lot courant de façon
atomique ; l'ancien reste dans l'historique et peut être restauré. Importer deux fois
le même fichier (même SHA-256) ne change rien.

Archive : le fichier reçu est conservé tel quel sous
``data/contributions/<année>/<contributeur>/<sha256>-<nom>``. Il est écrit (nom
temporaire, ``fsync``, renommage atomique) à la toute fin de la transaction, juste avant
sa validation, et retiré si elle échoue : un lot validé a donc toujours son fichier.
Seul un arrêt brutal entre le renommage et la validation peut laisser un fichier sans
lot ; :func:`sweep_archive` le retire au démarrage suivant (``storage.get_engine``), sous
le même verrou que l'import, pour ne jamais toucher à un import en cours.

Un fichier de plusieurs années (base communale du SSMSI) donne un lot par année,
enregistrés ensemble en une transaction (:func:`store_batches`) et pointant tous vers le
même fichier archivé, rangé sous la première année (dont l'import tient le verrou).

Concurrence : deux imports du même couple (contributeur, année) se sérialisent
(verrou consultatif ``pg_advisory_xact_lock`` sur PostgreSQL, ``BEGIN IMMEDIATE`` sur
SQLite) ; le second voit le lot du premier et le fait passer dans l'historique. L'index
unique partiel ``ux_lots_courant`` garantit en base qu'il n'y a jamais deux lots courants.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from observatoire import storage
from observatoire.config import settings
from observatoire.errors import ModeIncompatibleError, ObservatoireError

VALUE_COLUMNS = ["code_insee", "libelle_non_localise", "indicateur", "valeur", "masque",
                 "feuille", "ligne", "colonne"]


@dataclass(frozen=True)
class StoreResult:
    """Issue de l'enregistrement d'un lot.

    Attributes
    ----------
    lot_id : int
        Identifiant du lot courant après l'opération.
    statut : str
        ``"nouveau"``, ``"remplace"`` (un lot courant a été remplacé) ou ``"inchange"``
        (fichier identique déjà courant : rien n'a été écrit).
    remplace_lot_id : int or None
        Lot passé dans l'historique, le cas échéant.
    """

    lot_id: int
    statut: str
    remplace_lot_id: int | None = None


def sha256_bytes(content: bytes) -> str:
    """Empreinte SHA-256 hexadécimale de ``content``."""
    return hashlib.sha256(content).hexdigest()


def sha256_file(path: Path) -> str:
    """Empreinte SHA-256 hexadécimale d'un fichier, lu par blocs (gros fichiers)."""
    sha = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def _safe_name(name: str) -> str:
    name = Path(name).name
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:120] or "fichier"


def ensure_mode(conn: Connection, demo: bool) -> None:
    """Interdit de mêler données de démonstration et données réelles.

    Parameters
    ----------
    conn : Connection
        Connexion dans la transaction d'écriture.
    demo : bool
        True pour une écriture de démonstration.

    Raises
    ------
    ModeIncompatibleError
        Si la base contient déjà des données de l'autre nature.
    """
    wanted = "demo" if demo else "reel"
    mode = storage.get_meta(conn, "mode")
    if mode is None:
        # Deux premiers imports simultanés sur une base vide : le second attend que le
        # premier valide (ou annule) puis relit, au lieu d'échouer sur la clé primaire.
        _insert_meta_if_absent(conn, "mode", wanted)
        mode = storage.get_meta(conn, "mode")
    if mode != wanted:
        if mode == "demo":
            raise ModeIncompatibleError(
                "La base contient des données fictives de démonstration : importez vos fichiers "
                "réels après l'avoir vidée avec « observatoire demo --effacer »."
            )
        raise ModeIncompatibleError(
            "La base contient des données réelles : la démonstration ne peut pas s'y ajouter. "
            "Utilisez une autre base (OBSERVATOIRE_DB_URL ou OBSERVATOIRE_DATA_DIR)."
        )


def _insert_meta_if_absent(conn: Connection, cle: str, valeur: str) -> None:
    name = conn.dialect.name
    if name in ("postgresql", "sqlite"):
        insert = postgresql.insert if name == "postgresql" else sqlite.insert
        conn.execute(insert(storage.meta).values(cle=cle, valeur=valeur)
                     .on_conflict_do_nothing(index_elements=["cle"]))
    else:
        storage.set_meta(conn, cle, valeur)


def store_batch(
    *,
    contributeur: str,
    annee: int,
    fichier: str,
    contenu: bytes,
    values: pd.DataFrame,
    utilisateur: str,
    rapport: dict | None = None,
    demo: bool = False,
    engine: Engine | None = None,
    perimetre: str | None = None,
) -> StoreResult:
    """Enregistre un lot en une transaction et archive le fichier reçu.

    Parameters
    ----------
    contributeur : str
        Identifiant du contributeur (registre ``data/catalogues/contributeurs.csv``).
    annee : int
        Année N des données.
    fichier : str
        Nom d'origine du fichier.
    contenu : bytes
        Contenu exact du fichier, archivé tel quel.
    values : pandas.DataFrame
        Colonnes :data:`VALUE_COLUMNS` ; ``code_insee`` None pour le non localisé,
        ``valeur`` None quand ``masque`` est vrai.
    utilisateur : str
        Qui importe (journalisé avec chaque lot).
    rapport : dict, optional
        Rapport d'import, conservé en JSON avec le lot.
    demo : bool, default False
        Lot de démonstration.
    engine : Engine, optional
    perimetre : str, optional
        Périmètre du lot, quand les agents restreignent à l'import le territoire déclaré
        du contributeur (voir :class:`BatchInput`).

    Returns
    -------
    StoreResult
    """
    return store_batches(
        contributeur=contributeur, fichier=fichier, contenu=contenu,
        lots=[BatchInput(annee=annee, values=values, rapport=rapport, perimetre=perimetre)],
        utilisateur=utilisateur, demo=demo, engine=engine)[0]


@dataclass(frozen=True)
class BatchInput:
    """Un lot à enregistrer par :func:`store_batches` : une année tirée du fichier.

    Attributes
    ----------
    annee : int
        Année N des données.
    values : pandas.DataFrame
        Colonnes :data:`VALUE_COLUMNS`.
    rapport : dict, optional
        Rapport d'import de cette année, conservé en JSON avec le lot.
    perimetre : str, optional
        Communes que le lot couvre, quand elles sont moins que le territoire déclaré du
        contributeur (syntaxe de :func:`observatoire.catalogues.communes_couvertes`) ;
        None : le territoire déclaré. Colonne ``lots.perimetre``.
    """

    annee: int
    values: pd.DataFrame
    rapport: dict | None = None
    perimetre: str | None = None


def store_batches(
    *,
    contributeur: str,
    fichier: str,
    contenu: bytes | os.PathLike,
    lots: list[BatchInput],
    utilisateur: str,
    demo: bool = False,
    engine: Engine | None = None,
) -> list[StoreResult]:
    """Enregistre les lots de plusieurs années d'un même fichier, tout ou rien.

    Une seule transaction pour toutes les années : si l'une échoue, aucune n'est
    enregistrée. Chaque année est un lot (contributeur, année) ordinaire : remplacement du
    lot courant, historique, « inchangé » quand le même fichier est déjà courant. Le fichier
    est archivé **une fois** ; les lots de toutes ses années pointent vers lui. Il est rangé
    sous la première année de la série (``<année>/<contributeur>/<sha256>-<nom>``), dont le
    verrou, tenu par l'import jusqu'à sa validation, protège aussi le fichier du balayage
    (:func:`sweep_archive`). Un fichier déjà archivé pour ce contributeur (même empreinte)
    n'est pas recopié : les nouveaux lots pointent vers l'exemplaire existant.

    Parameters
    ----------
    contributeur : str
        Identifiant du contributeur.
    fichier : str
        Nom d'origine du fichier.
    contenu : bytes or path-like
        Contenu exact du fichier, ou son chemin (gros fichier : lu par blocs, jamais
        chargé en mémoire).
    lots : list of BatchInput
        Une entrée par année, années distinctes.
    utilisateur : str
        Qui importe (journalisé avec chaque lot).
    demo : bool, default False
        Lots de démonstration.
    engine : Engine, optional

    Returns
    -------
    list of StoreResult
        Dans l'ordre de ``lots``.
    """
    engine = engine or storage.get_engine()
    if not lots:
        raise ObservatoireError("Aucun lot à enregistrer : le fichier ne porte aucune année.")
    annees = [int(lot.annee) for lot in lots]
    if len(set(annees)) != len(annees):
        raise ObservatoireError(f"Années en double dans les lots à enregistrer : {annees}.")
    for lot in lots:
        missing = set(VALUE_COLUMNS) - set(lot.values.columns)
        if missing:
            raise ObservatoireError(
                f"Valeurs incomplètes : colonnes manquantes {sorted(missing)}.")
    source = None if isinstance(contenu, bytes | bytearray) else Path(contenu)
    digest = sha256_file(source) if source is not None else sha256_bytes(contenu)
    now = dt.datetime.now().replace(microsecond=0)
    rel = Path(str(min(annees))) / contributeur / f"{digest[:16]}-{_safe_name(fichier)}"
    target = settings().archive_dir / rel
    written = False
    try:
        with storage.transaction(engine) as conn:
            ensure_mode(conn, demo)
            # Deux imports simultanés d'un même couple se sérialisent ici ; années dans
            # l'ordre pour que deux imports de plusieurs années ne s'attendent pas en croix.
            # Un SELECT … FOR UPDATE ne suffirait pas : rien à verrouiller avant le 1er lot.
            for annee in sorted(annees):
                storage.lock(conn, "lots", contributeur, annee)
            known = conn.execute(sa.select(storage.lots.c.archive).where(
                storage.lots.c.contributeur == contributeur,
                storage.lots.c.sha256 == digest).order_by(storage.lots.c.id).limit(1)
            ).scalar_one_or_none()
            if known is not None:
                rel, target = Path(known), settings().archive_dir / known
            results = [_store_one(conn, contributeur, lot, fichier, digest, rel.as_posix(),
                                  now, utilisateur, demo) for lot in lots]
            if any(r.statut != "inchange" for r in results):
                # En dernier, juste avant la validation : la fenêtre où un arrêt brutal
                # laisserait un fichier sans lot est aussi courte que possible.
                written = _write_archive(target, contenu if source is None else source)
        return results
    except BaseException:
        if written:
            target.unlink(missing_ok=True)
        raise


def _store_one(conn: Connection, contributeur: str, lot: BatchInput, fichier: str,
               digest: str, archive: str, now: dt.datetime, utilisateur: str,
               demo: bool) -> StoreResult:
    """Écrit un lot dans la transaction ouverte (verrou du couple déjà pris)."""
    lt = storage.lots
    annee = int(lot.annee)
    current = conn.execute(sa.select(lt.c.id, lt.c.sha256, lt.c.perimetre).where(
        lt.c.contributeur == contributeur, lt.c.annee == annee,
        lt.c.courant.is_(True))).all()
    # Même fichier, même périmètre : rien ne change (un autre périmètre fait un autre lot).
    if any(row.sha256 == digest and (row.perimetre or None) == (lot.perimetre or None)
           for row in current):
        return StoreResult(lot_id=current[0].id, statut="inchange")
    if current:
        conn.execute(sa.update(lt).where(lt.c.id.in_([r.id for r in current]))
                     .values(courant=False, remplace_le=now))
    lot_id = conn.execute(sa.insert(lt).values(
        contributeur=contributeur, annee=annee, fichier=Path(fichier).name,
        sha256=digest, archive=archive, importe_le=now,
        importe_par=utilisateur, courant=True, demo=demo, n_valeurs=len(lot.values),
        perimetre=lot.perimetre or None,
        rapport=json.dumps(lot.rapport or {}, ensure_ascii=False, default=str),
    )).inserted_primary_key[0]
    _insert_values(conn, lot.values, lot_id)
    skipped = len((lot.rapport or {}).get("lignes_ecartees") or [])
    conn.execute(sa.insert(storage.journal).values(
        quand=now, qui=utilisateur, action="import",
        detail=f"{contributeur} {annee} {Path(fichier).name} lot {lot_id}"
               + (f", {skipped} lignes écartées" if skipped else "")))
    return StoreResult(lot_id=lot_id, statut="remplace" if current else "nouveau",
                       remplace_lot_id=current[0].id if current else None)


def _write_archive(target: Path, contenu: bytes | Path) -> bool:
    """Écrit ``contenu`` sous ``target`` de façon atomique et durable.

    Parameters
    ----------
    target : Path
        Chemin définitif dans l'archive.
    contenu : bytes or Path
        Contenu, ou fichier à recopier par blocs (gros fichiers).

    Returns
    -------
    bool
        True si le fichier a été écrit, False s'il existait déjà (même empreinte).
    """
    from observatoire.access import files

    if target.exists():
        return False
    # Fichiers reçus : dossiers 0700, fichiers 0600, quel que soit le umask.
    files.make_private_dirs(target.parent)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        with os.fdopen(files.open_private(tmp), "wb") as fh:
            if isinstance(contenu, Path):
                with open(contenu, "rb") as src:
                    shutil.copyfileobj(src, fh, 1 << 20)
            else:
                fh.write(contenu)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    # Le renommage n'est durable qu'une fois le dossier synchronisé (coupure de courant).
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return True


def _insert_values(conn: Connection, values: pd.DataFrame, lot_id: int) -> None:
    rows = _rows(values, lot_id)
    if not rows:
        return
    cols = ["lot_id", *VALUE_COLUMNS]
    if conn.dialect.name == "postgresql":
        # COPY : plusieurs fois plus rapide qu'un INSERT multiple pour les lots nationaux
        # (350 000 valeurs), dans la même transaction que le reste du lot.
        cur = conn.connection.driver_connection.cursor()
        with cur.copy(f"COPY {storage.valeurs.name} ({', '.join(cols)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    if conn.dialect.name == "sqlite":
        # executemany du pilote : SQLAlchemy n'a rien à convertir ici (tuples déjà typés) et
        # sa construction des paramètres, ligne par ligne, coûtait les deux tiers du temps.
        marks = ", ".join("?" for _ in cols)
        conn.exec_driver_sql(
            f"INSERT INTO {storage.valeurs.name} ({', '.join(cols)}) VALUES ({marks})", rows)
        return
    conn.execute(sa.insert(storage.valeurs), [dict(zip(cols, r, strict=True)) for r in rows])


def _column(series: pd.Series, kind) -> list:
    """Colonne en liste Python (None pour les manquants), convertie en ``kind``."""
    notna = series.notna().to_numpy()
    if kind is bool:
        return series.fillna(False).astype(bool).tolist()
    if kind is int:
        # int() refuse « pas un nombre » : ValueError, et rien n'est écrit.
        return [int(v) if ok else None for v, ok in zip(series.tolist(), notna, strict=True)]
    return series.astype(object).where(notna, None).tolist()


def _rows(values: pd.DataFrame, lot_id: int) -> list[tuple]:
    """Lignes ``(lot_id, *VALUE_COLUMNS)`` prêtes pour l'insertion."""
    kinds = {"valeur": int, "ligne": int, "masque": bool}
    cols = [_column(values[c], kinds.get(c)) for c in VALUE_COLUMNS]
    return [(lot_id, *r) for r in zip(*cols, strict=True)]


def list_batches(engine: Engine | None = None, contributeur: str | None = None,
                 annee: int | None = None) -> pd.DataFrame:
    """Historique des lots (courants et remplacés), le plus récent d'abord.

    ``lignes_ecartees`` : nombre de lignes laissées de côté à l'import
    (``--ecarter-lignes-invalides``), lues dans le rapport du lot ; la liste est dans
    :func:`batch_report`.
    """
    engine = engine or storage.get_engine()
    lt = storage.lots
    q = sa.select(lt.c.id, lt.c.contributeur, lt.c.annee, lt.c.fichier, lt.c.sha256,
                  lt.c.importe_le, lt.c.importe_par, lt.c.courant, lt.c.remplace_le,
                  lt.c.n_valeurs, lt.c.demo, lt.c.archive, lt.c.rapport, lt.c.perimetre
                  ).order_by(lt.c.id.desc())
    if contributeur:
        q = q.where(lt.c.contributeur == contributeur)
    if annee:
        q = q.where(lt.c.annee == int(annee))
    with engine.connect() as conn:
        df = pd.DataFrame(conn.execute(q).mappings().all(),
                          columns=list(q.selected_columns.keys()))
    df["lignes_ecartees"] = [len(_loads(r).get("lignes_ecartees") or []) for r in df["rapport"]]
    return df.drop(columns="rapport")


def _loads(text) -> dict:
    try:
        out = json.loads(text) if text else {}
    except (TypeError, ValueError):
        return {}
    return out if isinstance(out, dict) else {}


def batch_report(lot_id: int, engine: Engine | None = None) -> dict:
    """Rapport d'import enregistré avec un lot (lignes écartées comprises).

    Raises
    ------
    ObservatoireError
        Lot inconnu.
    """
    engine = engine or storage.get_engine()
    lt = storage.lots
    with engine.connect() as conn:
        text = conn.execute(sa.select(lt.c.rapport).where(lt.c.id == int(lot_id))
                            ).scalar_one_or_none()
    if text is None:
        raise ObservatoireError(f"Le lot {lot_id} n'existe pas : voir "
                                "« observatoire contributions historique ».")
    return _loads(text)


def restore_batch(lot_id: int, utilisateur: str, engine: Engine | None = None) -> int:
    """Rend courant un lot de l'historique ; le lot courant du même couple y passe.

    Returns
    -------
    int
        Identifiant du lot remplacé (ou du lot lui-même s'il était déjà courant).
    """
    engine = engine or storage.get_engine()
    lt = storage.lots
    now = dt.datetime.now().replace(microsecond=0)
    with storage.transaction(engine) as conn:
        lot = conn.execute(sa.select(lt).where(lt.c.id == int(lot_id))).mappings().first()
        if lot is None:
            raise ObservatoireError(f"Le lot {lot_id} n'existe pas : voir "
                                    "« observatoire contributions historique ».")
        if lot["courant"]:
            return int(lot_id)
        storage.lock(conn, "lots", lot["contributeur"], int(lot["annee"]))
        current = conn.execute(sa.select(lt.c.id).where(
            lt.c.contributeur == lot["contributeur"], lt.c.annee == lot["annee"],
            lt.c.courant.is_(True))).scalars().all()
        conn.execute(sa.update(lt).where(lt.c.id.in_(current)).values(courant=False,
                                                                      remplace_le=now))
        conn.execute(sa.update(lt).where(lt.c.id == int(lot_id)).values(courant=True,
                                                                        remplace_le=None))
        conn.execute(sa.insert(storage.journal).values(
            quand=now, qui=utilisateur, action="restauration",
            detail=f"lot {lot_id} ({lot['contributeur']} {lot['annee']})"))
    return current[0] if current else int(lot_id)


def archive_path(lot_archive: str) -> Path:
    """Chemin absolu du fichier archivé d'un lot (colonne ``archive``)."""
    return settings().archive_dir / lot_archive


def _archive_state(engine: Engine) -> tuple[list[str], list[str]]:
    with engine.connect() as conn:
        known = set(conn.execute(sa.select(storage.lots.c.archive)).scalars())
    root = settings().archive_dir
    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} \
        if root.exists() else set()
    return sorted(on_disk - known), sorted(known - on_disk)


def verify_archive(engine: Engine | None = None, fix: bool = False) -> dict:
    """Compare l'archive et la base.

    Parameters
    ----------
    fix : bool
        Retire les fichiers orphelins (présents sans lot), typiquement laissés par un
        arrêt brutal entre l'écriture du fichier et la validation de la transaction
        (voir :func:`sweep_archive`).

    Returns
    -------
    dict
        ``fichiers_orphelins`` et ``lots_sans_fichier`` (listes de chemins relatifs).
        Avec ``fix``, les orphelins retirés n'y figurent plus.
    """
    engine = engine or storage.get_engine()
    if fix:
        sweep_archive(engine)
    orphans, missing = _archive_state(engine)
    return {"fichiers_orphelins": orphans, "lots_sans_fichier": missing}


def sweep_archive(engine: Engine | None = None) -> list[str]:
    """Retire de l'archive les fichiers qu'aucun lot ne référence.

    Un fichier sans lot est soit le reste d'un import interrompu brutalement, soit celui
    d'un import en cours dans un autre processus, pas encore validé. Chaque candidat est
    donc revérifié sous le verrou de son couple (contributeur, année), que l'import tient
    jusqu'à sa validation : un import en cours n'est jamais amputé de son fichier.

    Parameters
    ----------
    engine : Engine, optional

    Returns
    -------
    list of str
        Chemins relatifs retirés.
    """
    engine = engine or storage.get_engine()
    root = settings().archive_dir
    orphans, _missing = _archive_state(engine)
    removed = []
    for rel in orphans:
        parts = Path(rel).parts
        with storage.transaction(engine) as conn:
            if len(parts) == 3 and parts[0].isdigit():
                storage.lock(conn, "lots", parts[1], int(parts[0]))
            referenced = conn.execute(sa.select(storage.lots.c.id)
                                      .where(storage.lots.c.archive == rel).limit(1)).first()
            if referenced is None and (root / rel).exists():
                (root / rel).unlink()
                removed.append(rel)
    return removed
