"""Accès des agents : limitation des essais tenue par la base, sessions serveur, journal.

Les cas qui touchent la base tournent sur SQLite et sur PostgreSQL (fixture ``any_engine``).
L'heure est celle d'une horloge de test (``access.utcnow`` remplacée) : les délais,
verrouillages et expirations se vérifient sans attendre.
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa

from observatoire import access, auth, storage
from observatoire.access import journal, sessions, throttle

PASSWORD = "phrase de passe solide"
T0 = dt.datetime(2026, 12, 1, 9, 0, 0)


class Clock:
    def __init__(self, now=T0):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, **kw):
        self.now += dt.timedelta(**kw)


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(access, "utcnow", c)
    return c


@pytest.fixture
def comptes(any_engine):
    auth.add_account("marie", PASSWORD, "agent", "Marie")
    auth.add_account("paul", PASSWORD, "administrateur", "Paul")
    return any_engine


def login(ident, pw=PASSWORD, adresse="192.0.2.10"):
    return auth.authenticate(ident, pw, adresse=adresse, canal=access.CANAL_APPLICATION)


def journal_actions(**kw):
    return list(journal.entries(**kw)["action"])


# --- délais : fonction pure --------------------------------------------------------------

def test_wait_doubles_then_locks():
    kw = dict(sans_delai=3, verrouillage=10, duree_verrou=dt.timedelta(minutes=15),
              fenetre=dt.timedelta(hours=1))
    assert throttle.wait([], T0, **kw).secondes == 0
    assert throttle.wait([T0] * 2, T0, **kw).secondes == 0
    delays = [throttle.wait([T0] * n, T0, **kw).secondes for n in range(3, 10)]
    assert delays == [2, 4, 8, 16, 32, 64, 128]
    locked = throttle.wait([T0] * 10, T0, **kw)
    assert locked.verrouille and locked.secondes == 900
    # Le délai court depuis le dernier échec ; les échecs hors fenêtre ne comptent plus.
    later = T0 + dt.timedelta(seconds=100)
    assert throttle.wait([T0] * 9, later, **kw).secondes == 28
    assert throttle.wait([T0] * 10, T0 + dt.timedelta(hours=1), **kw).secondes == 0


# --- limitation tenue par la base -----------------------------------------------------

def test_failures_are_counted_by_the_server_not_the_browser(comptes, clock):
    for _ in range(3):
        assert login("marie", "mauvais mot de passe").account is None
    # Tout nouvel essai (nouvelle session, autre onglet, autre instance : tout passe par
    # la base) attend le délai, même avec le bon mot de passe, sans le vérifier.
    with pytest.raises(throttle.TropDEssais, match="réessayez dans 2 seconde"):
        login("marie")
    clock.advance(seconds=2)
    result = login("marie", "encore faux")
    assert result.account is None and result.attente == 4
    assert "Prochain essai possible dans 4 seconde" in result.message()
    clock.advance(seconds=4)
    assert login("marie").account == auth.Account("marie", "agent", "Marie")
    # Le succès efface les échecs du compte : l'essai suivant n'attend pas.
    assert login("marie", "faux").account is None
    assert login("marie").account is not None
    actions = journal_actions(qui="marie")
    assert actions.count("échec de connexion") == 5
    assert "essai refusé (délai ou verrouillage)" in actions
    assert actions.count("connexion") == 2


def test_lock_then_administrator_unlock(comptes, clock):
    p = access.policy()
    for i in range(p.echecs_verrouillage):
        result = login("paul", "faux")
        if i < p.echecs_verrouillage - 1:
            assert not result.verrouille
            clock.advance(seconds=200)  # au-delà de chaque délai (128 s au plus)
    assert result.verrouille and "verrouillée" in result.message()
    with pytest.raises(throttle.TropDEssais, match="verrouillée pendant encore 15 minute"):
        login("paul")
    blocked = throttle.blocked()
    assert blocked.loc[blocked["type"] == "compte", "cle"].tolist() == ["paul"]
    assert bool(blocked["verrouille"].iloc[0])
    assert "verrouillage" in journal_actions(qui="paul")
    throttle.unlock(compte="paul", par="marie")
    # (L'adresse, elle, a aussi ses 10 échecs : elle attend son propre délai.)
    with pytest.raises(throttle.TropDEssais, match="réessayez"):
        login("paul")
    assert login("paul", adresse="192.0.2.99").account is not None
    assert "déverrouillage" in journal_actions(qui="paul")


def test_lock_expires_by_itself(comptes, clock, monkeypatch):
    monkeypatch.setattr(access, "policy", lambda: access.Policy(
        echecs_sans_delai=1, echecs_verrouillage=2, verrouillage=dt.timedelta(minutes=15)))
    login("marie", "faux")
    clock.advance(seconds=2)
    assert login("marie", "faux").verrouille
    with pytest.raises(throttle.TropDEssais):
        login("marie")
    clock.advance(minutes=15)
    assert login("marie").account is not None


def test_unknown_identifier_is_limited_like_a_known_one(comptes, clock):
    for ident in ("marie", "personne"):
        for _ in range(3):
            login(ident, "faux", adresse=f"198.51.100.{len(ident)}")
        with pytest.raises(throttle.TropDEssais) as exc:
            login(ident, adresse=f"198.51.100.{len(ident)}")
        assert exc.value.attente == 2
    # L'identifiant inconnu n'est pas écrit en clair (un mot de passe tapé dans le champ
    # « Identifiant » ne finit pas dans la base).
    with storage.get_engine().connect() as conn:
        keys = set(conn.execute(sa.select(storage.tentatives_connexion.c.compte)).scalars())
    assert "personne" not in keys and any(k.startswith(throttle.UNKNOWN_PREFIX) for k in keys)


def test_one_address_trying_many_accounts_is_limited(comptes, clock):
    p = access.policy()
    for i in range(p.echecs_adresse_sans_delai):
        login(f"compte{i}", "faux", adresse="203.0.113.66")
    with pytest.raises(throttle.TropDEssais):
        login("marie", adresse="203.0.113.66")  # bon mot de passe, adresse en attente
    assert login("marie", adresse="203.0.113.67").account is not None
    throttle.unlock(adresse="203.0.113.66", par="paul")
    assert login("paul", adresse="203.0.113.66").account is not None


def test_many_clients_against_one_account(comptes, clock):
    # Quarante adresses, un essai chacune, une par seconde : le compte est limité quand
    # même ; seuls 7 mots de passe sont vérifiés (t = 0, 1, 2, 4, 8, 16, 32 s).
    refused = 0
    for i in range(40):
        try:
            login("marie", "faux", adresse=f"10.0.{i}.1")
        except throttle.TropDEssais:
            refused += 1
        clock.advance(seconds=1)
    assert refused == 33
    with pytest.raises(throttle.TropDEssais, match="réessayez"):
        login("marie", adresse="10.9.9.9")  # même le bon mot de passe, d'ailleurs


def test_simultaneous_attempts_do_not_slip_through(comptes):
    # Vingt essais lancés ensemble : l'essai est inscrit avant la vérification du mot de
    # passe, sous verrou : seuls les essais libres passent jusqu'à bcrypt.
    storage.reset_engines()
    results, barrier = [], threading.Barrier(20)

    def attempt(i):
        barrier.wait()
        try:
            results.append(login("marie", "faux", adresse=f"172.16.0.{i}").account)
        except throttle.TropDEssais:
            results.append("refusé")

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with storage.get_engine().connect() as conn:
        tried = conn.execute(sa.select(sa.func.count()).select_from(
            storage.tentatives_connexion)).scalar_one()
    assert tried == access.policy().echecs_sans_delai
    assert results.count("refusé") == 20 - tried


# --- sessions ---------------------------------------------------------------------------

def open_marie(lien="lien-navigateur", suite="/importer"):
    return sessions.open_session("marie", "agent", "local", adresse="192.0.2.10",
                                 navigateur="Chromium", lien=lien, suite=suite)


def test_session_cookie_roundtrip_and_single_use_token(comptes, clock):
    ref, jeton = open_marie()
    assert sessions.check(ref) is None
    done = sessions.exchange(jeton, "lien-navigateur")
    assert done.suite == "/importer"
    assert done.max_age == int(access.policy().duree_session.total_seconds())
    assert sessions.from_cookie(done.cookie) == ref
    # Le jeton ne sert qu'une fois, et jamais depuis un autre navigateur.
    assert sessions.exchange(jeton, "lien-navigateur") is None
    ref2, jeton2 = open_marie()
    assert sessions.exchange(jeton2, "autre navigateur") is None
    assert sessions.exchange(jeton2, "lien-navigateur") is None  # consommé par l'essai
    assert "jeton de session refusé" in journal_actions(qui="marie")
    # Jeton périmé.
    ref3, jeton3 = open_marie()
    clock.advance(seconds=61)
    assert sessions.exchange(jeton3, "lien-navigateur") is None
    assert sessions.safe_suite("//evil.example/x") == ""
    assert sessions.safe_suite("https://evil.example/") == ""


def test_forged_or_foreign_cookies_give_nothing(comptes, clock, tmp_path, monkeypatch):
    ref, jeton = open_marie()
    cookie = sessions.exchange(jeton, "lien-navigateur").cookie
    payload, ts, sig = cookie.split(".")
    # Un caractère du milieu : le dernier ne porte que 2 bits utiles (base64), le changer
    # peut redonner les mêmes octets de signature, ce qui n'est pas une falsification.
    middle = len(sig) // 2
    flipped = sig[:middle] + ("A" if sig[middle] != "A" else "B") + sig[middle + 1:]
    for forged in ("", "n'importe quoi", f"{payload}.{ts}.{flipped}", f"x{payload}.{ts}.{sig}",
                   "a" * 5000):
        assert sessions.from_cookie(forged) is None
    # Signé par une autre clé (autre installation) : refusé.
    from itsdangerous import URLSafeTimedSerializer

    other = URLSafeTimedSerializer(b"0" * 64, salt="observatoire-session")
    secret = sessions._serializer().loads(cookie)
    assert sessions.from_cookie(other.dumps(secret)) is None
    # Un secret bien signé mais inconnu de la base : refusé.
    assert sessions.from_cookie(sessions._serializer().dumps("inconnu")) is None
    assert sessions.from_cookie(cookie) == ref


def test_expiry_inactivity_and_logout_end_sessions_on_the_server(comptes, clock):
    p = access.policy()
    ref, jeton = open_marie()
    cookie = sessions.exchange(jeton, "lien-navigateur").cookie
    # Activité régulière : la session vit jusqu'à sa durée maximale, pas au-delà.
    while clock.now + dt.timedelta(minutes=30) < T0 + p.duree_session:
        clock.advance(minutes=30)
        assert sessions.check(ref) is None
    clock.advance(minutes=30)
    assert sessions.check(ref) == "expiration"
    assert sessions.from_cookie(cookie) is None
    # Inactivité.
    ref, jeton = open_marie()
    clock.advance(minutes=p.inactivite.total_seconds() / 60 + 1)
    assert sessions.check(ref) == "inactivité"
    # Déconnexion : le cookie rejoué ne vaut plus rien.
    ref, jeton = open_marie()
    cookie = sessions.exchange(jeton, "lien-navigateur").cookie
    assert sessions.end_by_cookie(cookie)
    assert sessions.from_cookie(cookie) is None and sessions.check(ref) == "déconnexion"
    motifs = list(journal.entries(actions=["fin_session"])["quoi"])
    assert {"fin de session : expiration", "fin de session : inactivité",
            "fin de session : déconnexion"} <= set(motifs)


def test_account_change_ends_its_sessions(comptes, clock):
    ref, _ = open_marie()
    other, _ = sessions.open_session("paul", "administrateur", "local", adresse="local")
    assert len(sessions.active_sessions()) == 2
    auth.add_account("marie", "nouvelle phrase de passe", "agent", remplacer=True, par="paul")
    assert sessions.check(ref) == "compte modifié"
    assert sessions.check(other) is None
    auth.remove_account("paul", par="paul")
    assert sessions.check(other) == "compte modifié"
    assert sessions.active_sessions().empty


def test_oidc_identity_opens_one_session_only(comptes, clock):
    iat = int(T0.replace(tzinfo=dt.UTC).timestamp())
    assert sessions.oidc_login_usable("a@b.fr", iat)
    ref, _ = sessions.open_session("a@b.fr", "agent", "oidc", adresse="local", oidc_iat=iat)
    assert sessions.oidc_login_usable("a@b.fr", iat)  # session encore ouverte : même onglet
    sessions.end(ref.id, "déconnexion")
    assert not sessions.oidc_login_usable("a@b.fr", iat)  # rejeu après déconnexion
    assert sessions.oidc_login_usable("a@b.fr", iat + 60)  # nouvelle connexion chez l'IdP
    clock.advance(hours=9)
    assert not sessions.oidc_login_usable("a@b.fr", iat + 120)  # trop ancienne
    assert not sessions.oidc_login_usable("a@b.fr", None)


def test_signing_key_is_private_and_shared(isolated_data):
    key = sessions.signing_key()
    path = sessions.key_path()
    assert path == isolated_data / "cles" / "session.key"
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    sessions._KEYS.clear()
    assert sessions.signing_key() == key


def test_access_tables_match_the_migration(any_engine):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with any_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), storage.metadata)
    assert [d for d in diff if any(t in repr(d) for t in storage.ACCESS_TABLES)] == []


def test_journal_of_views(any_engine, clock):
    journal.record("consultation", "marie", "Valeurs exactes : faits, 2024, commune")
    clock.advance(hours=1)
    journal.record("consultation", "paul", "analyser --staff", canal=access.CANAL_CLI,
                   adresse="ligne de commande:root@poste")
    df = journal.entries(actions=["consultation"])
    assert list(df["qui"]) == ["paul", "marie"]
    assert list(df["canal"]) == ["ligne de commande", "application"]
    assert df["action"].eq("consultation de valeurs exactes").all()
    assert list(journal.entries(qui="marie")["quoi"]) == [
        "Valeurs exactes : faits, 2024, commune"]
    with pytest.raises(ValueError):
        journal.record("inventée", "x")


def test_old_journal_and_attempts_are_purged_at_login(comptes, clock):
    journal.record("consultation", "marie", "il y a plus d'un an")
    login("marie", "faux")
    clock.advance(days=366)
    journal.record("consultation", "marie", "récent")
    open_marie()
    assert list(journal.entries()["quoi"]) == ["récent"]
    with storage.get_engine().connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(
            storage.tentatives_connexion)).scalar_one() == 0
