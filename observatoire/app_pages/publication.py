"""Page agents « Publication » : lancer les exports de novembre et les télécharger."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import streamlit as st

from observatoire.app_pages import common
from observatoire.app_pages.campagne import expected_status
from observatoire.config import settings
from observatoire.errors import ObservatoireError


def page() -> None:
    account = common.require_staff()
    st.title("Publication")
    common.demo_banner()
    annee = int(st.number_input("Année publiée (données de l'année N)", 2000,
                                dt.date.today().year, common.derniere_annee(),
                                key="pub_annee"))
    manquants = expected_status(annee)
    manquants = manquants[manquants["État"] == "manquant"]
    if not manquants.empty:
        st.warning(f"Contributeurs attendus sans fichier pour {annee} : "
                   + ", ".join(manquants["Contributeur"]) + ". La publication les omettra.")
    try:
        from observatoire.exports import publier
    except ImportError:
        st.error("Le module de publication (observatoire.exports.publier) n'est pas installé.")
        return
    sortie = settings().data_dir / "publications" / str(annee)
    if st.button("Lancer la publication", type="primary", key="pub_lancer"):
        bar = st.progress(0.0, text="Publication…")

        def progress(fraction, message=""):
            bar.progress(min(max(float(fraction), 0.0), 1.0), text=str(message) or None)

        try:
            publier(annee, sortie, progress=progress)
        except ObservatoireError as exc:
            common.show_error(exc)
            return
        bar.progress(1.0, text="Terminé.")
        st.success(f"Publication {annee} écrite dans {sortie} (par {account.identifiant}).")
    if sortie.exists():
        files = sorted(p for p in Path(sortie).rglob("*") if p.is_file())
        st.caption(f"{len(files)} fichiers dans {sortie}.")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for p in files:
                zf.write(p, p.relative_to(sortie).as_posix())
        st.download_button("Télécharger toute la publication (zip)", buf.getvalue(),
                           file_name=f"publication_{annee}.zip", key="pub_zip")
