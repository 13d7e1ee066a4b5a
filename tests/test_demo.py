import json

import pandas as pd
import pytest

from observatoire import batches, communes, demo, registres, storage
from observatoire.config import settings
from observatoire.errors import ModeIncompatibleError, ObservatoireError
from tests.conftest import run_cli as cli


def test_same_seed_same_values_other_seed_other_values():
    a = demo.generate_values((2022, 2023), 62)
    b = demo.generate_values((2022, 2023), 62)
    pd.testing.assert_frame_equal(a, b)
    c = demo.generate_values((2022, 2023), 63)
    assert not a["valeur"].equals(c["valeur"])
    pd.testing.assert_frame_equal(demo.generate_referents(62), demo.generate_referents(62))
    assert not demo.generate_referents(62)["code_insee"].equals(
        demo.generate_referents(5)["code_insee"])


def test_coverage_counts_no_commune_twice():
    territoire = communes.load_territoire()
    contributeurs = demo.load_contributeurs()
    cover = demo.coverage(contributeurs, territoire)
    assert set(cover) == set(contributeurs["identifiant"])
    # Le contributeur départemental laisse au contributeur local du même type ses communes.
    for wide, narrow in (("police_62", "police_bethune"), ("iscg_62", "iscg_bethune")):
        assert cover[narrow] and not set(cover[wide]) & set(cover[narrow])
    # Deux associations différentes couvrent, elles, le même territoire.
    assert cover["cidff_artois"] == cover["france_victimes_62"]
    police = set(cover["police_62"]) | set(cover["police_bethune"])
    gendarmerie = set(cover["gendarmerie_62"])
    assert not police & gendarmerie
    assert police | gendarmerie == set(territoire["code_insee"])
    bethune = set(territoire.loc[territoire["arrondissement"] == "622", "code_insee"])
    assert set(cover["iscg_bethune"]) == bethune and not set(cover["iscg_62"]) & bethune


def test_model_has_blank_and_revealing_zones():
    m = demo.model(62)
    assert m["risque"].gt(0).all()
    assert (m["zone"] == "blanche").sum() >= 8  # des bassins entiers, pas des communes isolées
    assert m.loc[m["zone"] == "blanche", "arrondissement"].eq("622").any()
    assert (m["zone"] == "revelatrice").sum() >= 3
    assert m.loc[m["zone"] == "blanche", "revelation"].lt(1).all()
    assert m.loc[m["zone"] == "revelatrice", "revelation"].gt(1).all()


def test_demo_contents(engine):
    summary = demo.load_demo(engine=engine, diffusions=False)
    assert summary["diffusions"] == []
    assert demo.is_demo(engine)
    assert demo.demo_info(engine)["graine"] == 62
    values = storage.current_values(engine)
    assert set(values["annee"]) == {2022, 2023, 2024}
    assert set(values["contributeur"]) == set(demo.load_contributeurs()["identifiant"])
    located = values[values["code_insee"].notna()]
    arr = communes.load_territoire().set_index("code_insee")["arrondissement"]
    assert set(located["code_insee"].map(arr)) == set(settings().arrondissements)
    visible = located[~located["masque"]]
    assert visible["valeur"].between(1, 4).sum() > 100  # de quoi éprouver le secret
    masked = values[values["masque"]]
    assert len(masked) > 0 and masked["valeur"].isna().all()
    assert set(masked["contributeur"]) == {"gendarmerie_62"}
    assert values["code_insee"].isna().sum() > 0  # effectifs non localisés
    assert len(values) == summary["valeurs"]
    lots = batches.list_batches(engine)
    assert len(lots) == 33 and lots["demo"].all()
    # Chaque fichier archivé dit qu'il est fictif.
    content = batches.archive_path(lots["archive"].iloc[0]).read_text(encoding="utf-8")
    assert content.startswith("# DONNÉES FICTIVES DE DÉMONSTRATION")
    # Référents : exactement 92 communes, toutes dans l'arrondissement de Béthune.
    ref = registres.list_referents(engine)
    assert len(ref) == 92 and set(ref["arrondissement"]) == {"622"} and ref["demo"].all()
    assert 0 < ref["forme"].sum() < 92
    assert list(registres.public_referents(engine).columns) == \
        registres.PUBLIC_REFERENT_COLUMNS
    # Dispositifs : ceux du plan, plus un accueil de jour fictif par arrondissement.
    disp = registres.list_dispositifs(engine)
    assert disp["demo"].all()
    plan = pd.read_csv(registres.INITIAL_REGISTRY_PATH, dtype=str)
    assert set(plan["nom"]) <= set(disp["nom"])
    adj = disp[disp["type"] == "accueil_de_jour"]
    assert len(adj) == 7 and adj["source"].str.contains("fictives").all()
    assert adj["nom"].str.contains("fictif").all()


