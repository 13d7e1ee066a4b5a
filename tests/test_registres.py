import json

import geopandas as gpd
import openpyxl
import pandas as pd
import pytest

from observatoire import registres, storage
from observatoire.errors import ObservatoireError, ReferentielAbsentError
from tests.conftest import AGENT_OPTIONS, AGENT_PASSWORD, run_cli_input, shared_path
from tests.conftest import run_cli as cli

# Stockage et ingestion tournent sur SQLite et sur PostgreSQL (conftest.backend ; les cas
# PostgreSQL sont ignorés avec leur raison sans OBSERVATOIRE_TEST_PG_URL).
pytestmark = pytest.mark.usefixtures("backend")


@pytest.fixture
def engine(any_engine):
    """Le moteur du test, sur chacun des deux backends."""
    return any_engine

FRANCE_SERVICES = ("real", "dispositifs-62", "france-services-62-20240801.csv")



def write_csv(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


# --------------------------------------------------------------------------- types


def test_types_catalogue_covers_plan_codes():
    codes = set(registres.load_types()["code"])
    plan = pd.read_csv(registres.INITIAL_REGISTRY_PATH, dtype=str)
    assert set(plan["type"]) <= codes
    for code in ("accueil_de_jour", "leao", "hebergement_urgence", "alt", "hebergement_auteurs",
                 "iscg", "permanence_juridique", "france_services", "uaped",
                 "maison_des_adolescents", "ctv2s", "tribunal_judiciaire", "cidff",
                 "france_victimes"):
        assert code in codes


@pytest.mark.parametrize("text, code", [
    ("France Services", "france_services"), ("LAEO", "leao"), ("leao", "leao"),
    ("Accueil de jour", "accueil_de_jour"), ("Tribunal", "tribunal_judiciaire"),
    ("Hébergement d'urgence", "hebergement_urgence"),
])
def test_resolve_type(text, code):
    assert registres.resolve_type(text) == code


def test_unknown_type_lists_catalogue():
    with pytest.raises(ObservatoireError, match="inconnu.*france_services"):
        registres.resolve_type("piscine municipale")


# --------------------------------------------------------------------------- France Services


def test_france_services_acceptance(engine):
    path = shared_path(*FRANCE_SERVICES)
    report = registres.import_dispositifs(path, type="france_services",
                                          source="ANCT, liste des structures France services, "
                                                 "2024-08-01", engine=engine)
    assert report.lignes_lues == 50 and report.importes == 50
    df = registres.list_dispositifs(engine)
    assert len(df) == 50
    assert set(df["type"]) == {"france_services"}
    assert (df["localisation"] == "adresse").all()
    assert df["latitude"].between(50.0, 51.0).all() and df["longitude"].between(1.5, 3.1).all()
    assert df["source"].str.startswith("ANCT").all()
    first = df[df["nom"] == "France services La Poste de Sains-en-Gohelle"].iloc[0]
    assert first["code_insee"] == "62737" and first["commune"] == "Sains-en-Gohelle"
    assert first["horaires"].startswith("lundi 09:00 - 12:00 / 14:00 - 17:30 ; mardi")
    assert "samedi 08:30 - 12:00" in first["horaires"]
    assert "Sains-en-gohelle@france-services.gouv.fr" in first["contact"]
    assert "03 91 83 23 70" in first["contact"]
    # Chaque point tombe dans le contour réel de sa propre commune.
    communes_2018 = gpd.read_file(shared_path("geo", "pas-de-calais",
                                              "communes-62-pas-de-calais.geojson"))
    bad = registres.check_points_in_communes(df, communes_2018)
    assert bad.empty, bad
    # Réimporter la même liste ne crée pas de doublons.
    again = registres.import_dispositifs(path, type="france_services", engine=engine)
    assert again.importes == 0 and again.doublons == 50
    assert len(registres.list_dispositifs(engine)) == 50


def test_france_services_with_polygons_places_and_checks(engine):
    path = shared_path(*FRANCE_SERVICES)
    communes_2018 = gpd.read_file(shared_path("geo", "pas-de-calais",
                                              "communes-62-pas-de-calais.geojson"))
    frame, _ = registres.read_dispositifs(path, type="France Services")
    # Un point déplacé dans la commune voisine est signalé avec sa distance.
    moved = frame.copy()
    moved.loc[0, ["latitude", "longitude"]] = [50.5298, 2.6412]  # Béthune
    bad = registres.check_points_in_communes(moved, communes_2018)
    assert list(bad["code_insee"]) == [frame.loc[0, "code_insee"]]
    assert bad["distance_m"].iloc[0] > 1000


# --------------------------------------------------------------------------- localisation


def _wgs84(x, y):
    pt = gpd.GeoSeries(gpd.points_from_xy([x], [y]), crs=2154).to_crs(4326).iloc[0]
    return pt.y, pt.x


def test_point_outside_its_commune_is_reported(square_communes):
    inside = _wgs84(650_500, 7_000_500)  # centre d'Alpha (99001)
    outside = _wgs84(651_500, 7_001_500)  # centre de Delta (99004)
    frame = pd.DataFrame({"nom": ["bien placé", "mal placé", "sans coordonnées"],
                          "code_insee": ["99001", "99001", "99002"],
                          "latitude": [inside[0], outside[0], None],
                          "longitude": [inside[1], outside[1], None]})
    bad = registres.check_points_in_communes(frame, square_communes)
    assert list(bad["nom"]) == ["mal placé"]
    assert bad["distance_m"].iloc[0] == pytest.approx(707, abs=5)


def test_without_coordinates_placed_at_commune(engine, square_communes, sans_contours_livres):
    frame = pd.DataFrame([{c: None for c in registres.DISPOSITIF_COLUMNS}])
    frame.loc[0, ["type", "nom", "code_insee", "localisation"]] = [
        "accueil_de_jour", "Accueil test", "99002", "commune"]
    with storage.transaction(engine) as conn:
        registres.write_dispositifs(conn, frame, demo=False)
    with pytest.raises(ReferentielAbsentError):
        registres.dispositifs_points(engine)
    points = registres.dispositifs_points(engine, communes_layer=square_communes)
    assert points.crs.to_epsg() == 2154
    assert square_communes.geometry.iloc[1].contains(points.geometry.iloc[0])
    assert registres.place_at_communes(engine, square_communes) == 1
    df = registres.list_dispositifs(engine)
    assert df["latitude"].notna().all()
    assert df["localisation"].iloc[0] == "commune"  # reste marqué « placé à la commune »


# --------------------------------------------------------------------------- registre initial


def test_initial_registry_keeps_sources(engine):
    report = registres.load_initial_registry(engine=engine)
    spec = pd.read_csv(registres.INITIAL_REGISTRY_PATH, dtype=str)
    assert report.importes == len(spec) == 15
    df = registres.list_dispositifs(engine)
    assert df["source"].str.startswith("Plan cadre 2024-2026").all()
    assert (df["localisation"] == "territoire").sum() == (spec["precision"] == "territoire").sum()
    iscg = df[df["type"] == "iscg"]
    assert iscg["capacite"].sum() == 7 and set(iscg["unite_capacite"]) == {"poste"}
    assert not df["demo"].any()
    with engine.connect() as conn:
        assert storage.get_meta(conn, "mode") == "reel"


def _edit(engine, change):
    """Registre initial affiché, modifié par ``change(tableau)``, puis enregistré."""
    registres.load_initial_registry(engine=engine)
    shown = registres.list_dispositifs(engine).drop(columns=["demo"])
    edited = shown.copy()
    change(edited)
    return shown, registres.save_edited_dispositifs(shown, edited, "agent.test",
                                                    engine=engine)


def test_registry_edited_in_the_app_is_saved(engine):
    def change(t):
        i = t.index[t["type"] == "iscg"][0]
        t.loc[i, "nom"] = "ISCG de Béthune (renommé)"
        t.loc[i, "capacite"] = 3
        t.loc[t.index[1], "type"] = "Lieu d'écoute"  # libellé du catalogue accepté

    shown, report = _edit(engine, change)
    after = registres.list_dispositifs(engine)
    assert len(after) == len(shown) == 15
    # Seules les lignes modifiées sont réécrites, et chaque dispositif garde son numéro.
    modifiees = {shown.index[shown["type"] == "iscg"][0], shown.index[1]}
    assert report.importes == len(modifiees) and report.supprimes == 0
    assert sorted(after["id"]) == sorted(shown["id"])
    renamed = after[after["nom"] == "ISCG de Béthune (renommé)"]
    assert renamed["id"].iloc[0] == shown.loc[shown["type"] == "iscg", "id"].iloc[0]
    assert len(renamed) == 1 and renamed["capacite"].iloc[0] == 3
    assert (after["type"] == "leao").sum() == (shown["type"] == "leao").sum() + (
        shown["type"].iloc[1] != "leao")
    # Rien d'autre n'a bougé : sources, localisations.
    assert sorted(after["source"]) == sorted(shown["source"])
    assert (after["localisation"] == "territoire").sum() == \
        (shown["localisation"] == "territoire").sum()
    with engine.connect() as conn:
        assert "modification_dispositifs" in {r.action for r in conn.execute(
            storage.journal.select())}


def test_point_placed_at_its_commune_stays_so_unless_moved(engine, sans_contours_livres):
    registres.load_initial_registry(engine=engine)
    shown = registres.list_dispositifs(engine).drop(columns=["demo"])
    i = shown.index[shown["localisation"] == "commune"][0]
    j = shown.index[shown["localisation"] == "commune"][1]
    # Comme après place_at_communes : un point, mais celui de la commune.
    shown.loc[[i, j], ["latitude", "longitude"]] = [[50.52, 2.64], [50.43, 2.83]]
    edited = shown.copy()
    edited.loc[j, ["latitude", "longitude"]] = [50.4301, 2.8302]  # déplacé : une adresse
    registres.save_edited_dispositifs(shown, edited, "agent.test", engine=engine)
    after = registres.list_dispositifs(engine).set_index("nom")
    assert after.loc[shown.loc[i, "nom"], "localisation"] == "commune"
    assert after.loc[shown.loc[i, "nom"], "latitude"] == pytest.approx(50.52)
    assert after.loc[shown.loc[j, "nom"], "localisation"] == "adresse"


def test_invalid_edit_is_refused_and_nothing_changes(engine, sans_contours_livres):
    def change(t):
        t.loc[t.index[0], "type"] = "piscine municipale"
        t.loc[t.index[2], "code_insee"] = "99999"
        t.loc[t.index[3], "latitude"] = 50.5  # sans longitude

    registres.load_initial_registry(engine=engine)
    before = registres.list_dispositifs(engine)
    with pytest.raises(registres.RegistreInvalideError) as exc:
        _edit_again(engine, change)
    text = str(exc.value)
    assert "piscine municipale" in text and "99999" in text and "longitude" in text
    assert f"ligne 1 « {before['nom'].iloc[0]} »" in text
    pd.testing.assert_frame_equal(registres.list_dispositifs(engine), before)


def test_registry_edit_keeps_ids_adds_and_removes_rows(engine):
    registres.load_initial_registry(engine=engine)
    shown = registres.list_dispositifs(engine).drop(columns=["demo"])
    retire = int(shown["id"].iloc[0])
    edited = shown.iloc[1:].copy()
    ajout = {c: None for c in shown.columns}
    ajout.update(type="leao", nom="LEAO de Lens", code_insee="", commune="Lens")
    edited = pd.concat([edited, pd.DataFrame([ajout])], ignore_index=True)
    report = registres.save_edited_dispositifs(shown, edited, "agent.test", engine=engine)
    after = registres.list_dispositifs(engine)
    assert report.supprimes == 1 and report.importes == 1
    assert retire not in set(after["id"])
    assert set(shown["id"].iloc[1:]) <= set(after["id"])  # les autres gardent leur numéro
    lens = after[after["nom"] == "LEAO de Lens"].iloc[0]
    assert lens["code_insee"] == "62498" and int(lens["id"]) > int(shown["id"].max())


def test_referents_edited_in_the_app_pass_the_import_checks(engine, tmp_path):
    ref = tmp_path / "ref.csv"
    ref.write_text("code_insee;forme;date_designation\n62119;oui;01/02/2023\n"
                   "62498;non;\n", encoding="utf-8")
    registres.import_referents(ref, engine=engine)
    shown = registres.list_referents(engine, exact=True).drop(columns=["demo"])
    edited = shown.copy()
    edited.loc[edited["code_insee"] == "62498", "forme"] = True
    edited = pd.concat([edited, pd.DataFrame([{"code_insee": "", "commune": "Arras",
                                               "forme": False}])], ignore_index=True)
    report = registres.save_edited_referents(edited, "agent.test", engine=engine)
    after = registres.list_referents(engine).set_index("code_insee")
    assert report.importes == 3 and set(after.index) == {"62119", "62498", "62041"}
    assert bool(after.loc["62498", "forme"]) and not bool(after.loc["62041", "forme"])
    # Une commune inconnue ou une date illisible : tout est refusé, rien ne change.
    bad = edited.copy()
    bad.loc[0, "date_designation"] = "31/02/2023"
    bad = pd.concat([bad, pd.DataFrame([{"code_insee": "", "commune": "Nulle-Part-Les-Bains",
                                         "forme": True}])], ignore_index=True)
    with pytest.raises(registres.RegistreInvalideError) as exc:
        registres.save_edited_referents(bad, "agent.test", engine=engine)
    assert "Nulle-Part-Les-Bains" in str(exc.value) and "31/02/2023" in str(exc.value)
    assert set(registres.list_referents(engine)["code_insee"]) == {"62119", "62498", "62041"}
    # Retirer une ligne retire le référent de cette commune.
    registres.save_edited_referents(edited[edited["code_insee"] != "62119"], "agent.test",
                                    engine=engine)
    assert set(registres.list_referents(engine)["code_insee"]) == {"62498", "62041"}


def _edit_again(engine, change):
    shown = registres.list_dispositifs(engine).drop(columns=["demo"])
    edited = shown.copy()
    change(edited)
    return registres.save_edited_dispositifs(shown, edited, "agent.test", engine=engine)


def test_replace_removes_previous_of_same_type(engine, tmp_path):
    first = write_csv(tmp_path / "a.csv", "type;nom;code_insee\nleao;LEAO A;62119\n"
                                          "leao;LEAO B;62041\ncidff;CIDFF;62041\n")
    second = write_csv(tmp_path / "b.csv", "type;nom;code_insee\nleao;LEAO C;62498\n")
    registres.import_dispositifs(first, engine=engine)
    report = registres.import_dispositifs(second, replace=True, engine=engine)
    assert report.supprimes == 2
    assert sorted(registres.list_dispositifs(engine)["nom"]) == ["CIDFF", "LEAO C"]


# --------------------------------------------------------------------------- modèle


def test_dispositifs_template_round_trip(engine, tmp_path, sans_contours_livres):
    path = registres.write_dispositifs_template(tmp_path / "modele.xlsx")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[:2] == ["Instructions", "Dispositifs"]
    ws = wb["Dispositifs"]
    headers = [c.value for c in ws[1]]
    assert ws.data_validations.dataValidation, "listes et bornes de validation attendues"
    rows = [
        {"type": "accueil_de_jour", "nom": "Accueil de jour de Béthune", "adresse": "1 rue X",
         "code_insee": "62119", "latitude": 50.5298, "longitude": 2.6412, "capacite": 12,
         "unite_capacite": "places", "horaires": "lundi 9h-17h", "contact": "0300000000",
         "source": "enquête DDFE 2025", "remarque": "test"},
        {"type": "hebergement_urgence", "nom": "Hébergement d'urgence", "commune": "Lens",
         "capacite": 20, "unite_capacite": "places"},
    ]
    for i, row in enumerate(rows, start=2):
        for key, value in row.items():
            ws.cell(row=i, column=headers.index(key) + 1, value=value)
    wb.save(path)
    report = registres.import_dispositifs(path, engine=engine)
    assert report.importes == 2 and not report.colonnes_ignorees
    df = registres.list_dispositifs(engine).set_index("nom")
    adj = df.loc["Accueil de jour de Béthune"]
    assert adj["type"] == "accueil_de_jour" and adj["code_insee"] == "62119"
    assert adj["capacite"] == 12 and adj["unite_capacite"] == "places"
    assert adj["latitude"] == pytest.approx(50.5298) and adj["localisation"] == "adresse"
    assert adj["source"] == "enquête DDFE 2025" and adj["remarque"] == "test"
    hu = df.loc["Hébergement d'urgence"]
    assert hu["code_insee"] == "62498" and hu["localisation"] == "commune"
    assert pd.isna(hu["latitude"]) and "modele.xlsx" in hu["source"]


# --------------------------------------------------------------------------- erreurs


def test_missing_columns_named_with_file(engine, tmp_path):
    path = write_csv(tmp_path / "liste.csv", "structure_x;ville\nA;Arras\n")
    with pytest.raises(registres.RegistreInvalideError) as err:
        registres.import_dispositifs(path, type="leao", engine=engine)
    # La ligne « ville » est reconnue comme commune mais « structure_x » n'est pas un nom.
    assert "liste.csv" in str(err.value)


def test_missing_name_column_message(engine, tmp_path):
    path = write_csv(tmp_path / "liste.csv", "type;code_insee;capacite\nleao;62119;3\n")
    with pytest.raises(registres.RegistreInvalideError,
                       match=r"liste\.csv.*colonne\(s\) obligatoire\(s\) absente\(s\) : nom"):
        registres.import_dispositifs(path, engine=engine)
    assert registres.list_dispositifs(engine).empty


def test_bad_rows_listed_with_row_and_column_nothing_stored(engine, tmp_path):
    path = write_csv(tmp_path / "registre.csv",
                     "Liste des dispositifs 2025\n\n"  # lignes de titre avant l'en-tête
                     "Type;Nom;Code INSEE;Capacité;Latitude;Longitude\n"
                     "leao;Bon;62119;3;;\n"
                     "leao;Mauvaise commune;99999;3;;\n"
                     "leao;Mauvaise capacité;62119;beaucoup;;\n"
                     "piscine;Mauvais type;62119;;;\n"
                     "leao;Demi-coordonnées;62119;;50.5;\n", encoding="cp1252")
    with pytest.raises(registres.RegistreInvalideError) as err:
        registres.import_dispositifs(path, engine=engine)
    msg = str(err.value)
    assert "registre.csv" in msg and "rien n'a été importé" in msg
    assert "ligne 5, colonne « Code INSEE » : code INSEE « 99999 » inconnu" in msg
    assert "ligne 6, colonne « Capacité »" in msg
    assert "ligne 7, colonne « Type » : type « piscine »" in msg
    assert "ligne 8, colonne « Longitude »" in msg
    assert registres.list_dispositifs(engine).empty


def test_cli_dispositifs(capsys, tmp_path):
    path = write_csv(tmp_path / "l.csv", "nom,insee_com,mail,telephone\nPoint A,62119,a@b.fr,"
                                         "03 00 00 00 00\n")
    code, out, err = cli(capsys, "dispositifs", "importer", str(path), "--type",
                         "permanence_juridique", "--source", "test", "--json")
    assert code == 0, err
    assert json.loads(out)["importes"] == 1
    code, out, _ = cli(capsys, "dispositifs", "lister", "--json")
    (row,) = json.loads(out)
    assert row["contact"] == "a@b.fr ; 03 00 00 00 00" and row["source"] == "test"
    code, out, _ = cli(capsys, "dispositifs", "lister", "--type", "permanence juridique")
    assert "Point A | Béthune (62119) | placé dans sa commune" in out
    code, _, err = cli(capsys, "dispositifs", "importer", str(path))
    assert code != 0 and "type (ou l'option --type)" in err
    code, out, _ = cli(capsys, "dispositifs", "modele", str(tmp_path / "m.xlsx"))
    assert code == 0 and (tmp_path / "m.xlsx").exists()


# --------------------------------------------------------------------------- référents


REFERENTS_CSV = (
    "Commune;Code INSEE;Date de désignation;Formé;Date de formation;Nom du référent;Contact\n"
    "Béthune;62119;15/03/2023;oui;02/10/2023;Camille Exemple;camille@mairie.invalid\n"
    "Lens;;2024-01-10;non;;Dominique Essai;03 21 00 00 00\n"
    "St-Venant;;;;;;\n"
)


def test_referents_import_and_public_view(engine, tmp_path):
    path = write_csv(tmp_path / "referents.csv", REFERENTS_CSV)
    report = registres.import_referents(path, engine=engine)
    assert report.importes == 3
    exact = registres.list_referents(engine, exact=True).set_index("code_insee")
    assert exact.loc["62119", "nom_referent"] == "Camille Exemple"
    assert bool(exact.loc["62119", "forme"]) and not bool(exact.loc["62498", "forme"])
    assert str(exact.loc["62119", "date_formation"]) == "2023-10-02"
    assert str(exact.loc["62498", "date_designation"]) == "2024-01-10"
    assert "62770" in exact.index  # Saint-Venant, écrit « St-Venant »
    public = registres.public_referents(engine)
    assert list(public.columns) == registres.PUBLIC_REFERENT_COLUMNS
    text = public.to_csv() + public.to_json()
    for secret in ("Camille", "Dominique", "camille@mairie.invalid", "03 21 00 00 00"):
        assert secret not in text


def test_referents_cli_hides_names_without_exact(capsys, tmp_path, agent, monkeypatch):
    path = write_csv(tmp_path / "referents.csv", REFERENTS_CSV)
    assert cli(capsys, "referents", "importer", str(path))[0] == 0
    for args in (("referents", "lister"), ("referents", "lister", "--json")):
        code, out, _ = cli(capsys, *args)
        assert code == 0 and "Béthune" in out
        assert "Camille" not in out and "camille@mairie.invalid" not in out
    # Noms et contacts : mot de passe d'un agent exigé.
    code, out, err = run_cli_input(capsys, monkeypatch, "", "referents", "lister", "--exact",
                                   *AGENT_OPTIONS)
    assert code != 0 and "Camille" not in out and "mot de passe" in err
    code, out, _ = run_cli_input(capsys, monkeypatch, AGENT_PASSWORD + "\n", "referents",
                                 "lister", "--exact", "--json", *AGENT_OPTIONS)
    rows = {r["code_insee"]: r for r in json.loads(out)}
    assert rows["62119"]["nom_referent"] == "Camille Exemple"


def test_referents_errors_and_update(engine, tmp_path):
    bad = write_csv(tmp_path / "r.csv", "code_insee;forme;date_designation\n62119;peut-être;"
                                        "hier\n")
    with pytest.raises(registres.RegistreInvalideError) as err:
        registres.import_referents(bad, engine=engine)
    assert "ligne 2, colonne « forme »" in str(err.value)
    assert "ligne 2, colonne « date_designation »" in str(err.value)
    first = write_csv(tmp_path / "a.csv", "code_insee;forme\n62119;non\n62498;non\n")
    update = write_csv(tmp_path / "b.csv", "code_insee;forme;date_formation\n62119;oui;"
                                           "01/02/2024\n")
    registres.import_referents(first, engine=engine)
    registres.import_referents(update, engine=engine)
    df = registres.public_referents(engine).set_index("code_insee")
    assert len(df) == 2 and bool(df.loc["62119", "forme"])
    registres.import_referents(update, replace=True, engine=engine)
    assert list(registres.public_referents(engine)["code_insee"]) == ["62119"]


def test_referents_template_round_trip(engine, tmp_path):
    path = registres.write_referents_template(tmp_path / "ref.xlsx")
    wb = openpyxl.load_workbook(path)
    ws = wb["Referents"]
    headers = [c.value for c in ws[1]]
    import datetime as dt
    values = {"code_insee": "62119", "date_designation": dt.datetime(2023, 3, 15),
              "forme": "oui", "date_formation": dt.datetime(2023, 10, 2),
              "nom_referent": "Camille Exemple", "contact_referent": "c@x.invalid"}
    for key, value in values.items():
        ws.cell(row=2, column=headers.index(key) + 1, value=value)
    wb.save(path)
    registres.import_referents(path, engine=engine)
    row = registres.list_referents(engine, exact=True).iloc[0]
    assert row["code_insee"] == "62119" and bool(row["forme"])
    assert str(row["date_designation"]) == "2023-03-15"
    assert row["nom_referent"] == "Camille Exemple"


def test_with_imported_referentiel_points_checked_and_placed(engine, tmp_path):
    referentiel = pytest.importorskip("observatoire.referentiel")
    referentiel.import_boundaries(shared_path("geo", "pas-de-calais",
                                              "communes-62-pas-de-calais.geojson"))
    report = registres.import_dispositifs(shared_path(*FRANCE_SERVICES), type="france_services",
                                          engine=engine)
    assert report.importes == 50 and report.avertissements == []
    wrong = write_csv(tmp_path / "w.csv", "type;nom;code_insee;latitude;longitude\n"
                                          "leao;LEAO mal placé;62041;50.5298;2.6412\n")
    report = registres.import_dispositifs(wrong, engine=engine)
    (warning,) = report.avertissements
    assert "LEAO mal placé" in warning and "62041" in warning and "vérifiez" in warning
    registres.load_initial_registry(engine=engine)
    df = registres.list_dispositifs(engine)
    plan = df[df["source"].str.startswith("Plan cadre")]
    assert plan["latitude"].notna().all()  # placés au point représentatif de leur commune
    assert set(plan["localisation"]) == {"commune", "territoire"}
    layer = referentiel.load_layer("commune")
    assert registres.check_points_in_communes(plan, layer).empty
    points = registres.dispositifs_points(engine)
    assert len(points) == 66 and points.crs.to_epsg() == 2154


def test_dangerous_files_refused(engine, tmp_path):
    macro = tmp_path / "registre.xlsm"
    macro.write_bytes(b"PK\x03\x04 pas vraiment un classeur")
    with pytest.raises(ObservatoireError, match="macros"):
        registres.import_dispositifs(macro, type="leao", engine=engine)
    broken = tmp_path / "registre.xlsx"
    broken.write_bytes(b"PK\x03\x04 corrompu")
    with pytest.raises(ObservatoireError, match="registre.xlsx"):
        registres.import_referents(broken, engine=engine)
    assert registres.list_dispositifs(engine).empty
