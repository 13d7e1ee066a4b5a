"""Fixtures communes : base et dossier de données isolés, petites communes carrées."""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import box

from observatoire import config, storage

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"


def shared_path(*parts: str) -> Path:
    """Chemin sous ../shared, ou skip explicite quand il est absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} absent : les données partagées (../shared) ne sont pas disponibles")
    return path


def run_cli(capsys, *args):
    """Lance la CLI dans le processus : (code de sortie, stdout, stderr)."""
    from observatoire.cli import main

    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(autouse=True)
def isolated_data(tmp_path, monkeypatch):
    """Chaque test a son dossier de données et sa base SQLite : rien n'écrit dans le dépôt."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    monkeypatch.setenv("OBSERVATOIRE_DATA_DIR", str(data_dir))
    # Comptes d'agents isolés aussi : aucun test n'écrit dans ~/.config/observatoire.
    monkeypatch.setenv("OBSERVATOIRE_COMPTES", str(tmp_path / "comptes.toml"))
    monkeypatch.delenv("OBSERVATOIRE_AGENT", raising=False)
    monkeypatch.delenv("OBSERVATOIRE_CLE_SESSION", raising=False)
    if not getattr(isolated_data, "keep_db_url", False):
        monkeypatch.setenv("OBSERVATOIRE_DB_URL", f"sqlite:///{data_dir / 'observatoire.db'}")
    config.settings.cache_clear()
    storage.reset_engines()
    yield data_dir
    storage.reset_engines()
    config.settings.cache_clear()


#: Mot de passe des comptes créés par la fixture ``agent``.
AGENT_PASSWORD = "phrase de passe des tests"
#: Options qui authentifient une commande avec le compte de la fixture ``agent`` (le mot de
#: passe est lu sur l'entrée standard : ``input=AGENT_PASSWORD + "\n"``).
AGENT_OPTIONS = ("--agent", "agent.test", "--mot-de-passe-stdin")


@pytest.fixture
def agent(isolated_data):
    """Compte administrateur « agent.test » (mot de passe :data:`AGENT_PASSWORD`)."""
    from observatoire import auth

    return auth.add_account("agent.test", AGENT_PASSWORD, "administrateur", "Agent de test")


def run_cli_input(capsys, monkeypatch, text: str, *args):
    """Comme :func:`run_cli`, avec ``text`` sur l'entrée standard."""
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    return run_cli(capsys, *args)


@pytest.fixture
def engine(isolated_data):
    """Moteur sur la base isolée du test, schéma à jour."""
    return storage.get_engine()


@pytest.fixture
def square_communes() -> gpd.GeoDataFrame:
    """Quatre communes carrées de 1 km en Lambert-93 (2 × 2), deux EPCI, un arrondissement."""
    x0, y0 = 650_000, 7_000_000
    cells = [(0, 0), (1, 0), (0, 1), (1, 1)]
    return gpd.GeoDataFrame(
        {
            "code_insee": ["99001", "99002", "99003", "99004"],
            "nom": ["Alpha", "Bêta", "Gamma", "Delta"],
            "epci": ["E1", "E1", "E2", "E2"],
            "arrondissement": ["991", "991", "991", "991"],
            "departement": ["99"] * 4,
            "population": [1000, 2000, 3000, 4000],
        },
        geometry=[box(x0 + i * 1000, y0 + j * 1000, x0 + (i + 1) * 1000, y0 + (j + 1) * 1000)
                  for i, j in cells],
        crs="EPSG:2154",
    )


# --- Deux moteurs : SQLite et PostgreSQL --------------------------------------------
# Les tests de stockage et d'ingestion demandent ``any_engine`` (ou ``backend``) pour
# tourner sur les deux bases. Le cas PostgreSQL est ignoré, avec sa raison, tant que
# OBSERVATOIRE_TEST_PG_URL n'est pas défini (.ci/run le définit).

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


