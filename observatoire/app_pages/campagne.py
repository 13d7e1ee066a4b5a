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


def expected_status(annee: int) -> pd.DataFrame:
    """Contributeurs attendus par arrondissement et état de leur fichier pour ``annee``.

    Les sources publiques (SSMSI), importées par l'observatoire lui-même, ne sont pas
    attendues : personne ne les envoie.
    """
    lots = batches.list_batches(annee=annee)
    courants = lots[lots["courant"]] if not lots.empty else lots
    arr = communes.load_arrondissements()
    s = settings()
    arr = arr[arr["departement"] == s.departement]
    if s.arrondissements:
        arr = arr[arr["arrondissement"].isin(s.arrondissements)]
    rows = []
    for c in catalogues.load_contributeurs():
        if c.source_publique:
            continue
        if c.territoire == s.departement:
            where = "tout le département"
        else:
            hit = arr[arr["arrondissement"] == c.territoire]
            where = hit["nom"].iloc[0] if not hit.empty else c.territoire
        lot = courants[courants["contributeur"] == c.identifiant] if not lots.empty else lots
        if lot.empty:
            etat, quand = "manquant", ""
        else:
            etat, quand = "reçu et validé", common.date_heure_fr(lot["importe_le"].iloc[0])
        rows.append({"Territoire": where, "Contributeur": c.nom, "identifiant": c.identifiant,
                     "code_territoire": c.territoire,
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
    n_dep = int((table["code_territoire"] == s.departement).sum())
    # Chaque contributeur compte une fois : les départementaux reviennent dans chaque
    # onglet d'arrondissement, mais pas dans ce total.
    st.metric("Fichiers reçus et validés", f"{n_ok} sur {len(table)} contributeurs attendus",
              help=f"{n_dep} contributeurs couvrent tout le département et "
                   f"{len(table) - n_dep} un seul arrondissement ; chacun compte une fois.")
    st.dataframe(table.drop(columns=["identifiant", "code_territoire"]), hide_index=True,
                 placeholder="–",
                 key="campagne_table")
    st.subheader("Par arrondissement")
    st.caption("Chaque onglet reprend les contributeurs départementaux (communs à tous les "
               "arrondissements) et ceux propres à l'arrondissement.")
    noms = common.noms_arrondissements()
    arrs = list(s.arrondissements) or sorted(
        a for a, n in noms.items() if a.startswith(s.departement))
    for tab, arr in zip(st.tabs([noms.get(a, a) for a in arrs]), arrs, strict=True):
        # Contributeurs attendus dans l'arrondissement : ceux du département et les siens.
        sub = table[table["code_territoire"].isin([s.departement, arr])]
        manque = int((sub["État"] == "manquant").sum())
        propres = int((sub["code_territoire"] == arr).sum())
        tab.caption(f"{len(sub)} contributeurs attendus ({len(sub) - propres} départementaux, "
                    f"{propres} propre(s) à l'arrondissement) : {len(sub) - manque} fichier(s) "
                    f"reçu(s), {manque} manquant(s).")
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
