"""Logique des pages Streamlit (AppTest, sans navigateur)."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

from observatoire import auth, config, storage
from tests.conftest import shared_path

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    """Dossier de données avec les contours réels du Pas-de-Calais et la démonstration."""
    communes = shared_path("geo", "pas-de-calais", "communes-62-pas-de-calais.geojson")
    data = tmp_path_factory.mktemp("app") / "data"
    data.mkdir()
    env = dict(os.environ, OBSERVATOIRE_DATA_DIR=str(data),
               OBSERVATOIRE_DB_URL=f"sqlite:///{data / 'observatoire.db'}")
    for args in (["referentiel", "importer", str(communes)], ["demo"]):
        out = subprocess.run([sys.executable, "-m", "observatoire", *args], env=env,
                             capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
    return data


@pytest.fixture
def use_demo(demo_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("OBSERVATOIRE_DATA_DIR", str(demo_dir))
    monkeypatch.setenv("OBSERVATOIRE_DB_URL", f"sqlite:///{demo_dir / 'observatoire.db'}")
    monkeypatch.setenv("OBSERVATOIRE_COMPTES", str(tmp_path / "comptes.toml"))
    config.settings.cache_clear()
    storage.reset_engines()
    return demo_dir


def session_of(account: auth.Account):
    """Référence de session serveur ouverte pour ``account`` (ce que fait la connexion)."""
    from observatoire.access import sessions

    ref, _jeton = sessions.open_session(account.identifiant, account.role, account.source,
                                        adresse="local")
    return ref


def app(page: str | None = None, **state) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for k, v in state.items():
        at.session_state[k] = v
    if page:
        at._page_hash = calc_hash(page)
    return at


def titles(at):
    return [t.value for t in at.title]


def test_public_map_page_applies_secrecy(use_demo):
    at = app().run()
    assert not at.exception, at.exception
    assert titles(at) == ["Carte des violences intrafamiliales"]
    assert any("Données fictives de démonstration" in i.value for i in at.info)
    table = at.dataframe[0].value
    if hasattr(table, "data"):  # Styler
        table = table.data
    eff = pd.to_numeric(table["Effectif"], errors="coerce").dropna()
    assert len(eff) > 100
    assert not eff.between(1, 4).any()
    assert (table["Secret"] == "secret").any()
    # changer de mesure, de niveau, d'année ne casse rien
    at.selectbox(key="carte_mesure").select("label").run()
    assert not at.exception
    at.selectbox(key="carte_niveau").select("epci").run()
    assert not at.exception
    assert len(at.dataframe[0].value) < 100


def test_staff_urls_show_login_without_session(use_demo):
    for page in ("importer", "contributions", "registres", "publication", "campagne",
                 "comptes", "referentiel", "valeurs-exactes"):
        at = app(page).run()
        assert not at.exception, (page, at.exception)
        assert titles(at) == ["Espace agents : connexion"], page
        assert not at.dataframe and not at.get("file_uploader")


def test_forged_session_state_is_not_a_login(use_demo):
    forged = {"identifiant": "x", "role": "administrateur", "source": "local"}
    at = app("importer", _observatoire_compte=forged).run()
    assert titles(at) == ["Espace agents : connexion"]
    ghost = auth.Account("fantome", "administrateur")  # compte absent du fichier
    at = app("registres", _observatoire_compte=ghost).run()
    assert titles(at) == ["Espace agents : connexion"]
    # Un objet Account, même d'un compte existant, n'est pas une session : seule une
    # session ouverte en base après vérification du mot de passe l'est.
    auth.add_account("chef", "mot de passe solide", "administrateur")
    chef = auth.verify_password("chef", "mot de passe solide")
    at = app("registres", _observatoire_compte=chef).run()
    assert titles(at) == ["Espace agents : connexion"]
    from observatoire.access import sessions

    fake = sessions.StaffSession("0" * 32, "chef", "local")  # aucune ligne en base
    at = app("registres", _observatoire_compte=fake).run()
    assert titles(at) == ["Espace agents : connexion"]
    ended = session_of(chef)
    sessions.end(ended.id, "déconnexion")
    at = app("registres", _observatoire_compte=ended).run()
    assert titles(at) == ["Espace agents : connexion"]


def test_login_opens_staff_pages(use_demo):
    auth.add_account("agent1", "mot de passe solide", "agent", "Agent Un")
    at = app("connexion").run()
    at.text_input(key="connexion_identifiant").input("agent1")
    at.text_input(key="connexion_mdp").input("mauvais mot de passe")
    at.button[0].click().run()
    assert any("incorrect" in e.value for e in at.error)
    at.text_input(key="connexion_mdp").input("mot de passe solide")
    at.button[0].click().run()
    assert not at.exception
    at._page_hash = calc_hash("contributions")
    at.run()
    assert titles(at) == ["Contributions reçues"]
    lots = at.dataframe[0].value
    assert len(lots) == 33
    at._page_hash = calc_hash("campagne")
    at.run()
    assert not at.exception
    assert titles(at) == ["Campagne 2024"]  # dernière année chargée
    etat = at.dataframe[0].value["État"]
    assert (etat == "reçu et validé").sum() >= 5 and set(etat) <= {"reçu et validé", "manquant"}
    # Un onglet par arrondissement : les 8 contributeurs départementaux, plus les 3 de
    # l'arrondissement de Béthune dans le sien.
    par_arr = [len(df.value) for df in at.dataframe[1:]]
    assert par_arr == [8, 11, 8, 8, 8, 8, 8]
    at._page_hash = calc_hash("valeurs-exactes")
    at.run()
    assert titles(at) == ["Valeurs exactes"]
    exact = pd.to_numeric(at.dataframe[0].value["Effectif"], errors="coerce")
    assert exact.between(1, 4).any()  # l'agent voit les petits effectifs
    # un agent n'est pas administrateur : les registres lui restent fermés
    at._page_hash = calc_hash("registres")
    at.run()
    assert titles(at) == ["Espace agents : connexion"]


def test_fiche_from_query_params(use_demo):
    at = app("fiche")
    at.query_params["niveau"] = "commune"
    at.query_params["code"] = "62041"
    at.run()
    assert not at.exception, at.exception
    assert [h.value for h in at.header] == ["Arras (62041)"]
    serie = at.dataframe[0].value
    assert list(serie["Année"]) == [2022, 2023, 2024]
    assert any("Référent" in s.value for s in at.subheader)


def test_empty_installation_explains_what_to_do():
    at = app().run()
    assert not at.exception
    assert any("Aucune donnée" in w.value for w in at.warning)
    assert any("observatoire referentiel importer" in m.value for m in at.markdown)


def test_admin_pages(use_demo):
    auth.add_account("chef", "mot de passe solide", "administrateur")
    account = auth.verify_password("chef", "mot de passe solide")
    for page, title in (("registres", "Dispositifs et référents"),
                        ("comptes", "Comptes des agents"),
                        ("publication", "Publication")):
        at = app(page, _observatoire_compte=session_of(account)).run()
        assert not at.exception, (page, at.exception)
        assert titles(at) == [title]
    at = app("comptes", _observatoire_compte=session_of(account)).run()
    assert list(at.dataframe[0].value["identifiant"]) == ["chef"]


def test_registry_page_saves_through_the_import_checks(use_demo):
    from observatoire import registres

    auth.add_account("cheffe", "mot de passe solide", "administrateur")
    account = auth.verify_password("cheffe", "mot de passe solide")
    before = registres.list_dispositifs().drop(columns=["id"])
    at = app("registres", _observatoire_compte=session_of(account)).run()
    at.button(key="reg_disp_save").click().run()
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    assert any("enregistré" in m.value for m in at.success)
    # Enregistré tel quel : le même registre (localisations et points compris).
    after = registres.list_dispositifs().drop(columns=["id"])
    cols = ["type", "nom", "code_insee", "localisation", "source"]
    pd.testing.assert_frame_equal(after[cols].sort_values(cols).reset_index(drop=True),
                                  before[cols].sort_values(cols).reset_index(drop=True))


def test_data_without_boundaries_keeps_the_table(use_demo, tmp_path, monkeypatch):
    import shutil

    data = tmp_path / "sans_contours"
    shutil.copytree(use_demo, data, ignore=shutil.ignore_patterns("*.gpkg", "contributions"))
    monkeypatch.setenv("OBSERVATOIRE_DATA_DIR", str(data))
    monkeypatch.setenv("OBSERVATOIRE_DB_URL", f"sqlite:///{data / 'observatoire.db'}")
    config.settings.cache_clear()
    storage.reset_engines()
    at = app().run()
    assert not at.exception, at.exception
    assert any("pas encore importés" in w.value for w in at.warning)
    assert len(at.dataframe[0].value) == 887  # le tableau reste, sans la carte
    auth.add_account("agent1", "mot de passe solide", "agent")
    at = app(_observatoire_compte=session_of(
        auth.verify_password("agent1", "mot de passe solide"))).run()
    assert not at.exception, at.exception
    assert any("Référentiel" in str(getattr(e, "proto", "")) for e in at.get("page_link"))


def test_import_page_resolves_communes_then_commits(tmp_path, monkeypatch):
    monkeypatch.setenv("OBSERVATOIRE_COMPTES", str(tmp_path / "comptes.toml"))
    auth.add_account("agent1", "mot de passe solide", "agent")
    account = auth.verify_password("agent1", "mot de passe solide")
    content = "Commune;Faits constatés\nArras;12\nBeaumetz;7\nZorglub;3\n".encode()
    at = app("importer", _observatoire_compte=session_of(account)).run()
    at.selectbox(key="imp_contributeur").select("gendarmerie_62")
    at.number_input(key="imp_annee").set_value(2023)
    at.file_uploader(key="imp_fichier").upload("faits.csv", content, "text/csv")
    at.run()
    assert not at.exception, at.exception
    assert "2. Communes à préciser" in [s.value for s in at.subheader]
    ambigu = at.selectbox(key="imp_c_0")
    assert "62096" in ambigu.options or any("62096" in o for o in ambigu.options)
    ambigu.select("62096")
    at.selectbox(key="imp_c_1").select("__non_localise__")
    at.button[0].click()  # « Appliquer ces choix » (formulaire)
    at.run()
    assert "2. Communes à préciser" not in [s.value for s in at.subheader]
    at.button(key="imp_enregistrer").click().run()
    assert not at.exception, at.exception
    assert any("Import terminé" in s.value for s in at.success)
    values = storage.current_values(annees=[2023])
    got = dict(zip(values["code_insee"].fillna("non localisé"), values["valeur"], strict=True))
    assert got == {"62041": 12, "62096": 7, "non localisé": 3}
    assert set(values["contributeur"]) == {"gendarmerie_62"}


def test_publication_page_publishes_chosen_territory_and_items(use_demo):
    import json

    auth.add_account("ddfe", "mot de passe solide", "agent")
    account = auth.verify_password("ddfe", "mot de passe solide")
    at = app("publication", _observatoire_compte=session_of(account)).run()
    assert not at.exception, at.exception
    # Indicateurs proposés par défaut : ceux de la configuration qui ont des données.
    assert at.multiselect(key="pub_indicateurs").value == [
        "victimes_accueillies", "victimes_accompagnees", "faits_constates"]
    at.multiselect(key="pub_indicateurs").set_value(["victimes_accueillies"])
    at.multiselect(key="pub_territoires").set_value(["626"])
    at.run()
    at.button(key="pub_lancer").click().run(timeout=300)
    assert not at.exception, at.exception
    assert any("fichiers" in s.value for s in at.success)
    sortie = use_demo / "publications" / "2024"
    manifeste = json.loads((sortie / "manifeste.json").read_text(encoding="utf-8"))
    noms = [f["chemin"] if isinstance(f, dict) else f for f in manifeste["fichiers"]]
    assert any("626" in str(n) for n in noms)
    assert not any("621" in str(n) for n in noms)
