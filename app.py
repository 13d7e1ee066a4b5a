"""Application Streamlit de l'observatoire : ``streamlit run app.py`` (ou ``make app``)."""

import streamlit as st

from observatoire.app_pages import navigation

st.set_page_config(page_title="Observatoire VIF – Pas-de-Calais", page_icon="🗺️",
                   layout="wide", initial_sidebar_state="auto")
navigation.build().run()
