"""L'application dans un vrai navigateur : carte, fiche, secret, accès agents, import."""

from __future__ import annotations

import csv
import io
import re

import pandas as pd

from tests.browser.conftest import PASSWORD, screenshot
from tests.conftest import shared_path

N_COMMUNES = 887
#: État de la carte de l'observatoire (composant de la page : carte.js, Observatoire.mount).
CARTE = "document.querySelector('.obs-carte').parentNode.__observatoire"


def map_ready(pg):
    """Attend les 887 communes dessinées dans la page (la carte n'est plus dans un cadre)."""
    pg.wait_for_function(
        f"document.querySelectorAll('path.obs-commune').length === {N_COMMUNES}",
        timeout=120_000)
    return pg


def map_state(pg):
    return pg.evaluate(
        "() => [Array.from(document.querySelectorAll('path.obs-commune'))"
        ".map(p => p.getAttribute('fill')).join('|'),"
        " (document.querySelector('.obs-legende-panneau') || {innerText: ''}).innerText]")


def tooltips(pg) -> str:
    """Textes des infobulles de toutes les communes."""
    return pg.evaluate(f"() => {CARTE}.polys.map(p => p.getTooltip().getContent()).join('\\n')")


def settle(pg):
    """Attend la fin de l'exécution du script (plus d'indicateur « Running… »)."""
    pg.wait_for_timeout(300)
    for _ in range(300):
        if pg.locator("[data-testid='stStatusWidget']").count() == 0:
            return
        pg.wait_for_timeout(200)


def choose(pg, label: str, option: str):
    pg.locator("[data-testid='stSelectbox']").filter(has_text=label).first.click()
    pg.get_by_role("option", name=option, exact=True).click()
    settle(pg)


def wait_change(pg, before):
    for _ in range(240):
        pg.wait_for_timeout(250)
        state = map_state(pg)
        if state[0] != before[0] and state[1] != before[1]:
            return state
    raise AssertionError("la carte n'a pas changé")


def test_map_one_polygon_per_commune_and_offline(demo_server, page):
    page.goto(demo_server.url)
    map_ready(page)
    assert page.locator("path.obs-commune").count() == N_COMMUNES
    assert "Légende" in page.locator(".obs-legende-panneau").get_attribute("aria-label")
    urls = page.evaluate("() => Array.from(document.querySelectorAll('script[src], "
                         "link[href]')).map(e => e.src || e.href)")
    external = [u for u in urls if u.startswith("http") and not u.startswith(demo_server.url)]
    assert external == [], external
    assert not [t for t in page.evaluate("() => Array.from(document.images).map(i => i.src)")
                if "tile" in t]
    assert page.locator("iframe").count() == 0  # la carte est dans la page elle-même
    screenshot(page, "carte")


def test_year_and_item_change_colours_and_legend(demo_server, page):
    page.goto(demo_server.url)
    map_ready(page)
    # Les communes ne sont dessinées qu'une fois : une nouvelle sélection les recolore.
    page.evaluate("() => { document.querySelector('path.obs-commune').__marque = 1; }")
    before = map_state(page)
    choose(page, "Année", "2022")
    after_year = wait_change(page, before)
    assert after_year[0] != before[0]
    assert after_year[1] != before[1] and "2022" in after_year[1]
    choose(page, "Indicateur", "Faits de violences intrafamiliales constatés")
    after_item = wait_change(page, after_year)
    assert after_item[0] != after_year[0]
    assert "Faits de violences intrafamiliales constatés" in after_item[1]
    assert page.evaluate("() => document.querySelector('path.obs-commune').__marque") == 1
    screenshot(page, "carte_faits_2022")
    choose(page, "Mesure", "Étiquette (révélatrice, blanche présumée…)")
    labels = wait_change(page, after_item)
    assert "révélatrice" in labels[1] and "blanche présumée" in labels[1]
    screenshot(page, "carte_etiquettes")


_CLICKABLE = """() => {
  // Une commune dont le centre n'est couvert ni par un contrôle ni par un marqueur.
  for (const p of document.querySelectorAll('path.obs-commune')) {
    const r = p.getBoundingClientRect();
    if (r.width < 12 || r.height < 12) continue;
    const x = r.left + r.width / 2, y = r.top + r.height / 2;
    if (x < 60 || y < 60 || x > innerWidth - 60 || y > innerHeight - 60) continue;
    if (document.elementFromPoint(x, y) === p) {
      return [p.getAttribute('class').match(/obs-c-(\\w+)/)[1], x, y];
    }
  }
  return null;
}"""


