"""Routes HTTP de la session et en-têtes de sécurité, ajoutées au serveur de Streamlit.

Un script Streamlit parle au navigateur par WebSocket : il ne peut pas poser de cookie,
encore moins un cookie HttpOnly. ``st.login`` a le même problème et le résout par des
routes du serveur (``/auth/login``, ``/oauth2callback``) qui répondent en HTTP et posent
leur cookie signé ; le script y envoie le navigateur par le message ``auth_redirect``.
L'observatoire fait de même avec deux routes, déclarées par ``st.App`` au démarrage du
serveur (``app.py``, lancé par ``streamlit run app.py`` : voir :func:`app_options`) :

- ``/_observatoire/session?jeton=…`` : échange le jeton à usage unique remis à la
  connexion contre le cookie de session (HttpOnly, SameSite=Strict, Secure en HTTPS,
  ``Max-Age`` = fin de la session), puis renvoie (303) vers la page de départ ;
- ``/_observatoire/sortie`` : termine la session du cookie présenté, efface le cookie,
  renvoie vers la page de connexion.

:class:`SecurityHeaders` ajoute à chaque réponse les en-têtes de sécurité (CSP,
X-Frame-Options, HSTS en HTTPS…), ajoute ``Secure`` au cookie anti-CSRF de Streamlit en
HTTPS et répond 404 aux métriques (``/_stcore/metrics``) et à l'API « agent » de
Streamlit hors de la machine elle-même. Le proxy inverse les pose aussi
(docs/deploiement.md) : ces réglages tiennent même sans lui.
"""

from __future__ import annotations

import ipaddress
import urllib.parse

from observatoire import access
from observatoire.access import sessions

#: Préfixe des routes de l'observatoire (hors des préfixes réservés de Streamlit).
PREFIX = "_observatoire"
#: Politique de sécurité du contenu. La page de Streamlit et la carte (Leaflet et le code
#: généré par folium, servis par l'application) ont des scripts en ligne : ils restent
#: permis, mais ``eval`` ne l'est pas, et rien ne vient ni ne part ailleurs que
#: l'application (scripts, styles, images, connexions, cadres, formulaires). Aucune page
#: d'un autre site ne peut encadrer l'application (``frame-ancestors 'self'`` : les
#: composants, dont la carte, sont des cadres de l'application). Vérifiée dans un vrai
#: navigateur (tests/browser) ; recopiée dans docs/deploiement.md. ``blob:`` dans
#: ``script-src`` : Streamlit charge le code des composants de page (la carte) depuis des
#: adresses ``blob:`` qu'il crée lui-même ; une page d'un autre site ne peut pas en créer.
CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' blob:; "
       "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; "
       "connect-src 'self'; frame-src 'self' blob: data:; worker-src 'self' blob:; "
       "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    # SAMEORIGIN, pas DENY : les composants (la carte) sont des cadres servis par
    # l'application elle-même ; aucune page d'un autre site ne peut l'encadrer.
    "X-Frame-Options": "SAMEORIGIN",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
HSTS = "max-age=31536000; includeSubDomains"
#: Réponses 404 hors de la machine elle-même : rien à apprendre du serveur de l'extérieur.
HIDDEN_PREFIXES = ("/_stcore/metrics", "/_stcore/agent/")
XSRF_COOKIE = "_streamlit_xsrf"
_INSTALLED = False


def installed() -> bool:
    """Vrai quand les routes de session sont servies par ce processus (``create_app``)."""
    return _INSTALLED


