"""Analyse complète d'une sélection : attendus, ratios, probabilités, lissage, étiquettes.

:func:`analyser_table` est pure (DataFrames en entrée et en sortie) ;
:func:`analyser` la branche sur la base (``storage.current_values``), le référentiel des
communes et, quand il est importé, les contours (contiguïté pour le lissage spatial).
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
    sources_croisees,
    verifier_niveau,
)

__all__ = ["COLONNES", "ZONES_REFERENCE", "analyser", "analyser_niveaux", "analyser_regroupement",
           "analyser_table", "analyser_unites", "base_communale"]

#: Aires de référence du taux attendu.
ZONES_REFERENCE = ("departement", "arrondissement", "territoire")

#: Colonnes garanties du tableau d'analyse, dans cet ordre (d'autres peuvent suivre).
COLONNES = (
    "code", "nom", "niveau", "population", "personnes_annees", "observe", "n_masques",
    "masque", "observe_min", "observe_max", "attendu", "ratio", "taux", "taux_lisse",
    "taux_lisse_spatial", "p_exces", "p_defaut", "p_bilaterale", "q_bh",
    "limite_95_basse", "limite_95_haute", "limite_998_basse", "limite_998_haute",
    "label", "motif", "regroupement", "regroupement_suggere", "nb_sources", "sources",
    "couvert", "n_communes",
)


def _taux_reference(base: pd.DataFrame, zone: str, dans_territoire: np.ndarray,
                    borne_masque: int) -> tuple[np.ndarray, dict[str, float]]:
    """Taux de référence (par personne-année) de chaque commune, selon l'aire choisie."""
    utile = base["couvert"].to_numpy() & (base["personnes_annees"].to_numpy() > 0)
    # Une cellule masquée à la source vaut entre 1 et borne : on la compte au milieu.
    cas = base["observe_connu"].to_numpy(float) + base["n_masques"].to_numpy(float) * (
        1 + borne_masque) / 2
    pa = base["personnes_annees"].to_numpy(float)
    if zone == "territoire":
        cle = np.where(dans_territoire, "territoire", "hors")
    else:
        cle = base[zone].astype(str).to_numpy()
    df = pd.DataFrame({"cle": cle, "cas": np.where(utile, cas, 0.0),
                       "pa": np.where(utile, pa, 0.0)})
    s = df.groupby("cle")[["cas", "pa"]].sum()
    taux = (s["cas"] / s["pa"].where(s["pa"] > 0)).fillna(0.0)
    return df["cle"].map(taux).to_numpy(float), {str(k): float(v) for k, v in taux.items()}


