"""Analyse complète d'une sélection : attendus, ratios, probabilités, lissage, étiquettes.

:func:`analyser_table` est pure (DataFrames en entrée et en sortie) ;
:func:`analyser` la branche sur la base (``storage.current_values``), le registre des
contributeurs (périmètre de chaque source), les périmètres enregistrés des lots, les
populations de chaque année, le référentiel des communes et, quand il est importé, les
contours (contiguïté pour le lissage spatial).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

import numpy as np
import pandas as pd

from observatoire.errors import ObservatoireError
from observatoire.stats import labels as _labels
from observatoire.stats import poisson, smoothing
from observatoire.stats.measures import (
    NIVEAUX,
    DonneesAbsentesError,
    agreger,
    mesurer_communes,
    selectionner,
    verifier_niveau,
)
from observatoire.stats.perimetres import COUVERTURES, HORS_PERIMETRE

__all__ = ["COLONNES", "ZONES_REFERENCE", "analyser", "analyser_niveaux", "analyser_regroupement",
           "analyser_table", "analyser_unites", "base_communale"]

#: Aires de référence du taux attendu.
ZONES_REFERENCE = ("departement", "arrondissement", "territoire")

#: Colonnes garanties du tableau d'analyse, dans cet ordre (d'autres peuvent suivre).
#:
#: - ``population`` : dénominateur de la dernière année ; ``personnes_annees`` : somme
#:   des populations des années où un lot au moins couvre l'unité ;
#: - ``observe`` (exact, ``<NA>`` si inconnu), ``observe_min``/``observe_max`` (bornes
#:   quand des cellules sont masquées à la source ; ``observe_max`` inconnu pour une
#:   cellule non diffusée du SSMSI), ``n_masques``, ``masque`` ;
#: - ``attendu`` (somme, sur les lots qui couvrent l'unité, de population × taux de la
#:   source sur la partie de l'aire de référence qu'elle couvre), ``attendu_min`` et
#:   ``attendu_max`` (cellules masquées du taux de référence à leurs bornes) ;
#: - ``ratio`` = observe / attendu ; ``ratio_ic95_bas``/``_haut`` : intervalle exact
#:   (Garwood) ; ``taux``, ``taux_ic95_bas``, ``taux_ic95_haut`` pour 1 000 ;
#:   ``taux_lisse`` (Bayes empirique sur le ratio, ramené au taux), ``taux_lisse_spatial`` ;
#: - ``p_exces``, ``p_defaut`` (bornes défavorables), ``p_bilaterale``, ``q_bh`` ;
#:   ``limite_95_*`` : entonnoir du test des étiquettes (même seuil, même φ), hors duquel
#:   une unité est exactement une unité étiquetée ; ``limite_998_*`` : à 99,8 % ;
#: - ``ratio_detectable_haut``/``_bas`` : plus petit excès, plus grand déficit que
#:   l'attendu de l'unité permettait de déceler ;
#: - ``label`` (None hors du périmètre des sources), ``motif`` ;
#: - ``couvert`` (une source au moins couvre l'unité, en partie pour un agrégat),
#:   ``couverture`` (``complete``, ``partielle``, ``hors_perimetre``) et
#:   ``couverture_libelle`` (en français), ``n_lots``, ``nb_sources``, ``sources``.
COLONNES = (
    "code", "nom", "niveau", "population", "personnes_annees", "observe", "n_masques",
    "masque", "observe_min", "observe_max", "attendu", "attendu_min", "attendu_max",
    "ratio", "ratio_ic95_bas", "ratio_ic95_haut", "taux", "taux_ic95_bas", "taux_ic95_haut",
    "taux_lisse", "taux_lisse_spatial", "p_exces", "p_defaut", "p_bilaterale", "q_bh",
    "limite_95_basse", "limite_95_haute", "limite_998_basse", "limite_998_haute",
    "ratio_detectable_haut", "ratio_detectable_bas",
    "label", "motif", "regroupement", "regroupement_suggere", "nb_sources", "sources",
    "couvert", "couverture", "couverture_libelle", "n_lots", "n_communes",
)


def analyser_table(
    valeurs: pd.DataFrame,
    communes: pd.DataFrame,
    *,
    territoire: Iterable[str] | None = None,
    niveau: str = "commune",
    population: pd.Series | Mapping[int, pd.Series] | None = None,
    code_map: Mapping[str, str] | None = None,
    territoires_contributeurs: Mapping[str, str] | None = None,
    sources_non_bornees: Collection[str] = (),
    zone_reference: str = "departement",
    alpha: float = 0.05,
    fdr: bool = True,
    surdispersion: bool | str = True,
    seuil_secret: int = 5,
    geometrie=None,
    moran: bool = False,
    noms: Mapping[str, str] | None = None,
    couvertures: Mapping[tuple[str, int], Collection[str]] | None = None,
    groupes_sources: Mapping[str, str] | None = None,
    attendu_min_surdispersion: float = poisson.ATTENDU_MIN_SURDISPERSION,
) -> pd.DataFrame:
    """Analyse d'une sélection de valeurs, sans entrée-sortie.

    Parameters
    ----------
    valeurs : pandas.DataFrame
        Valeurs stockées de la sélection (voir :func:`observatoire.storage.current_values`).
    communes : pandas.DataFrame
        Communes de l'aire de calcul (au moins l'aire de référence et le territoire).
    territoire : iterable of str, optional
        Codes des communes restituées ; par défaut toutes celles de ``communes``.
    niveau : {"commune", "epci", "arrondissement", "departement"}
    population : Series or mapping année → Series, optional
        Dénominateur annuel par code INSEE (population municipale par défaut), ou un
        par année.
    code_map, territoires_contributeurs, couvertures, groupes_sources : mapping, optional
        Voir :func:`observatoire.stats.measures.mesurer_communes`.
    sources_non_bornees : collection of str, default ()
        Sources dont les cellules masquées ne sont pas bornées par le seuil (SSMSI) ; voir
        :func:`observatoire.stats.measures.mesurer_communes`. Une unité qui en a ne peut
        être ni « blanche présumée » ni « pas d'écart détecté » : « non concluant », sauf
        excès établi par la seule partie connue.
    zone_reference : {"departement", "arrondissement", "territoire"}
        Aire dont le taux (par source) sert à calculer l'attendu.
    alpha : float, default 0.05
        Niveau bilatéral des étiquettes.
    fdr : bool, default True
        Contrôle du taux de fausses découvertes (Benjamini–Hochberg) entre unités.
    surdispersion : bool or {"multiplicative", "additive", "aucune"}, default True
        Modèle de surdispersion (True : multiplicatif ; False : aucun). φ (ou τ²) est
        estimé sur les unités d'attendu au moins ``attendu_min_surdispersion`` et appliqué
        s'il dépasse 1 (ou 0).
    seuil_secret : int, default 5
        Seuil du secret : une cellule masquée à la source vaut entre 1 et seuil − 1.
    geometrie : geopandas.GeoDataFrame, optional
        Contours des unités du niveau (colonne ``code``) : lissage spatial et Moran local.
    moran : bool, default False
        Calculer le Moran local sur les ratios (999 permutations, graine fixe).
    noms : mapping, optional
        Noms des unités agrégées (départements…) absents de ``communes``.
    attendu_min_surdispersion : float, default 10

    Returns
    -------
    pandas.DataFrame
        Une ligne par unité (colonnes :data:`COLONNES`, plus les groupes englobants pour
        les communes) ; ``attrs`` : ``taux_reference`` (pour 1 000),
        ``taux_reference_par_zone``, ``taux_reference_par_lot``, ``zone_reference``,
        ``phi``, ``phi_applique``, ``tau2``, ``surdispersion``, ``n_unites_surdispersion``,
        ``alpha``, ``fdr``, ``seuil_p``, ``attendu_minimal``, ``non_localise``,
        ``hors_perimetre_lot``, ``annees``, ``n_annees``, ``lots``, ``niveau``,
        ``avertissements``.
    """
    verifier_niveau(niveau)
    base = base_communale(valeurs, communes, territoire=territoire, population=population,
                          code_map=code_map,
                          territoires_contributeurs=territoires_contributeurs,
                          sources_non_bornees=sources_non_bornees,
                          zone_reference=zone_reference, seuil_secret=seuil_secret,
                          couvertures=couvertures, groupes_sources=groupes_sources)
    return analyser_unites(base, valeurs, niveau, code_map=code_map, alpha=alpha, fdr=fdr,
                           surdispersion=surdispersion, geometrie=geometrie, moran=moran,
                           noms=noms, attendu_min_surdispersion=attendu_min_surdispersion)


def base_communale(
    valeurs: pd.DataFrame,
    communes: pd.DataFrame,
    *,
    territoire: Iterable[str] | None = None,
    population: pd.Series | Mapping[int, pd.Series] | None = None,
    code_map: Mapping[str, str] | None = None,
    territoires_contributeurs: Mapping[str, str] | None = None,
    sources_non_bornees: Collection[str] = (),
    zone_reference: str = "departement",
    seuil_secret: int = 5,
    couvertures: Mapping[tuple[str, int], Collection[str]] | None = None,
    groupes_sources: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Effectifs et attendus des communes restituées : la base de tous les niveaux.

    Première moitié de :func:`analyser_table`, à calculer une fois quand on veut
    plusieurs niveaux (:func:`analyser_unites` ensuite pour chacun) : les niveaux
    agrégés sont alors des sommes des mêmes communes, avec les mêmes attendus.

    Parameters
    ----------
    valeurs, communes, territoire, population, code_map, territoires_contributeurs
        Voir :func:`analyser_table`.
    sources_non_bornees : collection of str, default ()
        Voir :func:`analyser_table`.
    zone_reference : {"departement", "arrondissement", "territoire"}
    seuil_secret : int, default 5
    couvertures, groupes_sources : mapping, optional
        Voir :func:`observatoire.stats.measures.mesurer_communes`.

    Returns
    -------
    pandas.DataFrame
        Table de :func:`~observatoire.stats.measures.mesurer_communes` (avec
        ``attendu``, ``attendu_min``, ``attendu_max``) restreinte au territoire ;
        ``attrs`` : ceux des mesures plus ``_avertissements``, ``_borne``, ``_seuil`` et
        ``_zone_reference`` (internes).
    """
    if zone_reference not in ZONES_REFERENCE:
        raise ObservatoireError(
            f"Aire de référence « {zone_reference} » inconnue : choisissez parmi "
            f"{', '.join(ZONES_REFERENCE)} (clé zone_reference de config/territoire.toml)."
        )
    borne = max(int(seuil_secret) - 1, 1)
    codes_t = None if territoire is None else {str(c) for c in territoire}
    dans_t = (np.ones(len(communes), bool) if codes_t is None
              else communes["code_insee"].astype(str).isin(codes_t).to_numpy())
    base = mesurer_communes(valeurs, communes, population=population, code_map=code_map,
                            territoires_contributeurs=territoires_contributeurs,
                            borne_masque=borne, sources_non_bornees=sources_non_bornees,
                            couvertures=couvertures, groupes_sources=groupes_sources,
                            zone_reference=zone_reference, dans_territoire=dans_t)
    avert: list[str] = []
    inconnue = base["couvert"].to_numpy(bool) & ~base["population_connue"].to_numpy(bool)
    attrs = dict(base.attrs)
    base = base[dans_t].reset_index(drop=True)
    inconnue = inconnue[dans_t]
    if inconnue.any():
        manquantes = base.loc[inconnue, "code"].tolist()
        avert.append(f"population inconnue pour {len(manquantes)} commune(s) : "
                     f"{', '.join(manquantes[:10])} (ni taux ni attendu pour elles)")
    if attrs.get("hors_perimetre_lot") or attrs.get("hors_perimetre_lot_masques"):
        avert.append(f"{attrs['hors_perimetre_lot']} cas (et "
                     f"{attrs['hors_perimetre_lot_masques']} cellule(s) masquée(s)) déclarés "
                     f"par une source dans des communes hors de son périmètre : non comptés "
                     f"(vérifiez le territoire du contributeur dans le registre, ou le "
                     f"périmètre du lot)")
    base.attrs = attrs
    base.attrs.update({"_avertissements": avert, "_borne": borne,
                       "_seuil": int(seuil_secret), "_zone_reference": zone_reference})
    return base


