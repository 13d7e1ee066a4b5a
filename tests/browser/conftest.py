"""Application lancée pour de vrai sur 127.0.0.1 et pilotée par Chromium (playwright).

Ignorés avec leur raison sans ``/usr/bin/chromium`` (paquet Debian ``chromium``), sans
le paquet python ``playwright`` ou sans ``../shared`` ; ``OBSERVATOIRE_EXIGER_NAVIGATEUR=1``
(posé par ``.ci/run``) change l'absence du navigateur en échec. ``OBSERVATOIRE_CHROMIUM`` désigne
un autre exécutable. Les captures d'écran vont dans ``build/screenshots/``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import copier_demo, shared_path

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "screenshots"
CHROMIUM = os.environ.get("OBSERVATOIRE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
PASSWORD = "mot de passe de test"


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(env, *args):
    out = subprocess.run([sys.executable, "-m", "observatoire", *args], env=env,
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr


class Server:
    """Une instance de l'application sur son propre dossier de données.

    Lancée comme ``make app`` (``app.py`` : carte d'ouverture calculée au démarrage).
    ``contours=False`` : installation neuve, sans contours importés (contours simplifiés
    livrés avec l'application).
    """

    def __init__(self, base: Path, demo: bool, contours: bool = True,
                 extra_env: dict | None = None, reference: Path | None = None):
        data = base / "data"
        if reference is not None:
            # Démonstration et diffusions déjà préparées une fois pour la session.
            copier_demo(reference, base)
            contours = demo = False
        else:
            data.mkdir(parents=True)
        self.env = dict(os.environ, OBSERVATOIRE_DATA_DIR=str(data),
                        OBSERVATOIRE_DB_URL=f"sqlite:///{data / 'observatoire.db'}",
                        OBSERVATOIRE_COMPTES=str(base / "comptes.toml"), **(extra_env or {}))
        if contours:
            communes = shared_path("geo", "pas-de-calais", "communes-62-pas-de-calais.geojson")
            _run(self.env, "referentiel", "importer", str(communes))
        if demo:
            _run(self.env, "demo")
        out = subprocess.run([sys.executable, "-m", "observatoire", "comptes", "ajouter",
                              "agent", "--role", "administrateur", "--mot-de-passe-stdin"],
                             env=self.env, input=PASSWORD + "\n", capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(base / "streamlit.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
             "--server.port", str(self.port), "--server.address", "127.0.0.1",
             "--server.headless", "true", "--server.fileWatcherType", "none",
             "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError("L'application n'a pas démarré en 90 s.")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@pytest.fixture(scope="session")
def browser():
    required = os.environ.get("OBSERVATOIRE_EXIGER_NAVIGATEUR") == "1"
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        reason = f"{CHROMIUM} absent : installez le paquet Debian chromium"
        if required:
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        from playwright import sync_api
    except ImportError:
        if required:
            pytest.fail("paquet python playwright absent")
        pytest.skip("paquet python playwright absent")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory, browser, demo_reference):
    server = Server(tmp_path_factory.mktemp("demo"), demo=True, reference=demo_reference)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def real_server(tmp_path_factory, browser):
    server = Server(tmp_path_factory.mktemp("reel"), demo=False)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def fresh_server(tmp_path_factory, browser):
    """Installation neuve : ni contours importés, ni données."""
    server = Server(tmp_path_factory.mktemp("neuve"), demo=False, contours=False)
    yield server
    server.stop()


def new_page(browser, width: int = 1500, height: int = 1400):
    """Page d'un nouveau contexte (nouvelle session) ; téléphone sous 500 px de large."""
    phone = width < 500
    # bypass_csp : les tests lisent la page par des expressions JavaScript, que la CSP de
    # l'application refuse (pas d'« unsafe-eval ») ; la CSP elle-même est vérifiée par
    # test_access_browser.test_security_headers_keep_the_map_and_hide_metrics.
    context = browser.new_context(viewport={"width": width, "height": height}, locale="fr-FR",
                                  is_mobile=phone, has_touch=phone,
                                  device_scale_factor=2 if phone else 1, bypass_csp=True)
    pg = context.new_page()
    pg.set_default_timeout(90_000)
    return pg


@pytest.fixture
def page(browser):
    pg = new_page(browser)
    yield pg
    pg.context.close()


def screenshot(pg, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    pg.screenshot(path=str(path), full_page=True)
    return path
