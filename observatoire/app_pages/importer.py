"""Page agents « Importer » : un fichier de contributeur, vérifié puis enregistré.

Le chargeur est celui de la ligne de commande (:mod:`observatoire.ingest`).
"""

from __future__ import annotations

import datetime as dt
import hashlib

import pandas as pd
import streamlit as st

from observatoire.app_pages import common
from observatoire.config import settings
from observatoire.errors import FichierRefuseError, ObservatoireError

NON_LOCALISE = "__non_localise__"


@st.cache_data(show_spinner=False, max_entries=8)
def _read(digest: str, content: bytes, filename: str, contributeur: str, annee: int,
          mapping: tuple, communes_: tuple, ecarter: bool = False):
    from observatoire import storage
    from observatoire.ingest import read_contribution

    parsed = read_contribution(content, filename, contributeur, annee,
                               mapping_overrides=dict(mapping) or None,
                               commune_overrides=dict(communes_) or None,
                               engine=storage.get_engine(), skip_invalid_rows=ecarter)
    return parsed.values, parsed.report.to_dict(with_values=False), \
        parsed.entetes_non_resolus, parsed.communes_non_reconnues


DEMO_MESSAGE = ("Cette base contient les données fictives de démonstration : un fichier "
                "réel ne peut pas y être importé (les deux ne se mélangent jamais). Un "
                "administrateur doit d'abord vider la démonstration, puis vous pourrez "
                "importer vos fichiers.")


def _demo_database() -> bool:
    from observatoire import demo

    try:
        return demo.is_demo()
    except ObservatoireError:
        return False


METHODES = {"catalogue": "libellé du catalogue", "memorisee": "correspondance mémorisée",
            "confirmee": "choisie pour cet import", "approchee": "ressemblance, à vérifier",
            "seul_indicateur": "seul indicateur du contributeur", "modele": "modèle standard",
            "proposition_acceptee": "proposition retenue"}


def _item_choice(e: dict, libelles: dict[str, str], key: str):
    """Choix de l'indicateur d'une colonne : rien, ou un code valide du catalogue.

    Les candidats du chargeur viennent en tête (avec leur raison) ; aucune autre valeur
    qu'un code du catalogue ne peut être choisie.
    """
    from observatoire.ingest.headers import RAISONS

    cands = [c for c in e.get("candidats", []) if c.get("indicateur") in libelles]
    order = [c["indicateur"] for c in cands] + [c for c in libelles
                                                 if c not in {x["indicateur"] for x in cands}]
    why = {c["indicateur"]: f" — candidat : {RAISONS.get(c.get('raison'), '')}, "
                            f"{common.fmt(100 * c.get('score', 0), 0)} %" for c in cands}

    def label(code):
        if code == "":
            return "(ne pas charger cette colonne)"
        return f"{libelles[code]}{why.get(code, '')}"

    return st.selectbox(f"Colonne {e.get('colonne')} « {e['entete']} » (feuille "
                        f"{e.get('feuille')}, par exemple {e.get('exemple', '')})",
                        ["", *order], format_func=label, key=key)


