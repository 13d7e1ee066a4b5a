"""Page publique « Carte » : la carte de la mesure choisie, sa légende et son tableau.

La sélection (indicateur, année, niveau, mesure) vit dans l'adresse de la page
(``/carte?indicateur=…&annee=2024&niveau=commune&mesure=taux_lisse``) : un lien copié
rouvre la même carte. Le public ne choisit ni les contributeurs ni une combinaison
d'années (toutes les sources d'une année publiée) ; les agents ont leurs vues exactes.
"""

from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd
import streamlit as st

from observatoire import classification as cl
from observatoire import maps
from observatoire.app_pages import common, composants
from observatoire.config import settings
from observatoire.errors import ObservatoireError, ReferentielAbsentError
from observatoire.exports.donnees import (
    HORS_PERIMETRE,
    PAS_DE_DONNEE,
    SECRET,
    VALEUR,
    note_sources_manquantes,
    statut,
    texte_etiquette,
)

UNIT_KEY = {"commune": "id", "epci": "e", "arrondissement": "a"}
#: Paramètres de l'adresse de la page → clés des listes de la page.
QUERY = {"indicateur": "carte_indicateur", "annee": "carte_annee", "niveau": "carte_niveau",
         "mesure": "carte_mesure"}


# --- sélection ----------------------------------------------------------------------

def _from_query(dispo: pd.DataFrame) -> None:
    """Reprend la sélection de l'adresse (lien partagé, rechargement), si elle est valide."""
    params = st.query_params
    wanted = {k: params.get(k) for k in QUERY if params.get(k) is not None}
    if not wanted or st.session_state.get("_carte_q") == wanted:
        return
    st.session_state["_carte_q"] = wanted
    valid = {"indicateur": set(dispo["indicateur"]), "niveau": set(common.NIVEAUX),
             "mesure": set(common.MESURES),
             "annee": {str(a) for a in dispo["annee"]}}
    for k, v in wanted.items():
        if v in valid[k]:
            st.session_state[QUERY[k]] = int(v) if k == "annee" else v


def _to_query(sel: dict) -> None:
    current = {k: str(sel[k]) for k in QUERY}
    if {k: st.query_params.get(k) for k in QUERY} != current:
        st.query_params.update(current)
    st.session_state["_carte_q"] = current


#: Réglages de classes à l'ouverture (ceux de l'atlas).
OPTIONS_DEFAUT = {"methode": "quantiles", "k": 5, "palette": "YlOrRd", "bornes": "",
                  "osm": False}


def selection_par_defaut(dispo: pd.DataFrame) -> dict:
    """La carte d'ouverture : premier indicateur du catalogue, dernière année, communes,
    mesure recommandée par la méthode (celle que le serveur calcule au démarrage)."""
    presents = [c for c in common.indicateurs() if c in set(dispo["indicateur"])]
    indicateur = presents[0]
    annee = int(dispo.loc[dispo["indicateur"] == indicateur, "annee"].max())
    return {"mesure": common.MESURE_RECOMMANDEE, "niveau": "commune", "annee": annee,
            "indicateur": indicateur, **OPTIONS_DEFAUT}


def titre_selection(sel: dict) -> str:
    """« Victimes de VIF reçues — 2024 » : titre de la carte et de sa légende."""
    return f"{common.indicateurs().get(sel['indicateur'], sel['indicateur'])} — {sel['annee']}"


def _controls(dispo: pd.DataFrame, options_box) -> dict:
    libelles = common.indicateurs()
    presents = [c for c in libelles if c in set(dispo["indicateur"])]
    _from_query(dispo)
    if st.session_state.get("carte_indicateur") not in presents:
        st.session_state.pop("carte_indicateur", None)
    c1, c2, c3, c4 = st.columns([2.6, 0.9, 1.4, 2.6])
    indicateur = c1.selectbox("Indicateur", presents, format_func=lambda c: libelles.get(c, c),
                              key="carte_indicateur")
    annees = sorted(dispo.loc[dispo["indicateur"] == indicateur, "annee"].unique().tolist(),
                    reverse=True)
    if st.session_state.get("carte_annee") not in annees:
        st.session_state.pop("carte_annee", None)
    annee = c2.selectbox("Année", annees, key="carte_annee")
    niveau = c3.selectbox("Niveau", list(common.NIVEAUX), format_func=common.NIVEAUX.get,
                          key="carte_niveau")
    mesures = list(common.MESURES)
    mesure = c4.selectbox(
        "Mesure", mesures, format_func=common.MESURES.get, key="carte_mesure",
        index=mesures.index(common.MESURE_RECOMMANDEE),
        help=" ".join(f"**{common.MESURES[m]}** : {common.MESURES_AIDE[m]}" for m in mesures))
    methode, k, palette, bornes_txt, osm = _options(mesure, options_box)
    sel = {"mesure": mesure, "niveau": niveau, "annee": int(annee), "indicateur": indicateur,
           "methode": methode, "k": int(k), "palette": palette, "bornes": bornes_txt,
           "osm": bool(osm)}
    _to_query(sel)
    return sel


