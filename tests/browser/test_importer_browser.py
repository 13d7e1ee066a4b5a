"""Page Importer dans un vrai navigateur : une colonne inconnue ne reçoit qu'un indicateur
valide (jamais « nan »), les lignes invalides s'écartent sur demande, et une base de
démonstration le dit dès le choix du fichier."""

from __future__ import annotations

import io

import openpyxl
import sqlalchemy as sa

from tests.browser.conftest import screenshot
from tests.browser.test_app_browser import _login, choose, settle


def _file(tmp_path, rows, name="bilan_police_2022.xlsx"):
    wb = openpyxl.Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    path = tmp_path / name
    path.write_bytes(buf.getvalue())
    return path


def _stored(server):
    engine = sa.create_engine(server.env["OBSERVATOIRE_DB_URL"])
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT v.indicateur, v.code_insee, v.valeur FROM valeurs v JOIN lots l "
            "ON l.id = v.lot_id WHERE l.contributeur = 'police_62' AND l.annee = 2022 "
            "AND l.courant")).all()
    engine.dispose()
    return rows


def _open_importer(page, server, year="2022"):
    _login(page, server)
    page.get_by_role("link", name="Importer").click()
    page.get_by_text("Importer un fichier de contributeur").wait_for()
    choose(page, "Contributeur", "Police nationale (Pas-de-Calais)")
    box = page.get_by_label("Année des données (N)")
    box.fill(year)
    box.press("Enter")
    settle(page)


def test_unknown_column_takes_only_a_valid_item_end_to_end(real_server, page, tmp_path):
    from observatoire import catalogues

    rows = [["Commune", "Faits constatés", "Gardes à vue"], ["Béthune", 4, 7],
            ["Beuvry", 2, 5], ["Lillers", 1, "-3"]]
    _open_importer(page, real_server)
    page.get_by_text("Écarter les lignes invalides").click()
    settle(page)
    page.locator("input[type=file]").set_input_files(str(_file(tmp_path, rows)))
    page.get_by_text("3. Rapport de lecture").wait_for()
    # Le choix ne propose que des indicateurs du catalogue, candidats en tête.
    box = page.locator("[data-testid='stSelectbox']").filter(has_text="Gardes à vue").first
    box.click()
    page.get_by_role("option").first.wait_for()
    options = page.get_by_role("option").all_inner_texts()
    assert options[0] == "(ne pas charger cette colonne)"
    labels = {i.libelle for i in catalogues.load_indicateurs() if i.actif}
    assert all(o.split(" — ")[0] in labels for o in options[1:])
    assert not any(o.strip().lower() in ("nan", "none", "") for o in options)
    page.get_by_role("option", name=options[1]).click()
    page.get_by_role("button", name="Appliquer ces correspondances").click()
    settle(page)
    page.get_by_text("ligne(s) écartée(s)").first.wait_for()
    screenshot(page, "importer_colonne_choisie")
    page.get_by_role("button", name="Enregistrer ce lot").click()
    page.get_by_text("Import terminé").wait_for()
    stored = _stored(real_server)
    codes = {i.code for i in catalogues.load_indicateurs() if i.actif}
    assert stored and {r[0] for r in stored} <= codes
    assert len({r[0] for r in stored}) == 2  # faits constatés + la colonne choisie
    assert {r[1] for r in stored} == {"62119", "62126"}  # Lillers écartée (-3)
    screenshot(page, "importer_enregistre")


def test_demo_database_says_so_at_file_selection(demo_server, page, tmp_path):
    rows = [["Commune", "Faits constatés"], ["Béthune", 4]]
    _open_importer(page, demo_server)
    page.get_by_text("données fictives de démonstration").first.wait_for()
    page.locator("input[type=file]").set_input_files(str(_file(tmp_path, rows)))
    page.get_by_text("« bilan_police_2022.xlsx » : Cette base contient").wait_for()
    settle(page)
    assert page.get_by_text("3. Rapport de lecture").count() == 0
    assert page.get_by_role("button", name="Enregistrer ce lot").count() == 0
    screenshot(page, "importer_demo")
