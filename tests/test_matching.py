import pandas as pd
import pytest

from observatoire import matching
from observatoire.matching import match_commune, normalize_name


@pytest.mark.parametrize(("text", "code", "methode"), [
    ("62119", "62119", "code"),
    (62119.0, "62119", "code"),
    (" 62119 ", "62119", "code"),
    (1001, "01001", "code"),
    ("Béthune (62119)", "62119", "nom_code"),
    ("62400 ESSARS", "62310", "code_postal_nom"),
    ("Essars (62400)", "62310", "code_postal_nom"),
    ("BETHUNE", "62119", "nom"),
    ("bruay la buissiere", "62178", "nom"),
    ("St-Omer", "62765", "nom"),
    ("STE CATHERINE", "62744", "nom"),
    ("Noeux-les-Mines", "62617", "nom"),
    ("NŒUX LES MINES", "62617", "nom"),
    ("TOUQUET-PARIS-PLAGE (LE)", "62826", "nom"),
    ("Touquet Paris Plage", "62826", "nom"),
    ("Marconne", "62447", "ancienne_commune"),
])
def test_match_forms(text, code, methode):
    m = match_commune(text)
    assert (m.code_insee, m.methode) == (code, methode)


def test_old_code_goes_to_current_commune():
    # 62210 a été absorbée par 62154 en 2019.
    assert match_commune("62210").code_insee == "62154"
    assert match_commune("62210").methode == "ancien_code"


def test_ambiguous_never_guessed():
    m = match_commune("Auchy")
    assert m.code_insee is None and m.methode == "ambigu"
    assert {"62049", "62050", "62051"} <= set(m.candidats)
    national = matching.get_index(None)
    m = match_commune("Saint-Martin", index=national)
    assert m.code_insee is None and m.methode == "ambigu" and len(m.candidats) > 1


def test_postal_code_disambiguates_national_homonyms():
    national = matching.get_index(None)
    codes = national.names[normalize_name("Beaumont")]
    assert len(codes) > 1
    target = codes[0]
    cp = next(cp for cp, cs in national.postal.items() if target in cs)
    m = match_commune("Beaumont", cp, index=national)
    assert m.code_insee == target or (m.methode == "ambigu" and target in m.candidats)


def test_unknown_gets_close_candidates():
    m = match_commune("Bethunne")
    assert m.code_insee is None and m.methode == "inconnue" and "62119" in m.candidats


@pytest.mark.parametrize("text", ["NON RENSEIGNE", "Hors arrondissement", "inconnu",
                                  "Non localisé", "Autres communes", "hors département"])
def test_non_localised_labels(text):
    assert matching.is_non_localise_label(text)
    assert match_commune(text).methode == "non_localise"


@pytest.mark.parametrize("text", ["TOTAL", "Sous-total", "Total général", "ENSEMBLE", "Somme"])
def test_total_labels(text):
    assert matching.is_total_label(text)
    assert not matching.is_total_label("Béthune")


@pytest.mark.parametrize("name", ["Somme-Bionne", "SOMME SUIPPE", "Somme-Yèvre"])
def test_commune_whose_name_starts_like_a_total_is_not_a_total(name):
    # « Somme » est aussi un libellé de total : le nom exact d'une commune l'emporte.
    assert not matching.is_total_label(name)
    assert matching.total_label_flags([name, "Somme"])[0].tolist() == [False, True]


def test_match_series_vectorised_on_uniques():
    s = pd.Series(["BETHUNE", "BETHUNE", None, "62126"] * 1000)
    res = matching.match_communes(s)
    assert res["code_insee"].iloc[:4].tolist() == ["62119", "62119", None, "62126"]
    assert (res["methode"].iloc[:4] == ["nom", "nom", "vide", "code"]).all()


def test_total_sieve_equals_label_by_label():
    # Le tamis joint (tous les textes d'un coup) ne doit ni manquer ni inventer un total.
    texts = ["TOTAL", "Sous-total", "s/total", "S TOTAL", "Total général", "ENSEMBLE",
             "Somme (la)", "TOTAL (LE)", "to-tal", "Tötal", "T\u0302OTAL", "ＴＯＴＡＬ",
             "Béthune", "Sainte-Marie-Kerque", "62119", "", "x\x00TOTAL", "totaux 2023",
             "Ensemble du territoire", "SOUSTOTAL", "Œnsemble"]
    total, sous = matching.total_label_flags(texts)
    assert total.tolist() == [matching.is_total_label(t) for t in texts]
    assert sous.tolist() == [matching.is_total_label(t) and matching.normalize_name(t)
                             .startswith(("SOUS", "S TOTAL")) for t in texts]


def test_match_values_same_as_cell_by_cell():
    cells = ["62119", " 62126 ", 62119.0, 1001, "Béthune (62119)", "BETHUNE", "Auchy",
             None, True, 1, "Hors arrondissement", "Inconnueville", "62210"]
    import numpy as np
    code, methode, cands = matching.match_values(np.array(cells, dtype=object))
    expected = [match_commune(c) for c in cells]
    assert code.tolist() == [m.code_insee for m in expected]
    assert methode.tolist() == [m.methode for m in expected]
    assert cands.tolist() == [m.candidats for m in expected]


def _same_cell(a, b) -> bool:
    # None et NaN sont une même case vide ; sinon même type et même valeur.
    empty = [v is None or (isinstance(v, float) and v != v) for v in (a, b)]
    return all(empty) if any(empty) else (type(a), a) == (type(b), b)


@pytest.mark.parametrize("cells", [
    ["62119", "62126", "62048"],            # textes tous différents (chemin rapide)
    ["62119", "62126", "62119", "62048"],   # un doublon
    ["62119", None, "62126", None],         # cases vides
    [True, 1, "1", 2.5, 1],                 # VRAI n'est pas 1
])
def test_distinct_values_ranks_cells_by_first_appearance(cells):
    import numpy as np

    from observatoire.matching import distinct_values

    arr = np.empty(len(cells), dtype=object)
    arr[:] = cells
    codes, uniq = distinct_values(arr)
    assert all(_same_cell(uniq[k], v) for k, v in zip(codes.tolist(), cells, strict=True))
    # Rangs dans l'ordre de première apparition, sans trou.
    firsts = list(dict.fromkeys(codes.tolist()))
    assert firsts == list(range(len(uniq)))
