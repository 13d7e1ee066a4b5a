"""Classes de carte, palettes, styles : observatoire.classification."""

from __future__ import annotations

import math
import warnings

import mapclassify
import numpy as np
import pytest

from observatoire import classification as cl


def _ssd(x, bornes):
    x = np.sort(np.asarray(x))
    c = np.searchsorted(bornes, x, side="left")
    return sum(((x[c == j] - x[c == j].mean()) ** 2).sum() for j in range(len(bornes)))


def test_format_nombre_francais():
    assert cl.format_nombre(1234.5) == "1\u202f234,5"
    assert cl.format_nombre(1234567, 0) == "1\u202f234\u202f567"
    assert cl.format_nombre(0.125, 2) == "0,12" or cl.format_nombre(0.125, 2) == "0,13"
    assert cl.format_nombre(-0.04) == "0,0"
    assert cl.format_nombre(-3.25, 1) == "-3,2" or cl.format_nombre(-3.25, 1) == "-3,3"
    assert cl.format_nombre(None) == ""
    assert cl.format_nombre(float("nan")) == ""
    assert cl.format_nombre(np.float64("nan")) == ""


@pytest.mark.parametrize("nom", list(cl.PALETTES))
def test_palettes_de_3_a_9_classes(nom):
    for k in range(1, 10):
        cols = cl.palette(nom, k)
        assert len(cols) == k
        assert all(c.startswith("#") and len(c) == 7 for c in cols)
        assert len(set(cols)) == k


def test_palette_du_clair_au_fonce():
    from matplotlib.colors import to_rgb

    for nom in cl.PALETTES:
        lum = [sum(to_rgb(c)) for c in cl.palette(nom, 5)]
        assert lum == sorted(lum, reverse=True), nom


def test_palette_erreurs():
    with pytest.raises(ValueError, match="Palette « Jet » inconnue"):
        cl.palette("Jet", 5)
    with pytest.raises(ValueError, match="Nombre de classes 12"):
        cl.palette("PuBu", 12)


def test_classes_intervalles_ouverts_a_gauche():
    c = cl.classer([1, 2, 3], "bornes_fixes", bornes=[1, 2, 5])
    assert c.classes([0, 1, 1.01, 2, 4.99, 5, 12, None, float("nan")]).tolist() == [
        0, 0, 1, 1, 2, 2, 2, -1, -1]
    assert c.etiquettes() == ["de 0 à 1", "plus de 1 à 2", "plus de 2 à 5"]
    assert c.couleur(None) is None
    assert c.couleur(3) == c.couleurs[2]


@pytest.mark.parametrize("methode", ["quantiles", "jenks", "intervalles_egaux"])
def test_valeur_affichee_dans_sa_classe(methode):
    """Arrondie à la précision de la légende, chaque valeur tombe dans la classe affichée."""
    rng = np.random.default_rng(1)
    v = rng.gamma(2.0, 2.0, 400)
    c = cl.classer(v, methode, 5)
    assert c.k == 5
    assert sum(c.effectifs) == v.size
    assert c.minimum <= v.min() and c.bornes[-1] >= v.max()
    idx = c.classes(v)
    arrondies = np.round(v, c.decimales)
    bas = np.array((c.minimum,) + c.bornes[:-1])[idx]
    haut = np.array(c.bornes)[idx]
    assert np.all(arrondies <= haut + 1e-9)
    assert np.all((arrondies > bas - 1e-9) | (idx == 0))


def test_quantiles_equilibres():
    v = np.arange(1, 101, dtype=float)
    c = cl.classer(v, "quantiles", 4)
    assert c.effectifs == (25, 25, 25, 25)
    assert c.bornes == (25.75, 50.5, 75.25, 100.0) or c.decimales <= 2


def test_intervalles_egaux_avec_mapclassify():
    v = np.linspace(0, 10, 51)
    c = cl.classer(v, "intervalles_egaux", 5, decimales=1)
    assert c.bornes == tuple(np.round(mapclassify.EqualInterval(v, k=5).bins, 1))


