"""Acceptation sur la démonstration : trois diffusions validées, attaquées ensemble.

La démonstration prépare, audite et valide la diffusion de chacune de ses années
(2022, 2023, 2024, chacune avec les précédentes comme contraintes fixes). L'intrus les
attaque ensemble : il ne doit resserrer aucun effectif protégé ; puis quelques attaques
précises, rejouées sur le contenu public seul.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from observatoire import storage
from tests.conftest import AGENT_OPTIONS, AGENT_PASSWORD, run_cli_input, utiliser_demo

pytestmark = pytest.mark.slow


@pytest.fixture
def demo(demo_reference, tmp_path, monkeypatch):
    utiliser_demo(demo_reference, tmp_path / "demo", monkeypatch)
    return storage.get_engine()


def _tables(public: dict, periode: str | None = None):
    from observatoire.diffusion import lecture

    for t in public["tables"]:
        if periode is None or t["periode"] == periode:
            yield t, lecture.table(public, t["indicateur"], t["periode"], t["niveau"])


def test_trois_diffusions_validees_et_sures_ensemble(demo, agent, capsys, monkeypatch):
    from observatoire import diffusion

    courantes = diffusion.courantes()
    assert sorted(courantes) == [2022, 2023, 2024]
    assert all(d.demo and d.audit["sur"] for d in courantes.values())
    d24 = courantes[2024]
    # Le cumul 2022-2024 des petites communes est publié par la diffusion 2024.
    assert any(t["periode"] == "2022-2024" for t in d24.public["tables"])
    # L'intrus attaque la dernière avec toutes les autres : rien n'est resserré.
    code, out, err = run_cli_input(capsys, monkeypatch, AGENT_PASSWORD + "\n", "diffusion",
                                   "auditer", "--id", str(d24.id), "--json", *AGENT_OPTIONS)
    assert code == 0, err
    rapport = json.loads(out)
    assert rapport["sur"] and rapport["exposees"] == 0
    assert rapport["diffusions_auditees"] == ["2022 v1", "2023 v1", "2024 v1"]
    assert rapport["protegees"] > 1000


def test_aucun_petit_effectif_ni_valeur_derivee_secrete(demo):
    from observatoire import diffusion

    for annee, d in diffusion.courantes().items():
        for t, df in _tables(d.public):
            vis = df.loc[~df["secret"], "observe"].dropna()
            if t["niveau"] == "commune":
                assert not vis.between(1, 4).any(), (annee, t["indicateur"], t["periode"])
            sec = df[df["secret"]]
            for col in ("observe", "taux", "taux_ic95_bas", "taux_ic95_haut", "attendu",
                        "ratio", "taux_lisse", "p_exces", "p_defaut"):
                assert sec[col].isna().all(), (annee, t["indicateur"], col)
            # Ni lissage spatial ni Moran dans une diffusion.
            assert not {"taux_lisse_spatial", "moran_local_i"} & set(t["colonnes"])


def test_total_moins_dont_jamais_petit(demo):
    """Victimes reçues − « dont femmes » : aucun complément de 1 à 4 ne se lit."""
    from observatoire import diffusion

    n = 0
    for d in diffusion.courantes().values():
        tables = {(t["indicateur"], t["periode"], t["niveau"]): df for t, df in _tables(d.public)}
        for (ind, per, niv), tot in tables.items():
            if ind != "victimes_accueillies" or niv != "commune":
                continue
            fem = tables.get(("victimes_accueillies_femmes", per, niv))
            if fem is None:
                continue
            m = tot.set_index("code")["observe"].astype("Float64") - fem.set_index(
                "code")["observe"].astype("Float64")
            m = m.dropna()
            n += len(m)
            assert not m.between(1, 4).any(), per
    assert n > 500


def test_etiquettes_secretes_valables_de_1_a_4(demo):
    """Une étiquette conclusive sur une cellule secrète vaut pour tout effectif de 1 à 4."""
    from observatoire import diffusion
    from observatoire.diffusion import stockage
    from observatoire.diffusion.etiquettes import effectifs_compatibles

    vus = 0
    for d in diffusion.publiees():
        prive = stockage.charger(None, d.id, prive=True).prive
        for t, df in _tables(d.public):
            if t["niveau"] != "commune":
                continue
            sec = df[df["secret"] & df["label"].isin(["révélatrice", "blanche présumée",
                                                      "pas d'écart détecté"])]
            if sec.empty:
                continue
            att = np.array([prive["attendus"]["|".join((t["indicateur"], t["periode"],
                                                         "commune", c))] for c in sec["code"]],
                           float)
            lo, hi = effectifs_compatibles(sec["label"].to_numpy(object), att[:, 0], table=t,
                                           attendu_min=att[:, 1], attendu_max=att[:, 2])
            assert (lo <= 1).all() and (hi >= 4).all()
            vus += len(sec)
    assert vus >= 0


def test_publication_lit_la_diffusion(demo, tmp_path):
    """Les fichiers de novembre ne contiennent que les chiffres de la diffusion validée."""
    from observatoire import diffusion
    from observatoire.diffusion import lecture
    from observatoire.exports import publier

    ind = "victimes_accompagnees"
    man = publier(2024, tmp_path / "pub", territoires=["622"], indicateurs=[ind],
                  artefacts=("csv", "excel"))
    d = diffusion.courante(2024)
    assert man["diffusion"]["sha256"] == d.sha256
    assert all("fichier" not in lot for lot in man["entrees"]["lots"])
    assert "demo-" not in json.dumps(man, ensure_ascii=False)
    ref = lecture.table(d.public, ind, "2024", "commune").set_index("code")
    csv = pd.read_csv(tmp_path / "pub" / "donnees-2024.csv", sep=";", dtype=str,
                      keep_default_na=False)
    com = csv[(csv["niveau"] == "commune") & (csv["indicateur"] == ind)].set_index("code")
    assert len(com) == 887
    attendu = ref["observe"].map(lambda v: "" if pd.isna(v) else str(int(v)))
    assert (com.loc[ref.index, "observe"] == attendu).all()
    assert (com.loc[ref.index, "secret"] == ref["secret"].map({True: "oui", False: "non"})).all()


def test_demo_effacee_emporte_ses_diffusions(demo, capsys):
    from observatoire import diffusion
    from tests.conftest import run_cli

    code, out, err = run_cli(capsys, "demo", "--effacer")
    assert code == 0, err
    assert "3 diffusion(s)" in out
    assert diffusion.courantes() == {}
