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
    "mesurer_communes",
    "sources_croisees",
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
    if code_map is not None:
        # Une ancienne commune (fusionnée depuis) compte pour sa commune actuelle.
        codes = codes.map(lambda c: code_map.get(c, c) if isinstance(c, str) else None)
    return codes


def _couverture(valeurs: pd.DataFrame, communes: pd.DataFrame,
                territoires: Mapping[str, str] | None) -> tuple[pd.Series, pd.Series]:
    """Nombre de lots (contributeur × année) couvrant chaque commune, et nombre de lots."""
    lots = valeurs[["contributeur", "annee"]].drop_duplicates()
    n = np.zeros(len(communes), dtype=int)
    for contrib in lots["contributeur"]:
        terr = (territoires or {}).get(contrib)
        if not terr:
            n += 1
            continue
        terr = str(terr)
        dedans = (communes["arrondissement"] == terr) | (communes["departement"] == terr) | (
            communes["epci"] == terr)
        n += dedans.to_numpy().astype(int)
    return pd.Series(n, index=communes["code_insee"].to_numpy()), len(lots)


def mesurer_communes(
    valeurs: pd.DataFrame,
    communes: pd.DataFrame,
    *,
    population: pd.Series | None = None,
    code_map: Mapping[str, str] | None = None,
    territoires_contributeurs: Mapping[str, str] | None = None,
    borne_masque: int = 4,
    sources_non_bornees: Collection[str] = (),
) -> pd.DataFrame:
    """Effectifs par commune pour une sélection de valeurs (années, indicateur, sources).

    Parameters
    ----------
    valeurs : pandas.DataFrame
        Sortie de :func:`observatoire.storage.current_values` déjà filtrée : colonnes
        ``annee``, ``contributeur``, ``code_insee`` (None = non localisé), ``valeur``
        (``<NA>`` si masquée à la source), ``masque``.
    communes : pandas.DataFrame
        Communes analysées (``code_insee``, ``nom``, ``population``, ``epci``,
        ``epci_nom``, ``arrondissement``, ``arrondissement_nom``, ``departement``).
    population : pandas.Series, optional
        Dénominateur annuel indexé par code INSEE ; par défaut la population municipale.
    code_map : mapping, optional
        Ancien code → commune actuelle (:func:`observatoire.communes.current_code_map`).
    territoires_contributeurs : mapping, optional
        Contributeur → code du territoire qu'il couvre (arrondissement, département ou
        EPCI). Un contributeur absent est réputé couvrir toutes les communes.
    borne_masque : int, default 4
        Plus grande valeur possible d'une cellule masquée à la source (seuil − 1).
    sources_non_bornees : collection of str, default ()
        Sources dont les cellules masquées suivent leur propre règle de diffusion et ne
        sont donc pas bornées par le seuil (le SSMSI ne diffuse une commune qu'avec plus
        de 5 faits sur chacune de 3 années successives : une cellule non diffusée peut
        valoir 0 comme 12). Une telle cellule vaut au moins 0, sans maximum :
        ``observe_max`` est alors inconnu.

    Returns
    -------
    pandas.DataFrame
        Une ligne par commune de ``communes`` (y compris sans aucun cas : 0), colonnes
        ``code``, ``nom``, ``niveau``, groupes (``epci``, ``arrondissement``,
        ``departement`` et leurs noms), ``population``, ``personnes_annees``,
        ``observe`` (Int64, ``<NA>`` si inconnu), ``observe_connu``, ``n_masques``,
        ``n_masques_libres`` (dont cellules de ``sources_non_bornees``), ``masque``,
        ``observe_min``, ``observe_max``, ``nb_sources``, ``couvert`` (au
        moins une source couvre la commune), ``couvert_partiel`` (certaines sources
        seulement la couvrent : information, pas un défaut). ``attrs`` :
        ``non_localise``, ``non_localise_masques``, ``hors_territoire``, ``annees``,
        ``n_annees``, ``contributeurs``.
    """
    communes = communes.reset_index(drop=True)
    codes_communes = communes["code_insee"].astype(str)
    v = valeurs.copy()
    v["code"] = _normaliser_codes(v, code_map)
    connus = set(codes_communes)
    localise = v["code"].isin(connus)
    nl = v[v["code"].isna()]
    hors = v[v["code"].notna() & ~localise]
    v = v[localise]
    valeur = v["valeur"].astype("Float64").fillna(0).astype(float)
    masq = v["masque"].astype(bool).to_numpy()
    libre = masq & v["contributeur"].isin(list(sources_non_bornees)).to_numpy()
    v = v.assign(_val=valeur.to_numpy(), _masq=masq, _libre=libre)
    par_source = v.groupby(["code", "contributeur"]).agg(s=("_val", "sum"), m=("_masq", "sum"))
    # Une cellule masquée à la source vaut au moins 1 : la source a signalé au moins un cas.
    par_source["signale"] = (par_source["s"] > 0) | (par_source["m"] > 0)
    nb_sources = par_source.groupby(level="code")["signale"].sum()
    agg = v.groupby("code").agg(connu=("_val", "sum"), n_masques=("_masq", "sum"),
                                n_libres=("_libre", "sum"))

    out = pd.DataFrame({"code": codes_communes, "nom": communes["nom"].to_numpy(),
                        "niveau": "commune"})
    for col in _GROUPES:
        if col in communes:
            out[col] = communes[col].to_numpy()
    pop = communes["population"].astype(float)
    if population is not None:
        pop = codes_communes.map(population).astype(float)
    annees = sorted({int(a) for a in valeurs["annee"]}) if len(valeurs) else []
    n_annees = max(len(annees), 1)
    out["population"] = pop.to_numpy()
    # Plusieurs années cumulées : le dénominateur est en personnes-années.
    out["personnes_annees"] = out["population"] * n_annees
    connu = codes_communes.map(agg["connu"]).fillna(0).to_numpy()
    n_masq = codes_communes.map(agg["n_masques"]).fillna(0).astype(int).to_numpy()
    n_libres = codes_communes.map(agg["n_libres"]).fillna(0).astype(int).to_numpy()
    n_cov, n_lots = _couverture(valeurs, communes, territoires_contributeurs)
    n_cov = n_cov.to_numpy()
    # Les sources se partagent souvent le territoire (police en zone police, gendarmerie
    # ailleurs ; ISCG de Béthune et ISCG du reste du département) : une commune est
    # couverte dès qu'une source au moins la couvre. Hors de toute source, son effectif
    # est inconnu, pas nul.
    aucun = n_cov == 0 if n_lots else np.zeros(len(out), bool)
    couvert = ~aucun
    out["observe_connu"] = connu.astype(int)
    out["n_masques"] = n_masq
    out["n_masques_libres"] = n_libres
    out["masque"] = n_masq > 0
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
    out["nb_sources"] = codes_communes.map(nb_sources).fillna(0).astype(int).to_numpy()
    out["couvert"] = couvert
    out["couvert_partiel"] = ~aucun & (n_cov < max(n_lots, 1))
    nl_val = nl["valeur"].astype("Float64").fillna(0)
    out.attrs.update({
        "non_localise": int(nl_val.sum()),
        "non_localise_masques": int(nl["masque"].astype(bool).sum()),
        "hors_territoire": int(hors["valeur"].astype("Float64").fillna(0).sum()),
        "hors_territoire_masques": int(hors["masque"].astype(bool).sum()),
        "annees": annees,
        "n_annees": n_annees,
        "contributeurs": sorted({str(c) for c in valeurs["contributeur"]}),
    })
    return out


