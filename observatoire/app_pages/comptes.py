"""Page administrateurs « Comptes » : comptes, verrouillages, sessions, journal des accès."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from observatoire import access, auth
from observatoire.access import journal, sessions, throttle
from observatoire.app_pages import common
from observatoire.errors import ObservatoireError

_APP = access.CANAL_APPLICATION


def _accounts(me: auth.Account) -> None:
    st.caption(f"Fichier des comptes : {auth.accounts_path()}")
    st.dataframe(pd.DataFrame(auth.list_accounts()), hide_index=True, key="comptes_table")
    with st.form("comptes_ajouter", clear_on_submit=True):
        st.markdown("**Ajouter un compte**")
        ident = st.text_input("Identifiant")
        nom = st.text_input("Nom affiché")
        role = st.selectbox("Rôle", auth.ROLES)
        mdp = st.text_input(
            f"Mot de passe (au moins {auth.MIN_PASSWORD_LENGTH} caractères, sans "
            f"l'identifiant : une phrase de passe convient)", type="password")
        if st.form_submit_button("Ajouter"):
            try:
                auth.add_account(ident, mdp, role, nom, par=me.identifiant, canal=_APP)
            except ObservatoireError as exc:
                common.show_error(exc)
            else:
                st.success(f"Compte « {ident} » ajouté.")
    autres = [a["identifiant"] for a in auth.list_accounts() if a["identifiant"] != me.identifiant]
    if autres:
        cible = st.selectbox("Supprimer un compte", autres, key="comptes_suppr")
        if st.button("Supprimer", key="comptes_suppr_btn"):
            auth.remove_account(cible, par=me.identifiant, canal=_APP)
            st.rerun()


def _locks(me: auth.Account) -> None:
    st.subheader("Connexions en attente ou verrouillées")
    blocked = throttle.blocked()
    if blocked.empty:
        st.caption("Aucun compte ni aucune adresse n'attend après des échecs de connexion.")
        return
    shown = blocked.assign(
        cle=blocked["cle"].map(lambda k: "identifiant inconnu" if
                               k.startswith(throttle.UNKNOWN_PREFIX) else k),
        verrouille=blocked["verrouille"].map({True: "verrouillé", False: "délai"}),
        jusqua=blocked["jusqua"].map(lambda d: f"{d:%d/%m/%Y %H:%M:%S}"))
    st.dataframe(shown.rename(columns={"type": "Type", "cle": "Compte ou adresse",
                                       "echecs": "Échecs", "verrouille": "État",
                                       "jusqua": "Jusqu'à"}),
                 hide_index=True, key="comptes_verrous")
    choix = list(zip(blocked["type"], blocked["cle"], strict=True))
    cible = st.selectbox("Déverrouiller", range(len(choix)), key="comptes_verrou_choix",
                         format_func=lambda i: f"{choix[i][0]} {shown['cle'].iloc[i]}")
    if st.button("Déverrouiller", key="comptes_deverrouiller"):
        kind, key = choix[int(cible)]
        throttle.unlock(compte=key if kind == "compte" else None,
                        adresse=key if kind == "adresse" else None, par=me.identifiant)
        st.rerun()


def _sessions(me: auth.Account) -> None:
    st.subheader("Sessions ouvertes")
    actives = sessions.active_sessions()
    if actives.empty:
        st.caption("Aucune session ouverte.")
        return
    shown = actives.drop(columns=["id"]).rename(columns={
        "identifiant": "Compte", "role": "Rôle", "source": "Source", "adresse": "Adresse",
        "navigateur": "Navigateur", "cree_le": "Ouverte le", "vu_le": "Dernière activité",
        "expire_le": "Expire le"})
    st.dataframe(shown, hide_index=True, key="comptes_sessions")
    ids = actives["id"].tolist()
    labels = {sid: f"{who} — ouverte le {when:%d/%m %H:%M} ({addr})" for sid, who, when, addr
              in zip(ids, actives["identifiant"], actives["cree_le"], actives["adresse"],
                     strict=True)}
    cible = st.selectbox("Terminer une session", ids, format_func=labels.get,
                         key="comptes_session_choix")
    if st.button("Terminer cette session", key="comptes_session_fin"):
        sessions.end(cible, "administrateur", par=me.identifiant)
        st.rerun()


def _journal() -> None:
    st.subheader("Journal des accès")
    st.caption("Connexions, échecs, verrouillages, et chaque consultation ou export de valeurs "
               "exactes (page Valeurs exactes, registre des référents, fichiers reçus, "
               "commandes analyser --staff, sauvegarde, restauration…), avec le compte et "
               "l'heure.")
    c1, c2 = st.columns(2)
    actions = c1.multiselect("Actions", list(journal.ACTIONS), format_func=journal.ACTIONS.get,
                             placeholder="Toutes", key="comptes_journal_actions")
    qui = c2.text_input("Compte", key="comptes_journal_qui").strip().lower()
    df = journal.entries(actions=actions or None, qui=qui or None, limite=2000)
    shown = df.assign(quand=df["quand"].map(lambda d: f"{d:%d/%m/%Y %H:%M:%S}")).rename(
        columns={"quand": "Quand", "qui": "Qui", "action": "Action", "canal": "Canal",
                 "quoi": "Quoi", "adresse": "Adresse"})
    st.dataframe(shown, hide_index=True, key="comptes_journal", height=400)
    st.download_button("Télécharger le journal (CSV)",
                       shown.to_csv(sep=";", index=False).encode("utf-8-sig"),
                       file_name="journal_acces.csv", mime="text/csv",
                       key="comptes_journal_csv")


def page() -> None:
    me = common.require_staff(admin=True)
    st.title("Comptes des agents")
    try:
        if auth.oidc_configured():
            st.info("L'application utilise l'authentification OIDC : les rôles se règlent "
                    "dans la section [observatoire_roles] de .streamlit/secrets.toml.")
        else:
            _accounts(me)
        _locks(me)
        _sessions(me)
        _journal()
    except ObservatoireError as exc:
        common.show_error(exc)