def page() -> None:
    account = common.require_staff()
    st.title("Importer un fichier de contributeur")
    noms = common.contributeurs(tableaux_seulement=True)
    c1, c2 = st.columns([2, 1])
    contributeur = c1.selectbox("Contributeur", list(noms), format_func=noms.get,
                                key="imp_contributeur")
    annee = c2.number_input("Année des données (N)", 2000, dt.date.today().year,
                            dt.date.today().year - 1, key="imp_annee")
    demo_db = _demo_database()
    if demo_db:
        st.warning(DEMO_MESSAGE)
    up = st.file_uploader("Fichier reçu (.xlsx, .xls, .ods, .csv)",
                          type=["xlsx", "xls", "ods", "csv"], key="imp_fichier")
    ecarter = st.checkbox(
        "Écarter les lignes invalides", key="imp_ecarter",
        help="Charge les lignes valides et écarte celles qui portent une valeur invalide "
             "(effectif négatif, texte, nombre démesuré…) ; chaque ligne écartée reste "
             "inscrite au rapport du lot. Sans cette case, une seule valeur invalide fait "
             "refuser tout le fichier.")
    if up is None:
        st.caption("Le fichier est lu et vérifié avant tout enregistrement ; un fichier "
                   "contenant des données personnelles est refusé en entier. Taille "
                   f"maximale : {settings().taille_max_mo:g} Mo.")
        return
    if demo_db:
        # Dès le choix du fichier, avant de le lire : il ne pourrait pas être enregistré.
        st.error(f"« {up.name} » : {DEMO_MESSAGE} Rien n'a été lu ni enregistré.")
        return
    content = up.getvalue()
    digest = hashlib.sha256(content).hexdigest()
    state_key = f"imp_choix_{digest}_{contributeur}_{annee}"
    choix = st.session_state.setdefault(state_key, {"mapping": {}, "communes": {}})
    progress = st.progress(0, text="Lecture du fichier…")
    try:
        values, rapport, entetes, communes_nr = _read(
            digest, content, up.name, contributeur, int(annee),
            tuple(sorted(choix["mapping"].items())),
            tuple(sorted((k, v) for k, v in choix["communes"].items())), bool(ecarter))
    except FichierRefuseError as exc:
        progress.empty()
        st.error(f"Fichier refusé : {exc}")
        return
    except ObservatoireError as exc:
        progress.empty()
        common.show_error(exc)
        return
    progress.progress(50, text="Fichier lu : vérifiez le rapport ci-dessous.")
    libelles = common.indicateurs()

    st.subheader("1. Colonnes et indicateurs")
    corr = rapport.get("correspondances", [])
    if corr:
        st.dataframe(pd.DataFrame([{
            "En-tête du fichier": c.get("entete"),
            "Indicateur": libelles.get(c.get("indicateur"), c.get("indicateur")),
            "Reconnu par": METHODES.get(c.get("methode"), c.get("methode", ""))}
            for c in corr]), hide_index=True, key="imp_corr")
    if entetes:
        st.caption("Ces colonnes contiennent des nombres mais aucun indicateur ne leur "
                   "correspond : choisissez-le (les candidats du chargeur viennent en tête), "
                   "ou laissez « ne pas charger ». Le choix est mémorisé pour ce contributeur "
                   "à l'enregistrement.")
        with st.form(f"imp_map_{digest}"):
            picks = {e["entete"]: _item_choice(e, libelles, f"imp_m_{digest[:8]}_{i}")
                     for i, e in enumerate(entetes[:60])}
            if st.form_submit_button("Appliquer ces correspondances"):
                from observatoire.ingest.headers import check_item_code

                try:
                    chosen = {h: check_item_code(code, h) for h, code in picks.items() if code}
                except ObservatoireError as exc:
                    common.show_error(exc)
                else:
                    choix["mapping"].update(chosen)
                    st.rerun()
    elif not corr:
        st.warning("Aucune colonne chiffrée reconnue.")

    if communes_nr:
        st.subheader("2. Communes à préciser")
        st.caption("Choisissez la commune voulue parmi les candidates, ou « non localisé ».")
        with st.form(f"imp_communes_{digest}"):
            picks = {}
            for i, c in enumerate(communes_nr[:100]):
                cands = c.get("candidats", [])
                options = [NON_LOCALISE] + [x["code_insee"] for x in cands]
                lib = {NON_LOCALISE: "non localisé"} | {
                    x["code_insee"]: f"{x['nom']} ({x['code_insee']})" for x in cands}
                picks[c["texte"]] = st.selectbox(
                    f"« {c['texte']} » ({c.get('statut')}, feuille {c.get('feuille')}, "
                    f"ligne {c.get('ligne')})", options, format_func=lib.get, key=f"imp_c_{i}")
            if st.form_submit_button("Appliquer ces choix"):
                choix["communes"].update({k: (None if v == NON_LOCALISE else v)
                                          for k, v in picks.items()})
                st.rerun()

    st.subheader("3. Rapport de lecture")
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Lignes lues", common.fmt(rapport.get("lignes_lues"), 0))
    c2.metric("Communes reconnues", common.fmt(rapport.get("communes_reconnues"), 0))
    c3.metric("Non localisé (total)", common.fmt(rapport.get("total_non_localise"), 0))
    c4.metric("Cellules masquées", common.fmt(rapport.get("cellules_masquees"), 0))
    par_ind = rapport.get("valeurs_par_indicateur", {})
    if par_ind:
        st.dataframe(pd.DataFrame([{"Indicateur": libelles.get(k, k),
                                    "Valeurs": v.get("valeurs"), "Total": v.get("total"),
                                    "Masquées": v.get("masquees")}
                                   for k, v in par_ind.items()]),
                     hide_index=True, key="imp_par_ind")
    ecartees = rapport.get("lignes_ecartees", [])
    if ecartees:
        st.info(f"{len(ecartees)} ligne(s) écartée(s) : elles ne seront pas chargées et "
                f"restent inscrites au rapport du lot.")
        st.dataframe(pd.DataFrame([{"Feuille": r.get("feuille"), "Ligne": r.get("ligne"),
                                    "Colonnes": ", ".join(r.get("colonnes", [])),
                                    "Commune": r.get("commune"), "Raison": r.get("message")}
                                   for r in ecartees]), hide_index=True, key="imp_ecartees")
    for issue in rapport.get("erreurs", []):
        st.error(common.issue_text(issue))
    for issue in rapport.get("avertissements", [])[:50]:
        st.warning(common.issue_text(issue))
    with st.expander("Aperçu des valeurs lues"):
        st.dataframe(values.head(200), hide_index=True, key="imp_apercu")

    st.subheader("4. Enregistrer")
    ok = rapport.get("ok", not rapport.get("erreurs"))
    if not ok:
        st.error("Le fichier a des erreurs : corrigez-les (ou demandez un nouveau fichier) "
                 "avant de l'enregistrer.")
        return
    if st.button("Enregistrer ce lot", type="primary", key="imp_enregistrer"):
        from observatoire.ingest import import_contribution

        progress.progress(70, text="Enregistrement (une seule transaction)…")
        try:
            rep = import_contribution(
                content, up.name, contributeur, int(annee), utilisateur=account.identifiant,
                mapping_overrides=choix["mapping"] or None,
                commune_overrides=choix["communes"] or None, skip_invalid_rows=bool(ecarter))
        except ObservatoireError as exc:
            progress.empty()
            common.show_error(exc)
            return
        progress.progress(100, text="Terminé.")
        st.cache_data.clear()
        statut = {"nouveau": "nouveau lot enregistré",
                  "remplace": "lot enregistré ; il remplace le précédent (gardé dans "
                              "l'historique)",
                  "inchange": "fichier identique au lot courant : rien n'a changé"}
        st.success(f"Import terminé : {statut.get(rep.statut, rep.statut)} (lot {rep.lot_id}).")
