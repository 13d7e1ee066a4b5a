import datetime as dt

import numpy as np
import pandas as pd
import pytest

from observatoire import formats


@pytest.mark.parametrize("x, dec, attendu", [
    (1234.5, 1, "1\u202f234,5"), (1234567, 0, "1\u202f234\u202f567"), (0.125, 2, "0,12"),
    (-0.04, 1, "0,0"), (-1234.25, 2, "-1\u202f234,25"), (None, 1, ""),
    (float("nan"), 1, ""), (np.float64("nan"), 1, ""), (pd.NA, 1, ""), (7, 1, "7,0"),
])
def test_nombres_a_la_francaise(x, dec, attendu):
    assert formats.nombre(x, dec) == attendu


def test_separateurs_de_cldr():
    assert formats.GROUPE == "\u202f" and formats.DECIMALE == ","


@pytest.mark.parametrize("d, attendu", [
    (dt.date(2026, 12, 1), "1er décembre 2026"), (dt.date(2024, 3, 15), "15 mars 2024"),
    ("2023-02-01", "1er février 2023"), (dt.datetime(2025, 7, 4, 9, 5), "4 juillet 2025"),
    (pd.Timestamp("2024-08-01"), "1er août 2024"), (None, ""), (pd.NaT, ""), ("n'importe", ""),
])
def test_dates_en_toutes_lettres(d, attendu):
    assert formats.date(d) == attendu


def test_date_et_heure():
    assert formats.date_heure(dt.datetime(2026, 12, 1, 14, 5)) == "1er décembre 2026 à 14 h 05"
    assert formats.date_heure("2024-03-15T08:30:00") == "15 mars 2024 à 8 h 30"


@pytest.mark.parametrize("n, attendu", [
    (512, "512\u00a0octets"), (7373, "7,2\u00a0Ko"), (1_363_149, "1,3\u00a0Mo"),
    (5 * 2**30, "5,0\u00a0Go"), (None, ""),
])
def test_tailles(n, attendu):
    assert formats.taille(n) == attendu


@pytest.mark.parametrize("nom, attendu", [
    ("Arras", "d'Arras"), ("Béthune", "de Béthune"), ("Saint-Omer", "de Saint-Omer"),
    ("Le Portel", "du Portel"), ("Les Attaques", "des Attaques"), ("Étaples", "d'Étaples"),
    ("La Couture", "de La Couture"), ("Lens", "de Lens"),
])
def test_de_devant_un_nom(nom, attendu):
    assert formats.de(nom) == attendu


def test_doctests():
    import doctest

    assert doctest.testmod(formats).failed == 0
