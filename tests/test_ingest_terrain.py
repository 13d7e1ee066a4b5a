"""Fichiers « de terrain » : tels que les partenaires les envoient, construits à la volée.

Chaque test est un fichier qu'un nouvel utilisateur a essayé (extraction CAF, une
feuille par brigade, périodes en colonnes, sous-totaux, formules, notes de bas de
tableau…) et ce qu'un chargeur mûr doit en faire.
"""

import io
import json
import re
import subprocess
import sys
import zipfile

import openpyxl
import pytest

from observatoire.errors import DonneesPersonnellesError
from observatoire.ingest import read_contribution


def xlsx(sheets: dict[str, list[list]], merged: dict[str, list[str]] | None = None,
         cached: dict[str, object] | None = None) -> bytes:
    """Classeur .xlsx ; ``cached`` : valeur calculée de chaque formule, comme Excel l'écrit.

    openpyxl écrit les formules sans leur valeur (comme un programme qui ne les calcule
    pas) ; ``cached`` ajoute la valeur que le tableur aurait enregistrée.
    """
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
        for rng in (merged or {}).get(name, []):
            ws.merge_cells(rng)
    buf = io.BytesIO()
    wb.save(buf)
    if not cached:
        return buf.getvalue()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zin, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.startswith("xl/worksheets/sheet"):
                xml = data.decode()
                for ref, v in cached.items():
                    xml, n = re.subn(rf'(<c r="{ref}"[^>]*>)(<f>[^<]*</f>)(<v\s*/>)?',
                                     rf"\1\2<v>{v}</v>", xml)
                    assert n == 1, ref
                data = xml.encode()
            zout.writestr(item, data)
    return out.getvalue()


def read(content, name="f.xlsx", contributeur="police_62", annee=2023, **kw):
    return read_contribution(content, name, contributeur, annee, **kw)


def vals(parsed, item):
    """{code INSEE: valeur (None si masquée)} d'un indicateur, communes localisées."""
    v = parsed.values
    v = v[(v["indicateur"] == item) & v["code_insee"].notna()]
    return {c: (None if m else int(x))
            for c, x, m in zip(v["code_insee"], v["valeur"], v["masque"], strict=True)}


def codes(parsed, level="avertissements"):
    return [i.code for i in getattr(parsed.report, level)]


# --- Valeurs -------------------------------------------------------------------------

def test_ranges_and_marks_are_masked_never_numbers():
    marks = ["<5", "1 à 4", "s", "NC", "secret", "*", "< 5", "1-4", "entre 1 et 4", "[1;4]"]
    rows = [["Commune", "Victimes reçues"]]
    names = ["Arras", "Lens", "Liévin", "Béthune", "Beuvry", "Lillers", "Auchel",
             "Bully-les-Mines", "Carvin", "Harnes"]
    rows += [[n, m] for n, m in zip(names, marks, strict=True)] + [["Calais", 12]]
    p = read(xlsx({"ISCG": rows}), contributeur="iscg_62")
    assert p.report.ok, [i.to_text() for i in p.report.erreurs]
    got = vals(p, "victimes_accueillies")
    assert got.pop("62193") == 12
    assert len(got) == 10 and set(got.values()) == {None}
    assert p.report.cellules_masquees == 10
    assert p.values.loc[p.values["masque"], "valeur"].isna().all()


def test_cp1252_csv_thousands_separators_and_decimal_commas():
    text = ("Commune;Faits constatés;Interventions à domicile\r\nArras;1 234;2\u00a0345\r\n"
            "Lens;987;1 002,0\r\nLiévin;15,0;12\r\n")
    p = read(text.encode("cp1252"), "police.csv")
    assert p.report.encodage == "cp1252" and p.report.ok
    assert vals(p, "faits_constates") == {"62041": 1234, "62498": 987, "62510": 15}
    assert vals(p, "interventions_domicile") == {"62041": 2345, "62498": 1002, "62510": 12}


def test_bom_crlf_csv_with_comma_and_quoted_decimal():
    content = "\ufeffCommune,Personnes reçues\r\nArras,12\r\nLens,\"1,0\"\r\n".encode()
    p = read(content, "pf.csv", contributeur="planning_familial_62")
    assert p.report.encodage == "utf-8-sig"
    assert vals(p, "personnes_recues") == {"62041": 12, "62498": 1}


