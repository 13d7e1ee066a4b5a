"""Page agents « Publication » : préparer, auditer, valider la diffusion, puis ses fichiers.

Le public ne lit que des diffusions validées. Cette page suit les étapes de novembre
(``docs/deploiement.md``) : préparer la diffusion candidate de l'année, lire l'audit de
l'intrus, la valider, produire les fichiers imprimables de la diffusion validée.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import pandas as pd
import streamlit as st

from observatoire import formats
from observatoire.app_pages import common
from observatoire.app_pages.campagne import expected_status
from observatoire.config import settings
from observatoire.errors import ObservatoireError


def _barre(texte: str):
    bar = st.progress(0.0, text=texte)

    def progress(fraction, message=""):
        bar.progress(min(max(float(fraction), 0.0), 1.0), text=str(message) or texte)
    return bar, progress


def _audit(rapport: dict) -> None:
    """Résumé de l'audit ; le détail des fuites (valeurs exactes) reste sur cette page."""
    c1, c2, c3 = st.columns(3)
    c1.metric("Effectifs protégés", common.fmt(rapport.get("protegees", 0), 0))
    c2.metric("Cellules cachées", common.fmt(rapport.get("secretes", 0), 0))
    c3.metric("Fuites trouvées par l'intrus", common.fmt(rapport.get("exposees", 0), 0))
    vues = ", ".join(rapport.get("diffusions_auditees", []))
    if rapport.get("sur"):
        st.success("Audit : l'intrus, qui attaque cette diffusion avec toutes les diffusions "
                   f"publiées ({vues}), ne resserre aucun effectif protégé et ne trouve "
                   "aucune valeur dérivée publiée sur une cellule secrète.")
        return
    st.error("Audit : l'intrus resserre des effectifs protégés. La validation est refusée ; "
             "préparez à nouveau la diffusion.")
    lignes = [{"Indicateur": e["cle"][1], "Période": e["cle"][2], "Niveau": e["cle"][3],
               "Code": e["cle"][4], "Valeur exacte": e["valeur"],
               "Intervalle de l'intrus": f"{e['intervalle_intrus'][0]:g} – "
                                         f"{e['intervalle_intrus'][1] or '∞'}"}
              for e in rapport.get("expositions", [])]
    lignes += [{"Indicateur": f["cle"][1], "Période": f["cle"][2], "Niveau": f["cle"][3],
                "Code": f["cle"][4], "Valeur exacte": None,
                "Intervalle de l'intrus": f["raison"]} for f in rapport.get("fuites", [])]
    if lignes:
        st.dataframe(pd.DataFrame(lignes), hide_index=True, key="pub_expositions")


def _historique() -> None:
    from observatoire import diffusion

    lignes = [d.resume() for d in diffusion.historique()]
    if not lignes:
        st.caption("Aucune diffusion pour l'instant.")
        return
    st.dataframe(pd.DataFrame([{
        "N°": r["id"], "Année": r["annee"], "Version": r["version"],
        "État": r["statut_libelle"],
        "Préparée le": formats.date(r["prepare_le"]), "par": r["prepare_par"],
        "Validée le": formats.date(r["valide_le"]) if r["valide_le"] else "",
        "par ": r["valide_par"] or "", "Empreinte SHA-256": r["sha256"][:16] + "…"}
        for r in lignes]), hide_index=True, key="pub_historique")


def _fichiers(annee: int, account) -> None:
    from observatoire import diffusion
    from observatoire.exports import publier

    try:
        d = diffusion.courante(annee)
    except diffusion.AucuneDiffusionError:
        st.info(f"Les fichiers imprimables se produisent à partir de la diffusion validée : "
                f"validez d'abord celle de {annee}.")
        return
    libelles = {i["code"]: i["libelle"] for i in d.public.get("indicateurs", [])}
    choisis = st.multiselect("Indicateurs", list(libelles), default=list(libelles),
                             key="pub_indicateurs", format_func=lambda c: libelles.get(c, c))
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
    if st.button("Produire les fichiers de la diffusion", type="primary", key="pub_lancer",
                 disabled=not (choisis and territoires)):
        bar, progress = _barre("Publication…")
        try:
            man = publier(annee, sortie, territoires=territoires, indicateurs=choisis,
                          progress=progress, bornes_fixes=bornes_fixes)
        except ObservatoireError as exc:
            common.show_error(exc)
            return
        bar.progress(1.0, text="Terminé.")
        st.success(f"Publication {annee} (diffusion version {d.version}) écrite dans {sortie} "
                   f"par {account.identifiant} : {len(man.get('fichiers', []))} fichiers.")
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


