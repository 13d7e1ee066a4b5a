"""Page administrateurs « Démonstration » : charger le jeu fictif, ou l'effacer.

Sur une installation vide, un administrateur charge la démonstration sans ligne de
commande ; sur une base de démonstration, il l'efface (après confirmation) pour passer
aux données réelles. Les dispositifs nommés par le plan cadre, bien réels, sont
rechargés comme registre réel : la page le dit avant et après.
"""

from __future__ import annotations

import streamlit as st

from observatoire import demo
from observatoire.app_pages import common
from observatoire.errors import ObservatoireError


def _effacer(account) -> None:
    info = demo.demo_info() or {}
    annees = ", ".join(str(a) for a in info.get("annees", [])) or "?"
    n_plan = len(demo.plan_dispositifs())
    st.info(f"Cette base contient le **jeu fictif de démonstration** (années {annees}). "
            "Tant qu'il est là, aucun fichier réel ne peut être importé.")
    st.markdown(
        "**Effacer la démonstration** retire tous les chiffres fictifs (lots, valeurs, "
        "fichiers archivés), les référents fictifs et les accueils de jour fictifs.\n\n"
        f"**Les {n_plan} dispositifs nommés par le plan cadre 2024-2026** (intervenantes "
        "sociales, maisons des adolescents, tribunal…) sont de vrais dispositifs : ils "
        "sont **rechargés comme registre réel** et restent sur la carte et dans les fiches "
        "(distances au dispositif le plus proche).")
    ok = st.checkbox("Je confirme : effacer la démonstration et passer aux données réelles",
                     key="demo_confirmer")
    if st.button("Effacer la démonstration", type="primary", disabled=not ok,
                 key="demo_effacer"):
        try:
            with st.spinner("Effacement…"):
                out = demo.clear_demo(utilisateur=account.identifiant)
        except ObservatoireError as exc:
            common.show_error(exc)
            return
        st.cache_data.clear()
        st.session_state["demo_resultat"] = out
        st.rerun()


def _charger() -> None:
    st.markdown(
        "La base est vide. Le **jeu de démonstration** remplit l'observatoire de chiffres "
        "**fictifs** (trois années, tous les contributeurs du registre, des référents dans "
        "92 communes de l'arrondissement de Béthune, les dispositifs du plan) pour découvrir "
        "la carte, les fiches et la publication. Chaque page dira « Données fictives de "
        "démonstration » ; il faudra l'effacer ici avant d'importer les fichiers réels.")
    if st.button("Charger la démonstration", type="primary", key="demo_charger"):
        try:
            with st.spinner("Génération du jeu fictif (environ une demi-minute)…"):
                out = demo.load_demo()
        except ObservatoireError as exc:
            common.show_error(exc)
            return
        st.cache_data.clear()
        st.session_state["demo_resultat"] = {"charge": out}
        st.rerun()


def page() -> None:
    account = common.require_staff(admin=True)
    st.title("Démonstration")
    fait = st.session_state.pop("demo_resultat", None)
    if fait and "charge" in fait:
        out = fait["charge"]
        st.success(f"Démonstration chargée : {out['lots']} lots, "
                   f"{common.fmt(out['valeurs'], 0)} valeurs fictives, "
                   f"{out['dispositifs']} dispositifs, {out['referents']} communes avec "
                   "référent.")
        st.page_link(st.session_state["_pages"]["carte"], label="Voir la carte")
    elif fait:
        st.success(f"Démonstration effacée : {fait['lots']} lots, "
                   f"{common.fmt(fait['valeurs'], 0)} valeurs et {fait['fichiers']} fichiers "
                   "archivés retirés. La base est prête pour les fichiers réels.")
        if fait.get("dispositifs_plan"):
            st.info(f"Les {fait['dispositifs_plan']} dispositifs du plan cadre sont gardés "
                    "(rechargés comme registre réel).")
        pages = st.session_state.get("_pages", {})
        if "importer" in pages:
            st.page_link(pages["importer"], label="Importer les fichiers des contributeurs")
    if common.is_demo():
        _effacer(account)
        return
    if demo.etat() in ("vide", "plan"):
        _charger()
    else:
        st.info("Cette base contient des données réelles : la démonstration ne peut pas y "
                "être chargée (les deux ne se mélangent jamais). Pour la découvrir, utilisez "
                "une autre installation.")