def click_commune(pg) -> str:
    pg.locator(".obs-carte-map").scroll_into_view_if_needed()
    target = None
    for _ in range(60):  # le cadrage initial peut encore être en cours
        target = pg.evaluate(_CLICKABLE)
        if target:
            break
        pg.wait_for_timeout(500)
    assert target, "aucune commune cliquable"
    pg.wait_for_timeout(500)
    code, x, y = pg.evaluate(_CLICKABLE)
    pg.mouse.click(x, y)
    return code


def test_click_commune_opens_its_fiche(demo_server, page):
    page.goto(demo_server.url)
    map_ready(page)
    code = click_commune(page)
    page.locator("h1").filter(has_text=f"({code})").first.wait_for()
    assert re.search(rf"/fiche\?.*code={code}", page.url), page.url
    page.get_by_text("Les chiffres au fil des années").wait_for()
    screenshot(page, "fiche")
    # Adresse stable : recharger (ou partager le lien) rouvre la même fiche.
    page.reload()
    page.locator("h1").filter(has_text=f"({code})").first.wait_for()
    assert "niveau=commune" in page.url


def test_public_page_never_shows_small_counts(demo_server, page):
    page.goto(demo_server.url)
    map_ready(page)
    shown = [int(n.replace("\u202f", "")) for n in re.findall(r"Effectif : ([\d\u202f]+)",
                                                               tooltips(page))]
    assert len(shown) > 100
    assert not [n for n in shown if 1 <= n <= 4]
    with page.expect_download() as dl:
        page.get_by_role("button", name="Télécharger le tableau (CSV)").click()
    text = open(dl.value.path(), encoding="utf-8").read()
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    assert len(rows) == N_COMMUNES
    effectifs = [r["effectif"] for r in rows]
    assert "secret" in effectifs
    numbers = [float(v.replace(",", ".")) for v in effectifs if v not in ("secret", "")]
    assert numbers and not [v for v in numbers if 1 <= v <= 4]
    taux = [r["taux_pour_1000"] for r in rows if r["taux_pour_1000"] not in ("secret", "")]
    assert taux and all(re.fullmatch(r"\d+,\d\d", t) for t in taux)  # virgule décimale
    # Le public lit une diffusion : ni choix des contributeurs ni combinaison d'années.
    assert page.locator('[data-testid="stMultiSelect"]').count() == 0
    annee = page.locator('[data-testid="stSelectbox"]').filter(has_text="Année")
    assert annee.count() == 1
    annee.click()
    # La liste s'ouvre après le clic : l'attendre avant de la lire.
    page.get_by_role("option").first.wait_for()
    options = [o.strip() for o in page.get_by_role("option").all_inner_texts()]
    page.keyboard.press("Escape")
    assert options and all(re.fullmatch(r"20\d\d", o) for o in options), options


def test_staff_page_without_login_shows_login(demo_server, page):
    for path in ("importer", "contributions", "registres"):
        page.goto(f"{demo_server.url}/{path}")
        page.get_by_text("Espace agents : connexion").wait_for()
        assert page.locator("input[type=file]").count() == 0
        assert page.locator("[data-testid='stDataFrame']").count() == 0
    screenshot(page, "connexion")


def _login(pg, server):
    pg.goto(f"{server.url}/connexion")
    pg.get_by_label("Identifiant").fill("agent")
    pg.get_by_label("Mot de passe").fill(PASSWORD)
    pg.get_by_role("button", name="Se connecter").click()
    pg.get_by_text("Connecté : agent").first.wait_for()