def test_demo_and_real_separation_and_clearing(engine, tmp_path, capsys):
    code, out, err = cli(capsys, "demo", "--annees", "2023", "2024", "--graine", "7", "--json")
    assert code == 0, err
    assert json.loads(out)["annees"] == [2023, 2024]
    assert demo.is_demo(engine)
    # Une base de démonstration refuse tout import réel, registres compris.
    csv = tmp_path / "r.csv"
    csv.write_text("type;nom;code_insee\nleao;LEAO;62119\n", encoding="utf-8")
    with pytest.raises(ModeIncompatibleError, match="demo --effacer"):
        registres.import_dispositifs(csv, engine=engine)
    ref = tmp_path / "ref.csv"
    ref.write_text("code_insee;forme\n62119;oui\n", encoding="utf-8")
    with pytest.raises(ModeIncompatibleError, match="demo --effacer"):
        registres.import_referents(ref, engine=engine)
    with pytest.raises(ModeIncompatibleError):
        registres.load_initial_registry(engine=engine)
    code, _, err = cli(capsys, "dispositifs", "importer", str(csv))
    assert code != 0 and "démonstration" in err
    assert not registres.list_dispositifs(engine)["demo"].eq(False).any()
    # Pas deux démonstrations l'une sur l'autre.
    with pytest.raises(ObservatoireError, match="déjà chargée"):
        demo.load_demo(engine=engine)
    archive = settings().archive_dir
    assert any(archive.rglob("*.csv"))
    # --effacer vide la démonstration : lots, valeurs, référents, accueils fictifs,
    # archives ; les dispositifs du plan, bien réels, sont rechargés comme registre réel.
    n_plan = len(demo.plan_dispositifs())
    code, out, err = cli(capsys, "demo", "--effacer")
    assert code == 0, err
    assert "Démonstration effacée : 22 lot(s)" in out
    assert f"Les {n_plan} dispositifs nommés par le plan cadre sont rechargés" in out
    assert not demo.is_demo(engine) and demo.etat(engine) == "plan"
    with engine.connect() as conn:
        assert storage.get_meta(conn, "mode") == "reel"
        for table in (storage.lots, storage.valeurs, storage.referents):
            assert conn.execute(table.select()).first() is None
        journal = {r.action for r in conn.execute(storage.journal.select())}
    assert "demo_effacee" in journal
    plan = registres.list_dispositifs(engine)
    assert len(plan) == n_plan and not plan["demo"].any()
    assert plan["source"].str.startswith("Plan cadre").all()
    assert not plan["nom"].str.contains("fictif").any()
    assert not any(p.is_file() for p in archive.rglob("*"))
    # Sur le seul registre du plan, la démonstration peut revenir (elle le reprend).
    demo.load_demo([2024], engine=engine, diffusions=False)
    assert demo.is_demo(engine)
    assert demo.clear_demo(engine, recharger_plan=False)["dispositifs_plan"] == 0
    assert demo.etat(engine) == "vide"
    # Puis les données réelles passent ; la démonstration ne peut plus s'y ajouter.
    registres.import_dispositifs(csv, engine=engine)
    with pytest.raises(ModeIncompatibleError, match="données réelles"):
        demo.load_demo(engine=engine)
    code, _, err = cli(capsys, "demo", "--effacer")
    assert code != 0 and "Rien n'a été effacé" in err
    assert len(registres.list_dispositifs(engine)) == 1


def test_demo_refused_on_base_with_real_contributions(engine):
    batches.store_batch(
        contributeur="gendarmerie_62", annee=2023, fichier="f.csv", contenu=b"x",
        values=pd.DataFrame([{"code_insee": "62119", "libelle_non_localise": None,
                              "indicateur": "faits_constates", "valeur": 3, "masque": False,
                              "feuille": None, "ligne": 2, "colonne": "B"}]),
        utilisateur="test", engine=engine)
    with pytest.raises(ModeIncompatibleError):
        demo.load_demo(engine=engine)
    assert len(batches.list_batches(engine)) == 1
