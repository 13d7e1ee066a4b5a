"""Diffusions en base : préparer (candidate), valider (figer), relire, historique.

Une diffusion validée ne change plus jamais : son contenu public est stocké tel quel
(JSON compressé) avec son empreinte SHA-256, vérifiée à chaque lecture. Une correction est
une nouvelle version de la même année ; l'ancienne passe « remplacée » mais reste dans
l'historique — et dans l'audit, car le public l'a vue.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from observatoire import storage
from observatoire.errors import ObservatoireError

__all__ = [
    "PREPAREE",
    "REMPLACEE",
    "VALIDEE",
    "Diffusion",
    "charger",
    "courantes",
    "enregistrer_candidate",
    "historique",
    "publiees",
    "supprimer_candidates",
    "valider",
]

PREPAREE, VALIDEE, REMPLACEE = "preparee", "validee", "remplacee"
STATUTS = {PREPAREE: "préparée (non publiée)", VALIDEE: "validée (publiée)",
           REMPLACEE: "remplacée par une version suivante (reste publique)"}


class DiffusionAltereeError(ObservatoireError):
    """Le contenu stocké d'une diffusion ne correspond plus à son empreinte."""


@dataclass
class Diffusion:
    """Une diffusion lue en base.

    Attributes
    ----------
    id, annee, version : int
    statut : str
        ``preparee``, ``validee`` ou ``remplacee``.
    public : dict
        Tout ce que le public peut lire (format décrit dans :mod:`observatoire.diffusion`).
    prive : dict or None
        Valeurs exactes (agents, audits) ; None si non demandé.
    audit : dict
        Rapport de l'audit (sans valeur exacte pour une diffusion sûre).
    sha256 : str
        Empreinte du contenu public (JSON canonique, avant compression).
    """

    id: int
    annee: int
    version: int
    statut: str
    prepare_le: dt.datetime
    prepare_par: str
    valide_le: dt.datetime | None
    valide_par: str | None
    sha256: str
    public: dict
    prive: dict | None
    audit: dict
    demo: bool

    @property
    def publiee(self) -> bool:
        """Vrai si le public a vu cette diffusion (validée ou remplacée)."""
        return self.statut in (VALIDEE, REMPLACEE)

    def resume(self) -> dict:
        """Ligne d'historique (sans contenu)."""
        return {"id": self.id, "annee": self.annee, "version": self.version,
                "statut": self.statut, "statut_libelle": STATUTS.get(self.statut, self.statut),
                "prepare_le": self.prepare_le.isoformat(timespec="seconds"),
                "prepare_par": self.prepare_par,
                "valide_le": self.valide_le.isoformat(timespec="seconds")
                if self.valide_le else None,
                "valide_par": self.valide_par, "sha256": self.sha256, "demo": self.demo,
                "audit_sur": bool(self.audit.get("sur")),
                "cellules_exposees": int(self.audit.get("exposees", 0))}


def canonique(contenu: dict) -> bytes:
    """JSON canonique (clés triées, UTF-8) : la base de l'empreinte."""
    return json.dumps(contenu, ensure_ascii=False, sort_keys=True,
                      separators=(",", ":"), allow_nan=False).encode("utf-8")


def empreinte(contenu: dict) -> str:
    """SHA-256 du JSON canonique."""
    return hashlib.sha256(canonique(contenu)).hexdigest()


def _pack(contenu: dict) -> bytes:
    # mtime=0 : deux compressions du même contenu sont identiques octet pour octet.
    return gzip.compress(canonique(contenu), compresslevel=6, mtime=0)


def _unpack(blob: bytes) -> dict:
    return json.loads(gzip.decompress(bytes(blob)).decode("utf-8"))


