"""Routes HTTP de la session et en-têtes de sécurité (application ASGI appelée directement).

Le parcours complet dans un vrai navigateur est dans tests/browser/test_access_browser.py.
"""

from __future__ import annotations

import asyncio
import http.cookies
import threading

import pytest

from observatoire import access, auth
from observatoire.access import sessions, web


def asgi_app():
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def page(request):
        response = PlainTextResponse("page")
        response.set_cookie("_streamlit_xsrf", "2|aa|bb|1", samesite="strict")
        return response

    opts = web.app_options()
    extra = [Route("/_stcore/metrics", page), Route("/_stcore/agent/mcp", page),
             Route("/connexion", page)]
    return Starlette(routes=opts["routes"] + extra, middleware=opts["middleware"])


def get(path, query="", cookies=None, scheme="http", client="127.0.0.1", extra=()):
    headers = [(b"host", b"observatoire.test"), *extra]
    if cookies:
        headers.append((b"cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()).encode()))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": scheme, "path": path, "raw_path": path.encode(), "root_path": "",
             "query_string": query.encode(), "headers": headers, "client": (client, 5555),
             "server": ("observatoire.test", 443 if scheme == "https" else 80)}
    messages = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        messages.append(message)

    # Dans un fil à lui : une boucle d'événements peut déjà tourner dans ce fil (AppTest).
    errors = []

    def call():
        try:
            asyncio.run(asgi_app()(scope, receive, send))
        except BaseException as exc:  # noqa: BLE001  (relancée dans le fil du test)
            errors.append(exc)

    worker = threading.Thread(target=call)
    worker.start()
    worker.join()
    if errors:
        raise errors[0]
    start = next(m for m in messages if m["type"] == "http.response.start")
    headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in start["headers"]]
    return start["status"], headers


def header(headers, name):
    return [v for k, v in headers if k == name]


def session_cookie(headers):
    for value in header(headers, "set-cookie"):
        if value.startswith(sessions.COOKIE_NAME + "="):
            return value
    return None


@pytest.fixture
def jeton(engine):
    auth.add_account("marie", "phrase de passe solide", "agent")
    lien = sessions.binding(None, "127.0.0.1")
    ref, jeton = sessions.open_session("marie", "agent", "local", adresse="local", lien=lien,
                                       suite="/valeurs-exactes")
    return ref, jeton


def test_exchange_sets_an_httponly_strict_cookie_and_redirects(jeton):
    ref, token = jeton
    status, headers = get("/_observatoire/session", f"jeton={token}")
    assert status == 303 and header(headers, "location") == ["/valeurs-exactes"]
    cookie = session_cookie(headers)
    morsel = http.cookies.SimpleCookie(cookie)[sessions.COOKIE_NAME]
    assert morsel["httponly"] and morsel["samesite"].lower() == "strict"
    assert not morsel["secure"]  # HTTP en local (cookie_secure = "auto")
    assert morsel["path"] == "/"
    assert 0 <= access.policy().duree_session.total_seconds() - int(morsel["max-age"]) <= 2
    assert header(headers, "cache-control") == ["no-store"]
    assert header(headers, "referrer-policy") == ["no-referrer"]
    assert sessions.from_cookie(morsel.value) == ref
    # Rejouer le lien (historique, journal du proxy) : plus de cookie.
    status, headers = get("/_observatoire/session", f"jeton={token}")
    assert status == 303 and header(headers, "location") == ["/connexion"]
    assert session_cookie(headers) is None


def test_secure_behind_https_and_when_forced(jeton, monkeypatch):
    ref, token = jeton
    _status, headers = get("/_observatoire/session", f"jeton={token}", scheme="https")
    assert http.cookies.SimpleCookie(session_cookie(headers))[sessions.COOKIE_NAME]["secure"]
    assert header(headers, "strict-transport-security") == [web.HSTS]
    monkeypatch.setattr(access, "policy", lambda: access.Policy(cookie_secure="toujours"))
    assert web.cookie_secure(False)
    monkeypatch.setattr(access, "policy", lambda: access.Policy(cookie_secure="jamais"))
    assert not web.cookie_secure(True)


def test_token_from_another_browser_is_refused(jeton):
    _ref, token = jeton
    # Lié au cookie anti-CSRF du navigateur qui s'est connecté (ici : aucun, donc à
    # l'adresse) : présenté depuis une autre adresse, refusé.
    status, headers = get("/_observatoire/session", f"jeton={token}", client="198.51.100.7")
    assert status == 303 and session_cookie(headers) is None


def test_logout_route_ends_the_session_and_clears_the_cookie(jeton):
    ref, token = jeton
    _s, headers = get("/_observatoire/session", f"jeton={token}")
    value = http.cookies.SimpleCookie(session_cookie(headers))[sessions.COOKIE_NAME].value
    status, headers = get("/_observatoire/sortie", cookies={sessions.COOKIE_NAME: value})
    assert status == 303 and header(headers, "location") == ["/connexion"]
    cleared = http.cookies.SimpleCookie(session_cookie(headers))[sessions.COOKIE_NAME]
    assert cleared.value == "" and cleared["max-age"] == "0"
    assert sessions.check(ref) == "déconnexion"
    assert sessions.from_cookie(value) is None


def test_security_headers_metrics_and_xsrf_cookie():
    status, headers = get("/connexion")
    assert status == 200
    for name, value in web.SECURITY_HEADERS.items():
        assert header(headers, name.lower()) == [value]
    assert "frame-ancestors 'self'" in web.CSP and "'unsafe-eval'" not in web.CSP
    assert header(headers, "strict-transport-security") == []
    xsrf = [v for v in header(headers, "set-cookie") if v.startswith("_streamlit_xsrf")]
    assert "Secure" not in xsrf[0]
    _s, headers = get("/connexion", scheme="https")
    xsrf = [v for v in header(headers, "set-cookie") if v.startswith("_streamlit_xsrf")]
    assert xsrf[0].endswith("; Secure")
    # Métriques et API « agent » : introuvables hors de la machine elle-même.
    assert get("/_stcore/metrics", client="203.0.113.5")[0] == 404
    assert get("/_stcore/agent/mcp", client="203.0.113.5")[0] == 404
    assert get("/_stcore/metrics", client="127.0.0.1")[0] == 200


def test_deployment_doc_carries_the_same_policy():
    from observatoire.config import ROOT

    doc = (ROOT / "docs" / "deploiement.md").read_text(encoding="utf-8")
    assert web.CSP in doc
    for needle in ("/_stcore/metrics", "Strict-Transport-Security", "X-Frame-Options",
                   "proxy_cookie_flags", "--mot-de-passe-stdin", "FORWARDED_ALLOW_IPS"):
        assert needle in doc, needle


def test_logout_link_from_another_site_does_nothing(jeton):
    ref, token = jeton
    _s, headers = get("/_observatoire/session", f"jeton={token}")
    value = http.cookies.SimpleCookie(session_cookie(headers))[sessions.COOKIE_NAME].value
    status, headers = get("/_observatoire/sortie", cookies={sessions.COOKIE_NAME: value},
                          extra=[(b"sec-fetch-site", b"cross-site")])
    assert status == 303 and session_cookie(headers) is None
    assert sessions.check(ref) is None