def _modele(surdispersion: bool | str) -> str:
    if surdispersion is True:
        return "multiplicative"
    if surdispersion is False or surdispersion is None:
        return "aucune"
    return str(surdispersion)


def analyser_unites(
    base: pd.DataFrame,
    valeurs: pd.DataFrame,
    niveau: str = "commune",
    *,
    code_map: Mapping[str, str] | None = None,
    alpha: float = 0.05,
    fdr: bool = True,
    surdispersion: bool | str = True,
    geometrie=None,
    moran: bool = False,
    noms: Mapping[str, str] | None = None,
    attendu_min_surdispersion: float = poisson.ATTENDU_MIN_SURDISPERSION,
) -> pd.DataFrame:
    """Tests, lissage et étiquettes d'un niveau, à partir de :func:`base_communale`.

    Seconde moitié de :func:`analyser_table` : agrège la base au niveau demandé puis
    estime la surdispersion, les probabilités, les taux lissés et les étiquettes de ses
    unités (:func:`observatoire.stats.labels.etiqueter_intervalles`, la même règle pour
    les effectifs exacts et pour ceux qu'on ne connaît que par un intervalle).

    Parameters
    ----------
    base : pandas.DataFrame
        Sortie de :func:`base_communale` (non modifiée).
    valeurs : pandas.DataFrame
        Les valeurs qui ont servi à la base (gardé pour la compatibilité : les sources de
        chaque unité viennent de la base).
    niveau, code_map, alpha, fdr, surdispersion, geometrie, moran, noms
        Voir :func:`analyser_table`.
    attendu_min_surdispersion : float, default 10

    Returns
    -------
    pandas.DataFrame
        Voir :func:`analyser_table`.
    """
    verifier_niveau(niveau)
    avert = list(base.attrs["_avertissements"])
    borne = base.attrs["_borne"]
    seuil_secret = base.attrs["_seuil"]
    zone_reference = base.attrs["_zone_reference"]
    t = agreger(base, niveau, noms=noms)
    t.attrs = {k: v for k, v in t.attrs.items() if not k.startswith("_")}
    if "n_communes" not in t:
        t["n_communes"] = 1

    e = t["attendu"].to_numpy(float)
    e_lo = t["attendu_min"].to_numpy(float)
    e_hi = t["attendu_max"].to_numpy(float)
    pa = t["personnes_annees"].to_numpy(float)
    obs = t["observe"].to_numpy(dtype=float, na_value=np.nan)
    omin = t["observe_min"].to_numpy(dtype=float, na_value=np.nan)
    omax = t["observe_max"].to_numpy(dtype=float, na_value=np.nan)
    couvert = t["couvert"].to_numpy(bool)
    with np.errstate(invalid="ignore"):
        exploitable = couvert & ~np.isnan(omin) & (pa > 0) & (e > 0)
    # Cellule non diffusée par une source à sa propre règle (SSMSI) : pas de maximum.
    libre = t["n_masques_libres"].to_numpy(int) > 0 if "n_masques_libres" in t \
        else np.zeros(len(t), bool)
    omax = np.where(libre & exploitable, np.inf, omax)
    modele = _modele(surdispersion)
    disp = poisson.estimer_dispersion(np.where(exploitable, obs, np.nan), e, modele,
                                      attendu_min=attendu_min_surdispersion)
    phi_a, tau2_a = disp.phi_applique, disp.tau2_applique

    motif_inconnu = np.where(
        ~couvert, "hors du périmètre des sources : aucune source retenue ne couvre "
                  + ("l'unité" if niveau != "commune" else "la commune")
                  + " (effectif inconnu, ni nul ni secret)",
        np.where(np.isnan(pa) | np.isnan(e), "population inconnue",
                 np.where(pa > 0, "effectif inconnu", "population nulle"))).astype(object)
    lab = _labels.etiqueter_intervalles(
        omin, omax, e, phi=phi_a, tau2=tau2_a, alpha=alpha, fdr=fdr, attendu_min=e_lo,
        attendu_max=e_hi, connu=exploitable, motif_inconnu=motif_inconnu)
    seuil_p = lab.attrs["seuil_p"]
    label = np.array(lab["label"], dtype=object)
    motif = np.array(lab["motif"], dtype=object)
    flou = libre & exploitable & (label == _labels.NON_CONCLUANT) & np.isinf(omax)
    motif[flou] = ("valeur non diffusée par la source (règle de diffusion du SSMSI) : "
                   "un déficit ne peut être ni établi ni exclu")
    # Hors du périmètre des sources : pas d'étiquette du tout (ni « non concluant »).
    label[~couvert] = None
    with np.errstate(invalid="ignore", divide="ignore"):
        t["ratio"] = np.where(e > 0, obs / e, np.nan)
        t["taux"] = np.where(pa > 0, obs / pa * 1000.0, np.nan)
        g_lo, g_hi = poisson.garwood(np.where(exploitable | (couvert & (pa > 0)), omin, np.nan),
                                     np.where(couvert, omax, np.nan))
        t["ratio_ic95_bas"] = np.where(e > 0, g_lo / e, np.nan)
        t["ratio_ic95_haut"] = np.where(e > 0, g_hi / e, np.nan)
        t["taux_ic95_bas"] = np.where(pa > 0, g_lo / pa * 1000.0, np.nan)
        t["taux_ic95_haut"] = np.where(pa > 0, g_hi / pa * 1000.0, np.nan)
    # Lissage (sur le ratio O/E, ramené au taux) : les cellules masquées entrent dans les
    # moments à leur valeur médiane plausible, mais leur propre taux lissé reste inconnu.
    impute = (t["observe_connu"].to_numpy(float)
              + (t["n_masques"].to_numpy(float) - t.get("n_masques_libres", 0))
              * (1 + borne) / 2
              + np.asarray(t.get("n_masques_libres", 0), dtype=float) * borne / 2)
    with np.errstate(invalid="ignore"):
        lisse_ok = couvert & (pa > 0) & (e > 0)
    echelle = np.where(lisse_ok, e / np.where(pa > 0, pa, 1.0) * 1000.0, np.nan)
    theta = np.full(len(t), np.nan)
    if lisse_ok.any():
        theta[lisse_ok] = smoothing.bayes_empirique(impute[lisse_ok], e[lisse_ok])
    t["taux_lisse"] = np.where(np.isnan(obs), np.nan, theta * echelle)
    t["ratio_lisse"] = np.where(np.isnan(obs), np.nan, theta)
    # Bornes du ratio lissé d'une unité masquée (indice de priorité sur un intervalle).
    th_lo, th_hi = np.full(len(t), np.nan), np.full(len(t), np.nan)
    if lisse_ok.any():
        th_lo[lisse_ok], th_hi[lisse_ok] = smoothing.bayes_empirique_intervalle(
            impute[lisse_ok], e[lisse_ok], omin[lisse_ok], omax[lisse_ok])
    t["ratio_lisse_min"], t["ratio_lisse_max"] = th_lo, th_hi
    t["taux_lisse_spatial"] = np.nan
    if geometrie is not None:
        geo = geometrie.set_index(geometrie["code"].astype(str)).reindex(t["code"])
        if geo.geometry.isna().any():
            avert.append(f"{int(geo.geometry.isna().sum())} unité(s) sans contour : lissage "
                         f"spatial et Moran local calculés sans elles")
        sel = lisse_ok & ~geo.geometry.isna().to_numpy()
        if sel.sum() >= 2:
            # Les communes masquées restent dans le graphe de voisinage (valeur médiane
            # plausible) : le masque ne crée pas d'îles.
            w = smoothing.contiguite_reine(geo.geometry[sel])
            seb = smoothing.bayes_empirique_spatial(impute[sel], e[sel], w)
            full = np.full(len(t), np.nan)
            full[sel] = seb * echelle[sel]
            t["taux_lisse_spatial"] = np.where(np.isnan(obs), np.nan, full)
            if moran:
                mo = smoothing.moran_local_taux(impute[sel], e[sel], geo.geometry[sel])
                dedans = np.flatnonzero(sel)
                connu_sel = ~np.isnan(obs[sel])
                for col in mo:
                    vals = mo[col].to_numpy(object if col == "moran_local_groupe" else float)
                    serie = pd.Series(vals[connu_sel], index=dedans[connu_sel])
                    t[col] = serie
    else:
        avert.append("contours non importés : lissage spatial, Moran local et distances "
                     "non calculés (observatoire referentiel importer …)")
    for col in ("p_exces", "p_defaut", "p_bilaterale", "q_bh"):
        t[col] = lab[col].to_numpy(float)
    t["limite_95_basse"] = lab["limite_basse"].to_numpy(float)
    t["limite_95_haute"] = lab["limite_haute"].to_numpy(float)
    lo998, hi998 = _labels.limites_test(e, 0.002, phi=phi_a, tau2=tau2_a, attendu_min=e_lo,
                                        attendu_max=e_hi)
    t["limite_998_basse"] = np.where(exploitable, lo998, np.nan)
    t["limite_998_haute"] = np.where(exploitable, hi998, np.nan)
    t["ratio_detectable_haut"] = lab["ratio_detectable_haut"].to_numpy(float)
    t["ratio_detectable_bas"] = lab["ratio_detectable_bas"].to_numpy(float)
    t["label"], t["motif"] = label, motif
    t["couverture_libelle"] = t["couverture"].map(COUVERTURES).to_numpy(object)
    t.attrs.update({k: v for k, v in base.attrs.items() if not k.startswith("_")})
    annees = t.attrs.get("annees") or []
    reg = _labels.suggerer_regroupement(t, alpha=alpha, phi=phi_a,
                                        annee_max=max(annees) if annees else None,
                                        attendu_minimal=lab.attrs["attendu_minimal"])
    t["regroupement"], t["regroupement_suggere"] = reg["regroupement"], reg["regroupement_suggere"]

    groupes = [c for c in ("epci", "epci_nom", "arrondissement", "arrondissement_nom",
                           "departement", "departement_nom") if c in t and c != "code"]
    ordre = list(COLONNES[:3]) + groupes + list(COLONNES[3:])
    autres = [c for c in t.columns if c not in ordre and c not in ("observe_connu",)]
    t = t[[c for c in ordre if c in t] + autres].copy()
    couverts = base["couvert"].to_numpy(bool)
    n_hors = int((t["couverture"] == HORS_PERIMETRE).sum())
    if n_hors:
        avert.append(f"{n_hors} unité(s) hors du périmètre des sources retenues : ni effectif, "
                     f"ni étiquette (ce n'est ni zéro, ni secret)")
    t.attrs.update({
        "niveau": niveau,
        "zone_reference": zone_reference,
        "taux_reference": 1000.0 * _ref_territoire(base, couverts),
        "taux_reference_par_zone": {k: 1000.0 * v for k, v in
                                    t.attrs.get("taux_reference_par_zone", {}).items()},
        "taux_reference_par_lot": {k: {z: 1000.0 * r for z, r in d.items()} for k, d in
                                   t.attrs.get("taux_reference_par_lot", {}).items()},
        "surdispersion": disp.modele,
        "phi": float(disp.phi),
        "phi_applique": bool(disp.appliquee),
        "tau2": float(disp.tau2),
        "n_unites_surdispersion": int(disp.n_unites),
        "attendu_min_surdispersion": float(attendu_min_surdispersion),
        "alpha": float(alpha),
        "fdr": bool(fdr),
        "seuil_p": float(seuil_p),
        "attendu_minimal": float(lab.attrs["attendu_minimal"]),
        "n_etiquetees": int(lab.attrs["n_etiquetees"]),
        "n_testees": int(lab.attrs["n_testees"]),
        "seuil_secret": int(seuil_secret),
        "avertissements": avert,
        "type": "analyse",
    })
    return t


