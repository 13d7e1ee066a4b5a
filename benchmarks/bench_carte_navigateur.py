"""Page Carte dans Chromium, côte à côte avec une page folium naïve des mêmes communes.

Dans une seule exécution, sur une installation neuve (contours simplifiés livrés avec
l'application, démonstration chargée ; rien n'est écrit dans le dépôt) :

1. **première visite après le démarrage du serveur** : ``streamlit run serveur.py`` (notre
   page, ``make app``) et la page naïve, chacune sur un serveur neuf ; temps entre la
   demande de la page et les 887 communes dessinées (cible : < 3 s) ;
2. **visites suivantes** (nouvelle session, serveur chaud), alternées entre les deux pages :
   médiane des temps jusqu'aux 887 communes (cible : pas plus lent que la page naïve) ;
3. **changement de sélection** (année, indicateur, niveau, mesure), chaque fois une
   sélection jamais calculée, sans aucun préchauffage en arrière-plan : temps entre le
   clic sur l'option et la carte recolorée, légende comprise (cible : < 0,5 s) ;
4. **clic sur une commune** jusqu'au titre de sa fiche.

La page naïve est celle qu'on écrirait d'abord : ``folium.GeoJson`` de la même couche des
887 communes (infobulle du nom) dans ``st_folium``, Leaflet servi par l'application (hors
ligne, comme la nôtre).

Usage : ``python benchmarks/bench_carte_navigateur.py`` (``BENCH_REPETITIONS=5`` par
défaut ; demande ``/usr/bin/chromium`` et le paquet python ``playwright``).
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("OBSERVATOIRE_CHROMIUM", "/usr/bin/chromium")
N = int(os.environ.get("BENCH_REPETITIONS", "5"))
N_COMMUNES = 887

NAIVE = '''
import folium
import streamlit as st
from streamlit_folium import st_folium

from observatoire import referentiel

st.set_page_config(layout="wide")


@st.cache_resource
def communes():
    return referentiel.load_layer("commune", web=True).to_crs(4326)[["code", "nom", "geometry"]]


m = folium.Map(location=[50.5, 2.3], zoom_start=9, tiles=None)
# Hors ligne, comme notre page : Leaflet servi par l'application.
m.default_js = [("leaflet", "/app/static/leaflet/leaflet.js")]
m.default_css = [("leaflet_css", "/app/static/leaflet/leaflet.css")]
folium.GeoJson(communes(), tooltip=folium.GeoJsonTooltip(["nom"])).add_to(m)
st_folium(m, height=640, use_container_width=True, returned_objects=[])
'''

OURS_DONE = f"document.querySelectorAll('path.obs-commune').length >= {N_COMMUNES}"
NAIVE_DONE = f"document.querySelectorAll('path.leaflet-interactive').length >= {N_COMMUNES}"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Serveur:
    def __init__(self, script: Path, cwd: Path, env: dict):
        self.port = _port()
        self.url = f"http://127.0.0.1:{self.port}"
        journal = Path(env["OBSERVATOIRE_DATA_DIR"]).parent / f"streamlit-{self.port}.log"
        self.log = open(journal, "w")  # noqa: SIM115
        tic = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(script), "--server.port",
             str(self.port), "--server.address", "127.0.0.1", "--server.headless", "true",
             "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
            cwd=cwd, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2):
                    break
            except OSError:
                if time.perf_counter() - tic > 180:
                    raise RuntimeError("serveur non démarré en 180 s") from None
                time.sleep(0.1)
        self.demarrage = time.perf_counter() - tic

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def _visite(browser, url: str, done: str, in_frames: bool) -> float:
    ctx = browser.new_context(viewport={"width": 1440, "height": 900}, locale="fr-FR")
    pg = ctx.new_page()
    tic = time.perf_counter()
    pg.goto(url, wait_until="commit")
    deadline = tic + 120
    while time.perf_counter() < deadline:
        frames = pg.frames if in_frames else [pg.main_frame]
        ok = False
        for f in frames:
            try:
                ok = ok or f.evaluate(done)
            except Exception:  # noqa: BLE001  (cadre en cours de remplacement)
                pass
        if ok:
            break
        pg.wait_for_timeout(15)
    elapsed = time.perf_counter() - tic
    ctx.close()
    return elapsed


_ETAT = ("() => [Array.from(document.querySelectorAll('path.obs-commune'))"
         ".map(p => p.getAttribute('fill')).join('|'),"
         " (document.querySelector('.obs-legende-panneau') || {innerText: ''}).innerText]")

# Chronométrage dans la page : du pointeur posé sur l'option jusqu'à l'image où les
# couleurs des communes et la légende ont changé (sans le délai de pilotage de playwright).
_CHRONO = """(avant) => {
  window.__obsChrono = null;
  const etat = ETAT;
  document.addEventListener('pointerdown', () => {
    const t0 = performance.now();
    const suivre = () => {
      const s = etat();
      if (s[0] !== avant[0] && s[1] !== avant[1]) { window.__obsChrono = performance.now() - t0; }
      else { requestAnimationFrame(suivre); }
    };
    requestAnimationFrame(suivre);
  }, {capture: true, once: true});
}""".replace("ETAT", _ETAT)


def _changements(browser, url: str) -> tuple[list[tuple[str, float]], float]:
    ctx = browser.new_context(viewport={"width": 1440, "height": 1400}, locale="fr-FR")
    pg = ctx.new_page()
    pg.goto(url)
    pg.wait_for_function(OURS_DONE, timeout=120_000)
    pg.wait_for_timeout(1500)
    out = []
    essais = [("Année", "2023"), ("Indicateur", "Faits de violences intrafamiliales constatés"),
              ("Année", "2022"), ("Niveau", "EPCI (intercommunalités)"),
              ("Mesure", "Taux brut pour 1 000 hab."), ("Niveau", "Arrondissements"),
              ("Indicateur", "Victimes de VIF accompagnées"), ("Niveau", "Communes")]
    for label, option in essais:
        pg.locator("[data-testid='stSelectbox']").filter(has_text=label).first.click()
        opt = pg.get_by_role("option", name=option, exact=True)
        opt.wait_for()
        pg.evaluate(_CHRONO, pg.evaluate(_ETAT))
        opt.click()
        pg.wait_for_function("window.__obsChrono !== null", timeout=60_000)
        out.append((f"{label} → {option}", pg.evaluate("window.__obsChrono") / 1000))
        pg.wait_for_timeout(400)
    # Clic sur une commune au centre de la carte, jusqu'au titre de sa fiche.
    pg.evaluate("window.scrollTo(0, 0)")
    box = pg.locator(".obs-carte-map").bounding_box()
    code = pg.evaluate("""([x, y]) => {
        const el = document.elementFromPoint(x, y);
        const m = el && el.getAttribute('class') && el.getAttribute('class').match(/obs-c-(\\w+)/);
        return m ? m[1] : null; }""", [box["x"] + box["width"] * 0.45,
                                        box["y"] + box["height"] * 0.55])
    tic = time.perf_counter()
    pg.mouse.click(box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.55)
    pg.locator("h1").filter(has_text=f"({code})" if code else "(").first.wait_for(
        timeout=60_000)
    fiche = time.perf_counter() - tic
    ctx.close()
    return out, fiche


def main() -> None:
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} absent : benchmark ignoré (paquet Debian chromium).")
        return
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("paquet python playwright absent : benchmark ignoré.")
        return
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = tmp / "data"
        data.mkdir()
        env = dict(os.environ, OBSERVATOIRE_DATA_DIR=str(data),
                   OBSERVATOIRE_DB_URL=f"sqlite:///{data / 'observatoire.db'}",
                   OBSERVATOIRE_COMPTES=str(tmp / "comptes.toml"))
        subprocess.run([sys.executable, "-m", "observatoire", "demo"], env=env, check=True,
                       capture_output=True, cwd=ROOT)
        naive_dir = tmp / "naive"
        (naive_dir / ".streamlit").mkdir(parents=True)
        shutil.copy(ROOT / ".streamlit" / "config.toml", naive_dir / ".streamlit")
        (naive_dir / "static").symlink_to(ROOT / "observatoire" / "static")
        (naive_dir / "naive.py").write_text(NAIVE, encoding="utf-8")
        ours = (ROOT / "serveur.py", ROOT, OURS_DONE, False)
        naive = (naive_dir / "naive.py", naive_dir, NAIVE_DONE, True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--headless", "--no-sandbox", "--disable-gpu"])
            premiere = {}
            for nom, (script, cwd, done, frames) in (("nôtre", ours), ("naïve", naive)):
                srv = Serveur(script, cwd, env)
                premiere[nom] = (srv.demarrage, _visite(browser, srv.url, done, frames))
                srv.stop()
            srv_ours, srv_naive = Serveur(*ours[:2], env), Serveur(*naive[:2], env)
            try:
                _visite(browser, srv_naive.url, NAIVE_DONE, True)  # caches de la page naïve
                temps = {"nôtre": [], "naïve": []}
                for _ in range(N):
                    temps["nôtre"].append(_visite(browser, srv_ours.url, OURS_DONE, False))
                    temps["naïve"].append(_visite(browser, srv_naive.url, NAIVE_DONE, True))
                srv_naive.stop()
                srv_naive = None
                changements, fiche = _changements(browser, srv_ours.url)
            finally:
                srv_ours.stop()
                if srv_naive is not None:
                    srv_naive.stop()
            browser.close()
    charge = os.getloadavg()[0]
    med = {k: statistics.median(v) for k, v in temps.items()}
    print(f"Carte dans Chromium (1440 × 900), {N_COMMUNES} communes, charge de la machine "
          f"{charge:.1f} pour {os.cpu_count()} cœurs")
    print("1. Première visite après le démarrage du serveur (jusqu'aux communes dessinées)")
    for nom, (dem, vis) in premiere.items():
        print(f"  page {nom:5} : {vis:5.2f} s  (serveur prêt en {dem:.1f} s)")
    print(f"  cible < 3 s : {'atteinte' if premiere['nôtre'][1] < 3 else 'MANQUÉE'}")
    print(f"2. Visites suivantes, {N} alternées (médiane, min – max)")
    for nom, v in temps.items():
        print(f"  page {nom:5} : {med[nom]:5.2f} s  ({min(v):.2f} – {max(v):.2f})")
    print(f"  rapport nôtre / naïve : {med['nôtre'] / med['naïve']:.2f} (cible ≤ 1)")
    print("3. Changements de sélection jamais calculés, sans préchauffage")
    for quoi, t in changements:
        print(f"  {quoi:55} : {t:5.2f} s")
    vals = [t for _, t in changements]
    print(f"  médiane {statistics.median(vals):.2f} s, max {max(vals):.2f} s (cible < 0,5 s)")
    print(f"4. Clic sur une commune → titre de sa fiche : {fiche:.2f} s")


if __name__ == "__main__":
    main()