@pytest.fixture(params=BACKENDS)
def backend(request, isolated_data, monkeypatch):
    """Nom du moteur du test (``sqlite`` ou ``postgresql``), déjà branché.

    ``OBSERVATOIRE_DB_URL`` pointe sur la base isolée du test : sur PostgreSQL, un schéma
    neuf du serveur de test, supprimé à la fin. Tout ce qui appelle
    ``storage.get_engine()`` sans argument travaille donc sur ce moteur.
    """
    from pg import SKIP_REASON, fresh_schema, pg_url

    if request.param == "sqlite":
        yield "sqlite"
        return
    if pg_url() is None:
        pytest.skip(SKIP_REASON)
    with fresh_schema() as url:
        monkeypatch.setenv("OBSERVATOIRE_DB_URL", url)
        config.settings.cache_clear()
        storage.reset_engines()
        yield "postgresql"
        # Rendre les connexions avant de supprimer le schéma.
        storage.reset_engines()


@pytest.fixture
def any_engine(backend):
    """Moteur à jour (migrations appliquées) sur SQLite puis sur PostgreSQL."""
    return storage.get_engine()


@pytest.fixture
def sans_contours_livres(monkeypatch):
    """Installation sans aucun contour : ni importés, ni simplifiés livrés avec l'application."""
    from observatoire.referentiel import simplifies

    monkeypatch.setattr(simplifies, "disponible", lambda departement: False)


def vue_publique(table, niveaux=("epci", "arrondissement", "departement"), seuil: int = 5,
                 indicateur: str = "v", annees=(2024,)):
    """Tables publiques d'une diffusion construite d'une table communale d'analyse.

    Le public ne lit que des diffusions : c'est ainsi qu'un test voit ce qu'il verrait.
    Renvoie ``{niveau: DataFrame}`` (lecture des tables publiques, :mod:`diffusion.lecture`).
    """
    from observatoire.diffusion import lecture
    from observatoire.diffusion.preparation import Reglages, diffuser, exactes, tables_periode

    m = exactes(table)
    tables = tables_periode(indicateur, list(annees), m, niveaux)
    res = diffuser(tables, reglages=Reglages(seuil=seuil))
    pub = {"annee": int(annees[-1]), "tables": res.tables, "seuil_secret": seuil}
    per = tables[0].cle.periode
    return {t.cle.niveau: lecture.table(pub, indicateur, per, t.cle.niveau) for t in tables}


@pytest.fixture(scope="session")
def demo_reference(tmp_path_factory):
    """Dossier de données de démonstration, préparé **une fois** pour toute la session.

    Contours réels du Pas-de-Calais importés, démonstration chargée et ses diffusions
    2022 à 2024 préparées, auditées et validées (``observatoire demo``, comme le ferait un
    utilisateur). Les tests en font une copie (:func:`copier_demo`) : préparer trois
    diffusions prend plus d'une minute, on ne le fait pas à chaque module.
    """
    import subprocess
    import sys

    communes = shared_path("geo", "pas-de-calais", "communes-62-pas-de-calais.geojson")
    base = tmp_path_factory.mktemp("demo-reference")
    data = base / "data"
    data.mkdir()
    env = dict(os.environ, OBSERVATOIRE_DATA_DIR=str(data),
               OBSERVATOIRE_DB_URL=f"sqlite:///{data / 'observatoire.db'}",
               OBSERVATOIRE_COMPTES=str(base / "comptes.toml"))
    env.pop("OBSERVATOIRE_AGENT", None)
    for args in (["referentiel", "importer", str(communes), "--millesime", "2018",
                  "--source", "IGN – ADMIN EXPRESS COG 2018"], ["demo"]):
        out = subprocess.run([sys.executable, "-m", "observatoire", *args], env=env,
                             capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
    return data


def copier_demo(reference: Path, destination: Path) -> Path:
    """Copie le dossier de démonstration de référence ; renvoie le dossier de données."""
    import shutil

    data = destination / "data"
    if data.exists():
        shutil.rmtree(data)
    shutil.copytree(reference, data)
    return data


def utiliser_demo(reference: Path, destination: Path, monkeypatch) -> Path:
    """Copie la démonstration de référence et y branche le processus (configuration,
    moteur de base) pour la durée du test ; renvoie le dossier de données."""
    from observatoire import config, storage

    data = copier_demo(reference, destination)
    monkeypatch.setenv("OBSERVATOIRE_DATA_DIR", str(data))
    monkeypatch.setenv("OBSERVATOIRE_DB_URL", f"sqlite:///{data / 'observatoire.db'}")
    config.settings.cache_clear()
    storage.reset_engines()
    return data