def _ligne(row, prive: bool) -> Diffusion:
    public = _unpack(row["public"])
    if empreinte(public) != row["sha256"]:
        raise DiffusionAltereeError(
            f"La diffusion {row['annee']} (version {row['version']}, n° {row['id']}) ne "
            f"correspond plus à son empreinte SHA-256 : la base a été modifiée hors de "
            f"l'observatoire. Restaurez la dernière sauvegarde (observatoire restauration).")
    return Diffusion(
        id=int(row["id"]), annee=int(row["annee"]), version=int(row["version"]),
        statut=row["statut"], prepare_le=row["prepare_le"], prepare_par=row["prepare_par"],
        valide_le=row["valide_le"], valide_par=row["valide_par"], sha256=row["sha256"],
        public=public, prive=_unpack(row["prive"]) if prive else None,
        audit=json.loads(row["audit"]), demo=bool(row["demo"]))


def _select(prive: bool):
    t = storage.diffusions
    cols = [t.c.id, t.c.annee, t.c.version, t.c.statut, t.c.prepare_le, t.c.prepare_par,
            t.c.valide_le, t.c.valide_par, t.c.sha256, t.c.public, t.c.audit, t.c.demo]
    if prive:
        cols.append(t.c.prive)
    return sa.select(*cols)


def enregistrer_candidate(engine: Engine | None, annee: int, public: dict, prive: dict,
                          audit: dict, *, par: str, demo: bool) -> Diffusion:
    """Enregistre une diffusion préparée (remplace la candidate précédente de l'année).

    Returns
    -------
    Diffusion
        La candidate, statut ``preparee``.
    """
    t = storage.diffusions
    engine = engine or storage.get_engine()
    with storage.transaction(engine) as conn:
        storage.lock(conn, "diffusions", int(annee))
        conn.execute(sa.delete(t).where((t.c.annee == int(annee))
                                        & (t.c.statut == PREPAREE)))
        version = (conn.execute(sa.select(sa.func.max(t.c.version))
                                .where(t.c.annee == int(annee))).scalar() or 0) + 1
        public = {**public, "version": int(version)}
        sha = empreinte(public)
        new_id = conn.execute(sa.insert(t).values(
            annee=int(annee), version=int(version), statut=PREPAREE,
            prepare_le=dt.datetime.now().replace(microsecond=0), prepare_par=par,
            sha256=sha, public=_pack(public), prive=_pack(prive),
            audit=json.dumps(audit, ensure_ascii=False), demo=bool(demo))).inserted_primary_key[0]
        conn.execute(sa.insert(storage.journal).values(
            quand=dt.datetime.now(), qui=par, action="diffusion_preparee",
            detail=json.dumps({"annee": int(annee), "version": int(version), "id": int(new_id),
                               "sur": bool(audit.get("sur"))}, ensure_ascii=False)))
    return charger(engine, int(new_id), prive=True)


def charger(engine: Engine | None, diffusion_id: int, *, prive: bool = False) -> Diffusion:
    """Une diffusion par son numéro (erreur française si absente)."""
    engine = engine or storage.get_engine()
    with engine.connect() as conn:
        row = conn.execute(_select(prive).where(storage.diffusions.c.id == int(diffusion_id))
                           ).mappings().first()
    if row is None:
        raise ObservatoireError(
            f"Aucune diffusion n° {diffusion_id} : voyez la liste (observatoire diffusion "
            f"lister).")
    return _ligne(row, prive)


def historique(engine: Engine | None = None, annee: int | None = None,
               conn: Connection | None = None) -> list[Diffusion]:
    """Toutes les diffusions (sans contenu privé), par année puis version."""
    engine = engine or storage.get_engine()
    q = _select(False).order_by(storage.diffusions.c.annee, storage.diffusions.c.version)
    if annee is not None:
        q = q.where(storage.diffusions.c.annee == int(annee))
    with engine.connect() as c:
        rows = c.execute(q).mappings().all()
    return [_ligne(r, False) for r in rows]


