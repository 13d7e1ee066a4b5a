"""Base communale du SSMSI : fichiers synthétiques aux deux mises en page documentées.

Les nombres sont fictifs ; les colonnes, séparateurs, années à 2 ou 4 chiffres,
``diff``/``ndiff`` et colonnes « complément » suivent la documentation de l'édition
(voir ../shared/real/ssmsi-62/README.md). Les anciens codes viennent du COG livré :
62210 → 62154 (Bonnières), 62461, 62549, 62743 → 62447 (Hesdin-la-Forêt).
"""

import gzip
import json

import pandas as pd
import pytest

from observatoire import backup, batches, communes, demo, ssmsi, storage
from observatoire.config import settings
from observatoire.errors import FichierRefuseError, ModeIncompatibleError, ObservatoireError
from tests.conftest import run_cli

OLD_HEADER = ["CODGEO_2024", "annee", "classe", "unité.de.compte", "valeur.publiée", "faits",
              "tauxpourmille", "complementinfoval", "complementinfotaux", "POP", "millPOP",
              "LOG", "millLOG"]
NEW_HEADER = ["CODGEO_2025", "annee", "indicateur", "unite_de_compte", "nombre",
              "taux_pour_mille", "est_diffuse", "complement_info_nombre",
              "complement_info_taux", "insee_pop", "insee_pop_millesime", "insee_log",
              "insee_log_millesime"]
CBV = "Coups et blessures volontaires intrafamiliaux"
VPI = "Violences physiques intrafamiliales"
VS = "Violences sexuelles"
VIF = "ssmsi_violences_intrafamiliales"
SEX = "ssmsi_violences_sexuelles"

# (code, année, libellé, diffusion, nombre) ; ndiff : pas de nombre, un « complément ».
ROWS = [
    ("62119", 2022, "vif", "diff", 120), ("62119", 2022, "vs", "diff", 30),
    ("62119", 2023, "vif", "diff", 131), ("62119", 2023, "vs", "diff", 28),
    # Bonnières : son propre code non diffusé, l'ancien code 62210 publié → masqué.
    ("62154", 2022, "vif", "ndiff", None), ("62210", 2022, "vif", "diff", 7),
    ("62154", 2023, "vif", "diff", 6), ("62210", 2023, "vif", "diff", 8),
    # Hesdin-la-Forêt : quatre anciens codes publiés, additionnés.
    ("62447", 2022, "vif", "diff", 40), ("62461", 2022, "vif", "diff", 6),
    ("62549", 2022, "vif", "diff", 9), ("62743", 2022, "vif", "diff", 11),
    ("62447", 2023, "vif", "diff", 41), ("62461", 2023, "vif", "diff", 7),
    ("62549", 2023, "vif", "diff", 8), ("62743", 2023, "vif", "diff", 12),
    # Béthune encore : une commune non diffusée seule, toutes années.
    ("62120", 2022, "vif", "ndiff", None), ("62120", 2023, "vif", "ndiff", None),
    ("62120", 2022, "vs", "ndiff", None), ("62120", 2023, "vs", "ndiff", None),
    # Autre département : écarté dès la lecture.
    ("59350", 2022, "vif", "diff", 900), ("59350", 2023, "vs", "diff", 300),
    # Autre indicateur : écarté.
    ("62119", 2022, "Cambriolages de logement", "diff", 55),
]


def _label(kind: str, layout: str) -> str:
    if kind == "vif":
        return CBV if layout == "old" else VPI
    return VS if kind == "vs" else kind


def old_csv(rows=ROWS, header=OLD_HEADER, labels=None) -> bytes:
    """Édition jusqu'en 2024 : « ; », virgule décimale, année sur 2 chiffres, NA."""
    lines = [";".join(f'"{h}"' for h in header)]
    for code, year, kind, diff, n in rows:
        label = (labels or {}).get(kind) or _label(kind, "old")
        unit = "victime" if kind in ("vif", "vs") else "infraction"
        faits = "NA" if n is None else f'"{n}"'
        taux = "NA" if n is None else '"1,25"'
        comp = '"2,5";"3,1"' if diff == "ndiff" else "NA;NA"
        lines.append(f'"{code}";"{str(year)[2:]}";"{label}";"{unit}";"{diff}";{faits};{taux};'
                     f'{comp};"1000";"21";"500";"21"')
    return ("\n".join(lines) + "\n").encode("utf-8")


