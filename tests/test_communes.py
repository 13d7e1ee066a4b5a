from observatoire import communes


def test_pas_de_calais_reference_is_complete():
    df = communes.load_communes("62")
    assert len(df) == 887
    assert df["code_insee"].str.fullmatch(r"62\d{3}").all()
    assert sorted(df["arrondissement"].unique()) == [
        "621", "622", "623", "624", "625", "626", "627"]
    assert (df["epci"] != "").all()
    assert df.groupby("arrondissement").size().to_dict() == {
        "621": 357, "622": 104, "623": 74, "624": 161, "625": 89, "626": 52, "627": 50}


def test_codes_stay_strings_with_leading_zeros():
    df = communes.load_communes(None)
    assert df.loc[df["code_insee"] == "01001", "nom"].item() == "L'Abergement-Clémenciat"
    assert (df["code_insee"].str.len() == 5).all()


def test_delegated_and_absorbed_codes_map_to_current_commune():
    mapping = communes.current_code_map()
    assert mapping["62461"] == "62447"  # Huby-Saint-Leu -> Hesdin-la-Forêt
    assert mapping["62210"] == "62154"  # Canteleux -> Bonnières
    assert mapping["62119"] == "62119"


EVENTS = "\n".join([
    "MOD,DATE_EFF,TYPECOM_AV,COM_AV,TNCC_AV,NCC_AV,NCCENR_AV,LIBELLE_AV,"
    "TYPECOM_AP,COM_AP,TNCC_AP,NCC_AP,NCCENR_AP,LIBELLE_AP",
    "31,2019-01-01,COM,62210,0,CANTELEUX,Canteleux,Canteleux,"
    "COM,62154,0,BONNIERES,Bonnières,Bonnières",
    "10,2023-01-01,COM,62588,0,MONTREUIL,Montreuil,Montreuil,"
    "COM,62588,0,MONTREUIL SUR MER,Montreuil-sur-Mer,Montreuil-sur-Mer",
    "31,1990-01-01,COM,62999,0,VIEILLEVILLE,Vieilleville,Vieilleville,"
    "COM,62210,0,CANTELEUX,Canteleux,Canteleux",
    "21,2020-01-01,COM,62998,0,RETABLIE,Rétablie,Rétablie,COM,62997,0,DISPARUE,Disparue,Disparue",
    "",
])


def test_insee_events_name_absorbed_communes_and_old_names(tmp_path):
    from observatoire import matching

    src = tmp_path / "v_mvt_commune_2025.csv"
    src.write_text(EVENTS, encoding="utf-8")
    report = communes.import_insee_events(src)
    assert report == {"fichier": src.name, "anciens_codes": 2, "anciens_noms": 1,
                      "ignores": 0}
    anc = communes.load_anciennes().set_index(["code", "type"])
    assert anc.loc[[("62210", "ancien_code")], "nom"].tolist() == ["Canteleux"]
    # Chaîne de mouvements : 62999 → 62210 → 62154.
    assert communes.current_code_map()["62999"] == "62154"
    assert anc.loc[[("62588", "ancien_nom")], "code_commune"].tolist() == ["62588"]
    matching.get_index.cache_clear()
    try:
        assert matching.match_commune("Canteleux").code_insee == "62154"
        assert matching.match_commune("Vieilleville").code_insee == "62154"
    finally:
        matching.get_index.cache_clear()


def test_insee_events_file_without_its_columns_is_refused(tmp_path):
    import pytest

    from observatoire.errors import ObservatoireError

    bad = tmp_path / "autre.csv"
    bad.write_text("code,nom\n62001,Ablain\n", encoding="utf-8")
    with pytest.raises(ObservatoireError, match="mouvements de communes.*manquantes"):
        communes.import_insee_events(bad)
    assert not communes.events_path().exists()


def test_cli_imports_insee_events(tmp_path, capsys):
    import json

    from tests.conftest import run_cli

    src = tmp_path / "mvt.csv"
    src.write_text(EVENTS, encoding="utf-8")
    code, out, _err = run_cli(capsys, "referentiel", "evenements", str(src), "--json")
    assert code == 0
    assert json.loads(out)["anciens_codes"] == 2
