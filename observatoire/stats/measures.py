"""Mesures : effectifs par commune et par niveau, non localisés, masqués, dénominateurs, taux.

Fonctions pures : elles reçoivent les valeurs stockées (``storage.current_values``) et la
table des communes (``communes.load_communes``) et rendent des DataFrames. Les agrégats
(EPCI, arrondissement, département) sont toujours des sommes de communes, ce qui garantit
la cohérence entre niveaux.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

import numpy as np
import pandas as pd

from observatoire.errors import ObservatoireError

__all__ = [
    "NIVEAUX",
    "DonneesAbsentesError",
    "agreger",
    "matrice_sources",
    "mesurer_communes",
    "sources_croisees",
    "textes_sources",
    "union_sources",
]

#: Niveaux d'analyse : colonne de regroupement et colonne du nom dans la table des communes.
NIVEAUX: dict[str, tuple[str, str]] = {
    "commune": ("code_insee", "nom"),
    "epci": ("epci", "epci_nom"),
    "arrondissement": ("arrondissement", "arrondissement_nom"),
    "departement": ("departement", "departement_nom"),
}

_GROUPES = ("epci", "epci_nom", "arrondissement", "arrondissement_nom", "departement",
            "departement_nom")


class DonneesAbsentesError(ObservatoireError):
    """Aucune valeur pour la sélection demandée."""


def verifier_niveau(niveau: str) -> str:
    """Valide ``niveau`` et le renvoie (message français sinon)."""
    if niveau not in NIVEAUX:
        raise ObservatoireError(
            f"Niveau « {niveau} » inconnu : choisissez parmi {', '.join(NIVEAUX)}."
        )
    return niveau


def selectionner(valeurs: pd.DataFrame, indicateur: str, annees: Iterable[int] | None = None,
                 contributeurs: Iterable[str] | None = None) -> pd.DataFrame:
    """Valeurs déjà lues restreintes à un indicateur, des années et des sources.

    Le même filtre que :func:`observatoire.storage.current_values` applique dans la base,
    pour un appelant qui a lu les valeurs une fois et les analyse plusieurs fois.

    Parameters
    ----------
    valeurs : pandas.DataFrame
        Sortie de :func:`~observatoire.storage.current_values`.
    indicateur : str
    annees, contributeurs : iterable, optional
        None = pas de filtre.

    Returns
    -------
    pandas.DataFrame
    """
    keep = valeurs["indicateur"] == indicateur
    if annees is not None:
        keep &= valeurs["annee"].isin([int(a) for a in annees])
    if contributeurs is not None:
        keep &= valeurs["contributeur"].isin(list(contributeurs))
    return valeurs[keep]


def _normaliser_codes(valeurs: pd.DataFrame, code_map: Mapping[str, str] | None) -> pd.Series:
    codes = valeurs["code_insee"].astype("object")
    if code_map:
        # Une ancienne commune (fusionnée depuis) compte pour sa commune actuelle.
        mapped = codes.map(code_map)
        codes = mapped.where(mapped.notna(), codes)
    return codes.where(codes.notna(), None)


def _population_annee(population, annee: int, codes: pd.Series,
                      reference: np.ndarray) -> np.ndarray:
    """Dénominateur d'une année : la série de l'année, la série unique, ou la référence."""
    if isinstance(population, Mapping):
        pop = population.get(int(annee))
    else:
        pop = population
    if pop is None:
        return reference
    return codes.map(pop).astype(float).to_numpy()


def _zones(communes: pd.DataFrame, zone_reference: str,
           dans_territoire: np.ndarray | None) -> np.ndarray:
    if zone_reference == "territoire":
        dedans = np.ones(len(communes), bool) if dans_territoire is None else dans_territoire
        return np.where(dedans, 0, 1)
    return pd.factorize(communes[zone_reference].astype(str))[0]


def _noms_zones(communes: pd.DataFrame, zone_reference: str, z: np.ndarray) -> list[str]:
    if zone_reference == "territoire":
        return ["territoire", "hors"]
    cles = communes[zone_reference].astype(str).to_numpy()
    noms = [""] * (int(z.max()) + 1 if z.size else 0)
    for k, c in zip(z, cles, strict=True):
        noms[k] = c
    return noms


def matrice_sources(codes_idx: np.ndarray, contrib_idx: np.ndarray, n: int,
                    n_sources: int) -> np.ndarray:
    """Matrice booléenne unités × sources : la source signale au moins un cas dans l'unité."""
    m = np.zeros((n, max(n_sources, 1)), dtype=bool)
    if codes_idx.size:
        m[codes_idx, contrib_idx] = True
    return m[:, :n_sources] if n_sources else m[:, :0]