def new_frame(rows=ROWS, labels=None) -> pd.DataFrame:
    """Édition depuis 2025 : année sur 4 chiffres, ``est_diffuse``, ``nombre``."""
    out = []
    for code, year, kind, diff, n in rows:
        out.append({"CODGEO_2025": code, "annee": year,
                    "indicateur": (labels or {}).get(kind) or _label(kind, "new"),
                    "unite_de_compte": "victime" if kind in ("vif", "vs") else "infraction",
                    "nombre": n, "taux_pour_mille": None if n is None else 1.25,
                    "est_diffuse": diff,
                    "complement_info_nombre": 2.5 if diff == "ndiff" else None,
                    "complement_info_taux": 3.1 if diff == "ndiff" else None,
                    "insee_pop": 1000, "insee_pop_millesime": 2022, "insee_log": 500,
                    "insee_log_millesime": 2022})
    df = pd.DataFrame(out, columns=NEW_HEADER)
    df["nombre"] = df["nombre"].astype("Float64")
    return df


def write(tmp_path, kind: str, rows=ROWS, name: str | None = None, labels=None):
    """Fichier de l'édition : ``old`` (.csv), ``new_parquet``, ``new_csvgz``, ``old_csvgz``."""
    if kind == "old":
        path = tmp_path / (name or "donnee-comm-data.gouv-2024-geographie2024.csv")
        path.write_bytes(old_csv(rows, labels=labels))
    elif kind == "old_csvgz":
        path = tmp_path / (name or "donnee-comm-2024.csv.gz")
        path.write_bytes(gzip.compress(old_csv(rows, labels=labels)))
    elif kind == "new_parquet":
        path = tmp_path / (name or "donnee-data.gouv-2024-geographie2025.parquet")
        new_frame(rows, labels).to_parquet(path, index=False)
    else:
        path = tmp_path / (name or "donnee-data.gouv-2024-geographie2025.csv.gz")
        text = new_frame(rows, labels).to_csv(sep=";", index=False, decimal=",", na_rep="NA")
        path.write_bytes(gzip.compress(text.encode("utf-8")))
    return path


def as_dict(values: pd.DataFrame, indicateur=VIF) -> dict:
    v = values[(values["indicateur"] == indicateur) & values["code_insee"].notna()]
    return {c: (None if m else int(x)) for c, x, m in
            zip(v["code_insee"], v["valeur"], v["masque"], strict=True)}


EXPECTED_VIF = {
    2022: {"62119": 120, "62154": None, "62447": 66, "62120": None},
    2023: {"62119": 131, "62154": 14, "62447": 68, "62120": None},
}
EXPECTED_SEX = {2022: {"62119": 30, "62120": None}, 2023: {"62119": 28, "62120": None}}


def test_cog_knows_the_old_codes_used_here():
    code_map = communes.current_code_map()
    assert code_map["62210"] == "62154"
    assert {code_map[c] for c in ("62461", "62549", "62743")} == {"62447"}


@pytest.mark.parametrize("kind", ["old", "old_csvgz", "new_parquet", "new_csvgz"])
def test_both_layouts_all_formats_give_the_same_values(tmp_path, kind):
    data = ssmsi.read_ssmsi(write(tmp_path, kind))
    report = data.report
    assert report.ok, report.to_text()
    assert report.mise_en_page == ("jusqu_a_2024" if kind.startswith("old") else "depuis_2025")
    assert report.geographie == (2024 if kind.startswith("old") else 2025)
    assert report.format == {"old": "csv", "old_csvgz": "csv.gz", "new_parquet": "parquet",
                             "new_csvgz": "csv.gz"}[kind]
    assert report.annees == [2022, 2023]
    assert report.lignes_lues == len(ROWS)
    assert report.lignes_retenues == len(ROWS) - 3  # Nord (2 lignes) et cambriolages écartés
    for year in (2022, 2023):
        values = data.values[year]
        assert list(values.columns) == batches.VALUE_COLUMNS
        assert as_dict(values) == EXPECTED_VIF[year]
        assert as_dict(values, SEX) == EXPECTED_SEX[year]
        # Aucune commune d'un autre département, aucune valeur masquée qui vaille 0.
        assert values["code_insee"].str.startswith("62").all()
        assert values.loc[values["masque"], "valeur"].isna().all()
    assert {e["code"] for e in report.codes_fusionnes} == {"62210", "62461", "62549", "62743"}
    assert report.codes_inconnus == []
    vif = report.valeurs_par_indicateur[VIF]
    assert vif["total"] == 120 + 66 + 131 + 14 + 68 and vif["masquees"] == 3
    assert vif["libelles"] == [CBV if kind.startswith("old") else VPI]
    assert vif["unites"] == ["victime"]
    assert report.valeurs_masquees == 5