def _ref_territoire(base: pd.DataFrame, couverts: np.ndarray) -> float:
    """Taux attendu moyen du territoire restitué (attendu total / personnes-années)."""
    pa = base["personnes_annees"].to_numpy(float)
    e = base["attendu"].to_numpy(float)
    with np.errstate(invalid="ignore"):
        ok = couverts & (pa > 0) & np.isfinite(e)
    return float(e[ok].sum() / pa[ok].sum()) if ok.any() else float("nan")


def _territoires_contributeurs() -> dict[str, str]:
    try:
        from observatoire import catalogues

        return catalogues.territoires_declares()
    except (ImportError, ObservatoireError, FileNotFoundError):
        # Sans registre, chaque source est réputée couvrir tout le territoire.
        return {}


def _sources_non_bornees() -> frozenset[str]:
    """Sources publiques du registre (SSMSI), aux cellules non diffusées non bornées.

    Leur règle de diffusion n'est pas notre seuil du secret : une cellule non diffusée
    peut valoir 0 comme davantage que le seuil.
    """
    try:
        from observatoire import catalogues

        return frozenset(c.identifiant for c in catalogues.load_contributeurs()
                         if c.source_publique)
    except (ImportError, ObservatoireError, FileNotFoundError):
        return frozenset()


def charger_geometrie(niveau: str):
    """Contours du niveau si le référentiel est importé, sinon None (avec la raison).

    Returns
    -------
    tuple
        ``(GeoDataFrame ou None, message ou None)``.
    """
    try:
        from observatoire import referentiel
    except ImportError:
        return None, "module referentiel indisponible"
    try:
        return referentiel.load_layer(niveau), None
    except ObservatoireError as exc:
        return None, str(exc)