def textes_sources(matrice: np.ndarray, noms: list[str]) -> np.ndarray:
    """Identifiants des sources de chaque ligne de ``matrice``, séparés par « | »."""
    if matrice.shape[0] == 0:
        return np.array([], dtype=object)
    if matrice.shape[1] == 0:
        return np.full(matrice.shape[0], "", dtype=object)
    # Peu de combinaisons distinctes : on ne fabrique chaque texte qu'une fois.
    uniques, inverse = np.unique(matrice, axis=0, return_inverse=True)
    textes = np.array(["|".join(n for n, b in zip(noms, row, strict=True) if b)
                       for row in uniques], dtype=object)
    return textes[np.asarray(inverse).ravel()]


def union_sources(textes: pd.Series | np.ndarray, groupes: np.ndarray,
                  n_groupes: int) -> np.ndarray:
    """Union, par groupe, des sources de ses unités (textes « a|b »), vectorisée."""
    t = pd.Series(np.asarray(textes, dtype=object)).fillna("")
    uniques, inverse = np.unique(t.to_numpy(str), return_inverse=True)
    noms = sorted({x for u in uniques for x in u.split("|") if x})
    pos = {n: k for k, n in enumerate(noms)}
    lignes = np.zeros((len(uniques), len(noms)), dtype=bool)
    for k, u in enumerate(uniques):
        for x in u.split("|"):
            if x:
                lignes[k, pos[x]] = True
    par_unite = lignes[np.asarray(inverse).ravel()]
    out = np.zeros((n_groupes, len(noms)), dtype=bool)
    np.logical_or.at(out, np.asarray(groupes), par_unite)
    return textes_sources(out, noms)


