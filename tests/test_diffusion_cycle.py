"""Cycle d'une diffusion sur un vrai fichier d'exemple : préparer, auditer, valider, corriger.

L'ISCG de l'arrondissement de Béthune (2023) : une seule source, 104 communes couvertes,
les 783 autres hors du périmètre. La diffusion ne publie qu'un indicateur (configuration
de test) pour rester rapide.
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from observatoire import config, storage
from observatoire.errors import ObservatoireError
from tests.conftest import AGENT_OPTIONS, AGENT_PASSWORD, run_cli, run_cli_input, shared_path

IND = "victimes_accueillies"


@pytest.fixture
def config_diffusion(tmp_path, monkeypatch):
    """Configuration du Pas-de-Calais, diffusion d'un seul indicateur, sans cumul."""
    base = (config.DEFAULT_CONFIG).read_text(encoding="utf-8")
    debut = base.index("[diffusion]")
    fin = base.index("\n[", debut + 1)
    texte = base[:debut] + (f'[diffusion]\nindicateurs = ["{IND}"]\ncumul_annees = 0\n'
                            ) + base[fin:]
    chemin = tmp_path / "territoire.toml"
    chemin.write_text(texte, encoding="utf-8")
    monkeypatch.setenv("OBSERVATOIRE_CONFIG", str(chemin))
    config.settings.cache_clear()
    yield chemin
    config.settings.cache_clear()


@pytest.fixture
def iscg_2023(engine, config_diffusion):
    from observatoire.ingest import import_contribution

    rep = import_contribution(shared_path("samples", "contributions",
                                          "iscg_arrondissement_bethune_2023.xlsx"),
                              contributeur="iscg_bethune", annee=2023, utilisateur="test")
    assert rep.ok
    return engine


def test_rien_de_publie_avant_validation(iscg_2023):
    from observatoire import diffusion

    with pytest.raises(diffusion.AucuneDiffusionError, match="Aucun chiffre n'a encore"):
        diffusion.courante(2023)
    d = diffusion.preparer(2023, par="test")
    assert d.statut == diffusion.PREPAREE and d.audit["sur"]
    # Préparée n'est pas publiée.
    with pytest.raises(diffusion.AucuneDiffusionError):
        diffusion.courante(2023)


def test_hors_perimetre_jamais_secret_et_aucun_petit_effectif(iscg_2023):
    from observatoire import diffusion
    from observatoire.diffusion import lecture

    d = diffusion.preparer(2023, par="test")
    t = lecture.table(d.public, IND, "2023", "commune")
    hors = t["couverture"] == "hors_perimetre"
    assert hors.sum() == 783 and (t.loc[~hors, "arrondissement"] == "622").all()
    assert not t.loc[hors, "secret"].any() and t.loc[hors, "label"].isna().all()
    assert t.loc[hors, "observe"].isna().all()
    vis = t["observe"].dropna()
    assert not vis.between(1, 4).any()
    assert t["secret"].sum() > 0
    # Rien de dérivé sur une cellule secrète.
    sec = t[t["secret"]]
    for col in ("taux", "taux_ic95_bas", "taux_ic95_haut", "attendu", "ratio", "taux_lisse",
                "p_exces", "p_defaut"):
        assert sec[col].isna().all(), col
    # Les sources sont citées sans nom de fichier.
    assert d.public["lots"] and all("fichier" not in lot for lot in d.public["lots"])
    assert ".xlsx" not in json.dumps(d.public, ensure_ascii=False)


def test_valider_figer_corriger(iscg_2023, tmp_path):
    from observatoire import diffusion
    from observatoire.diffusion import stockage
    from observatoire.ingest import import_contribution

    d = diffusion.preparer(2023, par="test")
    v1 = diffusion.valider(2023, par="test")
    assert v1.statut == diffusion.VALIDEE and v1.id == d.id and v1.version == 1
    assert diffusion.courante(2023).sha256 == v1.sha256
    with pytest.raises(ObservatoireError, match="ne change plus"):
        stockage.valider(None, v1.id, par="test", audit={"sur": True})
    # Une correction : l'ISCG renvoie son fichier, puis une nouvelle version.
    f = tmp_path / "iscg_corrige.csv"
    f.write_text("Commune;Victimes accueillies\nBéthune;40\nBeuvry;7\nBruay-la-Buissière;3\n",
                 encoding="utf-8")
    assert import_contribution(f, contributeur="iscg_bethune", annee=2023,
                               utilisateur="test").ok
    d2 = diffusion.preparer(2023, par="test")
    assert d2.version == 2 and d2.audit["sur"], d2.audit["expositions"][:5]
    assert d2.audit["diffusions_auditees"] == ["2023 v1", "2023 v2"]
    v2 = diffusion.valider(2023, par="test")
    hist = {x.version: x.statut for x in diffusion.historique(annee=2023)}
    assert hist == {1: diffusion.REMPLACEE, 2: diffusion.VALIDEE}
    assert diffusion.courante(2023).version == 2
    # L'ancienne version reste publique : elle compte dans les audits suivants.
    assert [(p.annee, p.version) for p in diffusion.publiees()] == [(2023, 1), (2023, 2)]
    assert v2.sha256