def test_numbers_as_text_with_non_breaking_spaces():
    rows = [["Commune", "Faits constatés"], ["Arras", "1\u00a0234"], ["Lens", "\u00a012\u00a0"],
            ["Liévin", "2\u202f000"]]
    p = read(xlsx({"F": rows}))
    assert vals(p, "faits_constates") == {"62041": 1234, "62498": 12, "62510": 2000}


# --- Formules ------------------------------------------------------------------------

def test_formulas_read_by_cached_value_and_annual_column_preferred_to_quarters():
    rows = [["Commune", "Faits T1", "Faits T2", "Faits constatés"],
            ["Arras", 2, 3, "=B2+C2"], ["Lens", 4, 1, "=B3+C3"],
            ["TOTAL", "=SUM(B2:B3)", "=SUM(C2:C3)", "=SUM(D2:D3)"]]
    p = read(xlsx({"F": rows}, cached={"D2": 5, "D3": 5, "B4": 6, "C4": 4, "D4": 10}))
    # Le total annuel (D) est chargé ; T1 et T2 ne sont pas ajoutés une seconde fois.
    assert vals(p, "faits_constates") == {"62041": 5, "62498": 5}
    assert codes(p).count("detail_periodes_ignore") == 2
    assert "commune_en_double" not in codes(p) and "total_incoherent" not in codes(p)


def test_formulas_without_cached_value_are_an_error_not_silent_blanks():
    rows = [["Commune", "Faits constatés", "Interventions"], ["Arras", "=1+1", 3],
            ["Lens", "=2+2", 4], ["TOTAL", "=SUM(B2:B3)", "=SUM(C2:C3)"]]
    p = read(xlsx({"F": rows}))
    assert not p.report.ok
    err = next(i for i in p.report.erreurs if i.code == "formule_sans_valeur")
    assert (err.feuille, err.ligne, err.colonne) == ("F", 2, "B")
    assert "B2, B3" in err.message and "enregistrez-le" in err.message
    # Le total en formule non calculée n'est pas une valeur : il n'est pas cité.
    assert "B4" not in err.message and len(p.report.erreurs) == 1


# --- Mises en page -------------------------------------------------------------------

def test_one_sheet_per_brigade_is_added_up():
    def brigade(title, rows):
        return [[title], ["Commune", "Faits constatés", "Interventions"], *rows]

    content = xlsx({
        "BTA Lillers": brigade("Brigade de Lillers", [["Lillers", 12, 4], ["Burbure", 3, 1]]),
        "COB Auchel": brigade("COB d'Auchel", [["Auchel", 20, 9], ["Calonne-Ricouart", "s", 1]]),
        "BP Isbergues": brigade("BP d'Isbergues", [["Isbergues", 9, 3]]),
    })
    p = read(content, contributeur="gendarmerie_62")
    assert p.report.ok, [i.to_text() for i in p.report.erreurs]
    assert vals(p, "faits_constates") == {"62516": 12, "62188": 3, "62048": 20,
                                          "62194": None, "62473": 9}
    assert "feuilles_additionnees" in codes(p)


def test_recap_sheet_over_brigades_is_set_aside_and_overlap_still_asks():
    head = ["Commune", "Faits constatés"]
    recap = [head, ["Lillers", 12], ["Burbure", 3], ["Auchel", 20]]
    content = xlsx({"Lillers": [head, ["Lillers", 12], ["Burbure", 3]],
                    "Auchel": [head, ["Auchel", 20]], "Synthèse": recap})
    p = read(content, contributeur="gendarmerie_62")
    assert p.report.ok
    assert vals(p, "faits_constates") == {"62516": 12, "62188": 3, "62048": 20}
    roles = {f["nom"]: f["role"] for f in p.report.feuilles}
    assert roles["Synthèse"].startswith("ignorée (récapitulatif")
    # Deux feuilles aux mêmes communes : rien n'est additionné au hasard.
    p = read(xlsx({"A": [head, ["Lillers", 1]], "B": [head, ["Lillers", 2]]}),
             contributeur="gendarmerie_62")
    assert "feuilles_multiples" in codes(p, "erreurs")


