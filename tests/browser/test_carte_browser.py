"""La carte publique telle qu'un élu la voit : installation neuve, mise en page, liens,
français, pages d'administration (Chromium, ordinateur 1440 × 900 et téléphone 390 × 844).
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.browser.conftest import PASSWORD, SCREENSHOTS, new_page
from tests.browser.test_app_browser import (
    CARTE,
    N_COMMUNES,
    choose,
    map_ready,
    map_state,
    settle,
    wait_change,
)

#: Textes anglais de Streamlit et de Leaflet qui ne doivent plus apparaître.
ANGLAIS = ["Skip to main content", "Collapse sidebar", "Expand sidebar", "Clear all",
           "Zoom in", "Zoom out", "Layers", "Full Screen", "Search...", "Page not found",
           "Choose an option", "Show/hide columns", "Download as CSV", "Help for",
           "App pages", "Link to heading"]


def capture(pg, name: str) -> None:
    """Capture de la fenêtre telle qu'elle est (1440 × 900 ou 390 × 844)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def login(pg, server, ident="agent"):
    pg.goto(f"{server.url}/connexion")
    pg.get_by_label("Identifiant").fill(ident)
    pg.get_by_label("Mot de passe").fill(PASSWORD)
    pg.get_by_role("button", name="Se connecter").click()
    pg.get_by_text(f"Connecté : {ident}").first.wait_for()


def aller(pg, lien: str) -> None:
    """Clique un lien du menu (sur téléphone, le menu replié s'ouvre d'abord)."""
    link = pg.get_by_role("link", name=lien, exact=True)
    dehors = link.evaluate("e => e.getBoundingClientRect().right <= 0")
    if dehors:
        pg.locator("[data-testid='stExpandSidebarButton']").click()
        pg.wait_for_function("e => e.getBoundingClientRect().left >= 0", arg=link.element_handle())
    link.click()


def box(pg, selector):
    return pg.locator(selector).first.bounding_box()


def english_left(pg) -> list[str]:
    texts = pg.evaluate("""() => {
      const out = [document.body.innerText];
      document.querySelectorAll('[aria-label],[title],[placeholder]').forEach(e =>
        ['aria-label', 'title', 'placeholder'].forEach(a => out.push(e.getAttribute(a) || '')));
      return out.join('\\n');
    }""")
    return [w for w in ANGLAIS if w in texts]


# --- 1. une carte sur une installation neuve, démonstration chargée puis effacée ----------

def test_fresh_install_map_then_demo_loaded_and_cleared_from_the_app(fresh_server, browser):
    pg = new_page(browser, 1440, 900)
    pg.goto(fresh_server.url)
    pg.get_by_text("Aucun chiffre n'est encore publié").wait_for()
    assert "observatoire " not in pg.locator("[data-testid='stMain']").inner_text()
    login(pg, fresh_server)
    pg.get_by_role("link", name="Démonstration", exact=True).click()
    pg.get_by_role("button", name="Charger la démonstration").click()
    pg.get_by_text("Démonstration chargée").wait_for(timeout=600_000)
    pg.get_by_role("link", name="Carte", exact=True).click()
    map_ready(pg)
    assert pg.locator("path.obs-commune").count() == N_COMMUNES
    pg.get_by_text("Contours simplifiés livrés avec l'application").first.wait_for()
    assert "Contours simplifiés" in pg.locator(".obs-legende-panneau").inner_text()
    capture(pg, "installation_neuve_carte")
    # Effacer la démonstration : confirmation, puis les dispositifs du plan restent.
    pg.get_by_role("link", name="Démonstration", exact=True).click()
    pg.get_by_text("rechargés comme registre réel").wait_for()
    bouton = pg.get_by_role("button", name="Effacer la démonstration")
    assert bouton.is_disabled()
    pg.get_by_text("Je confirme : effacer la démonstration").click()
    settle(pg)
    bouton.click()
    pg.get_by_text("Démonstration effacée").wait_for()
    pg.get_by_text("dispositifs du plan cadre sont gardés").wait_for()
    capture(pg, "demonstration_effacee")
    pg.get_by_role("link", name="Carte", exact=True).click()
    pg.get_by_text("Aucun chiffre n'est encore publié").wait_for()
    pg.context.close()


# --- 2. la carte est la page ------------------------------------------------------------

def test_layout_legend_beside_on_desktop_below_on_a_phone(demo_server, browser):
    pg = new_page(browser, 1440, 900)
    pg.goto(demo_server.url)
    map_ready(pg)
    carte, legende = box(pg, ".obs-carte-map"), box(pg, ".obs-legende-panneau")
    ensemble = box(pg, ".obs-carte")
    assert legende["x"] >= carte["x"] + carte["width"] - 1  # à côté, jamais dessus
    assert legende["y"] < carte["y"] + carte["height"]
    assert carte["width"] >= 0.7 * ensemble["width"] and carte["width"] > 700
    assert carte["y"] < 450  # la carte est visible sans faire défiler
    capture(pg, "carte_1440x900")
    pg.context.close()
    phone = new_page(browser, 390, 844)
    phone.goto(demo_server.url)
    map_ready(phone)
    carte, legende = box(phone, ".obs-carte-map"), box(phone, ".obs-legende-panneau")
    assert legende["y"] >= carte["y"] + carte["height"] - 1  # dessous
    assert carte["width"] >= 330 and legende["width"] >= 330
    capture(phone, "carte_390x844")
    # Sur un téléphone, le tableau devient une liste.
    assert not phone.locator(".st-key-carte_tableau_large").is_visible()
    phone.get_by_text("en liste, de la plus forte").click()
    phone.locator(".obs-liste li").first.wait_for()
    assert phone.locator(".obs-liste li").count() == N_COMMUNES
    phone.context.close()


