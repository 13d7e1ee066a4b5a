"""Logique des pages Streamlit (AppTest, sans navigateur)."""

import html
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

from observatoire import auth, config, storage
from tests.conftest import copier_demo

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory, demo_reference):
    """Dossier de données avec les contours réels du Pas-de-Calais, la démonstration et ses
    diffusions validées (copie de la référence de session)."""
    return copier_demo(demo_reference, tmp_path_factory.mktemp("app"))


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


def carte(at) -> dict:
    """Configuration envoyée au composant de la carte (``carte.js``)."""
    found = [e for e in at.get("bidi_component")
             if e.proto.component_name == "observatoire_carte"]
    assert found, "pas de carte sur la page"
    return json.loads(found[0].proto.json)


def admin(nom="chef"):
    auth.add_account(nom, "mot de passe solide", "administrateur")
    return auth.verify_password(nom, "mot de passe solide")


def test_public_map_page_applies_secrecy(use_demo):
    at = app().run()
    assert not at.exception, at.exception
    assert titles(at) == ["Carte des violences intrafamiliales"]
    assert any("Données fictives de démonstration" in i.value for i in at.info)
    # Le public ne choisit ni contributeurs ni combinaison d'années.
    assert not at.multiselect
    table = at.dataframe[0].value
    eff = pd.to_numeric(table["Effectif"], errors="coerce").dropna()
    assert len(eff) > 100
    assert not eff.between(1, 4).any()
    assert (table["Statut"] == "secret").any()
    assert set(table.columns) >= {"Nom", "Effectif", "Taux ‰", "Intervalle à 95 %",
                                  "Taux lissé ‰", "Étiquette", "Statut"}
    assert not table.astype(str).isin(["None", "nan", "<NA>"]).any().any()
    cfg = carte(at)
    textes = " ".join(v[1] for v in cfg["values"].values())
    shown = [int(n.replace("\u202f", "")) for n in re.findall(r"Effectif : ([\d\u202f]+)",
                                                               textes)]
    assert len(shown) > 100 and not [n for n in shown if 1 <= n <= 4]
    # changer de mesure, de niveau, d'année ne casse rien
    at.selectbox(key="carte_mesure").select("label").run()
    assert not at.exception
    at.selectbox(key="carte_niveau").select("epci").run()
    assert not at.exception
    assert len(at.dataframe[0].value) < 100


def test_map_opens_on_the_measure_the_method_recommends(use_demo):
    at = app().run()
    assert at.selectbox(key="carte_mesure").value == "taux_lisse"
    methode = (ROOT / "docs" / "methodologie.md").read_text(encoding="utf-8")
    assert re.search(r"\*\*Taux lissé\*\*[^.]*\.[^.]*taux à cartographier", methode)
    legende = carte(at)["legend"]
    assert "lissé" in legende and "classes : quantiles" in legende


def test_map_classes_are_those_of_the_atlas(use_demo):
    """Même sélection, mêmes classes : carte de l'application, carte HTML et atlas."""
    from observatoire import classification as cl
    from observatoire.app_pages import carte as page_carte
    from observatoire.exports import print_maps
    from observatoire.exports.donnees import rassembler

    pub = rassembler(2024, ["victimes_accueillies"], dispositifs=False)
    atlas = print_maps.classification_pour(pub, "victimes_accueillies")
    at = app()
    at.query_params.update({"mesure": "taux", "annee": "2024",
                            "indicateur": "victimes_accueillies"})
    at.run()
    assert at.selectbox(key="carte_mesure").value == "taux"
    web_palette = carte(at)["palette"]
    assert web_palette == list(atlas.couleurs)
    for lib in atlas.etiquettes():
        assert lib in carte(at)["legend"]
    sel = {"mesure": "taux", "niveau": "commune", "annee": 2024,
           "indicateur": "victimes_accueillies", **page_carte.OPTIONS_DEFAUT}
    table = pub.table("victimes_accueillies", "commune")
    web = page_carte.classify(table, sel)
    assert (web.bornes, web.minimum) == (atlas.bornes, atlas.minimum)
    assert cl.classer_table(table, "taux").bornes == atlas.bornes