def page() -> None:
    from observatoire import diffusion
    from observatoire.diffusion import stockage

    account = common.require_staff()
    st.title("Publication")
    common.demo_banner()
    st.markdown(
        "Le public ne voit que des **diffusions validées**. Chaque année : préparer la "
        "diffusion, lire l'audit de l'intrus, valider, puis produire les fichiers "
        "imprimables.")
    annee = int(st.number_input("Année publiée (données de l'année N)", 2000,
                                dt.date.today().year, common.derniere_annee(),
                                key="pub_annee"))
    manquants = expected_status(annee)
    manquants = manquants[manquants["État"] == "manquant"]
    if not manquants.empty:
        st.warning(f"Contributeurs attendus sans fichier pour {annee} : "
                   + ", ".join(manquants["Contributeur"]) + ". La diffusion les omettra "
                   "(et le dira).")
    st.subheader("1. Préparer la diffusion")
    cand = stockage.candidate(None, annee, prive=False)
    courante = diffusion.courantes().get(annee)
    if courante is not None:
        st.caption(f"Diffusion {annee} publiée : version {courante.version}, validée le "
                   f"{formats.date(courante.valide_le)} par {courante.valide_par}. Une "
                   f"nouvelle préparation en fera une version {courante.version + 1}, "
                   "l'actuelle restant dans l'historique.")
    if st.button("Préparer la diffusion", key="pub_preparer",
                 type="secondary" if cand else "primary"):
        bar, progress = _barre("Préparation…")
        try:
            cand = diffusion.preparer(annee, par=account.identifiant, progress=progress)
        except ObservatoireError as exc:
            common.show_error(exc)
            return
        bar.progress(1.0, text="Diffusion préparée.")
        st.session_state["pub_rapport"] = {**cand.audit, "diffusion": cand.resume()}
    if cand is None:
        st.info(f"Aucune diffusion préparée pour {annee}.")
    else:
        st.subheader("2. Auditer")
        st.caption(f"Candidate : version {cand.version}, préparée le "
                   f"{formats.date(cand.prepare_le)} par {cand.prepare_par}.")
        if st.button("Auditer", key="pub_auditer"):
            with st.spinner("L'intrus attaque toutes les diffusions ensemble…"):
                try:
                    st.session_state["pub_rapport"] = diffusion.auditer(annee)
                except ObservatoireError as exc:
                    common.show_error(exc)
                    return
        rapport = st.session_state.get("pub_rapport")
        if not rapport or rapport.get("diffusion", {}).get("id") != cand.id:
            rapport = {**cand.audit, "diffusion": cand.resume()}
        _audit(rapport)
        st.subheader("3. Valider")
        confirme = st.checkbox(f"J'ai relu la diffusion {annee} : elle peut être publiée.",
                               key="pub_confirme", disabled=not rapport.get("sur"))
        if st.button("Valider et publier", type="primary", key="pub_valider",
                     disabled=not (confirme and rapport.get("sur"))):
            try:
                d = diffusion.valider(annee, par=account.identifiant)
            except ObservatoireError as exc:
                common.show_error(exc)
                return
            st.success(f"Diffusion {d.annee} version {d.version} validée : c'est désormais ce "
                       f"que le public lit. Empreinte SHA-256 {d.sha256}.")
            st.session_state.pop("pub_rapport", None)
    st.subheader("4. Fichiers imprimables")
    _fichiers(annee, account)
    with st.expander("Historique des diffusions"):
        _historique()
