"""Jeu fictif de démonstration : de quoi faire vivre l'application dès la première heure.

``observatoire demo`` remplit une installation **vide** avec des données clairement
marquées fictives (``meta.mode = "demo"``, colonne ``demo`` de chaque lot, dispositif et
référent) :

- trois années de contributions des contributeurs du registre
  (``data/catalogues/contributeurs.csv``), sur chaque arrondissement du territoire
  configuré, tirées d'un modèle à graine fixe sur les populations réelles :
  Poisson de moyenne *population × taux de base × risque relatif × révélation ×
  tendance*. Le risque relatif combine un effet EPCI, un effet de bassin (communes
  partageant un code postal, donc voisines) et un effet communal gamma. Quelques bassins
  sous-révèlent (« zones blanches présumées » à retrouver par l'analyse), quelques
  communes sur-révèlent (« zones révélatrices ») ;
- des cases déjà masquées à la source (la gendarmerie masque les victimes de 1 à 4) et
  des effectifs non localisés ;
- des référents VIF dans 92 communes de l'arrondissement de Béthune, comme le rapporte
  le plan (lesquelles est fictif) ;
- les dispositifs nommés par le plan (registre initial) et un accueil de jour fictif par
  arrondissement (le plan en compte 7 sans dire où).

Rien de ce jeu ne se mêle à des données réelles : voir :func:`observatoire.batches.ensure_mode`.
:func:`is_demo` permet à chaque page et chaque export d'afficher :data:`DEMO_LABEL`.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterable

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from observatoire import communes, formats, registres, storage
from observatoire.batches import VALUE_COLUMNS, archive_path, store_batch
from observatoire.config import CATALOGUE_DIR, settings
from observatoire.errors import ModeIncompatibleError, ObservatoireError

#: Mention à porter sur toute page ou tout export alimenté par la démonstration.
DEMO_LABEL = "Données fictives de démonstration"
DEFAULT_YEARS = (2022, 2023, 2024)
DEFAULT_SEED = 62
#: Qui « importe » les lots de démonstration (journal).
DEMO_USER = "démonstration"
DEMO_SOURCE = "Données fictives de démonstration (observatoire demo)"

#: Le plan (fiche 4.03) : 92 communes de l'arrondissement de Béthune ont un référent VIF.
REFERENTS_ARRONDISSEMENT = "622"
REFERENTS_NOMBRE = 92

# Taux annuels de base pour 1 000 habitants, ordre de grandeur des VIF enregistrées en
# France (SSMSI : environ 5 ‰ de faits de violences intrafamiliales constatés).
BASE_RATES = {
    "faits_constates": 6.0,
    "victimes_enregistrees": 4.0,
    "interventions_domicile": 5.0,
    "victimes_accueillies": 1.5,
    "victimes_accompagnees": 1.0,
    "femmes_accueillies": 0.6,
    "familles_rencontrees": 0.7,
    "aides_urgence": 0.25,
    "personnes_recues": 0.4,
    "tgd_attribues": 0.04,
    "bar_attribues": 0.04,
    "ordonnances_protection": 0.15,
    "stages_responsabilisation": 0.25,
    "auteurs_pris_en_charge": 0.1,
}
# Indicateurs dérivés d'un autre (« dont » : binomiale ; enfants : Poisson proportionnelle).
DERIVED = {
    "victimes_accueillies_femmes": ("victimes_accueillies", "binomial", 0.85),
    "victimes_accueillies_mineures": ("victimes_accueillies", "binomial", 0.12),
    "accompagnements_plainte": (None, "binomial", 0.35),
    "enfants_exposes": (None, "poisson", 1.2),
}
#: Les contributeurs de ces types masquent eux-mêmes les effectifs de 1 à 4 de ces indicateurs.
MASKED_AT_SOURCE = {"gendarmerie": {"victimes_enregistrees"}}
#: Seuil de population séparant zone police et zone gendarmerie (fictif).
POLICE_MIN_POPULATION = 10_000
NON_LOCALISE_LABELS = ["Non renseigné", "Hors arrondissement", "Commune inconnue",
                       "Sans domicile stable"]


# --------------------------------------------------------------------------- modèle


def load_contributeurs() -> pd.DataFrame:
    """Contributeurs du registre (``data/catalogues/contributeurs.csv``) qui envoient un tableau.

    Les sources publiques (SSMSI), importées par l'observatoire lui-même, n'ont pas de
    lot fictif.
    """
    from observatoire.catalogues import PUBLIC_SOURCE_TYPE

    df = pd.read_csv(CATALOGUE_DIR / "contributeurs.csv", dtype=str, keep_default_na=False)
    return df[df["type"] != PUBLIC_SOURCE_TYPE].reset_index(drop=True)


def _territory_codes(territoire: str, frame: pd.DataFrame,
                     territoires: dict[str, str] | None = None) -> set[str]:
    """Communes couvertes par un territoire du registre (syntaxe des territoires)."""
    from observatoire.catalogues import communes_couvertes

    return set(communes_couvertes(territoire, frame, territoires=territoires))


def coverage(contributeurs: pd.DataFrame, territoire: pd.DataFrame) -> dict[str, list[str]]:
    """Communes dont chaque contributeur envoie les effectifs dans la démonstration.

    Un contributeur départemental laisse à un contributeur du même type au territoire plus
    étroit les communes de celui-ci (la police de Béthune envoie l'arrondissement de
    Béthune, la police départementale le reste) : aucune commune n'est comptée deux fois.
    Police et gendarmerie se partagent les communes selon :data:`POLICE_MIN_POPULATION`.

    Parameters
    ----------
    contributeurs : pandas.DataFrame
        Registre (colonnes ``identifiant``, ``type``, ``territoire``).
    territoire : pandas.DataFrame
        Communes du territoire configuré (:func:`observatoire.communes.load_territoire`).

    Returns
    -------
    dict
        Identifiant du contributeur → codes INSEE triés (liste vide : rien à envoyer).
    """
    registre = dict(zip(contributeurs["identifiant"], contributeurs["territoire"],
                        strict=True))
    own = {row.identifiant: _territory_codes(row.territoire, territoire, registre)
           for row in contributeurs.itertuples(index=False)}
    police = set(territoire.loc[territoire["population"] >= POLICE_MIN_POPULATION, "code_insee"])
    out = {}
    for row in contributeurs.itertuples(index=False):
        codes = set(own[row.identifiant])
        for other in contributeurs.itertuples(index=False):
            if (other.identifiant != row.identifiant and other.type == row.type
                    and own[other.identifiant] < own[row.identifiant]):
                codes -= own[other.identifiant]
        if row.type == "police":
            codes &= police
        elif row.type == "gendarmerie":
            codes -= police
        out[row.identifiant] = sorted(codes)
    return out


def _basin(frame: pd.DataFrame) -> pd.Series:
    # Premier code postal : les communes qui le partagent sont voisines (bassin postal).
    return frame["codes_postaux"].str.split("|").str[0].fillna(frame["code_insee"])


def model(graine: int = DEFAULT_SEED, territoire: pd.DataFrame | None = None) -> pd.DataFrame:
    """Risque relatif et taux de révélation fictifs de chaque commune.

    Parameters
    ----------
    graine : int
        Graine du générateur : même graine, même modèle.
    territoire : pandas.DataFrame, optional
        Communes (par défaut le territoire configuré).

    Returns
    -------
    pandas.DataFrame
        ``code_insee``, ``nom``, ``arrondissement``, ``epci``, ``bassin``, ``population``,
        ``risque`` (risque relatif, moyenne 1), ``revelation`` (1 ; 0,3 dans les zones
        blanches ; 2,2 dans les zones révélatrices), ``zone`` (``""``, ``"blanche"`` ou
        ``"revelatrice"``).
    """
    frame = (communes.load_territoire() if territoire is None else territoire)
    frame = frame.sort_values("code_insee").reset_index(drop=True)
    rng = np.random.default_rng([graine, 1])
    frame = frame[["code_insee", "nom", "arrondissement", "epci", "population",
                   "codes_postaux"]].copy()
    frame["bassin"] = _basin(frame)
    epcis = sorted(frame["epci"].unique())
    basins = sorted(frame["bassin"].unique())
    epci_effect = dict(zip(epcis, rng.normal(0, 0.20, len(epcis)), strict=True))
    basin_effect = dict(zip(basins, rng.normal(0, 0.15, len(basins)), strict=True))
    commune_effect = rng.gamma(shape=8.0, scale=1 / 8.0, size=len(frame))
    urban = (frame["population"] / frame["population"].median()) ** 0.05
    risk = (np.exp(frame["epci"].map(epci_effect) + frame["bassin"].map(basin_effect))
            * commune_effect * urban)
    frame["risque"] = risk / np.average(risk, weights=frame["population"])
    frame["revelation"] = 1.0
    frame["zone"] = ""
    # Zones blanches présumées : des bassins entiers (plusieurs communes voisines) où les
    # victimes ne sont pas vues, assez peuplés pour que le déficit soit décelable.
    pops = frame.groupby("bassin").agg(n=("code_insee", "size"), pop=("population", "sum"))
    eligible = pops[(pops["n"] >= 4) & (pops["pop"].between(5_000, 30_000))].index.tolist()
    by_arr = frame.groupby("bassin")["arrondissement"].first()
    chosen: list[str] = []
    # Au moins une zone blanche dans l'arrondissement de Béthune, s'il est servi.
    in_622 = [b for b in eligible if by_arr[b] == REFERENTS_ARRONDISSEMENT]
    if in_622:
        chosen.append(in_622[rng.integers(len(in_622))])
    others = [b for b in eligible if b not in chosen]
    n_more = min(len(others), max(0, 4 - len(chosen)))
    chosen += list(rng.choice(others, size=n_more, replace=False)) if n_more else []
    blank = frame["bassin"].isin(chosen)
    frame.loc[blank, "revelation"] = 0.3
    frame.loc[blank, "zone"] = "blanche"
    # Zones révélatrices : des communes moyennes où un relais local fait parler.
    candidates = frame.index[~blank & frame["population"].between(4_000, 40_000)]
    hot = rng.choice(candidates, size=min(6, len(candidates)), replace=False)
    frame.loc[hot, "revelation"] = 2.2
    frame.loc[hot, "zone"] = "revelatrice"
    return frame.drop(columns="codes_postaux")


def _indicators(row) -> list[str]:
    return [i for i in str(row.indicateurs).split("|") if i]


def generate_values(annees: Iterable[int] = DEFAULT_YEARS, graine: int = DEFAULT_SEED,
                    ) -> pd.DataFrame:
    """Valeurs fictives de toutes les contributions (sans rien écrire).

    Parameters
    ----------
    annees : iterable of int
        Années N des données.
    graine : int
        Même graine, mêmes valeurs.

    Returns
    -------
    pandas.DataFrame
        ``annee``, ``contributeur`` et les colonnes
        :data:`observatoire.batches.VALUE_COLUMNS` ; une ligne par (contributeur, année,
        commune couverte, indicateur), plus les lignes non localisées.
    """
    annees = sorted({int(a) for a in annees})
    if not annees:
        raise ObservatoireError("Donnez au moins une année (--annees 2022 2023 2024).")
    territoire = communes.load_territoire()
    base = model(graine, territoire).set_index("code_insee")
    contributeurs = load_contributeurs()
    cover = coverage(contributeurs, territoire)
    frames = []
    for k, row in enumerate(contributeurs.itertuples(index=False)):
        codes = cover[row.identifiant]
        indicators = [i for i in _indicators(row)]
        if not codes or not indicators:
            continue
        sub = base.loc[codes]
        # Chaque contributeur a sa propre couverture du public (effet fixe par contributeur).
        rng = np.random.default_rng([graine, 2, k])
        reach = rng.uniform(0.8, 1.25)
        for year in annees:
            yrng = np.random.default_rng([graine, 3, k, year])
            trend = 1 + 0.06 * (year - annees[0])
            mu_scale = sub["population"] / 1000 * sub["risque"] * sub["revelation"] * trend * reach
            drawn: dict[str, np.ndarray] = {}
            primaries = [i for i in indicators if i in BASE_RATES]
            for ind in primaries:
                drawn[ind] = yrng.poisson(mu_scale * BASE_RATES[ind])
            parent = drawn[primaries[0]] if primaries else yrng.poisson(mu_scale)
            for ind in indicators:
                if ind in drawn:
                    continue
                source, law, p = DERIVED.get(ind, (None, "poisson", 0.5))
                ref = drawn.get(source, parent) if source else parent
                drawn[ind] = (yrng.binomial(ref, p) if law == "binomial"
                              else yrng.poisson(ref * p))
            masked_inds = MASKED_AT_SOURCE.get(row.type, set())
            for j, ind in enumerate(indicators):
                vals = drawn[ind]
                masked = (vals >= 1) & (vals <= 4) if ind in masked_inds else np.zeros(
                    len(vals), bool)
                col = _column_letter(j + 2)
                frames.append(pd.DataFrame({
                    "annee": year, "contributeur": row.identifiant, "code_insee": codes,
                    "libelle_non_localise": None, "indicateur": ind,
                    "valeur": pd.array(np.where(masked, 0, vals), dtype="Int64"),
                    "masque": masked, "feuille": "demo",
                    "ligne": np.arange(2, len(codes) + 2), "colonne": col,
                }))
                frames[-1].loc[masked, "valeur"] = pd.NA
                # Quelques victimes que le contributeur n'a pas pu rattacher à une commune.
                nl = int(yrng.poisson(max(0.5, 0.03 * float(vals.sum()))))
                if nl:
                    frames.append(pd.DataFrame([{
                        "annee": year, "contributeur": row.identifiant, "code_insee": None,
                        "libelle_non_localise": NON_LOCALISE_LABELS[k % len(NON_LOCALISE_LABELS)],
                        "indicateur": ind, "valeur": nl, "masque": False, "feuille": "demo",
                        "ligne": len(codes) + 2, "colonne": col}]))
    out = pd.concat(frames, ignore_index=True)
    out["valeur"] = out["valeur"].astype("Int64")
    out["masque"] = out["masque"].astype(bool)
    return out[["annee", "contributeur", *VALUE_COLUMNS]]


def _column_letter(n: int) -> str:
    letters = ""
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def batch_csv(values: pd.DataFrame, contributeur: str, annee: int) -> bytes:
    """Fichier CSV (« ; », UTF-8) d'un lot fictif, tel qu'il est archivé.

    Parameters
    ----------
    values : pandas.DataFrame
        Valeurs du lot (colonnes de :func:`generate_values`).
    contributeur : str
    annee : int

    Returns
    -------
    bytes
        Une ligne par commune puis les lignes non localisées, une colonne par indicateur ;
        les cases masquées à la source valent « <5 ».
    """
    names = dict(zip(communes.load_territoire()["code_insee"],
                     communes.load_territoire()["nom"], strict=True))
    cells = values.assign(
        cell=np.where(values["masque"], "<5", values["valeur"].astype(str)),
        ligne_cle=values["code_insee"].fillna("~" + values["libelle_non_localise"].fillna("")))
    wide = cells.pivot_table(index="ligne_cle", columns="indicateur", values="cell",
                             aggfunc="first", sort=False)
    order = list(dict.fromkeys(values["indicateur"]))
    wide = wide.reindex(columns=order).fillna("")
    buf = io.StringIO()
    buf.write(f"# {DEMO_LABEL.upper()} — {contributeur} — année {annee}\n")
    buf.write(";".join(["code_insee", "commune", *order]) + "\n")
    for key, row in wide.iterrows():
        code, label = (key, names.get(key, "")) if not key.startswith("~") else ("", key[1:])
        buf.write(";".join([code, label, *row.tolist()]) + "\n")
    return buf.getvalue().encode("utf-8")


def generate_referents(graine: int = DEFAULT_SEED) -> pd.DataFrame:
    """Référents fictifs : :data:`REFERENTS_NOMBRE` communes de l'arrondissement de Béthune.

    Parameters
    ----------
    graine : int

    Returns
    -------
    pandas.DataFrame
        Colonnes :data:`observatoire.registres.REFERENT_COLUMNS` ; vide si l'arrondissement
        n'est pas dans le territoire servi.
    """
    territoire = communes.load_territoire()
    pool = sorted(territoire.loc[territoire["arrondissement"] == REFERENTS_ARRONDISSEMENT,
                                 "code_insee"])
    if not pool:
        return pd.DataFrame(columns=registres.REFERENT_COLUMNS)
    rng = np.random.default_rng([graine, 4])
    chosen = sorted(rng.choice(pool, size=min(REFERENTS_NOMBRE, len(pool)), replace=False))
    rows = []
    start = dt.date(2021, 1, 1)
    for i, code in enumerate(chosen, start=1):
        named = start + dt.timedelta(days=int(rng.integers(0, 3 * 365)))
        trained = bool(rng.random() < 0.55)
        trained_on = (named + dt.timedelta(days=int(rng.integers(30, 400)))) if trained else None
        rows.append({"code_insee": code, "date_designation": named, "forme": trained,
                     "date_formation": trained_on,
                     "nom_referent": f"Référent fictif n° {i:03d}",
                     "contact_referent": f"referent{i:03d}@exemple.invalid",
                     "source": DEMO_SOURCE})
    return pd.DataFrame(rows, columns=registres.REFERENT_COLUMNS)


def plan_dispositifs() -> pd.DataFrame:
    """Les dispositifs nommés par le plan cadre (registre initial) situés dans le territoire.

    Ce sont de vrais dispositifs : la démonstration les montre, et
    :func:`clear_demo` les recharge comme registre réel.

    Returns
    -------
    pandas.DataFrame
        Colonnes :data:`observatoire.registres.DISPOSITIF_COLUMNS`.
    """
    plan, _ = registres.read_dispositifs(registres.INITIAL_REGISTRY_PATH)
    territoire = communes.load_territoire()
    return plan[plan["code_insee"].isin(set(territoire["code_insee"]))].reset_index(drop=True)


def generate_dispositifs() -> pd.DataFrame:
    """Dispositifs de la démonstration : registre initial et accueils de jour fictifs.

    Returns
    -------
    pandas.DataFrame
        Colonnes :data:`observatoire.registres.DISPOSITIF_COLUMNS` : les dispositifs du plan
        situés dans le territoire (chacun garde sa source) et un accueil de jour fictif au
        chef-lieu de chaque arrondissement, dont la source dit qu'il est fictif.
    """
    plan = plan_dispositifs()
    territoire = communes.load_territoire()
    arr = communes.load_arrondissements()
    arr = arr[arr["arrondissement"].isin(set(territoire["arrondissement"]))]
    names = dict(zip(territoire["code_insee"], territoire["nom"], strict=True))
    rows = []
    for a in arr.sort_values("arrondissement").itertuples(index=False):
        rows.append({"type": "accueil_de_jour",
                     "nom": f"Accueil de jour fictif – arrondissement {formats.de(a.nom)}",
                     "adresse": None, "code_insee": a.chef_lieu,
                     "commune": names.get(a.chef_lieu), "latitude": None, "longitude": None,
                     "localisation": "territoire", "capacite": None, "unite_capacite": None,
                     "horaires": "lundi au vendredi 09:00 - 17:00", "contact": None,
                     "source": f"{DEMO_SOURCE} : le plan compte 7 accueils de jour, un par "
                               "arrondissement, sans préciser leurs communes",
                     "remarque": "Fictif : placé au chef-lieu d'arrondissement"})
    fictive = pd.DataFrame(rows, columns=registres.DISPOSITIF_COLUMNS)
    return pd.concat([plan, fictive], ignore_index=True)


# --------------------------------------------------------------------------- base


def is_demo(engine: Engine | None = None) -> bool:
    """La base sert-elle le jeu fictif de démonstration ?

    Parameters
    ----------
    engine : Engine, optional

    Returns
    -------
    bool
        True si ``meta.mode`` vaut ``"demo"`` : toute page ou tout export doit alors
        afficher :data:`DEMO_LABEL`.
    """
    engine = engine or storage.get_engine()
    with engine.connect() as conn:
        return storage.get_meta(conn, "mode") == "demo"


def demo_info(engine: Engine | None = None) -> dict | None:
    """Paramètres de la démonstration chargée (graine, années, zones du modèle), ou None."""
    engine = engine or storage.get_engine()
    with engine.connect() as conn:
        if storage.get_meta(conn, "mode") != "demo":
            return None
        raw = storage.get_meta(conn, "demo")
    return json.loads(raw) if raw else {}


def _counts(conn) -> dict[str, int]:
    def n(table, *where):
        q = sa.select(sa.func.count()).select_from(table)
        for w in where:
            q = q.where(w)
        return conn.execute(q).scalar_one()

    return {"lots": n(storage.lots), "dispositifs": n(storage.dispositifs),
            "referents": n(storage.referents)}


def load_demo(annees: Iterable[int] = DEFAULT_YEARS, graine: int = DEFAULT_SEED,
              engine: Engine | None = None, *, diffusions: bool = True,
              progress=None) -> dict:
    """Remplit une base vide avec le jeu fictif de démonstration.

    Parameters
    ----------
    annees : iterable of int
        Années N (par défaut 2022, 2023, 2024).
    graine : int
        Graine du modèle : même graine, mêmes valeurs.
    engine : Engine, optional
    diffusions : bool, default True
        Préparer, auditer et valider la diffusion de chaque année (dans l'ordre), pour que
        la carte publique et ``observatoire publier`` fonctionnent aussitôt.
    progress : callable, optional
        ``progress(fraction, message)`` pendant la préparation des diffusions.

    Returns
    -------
    dict
        Résumé : ``annees``, ``graine``, ``lots``, ``valeurs``, ``dispositifs``,
        ``referents``, ``zones_blanches``, ``zones_revelatrices``, ``diffusions``.

    Raises
    ------
    ModeIncompatibleError
        Si la base contient des données réelles (autres que le registre initial des
        dispositifs du plan, que :func:`clear_demo` recharge).
    ObservatoireError
        Si la démonstration est déjà chargée (l'effacer d'abord).
    """
    engine = engine or storage.get_engine()
    annees = sorted({int(a) for a in annees})
    with engine.connect() as conn:
        mode = storage.get_meta(conn, "mode")
        counts = _counts(conn)
        plan_seul = _plan_seulement(conn)
    if mode == "demo":
        raise ObservatoireError(
            "La démonstration est déjà chargée dans cette base. Pour la régénérer, videz-la "
            "d'abord avec « observatoire demo --effacer »."
        )
    if (mode is not None or any(counts.values())) and not plan_seul:
        raise ModeIncompatibleError(
            "La base contient des données réelles : la démonstration ne s'installe que dans "
            "une base vide. Utilisez une autre base (OBSERVATOIRE_DB_URL ou "
            "OBSERVATOIRE_DATA_DIR)."
        )
    values = generate_values(annees, graine)
    zones = model(graine)
    info = {"graine": graine, "annees": annees,
            "genere_le": dt.datetime.now().replace(microsecond=0).isoformat(),
            "zones_blanches": sorted(zones.loc[zones["zone"] == "blanche", "code_insee"]),
            "zones_revelatrices": sorted(zones.loc[zones["zone"] == "revelatrice",
                                                   "code_insee"])}
    dispositifs = generate_dispositifs()
    referents = generate_referents(graine)
    with storage.transaction(engine) as conn:
        if plan_seul:
            # Seul le registre initial du plan (rechargé après un effacement) : la
            # démonstration le reprend, marqué comme elle.
            conn.execute(sa.delete(storage.dispositifs))
            storage.set_meta(conn, "mode", None)
        registres.write_dispositifs(conn, dispositifs, demo=True)
        registres.write_referents(conn, referents, demo=True)
        storage.set_meta(conn, "demo", json.dumps(info, ensure_ascii=False))
    n_lots = 0
    for (contributeur, annee), batch in values.groupby(["contributeur", "annee"], sort=True):
        store_batch(contributeur=contributeur, annee=int(annee),
                    fichier=f"demo-{contributeur}-{annee}.csv",
                    contenu=batch_csv(batch, contributeur, int(annee)),
                    values=batch[VALUE_COLUMNS], utilisateur=DEMO_USER,
                    rapport={"demo": True, "mention": DEMO_LABEL}, demo=True, engine=engine)
        n_lots += 1
    # Sans contours, les dispositifs restent « placés à la commune » sans point : ils en
    # reçoivent un plus tard (« observatoire dispositifs placer »).
    layer = registres.commune_layer_or_none()
    if layer is not None:
        registres.place_at_communes(engine, layer)
    publiees = []
    if diffusions:
        from observatoire import diffusion

        for k, annee in enumerate(annees):
            def etape(f, m, k=k, annee=annee):
                if progress:
                    progress((k + f) / len(annees), f"diffusion {annee} : {m}")
            d = diffusion.preparer(annee, engine=engine, par=DEMO_USER, progress=etape)
            d = diffusion.valider(engine=engine, diffusion_id=d.id, par=DEMO_USER,
                                  audit=d.audit)
            publiees.append({"annee": d.annee, "version": d.version, "id": d.id,
                             "sha256": d.sha256})
    return {**info, "lots": n_lots, "valeurs": len(values), "dispositifs": len(dispositifs),
            "referents": len(referents), "diffusions": publiees}


def etat(engine: Engine | None = None) -> str:
    """Ce que contient la base, pour savoir si la démonstration peut s'y charger.

    Returns
    -------
    {"demo", "vide", "plan", "reel"}
        ``"plan"`` : seulement le registre initial des dispositifs du plan (après un
        effacement) ; la démonstration peut se charger sur ``"vide"`` et ``"plan"``.
    """
    engine = engine or storage.get_engine()
    with engine.connect() as conn:
        if storage.get_meta(conn, "mode") == "demo":
            return "demo"
        if not any(_counts(conn).values()):
            return "vide"
        return "plan" if _plan_seulement(conn) else "reel"


def _plan_seulement(conn) -> bool:
    """Vrai si la base ne contient que le registre initial du plan, tel que rechargé."""
    counts = _counts(conn)
    if counts["lots"] or counts["referents"] or not counts["dispositifs"]:
        return False
    d = storage.dispositifs
    rows = conn.execute(sa.select(d.c.type, d.c.nom, d.c.code_insee, d.c.demo)).all()
    if any(r.demo for r in rows):
        return False
    plan = plan_dispositifs()
    attendu = {registres._key(t, n, c) for t, n, c in
               zip(plan["type"], plan["nom"], plan["code_insee"], strict=True)}
    return {registres._key(r.type, r.nom, r.code_insee) for r in rows} <= attendu


def clear_demo(engine: Engine | None = None, *, recharger_plan: bool = True,
               utilisateur: str = "cli") -> dict:
    """Efface entièrement la démonstration (et seulement une base de démonstration).

    Les dispositifs nommés par le plan cadre sont de vrais dispositifs : une fois la
    démonstration effacée, ils sont rechargés comme registre réel (la carte et les
    fiches gardent leurs distances) ; les accueils de jour fictifs et les référents
    fictifs disparaissent avec elle.

    Parameters
    ----------
    engine : Engine, optional
    recharger_plan : bool, default True
        Recharger le registre initial des dispositifs du plan après l'effacement ;
        False laisse une base entièrement vide.
    utilisateur : str
        Qui efface (journal).

    Returns
    -------
    dict
        Nombre de ``lots``, ``valeurs``, ``dispositifs``, ``referents`` et
        ``fichiers`` (archives) retirés ; ``dispositifs_plan`` : dispositifs du plan
        rechargés.

    Raises
    ------
    ModeIncompatibleError
        Si la base contient des données réelles : rien n'est effacé.
    """
    engine = engine or storage.get_engine()
    lt = storage.lots
    plan = plan_dispositifs() if recharger_plan else None
    with storage.transaction(engine) as conn:
        mode = storage.get_meta(conn, "mode")
        if mode == "reel":
            raise ModeIncompatibleError(
                "La base contient des données réelles : « observatoire demo --effacer » "
                "n'efface qu'une base de démonstration. Rien n'a été effacé."
            )
        archives = conn.execute(sa.select(lt.c.archive).where(lt.c.demo.is_(True))).scalars()
        archives = list(archives)
        demo_lots = sa.select(lt.c.id).where(lt.c.demo.is_(True))
        out = {
            "valeurs": conn.execute(sa.delete(storage.valeurs).where(
                storage.valeurs.c.lot_id.in_(demo_lots))).rowcount,
            "lots": conn.execute(sa.delete(lt).where(lt.c.demo.is_(True))).rowcount,
            "dispositifs": conn.execute(sa.delete(storage.dispositifs).where(
                storage.dispositifs.c.demo.is_(True))).rowcount,
            "referents": conn.execute(sa.delete(storage.referents).where(
                storage.referents.c.demo.is_(True))).rowcount,
            "diffusions": conn.execute(sa.delete(storage.diffusions).where(
                storage.diffusions.c.demo.is_(True))).rowcount,
        }
        remaining = _counts(conn)
        if any(remaining.values()):
            # Une base « demo » ne devrait rien contenir d'autre : on n'y touche pas.
            raise ModeIncompatibleError(
                f"La base de démonstration contient aussi des lignes non fictives "
                f"({remaining}) : effacement annulé, vérifiez la base."
            )
        conn.execute(sa.delete(storage.journal).where(storage.journal.c.qui == DEMO_USER))
        storage.set_meta(conn, "mode", None)
        storage.set_meta(conn, "demo", None)
        out["dispositifs_plan"] = 0
        if mode == "demo" and plan is not None and not plan.empty:
            # Vrais dispositifs : la base devient réelle, prête pour les fichiers réels.
            out["dispositifs_plan"] = registres.write_dispositifs(conn, plan, demo=False)[0]
        if mode == "demo":
            conn.execute(sa.insert(storage.journal).values(
                quand=dt.datetime.now().replace(microsecond=0), qui=utilisateur,
                action="demo_effacee", detail=json.dumps(out)))
    if out["dispositifs_plan"]:
        layer = registres.commune_layer_or_none()
        if layer is not None:
            registres.place_at_communes(engine, layer)
    removed = 0
    root = settings().archive_dir
    for rel in archives:
        path = archive_path(rel)
        if path.exists():
            path.unlink()
            removed += 1
        # Retire les dossiers année/contributeur devenus vides.
        for parent in path.parents:
            if parent == root or root not in parent.parents:
                break
            try:
                parent.rmdir()
            except OSError:
                break
    out["fichiers"] = removed
    return out
