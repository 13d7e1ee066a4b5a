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
