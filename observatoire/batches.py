"""Lots de contributions : écriture atomique, archive des fichiers, historique, restauration.

Un lot est l'ensemble des valeurs tirées d'un fichier accepté pour un couple
(contributeur, année). Réimporter le même couple remplace le lot courant de façon
atomique ; l'ancien reste dans l'historique et peut être restauré. Importer deux fois
le même fichier (même SHA-256) ne change rien.

Archive : le fichier reçu est conservé tel quel sous
``data/contributions/<année>/<contributeur>/<sha256>-<nom>``. Il est écrit avant la
validation de la transaction et retiré si elle échoue ; :func:`verify_archive` détecte
les écarts restants (par exemple après un arrêt brutal) et retire les fichiers orphelins.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
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
        storage.set_meta(conn, "mode", wanted)
    elif mode != wanted:
        if mode == "demo":
            raise ModeIncompatibleError(
                "La base contient des données fictives de démonstration : importez vos fichiers "
                "réels après l'avoir vidée avec « observatoire demo --effacer »."
            )
        raise ModeIncompatibleError(
            "La base contient des données réelles : la démonstration ne peut pas s'y ajouter. "
            "Utilisez une autre base (OBSERVATOIRE_DB_URL ou OBSERVATOIRE_DATA_DIR)."
        )


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

    Returns
    -------
    StoreResult
    """
    engine = engine or storage.get_engine()
    missing = set(VALUE_COLUMNS) - set(values.columns)
    if missing:
        raise ObservatoireError(f"Valeurs incomplètes : colonnes manquantes {sorted(missing)}.")
    digest = sha256_bytes(contenu)
    now = dt.datetime.now().replace(microsecond=0)
    rel = Path(str(annee)) / contributeur / f"{digest[:16]}-{_safe_name(fichier)}"
    target = settings().archive_dir / rel
    written = False
    try:
        with storage.transaction(engine) as conn:
            ensure_mode(conn, demo)
            lt = storage.lots
            # Verrouille les lots du couple : deux imports simultanés se sérialisent ici.
            sel = sa.select(lt.c.id, lt.c.sha256).where(
                lt.c.contributeur == contributeur, lt.c.annee == int(annee),
                lt.c.courant.is_(True))
            if conn.dialect.name != "sqlite":
                sel = sel.with_for_update()
            current = conn.execute(sel).all()
            if any(row.sha256 == digest for row in current):
                return StoreResult(lot_id=current[0].id, statut="inchange")
            if current:
                conn.execute(sa.update(lt).where(lt.c.id.in_([r.id for r in current]))
                             .values(courant=False, remplace_le=now))
            lot_id = conn.execute(sa.insert(lt).values(
                contributeur=contributeur, annee=int(annee), fichier=Path(fichier).name,
                sha256=digest, archive=rel.as_posix(), importe_le=now,
                importe_par=utilisateur, courant=True, demo=demo, n_valeurs=len(values),
                rapport=json.dumps(rapport or {}, ensure_ascii=False, default=str),
            )).inserted_primary_key[0]
            rows = _rows(values, lot_id)
            if rows:
                conn.execute(sa.insert(storage.valeurs), rows)
            conn.execute(sa.insert(storage.journal).values(
                quand=now, qui=utilisateur, action="import",
                detail=f"{contributeur} {annee} {Path(fichier).name} lot {lot_id}"))
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_suffix(target.suffix + ".part")
                tmp.write_bytes(contenu)
                os.replace(tmp, target)
                written = True
        return StoreResult(lot_id=lot_id, statut="remplace" if current else "nouveau",
                           remplace_lot_id=current[0].id if current else None)
    except BaseException:
        if written:
            target.unlink(missing_ok=True)
        raise


def _rows(values: pd.DataFrame, lot_id: int) -> list[dict]:
    df = values[VALUE_COLUMNS].astype(object).where(values[VALUE_COLUMNS].notna(), None)
    rows = df.to_dict("records")
    for row in rows:
        row["lot_id"] = lot_id
        row["masque"] = bool(row["masque"])
        if row["valeur"] is not None:
            row["valeur"] = int(row["valeur"])
        if row["ligne"] is not None:
            row["ligne"] = int(row["ligne"])
    return rows


def list_batches(engine: Engine | None = None, contributeur: str | None = None,
                 annee: int | None = None) -> pd.DataFrame:
    """Historique des lots (courants et remplacés), le plus récent d'abord."""
    engine = engine or storage.get_engine()
    lt = storage.lots
    q = sa.select(lt.c.id, lt.c.contributeur, lt.c.annee, lt.c.fichier, lt.c.sha256,
                  lt.c.importe_le, lt.c.importe_par, lt.c.courant, lt.c.remplace_le,
                  lt.c.n_valeurs, lt.c.demo, lt.c.archive).order_by(lt.c.id.desc())
    if contributeur:
        q = q.where(lt.c.contributeur == contributeur)
    if annee:
        q = q.where(lt.c.annee == int(annee))
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(q).mappings().all(), columns=list(q.selected_columns.keys()))


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


def verify_archive(engine: Engine | None = None, fix: bool = False) -> dict:
    """Compare l'archive et la base.

    Parameters
    ----------
    fix : bool
        Retire les fichiers orphelins (présents sans lot), typiquement laissés par un
        arrêt brutal entre l'écriture du fichier et la validation de la transaction.

    Returns
    -------
    dict
        ``fichiers_orphelins`` et ``lots_sans_fichier`` (listes de chemins relatifs).
    """
    engine = engine or storage.get_engine()
    with engine.connect() as conn:
        known = set(conn.execute(sa.select(storage.lots.c.archive)).scalars())
    root = settings().archive_dir
    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} \
        if root.exists() else set()
    orphans = sorted(on_disk - known)
    if fix:
        for rel in orphans:
            (root / rel).unlink(missing_ok=True)
    return {"fichiers_orphelins": orphans, "lots_sans_fichier": sorted(known - on_disk)}
