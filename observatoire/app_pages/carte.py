"""Page publique « Carte » : carte Folium de la mesure choisie et son tableau."""

from __future__ import annotations

import re

import mapclassify  # noqa: F401  (importé au démarrage, pas au premier rendu)
import pandas as pd
import streamlit as st

from observatoire import classification as cl
from observatoire import maps
from observatoire.app_pages import common
from observatoire.config import settings
from observatoire.errors import ObservatoireError, ReferentielAbsentError
from observatoire.exports.donnees import note_sources_manquantes, texte_etiquette

UNIT_KEY = {"commune": "id", "epci": "e", "arrondissement": "a"}
_CODE_IN_TOOLTIP = re.compile(r"\(([0-9A-Za-z]{3,9})\)")


def _controls(dispo: pd.DataFrame) -> dict:
    libelles = common.indicateurs()
    annees = sorted(dispo["annee"].unique().tolist(), reverse=True)
    presents = [c for c in libelles if c in set(dispo["indicateur"])]
    c1, c2, c3 = st.columns(3)
    mesure = c1.selectbox("Mesure", list(common.MESURES), format_func=common.MESURES.get,
                          index=1, key="carte_mesure")
    niveau = c2.selectbox("Niveau", list(common.NIVEAUX), format_func=common.NIVEAUX.get,
                          key="carte_niveau")
    annee = c3.selectbox("Année", annees, key="carte_annee")
    c4, c5 = st.columns([2, 1])
    indicateur = c4.selectbox("Indicateur", presents, format_func=lambda c: libelles.get(c, c),
                              key="carte_indicateur")
    noms = common.contributeurs()
    sources = sorted(dispo.loc[(dispo["annee"] == annee) & (dispo["indicateur"] == indicateur),
                               "contributeur"].unique())
    choix = c5.multiselect("Contributeur(s)", sources, default=sources,
                           format_func=lambda c: noms.get(c, c), key=f"carte_src_{indicateur}",
                           help="Les effectifs des sources retenues s'additionnent.")
    with st.expander("Classes, couleurs et couches", expanded=False):
        d1, d2, d3 = st.columns(3)
        methode = d1.selectbox("Méthode de classement", list(cl.METHODES),
                               format_func=cl.METHODES.get, key="carte_methode",
                               disabled=mesure == "label")
        k = d2.slider("Nombre de classes", cl.K_MIN, cl.K_MAX, 5, key="carte_k",
                      disabled=mesure == "label")
        palette = d3.selectbox("Palette (lisible par les daltoniens)", list(cl.PALETTES),
                               format_func=cl.PALETTES.get, key="carte_palette")
        bornes_txt = ""
        if methode == "bornes_fixes" and mesure != "label":
            bornes_txt = st.text_input(
                "Bornes supérieures des classes, croissantes (ex. : 2 ; 4,5 ; 8)",
                key="carte_bornes",
                help="Gardez les mêmes bornes d'une année à l'autre pour comparer les cartes.")
        e1, e2, e3, e4 = st.columns(4)
        couches = {
            "limites": e1.checkbox("Limites EPCI et arrondissements", True, key="carte_lim"),
            "dispositifs": e2.checkbox("Dispositifs d'aide", True, key="carte_disp"),
            "referents": e3.checkbox("Communes avec référent", True, key="carte_ref"),
            "osm": e4.checkbox("Fond OpenStreetMap (en ligne)", False, key="carte_osm",
                               help="Par défaut la carte n'a besoin d'aucun accès internet."),
        }
    return {"mesure": mesure, "niveau": niveau, "annee": int(annee), "indicateur": indicateur,
            # None = toutes les sources : même clé de cache que le préchauffage.
            "contributeurs": None if set(choix) == set(sources) else tuple(choix),
            "methode": methode, "k": int(k),
            "palette": palette, "bornes": bornes_txt, "couches": couches}


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
    """Classes de la mesure choisie (sur les seules valeurs publiques)."""
    if sel["mesure"] == "label":
        return None
    unite = common.UNITES[sel["mesure"]]
    vals = pd.to_numeric(table[sel["mesure"]], errors="coerce")
    if sel["mesure"] == "ratio":
        vals = vals.where(table["label"] != "non concluant")
    bornes = _parse_bornes(sel["bornes"]) if sel["methode"] == "bornes_fixes" else None
    if sel["methode"] == "bornes_fixes" and not bornes:
        raise ObservatoireError("Indiquez les bornes fixes des classes.")
    return cl.classer(vals.astype(float), sel["methode"], sel["k"], sel["palette"],
                      bornes=bornes, unite=unite)


