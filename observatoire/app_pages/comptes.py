"""Page administrateurs « Comptes » : comptes locaux des agents."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from observatoire import auth
from observatoire.app_pages import common
from observatoire.errors import ObservatoireError


def page() -> None:
    me = common.require_staff(admin=True)
    st.title("Comptes des agents")
    if auth.oidc_configured():
        st.info("L'application utilise l'authentification OIDC : les rôles se règlent dans "
                "la section [observatoire_roles] de .streamlit/secrets.toml.")
        return
    try:
        st.caption(f"Fichier des comptes : {auth.accounts_path()}")
        st.dataframe(pd.DataFrame(auth.list_accounts()), hide_index=True, key="comptes_table")
    except ObservatoireError as exc:
        common.show_error(exc)
        return
    with st.form("comptes_ajouter", clear_on_submit=True):
        st.markdown("**Ajouter un compte**")
        ident = st.text_input("Identifiant")
        nom = st.text_input("Nom affiché")
        role = st.selectbox("Rôle", auth.ROLES)
        mdp = st.text_input(f"Mot de passe (au moins {auth.MIN_PASSWORD_LENGTH} caractères)",
                            type="password")
        if st.form_submit_button("Ajouter"):
            try:
                auth.add_account(ident, mdp, role, nom)
            except ObservatoireError as exc:
                common.show_error(exc)
            else:
                st.success(f"Compte « {ident} » ajouté.")
    autres = [a["identifiant"] for a in auth.list_accounts() if a["identifiant"] != me.identifiant]
    if autres:
        cible = st.selectbox("Supprimer un compte", autres, key="comptes_suppr")
        if st.button("Supprimer", key="comptes_suppr_btn"):
            auth.remove_account(cible)
            st.rerun()