def test_ndiff_never_takes_the_complement_mean(tmp_path):
    # Une ligne ndiff qui porterait quand même un nombre reste masquée.
    rows = [("62119", 2022, "vif", "ndiff", 3), ("62119", 2022, "vs", "diff", 0)]
    values = ssmsi.read_ssmsi(write(tmp_path, "new_parquet", rows)).values[2022]
    assert as_dict(values) == {"62119": None}
    assert as_dict(values, SEX) == {"62119": 0}  # un vrai 0 publié reste 0


def test_labels_matched_whatever_case_accents_and_hyphens(tmp_path):
    labels = {"vif": "  VIOLENCES PHYSIQUES INTRA-FAMILIALES ", "vs": "violences séxuelles"}
    data = ssmsi.read_ssmsi(write(tmp_path, "new_csvgz", ROWS, labels=labels))
    assert as_dict(data.values[2022]) == EXPECTED_VIF[2022]
    assert as_dict(data.values[2022], SEX) == EXPECTED_SEX[2022]
    # Les deux libellés de l'indicateur VIF dans un même fichier : même indicateur.
    mixed = [("62119", 2022, CBV, "diff", 5), ("62120", 2022, VPI, "diff", 6)]
    data = ssmsi.read_ssmsi(write(tmp_path, "old", mixed, name="mixte.csv"))
    assert as_dict(data.values[2022]) == {"62119": 5, "62120": 6}


def test_unknown_code_reported_and_kept_unlocated(tmp_path):
    rows = [*ROWS, ("62999", 2023, "vif", "diff", 4)]
    report = ssmsi.read_ssmsi(write(tmp_path, "old", rows)).report
    assert report.codes_inconnus == [{"code": "62999", "lignes": 1,
                                      "premiere_ligne": len(rows) + 1}]
    assert any("62999" in i.message for i in report.avertissements)
    values = ssmsi.read_ssmsi(write(tmp_path, "old", rows)).values[2023]
    unloc = values[values["code_insee"].isna()]
    assert unloc[["libelle_non_localise", "valeur"]].values.tolist() == [
        ["code SSMSI inconnu : 62999", 4]]


def test_years_filter(tmp_path):
    path = write(tmp_path, "old")
    assert ssmsi.parse_years("2019-2023") == [2019, 2020, 2021, 2022, 2023]
    assert ssmsi.parse_years("2021, 2023") == [2021, 2023]
    data = ssmsi.read_ssmsi(path, annees=[2023])
    assert list(data.values) == [2023]
    with pytest.raises(FichierRefuseError, match="ne porte pas l'année 2021"):
        ssmsi.read_ssmsi(path, annees=[2021, 2022])
    with pytest.raises(ObservatoireError, match="hors des bornes"):
        ssmsi.parse_years("2010-2012")
    with pytest.raises(ObservatoireError, match="n'est pas une année"):
        ssmsi.parse_years("vingt")


@pytest.mark.parametrize("content, message", [
    (b'"code";"annee";"classe"\n"62119";"22";"x"\n', "pas de colonne CODGEO_"),
    (b'"CODGEO_2024";"annee";"libelle";"valeur"\n"62119";"22";"x";"1"\n',
     "mise en page du fichier .* n'est pas reconnue"),
    (b"", "est vide"),
    (b"PK\x03\x04zip", "archive zip ou un classeur"),
])
def test_structural_refusals_are_french_sentences(tmp_path, content, message):
    path = tmp_path / "f.csv"
    path.write_bytes(content)
    with pytest.raises(FichierRefuseError, match=message):
        ssmsi.read_ssmsi(path)


def test_no_vif_indicator_and_no_commune_of_the_departement(tmp_path):
    rows = [("62119", 2022, "Cambriolages de logement", "diff", 5)]
    with pytest.raises(FichierRefuseError, match="aucun indicateur de violences "
                                                 "intrafamiliales.*Cambriolages"):
        ssmsi.read_ssmsi(write(tmp_path, "old", rows))
    rows = [("59350", 2022, "vif", "diff", 5)]
    with pytest.raises(FichierRefuseError, match="aucune commune du département 62"):
        ssmsi.read_ssmsi(write(tmp_path, "new_parquet", rows))