def _options(mesure: str, box) -> tuple:
    """Réglages avancés (classes, palette, fond) : sous la carte, repliés."""
    with box.expander("Classes, couleurs et fond de carte", expanded=False):
        d1, d2, d3 = st.columns(3)
        methode = d1.selectbox("Méthode de classement", list(cl.METHODES),
                               format_func=cl.METHODES.get, key="carte_methode",
                               disabled=mesure == "label")
        k = d2.slider("Nombre de classes", cl.K_MIN, cl.K_MAX, OPTIONS_DEFAUT["k"],
                      key="carte_k",
                      disabled=mesure == "label")
        palette = d3.selectbox("Palette (lisible par les daltoniens)", list(cl.PALETTES),
                               format_func=cl.PALETTES.get, key="carte_palette")
        bornes_txt = ""
        if methode == "bornes_fixes" and mesure != "label":
            bornes_txt = st.text_input(
                "Bornes supérieures des classes, croissantes (ex. : 2 ; 4,5 ; 8)",
                key="carte_bornes",
                help="Gardez les mêmes bornes d'une année à l'autre pour comparer les cartes.")
        osm = st.checkbox("Fond de carte OpenStreetMap (demande un accès à internet)",
                          OPTIONS_DEFAUT["osm"],
                          key="carte_osm",
                          help="Par défaut la carte n'a besoin d'aucun accès à internet.")
    return methode, k, palette, bornes_txt, osm


def _parse_bornes(text: str) -> list[float]:
    parts = [p.strip().replace("\u202f", "").replace(" ", "").replace(",", ".")
             for p in re.split(r"[;\n]", text) if p.strip()]
    try:
        return [float(p) for p in parts]
    except ValueError as exc:
        raise ObservatoireError(
            f"Bornes illisibles « {text} » : séparez des nombres par des points-virgules "
            "(ex. : 2 ; 4,5 ; 8).") from exc


def classify(table: pd.DataFrame, sel: dict):
    """Classes de la mesure choisie : la règle de l'atlas (:func:`cl.classer_table`)."""
    if sel["mesure"] == "label":
        return None
    bornes = _parse_bornes(sel["bornes"]) if sel["methode"] == "bornes_fixes" else None
    if sel["methode"] == "bornes_fixes" and not bornes:
        raise ObservatoireError("Indiquez les bornes fixes des classes.")
    # Un rapport « non concluant » a son propre motif : il ne compte pas dans les classes.
    exclure = ((table["label"] == "non concluant").to_numpy() if sel["mesure"] == "ratio"
               else None)
    return cl.classer_table(table, sel["mesure"], sel["methode"], sel["k"], sel["palette"],
                            bornes=bornes, unite=common.UNITES[sel["mesure"]], exclure=exclure)


# --- légende, couches ---------------------------------------------------------------

