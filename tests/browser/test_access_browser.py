"""Accès des agents dans un vrai navigateur : session serveur, cookie, verrouillage.

- la session survit au rechargement et aux nouveaux onglets ; la déconnexion la termine
  côté serveur : le cookie rejoué, forgé ou inventé ne donne que la vue publique ;
- le cookie est HttpOnly (invisible au JavaScript de la page) et SameSite=Strict ;
- le verrouillage après des échecs tient à travers les rechargements et les nouvelles
  sessions du navigateur (il est en base), jusqu'au déverrouillage par un administrateur
  sur la page Comptes ;
- la politique de sécurité du contenu ne casse pas la carte, et les métriques sont
  introuvables pour un client venu par le proxy.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.browser.conftest import PASSWORD, ROOT, Server, screenshot

COOKIE = "observatoire_session"


def login(pg, url, ident, password, *, path="/connexion"):
    pg.goto(f"{url}{path}")
    pg.get_by_label("Identifiant").fill(ident)
    pg.get_by_label("Mot de passe").fill(password)
    pg.get_by_role("button", name="Se connecter").click()


def session_cookie(context):
    found = [c for c in context.cookies() if c["name"] == COOKIE]
    return found[0] if found else None


def journal(server, *actions):
    args = [sys.executable, "-m", "observatoire", "comptes", "journal", "--json", "--agent",
            "agent", "--mot-de-passe-stdin", *[a for action in actions
                                               for a in ("--action", action)]]
    out = subprocess.run(args, env=server.env, input=PASSWORD + "\n", capture_output=True,
                         text=True, cwd=ROOT, start_new_session=True)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def new_page(browser, **kw):
    context = browser.new_context(viewport={"width": 1400, "height": 1200}, locale="fr-FR", **kw)
    pg = context.new_page()
    pg.set_default_timeout(90_000)
    return context, pg


def test_session_survives_reloads_and_logout_ends_it_on_the_server(demo_server, browser):
    context, pg = new_page(browser)
    # Une page d'agent demandée sans session : connexion, puis retour sur cette page.
    login(pg, demo_server.url, "agent", PASSWORD, path="/valeurs-exactes")
    pg.get_by_role("heading", name="Valeurs exactes").wait_for()
    assert pg.url.endswith("/valeurs-exactes")
    cookie = session_cookie(context)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["expires"] > 0
    assert not cookie["secure"]  # HTTP sur la boucle locale ; Secure derrière HTTPS
    assert COOKIE not in pg.evaluate("document.cookie")  # invisible au JavaScript
    pg.reload()
    pg.get_by_role("heading", name="Valeurs exactes").wait_for()
    other = context.new_page()
    other.set_default_timeout(90_000)
    other.goto(f"{demo_server.url}/importer")
    other.get_by_text("Importer un fichier de contributeur").wait_for()
    screenshot(pg, "acces_session_apres_rechargement")
    seen = journal(demo_server, "consultation")
    assert any(e["qui"] == "agent" and e["canal"] == "application"
               and e["quoi"].startswith("Valeurs exactes :") for e in seen)

    pg.goto(f"{demo_server.url}/connexion")
    pg.get_by_role("button", name="Se déconnecter").click()
    pg.get_by_label("Identifiant").wait_for()
    for _ in range(100):  # le navigateur passe par la route qui efface le cookie
        if session_cookie(context) is None:
            break
        pg.wait_for_timeout(100)
    assert session_cookie(context) is None
    other.reload()  # l'autre onglet perd aussi l'accès : la session est finie en base
    other.get_by_text("Espace agents : connexion").wait_for()
    context.close()

    stale = {k: cookie[k] for k in ("name", "value", "domain", "path")}
    payload, stamp, signature = cookie["value"].split(".")
    forged = payload + "." + stamp + "." + signature[::-1]
    for value in (cookie["value"], forged, "inventé", payload):
        context, pg = new_page(browser)
        context.add_cookies([{**stale, "value": value}])
        pg.goto(f"{demo_server.url}/importer")
        pg.get_by_text("Espace agents : connexion").wait_for()
        assert pg.locator("input[type=file]").count() == 0
        context.close()
    ends = journal(demo_server, "fin_session")
    assert any(e["qui"] == "agent" and "déconnexion" in e["quoi"] for e in ends)


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory, browser):
    """Serveur dont le compte se verrouille au 3e échec (10 minutes)."""
    base = tmp_path_factory.mktemp("verrou")
    config = (ROOT / "config" / "territoire.toml").read_text(encoding="utf-8")
    config = (config.replace("echecs_verrouillage = 10", "echecs_verrouillage = 3")
              .replace("verrouillage_minutes = 15", "verrouillage_minutes = 10"))
    assert "echecs_verrouillage = 3" in config
    (base / "territoire.toml").write_text(config, encoding="utf-8")
    server = Server(base, demo=False,
                    extra_env={"OBSERVATOIRE_CONFIG": str(base / "territoire.toml")})
    out = subprocess.run([sys.executable, "-m", "observatoire", "comptes", "ajouter", "cible",
                          "--agent", "agent", "--mot-de-passe-stdin"], env=server.env,
                         input=f"{PASSWORD}\nphrase secrete du compte\n", capture_output=True,
                         text=True, cwd=ROOT, start_new_session=True)
    assert out.returncode == 0, out.stderr
    yield server
    server.stop()


def test_lockout_holds_across_reloads_and_new_browser_sessions(strict_server, browser):
    url = strict_server.url
    context, pg = new_page(browser)
    for attempt in range(3):
        login(pg, url, "cible", f"mauvais mot de passe {attempt}")
        pg.get_by_text("Identifiant ou mot de passe incorrect").wait_for()
    pg.get_by_text("la connexion est verrouillée").wait_for()
    # Recharger la page (nouvelle session Streamlit) ne rend aucun essai.
    pg.reload()
    login(pg, url, "cible", "phrase secrete du compte")
    pg.get_by_text("connexion verrouillée pendant encore 10 minute").wait_for()
    assert session_cookie(context) is None
    context.close()
    # Un autre navigateur (aucun cookie, aucune session) non plus.
    context, pg = new_page(browser)
    login(pg, url, "cible", "phrase secrete du compte")
    pg.get_by_text("connexion verrouillée pendant encore").wait_for()
    screenshot(pg, "acces_verrouillage")
    assert pg.get_by_text("Connecté : cible").count() == 0
    context.close()
    actions = [e["action"] for e in journal(strict_server) if e["qui"] == "cible"]
    assert actions.count("échec de connexion") == 3
    assert "verrouillage" in actions and "essai refusé (délai ou verrouillage)" in actions

    # Un administrateur déverrouille sur la page Comptes.
    context, pg = new_page(browser)
    login(pg, url, "agent", PASSWORD)
    pg.get_by_text("Connecté : agent").first.wait_for()
    pg.get_by_role("link", name="Comptes", exact=True).click()
    pg.get_by_text("Connexions en attente ou verrouillées").wait_for()
    pg.get_by_role("button", name="Déverrouiller").click()
    pg.get_by_text("Aucun compte ni aucune adresse n'attend").wait_for()
    pg.get_by_text("Journal des accès").wait_for()
    screenshot(pg, "acces_comptes")
    context.close()
    context, pg = new_page(browser)
    login(pg, url, "cible", "phrase secrete du compte")
    pg.get_by_text("Connecté : cible").first.wait_for()
    context.close()
    assert "déverrouillage" in [e["action"] for e in journal(strict_server, "deverrouillage")]


def test_security_headers_keep_the_map_and_hide_metrics(demo_server, browser):
    context, pg = new_page(browser)
    violations = []
    pg.on("console", lambda m: violations.append(m.text)
          if "Content Security Policy" in m.text or "Refused to" in m.text else None)
    response = pg.goto(demo_server.url)
    assert "frame-ancestors 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    # La carte est dessinée dans la page (composant de Streamlit, code chargé en blob:) ;
    # on compte par un sélecteur, sans évaluer de JavaScript (la CSP le refuserait).
    for _ in range(240):
        if pg.locator("path.obs-commune").count() == 887:
            break
        pg.wait_for_timeout(500)
    else:
        raise AssertionError(f"la carte ne s'est pas affichée sous la CSP : {violations}")
    assert violations == []
    context.close()
    # Un client venu par un proxy (X-Forwarded-For, proxy de confiance d'uvicorn) ne voit
    # pas les métriques ; HTTPS annoncé par le proxy : HSTS.
    context, pg = new_page(browser, extra_http_headers={
        "X-Forwarded-For": "203.0.113.50", "X-Forwarded-Proto": "https"})
    assert pg.goto(f"{demo_server.url}/_stcore/metrics").status == 404
    response = pg.goto(f"{demo_server.url}/_stcore/health")
    assert response.headers.get("strict-transport-security", "").startswith("max-age=")
    context.close()
