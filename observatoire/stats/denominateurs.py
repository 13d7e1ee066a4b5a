"""Dénominateurs : populations par sexe et âge importées (INSEE) à côté de la population municipale.

Le plan cite des taux rapportés aux femmes de 15 à 64 ans : on importe ces effectifs
(une colonne par catégorie) dans la table ``populations`` et l'analyse les choisit par
leur nom (``observatoire analyser --denominateur femmes_15_64``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from observatoire.errors import ObservatoireError

__all__ = ["POPULATION", "categories_disponibles", "charger_population", "importer_populations",
           "lire_populations", "populations_par_annee"]

#: Catégorie de la table ``populations`` qui porte la population municipale de l'année.
POPULATION = "population"

_COLONNES_CODE = ("code_insee", "codgeo", "code", "com", "code_commune", "depcom")
_CATEGORIE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def lire_populations(source) -> pd.DataFrame:
    """Lit un fichier de populations (CSV ``;`` ou ``,``, ou Excel) en table longue.

    Parameters
    ----------
    source : path-like or pandas.DataFrame
        Une colonne de code commune (``code_insee``, ``CODGEO``, ``COM``…) et une colonne
        numérique par catégorie, nommée en minuscules (``femmes_15_64``).

    Returns
    -------
    pandas.DataFrame
        Colonnes ``code_insee``, ``categorie``, ``valeur``.
    """
    if isinstance(source, pd.DataFrame):
        df = source.copy()
    else:
        path = Path(source)
        if not path.exists():
            raise ObservatoireError(f"Fichier de populations introuvable : {path}.")
        if path.suffix.lower() in (".xlsx", ".xls", ".ods"):
            df = pd.read_excel(path, dtype=str)
        else:
            df = pd.read_csv(path, sep=None, engine="python", dtype=str)
    df.columns = [str(c).strip().lower() for c in df.columns]
    code_col = next((c for c in _COLONNES_CODE if c in df.columns), None)
    if code_col is None:
        raise ObservatoireError(
            f"Aucune colonne de code commune dans le fichier de populations (colonnes lues : "
            f"{', '.join(df.columns)}) : nommez-la code_insee ou CODGEO."
        )
    cats = [c for c in df.columns if c != code_col and c not in ("nom", "libgeo", "annee")]
    bad = [c for c in cats if not _CATEGORIE.match(c)]
    if bad or not cats:
        raise ObservatoireError(
            "Les catégories de population doivent être nommées en minuscules sans espace "
            f"(femmes_15_64…) ; colonnes refusées : {', '.join(bad) or 'aucune catégorie'}."
        )
    long = df.melt(id_vars=[code_col], value_vars=cats, var_name="categorie",
                   value_name="valeur")
    long["code_insee"] = long[code_col].astype(str).str.strip().str.zfill(5)
    texte = long["valeur"].astype(str).str.replace("\u202f", "").str.replace(" ", "")
    long["valeur"] = pd.to_numeric(texte.str.replace(",", "."), errors="coerce")
    invalides = long[long["valeur"].isna() | (long["valeur"] < 0)]
    if not invalides.empty:
        r = invalides.iloc[0]
        raise ObservatoireError(
            f"{len(invalides)} valeur(s) de population illisible(s) ou négative(s), par "
            f"exemple commune {r['code_insee']}, catégorie {r['categorie']}."
        )
    return long[["code_insee", "categorie", "valeur"]].reset_index(drop=True)


def importer_populations(source, annee: int, *, engine=None) -> int:
    """Importe des populations par catégorie pour une année (remplace l'existant).

    Parameters
    ----------
    source : path-like or pandas.DataFrame
        Voir :func:`lire_populations`.
    annee : int
        Millésime des populations.
    engine : sqlalchemy.engine.Engine, optional

    Returns
    -------
    int
        Nombre de valeurs écrites.
    """
    from observatoire import storage

    long = lire_populations(source)
    long["annee"] = int(annee)
    with storage.transaction(engine) as conn:
        for cat in long["categorie"].unique():
            conn.execute(sa.delete(storage.populations).where(
                (storage.populations.c.annee == int(annee))
                & (storage.populations.c.categorie == cat)))
        conn.execute(sa.insert(storage.populations), long.to_dict("records"))
    return len(long)


def categories_disponibles(engine=None) -> pd.DataFrame:
    """Catégories importées et leurs millésimes (``categorie``, ``annee``, ``n_communes``)."""
    from observatoire import storage

    engine = engine or storage.get_engine()
    p = storage.populations
    q = sa.select(p.c.categorie, p.c.annee, sa.func.count().label("n_communes")).group_by(
        p.c.categorie, p.c.annee).order_by(p.c.categorie, p.c.annee)
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(q).mappings().all(),
                            columns=["categorie", "annee", "n_communes"])


def charger_population(categorie: str, annee: int | None = None, *, engine=None) -> pd.Series:
    """Dénominateur d'une catégorie : le millésime ``annee``, ou le plus récent avant.

    Parameters
    ----------
    categorie : str
    annee : int, optional
        Année analysée ; on prend le dernier millésime ≤ ``annee`` (sinon le plus ancien).
    engine : sqlalchemy.engine.Engine, optional

    Returns
    -------
    pandas.Series
        Valeurs indexées par code INSEE (``attrs["annee"]`` : millésime retenu).
    """
    from observatoire import storage

    dispo = categories_disponibles(engine)
    mill = dispo.loc[dispo["categorie"] == categorie, "annee"].tolist()
    if not mill:
        connues = sorted(set(dispo["categorie"]))
        raise ObservatoireError(
            f"Dénominateur « {categorie} » inconnu : importez-le (observatoire analyser "
            f"populations FICHIER --annee N) ou choisissez parmi : "
            f"{', '.join(['population', *connues])}."
        )
    avant = [m for m in mill if annee is None or m <= annee]
    choisi = max(avant) if avant else min(mill)
    engine = engine or storage.get_engine()
    p = storage.populations
    q = sa.select(p.c.code_insee, p.c.valeur).where(
        (p.c.categorie == categorie) & (p.c.annee == choisi))
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    s = pd.Series({r[0]: float(r[1]) for r in rows}, name=categorie)
    s.attrs["annee"] = choisi
    return s


def populations_par_annee(annees, categorie: str = POPULATION, *,
                          engine=None) -> tuple[dict[int, pd.Series | None], dict[str, str]]:
    """Dénominateur de chaque année analysée, et d'où il vient.

    Pour la population municipale (``categorie="population"``) : la population de
    l'année quand la table ``populations`` la porte (catégorie ``population``, importée
    des populations légales INSEE), sinon la population actuelle du référentiel des
    communes — et la réponse le dit. Pour une autre catégorie (``femmes_15_64``…) : le
    dernier millésime importé au plus tard l'année analysée (le plus ancien sinon).

    Parameters
    ----------
    annees : iterable of int
    categorie : str, default "population"
    engine : sqlalchemy.engine.Engine, optional

    Returns
    -------
    populations : dict
        Année → Series indexée par code INSEE, ou None (population du référentiel).
    sources : dict
        Année (texte) → phrase française : d'où vient le dénominateur de l'année.

    Raises
    ------
    ObservatoireError
        Catégorie autre que ``population`` jamais importée.
    """
    from observatoire import storage

    annees = sorted({int(a) for a in annees})
    try:
        dispo = categories_disponibles(engine)
    except sa.exc.SQLAlchemyError:
        dispo = pd.DataFrame(columns=["categorie", "annee", "n_communes"])
    mill = sorted(int(a) for a in dispo.loc[dispo["categorie"] == categorie, "annee"])
    pops: dict[int, pd.Series | None] = {}
    sources: dict[str, str] = {}
    if categorie != POPULATION and not mill:
        charger_population(categorie, None, engine=engine)  # lève l'erreur française
    engine = engine or storage.get_engine()
    p = storage.populations
    for annee in annees:
        if categorie == POPULATION:
            choisi = annee if annee in mill else None
        else:
            avant = [m for m in mill if m <= annee]
            choisi = max(avant) if avant else min(mill)
        if choisi is None:
            pops[annee] = None
            sources[str(annee)] = ("population actuelle du référentiel des communes (aucune "
                                   f"population {annee} importée)")
            continue
        q = sa.select(p.c.code_insee, p.c.valeur).where(
            (p.c.categorie == categorie) & (p.c.annee == choisi))
        with engine.connect() as conn:
            rows = conn.execute(q).all()
        s = pd.Series({r[0]: float(r[1]) for r in rows}, name=categorie, dtype=float)
        s.attrs["annee"] = choisi
        pops[annee] = s
        nom = "population municipale" if categorie == POPULATION else categorie
        sources[str(annee)] = f"{nom} {choisi} (table des populations)"
    return pops, sources