def analyser(
    annees: int | Iterable[int],
    indicateur: str,
    *,
    contributeurs: Iterable[str] | None = None,
    niveau: str = "commune",
    denominateur: str = "population",
    engine=None,
    zone_reference: str | None = None,
    alpha: float = 0.05,
    fdr: bool | None = None,
    geometrie="auto",
    moran: bool = False,
    valeurs: pd.DataFrame | None = None,
    surdispersion: bool | str | None = None,
) -> pd.DataFrame:
    """Tableau d'analyse d'un indicateur pour une ou plusieurs années cumulées.

    Parameters
    ----------
    annees : int or iterable of int
        Année(s) ; plusieurs années sont cumulées (dénominateur en personnes-années).
    indicateur : str
        Code du catalogue (``victimes_accueillies``…).
    contributeurs : iterable of str, optional
        Sources retenues (toutes par défaut) ; leurs effectifs s'additionnent, chacune
        sur son périmètre.
    niveau : {"commune", "epci", "arrondissement", "departement"}
    denominateur : str, default "population"
        ``"population"`` (municipale de chaque année si importée, sinon actuelle) ou une
        catégorie importée par
        :func:`observatoire.stats.denominateurs.importer_populations` (``femmes_15_64``…).
    engine : sqlalchemy.engine.Engine, optional
    zone_reference : str, optional
        Par défaut ``settings().zone_reference``.
    alpha, moran
        Voir :func:`analyser_table`.
    fdr : bool, optional
        Benjamini–Hochberg ; par défaut ``controle_multiplicite`` de la section
        ``[analyse]`` de ``config/territoire.toml`` (vrai).
    geometrie : GeoDataFrame, None or "auto"
        ``"auto"`` : contours importés s'il y en a ; None : pas de calcul spatial.
    valeurs : pandas.DataFrame, optional
        Valeurs déjà lues (sinon ``storage.current_values``).
    surdispersion : bool or str, optional
        Modèle (``multiplicative``, ``additive``, ``aucune``) ; par défaut
        ``surdispersion`` de ``[analyse]``.

    Returns
    -------
    pandas.DataFrame
        Voir :func:`analyser_table`. Vue complète (agents) : le public ne lit jamais ces
        tableaux, mais les diffusions validées (:mod:`observatoire.diffusion`), protégées
        ensemble. ``attrs`` en plus : ``indicateur``, ``denominateur``, ``denominateurs`` (d'où
        vient la population de chaque année), ``sources_manquantes`` (lots attendus par la
        campagne et absents : laissés de côté, effectifs comme attendus).

    Raises
    ------
    DonneesAbsentesError
        Aucune valeur pour la sélection (message : importer ou lancer la démonstration).

    Examples
    --------
    >>> from observatoire.stats import analyser  # doctest: +SKIP
    >>> t = analyser(2024, "victimes_accueillies", niveau="epci")  # doctest: +SKIP
    """
    verifier_niveau(niveau)
    geometries = "auto" if isinstance(geometrie, str) else {niveau: geometrie}
    return analyser_niveaux(
        annees, indicateur, niveaux=(niveau,), contributeurs=contributeurs,
        denominateur=denominateur, engine=engine, zone_reference=zone_reference, alpha=alpha,
        fdr=fdr, geometries=geometries, moran=moran, valeurs=valeurs,
        surdispersion=surdispersion)[niveau]