def test_invalid_values_refuse_the_file_with_their_line(tmp_path, engine):
    rows = [*ROWS, ("62041", 2045, "vif", "diff", 3), ("62042", 2023, "vif", "diff", -2),
            ("62043", 2023, "vif", "diff", None)]
    path = write(tmp_path, "old", rows)
    with pytest.raises(FichierRefuseError) as exc:
        ssmsi.import_ssmsi(path)
    report = exc.value.rapport
    codes = {(i.code, i.ligne) for i in report.erreurs}
    n = len(ROWS)
    assert codes == {("annee_hors_bornes", n + 2), ("nombre_invalide", n + 3),
                     ("nombre_absent", n + 4)}
    assert "rien n'a été enregistré" in str(exc.value)
    assert batches.list_batches(engine).empty
    assert not settings().archive_dir.exists() or not any(settings().archive_dir.rglob("*.*"))


def _state(engine):
    lots = batches.list_batches(engine)
    files = sorted(p.relative_to(settings().archive_dir).as_posix()
                   for p in settings().archive_dir.rglob("*") if p.is_file()) \
        if settings().archive_dir.exists() else []
    return lots.drop(columns=["importe_le"]).to_dict("records"), files, \
        storage.current_values(engine).to_dict("records")


def test_import_is_all_or_nothing_across_years(tmp_path, engine, monkeypatch):
    ssmsi.import_ssmsi(write(tmp_path, "old"), annees=[2022], utilisateur="test")
    before = _state(engine)
    calls = []
    insert = batches._insert_values

    def fail_on_second_year(conn, values, lot_id):
        calls.append(lot_id)
        insert(conn, values, lot_id)
        if len(calls) == 2:
            raise RuntimeError("panne simulée pendant la deuxième année")

    monkeypatch.setattr(batches, "_insert_values", fail_on_second_year)
    newer = [(c, y, k, d, None if n is None else n + 1) for c, y, k, d, n in ROWS]
    with pytest.raises(RuntimeError, match="panne"):
        ssmsi.import_ssmsi(write(tmp_path, "new_parquet", newer), utilisateur="test")
    assert len(calls) == 2  # 2022 remplacée puis 2023 commencée : tout est annulé
    assert _state(engine) == before
    assert batches.verify_archive(engine) == {"fichiers_orphelins": [], "lots_sans_fichier": []}


def test_reimport_unchanged_then_newer_edition_replaces_each_year(tmp_path, engine):
    first = ssmsi.import_ssmsi(write(tmp_path, "old"), utilisateur="test")
    assert first.statut == "enregistre"
    assert {y: d["statut"] for y, d in first.par_annee.items()} == {2022: "nouveau",
                                                                   2023: "nouveau"}
    lots = batches.list_batches(engine, contributeur="ssmsi")
    # Un seul exemplaire archivé du fichier, partagé par les lots de ses années.
    assert lots["archive"].nunique() == 1 and len(lots) == 2
    files = [p for p in settings().archive_dir.rglob("*") if p.is_file()]
    assert len(files) == 1 and files[0].parent.name == "ssmsi"
    assert files[0].read_bytes() == write(tmp_path, "old").read_bytes()

    again = ssmsi.import_ssmsi(write(tmp_path, "old"), utilisateur="test")
    assert again.statut == "inchange"
    assert {d["statut"] for d in again.par_annee.values()} == {"inchange"}
    assert len(batches.list_batches(engine)) == 2

    newer = [(c, y, k, d, None if n is None else n + 1) for c, y, k, d, n in ROWS]
    second = ssmsi.import_ssmsi(write(tmp_path, "new_parquet", newer), utilisateur="test")
    assert {d["statut"] for d in second.par_annee.values()} == {"remplace"}
    old_ids = set(lots["id"])
    assert {d["remplace_lot_id"] for d in second.par_annee.values()} == old_ids
    hist = batches.list_batches(engine, contributeur="ssmsi")
    assert len(hist) == 4 and hist["courant"].sum() == 2
    assert set(hist.loc[~hist["courant"], "id"]) == old_ids
    cur = storage.current_values(engine, contributeurs=["ssmsi"], indicateurs=[VIF])
    got = cur[cur["annee"] == 2023].set_index("code_insee")["valeur"]
    assert got["62119"] == 132 and got["62447"] == 72 and pd.isna(got["62120"])
    assert batches.verify_archive(engine) == {"fichiers_orphelins": [], "lots_sans_fichier": []}
    assert batches.sweep_archive(engine) == []
    assert hist["archive"].nunique() == 2
    # L'ancienne édition reste restaurable, année par année.
    batches.restore_batch(int(second.par_annee[2022]["remplace_lot_id"]), "test", engine)
    cur = storage.current_values(engine, annees=[2022], contributeurs=["ssmsi"],
                                 indicateurs=[VIF]).set_index("code_insee")["valeur"]
    assert cur["62119"] == 120
    # La sauvegarde emporte chaque fichier partagé une fois, et se vérifie.
    manifest = backup.create_backup(tmp_path / "sauvegarde.zip", engine)
    assert len(manifest["archives"]) == 2 and not manifest["anomalies"]
    backup.verify_backup(tmp_path / "sauvegarde.zip")