def test_map_selection_lives_in_the_address(use_demo):
    at = app()
    at.query_params.update({"indicateur": "faits_constates", "annee": "2022",
                            "niveau": "epci", "mesure": "ratio"})
    at.run()
    assert not at.exception, at.exception
    assert [at.selectbox(key=k).value for k in ("carte_indicateur", "carte_annee",
                                                 "carte_niveau", "carte_mesure")] == [
        "faits_constates", 2022, "epci", "ratio"]
    at.selectbox(key="carte_annee").select(2023).run()
    assert at.query_params["annee"] == ["2023"] or at.query_params["annee"] == "2023"
    # Un paramètre inconnu est ignoré : la carte par défaut, sans erreur.
    at = app()
    at.query_params.update({"indicateur": "inexistant", "annee": "1900"})
    at.run()
    assert not at.exception and at.selectbox(key="carte_annee").value == 2024


def test_map_text_summary_and_every_symbol_in_the_legend(use_demo):
    cfg = carte(app().run())
    assert cfg["resume"].startswith("Carte : Victimes de VIF reçues — 2024. 887 communes")
    assert "sous le secret statistique" in cfg["resume"]
    legende = cfg["legend"]
    for grp in cfg["dispositifs"]:
        assert f'data-couche="dispositif-{grp["cls"]}"' in legende
        assert html.escape(grp["label"]) in legende and f">{grp['abbr']}<" in legende
    assert "secret statistique" in legende and "limite d&#x27;EPCI" in legende
    assert cfg["referents"]["show"] is False  # couche discrète, éteinte par défaut
    assert 'data-couche="referents"' in legende


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
    # Un onglet par arrondissement : les contributeurs dont le territoire le touche (les 5
    # départementaux, la gendarmerie, l'ISCG et la police du département ailleurs qu'à
    # Béthune ; à Béthune, ses ISCG, police et tribunal).
    par_arr = [len(df.value) for df in at.dataframe[1:]]
    assert par_arr == [8, 9, 8, 8, 8, 8, 8]
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
    assert titles(at) == ["Arras (62041)"]
    serie = at.dataframe[0].value
    assert list(serie["Année"]) == ["2022", "2023", "2024"]
    assert any("Référent" in s.value for s in at.subheader)
    for niveau, code, titre in (("epci", "246200364", "CA de Lens - Liévin (246200364)"),
                                ("arrondissement", "621", "Arrondissement d'Arras (621)")):
        at = app("fiche")
        at.query_params.update({"niveau": niveau, "code": code})
        at.run()
        assert not at.exception and titles(at) == [titre], (niveau, titles(at))


def test_fiche_with_an_unknown_code_says_so_and_offers_a_way_back(use_demo):
    at = app("fiche")
    at.query_params.update({"niveau": "commune", "code": "99999"})
    at.run()
    assert not at.exception, at.exception
    assert any("Aucune fiche pour la commune de code « 99999 »" in e.value for e in at.error)
    assert any("Revenir à la carte" in str(e.proto) for e in at.get("page_link"))
    assert not at.dataframe


def test_empty_installation_explains_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("OBSERVATOIRE_COMPTES", str(tmp_path / "comptes.toml"))
    at = app().run()
    assert not at.exception
    assert any("Aucun chiffre" in w.value for w in at.warning)
    # Au public, ni commande ni clé de configuration.
    texte = " ".join(m.value for m in [*at.markdown, *at.warning, *at.info, *at.caption])
    assert "observatoire " not in texte and ".toml" not in texte
    at = app(_observatoire_compte=session_of(admin())).run()
    assert any("Charger le jeu de démonstration" in str(e.proto) for e in at.get("page_link"))


def test_demo_loaded_then_cleared_from_the_admin_page(tmp_path, monkeypatch):
    from observatoire import demo, registres

    monkeypatch.setenv("OBSERVATOIRE_COMPTES", str(tmp_path / "comptes.toml"))
    account = admin()
    at = app("demonstration", _observatoire_compte=session_of(account)).run()
    assert titles(at) == ["Démonstration"]
    at.button(key="demo_charger").click().run(timeout=300)
    assert not at.exception, at.exception
    assert demo.is_demo()
    assert any("Démonstration chargée" in s.value for s in at.success)
    at = app("demonstration", _observatoire_compte=session_of(account)).run()
    n_plan = len(demo.plan_dispositifs())
    assert any(f"Les {n_plan} dispositifs nommés par le plan" in m.value for m in at.markdown)
    assert at.button(key="demo_effacer").disabled  # confirmation d'abord
    at.checkbox(key="demo_confirmer").check().run()
    at.button(key="demo_effacer").click().run()
    assert not at.exception, at.exception
    assert not demo.is_demo()
    assert any(f"Les {n_plan} dispositifs du plan cadre sont gardés" in i.value for i in at.info)
    assert len(registres.list_dispositifs()) == n_plan