def legend_for(sel: dict, classes, table: pd.DataFrame, titre: str, meshes, dispositifs,
               referents) -> str:
    """Légende : tout symbole de la carte (classes, états, contours, limites, points)."""
    if classes is not None:
        valeurs = [maps.LegendItem(st_, n=n) for st_, n in
                   zip(classes.styles(), classes.effectifs or [None] * classes.k, strict=True)]
        subtitle = f"{classes.unite} — classes : {classes.description_methode()}"
    else:
        counts = table["label"].value_counts()
        valeurs = [maps.LegendItem(style, n=int(counts.get(k, 0)))
                   for k, style in cl.STYLES_ETIQUETTES.items()]
        subtitle = "étiquette de l'analyse (écart au nombre de cas attendu)"
    etats = []
    st_ = statut(table, sel["mesure"] if sel["mesure"] != "label" else "observe")
    if sel["mesure"] != "label" and (st_ == SECRET).any():
        etats.append(cl.STYLE_SECRET)
    if sel["mesure"] == "ratio" and (table["label"] == "non concluant").any():
        etats.append(cl.STYLE_NON_CONCLUANT)
    if (st_ == HORS_PERIMETRE).any():
        etats.append(cl.STYLE_HORS_PERIMETRE)
    if (st_ == PAS_DE_DONNEE).any():
        etats.append(cl.STYLE_PAS_DE_DONNEE)
    seuil = settings().seuil_secret
    notes = [f"Secret statistique : effectifs de 1 à {seuil - 1} non publiés, ni ce qui "
             "permettrait de les retrouver."]
    if classes is not None and classes.note_classes():
        notes.insert(0, f"Classes : {classes.note_classes()}.")
    if sel["mesure"] in common.MESURES_AIDE:
        notes.append(f"{common.MESURES[sel['mesure']]} : {common.MESURES_AIDE[sel['mesure']]}")
    if common.mention_contours():
        notes.append(common.mention_contours())
    blanches = sel["mesure"] != "label" and bool((table["label"] == "blanche présumée").any())
    return maps.legend_for_map(titre, subtitle, valeurs, etats=etats, blanches=blanches,
                               meshes=meshes, dispositifs=dispositifs, referents=referents,
                               notes=notes, demo=common.is_demo())


@st.cache_data(show_spinner=False, max_entries=8)
def _dispositifs_layers(geo_ver: str, data_ver: str) -> list:
    return maps.dispositifs_layers(common.dispositifs(), common.types_dispositifs())


@st.cache_data(show_spinner=False, max_entries=8)
def _referents_layer(geo_ver: str, data_ver: str) -> dict | None:
    refs = common.referents_publics()
    return None if refs.empty else maps.referents_layer(common.layer("commune", True), refs)


@st.cache_resource(show_spinner=False, max_entries=4)
def _topology_web(geo_ver: str) -> dict:
    return {k: v for k, v in common.topology().items() if k in ("transform", "arcs", "objects")}


MESHES = [
    {"name": "Limites des EPCI", "mesh": "epci", "color": cl.STYLE_LIMITE_EPCI.contour,
     "weight": 1.2, "dash": cl.STYLE_LIMITE_EPCI.tirets},
    {"name": "Limites des arrondissements", "mesh": "arrondissement",
     "color": cl.STYLE_LIMITE_ARRONDISSEMENT.contour, "weight": 2.2},
]


def _couches() -> tuple[list, dict | None, str | None]:
    try:
        dispositifs = _dispositifs_layers(common.geo_version(), common.data_version())
        erreur = None
    except ObservatoireError as exc:
        dispositifs, erreur = [], str(exc)
    referents = _referents_layer(common.geo_version(), common.data_version())
    return dispositifs, referents, erreur


# cache_resource : le même objet, non recopié à chaque visite (jamais modifié sur place).
@st.cache_resource(show_spinner=False, max_entries=256)
def _view(sel_items: tuple, titre: str, demo: bool, geo_ver: str, data_ver: str) -> dict:
    """Configuration de carte d'une sélection (sans la topologie, mise en cache à part)."""
    sel = dict(sel_items)
    table = common.public_table([sel["annee"]], sel["indicateur"], None, sel["niveau"])
    classes = classify(table, sel)
    values = maps.values_from_table(table, sel["mesure"], classes,
                                    seuil_secret=settings().seuil_secret)
    dispositifs, referents, _ = _couches()
    legend = legend_for(sel, classes, table, titre, MESHES, dispositifs, referents)
    styles = dict(cl.STYLES_ETIQUETTES) if sel["mesure"] == "label" else {}
    cfg = maps.map_config(
        common.topology(), values, inclure_topologie=False,
        palette=list(classes.couleurs) if classes is not None else [], styles=styles,
        unit_key=UNIT_KEY[sel["niveau"]], legend=legend, meshes=MESHES,
        dispositifs=dispositifs, referents=referents, osm=sel["osm"], layer_name=titre,
        titre=f"Carte interactive : {titre}",
        resume=maps.resume_carte(table, sel["mesure"], classes, titre, niveau=sel["niveau"]))
    return cfg


def _freeze(sel: dict) -> tuple:
    return tuple(sorted(sel.items()))


