"""Application Streamlit de l'observatoire : ``streamlit run app.py`` (ou ``make app``).

Ce fichier sert deux fois. ``streamlit run app.py`` y trouve ``app = st.App(…)`` et
l'importe d'abord comme application ASGI (``st.App``) : le serveur de Streamlit, plus les
routes qui posent et retirent le cookie de session des agents (voir
``observatoire/access/web.py``) et le préchauffage de la carte d'ouverture, calculée avant
que le premier visiteur n'arrive (``observatoire/app_pages/prechauffage.py``). Puis chaque
session du navigateur l'exécute comme script de page : c'est l'autre branche, la
navigation.
"""

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

if get_script_run_ctx(suppress_warning=True) is None:
    from observatoire.access import web
    from observatoire.app_pages.prechauffage import lifespan

    app = st.App(__file__, lifespan=lifespan, **web.app_options())
else:
    from observatoire.app_pages import navigation

    st.set_page_config(page_title="Observatoire VIF – Pas-de-Calais", page_icon="🗺️",
                       layout="wide", initial_sidebar_state="auto")
    navigation.build().run()