def test_admin_pages(use_demo):
    account = admin()
    for page, title in (("registres", "Dispositifs et référents"),
                        ("comptes", "Comptes des agents"),
                        ("publication", "Publication"), ("demonstration", "Démonstration"),
                        ("referentiel", "Référentiel géographique")):
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


def test_data_without_boundaries_keeps_the_table(use_demo, tmp_path, monkeypatch,
                                                 sans_contours_livres):
    import shutil

    data = tmp_path / "sans_contours"
    shutil.copytree(use_demo, data, ignore=shutil.ignore_patterns("*.gpkg", "contributions"))
    monkeypatch.setenv("OBSERVATOIRE_DATA_DIR", str(data))
    monkeypatch.setenv("OBSERVATOIRE_DB_URL", f"sqlite:///{data / 'observatoire.db'}")
    config.settings.cache_clear()
    storage.reset_engines()
    at = app().run()
    assert not at.exception, at.exception
    assert any("pas encore chargés" in w.value for w in at.warning)
    assert len(at.dataframe[0].value) == 887  # le tableau reste, sans la carte
    auth.add_account("agent1", "mot de passe solide", "agent")
    at = app(_observatoire_compte=session_of(
        auth.verify_password("agent1", "mot de passe solide"))).run()
    assert not at.exception, at.exception
    assert any("Référentiel" in str(getattr(e, "proto", "")) for e in at.get("page_link"))


def test_fresh_installation_map_uses_the_shipped_simplified_contours(tmp_path, monkeypatch):
    """Rien d'importé : la démonstration et la carte tournent sur les contours livrés."""
    from observatoire import demo

    demo.load_demo([2024])
    at = app().run()
    assert not at.exception, at.exception
    cfg = carte(at)
    topo = cfg["topology"]
    assert len(topo["objects"]["communes"]["geometries"]) == 887
    assert any("Contours simplifiés livrés avec l'application" in c.value for c in at.caption), \
        [c.value for c in at.caption]
    assert "Contours simplifiés" in cfg["legend"]
    assert sum(len(g["points"]) for g in cfg["dispositifs"]) == len(demo.generate_dispositifs())


def test_methode_page_speaks_plainly_without_commands(use_demo):
    at = app("methode").run()
    assert not at.exception, at.exception
    assert titles(at) == ["Méthode"]
    texte = "\n".join(m.value for m in at.markdown)
    assert "Ce qui est compté." in texte and "Ce que cela ne dit pas." in texte
    for interdit in ("observatoire analyser", "config/territoire.toml", "zone_reference",
                     "[secret]", "poids_sous_revelation", "`"):
        assert interdit not in texte, interdit
    assert "taux à cartographier" in texte and "blanche présumée" in texte


def test_campagne_counts_agree_between_summary_and_tabs(use_demo):
    from observatoire.app_pages.campagne import expected_status

    auth.add_account("agent2", "mot de passe solide", "agent")
    at = app("campagne", _observatoire_compte=session_of(auth.verify_password(
        "agent2", "mot de passe solide"))).run()
    assert not at.exception, at.exception
    table = expected_status(2024)
    recus = int((table["État"] != "manquant").sum())
    assert at.metric[0].value == f"{recus} sur {len(table)} contributeurs attendus"
    legendes = [c.value for c in at.caption if "contributeurs attendus" in c.value]
    assert len(legendes) == 7
    for legende, df in zip(legendes, at.dataframe[1:], strict=True):
        n, dep, propres, recu, manque = map(int, re.findall(r"\d+", legende)[:5])
        assert n == len(df.value) == dep + propres and recu + manque == n
        assert manque == int((df.value["État"] == "manquant").sum())
    assert not re.search(r"\d{4}-\d{2}-\d{2}", " ".join(table["Importé le"]))


def test_map_csv_is_french_like_the_open_data(use_demo):
    from observatoire.app_pages import carte as page_carte
    from observatoire.app_pages import common

    table = common.public_table([2024], "victimes_accueillies")
    text = page_carte.csv_bytes(table).decode("utf-8")
    lignes = text.splitlines()
    assert lignes[0].split(";")[:5] == ["code", "nom", "population", "effectif",
                                        "taux_pour_1000"]
    taux = [li.split(";")[4] for li in lignes[1:]]
    valeurs = [t for t in taux if t not in ("", "secret")]
    assert valeurs and all(re.fullmatch(r"\d+,\d{2}", t) for t in valeurs)
    assert "secret" in taux and "." not in "".join(valeurs)


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
        "victimes_accueillies", "victimes_accueillies_femmes", "victimes_accompagnees",
        "faits_constates"]
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
