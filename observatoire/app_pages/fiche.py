"""Page publique « Fiche territoire » : une commune, un EPCI ou un arrondissement."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from observatoire import classification as cl
from observatoire import communes
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


def _select_unit() -> tuple[str, str, str] | None:
    params = st.query_params
    niveaux = list(common.NIVEAUX)
    q_niveau = params.get("niveau")
    if q_niveau in niveaux and st.session_state.get("_fiche_q") != dict(params):
        st.session_state["_fiche_q"] = dict(params)
        st.session_state["fiche_niveau"] = q_niveau
        units = _units(q_niveau)
        if params.get("code") in set(units["code"]):
            st.session_state[f"fiche_code_{q_niveau}"] = params.get("code")
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
    st.query_params.update({"niveau": niveau, "code": code})
    st.session_state["_fiche_q"] = {"niveau": niveau, "code": code}
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
        rows.append({"Année": annee, "Effectif": _value(r, "observe", 0),
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


def _nearest_dispositifs(niveau: str, code: str) -> pd.DataFrame | None:
    try:
        disp = common.dispositifs()
        lay = common.layer(niveau, True)
    except (ObservatoireError, ReferentielAbsentError):
        return None
    hit = lay[lay["code"].astype(str) == code]
    if hit.empty or disp.empty:
        return None
    pt = hit.geometry.iloc[0].representative_point()
    d = disp.copy()
    d["distance"] = np.hypot(d["x"] - pt.x, d["y"] - pt.y) / 1000
    types = common.types_dispositifs()
    near = d.sort_values("distance").groupby("type", as_index=False).first()
    near = near.sort_values("distance")
    return pd.DataFrame({
        "Type": near["type"].map(lambda t: types.get(t, t)), "Dispositif le plus proche":
        near["nom"], "Commune": near["commune"],
        "Distance (km, à vol d'oiseau)": near["distance"].map(lambda v: common.fmt(v, 1))})


def page() -> None:
    st.title("Fiche territoire")
    st.session_state.pop("_carte_dernier_clic", None)
    common.demo_banner()
    chosen = _select_unit()
    if chosen is None:
        st.info("Choisissez un territoire, ou cliquez une commune sur la page Carte.")
        return
    niveau, code, nom = chosen
    st.header(f"{nom} ({code})")
    dispo = common.disponibles()
    if dispo.empty:
        st.warning("Aucune donnée n'est encore chargée.")
        return
    libelles = common.indicateurs()
    presents = [c for c in libelles if c in set(dispo["indicateur"])]
    indicateur = st.selectbox("Indicateur", presents, format_func=lambda c: libelles.get(c, c),
                              key="fiche_indicateur")
    annees = sorted(dispo.loc[dispo["indicateur"] == indicateur, "annee"].unique().tolist())
    serie = _series(niveau, code, indicateur, annees)
    if serie.empty:
        st.warning("Pas de valeur pour cet indicateur.")
        return
    last = serie.iloc[-1]
    label = last["Étiquette"]
    c1, c2, c3 = st.columns(3)
    c1.metric(f"Taux {int(last['Année'])} (pour 1 000 hab.)", last["Taux ‰"])
    c2.metric("Taux du département", last["Taux du département ‰"])
    c3.metric("Rang", last["Rang (taux décroissant)"])
    style = cl.STYLES_ETIQUETTES.get(label)
    if style is not None:
        # Le motif de l'unité (plus petit écart décelable, attendu minimal…) quand il est
        # public ; sinon la définition de l'étiquette.
        motif = last.get("_motif")
        pourquoi = motif if isinstance(motif, str) and motif else style.description
        st.markdown(f"**Étiquette {int(last['Année'])} : {label}** — {pourquoi}.")
    st.markdown("**Les chiffres au fil des années** (secret statistique appliqué)")
    st.dataframe(serie.drop(columns=["_taux", "_taux_dep", "_motif"]), hide_index=True,
                 key="fiche_serie")
    # Années en texte : un axe numérique les afficherait « 2,022 ».
    chart = serie.assign(Année=serie["Année"].astype(int).astype(str)).set_index("Année")[
        ["_taux", "_taux_dep"]].rename(
        columns={"_taux": nom, "_taux_dep": "Département"})
    if chart[nom].notna().any():
        st.line_chart(chart, y_label="taux ‰", x_label="année", height=260)
    st.subheader("Dispositifs d'aide les plus proches")
    near = _nearest_dispositifs(niveau, code)
    if near is None:
        st.caption("Distances indisponibles (contours non importés ou aucun dispositif).")
    else:
        st.dataframe(near, hide_index=True, key="fiche_dispositifs")
    st.subheader("Référent violences intrafamiliales")
    refs = common.referents_publics()
    if niveau == "commune":
        r = refs[refs["code_insee"] == code]
        if r.empty:
            st.write("Pas de référent VIF désigné connu de l'observatoire.")
        else:
            r = r.iloc[0]
            forme = "formé" + (f" le {r['date_formation']}" if pd.notna(r["date_formation"])
                               else "") if bool(r["forme"]) else "pas encore formé"
            designe = (f" le {r['date_designation']}" if pd.notna(r["date_designation"])
                       else "")
            st.write(f"Un référent VIF a été désigné{designe} ; il est {forme}.")
    else:
        c = communes.load_territoire()
        col = "epci" if niveau == "epci" else "arrondissement"
        membres = set(c.loc[c[col] == code, "code_insee"])
        sub = refs[refs["code_insee"].isin(membres)]
        st.write(f"{len(sub)} commune(s) sur {len(membres)} ont désigné un référent VIF, dont "
                 f"{int(sub['forme'].sum())} formé(s).")