def contexte_lots(valeurs: pd.DataFrame, univers: pd.DataFrame, *, engine=None) -> dict:
    """Périmètre de chaque lot, groupes de sources et sources non bornées du registre.

    Returns
    -------
    dict
        ``territoires_contributeurs``, ``couvertures`` (``(contributeur, année)`` →
        communes), ``groupes_sources``, ``sources_non_bornees`` : les paramètres de
        :func:`base_communale` qui viennent du registre et des lots.
    """
    from observatoire.stats.perimetres import couvertures_lots, perimetres_des_lots

    terr = _territoires_contributeurs()
    perimetres = perimetres_des_lots(valeurs["lot_id"], engine) if "lot_id" in valeurs \
        else {}
    try:
        from observatoire import catalogues

        groupes = catalogues.groupes_sources(terr)
    except ObservatoireError:
        groupes = {}
    return {"territoires_contributeurs": terr,
            "couvertures": couvertures_lots(valeurs, univers, territoires=terr,
                                            perimetres=perimetres),
            "groupes_sources": groupes, "sources_non_bornees": _sources_non_bornees()}


def _denominateurs(denominateur: str, annees: list[int], univers: pd.DataFrame,
                   engine) -> tuple[dict, dict, list[str]]:
    """Population de chaque année, d'où elle vient, avertissements."""
    from observatoire.stats.denominateurs import POPULATION, populations_par_annee

    pops, sources = populations_par_annee(annees, denominateur, engine=engine)
    avert = []
    codes = univers["code_insee"].astype(str)
    if denominateur == POPULATION:
        ref = pd.Series(univers["population"].astype(float).to_numpy(), index=codes)
        for annee, s in pops.items():
            if s is None:
                continue
            manque = ~codes.isin(s.index)
            if manque.any():
                # Commune absente des populations de l'année : population du référentiel.
                s = pd.concat([s, ref[manque.to_numpy()]])
                pops[annee] = s
                sources[str(annee)] += (f" ; {int(manque.sum())} commune(s) absente(s) de "
                                        f"cette table : population actuelle du référentiel")
    sans = [a for a, s in pops.items() if s is None]
    if sans and denominateur == POPULATION:
        avert.append("dénominateur : population actuelle du référentiel des communes pour "
                     + ", ".join(map(str, sans)) + " (aucune population de l'année importée)")
    return pops, sources, avert