def test_contenu_altere_refuse(iscg_2023):
    from observatoire import diffusion
    from observatoire.diffusion import stockage

    diffusion.preparer(2023, par="test")
    d = diffusion.valider(2023, par="test")
    altere = dict(d.public)
    altere["tables"] = []
    with storage.transaction() as conn:
        conn.execute(sa.update(storage.diffusions).where(storage.diffusions.c.id == d.id)
                     .values(public=stockage._pack(altere)))
    with pytest.raises(stockage.DiffusionAltereeError, match="empreinte SHA-256"):
        diffusion.courante(2023)


def test_validation_refusee_si_l_audit_trouve_une_fuite(iscg_2023):
    from observatoire.diffusion import stockage

    d = stockage.enregistrer_candidate(None, 2023, {"annee": 2023, "tables": []},
                                       {"structure": {}}, {"sur": False, "exposees": 3},
                                       par="test", demo=False)
    with pytest.raises(ObservatoireError, match="Validation refusée : l'audit trouve 3"):
        stockage.valider(None, d.id, par="test", audit={"sur": False, "exposees": 3})


def test_commandes_diffusion(iscg_2023, agent, capsys, monkeypatch):
    entree = AGENT_PASSWORD + "\n"
    # Sans compte ni mot de passe : refus ; nommer le compte ne suffit pas.
    code, out, err = run_cli(capsys, "diffusion", "preparer", "--annee", "2023")
    assert code != 0 and "identifiant du compte manquant" in (out + err).lower()
    code, out, err = run_cli(capsys, "diffusion", "preparer", "--annee", "2023", "--agent",
                             "agent.test")
    assert code != 0 and "mot de passe" in (out + err).lower()
    code, out, err = run_cli_input(capsys, monkeypatch, entree, "diffusion", "preparer",
                                   "--annee", "2023", *AGENT_OPTIONS)
    assert code == 0, err
    assert "aucune cellule protégée n'est resserrée" in out
    code, out, err = run_cli_input(capsys, monkeypatch, entree, "diffusion", "auditer",
                                   "--annee", "2023", "--json", *AGENT_OPTIONS)
    assert code == 0, err
    rapport = json.loads(out)
    assert rapport["sur"] and rapport["exposees"] == 0 and rapport["protegees"] > 0
    # Le public n'a encore rien.
    code, out, err = run_cli(capsys, "analyser", "--annee", "2023", "--indicateur", IND)
    assert code != 0 and "Aucun chiffre n'a encore été publié" in err
    code, out, err = run_cli_input(capsys, monkeypatch, entree, "diffusion", "valider",
                                   "--annee", "2023", *AGENT_OPTIONS)
    assert code == 0, err
    code, out, err = run_cli(capsys, "analyser", "--annee", "2023", "--indicateur", IND,
                             "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["vue"] == "publique" and len(doc["lignes"]) == 887
    assert not any(r["observe"] is not None and 1 <= r["observe"] <= 4 for r in doc["lignes"])
    # Le public ne combine ni sources ni années.
    for options in (["--contributeur", "iscg_bethune"], ["--annee", "2022"], ["--moran"]):
        code, out, err = run_cli(capsys, "analyser", "--annee", "2023", "--indicateur", IND,
                                 *options)
        assert code != 0 and "réservée aux agents" in (out + err), options
    code, out, err = run_cli(capsys, "diffusion", "lister", "--json")
    assert code == 0 and json.loads(out)[0]["statut"] == "validee"


def test_page_publication_preparer_auditer_valider(iscg_2023):
    """La page Publication suit les étapes : préparer, auditer, confirmer, valider ; la carte
    publique passe alors de « aucun chiffre » à la diffusion."""
    from observatoire import auth, diffusion
    from tests.test_app import app, session_of

    auth.add_account("chef", "mot de passe solide", "administrateur")
    compte = session_of(auth.verify_password("chef", "mot de passe solide"))
    at = app().run()
    assert any("Aucun chiffre" in w.value for w in at.warning)
    at = app("publication", _observatoire_compte=compte).run()
    assert not at.exception, at.exception
    at.number_input(key="pub_annee").set_value(2023).run()
    assert any("Aucune diffusion préparée pour 2023" in i.value for i in at.info)
    at.button(key="pub_preparer").click().run(timeout=300)
    assert not at.exception, at.exception
    assert any("ne resserre aucun effectif protégé" in s.value for s in at.success)
    assert at.button(key="pub_valider").disabled  # confirmation d'abord
    at.button(key="pub_auditer").click().run(timeout=300)
    assert not at.exception, at.exception
    at.checkbox(key="pub_confirme").check().run()
    at.button(key="pub_valider").click().run()
    assert not at.exception, at.exception
    assert any("validée" in s.value for s in at.success)
    assert diffusion.courante(2023).version == 1
    at = app().run()
    assert not at.exception, at.exception
    assert not any("Aucun chiffre" in w.value for w in at.warning)