def map_config(sel: dict, titre: str) -> dict:
    """Configuration complète du composant carte pour la sélection (vue publique)."""
    geo_ver, data_ver = common.geo_version(), common.data_version()
    cfg = dict(_view(_freeze(sel), titre, common.is_demo(), geo_ver, data_ver))
    # La topologie (300 Ko) ne voyage qu'une fois par session : le navigateur la garde
    # (carte.js) et ne reçoit ensuite que les couleurs, infobulles et légende.
    if st.session_state.get("_carte_topologie_envoyee") != geo_ver:
        cfg["topology"] = _topology_web(geo_ver)
    cfg["geo_version"] = geo_ver
    cfg["couches_version"] = f"{geo_ver}|{data_ver}|{sel['osm']}"
    return cfg


# --- tableau ------------------------------------------------------------------------

def intervalle(observe, personnes_annees, niveau: float = 0.95):
    """Intervalle exact (Garwood) du taux pour 1 000, vecteurs : (bas, haut).

    Calculé des seuls effectifs et populations publiés : NaN pour une cellule secrète.
    """
    from scipy.stats import chi2

    k = pd.to_numeric(observe, errors="coerce").astype(float).to_numpy()
    pa = pd.to_numeric(personnes_annees, errors="coerce").astype(float).to_numpy()
    a = 1 - niveau
    with np.errstate(invalid="ignore", divide="ignore"):
        bas = np.where(k > 0, chi2.ppf(a / 2, 2 * k) / 2, 0.0)
        haut = chi2.ppf(1 - a / 2, 2 * k + 2) / 2
        ok = np.isfinite(k) & (pa > 0)
        return (np.where(ok, bas / pa * 1000, np.nan), np.where(ok, haut / pa * 1000, np.nan))


_STATUTS = {VALEUR: "", SECRET: "secret", PAS_DE_DONNEE: "population inconnue",
            HORS_PERIMETRE: "hors du périmètre des sources"}


def _intervalles(table: pd.DataFrame):
    pa = table["personnes_annees"] if "personnes_annees" in table else table["population"]
    return intervalle(table["observe"], pa)


def display_table(table: pd.DataFrame, mesure: str = "taux") -> pd.DataFrame:
    """Tableau lisible (vue publique) : valeur, taux, intervalle, étiquette, statut.

    Les cellules secrètes sont vides et la colonne « Statut » dit pourquoi.
    """
    bas, haut = _intervalles(table)
    out = pd.DataFrame({
        "Nom": table["nom"].astype(str) + " (" + table["code"].astype(str) + ")",
        "Effectif": pd.to_numeric(table["observe"], errors="coerce").astype(float),
        "Taux ‰": pd.to_numeric(table["taux"], errors="coerce").astype(float),
        "Intervalle à 95 %": [f"{common.fmt(b)} – {common.fmt(h)}" if np.isfinite(h) else ""
                              for b, h in zip(bas, haut, strict=True)],
        "Taux lissé ‰": pd.to_numeric(table["taux_lisse"], errors="coerce").astype(float),
        "Observé / attendu": pd.to_numeric(table["ratio"], errors="coerce").astype(float),
        "Étiquette": texte_etiquette(table).to_numpy(object),
        "Population": pd.to_numeric(table["population"], errors="coerce").astype(float),
        "Statut": statut(table, "observe").map(_STATUTS).fillna("").to_numpy(),
    })
    return out


def csv_bytes(table: pd.DataFrame, shown: pd.DataFrame | None = None) -> bytes:
    """CSV comme l'open data : UTF-8, « ; », virgule décimale, précision fixe, « secret »."""
    shown = display_table(table) if shown is None else shown
    bas, haut = _intervalles(table)
    secret = (shown["Statut"] == "secret").to_numpy()

    def col(values, dec):
        return ["secret" if s else f"{v:.{dec}f}".replace(".", ",") if np.isfinite(v) else ""
                for v, s in zip(np.asarray(values, dtype=float), secret, strict=True)]

    out = pd.DataFrame({
        "code": table["code"].astype(str), "nom": table["nom"].astype(str),
        "population": [f"{v:.0f}" if np.isfinite(v) else "" for v in shown["Population"]],
        "effectif": col(shown["Effectif"], 0), "taux_pour_1000": col(shown["Taux ‰"], 2),
        "intervalle_95_bas": col(bas, 2), "intervalle_95_haut": col(haut, 2),
        "taux_lisse_pour_1000": col(shown["Taux lissé ‰"], 2),
        "observe_sur_attendu": col(shown["Observé / attendu"], 2),
        "etiquette": shown["Étiquette"], "secret": np.where(secret, "oui", "non"),
        "statut": shown["Statut"]})
    return out.to_csv(sep=";", index=False).encode("utf-8")


