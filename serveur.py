"""Serveur de l'application : ``streamlit run serveur.py`` (ou ``make app``).

Lance ``app.py`` comme ``st.App`` : au démarrage, la carte d'ouverture est calculée avant
que le premier visiteur n'arrive (voir ``observatoire/app_pages/prechauffage.py``).
``streamlit run app.py`` marche aussi, sans ce préchauffage.
"""

import streamlit as st

from observatoire.app_pages.prechauffage import lifespan

app = st.App("app.py", lifespan=lifespan)
