"""Page agents « Publication » : lancer les exports de novembre et les télécharger."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import streamlit as st

from observatoire import formats
from observatoire.app_pages import common
from observatoire.app_pages.campagne import expected_status
from observatoire.config import settings
from observatoire.errors import ObservatoireError
from observatoire.exports import publier


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
    dispo = common.disponibles()
    presents = sorted(set(dispo.loc[dispo["annee"] == annee, "indicateur"]))
    if not presents:
        st.info(f"Aucune valeur pour {annee} : importez les fichiers des contributeurs.")
        return
    libelles = common.indicateurs()
    defaut = [i for i in settings().indicateurs_publies if i in presents] or presents
    choisis = st.multiselect(
        "Indicateurs publiés", presents, default=defaut, key="pub_indicateurs",
        format_func=lambda c: libelles.get(c, c),
        help="Par défaut, les indicateurs que l'observatoire publie chaque année (réglage "
             "du territoire).")
    arrs = list(settings().arrondissements)
    noms = common.noms_arrondissements()
    territoires = st.multiselect(
        "Territoires", ["departement", *arrs], default=["departement", *arrs],
        key="pub_territoires",
        format_func=lambda c: "Département" if c == "departement"
        else f"Arrondissement {formats.de(noms.get(c, c))}")
    bornes_fixes = st.checkbox(
        "Bornes de classes fixes d'une année sur l'autre", key="pub_bornes",
        help="Les cartes se comparent d'un mois de novembre à l'autre : les bornes "
             "enregistrées la première fois sont reprises.")
    sortie = settings().data_dir / "publications" / str(annee)
    if st.button("Lancer la publication", type="primary", key="pub_lancer",
                 disabled=not (choisis and territoires)):
        bar = st.progress(0.0, text="Publication…")

        def progress(fraction, message=""):
            bar.progress(min(max(float(fraction), 0.0), 1.0), text=str(message) or None)

        try:
            man = publier(annee, sortie, territoires=territoires, indicateurs=choisis,
                          progress=progress, bornes_fixes=bornes_fixes)
        except ObservatoireError as exc:
            common.show_error(exc)
            return
        bar.progress(1.0, text="Terminé.")
        st.success(f"Publication {annee} écrite dans {sortie} (par {account.identifiant}) : "
                   f"{len(man.get('fichiers', []))} fichiers.")
    if sortie.exists():
        files = sorted(p for p in Path(sortie).rglob("*") if p.is_file())
        total = sum(p.stat().st_size for p in files)
        st.caption(f"{len(files)} fichiers ({formats.taille(total)}) dans {sortie}.")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for p in files:
                zf.write(p, p.relative_to(sortie).as_posix())
        st.download_button(f"Télécharger toute la publication (zip, "
                           f"{formats.taille(len(buf.getvalue()))})", buf.getvalue(),
                           file_name=f"publication_{annee}.zip", key="pub_zip")
        # Les pièces que la DDFE diffuse le plus, une à une.
        principaux = [p for p in files if p.parent == Path(sortie)
                      and p.suffix in (".pdf", ".xlsx", ".csv", ".html")]
        for p in principaux:
            st.download_button(f"Télécharger {p.name} ({formats.taille(p.stat().st_size)})",
                               p.read_bytes(), file_name=p.name, key=f"pub_{p.name}")