_NUM = {
    "Nom": st.column_config.TextColumn("Nom", width="medium"),
    "Effectif": st.column_config.NumberColumn("Effectif", format="localized", width="small"),
    "Taux ‰": st.column_config.NumberColumn("Taux ‰", format="localized", width="small"),
    "Intervalle à 95 %": st.column_config.TextColumn(
        "Intervalle 95 %", width=110,
        help="Taux compatibles avec l'effectif observé (méthode exacte de Garwood)."),
    "Taux lissé ‰": st.column_config.NumberColumn("Taux lissé ‰", format="localized",
                                                  width="small"),
    "Observé / attendu": st.column_config.NumberColumn(
        "Obs. / att.", format="localized", width="small",
        help="Rapport du nombre de cas observé au nombre attendu (1 = comme le département)."),
    "Étiquette": st.column_config.TextColumn("Étiquette", width="small"),
    "Population": st.column_config.NumberColumn("Population", format="localized",
                                                width="small"),
    "Statut": st.column_config.TextColumn("Statut", width="small"),
}


def _liste(shown: pd.DataFrame, mesure: str) -> str:
    """Le tableau en liste pour un téléphone : une commune par ligne, la mesure en tête."""
    col = {"observe": "Effectif", "taux": "Taux ‰", "taux_lisse": "Taux lissé ‰",
           "ratio": "Observé / attendu", "label": "Taux lissé ‰"}[mesure]
    dec = 0 if col == "Effectif" else (2 if col == "Observé / attendu" else 1)
    items = []
    for r in shown.sort_values(col, ascending=False, na_position="last").to_dict("records"):
        v = common.fmt(r[col], dec) if r["Statut"] == "" else r["Statut"]
        detail = " · ".join(x for x in (
            f"effectif {common.fmt(r['Effectif'], 0)}" if r["Statut"] == "" else "",
            f"intervalle à 95 % : {r['Intervalle à 95 %']}" if r["Intervalle à 95 %"] else "",
            r["Étiquette"]) if x)
        items.append(f"<li>{html.escape(r['Nom'])} — <span class='obs-v'>{html.escape(col)} "
                     f": {html.escape(v)}</span><br><small>{html.escape(detail)}</small></li>")
    return "<ul class='obs-liste'>" + "".join(items) + "</ul>"


@st.cache_resource(show_spinner=False, max_entries=64)
def _tableau(sel_items: tuple, geo_ver: str, data_ver: str) -> tuple[pd.DataFrame, bytes,
                                                                      pd.DataFrame]:
    """Tableau affiché (arrondi), CSV et tableau complet d'une sélection (en cache)."""
    sel = dict(sel_items)
    table = common.public_table([sel["annee"]], sel["indicateur"], None, sel["niveau"])
    shown = display_table(table, sel["mesure"])
    # Valeurs arrondies à la précision affichée (format « localized » : 1 234,5 en français).
    arrondi = shown.round({"Taux ‰": 1, "Taux lissé ‰": 1, "Observé / attendu": 2})
    return arrondi, csv_bytes(table, shown), shown


def _tableau_maintenant(carte_montree: bool) -> bool:
    """Le tableau vient-il dans cette exécution ?

    À la première visite d'une session, le navigateur dessine d'abord les communes, puis
    le signale (« dessinee ») et le tableau suit : la carte s'affiche plus tôt. Sans
    carte, ou sans navigateur (AppTest), le tableau vient tout de suite ; une deuxième
    exécution l'affiche de toute façon.
    """
    if not carte_montree or st.session_state.get("_carte_dessinee"):
        return True
    runs = st.session_state.get("_carte_executions", 0) + 1
    st.session_state["_carte_executions"] = runs
    return runs > 1 or not st.context.headers.get("User-Agent")


