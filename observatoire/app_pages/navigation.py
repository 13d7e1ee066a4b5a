"""Navigation : construite à partir du seul rôle authentifié.

Une session publique n'enregistre aucune page d'agent : les adresses de ces pages
(``/importer``…) y mènent à la page de connexion, jamais aux données. Chaque page a son
titre d'onglet (« Carte — Observatoire VIF — Pas-de-Calais »).
"""

from __future__ import annotations

import streamlit as st

from observatoire.app_pages import (
    campagne,
    carte,
    common,
    composants,
    comptes,
    connexion,
    contributions,
    demonstration,
    exactes,
    fiche,
    importer,
    methode,
    publication,
    referentiel,
    registres,
    ssmsi,
)

#: url_path -> (titre, fonction, réservé aux administrateurs)
STAFF_PAGES = {
    "campagne": ("Campagne N", campagne.page, False),
    "importer": ("Importer", importer.page, False),
    "contributions": ("Contributions", contributions.page, False),
    "ssmsi": ("Base SSMSI", ssmsi.page, False),
    "valeurs-exactes": ("Valeurs exactes", exactes.page, False),
    "registres": ("Dispositifs et référents", registres.page, True),
    "publication": ("Publication", publication.page, False),
    "referentiel": ("Référentiel", referentiel.page, False),
    "demonstration": ("Démonstration", demonstration.page, True),
    "comptes": ("Comptes", comptes.page, True),
}


def build() -> st.Page:
    """Construit la navigation de la session et renvoie la page à exécuter."""
    common.widgets_en_francais()
    account = common.user()
    public = [
        st.Page(carte.page, title="Carte", url_path="carte", default=True),
        st.Page(fiche.page, title="Fiche territoire", url_path="fiche"),
        st.Page(methode.page, title="Méthode", url_path="methode"),
    ]
    pages = {"Observatoire": public}
    registry = {"fiche": public[1], "carte": public[0], "methode": public[2]}
    if account is None:
        staff = [st.Page(connexion.page, title="Connexion", url_path="connexion")]
        # Adresses des pages d'agents : elles montrent la connexion, rien d'autre.
        staff += [st.Page(connexion.gate(title), title=f"{title} (connexion requise)",
                          url_path=url, visibility="hidden")
                  for url, (title, _fn, _admin) in STAFF_PAGES.items()]
    else:
        staff = []
        for url, (title, fn, admin) in STAFF_PAGES.items():
            if account.is_admin or not admin:
                staff.append(st.Page(fn, title=title, url_path=url))
                registry[url] = staff[-1]
        staff += [st.Page(connexion.gate(title), title=f"{title} (administrateurs)",
                          url_path=url, visibility="hidden")
                  for url, (title, _fn, admin) in STAFF_PAGES.items()
                  if admin and not account.is_admin]
        staff.append(st.Page(connexion.page, title="Mon compte", url_path="connexion"))
    pages["Espace agents"] = staff
    st.session_state["_pages"] = registry
    # Menu déplié : toutes les pages visibles (replié, Streamlit en cache une partie
    # derrière un « View more » non traduit).
    nav = st.navigation(pages, expanded=True)
    # Un titre d'onglet par page (lecteurs d'écran, historique, favoris).
    st.set_page_config(page_title=common.titre_page(nav.title))
    with st.sidebar:
        composants.francais(precharger_carte=nav.title == "Carte")
        if account is not None:
            st.caption(f"Connecté : {account.label}")
        if common.is_demo():
            st.caption(f"⚠️ {common.DEMO_TEXT}")
    return nav
