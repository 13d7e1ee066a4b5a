"""Fichiers construits à la volée : mises en page, valeurs, refus, sûreté."""

import io
import zipfile

import openpyxl
import pandas as pd
import pytest

from observatoire import batches, config, storage
from observatoire.errors import DonneesPersonnellesError, FichierRefuseError
from observatoire.ingest import import_contribution, read_contribution
from observatoire.ingest.headers import forget_mapping, list_mappings, remember_mapping

# Stockage et ingestion tournent sur SQLite et sur PostgreSQL (conftest.backend ; les cas
# PostgreSQL sont ignorés avec leur raison sans OBSERVATOIRE_TEST_PG_URL).
pytestmark = pytest.mark.usefixtures("backend")


@pytest.fixture
def engine(any_engine):
    """Le moteur du test, sur chacun des deux backends."""
    return any_engine


def xlsx(sheets: dict[str, list[list]], merged: dict[str, list[str]] | None = None) -> bytes:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for i, row in enumerate(rows, start=1):
            ws.append(row)
            for j, value in enumerate(row, start=1):
                # Texte saisi tel quel (« =HYPERLINK(… ») : jamais une formule.
                if isinstance(value, str) and value.startswith("="):
                    ws.cell(row=i, column=j).data_type = "s"
        for rng in (merged or {}).get(name, []):
            ws.merge_cells(rng)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def read(content, name="f.xlsx", contributeur="gendarmerie_62", annee=2023, **kw):
    return read_contribution(content, name, contributeur, annee, **kw)


def vals(parsed, item="faits_constates"):
    v = parsed.values
    v = v[(v["indicateur"] == item) & v["code_insee"].notna()]
    return {c: (None if pd.isna(x) else int(x)) for c, x in zip(v["code_insee"], v["valeur"],
                                                                strict=True)}


def test_title_rows_merged_header_and_total_checked():
    rows = [["Bilan gendarmerie 2023"], [], [None, "Violences", None],
            ["Commune", "Faits constatés", "Interventions"],
            ["BETHUNE", 12, 3], ["Beuvry", "1 204", "2\u00a0000"], ["TOTAL", 1300, 2003]]
    p = read(xlsx({"F": rows}, {"F": ["B3:C3"]}))
    assert vals(p) == {"62119": 12, "62126": 1204}
    assert vals(p, "interventions_domicile") == {"62119": 3, "62126": 2000}
    codes = [w.code for w in p.report.avertissements]
    assert codes.count("total_incoherent") == 1
    bad = next(w for w in p.report.avertissements if w.code == "total_incoherent")
    assert (bad.ligne, bad.colonne) == (7, "B") and "1216" in bad.message


def test_csv_separators_and_encodings():
    text = "code;commune;faits\n62119;Béthune;4\n 62126 ;Beuvry;s\n"
    for enc, sep in (("utf-8-sig", ";"), ("utf-8", ","), ("cp1252", "\t")):
        content = text.replace(";", sep).encode(enc)
        p = read(content, "f.csv")
        assert vals(p) == {"62119": 4, "62126": None}
        masked = p.values[p.values["masque"]]
        assert list(masked["code_insee"]) == ["62126"] and masked["valeur"].isna().all()


def test_masked_marks_never_numbers():
    rows = [["insee", "faits"], ["62119", "<5"], ["62126", "s"], ["62178", "NC"],
            ["62194", "secret"], ["62195", "≤3"], ["62217", 0]]
    p = read(xlsx({"F": rows}))
    v = p.values.set_index("code_insee")
    assert v.loc["62217", "valeur"] == 0 and not v.loc["62217", "masque"]
    others = v.drop("62217")
    assert others["masque"].all() and others["valeur"].isna().all()
    assert p.report.cellules_masquees == 5


