"""Page agents « Valeurs exactes » : le tableau d'analyse sans secret statistique."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from observatoire import auth
from observatoire.app_pages import common
from observatoire.errors import ObservatoireError

COLONNES = {"code": "Code", "nom": "Nom", "population": "Population", "observe": "Effectif",
            "n_masques": "Cellules masquées à la source", "attendu": "Attendu",
            "ratio": "Observé / attendu", "taux": "Taux ‰", "taux_lisse": "Taux lissé ‰",
            "p_exces": "p (excès)", "p_defaut": "p (défaut)", "label": "Étiquette",
            "motif": "Motif", "regroupement_suggere": "Regroupement suggéré",
            "sources": "Sources"}


def page() -> None:
    account = common.require_staff()
    st.title("Valeurs exactes")
    st.warning("Diffusion restreinte : ce tableau n'applique pas le secret statistique. "
               "Ne le transmettez pas hors des services ; pour toute diffusion, utilisez la "
               "page Publication ou la page publique Carte.")
    common.demo_banner()
    dispo = common.disponibles()
    if dispo.empty:
        st.info("Aucune donnée chargée.")
        return
    libelles = common.indicateurs()
    c1, c2, c3 = st.columns(3)
    annee = c1.selectbox("Année", sorted(dispo["annee"].unique(), reverse=True),
                         key="exact_annee")
    presents = [c for c in libelles if c in set(dispo["indicateur"])]
    indicateur = c2.selectbox("Indicateur", presents, format_func=lambda c: libelles.get(c, c),
                              key="exact_indicateur")
    niveau = c3.selectbox("Niveau", list(common.NIVEAUX), format_func=common.NIVEAUX.get,
                          key="exact_niveau")
    try:
        table = common.exact_table([int(annee)], indicateur, None, niveau)
    except ObservatoireError as exc:
        common.show_error(exc)
        return
    quoi = (f"Valeurs exactes : {libelles.get(indicateur, indicateur)}, {annee}, "
            f"{common.NIVEAU_SINGULIER.get(niveau, niveau)}")
    auth.journal_view(account, quoi)
    noms = common.contributeurs()
    shown = table[[c for c in COLONNES if c in table]].copy()
    if "sources" in shown:
        # Noms des contributeurs, pas leurs identifiants.
        shown["sources"] = shown["sources"].map(
            lambda v: ", ".join(noms.get(x, x) for x in str(v).split("|") if x)
            if isinstance(v, str) else "")
    for col in ("label", "motif", "regroupement_suggere"):
        if col in shown:
            shown[col] = shown[col].astype(object).where(shown[col].notna(), "")
    shown = shown.rename(columns=COLONNES)
    num = {c: st.column_config.NumberColumn(c, format="localized")
           for c in shown.columns if pd.api.types.is_numeric_dtype(shown[c])}
    st.dataframe(shown, hide_index=True, placeholder="–", column_config=num, key="exact_table",
                 height=600)
    st.download_button(
        "Télécharger (CSV, diffusion restreinte)",
        shown.to_csv(sep=";", index=False, decimal=",").encode("utf-8-sig"),
        file_name=f"restreint_{indicateur}_{niveau}_{annee}.csv", mime="text/csv",
        key="exact_csv", on_click=auth.journal_view, args=(account, "Export CSV : " + quoi),
        kwargs={"once": False})
    st.caption(f"Consulté par {account.label}.")