def _sum_int64(s: pd.Series) -> object:
    # Somme « stricte » : une seule commune inconnue rend l'agrégat inconnu.
    return pd.NA if s.isna().any() else int(s.sum())


def agreger(table: pd.DataFrame, niveau: str,
            noms: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Agrège une table communale (:func:`mesurer_communes`) au niveau demandé.

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
        l'est ; ``couvert`` vaut vrai si toutes les communes le sont ; ``n_communes``.
        Les colonnes additives (``attendu`` si présente) sont sommées aussi.
    """
    verifier_niveau(niveau)
    if niveau == "commune":
        return table.copy()
    key, nom_col = NIVEAUX[niveau]
    g = table.groupby(key, sort=True)
    out = pd.DataFrame({"code": list(g.groups)})
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
    sommes = [c for c in ("population", "personnes_annees", "observe_connu", "n_masques",
                          "n_masques_libres", "attendu") if c in table]
    s = g[sommes].sum()
    for c in sommes:
        out[c] = out["code"].map(s[c]).to_numpy()
    for c in ("observe", "observe_min", "observe_max"):
        out[c] = pd.array(out["code"].map(g[c].agg(_sum_int64)).tolist(), dtype="Int64")
    out["n_masques"] = out["n_masques"].astype(int)
    if "n_masques_libres" in out:
        out["n_masques_libres"] = out["n_masques_libres"].astype(int)
    out["observe_connu"] = out["observe_connu"].astype(int)
    out["masque"] = out["n_masques"] > 0
    out["couvert"] = out["code"].map(g["couvert"].all()).astype(bool)
    out["couvert_partiel"] = out["code"].map(g["couvert_partiel"].any()).astype(bool)
    out["n_communes"] = out["code"].map(g.size()).astype(int)
    out.attrs.update(table.attrs)
    return out


def sources_croisees(valeurs: pd.DataFrame, codes: Iterable[str],
                     code_map: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Croisement des sources : pour chaque commune, quelles sources signalent ≥ 1 cas.

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
    v = valeurs.copy()
    v["code"] = _normaliser_codes(v, code_map)
    v = v[v["code"].notna()]
    signale = (v["valeur"].astype("Float64").fillna(0) > 0) | v["masque"].astype(bool)
    v = v[signale.to_numpy()]
    par = v.groupby("code")["contributeur"].agg(lambda s: sorted(set(map(str, s))))
    out = pd.DataFrame({"code": [str(c) for c in codes]})
    listes = out["code"].map(par)
    out["nb_sources"] = listes.map(lambda x: len(x) if isinstance(x, list) else 0).astype(int)
    out["sources"] = listes.map(lambda x: "|".join(x) if isinstance(x, list) else "")
    out["aucun_cas"] = out["nb_sources"] == 0
    return out