def test_negative_fractional_and_injection_refused_with_location(engine):
    rows = [["Commune", "Faits constatés"], ["Béthune", -3], ["Beuvry", 2.5],
            ["Auchel", "=HYPERLINK(\"http://x\",\"clic\")"], ["Barlin", 4]]
    content = xlsx({"F": rows})
    report = import_contribution(content, "f.xlsx", "gendarmerie_62", 2023, simulation=True)
    errs = {e.code: e for e in report.erreurs}
    assert errs["valeur_negative"].ligne == 2 and errs["valeur_negative"].colonne == "B"
    assert errs["valeur_decimale"].ligne == 3
    assert errs["formule_refusee"].ligne == 4 and report.statut == "refuse"
    with pytest.raises(FichierRefuseError, match="ligne 2, colonne B"):
        import_contribution(content, "f.xlsx", "gendarmerie_62", 2023)
    assert batches.list_batches(engine).empty
    csv = "commune;faits\nBéthune;=HYPERLINK(\"http://x\")\nBeuvry;+cmd|' /C calc'!A0\n"
    rep = import_contribution(csv.encode(), "f.csv", "gendarmerie_62", 2023, simulation=True)
    assert {e.code for e in rep.erreurs} == {"formule_refusee"}
    assert all("«" in e.message for e in rep.erreurs)


def test_commune_listed_twice_is_summed_with_warning():
    p = read(xlsx({"F": [["Commune", "Faits"], ["Béthune", 2], ["BETHUNE", 3],
                         ["Beuvry", "s"], ["Beuvry", 1]]}))
    assert vals(p) == {"62119": 5, "62126": None}
    dup = [w for w in p.report.avertissements if w.code == "commune_en_double"]
    assert len(dup) == 2 and "lignes 2, 3" in dup[0].message


def _every_commune_of_62() -> list[list]:
    from observatoire import communes

    c = communes.load_communes("62")
    return [[code, nom, k % 7] for k, (code, nom) in enumerate(
        zip(c["code_insee"], c["nom"], strict=True))]


def test_file_of_every_commune_by_code_reads_each_row():
    # Le cas d'un fichier national ou départemental : une colonne de codes actuels tous
    # différents, les noms officiels à côté (chemin le plus rapide de la lecture).
    rows = [["Code INSEE", "Commune", "Faits constatés"], *_every_commune_of_62()]
    p = read(xlsx({"F": rows}))
    got = vals(p)
    assert len(got) == 887 and got["62119"] == rows[1 + [r[0] for r in rows[1:]].index(
        "62119")][2]
    assert p.report.ok and not p.communes_non_reconnues
    assert p.report.lignes_lues == 887


@pytest.mark.parametrize("text", ["Jean DUPONT", "jean.dupont@exemple.fr",
                                  "06 12 34 56 78"])
def test_person_in_the_name_column_next_to_codes_is_refused(text):
    # Des codes tous reconnus ne dispensent pas de contrôler la colonne des noms.
    rows = [["Code INSEE", "Commune", "Faits constatés"], *_every_commune_of_62()]
    rows[499][1] = text  # ligne 500 du tableur (rows[0] est la ligne 1)
    with pytest.raises(DonneesPersonnellesError, match="colonne B « Commune », ligne 500"):
        read(xlsx({"F": rows}))


def test_codes_with_a_total_row_and_a_repeated_code():
    rows = [["Code INSEE", "Commune", "Faits constatés"], *_every_commune_of_62()[:50]]
    stated = sum(r[2] for r in rows[1:])
    rows.append([rows[3][0], rows[3][1], 4])  # même commune une seconde fois
    rows.append([None, "TOTAL", stated + 4])
    p = read(xlsx({"F": rows}))
    got = vals(p)
    assert len(got) == 50 and got[rows[3][0]] == rows[3][2] + 4
    assert "commune_en_double" in {w.code for w in p.report.avertissements}
    assert "total_incoherent" not in {w.code for w in p.report.avertissements}


def test_transposed_layout():
    rows = [["Indicateur", "Béthune", "Beuvry", "Hors arrondissement"],
            ["Faits constatés", 7, 2, 1], ["Interventions à domicile", 3, "s", 0]]
    p = read(xlsx({"F": rows}))
    assert vals(p) == {"62119": 7, "62126": 2}
    assert vals(p, "interventions_domicile") == {"62119": 3, "62126": None}
    row = p.values[(p.values["code_insee"] == "62126")
                   & (p.values["indicateur"] == "faits_constates")].iloc[0]
    assert (row["ligne"], row["colonne"]) == (2, "C")
    assert "transposée" in p.report.feuilles[0]["role"]