def test_simulation_writes_nothing(tmp_path, engine):
    report = ssmsi.import_ssmsi(write(tmp_path, "old"), simulation=True)
    assert report.statut == "simulation" and report.ok
    assert batches.list_batches(engine).empty
    assert not settings().archive_dir.exists() or not any(settings().archive_dir.rglob("*.*"))


def test_refused_on_a_demo_database(tmp_path, engine):
    values = pd.DataFrame([{"code_insee": "62119", "libelle_non_localise": None,
                            "indicateur": "faits_constates", "valeur": 3, "masque": False,
                            "feuille": "demo", "ligne": 2, "colonne": "B"}])
    batches.store_batch(contributeur="police_62", annee=2023, fichier="demo.csv",
                        contenu=b"demo", values=values, utilisateur="demo", demo=True)
    before = _state(engine)
    with pytest.raises(ModeIncompatibleError, match="démonstration"):
        ssmsi.import_ssmsi(write(tmp_path, "old"))
    assert _state(engine) == before


def test_public_source_is_not_expected_as_a_yearly_spreadsheet():
    from observatoire import catalogues

    contrib = catalogues.get_contributeur("ssmsi")
    assert contrib.source_publique and contrib.territoire == settings().departement
    assert [i.code for i in catalogues.indicateurs_du_contributeur("ssmsi")] == [VIF, SEX]
    assert "ssmsi" not in set(demo.load_contributeurs()["identifiant"])
    assert set(demo.generate_values((2023,))["contributeur"]).isdisjoint({"ssmsi"})
    from observatoire.app_pages.campagne import expected_status

    table = expected_status(2023)
    assert "ssmsi" not in set(table["identifiant"]) and len(table) == 11


def test_cli_json_report_and_refusal(tmp_path, engine, capsys):
    path = write(tmp_path, "new_csvgz")
    code, out, err = run_cli(capsys, "ssmsi", "importer", str(path), "--annees", "2022-2023",
                             "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["statut"] == "enregistre" and report["ok"]
    assert report["annees"] == [2022, 2023]
    assert {k: v["statut"] for k, v in report["par_annee"].items()} == {"2022": "nouveau",
                                                                         "2023": "nouveau"}
    assert report["valeurs_par_indicateur"][VIF]["masquees"] == 3
    code, out, _ = run_cli(capsys, "ssmsi", "importer", str(path))
    assert code == 0 and "Résultat : fichier identique aux lots courants" in out
    assert "2022 : 6 valeurs dont 3 masquées — inchangé (lot courant" in out
    bad = tmp_path / "sans_code.csv"
    bad.write_bytes(b'"commune";"annee";"classe"\n"62119";"22";"x"\n')
    code, out, err = run_cli(capsys, "ssmsi", "importer", str(bad), "--json")
    assert code == 1 and "CODGEO_" in json.loads(out)["refus"]
    code, out, err = run_cli(capsys, "ssmsi", "importer", str(path), "--annees", "2031")
    assert code == 1 and err.startswith("Erreur : L'année 2031 (--annees) est hors des bornes")
    code, out, _ = run_cli(capsys, "ssmsi", "--help")
    assert code == 0 and "importer" in out


def test_public_source_refused_by_the_spreadsheet_importer_and_template():
    from observatoire.errors import ObservatoireError
    from observatoire.ingest import read_contribution
    from observatoire.ingest.template import build_template

    with pytest.raises(ObservatoireError, match="source publique.*ssmsi importer"):
        read_contribution(b"code;faits\n62119;3\n", "f.csv", "ssmsi", 2023)
    with pytest.raises(ObservatoireError, match="source publique.*pas de modèle"):
        build_template("ssmsi", 2023)
