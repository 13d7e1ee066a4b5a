"""Collecte universelle : en-têtes jamais abandonnés, communes par leur contenu, codes en
deux colonnes ou préfixés, lignes invalides écartables, messages français, fichiers faits
pour casser le chargeur."""

import io
import json
import zipfile

import openpyxl
import pytest

from observatoire import batches, storage
from observatoire.errors import DonneesPersonnellesError, FichierRefuseError, ObservatoireError
from observatoire.ingest import import_contribution, read_contribution
from observatoire.ingest.headers import list_mappings, remember_mapping
from tests.conftest import run_cli
from tests.test_ingest_terrain import vals


def xlsx(rows, sheet="Données") -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def read(content, name="bilan.xlsx", contributeur="gendarmerie_62", annee=2023, **kw):
    return read_contribution(content, name, contributeur, annee, **kw)



UNSEEN = [["Bilan 2023"], [], ["Territoire", "Nb déferrements au parquet", "Gardes à vue"],
          ["Béthune", 4, 9], ["Beuvry", 2, 3], ["Lillers", 0, 1]]


# --- 1. En-têtes -----------------------------------------------------------------------

def test_unrecognised_headers_are_reported_with_ranked_candidates():
    p = read(xlsx(UNSEEN))
    assert not p.report.ok  # rien à charger tant que les colonnes ne sont pas confirmées
    heads = {e["entete"]: e for e in p.entetes_non_resolus}
    assert set(heads) == {"Nb déferrements au parquet", "Gardes à vue"}
    cands = heads["Gardes à vue"]["candidats"]
    # Les indicateurs déclarés par la gendarmerie d'abord.
    declared = {"faits_constates", "victimes_enregistrees", "interventions_domicile"}
    assert {c["indicateur"] for c in cands[:3]} == declared and all(c["declare"]
                                                                    for c in cands[:3])
    assert heads["Gardes à vue"]["exemple"] == "« 9 »"
    err = next(e for e in p.report.erreurs if e.code == "aucune_valeur")
    assert "--accepter-propositions" in err.message and "--correspondance" in err.message
    text = p.report.to_text()
    assert "À confirmer : colonne C « Gardes à vue »" in text
    assert "--correspondance" in next(w.message for w in p.report.avertissements
                                       if w.code == "entete_non_reconnu")


def test_one_word_more_than_a_synonym_still_maps():
    rows = [["Commune", "Nombre de victimes reçues dans l'année"], ["Béthune", 3]]
    p = read(xlsx(rows), contributeur="iscg_bethune")
    assert vals(p, "victimes_accueillies") == {"62119": 3}
    assert p.report.correspondances[0]["methode"] == "approchee"
    assert "Correspondance à confirmer" in p.report.to_text()


def test_single_declared_item_is_proposed_with_high_confidence():
    rows = [["Commune", "Consultations VIF", "Entretiens"], ["Béthune", 3, 5]]
    p = read(xlsx(rows), contributeur="planning_familial_62")
    cand = p.entetes_non_resolus[0]["candidats"][0]
    assert cand["indicateur"] == "personnes_recues" and cand["score"] >= 0.9
    assert cand["raison"] == "seul_indicateur_declare"


def test_correspondance_and_accepted_proposals(engine):
    content = xlsx(UNSEEN)
    rep = import_contribution(content, "bilan.xlsx", "gendarmerie_62", 2023, utilisateur="t",
                              mapping_overrides={"Gardes à vue": "interventions_domicile"},
                              accept_proposals=True)
    assert rep.ok and rep.statut == "nouveau"
    methods = {c["entete"]: c["methode"] for c in rep.correspondances}
    assert methods == {"Gardes à vue": "confirmee",
                       "Nb déferrements au parquet": "proposition_acceptee"}
    assert "Proposition acceptée (--accepter-propositions)" in rep.to_text()
    # Les deux sont mémorisées pour ce contributeur : l'import suivant les reprend.
    remembered = {m["entete"]: m["indicateur"] for m in list_mappings("gendarmerie_62", engine)}
    assert remembered["Gardes à vue"] == "interventions_domicile"
    again = read_contribution(content, "bilan.xlsx", "gendarmerie_62", 2024, engine=engine)
    assert again.report.ok and not again.entetes_non_resolus


def test_an_invalid_item_is_refused_by_the_library(engine):
    for bad in ("nan", "", None, "Faits constatés"):
        with pytest.raises(ObservatoireError, match="n'est pas un code du catalogue"):
            read(xlsx(UNSEEN), mapping_overrides={"Gardes à vue": bad})
        with pytest.raises(ObservatoireError, match="n'est pas un code du catalogue"):
            remember_mapping("gendarmerie_62", "Gardes à vue", bad, "t", engine)
    assert batches.list_batches(engine).empty and list_mappings(engine=engine) == []


