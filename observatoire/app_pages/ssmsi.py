"""Page agents « Base SSMSI » : la base communale publique, lue puis enregistrée.

Le chargeur est celui de la ligne de commande (:mod:`observatoire.ssmsi`) : lecture et
rapport d'abord, enregistrement (toutes les années en une transaction) ensuite.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from observatoire.app_pages import common
from observatoire.errors import FichierRefuseError, ObservatoireError

DATA_GOUV = ("https://www.data.gouv.fr/fr/datasets/bases-statistiques-communale-"
             "departementale-et-regionale-de-la-delinquance-enregistree-par-la-police-et-"
             "la-gendarmerie-nationales/")


def _saved(content: bytes, name: str, folder: Path) -> Path:
    # Le lecteur SSMSI lit un fichier (par blocs) : l'envoi est posé dans un dossier
    # temporaire, sous son nom d'origine, le temps de la lecture ou de l'import.
    path = folder / Path(name).name
    path.write_bytes(content)
    return path


@st.cache_data(show_spinner=False, max_entries=4)
def _read(digest: str, content: bytes, name: str, annees: tuple | None) -> dict:
    from observatoire import ssmsi

    with tempfile.TemporaryDirectory() as tmp:
        data = ssmsi.read_ssmsi(_saved(content, name, Path(tmp)),
                                annees=list(annees) if annees else None)
    return data.report.to_dict()


def page() -> None:
    account = common.require_staff()
    st.title("Base communale du SSMSI")
    st.markdown(
        "Le SSMSI (ministère de l'Intérieur) publie chaque année les victimes enregistrées "
        "par la police et la gendarmerie, par commune : [base communale sur data.gouv.fr]"
        f"({DATA_GOUV}). Téléchargez le fichier communal (.csv.gz ou .parquet) et déposez-le "
        "ici tel quel : seules les communes du département et les violences "
        "intrafamiliales et sexuelles sont gardées ; les valeurs non diffusées par le SSMSI "
        "restent masquées.")
    if common.is_demo():
        st.warning("Base de démonstration : la base du SSMSI est une donnée réelle, son "
                   "import est refusé tant que la démonstration n'est pas effacée "
                   "(« observatoire demo --effacer »).")
    c1, c2 = st.columns([3, 1])
    up = c1.file_uploader("Fichier du SSMSI (.csv, .csv.gz, .parquet)",
                          type=["csv", "gz", "parquet"], key="ssmsi_fichier")
    texte = c2.text_input("Années (facultatif)", placeholder="2019-2024",
                          help="Par défaut, toutes les années du fichier.",
                          key="ssmsi_annees")
    if up is None:
        return
    from observatoire import ssmsi

    try:
        annees = ssmsi.parse_years(texte or None)
    except ObservatoireError as exc:
        common.show_error(exc)
        return
    content = up.getvalue()
    digest = hashlib.sha256(content).hexdigest()
    with st.spinner("Lecture du fichier…"):
        try:
            rapport = _read(digest, content, up.name, tuple(annees) if annees else None)
        except FichierRefuseError as exc:
            common.show_refus(exc)
            return
        except ObservatoireError as exc:
            common.show_error(exc)
            return
    _show(rapport)
    if not rapport.get("ok"):
        st.error("Le fichier a des erreurs : rien ne peut être enregistré.")
        return
    if st.button("Enregistrer toutes ces années", type="primary", key="ssmsi_enregistrer"):
        with st.spinner("Enregistrement (une seule transaction)…"), \
                tempfile.TemporaryDirectory() as tmp:
            try:
                rep = ssmsi.import_ssmsi(_saved(content, up.name, Path(tmp)), annees=annees,
                                         utilisateur=account.identifiant)
            except ObservatoireError as exc:
                common.show_error(exc)
                return
        st.cache_data.clear()
        st.success("Import terminé : " + ("fichier identique aux lots courants, rien n'a "
                                          "changé." if rep.statut == "inchange" else
                                          f"{len(rep.par_annee)} année(s) enregistrée(s)."))
        _par_annee(rep.to_dict())


def _show(rapport: dict) -> None:
    st.subheader("Rapport de lecture")
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Lignes lues (France)", common.fmt(rapport.get("lignes_lues"), 0))
    c2.metric("Lignes du département", common.fmt(rapport.get("lignes_retenues"), 0))
    c3.metric("Années", ", ".join(map(str, rapport.get("annees", []))) or "—")
    c4.metric("Valeurs non diffusées", common.fmt(rapport.get("valeurs_masquees"), 0))
    libelles = common.indicateurs()
    par_ind = rapport.get("valeurs_par_indicateur", {})
    if par_ind:
        st.dataframe(pd.DataFrame([
            {"Indicateur": libelles.get(k, k), "Libellé du SSMSI": " ; ".join(d["libelles"]),
             "Valeurs": d["valeurs"], "Total diffusé": d["total"], "Non diffusées":
             d["masquees"]} for k, d in par_ind.items()]), hide_index=True,
            key="ssmsi_par_ind")
    if rapport.get("codes_fusionnes"):
        st.caption(f"{len(rapport['codes_fusionnes'])} ancien(s) code(s) de commune "
                   f"rattaché(s) à leur commune actuelle.")
    for issue in rapport.get("erreurs", []):
        st.error(common.issue_text(issue))
    for issue in rapport.get("avertissements", [])[:50]:
        st.warning(common.issue_text(issue))


def _par_annee(rapport: dict) -> None:
    statut = {"nouveau": "nouveau lot", "remplace": "remplace le lot précédent (gardé dans "
              "l'historique)", "inchange": "inchangé"}
    st.dataframe(pd.DataFrame([
        {"Année": int(a), "Valeurs": d["valeurs"], "Non diffusées": d["masquees"],
         "Lot": d.get("lot_id"), "État": statut.get(d.get("statut"), d.get("statut"))}
        for a, d in sorted(rapport.get("par_annee", {}).items())]), hide_index=True,
        key="ssmsi_par_annee")