def test_item_merged_over_quarters_is_summed_without_duplicate_warning():
    rows = [["Commune", "Faits constatés", None, None, None, None],
            [None, "T1", "T2", "T3", "T4", "Total"],
            ["Lillers", 3, 4, 2, 3, 12], ["Burbure", 1, 0, "<5", 1, 3], ["Auchel", 5, 5, 5, 5, 20]]
    p = read(xlsx({"2023": rows}, {"2023": ["B1:F1", "A1:A2"]}), contributeur="gendarmerie_62")
    assert vals(p, "faits_constates") == {"62516": 12, "62188": None, "62048": 20}
    # Lillers et Auchel sont en zone de police (registre) : signalées, pas en double.
    assert [c for c in codes(p) if c != "hors_territoire_contributeur"] == [
        "periodes_additionnees"]


def test_year_merged_over_quarters_for_a_single_item_contributor():
    rows = [["Personnes reçues pour VIF"], ["Commune", "2023", None, None, None],
            [None, "T1", "T2", "T3", "T4"], ["Arras", 3, 4, 2, 3], ["Lens", 1, 0, 1, 1]]
    p = read(xlsx({"Accueil": rows}, {"Accueil": ["B2:E2"]}),
             contributeur="planning_familial_62")
    assert vals(p, "personnes_recues") == {"62041": 12, "62498": 3}
    assert not p.report.feuilles[0]["role"].startswith("lue (transposée")


def test_two_columns_for_one_item_load_one_and_say_so():
    rows = [["Commune", "Faits constatés", "Faits"], ["Arras", 5, 7], ["Lens", 1, 2]]
    p = read(xlsx({"F": rows}))
    assert vals(p, "faits_constates") == {"62041": 5, "62498": 1}
    w = next(i for i in p.report.avertissements if i.code == "colonne_meme_indicateur")
    assert w.colonne == "C" and "--correspondance" in w.message
    assert [e["entete"] for e in p.entetes_non_resolus] == ["Faits"]


def test_subtotals_checked_against_their_block_and_grand_total_against_all():
    rows = [["Commune", "Faits constatés"], ["Béthune", 100], ["Beuvry", 20],
            ["Total arrondissement de Béthune", 120], ["Lens", 300], ["Liévin", 50],
            ["Total arrondissement de Lens", 350], ["TOTAL GÉNÉRAL", 480]]
    p = read(xlsx({"Bilan": rows}))
    assert vals(p, "faits_constates") == {"62119": 100, "62126": 20, "62498": 300,
                                          "62510": 50}
    bad = [i for i in p.report.avertissements if i.code == "total_incoherent"]
    assert [(b.ligne, b.colonne) for b in bad] == [(8, "B")]
    assert "(480)" in bad[0].message and "(470)" in bad[0].message


def test_blank_column_between_blocks_and_source_note_with_a_date():
    rows = [["Code INSEE", "Commune", "Faits constatés", None, "Victimes enregistrées"],
            ["62041", "Arras", 50, None, 40], ["62498", "Lens", 70, None, 55], [],
            ["Source : DDSP 62, extraction du 15/01/2024"],
            ["Les effectifs inférieurs à 5 sont masqués."]]
    p = read(xlsx({"Feuil1": rows}))
    assert p.report.ok
    assert vals(p, "victimes_enregistrees") == {"62041": 40, "62498": 55}
    # Une date dans une ligne du tableau, elle, reste refusée.
    rows.insert(2, ["62510", "Liévin", 3, None, "née le 15/01/1984"])
    with pytest.raises(DonneesPersonnellesError, match="colonne E.*ligne 3"):
        read(xlsx({"Feuil1": rows}))


def test_header_on_row_seven_under_a_logo_area():
    rows = [[None], [None, None, "LA VIE ACTIVE"], [None, None, "Accueil de jour - bilan 2023"],
            [], [None, None, "Édité le 12/01/2024"], [],
            ["Code INSEE", "Commune", "Femmes accueillies", "Enfants", "Plaintes"],
            ["62119", "Béthune", 30, 12, 4], ["62126", "Beuvry", 4, 1, 0]]
    p = read(xlsx({"Activité": rows}), contributeur="la_vie_active")
    assert vals(p, "femmes_accueillies") == {"62119": 30, "62126": 4}
    assert vals(p, "accompagnements_plainte") == {"62119": 4, "62126": 0}
    assert p.values["ligne"].min() == 8


