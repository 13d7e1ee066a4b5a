"""Page « Connexion » de l'espace agents (OIDC ou compte local)."""

from __future__ import annotations

import streamlit as st

from observatoire import auth
from observatoire.app_pages import common
from observatoire.errors import ObservatoireError

_MOTIFS = {
    "expiration": "Votre session a atteint sa durée maximale : reconnectez-vous.",
    "inactivité": "Votre session a pris fin après une longue inactivité : reconnectez-vous.",
    "déconnexion": "Vous êtes déconnecté.",
}


def page(titre: str | None = None) -> None:
    st.title("Espace agents : connexion")
    account = common.user()
    motif = auth.session_end_reason()
    if account is None and motif:
        st.warning(_MOTIFS.get(motif, f"Votre session a pris fin ({motif}) : reconnectez-vous."))
    if titre and account is None:
        st.info(f"La page « {titre} » est réservée aux agents authentifiés. Connectez-vous "
                "pour y accéder.")
    if account is not None:
        st.success(f"Connecté : {account.label}.")
        if titre:
            st.info(f"La page « {titre} » est réservée aux administrateurs.")
        if st.button("Se déconnecter", key="deconnexion"):
            if auth.logout():
                st.info("Déconnexion…")  # le navigateur efface son cookie et revient ici
                st.stop()
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
            result = auth.login_local(ident, mdp)
        except ObservatoireError as exc:  # délai, verrouillage, fichier de comptes illisible
            st.error(str(exc))
            return
        if result.account is None:
            st.error(result.message())
        elif result.redirige:
            # Le navigateur part chercher son cookie de session et revient connecté.
            st.success(f"Connecté : {result.account.label}.")
            st.stop()
        else:
            st.rerun()
    st.caption("Les comptes sont créés par un administrateur avec "
               "`observatoire comptes ajouter IDENTIFIANT --role agent`. Après plusieurs "
               "échecs, la connexion attend de plus en plus longtemps, puis se verrouille "
               "pour un moment.")


def gate(titre: str):
    """Page de substitution : une URL d'agent demandée sans connexion montre la connexion."""
    def _page() -> None:
        page(titre)
    return _page
