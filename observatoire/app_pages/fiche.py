"""Page publique « Fiche territoire » : une commune, un EPCI ou un arrondissement.

Adresse stable, à partager ou à recharger : ``/fiche?niveau=commune&code=62119``
(``niveau=epci&code=SIREN``, ``niveau=arrondissement&code=622``), et
``&indicateur=CODE`` pour l'indicateur affiché. Un code inconnu donne un message et un
chemin de retour, jamais une fiche vide.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from observatoire import classification as cl
from observatoire import communes, formats
from observatoire.app_pages import common
from observatoire.errors import ObservatoireError, ReferentielAbsentError
from observatoire.exports.donnees import texte_etiquette


@st.cache_data(show_spinner=False)
def _units(niveau: str) -> pd.DataFrame:
    c = communes.load_territoire()
    if niveau == "commune":
        return c[["code_insee", "nom"]].rename(columns={"code_insee": "code"})
    col, nom = (("epci", "epci_nom") if niveau == "epci"
                else ("arrondissement", "arrondissement_nom"))
    return (c[[col, nom]].drop_duplicates().rename(columns={col: "code", nom: "nom"})
            .sort_values("nom").reset_index(drop=True))


def nom_affiche(niveau: str, nom: str) -> str:
    """« Béthune », « Arrondissement de Béthune », « CA de Béthune-Bruay… »."""
    if niveau == "arrondissement":
        return f"Arrondissement {formats.de(nom)}"
    return nom


_ARTICLE = {"commune": "la commune", "epci": "l'EPCI", "arrondissement": "l'arrondissement"}


def _from_query() -> str | None:
    """Reprend niveau, code et indicateur de l'adresse ; renvoie le code inconnu, s'il y en a."""
    params = st.query_params
    q = {k: params.get(k) for k in ("niveau", "code", "indicateur") if params.get(k)}
    if not q or st.session_state.get("_fiche_q") == q:
        return st.session_state.get("_fiche_inconnu")
    st.session_state["_fiche_q"] = q
    st.session_state["_fiche_inconnu"] = None
    niveau = q.get("niveau", "commune")
    if niveau not in common.NIVEAUX:
        st.session_state["_fiche_inconnu"] = (f"niveau « {niveau} » (attendu : commune, epci "
                                              "ou arrondissement)")
        return st.session_state["_fiche_inconnu"]
    st.session_state["fiche_niveau"] = niveau
    code = q.get("code")
    if code is not None:
        if code in set(_units(niveau)["code"]):
            st.session_state[f"fiche_code_{niveau}"] = code
        else:
            st.session_state[f"fiche_code_{niveau}"] = None
            st.session_state["_fiche_inconnu"] = f"{_ARTICLE[niveau]} de code « {code} »"
    if q.get("indicateur"):
        st.session_state["fiche_indicateur_demande"] = q["indicateur"]
    return st.session_state["_fiche_inconnu"]


def _select_unit() -> tuple[str, str, str] | None:
    inconnu = _from_query()
    niveaux = list(common.NIVEAUX)
    if inconnu:
        st.error(f"Aucune fiche pour {inconnu} : ce territoire n'est pas dans "
                 f"l'observatoire ({common.settings().territoire_nom}). Vérifiez le lien, ou "
                 "choisissez un territoire ci-dessous.")
        st.page_link(st.session_state["_pages"]["carte"], label="Revenir à la carte",
                     icon="↩️")
    c1, c2 = st.columns([1, 3])
    niveau = c1.selectbox("Niveau", niveaux, format_func=common.NIVEAUX.get, key="fiche_niveau")
    units = _units(niveau)
    labels = dict(zip(units["code"], units["nom"], strict=True))
    code = c2.selectbox(f"{common.NIVEAU_SINGULIER[niveau].capitalize()} (tapez pour chercher)",
                        list(labels), format_func=lambda c: f"{labels[c]} ({c})",
                        key=f"fiche_code_{niveau}", index=None,
                        placeholder="Choisissez ou tapez un nom…")
    if code is None:
        return None
    q = {"niveau": niveau, "code": code}
    if st.session_state.get("fiche_indicateur"):
        q["indicateur"] = st.session_state["fiche_indicateur"]
    if {k: st.query_params.get(k) for k in q} != q:
        st.query_params.from_dict(q)
    st.session_state["_fiche_q"] = q
    st.session_state["_fiche_inconnu"] = None
    return niveau, code, labels[code]


def _row(table: pd.DataFrame, code: str) -> pd.Series | None:
    hit = table[table["code"].astype(str) == code]
    return None if hit.empty else hit.iloc[0]


def _value(row, col, dec=1) -> str:
    if row is None:
        return "pas de donnée"
    if row.get("couverture") == "hors_perimetre" and col in ("observe", "taux", "taux_lisse",
                                                             "ratio"):
        return "hors du périmètre des sources"
    if bool(row.get("secret", False)) and col in ("observe", "taux", "taux_lisse", "ratio"):
        return "secret"
    v = row.get(col)
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return "–"
    return common.fmt(v, dec)


def _intervalle(row) -> str:
    """Intervalle exact (Garwood) à 95 % du taux, « de 2,1 à 4,5 »."""
    if row is None or bool(row.get("secret", False)):
        return "secret" if row is not None else "–"
    lo, hi = row.get("taux_ic95_bas"), row.get("taux_ic95_haut")
    if lo is None or hi is None or pd.isna(lo) or pd.isna(hi):
        return "–"
    return f"de {common.fmt(lo, 1)} à {common.fmt(hi, 1)}"


def _series(niveau: str, code: str, indicateur: str, annees: list[int]) -> pd.DataFrame:
    rows = []
    for annee in annees:
        try:
            t = common.public_table([annee], indicateur, None, niveau)
            dep = common.public_table([annee], indicateur, None, "departement")
        except ObservatoireError:
            continue
        r = _row(t, code)
        ref = dep.iloc[0] if not dep.empty else None
        taux = r.get("taux") if r is not None and not bool(r.get("secret")) else np.nan
        vals = pd.to_numeric(t["taux"], errors="coerce")
        rank = None
        if r is not None and pd.notna(taux):
            rank = int((vals > taux).sum()) + 1
        rows.append({"Année": str(annee), "Effectif": _value(r, "observe", 0),
                     "Taux ‰": _value(r, "taux"),
                     "Intervalle à 95 % du taux": _intervalle(r),
                     "Taux lissé ‰": _value(r, "taux_lisse"),
                     "Observé / attendu": _value(r, "ratio", 2),
                     "Rang (taux décroissant)": f"{rank} sur {int(vals.notna().sum())}"
                     if rank else "–",
                     "Taux du département ‰": _value(ref, "taux"),
                     "Étiquette": (texte_etiquette(r.to_frame().T).iat[0] if r is not None
                                   else "–"),
                     "_taux": taux, "_taux_dep": ref.get("taux") if ref is not None else np.nan,
                     "_motif": (r.get("motif") if r is not None and not bool(r.get("secret"))
                                else None)})
    return pd.DataFrame(rows)


#: Nombres des axes à la française (« 1,5 ») : locale de Vega-Lite, séparateurs de CLDR.
_LOCALE_VEGA = {"number": {"decimal": formats.DECIMALE, "thousands": formats.GROUPE,
                           "grouping": [3], "currency": ["", "\u00a0€"]}}


def _graphique(serie: pd.DataFrame, nom: str):
    import altair as alt

    long = pd.concat([
        pd.DataFrame({"Année": serie["Année"], "Taux": serie["_taux"], "Territoire": nom}),
        pd.DataFrame({"Année": serie["Année"], "Taux": serie["_taux_dep"],
                      "Territoire": "Département"})]).dropna(subset=["Taux"])
    return (alt.Chart(long, height=260)
            .mark_line(point=True)
            .encode(x=alt.X("Année:O", title="année", axis=alt.Axis(labelAngle=0)),
                    y=alt.Y("Taux:Q", title="taux pour 1 000 habitants",
                            axis=alt.Axis(format=",.1f")),
                    color=alt.Color("Territoire:N", title=None,
                                    legend=alt.Legend(orient="bottom")),
                    tooltip=[alt.Tooltip("Territoire:N"), alt.Tooltip("Année:O"),
                             alt.Tooltip("Taux:Q", format=",.1f", title="taux ‰")])
            .configure(locale=_LOCALE_VEGA))


def _nearest_dispositifs(niveau: str, code: str) -> tuple[pd.DataFrame | None, str]:
    """Dispositif le plus proche de chaque type, ou la raison de son absence."""
    try:
        disp = common.dispositifs()
        lay = common.layer(niveau, True)
    except ReferentielAbsentError:
        return None, ("Distances indisponibles : les contours des communes ne sont pas "
                      "chargés.")
    except ObservatoireError as exc:
        return None, f"Distances indisponibles : {exc}"
    if disp.empty:
        return None, ("Distances indisponibles : aucun dispositif d'aide n'est encore "
                      "enregistré dans l'observatoire.")
    hit = lay[lay["code"].astype(str) == code]
    if hit.empty:
        return None, "Distances indisponibles : ce territoire n'a pas de contour."
    pt = hit.geometry.iloc[0].representative_point()
    d = disp.copy()
    d["distance"] = np.hypot(d["x"] - pt.x, d["y"] - pt.y) / 1000
    types = common.types_dispositifs()
    near = d.sort_values("distance").groupby("type", as_index=False).first()
    near = near.sort_values("distance")
    return pd.DataFrame({
        "Type": near["type"].map(lambda t: types.get(t, t)), "Dispositif le plus proche":
        near["nom"], "Commune": near["commune"].fillna(""),
        "Distance (km)": near["distance"].map(lambda v: common.fmt(v, 1))}), ""


def _cumul(code: str, indicateur: str, annee: int) -> None:
    """Cumul sur trois ans d'une petite commune, publié par la diffusion de l'année."""
    try:
        t = common.cumul_public(annee, indicateur)
    except ObservatoireError:
        return
    if t is None:
        return
    r = _row(t, code)
    if r is None:
        return
    periode = t.attrs.get("periode", "")
    annees = t.attrs.get("annees") or []
    debut, fin = (annees[0], annees[-1]) if annees else (periode, periode)
    if bool(r.get("secret")):
        texte = (f"**Sur {len(annees) or 3} ans ({debut} à {fin})** : effectif couvert par le "
                 "secret statistique (de 1 à 4 cas, ou caché pour en protéger un autre).")
    else:
        texte = (f"**Sur {len(annees) or 3} ans ({debut} à {fin})** : "
                 f"{common.fmt(r.get('observe'), 0)} cas, soit {common.fmt(r.get('taux'))} "
                 f"pour 1 000 habitants et par an.")
    etiquette = texte_etiquette(r.to_frame().T).iat[0]
    st.markdown(texte + (f" Étiquette : {etiquette}." if etiquette not in ("–", "") else ""))
    st.caption("Dans une petite commune, chaque année compte peu de cas : le cumul de trois "
               "ans est souvent le seul chiffre publiable, et le plus stable.")


def _referent(niveau: str, code: str) -> None:
    st.subheader("Référent violences intrafamiliales")
    refs = common.referents_publics()
    if niveau == "commune":
        r = refs[refs["code_insee"] == code]
        if r.empty:
            st.write("Pas de référent VIF désigné connu de l'observatoire.")
            return
        r = r.iloc[0]
        designe = (f" le {common.date_fr(r['date_designation'])}"
                   if pd.notna(r["date_designation"]) else "")
        if bool(r["forme"]):
            forme = "formé" + (f" le {common.date_fr(r['date_formation'])}"
                               if pd.notna(r["date_formation"]) else "")
        else:
            forme = "pas encore formé"
        st.write(f"Un référent VIF a été désigné{designe} ; il est {forme}.")
        return
    c = communes.load_territoire()
    col = "epci" if niveau == "epci" else "arrondissement"
    membres = set(c.loc[c[col] == code, "code_insee"])
    sub = refs[refs["code_insee"].isin(membres)]
    st.write(f"{len(sub)} commune(s) sur {len(membres)} ont désigné un référent VIF, dont "
             f"{int(sub['forme'].sum())} formé(s).")


def page() -> None:
    entete = st.container()  # le titre vient avant le choix, qui le détermine
    chosen = _select_unit()
    if chosen is None:
        with entete:
            st.title("Fiche territoire")
            common.demo_banner()
        st.info("Choisissez un territoire, ou cliquez une commune sur la page Carte.")
        return
    niveau, code, nom = chosen
    titre = nom_affiche(niveau, nom)
    st.set_page_config(page_title=common.titre_page(f"Fiche {titre}"))
    with entete:
        st.title(f"{titre} ({code})")
        st.caption(f"Fiche {common.NIVEAU_SINGULIER[niveau]} : l'adresse de cette page "
                   "rouvre toujours cette fiche (à copier pour la partager).")
        common.demo_banner()
    dispo = common.annees_indicateurs_publics()
    if dispo.empty:
        st.warning("Aucun chiffre n'est encore publié par l'observatoire.")
        _referent(niveau, code)
        return
    libelles = common.indicateurs()
    presents = [c for c in libelles if c in set(dispo["indicateur"])]
    demande = st.session_state.pop("fiche_indicateur_demande", None)
    if demande in presents:
        st.session_state["fiche_indicateur"] = demande
    elif st.session_state.get("fiche_indicateur") not in presents:
        carte_ind = st.session_state.get("carte_indicateur")
        st.session_state["fiche_indicateur"] = carte_ind if carte_ind in presents else presents[0]
    indicateur = st.selectbox("Indicateur", presents, format_func=lambda c: libelles.get(c, c),
                              key="fiche_indicateur")
    if st.query_params.get("indicateur") != indicateur:
        st.query_params["indicateur"] = indicateur
    with st.expander(f"Que compte « {libelles.get(indicateur, indicateur)} » ?"):
        st.markdown(common.fiche_indicateur_markdown(indicateur))
    annees = sorted(dispo.loc[dispo["indicateur"] == indicateur, "annee"].unique().tolist())
    serie = _series(niveau, code, indicateur, annees)
    if serie.empty:
        st.warning("Pas de valeur publiée pour cet indicateur.")
        return
    last = serie.iloc[-1]
    label = last["Étiquette"]
    c1, c2, c3 = st.columns(3)
    c1.metric(f"Taux {last['Année']} (pour 1 000 hab.)", last["Taux ‰"])
    c2.metric("Taux du département", last["Taux du département ‰"])
    c3.metric("Rang", last["Rang (taux décroissant)"])
    style = cl.STYLES_ETIQUETTES.get(label)
    if style is not None:
        # Le motif de l'unité (plus petit écart décelable, attendu minimal…) quand il est
        # public ; sinon la définition de l'étiquette.
        motif = last.get("_motif")
        pourquoi = motif if isinstance(motif, str) and motif else style.description
        st.markdown(f"**Étiquette {last['Année']} : {label}** — {pourquoi}.")
    st.markdown("**Les chiffres au fil des années** (secret statistique appliqué)")
    st.dataframe(serie.drop(columns=["_taux", "_taux_dep", "_motif"]), hide_index=True,
                 placeholder="–",
                 key="fiche_serie", width="stretch")
    if serie["_taux"].notna().any():
        st.altair_chart(_graphique(serie, nom), width="stretch")
    if niveau == "commune":
        _cumul(code, indicateur, int(last["Année"]))
    st.subheader("Dispositifs d'aide les plus proches")
    near, raison = _nearest_dispositifs(niveau, code)
    if near is None:
        st.caption(raison)
    else:
        st.caption("Le plus proche de chaque type, distance à vol d'oiseau depuis le centre "
                   "du territoire.")
        st.dataframe(near, hide_index=True, placeholder="–", key="fiche_dispositifs",
                     width="stretch",
                     column_config={"Type": st.column_config.TextColumn(width="medium"),
                                    "Distance (km)": st.column_config.TextColumn(width=90)})
    _referent(niveau, code)