def test_long_format_with_year_column():
    csv = ("annee,code,indicateur,valeur\n2023,62119,Faits constatés,4\n"
           "2023,62119,Interventions à domicile,2\n2022,62119,Faits constatés,99\n"
           "2023,62126,faits constatés,<5\n")
    p = read(csv.encode(), "long.csv")
    assert vals(p) == {"62119": 4, "62126": None}
    assert vals(p, "interventions_domicile") == {"62119": 2}
    assert any(w.code == "autre_annee" for w in p.report.avertissements)


def test_commune_forms():
    rows = [["Commune", "Faits"], ["Béthune (62119)", 1], ["62400 ESSARS", 2],
            ["ST-OMER", 3], ["NŒUX LES MINES", 4], ["Marconne", 5], [62193, 6],
            ["TOUQUET-PARIS-PLAGE (LE)", 7]]
    p = read(xlsx({"F": rows}))
    # Marconne, commune déléguée, compte pour Hesdin-la-Forêt (62447).
    assert vals(p) == {"62119": 1, "62310": 2, "62765": 3, "62617": 4, "62447": 5,
                       "62193": 6, "62826": 7}


def test_postal_code_column_and_ambiguous_name():
    csv = "CP;VILLE;FAITS\n62140;MARCONNELLE;1\n;AUCHY;2\n;Nulle-Part-sur-Mer;3\n"
    p = read(csv.encode(), "f.csv")
    assert vals(p) == {"62550": 1}
    amb = next(c for c in p.communes_non_reconnues if c["texte"] == "AUCHY")
    assert amb["statut"] == "ambigu"
    assert {c["code_insee"] for c in amb["candidats"]} >= {"62049", "62050", "62051"}
    assert any(w.code == "commune_ambigue" and w.ligne == 3 for w in p.report.avertissements)
    nl = p.values[p.values["code_insee"].isna()]
    assert set(nl["libelle_non_localise"]) == {"AUCHY", "Nulle-Part-sur-Mer"}
    fixed = read(csv.encode(), "f.csv", commune_overrides={"AUCHY": "62051"})
    assert vals(fixed) == {"62550": 1, "62051": 2}


def test_unresolved_header_then_remembered(engine):
    rows = [["Commune", "Faits constatés", "Nb déferrements"], ["Béthune", 1, 4]]
    content = xlsx({"F": rows})
    p = read(content)
    assert [u["entete"] for u in p.entetes_non_resolus] == ["Nb déferrements"]
    report = import_contribution(content, "f.xlsx", "gendarmerie_62", 2023, utilisateur="agent",
                                 mapping_overrides={"Nb déferrements": "victimes_enregistrees"})
    assert report.valeurs_par_indicateur["victimes_enregistrees"]["total"] == 4
    assert list_mappings("gendarmerie_62")[0]["indicateur"] == "victimes_enregistrees"
    again = read_contribution(content, "f.xlsx", "gendarmerie_62", 2024, engine=engine)
    assert vals(again, "victimes_enregistrees") == {"62119": 4}


def test_remembered_mapping_replaced_then_forgotten(engine):
    remember_mapping("caf_62", "Nb familles", "familles_rencontrees", "agent", engine)
    # Même en-tête une fois normalisé (casse, espaces) : remplace, ne double pas.
    remember_mapping("caf_62", "  NB FAMILLES ", "aides_urgence", "agent", engine)
    assert [(m["entete"], m["indicateur"]) for m in list_mappings("caf_62", engine)] == [
        ("NB FAMILLES", "aides_urgence")]
    assert forget_mapping("caf_62", "nb familles", engine) == 1
    assert list_mappings("caf_62", engine) == []
    assert forget_mapping("caf_62", "nb familles", engine) == 0


def test_several_sheets_choose_year_and_ambiguous_sheets():
    base = [["Commune", "Faits"], ["Béthune", 1]]
    p = read(xlsx({"2022": [["Commune", "Faits"], ["Béthune", 9]], "2023": base}))
    assert vals(p) == {"62119": 1}
    p = read(xlsx({"Police": base, "Gendarmerie": base}))
    assert any(e.code == "feuilles_multiples" for e in p.report.erreurs)
    p = read(xlsx({"Police": base, "Gendarmerie": base}), feuilles=["Gendarmerie"])
    assert p.report.ok and vals(p) == {"62119": 1}