@pytest.mark.parametrize("seed", range(6))
def test_jenks_optimal_et_conforme_a_mapclassify(seed):
    v = np.random.default_rng(seed).gamma(2, 2, 300)
    ours = cl.fisher_jenks(v, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = mapclassify.FisherJenks(v, k=5).bins
    # Partition optimale : jamais pire que mapclassify, en général identique.
    assert _ssd(v, ours) <= _ssd(v, ref) + 1e-9
    assert np.allclose(ours, ref) or _ssd(v, ours) < _ssd(v, ref)


def test_jenks_groupes_evidents():
    v = [1, 1.1, 1.2, 5, 5.1, 5.2, 10, 10.1]
    assert cl.fisher_jenks(v, 3).tolist() == [1.2, 5.2, 10.1]


def test_peu_de_valeurs_distinctes_et_aucune():
    c = cl.classer([2.0, 2.0, 3.0], "quantiles", 5)
    assert c.k <= 2
    vide = cl.classer([float("nan"), None], "jenks", 5)
    assert vide.k == 1 and vide.effectifs == (0,)


def test_erreurs_de_parametres():
    with pytest.raises(ValueError, match="Méthode de classification « kmeans » inconnue"):
        cl.classer([1, 2], "kmeans")
    with pytest.raises(ValueError, match="Nombre de classes 2 impossible"):
        cl.classer([1, 2], "quantiles", 2)
    with pytest.raises(ValueError, match="demande les bornes"):
        cl.classer([1, 2], "bornes_fixes")
    with pytest.raises(ValueError, match="strictement croissantes"):
        cl.classer([1, 2], "bornes_fixes", bornes=[3, 1])


def test_bornes_fixes_conservees_d_une_annee_a_l_autre(tmp_path):
    chemin = tmp_path / "bornes.json"
    assert cl.charger_bornes_fixes(chemin, "x") is None
    an1 = cl.classer(np.random.default_rng(0).gamma(2, 2, 200), "jenks", 5)
    cl.enregistrer_bornes_fixes(chemin, "faits/taux", an1, annee_origine=2024)
    relue = cl.charger_bornes_fixes(chemin, "faits/taux")
    assert relue.bornes == an1.bornes and relue.couleurs == an1.couleurs
    assert relue.methode == "bornes_fixes"
    # L'année suivante, des valeurs plus fortes : mêmes bornes, classes comparables.
    an2 = cl.classer([0.5, 30.0], bornes=relue.bornes)
    assert an2.bornes == an1.bornes
    assert an2.classes([30.0]).tolist() == [an1.k - 1]
    # Une autre carte enregistrée n'efface pas la première.
    cl.enregistrer_bornes_fixes(chemin, "autre", an2)
    assert cl.charger_bornes_fixes(chemin, "faits/taux").bornes == an1.bornes


def test_zero_a_part_classe_aucun_cas():
    """Beaucoup de zéros : ils ont leur classe, les autres se répartissent les positifs."""
    v = np.r_[np.zeros(300), np.random.default_rng(2).gamma(2, 1, 120)]
    sans = cl.classer(v, "quantiles", 5)
    assert sans.k < 5  # les quantiles s'effondrent sur zéro
    c = cl.classer(v, "quantiles", 5, zero_a_part=True)
    assert c.k == 5 and c.bornes[0] == 0 and c.minimum == 0
    assert c.effectifs[0] == 300 and sum(c.effectifs[1:]) == 120
    assert max(c.effectifs[1:]) - min(c.effectifs[1:]) <= 3  # quantiles des positifs
    lib = c.etiquettes()
    assert lib[0] == "0 (aucun cas)" and lib[1].startswith("plus de 0 à ")
    assert c.classes([0.0, 1e-6, v.max()]).tolist() == [0, 1, 4]
    trois = cl.classer(v, "jenks", 3, zero_a_part=True)
    assert trois.k == 3 and trois.effectifs[0] == 300
    # Sans zéro, ou sans positif, rien ne change.
    assert cl.classer(v[v > 0], "quantiles", 5, zero_a_part=True) == cl.classer(
        v[v > 0], "quantiles", 5)
    assert cl.Classification.from_dict(c.to_dict()).etiquettes() == lib


def test_classification_aller_retour_dict():
    c = cl.classer([1, 2, 3, 4, 5, 6], "quantiles", 3, "PuBu")
    assert cl.Classification.from_dict(c.to_dict()) == c


def test_styles_non_numeriques_distincts_sans_la_couleur():
    """Aucune information portée par la couleur seule : motifs de hachures distincts."""
    etats = [cl.STYLE_SECRET, cl.STYLE_NON_CONCLUANT, cl.STYLE_PAS_DE_DONNEE,
             cl.STYLE_HORS_PERIMETRE,
             cl.STYLES_ETIQUETTES["révélatrice"], cl.STYLES_ETIQUETTES["blanche présumée"]]
    assert all(s.hachures for s in etats)
    assert len({s.hachures for s in etats}) == len(etats)
    assert len({s.motif for s in etats}) == len(etats)
    assert set(cl.STYLES_ETIQUETTES) == {"révélatrice", "pas d'écart détecté",
                                         "blanche présumée", "non concluant"}
    assert cl.style_etiquette(None) is cl.STYLE_HORS_PERIMETRE
    assert cl.style_etiquette(math.nan) is cl.STYLE_HORS_PERIMETRE
    assert cl.style_etiquette("révélatrice").libelle == "révélatrice"


def test_style_matplotlib_et_leaflet():
    kw = cl.STYLE_SECRET.matplotlib()
    assert kw["hatch"] == "xxx" and kw["facecolor"] == "#bdbdbd"
    lf = cl.STYLE_CONTOUR_BLANCHE.leaflet()
    assert lf["fillOpacity"] == 0.0 and lf["dashArray"] == "4 2"
    assert cl.STYLE_SECRET.leaflet()["pattern"] == "croisillons"
    svg = cl.motif_svg(cl.STYLE_SECRET)
    assert svg.startswith('<pattern id="motif-croisillons"') and "#bdbdbd" in svg
    assert cl.motif_svg(cl.STYLES_ETIQUETTES["pas d'écart détecté"]) == ""


def test_doctests():
    import doctest

    res = doctest.testmod(cl)
    assert res.failed == 0 and res.attempted >= 4


def test_classer_table_zero_a_part_sur_les_valeurs_publiees():
    import pandas as pd

    table = pd.DataFrame({
        "observe": pd.array([0, 0, 3, 12, 20, 40, 7, pd.NA], dtype="Int64"),
        "taux": [0.0, 0.0, 9.9, 4.0, 5.0, 10.0, 2.0, float("nan")],
        "secret": [False, False, True, False, False, False, False, False]})
    c = cl.classer_table(table, "taux", "quantiles", 4)
    # La cellule secrète (9,9) n'entre pas dans les bornes ; les zéros ont leur classe.
    assert c.zero_a_part and c.etiquettes()[0] == "0 (aucun cas)"
    assert sum(c.effectifs) == 6 and 9.9 not in c.bornes
    assert c.k_demande == 4 and c.note_classes() is None


def test_la_legende_dit_quand_il_y_a_moins_de_classes_que_demande():
    import pandas as pd

    # Beaucoup de valeurs égales : les quantiles ne peuvent pas former 5 classes.
    table = pd.DataFrame({"observe": [1] * 40 + [2] * 2, "taux": [2.0] * 40 + [4.0] * 2,
                          "secret": [False] * 42})
    c = cl.classer_table(table, "taux", "quantiles", 5)
    assert c.k < 5
    assert c.note_classes() == (f"{c.k} classes au lieu des 5 demandées : trop peu de "
                                "valeurs publiées différentes (beaucoup de valeurs égales)")
    assert cl.Classification.from_dict(c.to_dict()).k_demande == 5
    vide = cl.classer_table(table.assign(secret=True), "taux")
    assert "aucune valeur publiée" in vide.note_classes()
    fixes = cl.classer_table(table, "taux", bornes=[1, 3, 5])
    assert fixes.note_classes() is None