def legend_for(sel: dict, classes, table: pd.DataFrame, titre: str) -> str:
    """Légende HTML : classes, états non numériques, contours, limites, points."""
    entries: list = []
    if classes is not None:
        entries += classes.styles()
    else:
        entries += list(cl.STYLES_ETIQUETTES.values())
    if table["secret"].any() and sel["mesure"] != "label":
        entries.append(cl.STYLE_SECRET)
    if sel["mesure"] == "ratio":
        entries.append(cl.STYLE_NON_CONCLUANT)
    entries.append(cl.STYLE_HORS_PERIMETRE)
    if sel["mesure"] != "label" and (table["label"] == "blanche présumée").any():
        entries.append(cl.STYLE_CONTOUR_BLANCHE)
    if sel["couches"]["limites"]:
        entries += [cl.STYLE_LIMITE_ARRONDISSEMENT, cl.STYLE_LIMITE_EPCI]
    if sel["couches"]["referents"]:
        entries += [("rond plein", "commune avec référent VIF formé"),
                    ("rond", "commune avec référent VIF non formé")]
    subtitle = (f"{classes.unite} — {cl.METHODES[classes.methode]}" if classes is not None
                else "étiquette de l'analyse")
    seuil = settings().seuil_secret
    notes = [f"Secret statistique : effectifs de 1 à {seuil - 1} non publiés."]
    return maps.legend_html(titre, entries, subtitle=subtitle, notes=notes,
                            demo=common.is_demo())


@st.cache_data(show_spinner=False, max_entries=64)
def _dispositifs_layers(geo_ver: str, data_ver: str) -> list:
    return maps.dispositifs_layers(common.dispositifs(), common.types_dispositifs())


@st.cache_data(show_spinner=False, max_entries=16)
def _referents_layer(geo_ver: str, data_ver: str) -> dict | None:
    refs = common.referents_publics()
    return None if refs.empty else maps.referents_layer(common.layer("commune", True), refs)


@st.cache_data(show_spinner=False, max_entries=128)
def _map_inputs(sel_items: tuple, titre: str, demo: bool, geo_ver: str, data_ver: str):
    sel = dict(sel_items)
    sel["couches"] = dict(sel["couches"])
    table = common.public_table([sel["annee"]], sel["indicateur"], sel["contributeurs"],
                                sel["niveau"])
    classes = classify(table, sel)
    values = maps.values_from_table(table, sel["mesure"], classes,
                                    seuil_secret=settings().seuil_secret)
    return values, legend_for(sel, classes, table, titre), \
        list(classes.couleurs) if classes is not None else []


def _freeze(sel: dict) -> tuple:
    return tuple(sorted((k, tuple(sorted(v.items())) if isinstance(v, dict) else v)
                        for k, v in sel.items()))


def map_for(sel: dict, titre: str):
    """Carte Folium de la sélection (vue publique)."""
    topo = common.topology()
    values, legend, palette = _map_inputs(_freeze(sel), titre, common.is_demo(),
                                          common.geo_version(), common.data_version())
    meshes = []
    if sel["couches"]["limites"]:
        meshes = [
            {"name": "Limites des EPCI", "mesh": "epci",
             "color": cl.STYLE_LIMITE_EPCI.contour, "weight": 1.2, "dash": "3 2"},
            {"name": "Limites des arrondissements", "mesh": "arrondissement",
             "color": cl.STYLE_LIMITE_ARRONDISSEMENT.contour, "weight": 2.2},
        ]
    dispositifs, referents = [], None
    if sel["couches"]["dispositifs"]:
        try:
            dispositifs = _dispositifs_layers(common.geo_version(), common.data_version())
        except ObservatoireError as exc:
            st.caption(f"Dispositifs non affichés : {exc}")
    if sel["couches"]["referents"]:
        referents = _referents_layer(common.geo_version(), common.data_version())
    styles = dict(cl.STYLES_ETIQUETTES) if sel["mesure"] == "label" else {}
    return maps.build_map(
        topo, values, palette=palette, styles=styles, unit_key=UNIT_KEY[sel["niveau"]],
        legend=legend, meshes=meshes,
        dispositifs=dispositifs, referents=referents, osm=sel["couches"]["osm"],
        layer_name=titre)


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    """Tableau lisible (vue publique) : les cellules secrètes sont vides, dites « secret »."""
    cols = {"code": "Code", "nom": "Nom", "population": "Population", "observe": "Effectif",
            "taux": "Taux ‰", "taux_lisse": "Taux lissé ‰", "attendu": "Attendu",
            "ratio": "Observé / attendu", "label": "Étiquette"}
    out = table[[c for c in cols if c in table]].rename(columns=cols).copy()
    for c in ("Population", "Effectif", "Taux ‰", "Taux lissé ‰", "Attendu",
              "Observé / attendu"):
        if c in out:
            out[c] = pd.to_numeric(out[c], errors="coerce").astype(float)
    out.insert(2, "Secret", table["secret"].map({True: "secret", False: ""}).to_numpy())
    if "Étiquette" in out:
        out["Étiquette"] = texte_etiquette(table).to_numpy(object)
    return out


