"""Page agents « Campagne N » : la collecte de l'année d'un coup d'œil."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import pandas as pd
import streamlit as st

from observatoire import batches, catalogues, communes
from observatoire.app_pages import common
from observatoire.config import settings
from observatoire.errors import ObservatoireError


def _ou(codes: frozenset[str], com: pd.DataFrame, noms: dict[str, str], dep: str) -> str:
    """Territoire lisible : « tout le département », des arrondissements, ou des communes."""
    dedans = com[com["code_insee"].isin(codes)]
    if len(dedans) == len(com):
        return "tout le département"
    arrs = sorted(set(dedans["arrondissement"]))
    entiers = [a for a in arrs if (com["arrondissement"] == a).sum()
               == (dedans["arrondissement"] == a).sum()]
    if entiers == arrs:
        return ", ".join(noms.get(a, a) for a in arrs)
    return f"{len(dedans)} communes ({', '.join(noms.get(a, a) for a in arrs)})"


def expected_status(annee: int) -> pd.DataFrame:
    """Contributeurs attendus pour ``annee`` (:func:`catalogues.contributeurs_attendus`),
    leur territoire et l'état de leur fichier.

    Les sources publiques (SSMSI), importées par l'observatoire lui-même, ne sont pas
    attendues : personne ne les envoie. La colonne ``arrondissements`` dit lesquels le
    territoire du contributeur touche (même en partie : une circonscription de police).
    """
    lots = batches.list_batches(annee=annee)
    courants = lots[lots["courant"]] if not lots.empty else lots
    s = settings()
    com = communes.load_communes(s.departement)
    arr = communes.load_arrondissements()
    noms = dict(zip(arr["arrondissement"], arr["nom"], strict=True))
    rows = []
    for c in catalogues.contributeurs_attendus(annee):
        try:
            codes = catalogues.communes_couvertes(c.territoire, com)
        except ObservatoireError:
            codes = frozenset()
        lot = courants[courants["contributeur"] == c.identifiant] if not lots.empty else lots
        if lot.empty:
            etat, quand = "manquant", ""
        else:
            etat, quand = "reçu et validé", common.date_heure_fr(lot["importe_le"].iloc[0])
        rows.append({"Territoire": _ou(codes, com, noms, s.departement) if codes
                     else c.territoire, "Contributeur": c.nom, "identifiant": c.identifiant,
                     "code_territoire": c.territoire,
                     "arrondissements": sorted(set(com.loc[com["code_insee"].isin(codes),
                                                           "arrondissement"])),
                     "État": etat, "Importé le": quand, "Contact": c.contact})
    return pd.DataFrame(rows)


def page() -> None:
    common.require_staff()
    # Le titre vient avant le choix de l'année : la valeur du widget est déjà dans l'état
    # de session quand le script est relancé.
    defaut = common.derniere_annee()
    st.title(f"Campagne {int(st.session_state.get('campagne_annee', defaut))}")
    annee = st.number_input("Année des données (N)", 2000, dt.date.today().year, defaut,
                            key="campagne_annee")
    table = expected_status(int(annee))
    n_ok = int((table["État"] != "manquant").sum())
    s = settings()
    # Chaque contributeur compte une fois : ceux qui couvrent plusieurs arrondissements
    # reviennent dans chacun de leurs onglets, mais pas dans ce total.
    st.metric("Fichiers reçus et validés", f"{n_ok} sur {len(table)} contributeurs attendus",
              help="Chaque contributeur compte une fois, même s'il couvre plusieurs "
                   "arrondissements.")
    st.dataframe(table.drop(columns=["identifiant", "code_territoire", "arrondissements"]),
                 hide_index=True, placeholder="–",
                 key="campagne_table")
    st.subheader("Par arrondissement")
    st.caption("Chaque onglet reprend les contributeurs dont le territoire touche "
               "l'arrondissement : départementaux, multi-arrondissements et propres.")
    noms = common.noms_arrondissements()
    arrs = list(s.arrondissements) or sorted(
        a for a, n in noms.items() if a.startswith(s.departement))
    for tab, arr in zip(st.tabs([noms.get(a, a) for a in arrs]), arrs, strict=True):
        # Contributeurs attendus dans l'arrondissement : ceux dont le territoire le touche.
        sub = table[table["arrondissements"].map(lambda a, arr=arr: arr in a)]
        manque = int((sub["État"] == "manquant").sum())
        propres = int(sub["arrondissements"].map(lambda a, arr=arr: a == [arr]).sum())
        tab.caption(f"{len(sub)} contributeurs attendus ({len(sub) - propres} sur plusieurs "
                    f"arrondissements, {propres} propre(s) à celui-ci) : {len(sub) - manque} "
                    f"fichier(s) reçu(s), {manque} manquant(s).")
        tab.dataframe(sub[["Contributeur", "État", "Importé le", "Contact"]], hide_index=True,
                      placeholder="–",
                      key=f"campagne_{arr}")
    if (table["État"] == "manquant").any():
        st.warning("Manquent : " + ", ".join(table.loc[table["État"] == "manquant",
                                                        "Contributeur"]))
    if st.button("Préparer les modèles de tous les contributeurs (zip)", key="campagne_zip"):
        from observatoire.ingest import build_template

        buf = io.BytesIO()
        bar = st.progress(0, text="Modèles…")
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for i, ident in enumerate(table["identifiant"]):
                zf.writestr(f"modele_{ident}_{int(annee)}.xlsx", build_template(ident, int(annee)))
                bar.progress((i + 1) / len(table), text=f"Modèle {ident}")
        st.session_state["campagne_zip_data"] = buf.getvalue()
    if st.session_state.get("campagne_zip_data"):
        st.download_button("Télécharger les modèles (zip)", st.session_state["campagne_zip_data"],
                           file_name=f"modeles_{int(annee)}.zip", mime="application/zip",
                           key="campagne_zip_dl")
