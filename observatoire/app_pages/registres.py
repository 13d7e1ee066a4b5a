"""Page agents « Dispositifs et référents » : voir, importer, modifier les registres.

Les deux tableaux se modifient sur place ; « Enregistrer » les fait passer par les
contrôles de l'import (une ligne invalide et rien n'est écrit) et chaque dispositif garde
son identifiant. Les types s'affichent par leur libellé, jamais par leur code.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from observatoire import auth, registres
from observatoire.app_pages import common
from observatoire.errors import ObservatoireError


def _import(kind: str, account) -> None:
    st.markdown(f"**Importer un tableur de {kind}**")
    up = st.file_uploader(f"Tableur des {kind} (.xlsx, .csv)", type=["xlsx", "csv", "ods"],
                          key=f"reg_up_{kind}")
    replace = st.checkbox("Remplacer le registre existant", key=f"reg_replace_{kind}")
    if up is None or not st.button(f"Importer les {kind}", key=f"reg_btn_{kind}"):
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(up.name).name
        path.write_bytes(up.getvalue())
        try:
            if kind == "dispositifs":
                rep = registres.import_dispositifs(path, replace=replace,
                                                   utilisateur=account.identifiant)
            else:
                rep = registres.import_referents(path, replace=replace,
                                                 utilisateur=account.identifiant)
        except ObservatoireError as exc:
            common.show_error(exc)
            return
    st.cache_data.clear()
    st.success("Import terminé.\n\n" + "\n".join(f"- {x}" for x in rep.lines()))


_COLONNES_DISPOSITIFS = {
    "id": st.column_config.NumberColumn("N°", disabled=True, width=50),
    "nom": st.column_config.TextColumn("Nom", width="medium", required=True),
    "adresse": st.column_config.TextColumn("Adresse", width="medium"),
    "code_insee": st.column_config.TextColumn("Code INSEE", width=90,
                                              help="Code de la commune (ou son nom ci-après)."),
    "commune": st.column_config.TextColumn("Commune", width="small"),
    "latitude": st.column_config.NumberColumn("Latitude", format="%.5f", width=90),
    "longitude": st.column_config.NumberColumn("Longitude", format="%.5f", width=90),
    "capacite": st.column_config.NumberColumn("Capacité", width=70, min_value=0, step=1),
    "unite_capacite": st.column_config.TextColumn("Unité", width=70),
    "horaires": st.column_config.TextColumn("Horaires", width="small"),
    "contact": st.column_config.TextColumn("Contact institutionnel", width="small"),
    "source": st.column_config.TextColumn("Source", width="small"),
    "remarque": st.column_config.TextColumn("Remarque", width="small"),
}


def _dispositifs(account) -> None:
    disp = registres.list_dispositifs()
    types = common.types_dispositifs()
    st.caption(f"{len(disp)} dispositifs. Modifiez les cases, ajoutez une ligne en bas du "
               "tableau ou retirez-en une (case à gauche puis corbeille), puis enregistrez : "
               "chaque ligne passe par les contrôles de l'import.")
    colonnes = dict(_COLONNES_DISPOSITIFS)
    colonnes["type"] = st.column_config.SelectboxColumn(
        "Type", options=list(types), format_func=lambda c: types.get(c, c), required=True,
        width="medium")
    colonnes["localisation"] = st.column_config.SelectboxColumn(
        "Placé", options=list(registres.LOCALISATIONS), width=90,
        format_func={"adresse": "à son adresse", "commune": "au centre de sa commune",
                     "territoire": "au chef-lieu de son territoire"}.get,
        help="À son adresse quand les coordonnées sont connues ; sinon au centre de sa "
             "commune.")
    # Cases vides vides, pas « None ».
    vue = disp.drop(columns=["demo"], errors="ignore")
    textes = ["adresse", "commune", "unite_capacite", "horaires", "contact", "source",
              "remarque"]
    vue[textes] = vue[textes].astype(object).where(vue[textes].notna(), "")
    edited = st.data_editor(vue, hide_index=True,
                            key="reg_disp_edit", num_rows="dynamic", column_config=colonnes,
                            placeholder="",
                            width="stretch")
    # Même contrôle qu'un import : une ligne invalide et rien n'est écrit.
    _enregistrer("dispositifs", "reg_disp_save", lambda: registres.save_edited_dispositifs(
        disp, edited, account.identifiant, demo=common.is_demo()),
        lambda rep: f"Registre des dispositifs enregistré : {rep.importes} dispositif(s) "
                    f"modifié(s) ou ajouté(s), {rep.supprimes} retiré(s) ; les autres n'ont "
                    "pas changé.")


def _enregistrer(quoi: str, key: str, save, message) -> None:
    """Bouton « Enregistrer » d'un registre modifié : contrôles, message, avertissements."""
    if not st.button(f"Enregistrer les modifications des {quoi}", key=key):
        return
    try:
        rep = save()
    except ObservatoireError as exc:
        common.show_error(exc)
        return
    st.cache_data.clear()
    st.success(message(rep))
    for warning in rep.avertissements:
        st.warning(warning)


def _referents(account) -> None:
    refs = registres.list_referents(exact=True)
    auth.journal_view(account, "Registre des référents (noms et contacts)")
    st.caption(f"{len(refs)} communes avec un référent. Le nom et le contact du référent ne "
               "sortent jamais de l'espace agents. Modifiez, ajoutez (code INSEE ou nom de la "
               "commune) ou retirez une ligne, puis enregistrez : mêmes contrôles que l'import "
               "d'un tableur.")
    vue = refs.drop(columns=["demo"], errors="ignore").copy()
    for col in ("date_designation", "date_formation"):
        vue[col] = pd.to_datetime(vue[col], errors="coerce").dt.date
    textes = ["commune", "arrondissement", "source", "nom_referent", "contact_referent"]
    vue[textes] = vue[textes].astype(object).where(vue[textes].notna(), "")
    colonnes = {
        "code_insee": st.column_config.TextColumn("Code INSEE", width=90),
        "commune": st.column_config.TextColumn("Commune", width="medium",
                                               help="Reconnue par son nom si le code manque."),
        "date_designation": st.column_config.DateColumn("Désigné le", format="DD/MM/YYYY"),
        "forme": st.column_config.CheckboxColumn("Formé"),
        "date_formation": st.column_config.DateColumn("Formé le", format="DD/MM/YYYY"),
        "arrondissement": st.column_config.TextColumn("Arrondissement", disabled=True,
                                                      width=80),
        "source": st.column_config.TextColumn("Source", width="small"),
        "nom_referent": st.column_config.TextColumn("Nom du référent", width="small"),
        "contact_referent": st.column_config.TextColumn("Contact", width="small"),
    }
    edited = st.data_editor(vue, hide_index=True, key="reg_refs_edit", num_rows="dynamic",
                            placeholder="",
                            column_config=colonnes, width="stretch")
    _enregistrer("référents", "reg_refs_save", lambda: registres.save_edited_referents(
        edited, account.identifiant, demo=common.is_demo()),
        lambda rep: f"Registre des référents enregistré : {rep.importes} commune(s) avec un "
                    "référent.")


def page() -> None:
    account = common.require_staff(admin=True)
    st.title("Dispositifs et référents")
    common.demo_banner()
    t1, t2 = st.tabs(["Dispositifs d'aide", "Référents VIF"])
    with t1:
        _dispositifs(account)
        _import("dispositifs", account)
    with t2:
        _referents(account)
        _import("référents", account)