def analyser_niveaux(
    annees: int | Iterable[int],
    indicateur: str,
    *,
    niveaux: Iterable[str] = tuple(NIVEAUX),
    contributeurs: Iterable[str] | None = None,
    denominateur: str = "population",
    engine=None,
    zone_reference: str | None = None,
    alpha: float = 0.05,
    fdr: bool | None = None,
    geometries="auto",
    moran: bool = False,
    valeurs: pd.DataFrame | None = None,
    surdispersion: bool | str | None = None,
) -> dict[str, pd.DataFrame]:
    """:func:`analyser` pour plusieurs niveaux à la fois, les communes mesurées une fois.

    Les valeurs sont lues, les communes mesurées et le plan du secret secondaire établi
    une seule fois ; chaque niveau est ensuite agrégé de cette même base
    (:func:`analyser_unites`). Le résultat de chaque niveau est identique à celui de
    :func:`analyser` pour ce niveau (c'est la même fonction).

    Parameters
    ----------
    annees, indicateur, contributeurs, denominateur, engine, zone_reference, alpha, fdr,
    moran, valeurs, surdispersion
        Voir :func:`analyser`.
    niveaux : iterable of str
        Niveaux voulus, parmi ``commune``, ``epci``, ``arrondissement``, ``departement``.
    geometries : dict, None or "auto"
        Niveau -> contours (GeoDataFrame, ou None pour ne rien calculer de spatial) ;
        ``"auto"`` : contours importés, s'il y en a, pour chaque niveau.

    Returns
    -------
    dict
        Niveau -> tableau d'analyse (vue agents, voir :func:`analyser`).

    Raises
    ------
    DonneesAbsentesError
        Aucune valeur pour la sélection.

    Examples
    --------
    >>> from observatoire.stats import analyser_niveaux  # doctest: +SKIP
    >>> t = analyser_niveaux(2024, "faits_constates", niveaux=["commune", "epci"])  # doctest: +SKIP
    >>> t["epci"]  # doctest: +SKIP
    """
    from observatoire import communes as _communes
    from observatoire import storage
    from observatoire.config import settings
    from observatoire.stats.perimetres import sources_manquantes

    annees = [int(annees)] if isinstance(annees, (int, np.integer)) else [int(a) for a in annees]
    niveaux = [verifier_niveau(n) for n in dict.fromkeys(niveaux)]
    s = settings()
    fdr = s.fdr if fdr is None else bool(fdr)
    surdispersion = s.surdispersion if surdispersion is None else surdispersion
    if valeurs is None:
        valeurs = storage.current_values(engine, annees, [indicateur], contributeurs,
                                         departement=s.departement)
    else:
        valeurs = selectionner(valeurs, indicateur, annees, contributeurs)
    if valeurs.empty:
        raise DonneesAbsentesError(
            f"Aucune valeur pour l'indicateur « {indicateur} » en "
            f"{', '.join(map(str, annees))}"
            + (f" (sources : {', '.join(contributeurs)})" if contributeurs else "")
            + ". Importez les tableaux des contributeurs (observatoire contributions "
              "importer …) ou lancez « observatoire demo » pour un jeu fictif."
        )
    univers = _communes.load_communes(s.departement)
    territoire = _communes.load_territoire()["code_insee"]
    population, sources_pop, avert_pop = _denominateurs(denominateur, annees, univers, engine)
    code_map = _communes.current_code_map()
    ctx = contexte_lots(valeurs, univers, engine=engine)
    manquantes = sources_manquantes(valeurs, annees, indicateur, contributeurs)
    base = base_communale(
        valeurs, univers, territoire=territoire, population=population, code_map=code_map,
        zone_reference=zone_reference or s.zone_reference, seuil_secret=s.seuil_secret,
        **ctx)
    base.attrs["_avertissements"] = list(base.attrs["_avertissements"]) + avert_pop + [
        f"source attendue absente : {m['nom']} ({m['contributeur']}), {m['annee']} — "
        f"laissée de côté cette année-là, pour les effectifs comme pour les attendus ; les "
        f"communes qu'elle seule devait couvrir sont hors du périmètre des sources"
        for m in manquantes]
    noms = None
    if "departement" in niveaux:
        d = _communes.load_departements()
        noms = dict(zip(d["departement"], d["nom"], strict=True))
    out = {}
    for niveau in niveaux:
        if isinstance(geometries, str) and geometries == "auto":
            geo, _raison = charger_geometrie(niveau)
        else:
            geo = (geometries or {}).get(niveau)
        t = analyser_unites(base, valeurs, niveau, code_map=code_map, alpha=alpha, fdr=fdr,
                            surdispersion=surdispersion, geometrie=geo, moran=moran, noms=noms,
                            attendu_min_surdispersion=s.attendu_min_surdispersion)
        t.attrs.update({"indicateur": indicateur, "denominateur": denominateur,
                        "annees_demandees": annees, "denominateurs": sources_pop,
                        "sources_manquantes": manquantes})
        out[niveau] = t
    return out