def test_empty_sheets_are_skipped():
    content = xlsx({"Feuil1": [], "Données": [["Commune", "Faits constatés"], ["Arras", 5]],
                    "Feuil3": []})
    p = read(content)
    assert vals(p, "faits_constates") == {"62041": 5}
    assert p.report.ok and not p.report.avertissements


def test_police_items_in_rows_communes_in_columns_with_total_column():
    rows = [["DDSP 62 - Circonscription de Béthune - VIF 2023"], [],
            ["Indicateur", "Béthune", "Beuvry", "Annezin", "TOTAL"],
            ["Faits constatés", 120, 30, "<5", 150],
            ["Interventions à domicile", 200, 41, 6, 247]]
    p = read(xlsx({"CSP": rows}), contributeur="police_bethune")
    assert vals(p, "faits_constates") == {"62119": 120, "62126": 30, "62035": None}
    assert vals(p, "interventions_domicile") == {"62119": 200, "62126": 41, "62035": 6}
    assert "total_incoherent" not in codes(p)


def test_long_csv_with_item_labels():
    text = ("commune;indicateur;valeur\nBéthune;Faits constatés;120\n"
            "Béthune;Interventions à domicile;200\nLens;Victimes enregistrées;250\n"
            "Liévin;Faits constatés;s\n")
    p = read(text.encode(), "long.csv")
    assert vals(p, "faits_constates") == {"62119": 120, "62510": None}
    assert vals(p, "victimes_enregistrees") == {"62498": 250}


# --- Communes ------------------------------------------------------------------------

def test_commune_spellings_of_an_association():
    rows = [["Commune de résidence", "Victimes suivies"],
            ["Béthune (62119)", 40], ["St-Pol-sur-Ternoise", 8], ["Hénin Beaumont", 25],
            ["AIRE SUR LA LYS", 6], ["Portel (Le)", 4], ["BRUAY LA BUISSIERE", 31],
            ["Huby-Saint-Leu", 1], ["Auchy", 2], ["Sainte-Catherine", 5]]
    p = read(xlsx({"Suivis": rows}), contributeur="france_victimes_62")
    assert vals(p, "victimes_accompagnees") == {
        "62119": 40, "62767": 8, "62427": 25, "62014": 6, "62667": 4, "62178": 31,
        "62447": 1, "62744": 5}
    # « Auchy » : trois communes possibles, jamais devinée.
    amb = next(c for c in p.communes_non_reconnues if c["texte"] == "Auchy")
    assert amb["statut"] == "ambigu" and len(amb["candidats"]) == 3
    nl = p.values[p.values["code_insee"].isna()]
    assert list(nl["libelle_non_localise"]) == ["Auchy"]


def test_caf_extract_with_corsican_code_and_spaced_code_and_auvvc_header():
    rows = [["CAF du Pas-de-Calais - Extraction - Année 2023"], [],
            ["Libellé commune", "Code commune INSEE", "Familles rencontrées",
             "Aides d'urgence (AUVVC)"],
            ["BETHUNE", 62119, 14, 3], ["BEUVRY", "62126", 5, "<5"], ["AJACCIO", "2A004", 1, 0],
            ["LILLERS", " 62516 ", 7, 2], ["Total", None, 27, 5]]
    p = read(xlsx({"Extraction": rows}), contributeur="caf_62")
    assert p.report.ok and not p.report.entetes_non_resolus
    assert vals(p, "aides_urgence") == {"62119": 3, "62126": None, "62516": 2}
    nl = p.values[p.values["code_insee"].isna()]
    assert set(nl["libelle_non_localise"]) == {"hors territoire : Ajaccio (2A004)"}
    assert "total_incoherent" not in codes(p)


def test_non_localised_rows_kept_with_their_labels():
    text = ("Commune;Victimes suivies\nArras;10\nHors département;4\nCommune inconnue;2\n"
            "NR;3\nAutres communes;6\n")
    p = read(text.encode(), "a.csv", contributeur="france_victimes_62")
    nl = p.values[p.values["code_insee"].isna()]
    assert dict(zip(nl["libelle_non_localise"], nl["valeur"].astype(int), strict=True)) == {
        "Hors département": 4, "Commune inconnue": 2, "NR": 3, "Autres communes": 6}
    assert not p.communes_non_reconnues