def test_mapping_confirmed_by_another_contributor_is_a_candidate(engine):
    remember_mapping("police_62", "Gardes à vue", "victimes_enregistrees", "t", engine)
    p = read_contribution(xlsx(UNSEEN), "bilan.xlsx", "gendarmerie_62", 2023, engine=engine)
    cands = next(e for e in p.entetes_non_resolus if e["entete"] == "Gardes à vue")["candidats"]
    first = next(c for c in cands if c["indicateur"] == "victimes_enregistrees")
    assert first["raison"] == "deja_confirmee" and first["score"] >= 0.9


# --- 2. Communes ---------------------------------------------------------------------

@pytest.mark.parametrize("header", ["Territoire", "Ville de résidence", "Libellé", "Secteur",
                                    "Code", None, "Lieu"])
def test_commune_column_found_by_content(header):
    rows = [[header, "Faits constatés"], ["Béthune", 4], ["BEUVRY", 2], ["Lillers", 1]]
    p = read(xlsx(rows))
    assert vals(p, "faits_constates") == {"62119": 4, "62126": 2, "62516": 1}


def test_split_codes_departement_and_commune_are_joined():
    rows = [["Code département", "Code commune", "Libellé", "Faits constatés"],
            ["62", "119", "Béthune", 4], [62, 126, "Beuvry", 2], ["62", "001", "Ablain", 1]]
    p = read(xlsx(rows))
    assert vals(p, "faits_constates") == {"62119": 4, "62126": 2, "62001": 1}


def test_prefixed_codes_are_read_with_a_warning_quoting_a_sample():
    rows = [["Code", "Faits constatés"], ["com62119", 4], ["COM_62126", 2]]
    p = read(xlsx(rows))
    assert vals(p, "faits_constates") == {"62119": 4, "62126": 2}
    warn = next(w for w in p.report.avertissements if w.code == "code_prefixe")
    assert "« com62119 »" in warn.message and warn.ligne == 2


def test_no_table_message_quotes_what_was_seen():
    p = read(xlsx([["Rubrique", "Montant"], ["Loyers", 12], ["Charges", 3]]))
    err = next(e for e in p.report.erreurs if e.code == "aucun_tableau")
    assert "A « Rubrique » (ex. « Loyers »)" in err.message


# --- 3. Cellules invalides -------------------------------------------------------------

BAD = [["Commune", "Faits constatés", "Interventions à domicile"], ["Béthune", 4, 1],
       ["Beuvry", -2, 3], ["Lillers", 1, 99999999999999999999], ["Auchel", "beaucoup", 2],
       ["Barlin", 5, 2]]


def test_invalid_cells_refuse_the_file_listing_each_error(engine):
    report = import_contribution(xlsx(BAD), "f.xlsx", "gendarmerie_62", 2023, simulation=True)
    errs = {(e.code, e.ligne, e.colonne) for e in report.erreurs}
    assert errs == {("valeur_negative", 3, "B"), ("valeur_hors_bornes", 4, "C"),
                    ("valeur_non_numerique", 5, "B")}
    big = next(e for e in report.erreurs if e.code == "valeur_hors_bornes")
    assert "démesuré" in big.message and "corrigez" in big.message.lower()
    with pytest.raises(FichierRefuseError, match="--ecarter-lignes-invalides"):
        import_contribution(xlsx(BAD + [["Béthune", -1, 0]] * 250), "f.xlsx",
                            "gendarmerie_62", 2023)
    assert batches.list_batches(engine).empty


def test_invalid_rows_left_out_on_request_and_kept_on_record(engine):
    rep = import_contribution(xlsx(BAD), "f.xlsx", "gendarmerie_62", 2023, utilisateur="t",
                              skip_invalid_rows=True)
    assert rep.ok and rep.statut == "nouveau"
    cur = storage.current_values(engine)
    assert set(cur["code_insee"]) == {"62119", "62083"}  # Béthune et Barlin seulement
    assert [(r["ligne"], r["commune"], r["raisons"]) for r in rep.lignes_ecartees] == [
        (3, "Beuvry", ["valeur_negative"]), (4, "Lillers", ["valeur_hors_bornes"]),
        (5, "Auchel", ["valeur_non_numerique"])]
    assert sum(w.code == "ligne_ecartee" for w in rep.avertissements) == 3
    assert -9223372036854775808 not in cur["valeur"].tolist()
    hist = batches.list_batches(engine)
    assert hist["lignes_ecartees"].tolist() == [3]
    stored = batches.batch_report(int(hist["id"].iloc[0]), engine)
    assert len(stored["lignes_ecartees"]) == 3


# --- 6. Messages français --------------------------------------------------------------