def publiees(engine: Engine | None = None, *, prive: bool = False) -> list[Diffusion]:
    """Diffusions que le public a vues (validées et remplacées), dans l'ordre."""
    t = storage.diffusions
    engine = engine or storage.get_engine()
    with engine.connect() as conn:
        rows = conn.execute(_select(prive).where(t.c.statut.in_([VALIDEE, REMPLACEE]))
                            .order_by(t.c.annee, t.c.version)).mappings().all()
    return [_ligne(r, prive) for r in rows]


def courantes(engine: Engine | None = None) -> dict[int, Diffusion]:
    """La version validée en vigueur de chaque année (ce que lit le public)."""
    t = storage.diffusions
    engine = engine or storage.get_engine()
    with engine.connect() as conn:
        rows = conn.execute(_select(False).where(t.c.statut == VALIDEE)
                            .order_by(t.c.annee)).mappings().all()
    return {int(r["annee"]): _ligne(r, False) for r in rows}


def candidate(engine: Engine | None, annee: int, *, prive: bool = True) -> Diffusion | None:
    """La diffusion préparée (non validée) de l'année, s'il y en a une."""
    t = storage.diffusions
    engine = engine or storage.get_engine()
    with engine.connect() as conn:
        row = conn.execute(_select(prive).where((t.c.annee == int(annee))
                                                & (t.c.statut == PREPAREE))).mappings().first()
    return _ligne(row, prive) if row is not None else None


def valider(engine: Engine | None, diffusion_id: int, *, par: str,
            audit: dict) -> Diffusion:
    """Fige une diffusion préparée : elle devient celle que le public lit pour son année.

    La version validée précédente de la même année passe « remplacée ».

    Raises
    ------
    ObservatoireError
        Diffusion déjà validée, ou audit non sûr.
    """
    t = storage.diffusions
    engine = engine or storage.get_engine()
    if not audit.get("sur"):
        raise ObservatoireError(
            f"Validation refusée : l'audit trouve {audit.get('exposees', '?')} cellule(s) "
            f"protégée(s) que l'intrus resserre. Préparez à nouveau la diffusion "
            f"(observatoire diffusion preparer) puis auditez-la.")
    with storage.transaction(engine) as conn:
        row = conn.execute(sa.select(t.c.annee, t.c.version, t.c.statut)
                           .where(t.c.id == int(diffusion_id))).mappings().first()
        if row is None:
            raise ObservatoireError(f"Aucune diffusion n° {diffusion_id}.")
        storage.lock(conn, "diffusions", int(row["annee"]))
        if row["statut"] != PREPAREE:
            raise ObservatoireError(
                f"La diffusion n° {diffusion_id} ({row['annee']}, version {row['version']}) "
                f"est déjà {STATUTS.get(row['statut'], row['statut'])} : une diffusion "
                f"validée ne change plus. Pour corriger, préparez-en une nouvelle version.")
        conn.execute(sa.update(t).where((t.c.annee == row["annee"]) & (t.c.statut == VALIDEE))
                     .values(statut=REMPLACEE))
        maintenant = dt.datetime.now().replace(microsecond=0)
        conn.execute(sa.update(t).where(t.c.id == int(diffusion_id)).values(
            statut=VALIDEE, valide_le=maintenant, valide_par=par,
            audit=json.dumps(audit, ensure_ascii=False)))
        conn.execute(sa.insert(storage.journal).values(
            quand=dt.datetime.now(), qui=par, action="diffusion_validee",
            detail=json.dumps({"annee": int(row["annee"]), "version": int(row["version"]),
                               "id": int(diffusion_id)}, ensure_ascii=False)))
    return charger(engine, diffusion_id)


def supprimer_candidates(conn: Connection, *, demo_seulement: bool = False) -> int:
    """Supprime les diffusions non validées (ou, démonstration, toutes celles de la démo).

    Returns
    -------
    int
        Diffusions supprimées.
    """
    t = storage.diffusions
    if demo_seulement:
        return conn.execute(sa.delete(t).where(t.c.demo.is_(True))).rowcount or 0
    return conn.execute(sa.delete(t).where(t.c.statut == PREPAREE)).rowcount or 0