def mesurer_communes(
    valeurs: pd.DataFrame,
    communes: pd.DataFrame,
    *,
    population: pd.Series | Mapping[int, pd.Series] | None = None,
    code_map: Mapping[str, str] | None = None,
    territoires_contributeurs: Mapping[str, str] | None = None,
    borne_masque: int = 4,
    sources_non_bornees: Collection[str] = (),
    couvertures: Mapping[tuple[str, int], Collection[str]] | None = None,
    groupes_sources: Mapping[str, str] | None = None,
    zone_reference: str | None = None,
    dans_territoire: np.ndarray | None = None,
) -> pd.DataFrame:
    """Effectifs (et attendus par source) par commune pour une sélection de valeurs.

    Chaque lot (contributeur × année) a son périmètre : ``couvertures`` s'il est donné,
    sinon le territoire déclaré du contributeur (``territoires_contributeurs``), sinon
    toutes les communes. Dans son périmètre, une commune absente du lot compte 0 ; hors
    de lui, le lot ne dit rien d'elle (ses valeurs éventuelles y sont écartées et
    comptées dans ``attrs["hors_perimetre_lot"]``). Une commune n'est « couverte » que
    si un lot au moins la couvre ; hors de tout lot, son effectif est inconnu, pas nul.

    Avec ``zone_reference``, l'attendu est calculé **par source** (standardisation
    indirecte) : pour chaque lot, taux = cas du lot / population de l'année sur la partie
    de l'aire de référence qu'il couvre ; l'attendu d'une commune est la somme, sur les
    lots qui la couvrent, de sa population de l'année × ce taux. Les cellules masquées
    entrent dans ces taux par leurs bornes (``attendu_min`` : toutes à 1, 0 pour une
    source non bornée ; ``attendu_max`` : toutes à ``borne_masque``) ; ``attendu`` les
    compte au milieu.

    Parameters
    ----------
    valeurs : pandas.DataFrame
        Sortie de :func:`observatoire.storage.current_values` déjà filtrée : colonnes
        ``annee``, ``contributeur``, ``code_insee`` (None = non localisé), ``valeur``
        (``<NA>`` si masquée à la source), ``masque``.
    communes : pandas.DataFrame
        Communes analysées (``code_insee``, ``nom``, ``population``, ``epci``,
        ``epci_nom``, ``arrondissement``, ``arrondissement_nom``, ``departement``).
    population : Series or mapping année → Series, optional
        Dénominateur annuel indexé par code INSEE, ou un par année ; par défaut (et pour
        une année absente du mapping) la population municipale du référentiel. Une
        valeur manquante est une population inconnue (NaN), jamais nulle.
    code_map : mapping, optional
        Ancien code → commune actuelle (:func:`observatoire.communes.current_code_map`).
    territoires_contributeurs : mapping, optional
        Contributeur → territoire déclaré (syntaxe de
        :func:`observatoire.catalogues.communes_couvertes`). Un contributeur absent est
        réputé couvrir toutes les communes.
    borne_masque : int, default 4
        Plus grande valeur possible d'une cellule masquée à la source (seuil − 1).
    sources_non_bornees : collection of str, default ()
        Sources dont les cellules masquées suivent leur propre règle de diffusion (le
        SSMSI) : une telle cellule vaut au moins 0, sans maximum ; ``observe_max`` est
        alors inconnu. Dans le taux de référence, elle compte de 0 à ``borne_masque``
        (hypothèse documentée : la non-diffusion touche de petits effectifs).
    couvertures : mapping, optional
        ``(contributeur, année)`` → codes couverts par le lot (périmètre enregistré).
    groupes_sources : mapping, optional
        Contributeur → groupe (:func:`observatoire.catalogues.groupes_sources`) : les
        sources d'un groupe se partagent un territoire (police et gendarmerie).
    zone_reference : {"departement", "arrondissement", "territoire"}, optional
        Aire de référence des attendus ; None : pas d'attendu.
    dans_territoire : array_like of bool, optional
        Communes du territoire servi (aire « territoire »).

    Returns
    -------
    pandas.DataFrame
        Une ligne par commune de ``communes``, colonnes ``code``, ``nom``, ``niveau``,
        groupes (``epci``, ``arrondissement``, ``departement`` et leurs noms),
        ``population`` (dénominateur de la dernière année), ``personnes_annees``
        (somme, sur les années où un lot au moins couvre la commune, de sa population),
        ``observe`` (Int64, ``<NA>`` si inconnu), ``observe_connu``, ``n_masques``,
        ``n_masques_libres``, ``masque``, ``observe_min``, ``observe_max``,
        ``nb_sources``, ``sources``, ``n_lots`` (lots qui couvrent la commune),
        ``couvert``, ``couvert_partiel`` (un groupe de sources présent une année ne la
        couvre pas cette année-là), ``couverture`` (``complete``, ``partielle``,
        ``hors_perimetre``), ``population_connue`` ; avec ``zone_reference`` :
        ``attendu``, ``attendu_min``, ``attendu_max`` (NaN hors périmètre). ``attrs`` :
        ``non_localise``, ``non_localise_masques``, ``hors_territoire``,
        ``hors_perimetre_lot``, ``hors_perimetre_lot_masques``, ``annees``,
        ``n_annees``, ``contributeurs``, ``lots`` ; avec ``zone_reference`` :
        ``taux_reference_par_zone`` (par personne-année, somme des sources),
        ``taux_reference_par_lot``.
    """
    from observatoire.stats.perimetres import (
        COMPLETE,
        HORS_PERIMETRE,
        PARTIELLE,
        matrice_couverture,
    )

    communes = communes.reset_index(drop=True)
    codes_communes = communes["code_insee"].astype(str)
    codes_np = codes_communes.to_numpy(object)
    n = len(communes)
    v = valeurs.copy()
    v["code"] = _normaliser_codes(v, code_map)
    pos = pd.Index(codes_np)
    idx = pos.get_indexer(v["code"].to_numpy(object))
    nl = v[v["code"].isna().to_numpy()]
    hors = v[v["code"].notna().to_numpy() & (idx < 0)]
    annee_v = v["annee"].to_numpy(dtype=np.int64)
    annees = [int(a) for a in np.unique(annee_v)]
    n_annees = max(len(annees), 1)
    # Lot de chaque valeur, sans boucle Python : (source, année) codés en un entier.
    c_code, c_uniques = pd.factorize(v["contributeur"].astype(str), sort=True)
    a_code = np.searchsorted(np.asarray(annees, dtype=np.int64), annee_v)
    cle = c_code.astype(np.int64) * max(len(annees), 1) + a_code
    cles, lot_de_valeur = np.unique(cle, return_inverse=True)
    lots = [(str(c_uniques[k // max(len(annees), 1)]), int(annees[k % max(len(annees), 1)]))
            for k in cles]
    cov = matrice_couverture(lots, codes_np, couvertures, territoires_contributeurs, communes)

    loc = idx >= 0
    vl = v[loc]
    ci = idx[loc]
    li = np.asarray(lot_de_valeur, dtype=np.int64).ravel()[loc]
    val = vl["valeur"].astype("Float64").fillna(0).to_numpy(float)
    masq = vl["masque"].astype(bool).to_numpy()
    libre = masq & vl["contributeur"].isin(list(sources_non_bornees)).to_numpy()
    dedans = cov[li, ci] if len(vl) else np.zeros(0, bool)
    hp_val = float(val[~dedans & ~masq].sum())
    hp_masq = int((~dedans & masq).sum())
    ci, li, val, masq, libre = ci[dedans], li[dedans], val[dedans], masq[dedans], libre[dedans]

    ref_pop = communes["population"].astype(float).to_numpy()
    pops = {a: _population_annee(population, a, codes_communes, ref_pop) for a in annees}
    if not pops:
        pops = {0: _population_annee(population, 0, codes_communes, ref_pop)}
    z = _zones(communes, zone_reference, dans_territoire) if zone_reference else None
    nz = int(z.max()) + 1 if z is not None and z.size else 0
    bornes = masq & ~libre

    connu = np.bincount(ci, weights=val, minlength=n)
    n_masq = np.bincount(ci, weights=masq, minlength=n).astype(int)
    n_libres = np.bincount(ci, weights=libre, minlength=n).astype(int)
    couvert_annee = {a: np.zeros(n, bool) for a in annees}
    groupe_annee: dict[tuple[str, int], np.ndarray] = {}
    e_mid, e_lo, e_hi = np.zeros(n), np.zeros(n), np.zeros(n)
    taux_lot: dict[str, dict[str, float]] = {}
    taux_zone = np.zeros(nz)
    noms_z = _noms_zones(communes, zone_reference, z) if z is not None else []
    ordre = np.argsort(li, kind="stable")
    debuts = np.searchsorted(li[ordre], np.arange(len(lots) + 1))
    mi = (1 + borne_masque) / 2.0
    for k, (contrib, annee) in enumerate(lots):
        c_k = cov[k]
        couvert_annee[annee] |= c_k
        g = (groupes_sources or {}).get(contrib, contrib)
        groupe_annee[(g, annee)] = groupe_annee.get((g, annee), np.zeros(n, bool)) | c_k
        if z is None:
            continue
        sel = ordre[debuts[k]:debuts[k + 1]]
        o_k = np.bincount(ci[sel], weights=val[sel], minlength=n)
        m_k = np.bincount(ci[sel], weights=bornes[sel], minlength=n)
        f_k = np.bincount(ci[sel], weights=libre[sel], minlength=n)
        pop = pops[annee]
        ok = c_k & np.isfinite(pop)
        cas = np.bincount(z[ok], weights=o_k[ok], minlength=nz)
        mz = np.bincount(z[ok], weights=m_k[ok], minlength=nz)
        fz = np.bincount(z[ok], weights=f_k[ok], minlength=nz)
        pz = np.bincount(z[ok], weights=pop[ok], minlength=nz)
        with np.errstate(invalid="ignore", divide="ignore"):
            r_lo = np.where(pz > 0, (cas + mz) / pz, 0.0)
            r_mid = np.where(pz > 0, (cas + mz * mi + fz * borne_masque / 2.0) / pz, 0.0)
            r_hi = np.where(pz > 0, (cas + (mz + fz) * borne_masque) / pz, 0.0)
        # Population inconnue : attendu inconnu (NaN), jamais nul.
        e_mid += np.where(c_k, pop * r_mid[z], 0.0)
        e_lo += np.where(c_k, pop * r_lo[z], 0.0)
        e_hi += np.where(c_k, pop * r_hi[z], 0.0)
        taux_zone += r_mid / n_annees
        taux_lot[f"{contrib} {annee}"] = {noms_z[j]: float(r_mid[j]) for j in range(nz)
                                          if pz[j] > 0}

    n_lots_couv = cov.sum(axis=0).astype(int) if len(lots) else np.zeros(n, int)
    couvert = n_lots_couv > 0 if lots else np.zeros(n, bool)
    # En partie couverte : un groupe de sources présent dans la sélection ne couvre pas la
    # commune une des années (source absente cette année-là, ou hors de son territoire).
    partiel = np.zeros(n, bool)
    for g in {g for g, _a in groupe_annee}:
        for a in annees:
            partiel |= ~groupe_annee.get((g, a), np.zeros(n, bool))
    partiel &= couvert
    out = pd.DataFrame({"code": codes_communes, "nom": communes["nom"].to_numpy(),
                        "niveau": "commune"})
    for col in _GROUPES:
        if col in communes:
            out[col] = communes[col].to_numpy()
    derniere = pops[max(pops)]
    out["population"] = derniere
    with np.errstate(invalid="ignore"):
        pa = np.zeros(n)
        for a in annees:
            pa += np.where(couvert_annee[a], pops[a], 0.0)
    out["personnes_annees"] = np.where(couvert, pa, np.nan)
    out["population_connue"] = ~np.isnan(pa) & np.isfinite(derniere)
    out["observe_connu"] = connu.astype(int)
    out["n_masques"] = n_masq
    out["n_masques_libres"] = n_libres
    out["masque"] = n_masq > 0
    aucun = ~couvert
    obs = pd.array(connu.astype(int), dtype="Int64")
    obs[(n_masq > 0) | aucun] = pd.NA
    out["observe"] = obs
    # Cellule masquée bornée : entre 1 et la borne ; non bornée : au moins 0, sans maximum.
    n_bornes = n_masq - n_libres
    omin = pd.array((connu + n_bornes).astype(int), dtype="Int64")
    omax = pd.array((connu + n_bornes * borne_masque).astype(int), dtype="Int64")
    omin[aucun] = pd.NA
    omax[aucun | (n_libres > 0)] = pd.NA
    out["observe_min"] = omin
    out["observe_max"] = omax
    noms_sources = sorted({c for c, _a in lots})
    src_pos = {c: k for k, c in enumerate(noms_sources)}
    signale = (val > 0) | masq
    contrib_of_lot = np.array([src_pos[c] for c, _a in lots], dtype=np.int64)
    mat = matrice_sources(ci[signale], contrib_of_lot[li[signale]] if len(lots) else li[signale],
                          n, len(noms_sources))
    out["nb_sources"] = mat.sum(axis=1).astype(int)
    out["sources"] = textes_sources(mat, noms_sources)
    out["n_lots"] = n_lots_couv
    out["couvert"] = couvert
    out["couvert_partiel"] = partiel
    out["couverture"] = np.where(aucun, HORS_PERIMETRE, np.where(partiel, PARTIELLE,
                                                                  COMPLETE)).astype(object)
    if z is not None:
        for col, e in (("attendu", e_mid), ("attendu_min", e_lo), ("attendu_max", e_hi)):
            out[col] = np.where(couvert, e, np.nan)
    nl_val = nl["valeur"].astype("Float64").fillna(0)
    out.attrs.update({
        "non_localise": int(nl_val.sum()),
        "non_localise_masques": int(nl["masque"].astype(bool).sum()),
        "hors_territoire": int(hors["valeur"].astype("Float64").fillna(0).sum()),
        "hors_territoire_masques": int(hors["masque"].astype(bool).sum()),
        "hors_perimetre_lot": int(hp_val),
        "hors_perimetre_lot_masques": hp_masq,
        "annees": annees,
        "n_annees": n_annees,
        "contributeurs": [str(c) for c in c_uniques],
        "lots": [{"contributeur": c, "annee": a, "n_communes": int(cov[k].sum())}
                 for k, (c, a) in enumerate(lots)],
    })
    if z is not None:
        out.attrs["taux_reference_par_zone"] = {noms_z[j]: float(taux_zone[j])
                                                for j in range(nz)}
        out.attrs["taux_reference_par_lot"] = taux_lot
    return out


def agreger(table: pd.DataFrame, niveau: str,
            noms: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Agrège une table communale (:func:`mesurer_communes`) au niveau demandé.

    Un agrégat est la somme de ses communes **couvertes** : effectifs, attendus et
    personnes-années portent sur les mêmes communes (et les mêmes lots). ``population``
    reste celle de toute l'unité.

    Parameters
    ----------
    table : pandas.DataFrame
        Table communale.
    niveau : {"commune", "epci", "arrondissement", "departement"}
    noms : mapping, optional
        Code → nom des unités, quand la table ne porte pas la colonne de nom.

    Returns
    -------
    pandas.DataFrame
        Mêmes colonnes d'effectifs, sommées ; ``observe`` est inconnu dès qu'une commune
        couverte l'est ; ``couvert`` vaut vrai si une commune au moins l'est,
        ``couverture`` dit si toutes le sont (``complete``), une partie (``partielle``)
        ou aucune (``hors_perimetre``) ; ``n_communes``, ``n_communes_couvertes``.
    """
    from observatoire.stats.perimetres import COMPLETE, HORS_PERIMETRE, PARTIELLE

    verifier_niveau(niveau)
    if niveau == "commune":
        return table.copy()
    key, nom_col = NIVEAUX[niveau]
    codes, uniques = pd.factorize(table[key], sort=True)
    out = pd.DataFrame({"code": list(uniques)})
    if nom_col in table:
        out["nom"] = out["code"].map(table.groupby(key)[nom_col].first())
    elif noms is not None:
        out["nom"] = out["code"].map(noms)
    else:
        out["nom"] = out["code"]
    out["niveau"] = niveau
    # Le groupe englobant reste disponible pour le secret secondaire des totaux.
    if niveau in ("epci", "arrondissement") and "departement" in table:
        out["departement"] = out["code"].map(table.groupby(key)["departement"].first())
    m = len(uniques)
    couvert = (table["couvert"].to_numpy(bool) if "couvert" in table
               else np.ones(len(table), bool))

    def somme(col: str, sur_couvertes: bool = True) -> np.ndarray:
        x = pd.to_numeric(table[col], errors="coerce").to_numpy(float)
        keep = (couvert if sur_couvertes else np.ones(len(table), bool)) & ~np.isnan(x)
        return np.bincount(codes[keep], weights=x[keep], minlength=m)

    out["population"] = somme("population", False)
    for c in ("personnes_annees", "observe_connu", "n_masques", "n_masques_libres",
              "attendu", "attendu_min", "attendu_max"):
        if c in table:
            out[c] = somme(c)
    n_couv = np.bincount(codes[couvert], minlength=m)
    for c in ("observe", "observe_min", "observe_max"):
        if c not in table:
            continue
        x = table[c].astype("Float64")
        inconnu = (x.isna().to_numpy() & couvert)
        tot = np.bincount(codes[couvert & ~inconnu], weights=x.fillna(0).to_numpy(float)[
            couvert & ~inconnu], minlength=m)
        bad = np.bincount(codes[inconnu], minlength=m) > 0
        arr = pd.array(np.round(tot).astype(np.int64), dtype="Int64")
        arr[bad | (n_couv == 0)] = pd.NA
        out[c] = arr
    out["n_masques"] = out["n_masques"].astype(int)
    if "n_masques_libres" in out:
        out["n_masques_libres"] = out["n_masques_libres"].astype(int)
    out["observe_connu"] = out["observe_connu"].astype(int)
    out["masque"] = out["n_masques"] > 0
    n_com = np.bincount(codes, minlength=m)
    partiel_c = (table["couvert_partiel"].to_numpy(bool) if "couvert_partiel" in table
                 else np.zeros(len(table), bool))
    partiel = (np.bincount(codes[partiel_c], minlength=m) > 0) | (n_couv < n_com)
    out["couvert"] = n_couv > 0
    out["couvert_partiel"] = out["couvert"].to_numpy() & partiel
    out["couverture"] = np.where(n_couv == 0, HORS_PERIMETRE,
                                 np.where(partiel, PARTIELLE, COMPLETE)).astype(object)
    out["n_communes"] = n_com.astype(int)
    out["n_communes_couvertes"] = n_couv.astype(int)
    for c in ("personnes_annees", "attendu", "attendu_min", "attendu_max"):
        if c in out:
            out[c] = np.where(n_couv > 0, out[c].to_numpy(float), np.nan)
    if "sources" in table:
        out["sources"] = union_sources(table["sources"].where(couvert).to_numpy(object),
                                       codes, m)
        out["nb_sources"] = [len(s.split("|")) if s else 0 for s in out["sources"]]
    out.attrs.update(table.attrs)
    return out


def sources_croisees(valeurs: pd.DataFrame, codes: Iterable[str],
                     code_map: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Croisement des sources : pour chaque commune, quelles sources signalent ≥ 1 cas.

    Vectorisé : une matrice booléenne communes × sources, puis un texte par combinaison
    distincte de sources.

    Parameters
    ----------
    valeurs : pandas.DataFrame
        Valeurs stockées (toutes sources de la sélection).
    codes : iterable of str
        Communes à décrire (toutes figurent dans le résultat).
    code_map : mapping, optional
        Ancien code → commune actuelle.

    Returns
    -------
    pandas.DataFrame
        ``code``, ``nb_sources`` (contributeurs signalant au moins un cas, une cellule
        masquée à la source comptant comme un cas), ``sources`` (leurs identifiants,
        séparés par « | »), ``aucun_cas`` (vrai si aucune source ne signale de cas).
    """
    codes = pd.Index([str(c) for c in codes])
    v = valeurs[["contributeur", "code_insee", "valeur", "masque"]]
    code = _normaliser_codes(v, code_map).to_numpy(object)
    signale = ((v["valeur"].astype("Float64").fillna(0) > 0) | v["masque"].astype(bool)
               ).to_numpy(bool)
    ci = codes.get_indexer(code)
    keep = signale & (ci >= 0)
    c_idx, noms = pd.factorize(v["contributeur"].astype(str).to_numpy(object)[keep],
                               sort=True)
    mat = matrice_sources(ci[keep], c_idx, len(codes), len(noms))
    out = pd.DataFrame({"code": list(codes)})
    out["nb_sources"] = mat.sum(axis=1).astype(int)
    out["sources"] = textes_sources(mat, list(noms))
    out["aucun_cas"] = out["nb_sources"] == 0
    return out