def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize(("content", "name", "expected"), [
    (b"ceci n'est pas un classeur", "f.xlsx", "corrompu ou incomplet"),
    (b"<html><body>erreur 404</body></html>", "f.xlsx", "corrompu ou incomplet"),
    (_zip({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet",
           "content.xml": b"\x00\x01", "META-INF/manifest.xml":
           b"<manifest:encryption-data/>"}), "f.ods", "protégé par un mot de passe"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64 + "EncryptionInfo".encode("utf-16-le")
     + b"\0" * 64, "f.xlsx", "protégé par un mot de passe"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "f.xls", "corrompu ou illisible"),
    (_zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<pas du xml"}), "f.xlsx",
     "corrompu ou illisible"),
    (b"\n\n  \n", "f.csv", "aucune ligne"),
])
def test_reader_errors_are_french_sentences(content, name, expected):
    with pytest.raises(FichierRefuseError) as exc:
        read(content, name)
    text = str(exc.value)
    assert expected in text
    for english in ("File is not a zip file", "Cannot detect", "Error", "error", "zip file"):
        assert english not in text


# --- Fichiers faits pour casser le chargeur --------------------------------------------

def _breakers():
    wide = [["Commune"] + [f"Colonne {k}" for k in range(300)], ["Béthune"] + [1] * 300]
    return {
        "entete_seul.xlsx": xlsx([["Commune", "Faits constatés"]]),
        "titres_seuls.xlsx": xlsx([["Bilan"], ["Année 2023"], [], ["Rien à signaler"]]),
        "vide.xlsx": xlsx([]),
        "nan.csv": b"commune;faits\nnan;nan\nNaN;NULL\n",
        "booleens.xlsx": xlsx([["Commune", "Faits constatés"], ["Béthune", True],
                               ["Beuvry", False]]),
        "dates.xlsx": xlsx([["Commune", "Faits constatés"], [1, 2], [3, 4]]),
        "large.xlsx": xlsx(wide),
        "doublons.xlsx": xlsx([["Commune", "Faits constatés", "Faits constatés"],
                               ["Béthune", 1, 2]]),
        "unicode.csv": "commune;faits\n\u202eBéthune;1\n\ufeffBeuvry;\u00a02\n"
                       "Lillers;\u0662\n".encode(),
        "guillemets.csv": b'commune;faits\n"Bethune;1\n"Beuvry";2\n',
        "binaire.csv": b"commune;faits\n\x00\x01\x02",
        "tabulations.tsv": b"commune\tfaits\nB\xe9thune\t3\n",
        "formules.csv": b"commune;faits\n=cmd|' /C calc'!A0;1\n@SUM(1);2\n",
        "enorme_entier.csv": b"commune;faits\nBethune;1e400\nBeuvry;-0\n",
    }


@pytest.mark.parametrize("name", sorted(_breakers()))
def test_files_made_to_break_the_loader_get_a_french_answer(name):
    content = _breakers()[name]
    try:
        p = read(content, name)
    except ObservatoireError as exc:
        assert str(exc)[0].isupper() and "Traceback" not in str(exc)
        return
    for issue in p.report.erreurs + p.report.avertissements:
        assert issue.message and "Error" not in issue.message
    json.dumps(p.report.to_dict(), default=str)


# --- Ligne de commande ---------------------------------------------------------------

def test_cli_options_correspondance_accept_and_skip(tmp_path, engine, capsys):
    path = tmp_path / "bilan.xlsx"
    path.write_bytes(xlsx(UNSEEN + [["Auchel", -1, 2]]))
    code, out, _err = run_cli(capsys, "contributions", "importer", str(path), "--contributeur",
                              "gendarmerie_62", "--annee", "2023", "--simulation", "--json")
    assert code == 1 and json.loads(out)["entetes_non_resolus"]
    code, out, err = run_cli(capsys, "contributions", "importer", str(path),
                             "--contributeur", "gendarmerie_62", "--annee", "2023",
                             "--correspondance", "Gardes à vue=interventions_domicile",
                             "--accepter-propositions", "--ecarter-lignes-invalides")
    assert code == 0, out + err
    assert "Proposition acceptée" in out and "Lignes écartées" in out
    code, out, _err = run_cli(capsys, "contributions", "historique")
    assert "1 lignes écartées" in out
    code, _out, err = run_cli(capsys, "contributions", "importer", str(path),
                              "--contributeur", "gendarmerie_62", "--annee", "2023",
                              "--correspondance", "Gardes à vue=nan")
    assert code == 1 and "n'est pas un code du catalogue" in err


def test_sheets_left_out_by_feuille_are_still_checked_for_persons():
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Données"
    for row in [["Commune", "Faits constatés"], ["Béthune", 3]]:
        ws.append(row)
    other = wb.create_sheet("Suivi")
    for row in [["Observations"], ["vue avec Gwendoline Pruvost"]]:
        other.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    with pytest.raises(DonneesPersonnellesError, match="feuille « Suivi »"):
        read(buf.getvalue(), feuilles=["Données"])