def csv_bytes(shown: pd.DataFrame) -> bytes:
    """CSV français (``;``, virgule décimale), « secret » écrit dans les cellules masquées."""
    out = shown.copy().astype(object)
    secret = shown["Secret"] == "secret"
    for c in ("Effectif", "Taux ‰", "Taux lissé ‰", "Observé / attendu"):
        if c in out:
            out.loc[secret, c] = "secret"
    return out.to_csv(sep=";", index=False, decimal=",").encode("utf-8-sig")


# Nombres affichés selon la langue du navigateur (« 1 234,5 » en français) ; le tri reste
# numérique. Les cellules vides sont dites « – » et la colonne Secret dit pourquoi.
_NUM = {c: st.column_config.NumberColumn(c, format="localized") for c in
        ("Population", "Effectif", "Taux ‰", "Taux lissé ‰", "Attendu", "Observé / attendu")}


def clicked_code(state: dict | None) -> str | None:
    """Code de l'unité cliquée sur la carte (lu dans l'infobulle « Nom (code) »)."""
    if not state:
        return None
    tip = state.get("last_object_clicked_tooltip")
    if not tip:
        return None
    found = _CODE_IN_TOOLTIP.search(str(tip))
    return found.group(1) if found else None


def page() -> None:
    st.title("Carte des violences intrafamiliales")
    common.demo_banner()
    dispo = common.disponibles()
    if dispo.empty:
        st.warning("Aucune donnée n'est encore chargée. Les agents importent les tableaux des "
                   "contributeurs (page Importer, ou `observatoire contributions importer`) ; "
                   "`observatoire demo` charge un jeu fictif de démonstration.")
        if not common.referentiel_loaded():
            common.show_referentiel_absent()
        return
    sel = _controls(dispo)
    if sel["contributeurs"] == ():
        st.warning("Choisissez au moins un contributeur.")
        return
    try:
        table = common.public_table([sel["annee"]], sel["indicateur"], sel["contributeurs"],
                                    sel["niveau"])
        classify(table, sel)  # bornes fixes illisibles : message avant la carte
    except ObservatoireError as exc:
        common.show_error(exc)
        return
    note = note_sources_manquantes(table)
    if note:
        st.warning(note)
    libelle = common.indicateurs().get(sel["indicateur"], sel["indicateur"])
    titre = f"{libelle} — {sel['annee']}"
    st.subheader(f"{common.MESURES[sel['mesure']]} · {libelle} · {sel['annee']}")
    col_map, col_table = st.columns([2, 1], gap="small")
    with col_map:
        try:
            m = map_for(sel, titre)
        except ReferentielAbsentError as exc:
            common.show_referentiel_absent(exc)
        else:
            _show_map(m, sel)
    with col_table:
        st.markdown("**Tableau des valeurs** (même sélection ; cliquez un en-tête pour trier)")
        shown = display_table(table)
        st.dataframe(shown, hide_index=True, height=600, key="carte_tableau",
                     column_config=_NUM, placeholder="–")
        st.download_button(
            "Télécharger le tableau (CSV)", csv_bytes(shown),
            file_name=f"observatoire_{sel['indicateur']}_{sel['niveau']}_{sel['annee']}.csv",
            mime="text/csv", key="carte_csv")
    st.caption(
        "Secret statistique appliqué : les effectifs de 1 à "
        f"{settings().seuil_secret - 1} et ce qui en dérive sont affichés « secret ». "
        "Une zone « blanche présumée » signale une possible sous-révélation, pas une absence "
        "de violences (voir la page Méthode). Cliquez une commune pour ouvrir sa fiche.")
    if sel["contributeurs"] is None:
        # Les voisines de la sélection (autres années, autres indicateurs) : en arrière-plan.
        common.prewarm(sorted(dispo["annee"].unique(), reverse=True),
                       [sel["indicateur"], *sorted(set(dispo["indicateur"]) -
                                                   {sel["indicateur"]})], sel["niveau"])


def _show_map(m, sel: dict) -> None:
    from streamlit_folium import st_folium

    # Seul le clic sur un objet est renvoyé : déplacer ou zoomer ne relance pas le script.
    state = st_folium(m, height=620, use_container_width=True,
                      returned_objects=["last_object_clicked_tooltip"],
                      key=f"carte_{sel['niveau']}")
    code = clicked_code(state)
    if code and st.session_state.get("_carte_dernier_clic") != (sel["niveau"], code):
        st.session_state["_carte_dernier_clic"] = (sel["niveau"], code)
        st.switch_page(st.session_state["_pages"]["fiche"],
                       query_params={"niveau": sel["niveau"], "code": code})