def test_hidden_value_column_is_read_and_reported():
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "F"
    for row in [["Commune", "Faits constatés", "Interventions à domicile"],
                ["Arras", 3, 5], ["Lens", 1, 2]]:
        ws.append(row)
    ws.column_dimensions["C"].hidden = True
    buf = io.BytesIO()
    wb.save(buf)
    p = read(buf.getvalue())
    # Lue comme les autres (les valeurs sont dans le fichier)…
    assert vals(p, "interventions_domicile") == {"62041": 5, "62498": 2}
    # … et signalée, avec sa colonne ; la colonne visible ne l'est pas.
    hidden = [w for w in p.report.avertissements if w.code == "colonne_masquee"]
    assert len(hidden) == 1 and hidden[0].colonne == "C"
    assert "Interventions à domicile" in hidden[0].message


# --- Données personnelles ------------------------------------------------------------

@pytest.mark.parametrize(("header", "cell", "where"), [
    ("Nom de la victime", "D.M.", "colonne C « Nom de la victime », ligne 1"),
    ("Commentaire", "suivie par Mme D.", "colonne C « Commentaire », ligne 2"),
    ("Commentaire", "rappeler au 06 12 34 56 78", "colonne C « Commentaire », ligne 2"),
    ("Structure", "3 rue Jean Moulin", "colonne C « Structure », ligne 2"),
])
def test_personal_data_not_fooled(header, cell, where):
    rows = [["Commune", "Victimes suivies", header], ["Arras", 3, cell], ["Lens", 1, None]]
    with pytest.raises(DonneesPersonnellesError) as exc:
        read(xlsx({"F": rows}), contributeur="france_victimes_62")
    assert where in str(exc.value) and cell not in str(exc.value)


def test_person_named_in_the_commune_column_is_refused():
    # Sans ce refus, le texte finirait en libellé non localisé, donc en base.
    rows = [["Commune", "Victimes suivies"], ["Arras", 3], ["Jean DUPONT", 1], ["Lens", 2]]
    with pytest.raises(DonneesPersonnellesError) as exc:
        read(xlsx({"F": rows}), contributeur="france_victimes_62")
    assert "colonne A « Commune », ligne 3" in str(exc.value)
    assert "DUPONT" not in str(exc.value)


def test_commune_names_that_look_like_persons_are_read():
    # Écrits avec des espaces, ces noms ressemblent à « prénom nom » : ce sont des communes
    # (du Pas-de-Calais, ou d'ailleurs pour « Saint Jean Brévelay », hors territoire).
    rows = [["Commune", "Victimes suivies"], ["Sainte Marie Kerque", 3],
            ["SAINT LAURENT BLANGY", 2], ["Saint Jean Brévelay", 1]]
    p = read(xlsx({"F": rows}), contributeur="france_victimes_62")
    assert vals(p, "victimes_accompagnees") == {"62756": 3, "62753": 2}


def test_personal_data_check_not_over_eager():
    # Une structure qui porte le nom d'une personne célèbre, dans le titre ou dans le
    # tableau, n'est pas une personne : le fichier est lu.
    rows = [["Maison Jean Moulin - Planning familial"], ["Bilan 2023"],
            ["Commune", "Nombre de personnes reçues", "Structure"],
            ["Sainte-Catherine", 4, "Maison Jean Moulin"],
            ["Arras", 12, "Centre social Jean Jaurès"]]
    p = read(xlsx({"F": rows}), contributeur="planning_familial_62")
    assert vals(p, "personnes_recues") == {"62744": 4, "62041": 12}


# --- Ligne de commande ---------------------------------------------------------------

def test_cli_simulation_on_a_brigade_workbook(tmp_path, isolated_data):
    head = ["Commune", "Faits constatés"]
    path = tmp_path / "gendarmerie 2023.xlsx"
    path.write_bytes(xlsx({"BTA Lillers": [head, ["Lillers", 12]],
                           "COB Auchel": [head, ["Auchel", "1 à 4"]]}))
    out = subprocess.run([sys.executable, "-m", "observatoire", "contributions", "importer",
                          str(path), "--contributeur", "gendarmerie_62", "--annee", "2023",
                          "--simulation", "--json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    rep = json.loads(out.stdout)
    assert rep["statut"] == "simulation" and rep["cellules_masquees"] == 1
    got = {(v["code_insee"], v["valeur"]) for v in rep["valeurs"]}
    assert got == {("62516", 12), ("62048", None)}
    # Simulation : rien d'archivé.
    assert not any((isolated_data / "contributions").rglob("*"))