def test_import_flow_values_reach_the_map(real_server, page):
    sample = shared_path("samples", "contributions", "gendarmerie_faits_vif_2023.xlsx")
    expected = pd.read_csv(shared_path("samples", "contributions", "attendu",
                                       "gendarmerie_faits_vif_2023.csv"),
                           dtype={"code_insee": str})
    # La plus grande valeur dans le périmètre de la gendarmerie (registre : le reste des
    # zones de police) ; hors de lui, le lot ne dit rien des communes.
    from observatoire import catalogues

    zone = catalogues.codes_du_territoire(
        catalogues.get_contributeur("gendarmerie_62").territoire)
    top = expected[expected["code_insee"].isin(zone)].dropna(subset=["valeur"]).sort_values(
        "valeur").iloc[-1]
    _login(page, real_server)
    page.get_by_role("link", name="Importer").click()
    page.get_by_text("Importer un fichier de contributeur").wait_for()
    choose(page, "Contributeur", "Gendarmerie nationale – groupement du Pas-de-Calais")
    year = page.get_by_label("Année des données (N)")
    year.fill("2023")
    year.press("Enter")
    settle(page)
    # Outil de dépôt en français (Streamlit ne le traduit pas : CSS de l'application).
    button_text = page.evaluate("""() => getComputedStyle(document.querySelector(
        '[data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"] p'),
        '::after').content""")
    assert button_text == '"Choisir un fichier"'
    page.locator("input[type=file]").set_input_files(str(sample))
    try:
        page.get_by_text("3. Rapport de lecture").wait_for()
    except Exception:
        screenshot(page, "import_echec")
        raise
    screenshot(page, "import_rapport")
    # Taille du fichier déposé à la française (« 7,2 Ko », pas « 7.2KB »).
    taille = page.locator("[data-testid='stFileUploader']").inner_text()
    assert re.search(r"\d+(,\d)?\u00a0(Ko|Mo|octets)", taille) and "KB" not in taille, taille
    page.get_by_role("button", name="Enregistrer ce lot").click()
    page.get_by_text("Import terminé").wait_for()
    screenshot(page, "import_termine")
    # Le public ne lit que des diffusions validées : on prépare puis valide celle de 2023.
    page.get_by_role("link", name="Publication").click()
    annee = page.get_by_label("Année publiée (données de l'année N)")
    annee.fill("2023")
    annee.press("Enter")
    settle(page)
    page.get_by_role("button", name="Préparer la diffusion").click()
    page.get_by_text("3. Valider").wait_for(timeout=240_000)
    settle(page)
    page.get_by_text("J'ai relu la diffusion 2023").click()
    settle(page)
    page.get_by_role("button", name="Valider et publier").click()
    page.get_by_text("Diffusion 2023 version 1 validée").wait_for(timeout=120_000)
    screenshot(page, "diffusion_validee")
    page.get_by_role("link", name="Carte", exact=True).click()
    map_ready(page)
    tip = page.evaluate(f"() => {CARTE}.polys.find(p => p._obsUnit === '{top.code_insee}')"
                        ".getTooltip().getContent()")
    assert f"Effectif : {int(top['valeur'])}" in tip
    screenshot(page, "carte_import")


def test_staff_pages_tour(demo_server, page):
    _login(page, demo_server)
    pages = {"Campagne N": "Campagne", "Contributions": "Contributions reçues",
             "Base SSMSI": "Base communale du SSMSI",
             "Dispositifs et référents": "Dispositifs et référents",
             "Publication": "Publication", "Référentiel": "Référentiel géographique",
             "Comptes": "Comptes des agents"}
    for link, title in pages.items():
        page.get_by_role("link", name=link, exact=True).click()
        page.get_by_role("heading", name=re.compile(title)).first.wait_for()
        page.wait_for_timeout(1500)
        assert page.locator("[data-testid='stException']").count() == 0, link
        screenshot(page, "agents_" + re.sub(r"\W+", "_", link.lower()))
    page.get_by_role("link", name="Méthode", exact=True).click()
    page.wait_for_timeout(1500)
    assert page.locator("[data-testid='stException']").count() == 0
    screenshot(page, "methode")


def test_ssmsi_base_imported_from_the_app(real_server, page, tmp_path):
    from tests.test_ssmsi import write

    path = write(tmp_path, "new_csvgz")
    _login(page, real_server)
    page.get_by_role("link", name="Base SSMSI").click()
    page.get_by_role("heading", name="Base communale du SSMSI").wait_for()
    page.locator("input[type=file]").set_input_files(str(path))
    page.get_by_text("Rapport de lecture").wait_for()
    assert page.locator("[data-testid='stException']").count() == 0
    screenshot(page, "ssmsi_rapport")
    page.get_by_role("button", name="Enregistrer toutes ces années").click()
    page.get_by_text("Import terminé : 2 année(s) enregistrée(s).").wait_for()
    screenshot(page, "ssmsi_enregistre")
