"""Page agents « Dispositifs et référents » : voir, importer, modifier les registres."""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from observatoire import auth, registres
from observatoire.app_pages import common
from observatoire.errors import ObservatoireError


def _import(kind: str, account) -> None:
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
    st.success(f"Import terminé : {rep}")


def page() -> None:
    account = common.require_staff(admin=True)
    st.title("Dispositifs et référents")
    common.demo_banner()
    t1, t2 = st.tabs(["Dispositifs d'aide", "Référents VIF"])
    with t1:
        disp = registres.list_dispositifs()
        st.caption(f"{len(disp)} dispositifs.")
        edited = st.data_editor(disp.drop(columns=["demo"], errors="ignore"), hide_index=True,
                                key="reg_disp_edit", disabled=["id"], num_rows="fixed")
        if st.button("Enregistrer les modifications des dispositifs", key="reg_disp_save"):
            try:
                # Même contrôle qu'un import : une ligne invalide et rien n'est écrit.
                rep = registres.save_edited_dispositifs(disp, edited, account.identifiant,
                                                        demo=common.is_demo())
            except ObservatoireError as exc:
                common.show_error(exc)
            else:
                st.cache_data.clear()
                st.success(f"Registre des dispositifs enregistré : {rep.importes} "
                           f"dispositif(s).")
                for warning in rep.avertissements:
                    st.warning(warning)
        _import("dispositifs", account)
    with t2:
        refs = registres.list_referents(exact=True)
        auth.journal_view(account, "Registre des référents (noms et contacts)")
        st.caption(f"{len(refs)} communes avec un référent. Le nom et le contact du référent "
                   "ne sortent jamais de l'espace agents.")
        st.dataframe(refs, hide_index=True, key="reg_refs")
        _import("référents", account)