def analyser_table(
    valeurs: pd.DataFrame,
    communes: pd.DataFrame,
    *,
    territoire: Iterable[str] | None = None,
    niveau: str = "commune",
    population: pd.Series | None = None,
    code_map: Mapping[str, str] | None = None,
    territoires_contributeurs: Mapping[str, str] | None = None,
    sources_non_bornees: Collection[str] = (),
    zone_reference: str = "departement",
    alpha: float = 0.05,
    fdr: bool = False,
    surdispersion: bool = True,
    seuil_secret: int = 5,
    geometrie=None,
    moran: bool = False,
    noms: Mapping[str, str] | None = None,
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
    population : pandas.Series, optional
        Dénominateur annuel par code INSEE (population municipale par défaut).
    code_map, territoires_contributeurs : mapping, optional
        Voir :func:`observatoire.stats.measures.mesurer_communes`.
    sources_non_bornees : collection of str, default ()
        Sources dont les cellules masquées ne sont pas bornées par le seuil (SSMSI) ; voir
        :func:`observatoire.stats.measures.mesurer_communes`. Une unité qui en a ne peut
        être ni « blanche présumée » ni « dans la norme » : « non concluant », sauf excès
        établi par la seule partie connue.
    zone_reference : {"departement", "arrondissement", "territoire"}
        Aire dont le taux sert à calculer l'attendu.
    alpha : float, default 0.05
        Niveau bilatéral des étiquettes (entonnoir à 95 %).
    fdr : bool, default False
        Contrôle du taux de fausses découvertes (Benjamini–Hochberg) entre unités.
    surdispersion : bool, default True
        Estimer φ et l'appliquer s'il dépasse 1.
    seuil_secret : int, default 5
        Seuil du secret : une cellule masquée à la source vaut entre 1 et seuil − 1.
    geometrie : geopandas.GeoDataFrame, optional
        Contours des unités du niveau (colonne ``code``) : lissage spatial et Moran local.
    moran : bool, default False
        Calculer le Moran local sur les taux (999 permutations, graine fixe).
    noms : mapping, optional
        Noms des unités agrégées (départements…) absents de ``communes``.

    Returns
    -------
    pandas.DataFrame
        Une ligne par unité (colonnes :data:`COLONNES`, plus les groupes englobants pour
        les communes) ; ``attrs`` : ``taux_reference`` (pour 1 000), ``taux_reference_par_zone``,
        ``zone_reference``, ``phi``, ``phi_applique``, ``alpha``, ``attendu_minimal``,
        ``non_localise``, ``annees``, ``n_annees``, ``niveau``, ``avertissements``.
    """
    verifier_niveau(niveau)
    base = base_communale(valeurs, communes, territoire=territoire, population=population,
                          code_map=code_map,
                          territoires_contributeurs=territoires_contributeurs,
                          sources_non_bornees=sources_non_bornees,
                          zone_reference=zone_reference, seuil_secret=seuil_secret)
    return analyser_unites(base, valeurs, niveau, code_map=code_map, alpha=alpha, fdr=fdr,
                           surdispersion=surdispersion, geometrie=geometrie, moran=moran,
                           noms=noms)


def base_communale(
    valeurs: pd.DataFrame,
    communes: pd.DataFrame,
    *,
    territoire: Iterable[str] | None = None,
    population: pd.Series | None = None,
    code_map: Mapping[str, str] | None = None,
    territoires_contributeurs: Mapping[str, str] | None = None,
    sources_non_bornees: Collection[str] = (),
    zone_reference: str = "departement",
    seuil_secret: int = 5,
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

    Returns
    -------
    pandas.DataFrame
        Table de :func:`~observatoire.stats.measures.mesurer_communes` restreinte au
        territoire, avec ``attendu`` ; ``attrs`` : ceux des mesures plus
        ``_ref_zones``, ``_avertissements``, ``_borne`` et ``_seuil`` (internes).
    """
    if zone_reference not in ZONES_REFERENCE:
        raise ObservatoireError(
            f"Aire de référence « {zone_reference} » inconnue : choisissez parmi "
            f"{', '.join(ZONES_REFERENCE)} (clé zone_reference de config/territoire.toml)."
        )
    borne = max(int(seuil_secret) - 1, 1)
    base = mesurer_communes(valeurs, communes, population=population, code_map=code_map,
                            territoires_contributeurs=territoires_contributeurs,
                            borne_masque=borne, sources_non_bornees=sources_non_bornees)
    codes_t = set(base["code"]) if territoire is None else {str(c) for c in territoire}
    dans_t = base["code"].isin(codes_t).to_numpy()
    ref, ref_zones = _taux_reference(base, zone_reference, dans_t, borne)
    base["attendu"] = base["personnes_annees"].to_numpy(float) * ref
    avert: list[str] = []
    if base["personnes_annees"].isna().any():
        manquantes = base.loc[base["personnes_annees"].isna(), "code"].tolist()
        avert.append(f"dénominateur manquant pour {len(manquantes)} commune(s) : "
                     f"{', '.join(manquantes[:10])}")
    attrs = dict(base.attrs)
    base = base[dans_t].reset_index(drop=True)
    base.attrs = attrs
    base.attrs.update({"_ref_zones": ref_zones, "_avertissements": avert, "_borne": borne,
                       "_seuil": int(seuil_secret), "_zone_reference": zone_reference})
    return base


def analyser_unites(
    base: pd.DataFrame,
    valeurs: pd.DataFrame,
    niveau: str = "commune",
    *,
    code_map: Mapping[str, str] | None = None,
    alpha: float = 0.05,
    fdr: bool = False,
    surdispersion: bool = True,
    geometrie=None,
    moran: bool = False,
    noms: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Tests, lissage et étiquettes d'un niveau, à partir de :func:`base_communale`.

    Seconde moitié de :func:`analyser_table` : agrège la base au niveau demandé puis
    estime φ, les probabilités, les taux lissés et les étiquettes de ses unités.

    Parameters
    ----------
    base : pandas.DataFrame
        Sortie de :func:`base_communale` (non modifiée).
    valeurs : pandas.DataFrame
        Les valeurs qui ont servi à la base (croisement des sources).
    niveau, code_map, alpha, fdr, surdispersion, geometrie, moran, noms
        Voir :func:`analyser_table`.

    Returns
    -------
    pandas.DataFrame
        Voir :func:`analyser_table`.
    """
    verifier_niveau(niveau)
    ref_zones = base.attrs["_ref_zones"]
    avert = list(base.attrs["_avertissements"])
    borne = base.attrs["_borne"]
    seuil_secret = base.attrs["_seuil"]
    zone_reference = base.attrs["_zone_reference"]
    t = agreger(base, niveau, noms=noms)
    t.attrs = {k: v for k, v in t.attrs.items() if not k.startswith("_")}

    # Sources croisées au niveau demandé (union des sources des communes).
    sc = sources_croisees(valeurs, base["code"], code_map)
    if niveau == "commune":
        t["nb_sources"] = sc["nb_sources"].to_numpy()
        t["sources"] = sc["sources"].to_numpy()
    else:
        key = NIVEAUX[niveau][0]
        grp = base[key].to_numpy()
        union = pd.Series(sc["sources"].to_numpy()).groupby(grp).agg(
            lambda s: sorted({x for v in s for x in v.split("|") if x}))
        t["sources"] = t["code"].map(lambda c: "|".join(union.get(c, [])))
        t["nb_sources"] = t["sources"].map(lambda s: len(s.split("|")) if s else 0)
    if "n_communes" not in t:
        t["n_communes"] = 1

    e = t["attendu"].to_numpy(float)
    pa = t["personnes_annees"].to_numpy(float)
    obs = t["observe"].to_numpy(dtype=float, na_value=np.nan)
    omin = t["observe_min"].to_numpy(dtype=float, na_value=np.nan)
    omax = t["observe_max"].to_numpy(dtype=float, na_value=np.nan)
    exploitable = t["couvert"].to_numpy(bool) & ~np.isnan(omin) & (pa > 0)
    # Cellule non diffusée par une source à sa propre règle (SSMSI) : pas de maximum.
    libre = t["n_masques_libres"].to_numpy(int) > 0 if "n_masques_libres" in t \
        else np.zeros(len(t), bool)
    omax = np.where(libre & exploitable, np.inf, omax)
    phi = poisson.surdispersion(np.where(exploitable, obs, np.nan), e) if surdispersion else 1.0
    phi_applique = max(phi, 1.0)
    # Effectif masqué à la source : chaque queue est calculée à la borne qui lui est la
    # moins favorable, si bien qu'une conclusion tirée malgré le masque reste valable.
    p_exces, _ = poisson.queues_poisson(np.where(exploitable, omin, np.nan), e, phi_applique)
    _, p_defaut = poisson.queues_poisson(np.where(exploitable, omax, np.nan), e, phi_applique)
    p_bil = poisson.p_bilaterale(p_exces, p_defaut)
    q = poisson.benjamini_hochberg(p_bil)
    with np.errstate(invalid="ignore", divide="ignore"):
        t["ratio"] = np.where(e > 0, obs / e, np.nan)
        t["taux"] = np.where(pa > 0, obs / pa * 1000.0, np.nan)
    # Lissage : les cellules masquées entrent dans les moments à leur valeur médiane
    # plausible, mais leur propre taux lissé reste inconnu.
    impute = t["observe_connu"].to_numpy(float) + t["n_masques"].to_numpy(float) * (1 + borne) / 2
    lisse_ok = t["couvert"].to_numpy(bool) & (pa > 0)
    eb = np.full(len(t), np.nan)
    if lisse_ok.any():
        eb[lisse_ok] = smoothing.bayes_empirique(impute[lisse_ok], pa[lisse_ok]) * 1000.0
    t["taux_lisse"] = np.where(np.isnan(obs), np.nan, eb)
    t["taux_lisse_spatial"] = np.nan
    if geometrie is not None:
        geo = geometrie.set_index(geometrie["code"].astype(str)).reindex(t["code"])
        if geo.geometry.isna().any():
            avert.append(f"{int(geo.geometry.isna().sum())} unité(s) sans contour : lissage "
                         f"spatial et Moran local calculés sans elles")
        sel = lisse_ok & ~geo.geometry.isna().to_numpy()
        if sel.sum() >= 2:
            w = smoothing.contiguite_reine(geo.geometry[sel])
            seb = smoothing.bayes_empirique_spatial(impute[sel], pa[sel], w) * 1000.0
            full = np.full(len(t), np.nan)
            full[sel] = seb
            t["taux_lisse_spatial"] = np.where(np.isnan(obs), np.nan, full)
            if moran:
                sel_m = sel & ~np.isnan(obs)
                mo = smoothing.moran_local_taux(obs[sel_m], pa[sel_m], geo.geometry[sel_m])
                for col in mo:
                    t[col] = pd.Series(mo[col].to_numpy(), index=np.flatnonzero(sel_m))
    else:
        avert.append("contours non importés : lissage spatial, Moran local et distances "
                     "non calculés (observatoire referentiel importer …)")
    t["p_exces"], t["p_defaut"], t["p_bilaterale"] = p_exces, p_defaut, p_bil
    t["q_bh"] = q
    for niv, nom in ((0.95, "95"), (0.998, "998")):
        lo, hi = poisson.limites_entonnoir(e, niv, phi_applique)
        t[f"limite_{nom}_basse"], t[f"limite_{nom}_haute"] = lo, hi
    motif_inconnu = np.where(
        ~t["couvert"].to_numpy(bool),
        np.where(t["n_communes"].to_numpy() > 1 if "n_communes" in t else False,
                 "une partie de l'unité est hors du périmètre des sources choisies",
                 "hors du périmètre des sources choisies"),
        np.where(pa > 0, "effectif inconnu", "population nulle"))
    lab, mot = _labels.etiqueter(e, p_exces, p_defaut, connu=exploitable, alpha=alpha,
                                 phi=phi_applique, q_valeurs=q if fdr else None,
                                 motif_inconnu=motif_inconnu)
    # Sans maximum, ni déficit ni conformité ne peuvent être établis ; un excès, si (la
    # partie connue suffit).
    flou = libre & exploitable & (lab != _labels.REVELATRICE)
    lab[flou] = _labels.NON_CONCLUANT
    mot[flou] = ("valeur non diffusée par la source (règle de diffusion du SSMSI) : "
                 "un déficit ne peut être ni établi ni exclu")
    t["label"], t["motif"] = lab, mot
    t.attrs.update({k: v for k, v in base.attrs.items() if not k.startswith("_")})
    annees = t.attrs.get("annees") or []
    reg = _labels.suggerer_regroupement(t, alpha=alpha, phi=phi_applique,
                                        annee_max=max(annees) if annees else None)
    t["regroupement"], t["regroupement_suggere"] = reg["regroupement"], reg["regroupement_suggere"]

    groupes = [c for c in ("epci", "epci_nom", "arrondissement", "arrondissement_nom",
                           "departement", "departement_nom") if c in t and c != "code"]
    ordre = list(COLONNES[:3]) + groupes + list(COLONNES[3:])
    autres = [c for c in t.columns if c not in ordre and c not in ("observe_connu",)]
    t = t[[c for c in ordre if c in t] + autres].copy()
    couverts = base["couvert"].to_numpy(bool)
    t.attrs.update({
        "niveau": niveau,
        "zone_reference": zone_reference,
        "taux_reference": 1000.0 * _ref_territoire(base, couverts, borne),
        "taux_reference_par_zone": {k: 1000.0 * v for k, v in ref_zones.items()},
        "phi": float(phi),
        "phi_applique": bool(phi > 1),
        "alpha": float(alpha),
        "fdr": bool(fdr),
        "attendu_minimal": poisson.attendu_minimal(alpha, phi_applique),
        "seuil_secret": int(seuil_secret),
        "avertissements": avert,
        "type": "analyse",
    })
    return t


def _ref_territoire(base: pd.DataFrame, couverts: np.ndarray, borne: int) -> float:
    """Taux attendu moyen du territoire restitué (attendu total / personnes-années)."""
    pa = base["personnes_annees"].to_numpy(float)
    e = base["attendu"].to_numpy(float)
    ok = couverts & (pa > 0)
    return float(e[ok].sum() / pa[ok].sum()) if ok.any() else float("nan")


def _territoires_contributeurs() -> dict[str, str]:
    try:
        from observatoire import catalogues

        return {c.identifiant: c.territoire for c in catalogues.load_contributeurs()}
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
    fdr: bool = False,
    geometrie="auto",
    moran: bool = False,
    valeurs: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Tableau d'analyse d'un indicateur pour une ou plusieurs années cumulées.

    Parameters
    ----------
    annees : int or iterable of int
        Année(s) ; plusieurs années sont cumulées (dénominateur en personnes-années).
    indicateur : str
        Code du catalogue (``victimes_accueillies``…).
    contributeurs : iterable of str, optional
        Sources retenues (toutes par défaut) ; leurs effectifs s'additionnent.
    niveau : {"commune", "epci", "arrondissement", "departement"}
    denominateur : str, default "population"
        ``"population"`` (municipale) ou une catégorie importée par
        :func:`observatoire.stats.denominateurs.importer_populations` (``femmes_15_64``…).
    engine : sqlalchemy.engine.Engine, optional
    zone_reference : str, optional
        Par défaut ``settings().zone_reference``.
    alpha, fdr, moran
        Voir :func:`analyser_table`.
    geometrie : GeoDataFrame, None or "auto"
        ``"auto"`` : contours importés s'il y en a ; None : pas de calcul spatial.
    valeurs : pandas.DataFrame, optional
        Valeurs déjà lues (sinon ``storage.current_values``).

    Returns
    -------
    pandas.DataFrame
        Voir :func:`analyser_table`. Vue complète (agents) : passer le résultat par
        :func:`observatoire.secrecy.apply_public` avant toute diffusion. Pour un niveau
        agrégé, la colonne ``total_protege`` dit quels totaux le secret secondaire masque.

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
        fdr=fdr, geometries=geometries, moran=moran, valeurs=valeurs)[niveau]


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
    fdr: bool = False,
    geometries="auto",
    moran: bool = False,
    valeurs: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """:func:`analyser` pour plusieurs niveaux à la fois, les communes mesurées une fois.

    Les valeurs sont lues, les communes mesurées et le plan du secret secondaire établi
    une seule fois ; chaque niveau est ensuite agrégé de cette même base
    (:func:`analyser_unites`). Le résultat de chaque niveau est identique à celui de
    :func:`analyser` pour ce niveau (c'est la même fonction).

    Parameters
    ----------
    annees, indicateur, contributeurs, denominateur, engine, zone_reference, alpha, fdr,
    moran, valeurs
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
    from observatoire import secrecy, storage
    from observatoire.config import settings
    from observatoire.stats.denominateurs import charger_population

    annees = [int(annees)] if isinstance(annees, (int, np.integer)) else [int(a) for a in annees]
    niveaux = [verifier_niveau(n) for n in dict.fromkeys(niveaux)]
    s = settings()
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
    population = None
    if denominateur != "population":
        population = charger_population(denominateur, max(annees), engine=engine)
    code_map = _communes.current_code_map()
    base = base_communale(
        valeurs, univers, territoire=territoire, population=population, code_map=code_map,
        territoires_contributeurs=_territoires_contributeurs(),
        sources_non_bornees=_sources_non_bornees(),
        zone_reference=zone_reference or s.zone_reference, seuil_secret=s.seuil_secret)
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
                            geometrie=geo, moran=moran, noms=noms)
        if niveau != "commune":
            # Le plan du secret secondaire se décide sur les communes : on le calcule ici
            # pour que la vue publique d'un niveau agrégé n'ait pas besoin de les relire.
            t["total_protege"] = secrecy.totaux_proteges(
                base, niveau, seuil=s.seuil_secret).reindex(t["code"]).fillna(
                False).to_numpy(bool)
        t.attrs.update({"indicateur": indicateur, "denominateur": denominateur,
                        "annees_demandees": annees})
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