def _show_table(sel: dict) -> None:
    unite = common.NIVEAUX[sel["niveau"]].split(" ")[0].lower()
    st.subheader(f"Tableau des valeurs ({unite}, {sel['annee']})")
    st.caption("Même sélection que la carte ; cliquez un en-tête pour trier. « secret » : "
               "effectif trop petit pour être publié ; « pas de donnée » : aucune source ne "
               "couvre l'unité.")
    arrondi, csv, shown = _tableau(_freeze(sel), common.geo_version(), common.data_version())
    with st.container(key="carte_tableau_large"):
        st.dataframe(arrondi, hide_index=True, height=420, key="carte_tableau",
                     column_config=_NUM, placeholder="–", width="stretch")
    with st.container(key="carte_liste"):
        # Sur téléphone, le tableau devient une liste (construite à la demande).
        if st.toggle(f"Voir les {len(arrondi)} {unite} en liste, de la plus forte à la plus "
                     "faible valeur", key="carte_liste_ouverte"):
            st.html(_liste(shown, sel["mesure"]))
    st.download_button(
        "Télécharger le tableau (CSV)", csv,
        file_name=f"observatoire_{sel['indicateur']}_{sel['niveau']}_{sel['annee']}.csv",
        mime="text/csv", key="carte_csv",
        help="Séparateur « ; », virgule décimale, UTF-8 : s'ouvre dans un tableur.")


# --- page ---------------------------------------------------------------------------

def _aucune_donnee() -> None:
    st.warning("Aucun chiffre n'est encore publié par l'observatoire.")
    account = common.user()
    if account is None:
        st.markdown("Les chiffres paraîtront ici après la validation de la première "
                    "diffusion annuelle (chaque année en novembre).")
        return
    st.markdown("Le public ne voit que les **diffusions validées** : importez les tableaux, "
                "puis préparez, auditez et validez la diffusion de l'année (page Publication).")
    pages = st.session_state.get("_pages", {})
    if account.is_admin and "demonstration" in pages:
        st.page_link(pages["demonstration"], label="Charger le jeu de démonstration (fictif)")
    if "importer" in pages:
        st.page_link(pages["importer"], label="Importer les tableaux des contributeurs")
    if "publication" in pages:
        st.page_link(pages["publication"], label="Préparer et valider la diffusion")


def page() -> None:
    st.title("Carte des violences intrafamiliales")
    common.demo_banner()
    dispo = common.annees_indicateurs_publics()
    if dispo.empty:
        _aucune_donnee()
        return
    controles, zone_carte, options, suite = (st.container(key="carte_controles"),
                                             st.container(), st.container(), st.container())
    with controles:
        # Les réglages avancés s'affichent sous la carte, mais se lisent avant elle.
        sel = _controls(dispo, options)
    libelle = common.indicateurs().get(sel["indicateur"], sel["indicateur"])
    titre = titre_selection(sel)
    mesure = common.MESURES[sel["mesure"]].replace(" (recommandé)", "")
    carte_montree = False
    with zone_carte:
        try:
            note = note_sources_manquantes(common.public_table(
                [sel["annee"]], sel["indicateur"], None, sel["niveau"]))
            if note:
                st.warning(note)
            cfg = map_config(sel, titre)
        except ReferentielAbsentError as exc:
            common.show_referentiel_absent(exc)
        except ObservatoireError as exc:  # bornes fixes illisibles, aucune donnée…
            common.show_error(exc)
            return
        else:
            _couches_erreur()
            code, signal = composants.carte(cfg, key="carte")
            st.session_state["_carte_topologie_envoyee"] = cfg["geo_version"]
            if signal == "topologie":
                st.session_state.pop("_carte_topologie_envoyee", None)
                st.rerun()
            if signal == "dessinee":
                st.session_state["_carte_dessinee"] = True
            carte_montree = True
            if code:
                st.switch_page(st.session_state["_pages"]["fiche"],
                               query_params={"niveau": sel["niveau"], "code": str(code),
                                             "indicateur": sel["indicateur"]})
        st.caption(
            "Survolez une commune pour lire ses chiffres ; cliquez-la pour ouvrir sa fiche. "
            "Une zone « blanche présumée » signale une possible sous-révélation, pas une "
            "absence de violences (voir la page Méthode). " + common.mention_contours())
    with suite:
        with st.expander(f"Que compte « {libelle} » ? Que veut dire « {mesure.lower()} » ?",
                         expanded=False):
            st.markdown(common.fiche_indicateur_markdown(sel["indicateur"]))
            st.markdown(f"**{mesure}.** {common.MESURES_AIDE[sel['mesure']]}")
        if _tableau_maintenant(carte_montree):
            _show_table(sel)
        else:
            st.caption("Tableau des valeurs : il s'affiche dès que la carte est dessinée.")


def _couches_erreur() -> None:
    _d, _r, erreur = _couches()
    if erreur and common.user() is not None:
        st.caption(f"Dispositifs non affichés : {erreur}")
