"""Page agents « Contributions » : lots par année et contributeur, historique, restauration."""

from __future__ import annotations

import streamlit as st

from observatoire import auth, batches
from observatoire.app_pages import common
from observatoire.errors import ObservatoireError


def _lot_libelle(vue, i, noms) -> str:
    r = vue.loc[vue["id"] == i].iloc[0]
    return f"lot {i} — {r['annee']}, {noms.get(r['contributeur'], r['contributeur'])}, " \
           f"{r['fichier']}"


def page() -> None:
    account = common.require_staff()
    st.title("Contributions reçues")
    lots = batches.list_batches()
    if lots.empty:
        st.info("Aucun lot importé pour l'instant (page Importer).")
        return
    noms = common.contributeurs()
    c1, c2 = st.columns(2)
    annees = sorted(lots["annee"].unique().tolist(), reverse=True)
    annee = c1.selectbox("Année", ["toutes"] + annees, key="contrib_annee")
    contrib = c2.selectbox("Contributeur", ["tous"] + sorted(lots["contributeur"].unique()),
                           format_func=lambda c: noms.get(c, c), key="contrib_contrib")
    vue = lots
    if annee != "toutes":
        vue = vue[vue["annee"] == annee]
    if contrib != "tous":
        vue = vue[vue["contributeur"] == contrib]
    table = vue.assign(
        contributeur=vue["contributeur"].map(lambda c: noms.get(c, c)),
        etat=vue["courant"].map({True: "courant", False: "historique"}),
        importe_le=vue["importe_le"].map(common.date_heure_fr),
        remplace_le=vue["remplace_le"].map(
            lambda d: common.date_heure_fr(d) if d is not None and d == d else ""))[
        ["id", "annee", "contributeur", "fichier", "importe_le", "importe_par", "etat",
         "n_valeurs", "remplace_le"]].rename(columns={
            "id": "Lot", "annee": "Année", "contributeur": "Contributeur", "fichier": "Fichier",
            "importe_le": "Importé le", "importe_par": "Par", "etat": "État",
            "n_valeurs": "Valeurs", "remplace_le": "Remplacé le"})
    st.dataframe(table, hide_index=True, placeholder="–", key="contrib_table")
    st.subheader("Un lot")
    lot_id = st.selectbox("Lot", vue["id"].tolist(),
                          format_func=lambda i: _lot_libelle(vue, i, noms), key="contrib_lot")
    row = vue[vue["id"] == lot_id].iloc[0]
    path = batches.archive_path(row["archive"])
    c1, c2 = st.columns(2)
    if path.exists():
        c1.download_button("Télécharger le fichier archivé", path.read_bytes(),
                           file_name=row["fichier"], key="contrib_dl",
                           on_click=auth.journal_view, kwargs={"once": False},
                           args=(account, f"Fichier reçu, lot {lot_id} : {row['fichier']}"))
    else:
        c1.warning("Fichier archivé introuvable.")
    if not row["courant"]:
        if c2.button("Restaurer ce lot (il redevient courant)", key="contrib_restaurer"):
            try:
                batches.restore_batch(int(lot_id), account.identifiant)
            except ObservatoireError as exc:
                common.show_error(exc)
                return
            st.cache_data.clear()
            st.success(f"Lot {lot_id} restauré.")
            st.rerun()
    else:
        c2.caption("Ce lot est le lot courant de son contributeur pour cette année.")