def analyser_regroupement(table: pd.DataFrame, regroupement: str, **kwargs) -> pd.DataFrame:
    """Relance l'analyse avec le regroupement suggéré (« 3_annees », « epci »…).

    Parameters
    ----------
    table : pandas.DataFrame
        Résultat de :func:`analyser` (ses ``attrs`` disent l'indicateur et les années).
    regroupement : {"3_annees", "epci", "arrondissement"}
    **kwargs
        Autres paramètres passés à :func:`analyser` (``contributeurs``, ``engine``…).

    Returns
    -------
    pandas.DataFrame
        Trois années cumulées jusqu'à la dernière année de ``table``, ou le niveau
        demandé pour les mêmes années.
    """
    annees = table.attrs.get("annees_demandees") or table.attrs.get("annees")
    indicateur = table.attrs.get("indicateur")
    if not annees or not indicateur:
        raise ObservatoireError(
            "Ce tableau ne dit pas son indicateur et ses années : relancez analyser()."
        )
    if regroupement == "3_annees":
        fin = max(annees)
        return analyser([fin - 2, fin - 1, fin], indicateur, niveau=table.attrs.get(
            "niveau", "commune"), **kwargs)
    if regroupement in ("epci", "arrondissement", "departement"):
        return analyser(annees, indicateur, niveau=regroupement, **kwargs)
    raise ObservatoireError(
        f"Regroupement « {regroupement} » inconnu : 3_annees, epci ou arrondissement."
    )