def test_every_symbol_in_the_legend_referents_layer_popups_and_full_screen(demo_server,
                                                                            browser):
    pg = new_page(browser, 1440, 900)
    pg.goto(demo_server.url)
    map_ready(pg)
    legende = pg.locator(".obs-legende-panneau")
    groups = pg.evaluate(f"() => {CARTE}.overlays.map(o => [o[0], o[2]])")
    for nom, couche in groups:
        if couche.startswith("dispositif-"):
            abbr, lib = nom.split(" – ", 1)
            entree = legende.locator(f"[data-couche='{couche}']")
            assert entree.is_visible() and abbr in entree.inner_text()
            assert lib.rsplit(" (", 1)[0] in entree.inner_text()
    # Référents : couche discrète, éteinte par défaut, qu'on allume dans « Couches ».
    assert pg.locator("path.obs-referent").count() == 0
    assert not legende.locator("[data-couche='referents']").first.is_visible()
    assert "Couches masquées" in legende.inner_text()
    bouton = box(pg, ".leaflet-control-layers-toggle")
    pg.mouse.move(bouton["x"] + bouton["width"] / 2, bouton["y"] + bouton["height"] / 2)
    menu = pg.locator(".leaflet-control-layers-list")
    menu.wait_for()
    centre = menu.bounding_box()
    top = pg.evaluate("([x, y]) => !!document.elementFromPoint(x, y).closest("
                      "'.leaflet-control-layers')",
                      [centre["x"] + centre["width"] / 2, centre["y"] + centre["height"] / 2])
    assert top, "le menu des couches est recouvert"
    menu.get_by_text(re.compile("Communes avec référent VIF")).click()
    pg.wait_for_function("document.querySelectorAll('path.obs-referent').length > 0")
    assert pg.locator("path.obs-referent").count() == 92
    assert legende.locator("[data-couche='referents']").first.is_visible()
    pg.mouse.move(5, 5)
    # Une fenêtre de dispositif s'ouvre au-dessus de tout.
    cible = pg.evaluate("""() => {
      for (const m of document.querySelectorAll('.obs-dispositif')) {
        const r = m.getBoundingClientRect(), x = r.left + r.width / 2, y = r.top + r.height / 2;
        if (x > 80 && y > 80 && document.elementFromPoint(x, y).closest('.obs-dispositif') === m)
          return [x, y];
      }
      return null; }""")
    assert cible, "aucun marqueur de dispositif cliquable"
    pg.mouse.click(*cible)
    popup = pg.locator(".leaflet-popup-content").first
    popup.wait_for()
    b = popup.bounding_box()
    dessus = pg.evaluate("([x, y]) => !!document.elementFromPoint(x, y).closest("
                         "'.leaflet-popup')", [b["x"] + b["width"] / 2, b["y"] + b["height"] / 2])
    assert dessus, "la fenêtre du dispositif est recouverte"
    capture(pg, "carte_fenetre_dispositif")
    # Plein écran : carte et légende ensemble, carte recadrée sur le département.
    zoom_avant = pg.evaluate(f"() => {CARTE}.map.getZoom()")
    pg.locator(".leaflet-control-zoom-fullscreen").click()
    pg.wait_for_function("document.fullscreenElement || "
                         "document.querySelector('.leaflet-pseudo-fullscreen')")
    pg.wait_for_timeout(800)
    taille = box(pg, ".obs-carte-map")
    assert taille["height"] >= 800
    cadre = pg.evaluate(f"""() => {{ const S = {CARTE};
        return [S.map.getZoom(), S.map.getBounds().contains(L.latLngBounds(S.bounds))]; }}""")
    assert cadre[1] and cadre[0] >= zoom_avant
    assert box(pg, ".obs-legende-panneau")["x"] >= taille["x"] + taille["width"] - 1
    capture(pg, "carte_plein_ecran")
    pg.context.close()


# --- 5. des liens qui marchent ----------------------------------------------------------

