"""Stockage : schéma SQLAlchemy Core, moteur, transactions, requêtes de lecture.

Le schéma tient dans n'importe quelle base SQL (SQLite embarqué par défaut,
PostgreSQL en déploiement partagé). Il est versionné par les migrations Alembic de
``observatoire/migrations`` : toute évolution passe par une nouvelle migration.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from observatoire.config import settings
from observatoire.errors import ObservatoireError

log = logging.getLogger(__name__)

metadata = sa.MetaData()

#: Paires clé/valeur : mode de la base ("demo" ou "reel"), version des données…
meta = sa.Table(
    "meta",
    metadata,
    sa.Column("cle", sa.String(64), primary_key=True),
    sa.Column("valeur", sa.Text, nullable=False),
)

#: Un lot = un fichier accepté pour un (contributeur, année).
lots = sa.Table(
    "lots",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("contributeur", sa.String(64), nullable=False),
    sa.Column("annee", sa.Integer, nullable=False),
    sa.Column("fichier", sa.String(255), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("archive", sa.String(512), nullable=False),
    sa.Column("importe_le", sa.DateTime, nullable=False),
    sa.Column("importe_par", sa.String(128), nullable=False),
    sa.Column("courant", sa.Boolean, nullable=False, default=True),
    sa.Column("remplace_le", sa.DateTime, nullable=True),
    sa.Column("demo", sa.Boolean, nullable=False, default=False),
    sa.Column("n_valeurs", sa.Integer, nullable=False, default=0),
    sa.Column("rapport", sa.Text, nullable=True),
    # Périmètre du lot quand les agents l'ont restreint à l'import (syntaxe des territoires
    # du registre) ; NULL : le territoire déclaré du contributeur (migration 0004).
    sa.Column("perimetre", sa.Text, nullable=True),
    sa.Index("ix_lots_contributeur_annee", "contributeur", "annee"),
    # Au plus un lot courant par (contributeur, année), garanti par la base elle-même
    # (migration 0002) : filet de sécurité sous le verrou de store_batch.
    sa.Index("ux_lots_courant", "contributeur", "annee", unique=True,
             sqlite_where=sa.text("courant"), postgresql_where=sa.text("courant")),
)

#: Valeurs chargées : une ligne par (lot, commune ou non localisé, indicateur).
valeurs = sa.Table(
    "valeurs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("lot_id", sa.Integer, sa.ForeignKey("lots.id", ondelete="CASCADE"), nullable=False),
    # NULL = non localisé (commune inconnue, hors territoire…)
    sa.Column("code_insee", sa.String(5), nullable=True),
    sa.Column("libelle_non_localise", sa.String(255), nullable=True),
    sa.Column("indicateur", sa.String(64), nullable=False),
    # NULL quand la valeur est masquée par le contributeur
    sa.Column("valeur", sa.Integer, nullable=True),
    sa.Column("masque", sa.Boolean, nullable=False, default=False),
    sa.Column("feuille", sa.String(128), nullable=True),
    sa.Column("ligne", sa.Integer, nullable=True),
    sa.Column("colonne", sa.String(64), nullable=True),
    sa.Index("ix_valeurs_lot", "lot_id"),
    sa.Index("ix_valeurs_indicateur_commune", "indicateur", "code_insee"),
    sa.Index("ix_valeurs_lot_indicateur", "lot_id", "indicateur"),
)

#: Correspondances en-tête → indicateur confirmées par les agents, par contributeur.
correspondances = sa.Table(
    "correspondances_entetes",
    metadata,
    sa.Column("contributeur", sa.String(64), primary_key=True),
    sa.Column("entete", sa.String(255), primary_key=True),
    sa.Column("indicateur", sa.String(64), nullable=False),
    sa.Column("confirme_le", sa.DateTime, nullable=False),
    sa.Column("confirme_par", sa.String(128), nullable=False),
)

#: Registre des dispositifs d'aide (accueils de jour, LEAO, hébergement, ISCG…).
dispositifs = sa.Table(
    "dispositifs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("nom", sa.String(255), nullable=False),
    sa.Column("adresse", sa.String(512), nullable=True),
    sa.Column("code_insee", sa.String(5), nullable=False),
    sa.Column("commune", sa.String(255), nullable=True),
    sa.Column("latitude", sa.Float, nullable=True),
    sa.Column("longitude", sa.Float, nullable=True),
    # "adresse" : coordonnées fournies ; "commune" : placé au centre de sa commune
    sa.Column("localisation", sa.String(16), nullable=False, default="commune"),
    sa.Column("capacite", sa.Integer, nullable=True),
    sa.Column("unite_capacite", sa.String(64), nullable=True),
    sa.Column("horaires", sa.Text, nullable=True),
    sa.Column("contact", sa.String(255), nullable=True),
    sa.Column("source", sa.String(512), nullable=True),
    sa.Column("remarque", sa.Text, nullable=True),
    sa.Column("demo", sa.Boolean, nullable=False, default=False),
    sa.Index("ix_dispositifs_type", "type"),
)

#: Communes ayant désigné un référent VIF. Nom et contact : réservés aux agents.
referents = sa.Table(
    "referents",
    metadata,
    sa.Column("code_insee", sa.String(5), primary_key=True),
    sa.Column("date_designation", sa.Date, nullable=True),
    sa.Column("forme", sa.Boolean, nullable=False, default=False),
    sa.Column("date_formation", sa.Date, nullable=True),
    sa.Column("nom_referent", sa.String(255), nullable=True),
    sa.Column("contact_referent", sa.String(255), nullable=True),
    sa.Column("source", sa.String(512), nullable=True),
    sa.Column("demo", sa.Boolean, nullable=False, default=False),
)

#: Populations importées (par sexe et âge, INSEE) pour d'autres dénominateurs.
populations = sa.Table(
    "populations",
    metadata,
    sa.Column("code_insee", sa.String(5), primary_key=True),
    sa.Column("annee", sa.Integer, primary_key=True),
    sa.Column("categorie", sa.String(64), primary_key=True),
    sa.Column("valeur", sa.Float, nullable=False),
)

#: Journal des actions des agents (imports, restaurations, publications).
journal = sa.Table(
    "journal",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("quand", sa.DateTime, nullable=False),
    sa.Column("qui", sa.String(128), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("detail", sa.Text, nullable=True),
)

#: Diffusions publiques : une par année et par version, figée une fois validée.
#: ``public`` est tout ce que le public peut lire (JSON compressé, empreinte ``sha256``) ;
#: ``prive`` les valeurs exactes des cellules tues, pour auditer les diffusions suivantes.
diffusions = sa.Table(
    "diffusions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("annee", sa.Integer, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    # "preparee" (candidate), "validee" (publiée, courante), "remplacee" (publiée, puis
    # corrigée par une version suivante : elle reste publique et auditée).
    sa.Column("statut", sa.String(16), nullable=False),
    sa.Column("prepare_le", sa.DateTime, nullable=False),
    sa.Column("prepare_par", sa.String(128), nullable=False),
    sa.Column("valide_le", sa.DateTime, nullable=True),
    sa.Column("valide_par", sa.String(128), nullable=True),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("public", sa.LargeBinary, nullable=False),
    sa.Column("prive", sa.LargeBinary, nullable=False),
    sa.Column("audit", sa.Text, nullable=False),
    sa.Column("demo", sa.Boolean, nullable=False, default=False),
    sa.Index("ix_diffusions_annee_statut", "annee", "statut"),
    sa.UniqueConstraint("annee", "version", name="uq_diffusions_annee_version"),
)


#: Sessions des agents (migration 0005). Le navigateur ne présente jamais ``id`` : il
#: présente un secret (cookie signé) dont seule l'empreinte SHA-256 est ici. Heures UTC.
sessions_agents = sa.Table(
    "sessions_agents",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("identifiant", sa.String(128), nullable=False),
    sa.Column("role", sa.String(32), nullable=False),
    # "local" (comptes de l'observatoire) ou "oidc"
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("secret_hash", sa.String(64), nullable=True, unique=True),
    # Jeton à usage unique échangé contre le cookie, lié au navigateur qui s'est connecté.
    sa.Column("jeton_hash", sa.String(64), nullable=True, unique=True),
    sa.Column("jeton_expire_le", sa.DateTime, nullable=True),
    sa.Column("lien", sa.String(64), nullable=True),
    sa.Column("suite", sa.String(255), nullable=True),
    sa.Column("oidc_iat", sa.BigInteger, nullable=True),
    sa.Column("adresse", sa.String(64), nullable=True),
    sa.Column("navigateur", sa.String(255), nullable=True),
    sa.Column("cree_le", sa.DateTime, nullable=False),
    sa.Column("vu_le", sa.DateTime, nullable=False),
    sa.Column("expire_le", sa.DateTime, nullable=False),
    sa.Column("fin_le", sa.DateTime, nullable=True),
    sa.Column("fin_motif", sa.String(64), nullable=True),
    sa.Index("ix_sessions_agents_identifiant", "identifiant"),
)

#: Essais de connexion (application et ligne de commande), pour la limitation : par compte
#: (identifiant connu, ou empreinte d'un identifiant inconnu) et par adresse. Heures UTC.
tentatives_connexion = sa.Table(
    "tentatives_connexion",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("quand", sa.DateTime, nullable=False),
    sa.Column("compte", sa.String(128), nullable=False),
    sa.Column("adresse", sa.String(128), nullable=False),
    sa.Column("canal", sa.String(32), nullable=False),
    # "en_cours" (mot de passe en cours de vérification), "echec" ou "succes"
    sa.Column("resultat", sa.String(16), nullable=False),
    # L'essai ne compte plus pour son compte (connexion réussie, déverrouillage) ou pour
    # son adresse (déverrouillage par un administrateur).
    sa.Column("compte_efface", sa.Boolean, nullable=False, default=False),
    sa.Column("adresse_efface", sa.Boolean, nullable=False, default=False),
    sa.Index("ix_tentatives_compte_quand", "compte", "quand"),
    sa.Index("ix_tentatives_adresse_quand", "adresse", "quand"),
)

#: Journal des accès : connexions, échecs, verrouillages, consultations de valeurs
#: exactes (qui, quand, quoi). Séparé de ``journal`` : il ne change pas la version des
#: données (les caches de l'application ne sont pas invalidés à chaque consultation).
journal_acces = sa.Table(
    "journal_acces",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("quand", sa.DateTime, nullable=False),
    sa.Column("qui", sa.String(128), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("canal", sa.String(32), nullable=False),
    sa.Column("quoi", sa.Text, nullable=True),
    sa.Column("adresse", sa.String(128), nullable=True),
    sa.Index("ix_journal_acces_quand", "quand"),
)

#: Tables de l'accès : jamais prises en compte pour dire si une base est vide.
ACCESS_TABLES = frozenset({"sessions_agents", "tentatives_connexion", "journal_acces"})
#: Tables que la sauvegarde ne copie pas : une restauration ne ranime aucune session.
NOT_BACKED_UP = frozenset({"sessions_agents", "tentatives_connexion"})

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # WAL : un lecteur voit l'ancien lot ou le nouveau pendant un import, jamais un mélange,
    # et continue de lire pendant qu'un import écrit.
    # isolation_level=None : le pilote sqlite3 n'ouvre plus ses transactions lui-même
    # (il les ouvre trop tard et en mode DEFERRED) ; _sqlite_begin les ouvre à sa place.
    # https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#serializable-isolation-savepoints-transactional-ddl
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_begin(conn: Connection) -> None:
    # Les transactions d'écriture (storage.transaction) demandent BEGIN IMMEDIATE : le
    # verrou d'écriture est pris d'emblée, donc deux écrivains se mettent en file (attente
    # busy_timeout) au lieu de lire chacun un état puis d'échouer en voulant écrire.
    # Les lectures restent en BEGIN (DEFERRED) : elles ne bloquent personne.
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: str | None = None) -> Engine:
    """Crée le moteur SQLAlchemy.

    Parameters
    ----------
    url : str, optional
        URL de connexion ; par défaut ``OBSERVATOIRE_DB_URL`` ou la base SQLite sous ``data/``.

    Returns
    -------
    sqlalchemy.engine.Engine
    """
    url = url or settings().db_url
    if url.startswith("sqlite"):
        from observatoire.access import files

        path = files.sqlite_path(url)
        if path is not None:
            # Créée d'avance en 0600 : SQLite donne ensuite ses droits aux fichiers -wal
            # et -shm. Une base existante n'est pas touchée (« base initialiser » répare).
            files.ensure_private_file(path)
        engine = sa.create_engine(url, connect_args={"timeout": 30})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "begin", _sqlite_begin)
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def alembic_config(engine: Engine):
    """Configuration Alembic pointant sur les migrations du paquet et sur ``engine``."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # configparser interpole « % » : un mot de passe encodé (%40…) ou une option
    # d'URL (search_path%3D…) casserait la configuration sans ce doublement.
    cfg.set_main_option("sqlalchemy.url",
                        engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    cfg.attributes["engine"] = engine
    return cfg


def schema_revisions(engine: Engine) -> tuple[str | None, str]:
    """Révision Alembic de la base et révision la plus récente du code.

    Returns
    -------
    tuple
        ``(révision de la base ou None si vide, révision de tête des migrations)``.
    """
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    return current, head


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Crée ou met à niveau le schéma (``alembic upgrade head``).

    Parameters
    ----------
    engine : Engine
    revision : str, default "head"
        Révision cible (la restauration d'une sauvegarde remonte d'abord à la sienne).
    """
    from alembic import command

    if revision == "head":
        current, head = schema_revisions(engine)
        # Base déjà à jour : ne rien verrouiller. Chaque instance de l'application appelle
        # get_engine au démarrage ; la migration prend un verrou (env.py) qu'il est inutile
        # de disputer à un import en cours.
        if current == head:
            return
    command.upgrade(alembic_config(engine), revision)


_ENGINES: dict[str, Engine] = {}


def get_engine(url: str | None = None) -> Engine:
    """Moteur partagé du processus, schéma à jour garanti.

    Parameters
    ----------
    url : str, optional
        URL de connexion ; par défaut celle de la configuration.
    """
    url = url or settings().db_url
    if url not in _ENGINES:
        engine = make_engine(url)
        upgrade(engine)
        # Un arrêt brutal pendant un import a pu laisser un fichier d'archive sans lot :
        # on le retire au démarrage (sous verrou : un import en cours n'est pas touché).
        from observatoire.batches import sweep_archive

        sweep_archive(engine)
        _ENGINES[url] = engine
    return _ENGINES[url]


def reset_engines() -> None:
    """Oublie les moteurs partagés (tests, changement de configuration)."""
    for engine in _ENGINES.values():
        engine.dispose()
    _ENGINES.clear()


@contextlib.contextmanager
def transaction(engine: Engine | None = None) -> Iterator[Connection]:
    """Transaction d'écriture unique : tout est écrit, ou rien (rollback sur exception).

    Sur SQLite, la transaction s'ouvre en ``BEGIN IMMEDIATE`` : les écrivains se
    sérialisent dès le début, les lecteurs (WAL) continuent de lire la dernière version
    validée. Sur PostgreSQL, niveau READ COMMITTED ; les écritures qui doivent se
    sérialiser prennent un verrou consultatif avec :func:`lock`.
    """
    engine = engine or get_engine()
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            yield conn


def lock_key(*parts: object) -> int:
    """Clé entière signée sur 64 bits, stable d'un processus à l'autre, pour ``parts``."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock(conn: Connection, *parts: object) -> None:
    """Verrou exclusif jusqu'à la fin de la transaction de ``conn``, nommé par ``parts``.

    Sur PostgreSQL, ``pg_advisory_xact_lock`` : contrairement à ``SELECT … FOR UPDATE``,
    il verrouille aussi ce qui n'existe pas encore (le premier lot d'un couple
    contributeur-année). Sur SQLite, rien à faire : :func:`transaction` tient déjà le
    verrou d'écriture de toute la base.

    Parameters
    ----------
    conn : Connection
        Connexion dans une transaction ouverte par :func:`transaction`.
    *parts
        Ce que l'on verrouille, par exemple ``("lots", contributeur, annee)``.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key(*parts)})


def get_meta(conn: Connection, cle: str) -> str | None:
    """Valeur de la table ``meta`` pour ``cle``, ou None."""
    return conn.execute(sa.select(meta.c.valeur).where(meta.c.cle == cle)).scalar_one_or_none()


def set_meta(conn: Connection, cle: str, valeur: str | None) -> None:
    """Écrit (ou efface si ``valeur`` est None) une entrée de ``meta``."""
    conn.execute(sa.delete(meta).where(meta.c.cle == cle))
    if valeur is not None:
        conn.execute(sa.insert(meta).values(cle=cle, valeur=valeur))


def current_values(
    engine: Engine | None = None,
    annees: Iterable[int] | None = None,
    indicateurs: Iterable[str] | None = None,
    contributeurs: Iterable[str] | None = None,
    departement: str | None = None,
) -> pd.DataFrame:
    """Valeurs des lots courants.

    Parameters
    ----------
    engine : Engine, optional
    annees, indicateurs, contributeurs : iterable, optional
        Filtres ; None = pas de filtre.
    departement : str, optional
        Ne garder que les communes de ce département (code INSEE commençant par son
        code) et les valeurs non localisées. Filtré par la base : dans une base
        nationale, l'analyse d'un département ne lit pas les 35 000 communes.

    Returns
    -------
    pandas.DataFrame
        Colonnes ``annee``, ``contributeur``, ``indicateur``, ``code_insee`` (None pour
        le non localisé), ``valeur`` (entier, ``<NA>`` si masqué), ``masque`` (bool),
        ``lot_id``. Une ligne par valeur stockée.
    """
    engine = engine or get_engine()
    v, lt = valeurs, lots
    q = (
        sa.select(
            lt.c.annee, lt.c.contributeur, v.c.indicateur, v.c.code_insee,
            v.c.valeur, v.c.masque, v.c.lot_id,
        )
        .select_from(v.join(lt, v.c.lot_id == lt.c.id))
        .where(lt.c.courant.is_(True))
    )
    if annees is not None:
        q = q.where(lt.c.annee.in_([int(a) for a in annees]))
    if indicateurs is not None:
        q = q.where(v.c.indicateur.in_(list(indicateurs)))
    if contributeurs is not None:
        q = q.where(lt.c.contributeur.in_(list(contributeurs)))
    if departement:
        if not str(departement).isalnum():
            raise ObservatoireError(f"Code de département invalide : « {departement} ».")
        q = q.where(sa.or_(v.c.code_insee.is_(None), v.c.code_insee.like(f"{departement}%")))
    with engine.connect() as conn:
        # Lecture brute du curseur : à l'échelle nationale (des centaines de milliers de
        # valeurs par indicateur et par année), les objets Row coûtaient plus que la
        # requête. Les types sont rétablis ci-dessous (SQLite rend les booléens en 0/1).
        rows = conn.execute(q).cursor.fetchall()
        df = pd.DataFrame(rows, columns=["annee", "contributeur", "indicateur", "code_insee",
                                         "valeur", "masque", "lot_id"])
    df["valeur"] = df["valeur"].astype("Int64")
    df["masque"] = df["masque"].astype(bool)
    df["annee"] = df["annee"].astype(int)
    return df