def base_path() -> str:
    """Préfixe d'URL de l'application (``server.baseUrlPath``), ``""`` à la racine."""
    from streamlit import config

    base = (config.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{base}" if base else ""


def session_url(jeton: str) -> str:
    """Adresse relative où le navigateur échange son jeton contre le cookie."""
    return f"{base_path()}/{PREFIX}/session?jeton={urllib.parse.quote(jeton, safe='')}"


def logout_url() -> str:
    """Adresse relative de la déconnexion (efface le cookie)."""
    return f"{base_path()}/{PREFIX}/sortie"


def cookie_secure(https: bool) -> bool:
    """Le cookie de session porte-t-il ``Secure`` ? (``[acces] cookie_secure``)."""
    mode = access.policy().cookie_secure
    return mode == "toujours" or (mode == "auto" and https)


def _is_loopback(host: str | None) -> bool:
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def _no_store(response) -> None:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"


def _set_session_cookie(response, value: str, max_age: int, https: bool) -> None:
    response.set_cookie(sessions.COOKIE_NAME, value, max_age=max_age, path=base_path() or "/",
                        httponly=True, samesite="strict", secure=cookie_secure(https))


async def session_endpoint(request):
    """GET ``/_observatoire/session?jeton=…`` : pose le cookie de session."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import RedirectResponse

    jeton = request.query_params.get("jeton", "")
    lien = sessions.binding(request.cookies.get(XSRF_COOKIE),
                            request.client.host if request.client else None)
    result = await run_in_threadpool(sessions.exchange, jeton, lien)
    target = (result and sessions.safe_suite(result.suite)) or f"{base_path()}/connexion"
    response = RedirectResponse(target, status_code=303)
    _no_store(response)
    if result is not None:
        _set_session_cookie(response, result.cookie, result.max_age,
                            request.url.scheme == "https")
    return response


async def logout_endpoint(request):
    """GET ``/_observatoire/sortie`` : termine la session du cookie et l'efface."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import RedirectResponse

    response = RedirectResponse(f"{base_path()}/connexion", status_code=303)
    _no_store(response)
    if request.headers.get("sec-fetch-site") == "cross-site":
        # Un lien posé sur un autre site ne déconnecte personne (ni ne retire le cookie).
        return response
    value = request.cookies.get(sessions.COOKIE_NAME)
    if value:
        await run_in_threadpool(sessions.end_by_cookie, value, "déconnexion")
    response.delete_cookie(sessions.COOKIE_NAME, path=base_path() or "/", httponly=True,
                           samesite="strict", secure=cookie_secure(request.url.scheme == "https"))
    return response


def routes() -> list:
    """Routes Starlette de la session, sous ``server.baseUrlPath``."""
    from starlette.routing import Route

    base = base_path()
    return [Route(f"{base}/{PREFIX}/session", session_endpoint, methods=["GET"]),
            Route(f"{base}/{PREFIX}/sortie", logout_endpoint, methods=["GET"])]


class SecurityHeaders:
    """Intergiciel ASGI : en-têtes de sécurité, ``Secure`` du cookie anti-CSRF, 404 cachés.

    Parameters
    ----------
    app : ASGI application
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):  # noqa: D102
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        base = base_path()
        local_path = path[len(base):] if base and path.startswith(base) else path
        client = (scope.get("client") or (None, None))[0]
        if local_path.startswith(HIDDEN_PREFIXES) and not _is_loopback(client):
            from starlette.responses import PlainTextResponse

            await PlainTextResponse("Introuvable.", status_code=404)(scope, receive, send)
            return
        https = scope.get("scheme") == "https"

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message["headers"] = secure_headers(list(message.get("headers", [])), https)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def secure_headers(headers: list[tuple[bytes, bytes]], https: bool) -> list[tuple[bytes, bytes]]:
    """En-têtes d'une réponse complétés (sans écraser ceux qu'elle a déjà).

    Parameters
    ----------
    headers : list of (bytes, bytes)
        En-têtes bruts ASGI.
    https : bool
        La requête est arrivée en HTTPS (directement ou par un proxy de confiance).

    Returns
    -------
    list of (bytes, bytes)
    """
    present = {name.lower() for name, _value in headers}
    out = []
    for name, value in headers:
        if https and name.lower() == b"set-cookie" and value.startswith(XSRF_COOKIE.encode()) \
                and b"secure" not in value.lower():
            value += b"; Secure"
        out.append((name, value))
    extra = dict(SECURITY_HEADERS)
    if https:
        extra["Strict-Transport-Security"] = HSTS
    for name, value in extra.items():
        if name.lower().encode() not in present:
            out.append((name.encode("latin-1"), value.encode("latin-1")))
    return out


def app_options() -> dict:
    """Arguments de ``st.App`` pour l'observatoire : routes de session et intergiciel.

    ``app.py`` écrit ``app = st.App(__file__, **web.app_options())`` : ``streamlit run``
    reconnaît ``st.App`` à la lecture du fichier et sert alors ces routes avec les siennes.

    Returns
    -------
    dict
        ``routes`` et ``middleware``.
    """
    global _INSTALLED
    from starlette.middleware import Middleware

    _INSTALLED = True
    return {"routes": routes(), "middleware": [Middleware(SecurityHeaders)]}