def test_links_selection_in_the_address_stable_fiches_and_unknown_code(demo_server, page):
    page.goto(demo_server.url)
    map_ready(page)
    before = map_state(page)
    choose(page, "Année", "2023")
    wait_change(page, before)
    page.wait_for_function("location.search.includes('annee=2023')")
    assert "mesure=taux_lisse" in page.url and "niveau=commune" in page.url
    page.reload()
    map_ready(page)
    assert "2023" in page.locator(".obs-legende-panneau h4").inner_text()
    for niveau, code, titre in (("commune", "62119", "Béthune (62119)"),
                                ("epci", "246200364", "CA de Lens - Liévin (246200364)"),
                                ("arrondissement", "622", "Arrondissement de Béthune (622)")):
        page.goto(f"{demo_server.url}/fiche?niveau={niveau}&code={code}")
        page.locator("h1").filter(has_text=titre).wait_for()
        page.reload()
        page.locator("h1").filter(has_text=titre).wait_for()
    page.goto(f"{demo_server.url}/fiche?niveau=commune&code=99999")
    page.get_by_text("Aucune fiche pour la commune de code « 99999 »").wait_for()
    page.get_by_role("link", name="Revenir à la carte").click()
    map_ready(page)


# --- 6. le français partout -------------------------------------------------------------

def test_french_everywhere(demo_server, page):
    page.goto(demo_server.url)
    map_ready(page)
    settle(page)
    assert page.evaluate("document.documentElement.lang") == "fr"
    assert page.title() == "Carte — Observatoire VIF — Pas-de-Calais"
    page.wait_for_timeout(500)
    assert english_left(page) == []
    zoom = page.locator(".leaflet-control-zoom-in")
    assert zoom.get_attribute("title") == "Zoom avant"
    assert page.locator(".leaflet-control-layers-toggle").get_attribute("aria-label").startswith(
        "Couches")
    legende = page.locator(".obs-legende-panneau").inner_text()
    assert re.search(r"\d,\d", legende) and not re.search(r"\d\.\d", legende)
    page.get_by_role("link", name="Méthode", exact=True).click()
    page.wait_for_function("document.title.startsWith('Méthode — Observatoire VIF')")
    page.goto(f"{demo_server.url}/fiche?niveau=arrondissement&code=621")
    page.locator("h1").filter(has_text="Arrondissement d'Arras").wait_for()
    page.wait_for_function("document.title === "
                           "'Fiche Arrondissement d\\'Arras — Observatoire VIF — Pas-de-Calais'")
    page.goto(f"{demo_server.url}/nimportequoi")
    page.get_by_text("Page introuvable").wait_for()
    page.wait_for_timeout(500)
    assert english_left(page) == []
    capture(page, "page_introuvable")


# --- 10. accessible ---------------------------------------------------------------------

#: Rapport de contraste (WCAG) de chaque texte visible avec le fond sur lequel il est écrit.
CONTRASTES = (Path(__file__).with_name("contrastes.js")).read_text(encoding="utf-8")


def test_accessible_contrast_focus_and_text_summary(demo_server, page):
    page.goto(demo_server.url)
    map_ready(page)
    settle(page)
    faibles = page.evaluate(CONTRASTES)
    assert faibles == [], faibles
    # Résumé de la carte pour les lecteurs d'écran : relié à la carte, en phrases.
    resume = page.evaluate("""() => { const m = document.querySelector('.obs-carte-map');
        return document.getElementById(m.getAttribute('aria-describedby')).textContent; }""")
    assert resume.startswith("Carte : ") and "887 communes" in resume
    assert page.locator(".obs-carte-map").get_attribute("aria-label").startswith(
        "Carte interactive")
    # Focus visible au clavier sur les contrôles de la carte.
    page.locator(".leaflet-control-zoom-in").focus()
    contour = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle + ' ' +"
                            " getComputedStyle(document.activeElement).outlineWidth")
    assert contour.startswith("solid") and not contour.endswith(" 0px"), contour
    page.goto(f"{demo_server.url}/fiche?niveau=commune&code=62119")
    page.get_by_text("Les chiffres au fil des années").wait_for()
    settle(page)
    assert page.evaluate(CONTRASTES) == []


# --- captures des pages principales, ordinateur et téléphone --------------------------

def test_screenshots_of_the_main_pages(demo_server, browser):
    for w, h in ((1440, 900), (390, 844)):
        pg = new_page(browser, w, h)
        pg.goto(demo_server.url)
        map_ready(pg)
        pg.wait_for_timeout(800)
        capture(pg, f"carte_{w}x{h}")
        pg.goto(f"{demo_server.url}/fiche?niveau=commune&code=62119")
        pg.get_by_text("Les chiffres au fil des années").wait_for()
        pg.wait_for_timeout(800)
        capture(pg, f"fiche_{w}x{h}")
        pg.goto(f"{demo_server.url}/methode")
        pg.get_by_text("L'essentiel").first.wait_for()
        capture(pg, f"methode_{w}x{h}")
        login(pg, demo_server)
        for lien, nom, attente in (("Importer", "importer", "Importer un fichier"),
                                   ("Publication", "publication", "1. Préparer la diffusion")):
            aller(pg, lien)
            pg.get_by_text(attente).first.wait_for()
            if w < 500 and pg.locator("[data-testid='stSidebarCollapseButton']").is_visible():
                pg.locator("[data-testid='stSidebarCollapseButton']").click()
            pg.wait_for_timeout(800)
            capture(pg, f"{nom}_{w}x{h}")
        pg.context.close()