@pytest.mark.parametrize(("header", "cell", "reason"), [
    ("Prénom", "Marie", "nom ou prénom"),
    ("Date de naissance", "01/02/1990", "date de naissance"),
    ("Téléphone", "x", "téléphone"),
    ("Courriel", "x", "adresse électronique"),
    ("N° de dossier", "x", "numéro de dossier"),
    ("Adresse", "x", "adresse"),
    ("Observations", "vue avec M. Dupont", "personne nommée"),
    ("Observations", "suivie par Mme X", "personne nommée"),
    ("Observations", "Jean DUPONT", "personne nommée"),
    ("Observations", "contact jean.dupont@example.org", "adresse électronique"),
    ("Observations", "rappeler au 06 12 34 56 78", "téléphone"),
    ("Observations", "née le 03/04/1985", "date de naissance"),
    # Cellules faites seulement de chiffres et de ponctuation : toujours contrôlées.
    ("Suivi", "06 12 34 56 78", "téléphone"),
    ("Suivi", "+33 6 12 34 56 78", "téléphone"),
    ("Suivi", "2 85 03 62 119 123 45", "sécurité sociale"),
    ("Suivi", "12/03/1990", "date complète"),
    ("Suivi", "1990-03-12", "date complète"),
])
def test_personal_data_refused_naming_column(header, cell, reason, engine, isolated_data):
    rows = [["Commune", "Faits constatés", header], ["Béthune", 3, cell]]
    with pytest.raises(DonneesPersonnellesError, match=rf"{reason}.*colonne C « {header} »"):
        import_contribution(xlsx({"Feuil1": rows}), "f.xlsx", "gendarmerie_62", 2023)
    assert batches.list_batches(engine).empty
    assert not (isolated_data / "contributions").exists() or \
        not any((isolated_data / "contributions").rglob("*.xlsx"))


def test_no_false_positive_on_communes_and_items():
    rows = [["NOM COMMUNE", "Nombre de victimes", "Observations"],
            ["Sainte-Catherine", 3, "données provisoires"],
            ["Saint-Omer", 2, "RAS"], ["Marie-Galante", 1, None]]
    p = read(xlsx({"F": rows}), contributeur="iscg_62")
    assert vals(p, "victimes_accueillies") == {"62744": 3, "62765": 2}


def test_free_text_in_an_unrecognised_column_is_refused_naming_it():
    # Une colonne « Observations » faite de phrases : un récit sur les personnes reçues.
    rows = [["NOM COMMUNE", "Nombre de victimes", "Observations"],
            ["Sainte-Catherine", 3, "orientée vers la mairie"], ["Saint-Omer", 2, "RAS"]]
    with pytest.raises(DonneesPersonnellesError,
                       match="texte libre.*colonne C « Observations », ligne 2"):
        read(xlsx({"F": rows}), contributeur="iscg_62")


def test_date_cell_refused():
    import datetime as dt
    rows = [["Commune", "Faits", "Suivi"], ["Béthune", 1, dt.datetime(1984, 3, 2)]]
    with pytest.raises(DonneesPersonnellesError, match="date complète.*colonne C"):
        read(xlsx({"F": rows}))


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_zip_bomb_refused_without_expanding(monkeypatch):
    monkeypatch.setenv("OBSERVATOIRE_CONFIG", str(config.DEFAULT_CONFIG))
    bomb = _zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<w/>",
                 "xl/worksheets/sheet1.xml": b"\0" * 250_000_000})
    assert len(bomb) < 1_000_000
    with pytest.raises(FichierRefuseError, match="bombe zip"):
        read(bomb)


def test_macro_workbook_refused():
    with pytest.raises(FichierRefuseError, match="macros"):
        read(xlsx({"F": [["Commune", "Faits"], ["Béthune", 1]]}), "f.xlsm")
    content = xlsx({"F": [["Commune", "Faits"], ["Béthune", 1]]})
    with zipfile.ZipFile(io.BytesIO(content)) as zf:
        entries = {i.filename: zf.read(i) for i in zf.infolist()}
    entries["xl/vbaProject.bin"] = b"\xd0\xcf\x11\xe0 macro"
    with pytest.raises(FichierRefuseError, match="vbaProject.bin"):
        read(_zip(entries))


