"""Page publique « Méthode » : le texte de docs/methodologie.md."""

from __future__ import annotations

import streamlit as st

from observatoire.config import ROOT, settings

METHODOLOGIE = ROOT / "docs" / "methodologie.md"


def page() -> None:
    if METHODOLOGIE.exists():
        st.markdown(METHODOLOGIE.read_text(encoding="utf-8"))
    else:
        st.title("Méthode")
        st.warning("Le texte de méthode (docs/methodologie.md) n'est pas disponible dans "
                   "cette installation.")
    st.caption(f"Seuil du secret statistique configuré : effectifs de 1 à "
               f"{settings().seuil_secret - 1} non publiés.")
