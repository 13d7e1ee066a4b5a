"""Page « Connexion » de l'espace agents (OIDC ou compte local)."""

from __future__ import annotations

import streamlit as st

from observatoire import auth
from observatoire.app_pages import common


def page(titre: str | None = None) -> None:
    st.title("Espace agents : connexion")
    if titre:
        st.info(f"La page « {titre} » est réservée aux agents authentifiés. Connectez-vous "
                "pour y accéder.")
    account = common.user()
    if account is not None:
        st.success(f"Connecté : {account.label}.")
        if st.button("Se déconnecter", key="deconnexion"):
            auth.logout()
            st.rerun()
        return
    if auth.oidc_configured():
        if st.button("Se connecter avec le compte de l'administration", key="oidc"):
            st.login()
        return
    with st.form("connexion", clear_on_submit=False):
        ident = st.text_input("Identifiant", key="connexion_identifiant")
        mdp = st.text_input("Mot de passe", type="password", key="connexion_mdp")
        ok = st.form_submit_button("Se connecter")
    if ok:
        try:
            account = auth.login_local(ident, mdp)
        except auth.AuthError as exc:
            st.error(str(exc))
            return
        except Exception as exc:  # fichier de comptes illisible : message, pas de trace
            if isinstance(exc, auth.ObservatoireError):
                st.error(str(exc))
                return
            raise
        if account is None:
            st.error("Identifiant ou mot de passe incorrect.")
        else:
            st.rerun()
    st.caption("Les comptes sont créés par un administrateur avec "
               "`observatoire comptes ajouter IDENTIFIANT --role agent`.")


def gate(titre: str):
    """Page de substitution : une URL d'agent demandée sans connexion montre la connexion."""
    def _page() -> None:
        page(titre)
    return _page