def test_encrypted_and_corrupt_refused():
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100 + "EncryptedPackage".encode(
        "utf-16-le") + b"\0" * 100
    with pytest.raises(FichierRefuseError, match="mot de passe"):
        read(ole)
    with pytest.raises(FichierRefuseError, match="corrompu"):
        read(xlsx({"F": [["a"]]})[:500])


def test_oversize_refused(tmp_path, monkeypatch):
    cfg = tmp_path / "t.toml"
    cfg.write_text(config.DEFAULT_CONFIG.read_text(encoding="utf-8").replace(
        "taille_max_mo = 20", "taille_max_mo = 0.05"), encoding="utf-8")
    monkeypatch.setenv("OBSERVATOIRE_CONFIG", str(cfg))
    config.settings.cache_clear()
    rows = [["Commune", "Faits"]] + [["Béthune", i] for i in range(20_000)]
    content = xlsx({"F": rows})
    assert len(content) > 50_000
    with pytest.raises(FichierRefuseError, match="au-delà de la limite"):
        read(content)
    path = tmp_path / "gros.csv"
    path.write_bytes(b"commune;faits\n" + b"Bethune;1\n" * 10_000)
    with pytest.raises(FichierRefuseError, match="au-delà de la limite"):
        read_contribution(path, contributeur="gendarmerie_62", annee=2023)


def test_reimport_replaces_and_restore(engine):
    a = xlsx({"F": [["Commune", "Faits"], ["Béthune", 1]]})
    b = xlsx({"F": [["Commune", "Faits"], ["Béthune", 2]]})
    first = import_contribution(a, "a.xlsx", "gendarmerie_62", 2023, utilisateur="t")
    second = import_contribution(b, "b.xlsx", "gendarmerie_62", 2023, utilisateur="t")
    assert second.statut == "remplace" and second.remplace_lot_id == first.lot_id
    assert import_contribution(b, "b.xlsx", "gendarmerie_62", 2023).statut == "inchange"
    batches.restore_batch(first.lot_id, "t", engine)
    assert storage.current_values(engine)["valeur"].tolist() == [1]


def test_report_to_dict_is_json(engine):
    import json
    p = read(xlsx({"F": [["Commune", "Faits"], ["Béthune", 2], ["Inconnu", 1]]}))
    d = json.loads(json.dumps(p.report.to_dict()))
    assert d["valeurs_par_indicateur"]["faits_constates"] == {"valeurs": 2, "total": 3,
                                                              "masquees": 0}
    assert d["total_non_localise"] == 1 and d["communes_reconnues"] == 1
    assert {"code_insee": "62119", "commune": "Béthune", "libelle_non_localise": None,
            "indicateur": "faits_constates", "valeur": 2, "masque": False} in d["valeurs"]


def test_commune_column_without_header_found_by_content():
    # En-tête vide au-dessus des communes : la colonne est reconnue par son contenu.
    p = read(xlsx({"F": [[None, "Faits constatés"], ["Béthune", 1], ["Beuvry", 2],
                         ["Auchel", 3]]}))
    assert vals(p) == {"62119": 1, "62126": 2, "62048": 3}


@pytest.mark.parametrize("text", ["contact jean@x.fr", "Jean DUPONT", "vu Mme Durand",
                                  "né le 12/03/1990"])
def test_personal_data_found_among_many_distinct_texts(text):
    # Le contrôle cherche d'abord dans tous les textes distincts réunis : un seul texte
    # en cause parmi des centaines doit encore être trouvé, à sa ligne.
    rows = [["Commune", "Faits", "Observations"]]
    rows += [["Béthune", 1, f"suivi n°{k} sans suite"] for k in range(300)]
    rows.insert(150, ["Beuvry", 2, text])  # ligne 151 du tableur
    with pytest.raises(DonneesPersonnellesError, match="colonne C « Observations », ligne 151"):
        read(xlsx({"F": rows}))
