"""Dénominateurs : populations par sexe et âge importées (INSEE) à côté de la population municipale.

Le plan cite des taux rapportés aux femmes de 15 à 64 ans : on importe ces effectifs dans
la table ``populations`` et l'analyse les choisit par leur nom (``observatoire analyser
--denominateur femmes_15_64``).

Les tableaux de l'INSEE sont lus tels qu'ils sont publiés : lignes de titre et plusieurs
feuilles (la feuille et la ligne d'en-tête sont trouvées, ou choisies), code de commune en
deux colonnes (« Code département » + « Code commune » sur 3 chiffres), lignes IRIS
additionnées par commune (``base-ic-evol-struct-pop``), colonnes choisies comme catégories
(``femmes_15_64=P20_F1564``). La population municipale totale, quand le tableau la donne
(« Population municipale », ``P20_POP``, ``PMUN21``), est toujours écrite sous la catégorie
``population`` de son année : c'est le dénominateur par année des analyses.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from observatoire.errors import ObservatoireError

__all__ = ["POPULATION", "categories_disponibles", "charger_population", "import_populations",
           "importer_populations", "lire_populations", "populations_par_annee"]

_COLONNES_CODE = ("code_insee", "codgeo", "code", "com", "code_commune", "depcom")
_CATEGORIE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
#: Catégorie de la population municipale totale (dénominateur par année).
POPULATION = "population"

# En-têtes (forme de observatoire.matching.normalize_name).
_CODE_HDR = re.compile(r"^(CODGEO|CODE GEO(GRAPHIQUE)?|DEPCOM|COM|CODE INSEE|CODE COMMUNE|"
                       r"CODE INSEE COMMUNE|INSEE COM|CODE DE LA COMMUNE|CODE_INSEE)$")
_IRIS_HDR = re.compile(r"^(IRIS|CODE IRIS|DCOMIRIS|CODE_IRIS)$")
_DEP_HDR = re.compile(r"^(DEP|CODE DEPARTEMENT|CODE DEP|DEPARTEMENT)$")
_TOTAL_HDR = re.compile(r"^(POPULATION MUNICIPALE( \d{4})?|P\d{2} POP|PMUN\d{2}|PMUN)$")
_YEAR_IN_HDR = re.compile(r"^(?:P|C)(\d{2}) |^PMUN(\d{2})$")
_YEAR_IN_TEXT = re.compile(r"(?<!\d)(19[6-9]\d|20\d{2})(?!\d)")
_SCAN = 40


def _norm(text) -> str:
    from observatoire.matching import normalize_name

    return normalize_name(text)


def _cell_text(v) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def _parse_pairs(categories) -> dict[str, str]:
    """Catégories demandées : {nom: colonne}, depuis un dict ou des textes « nom=COLONNE »."""
    if not categories:
        return {}
    if isinstance(categories, dict):
        pairs = dict(categories)
    else:
        pairs = {}
        for item in categories:
            if "=" not in str(item):
                raise ObservatoireError(
                    f"Catégorie « {item} » : écrivez-la sous la forme NOM=COLONNE "
                    f"(par exemple femmes_15_64=P20_F1564).")
            name, col = str(item).split("=", 1)
            pairs[name.strip()] = col.strip()
    bad = [n for n in pairs if not _CATEGORIE.match(n)]
    if bad:
        raise ObservatoireError(
            "Les catégories de population doivent être nommées en minuscules sans espace "
            f"(femmes_15_64…) ; refusées : {', '.join(bad)}.")
    return pairs


def _header_row(sheet, wanted: int | None) -> tuple[int, dict[int, str]] | None:
    """Ligne d'en-tête d'une feuille (la ligne donnée, ou la première qui porte un code)."""
    rows = [wanted] if wanted is not None else range(min(_SCAN, len(sheet.array)))
    best = None
    for i in rows:
        if i < 0 or i >= len(sheet.array):
            continue
        heads = {j: _cell_text(v) for j, v in enumerate(sheet.array[i].tolist())
                 if _cell_text(v)}
        norms = {j: _norm(h) for j, h in heads.items()}
        has_code = any(_CODE_HDR.match(n) or _IRIS_HDR.match(n) for n in norms.values())
        if wanted is not None or (has_code and len(heads) >= 2):
            # La ligne des codes de variables (P20_POP…) sous une ligne de libellés longs :
            # la dernière ligne qui porte un code l'emporte, si elle suit immédiatement.
            if best is not None and i != best[0] + 1:
                break
            best = (i, heads)
            if wanted is not None:
                break
    return best


def _code_columns(heads: dict[int, str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for j, h in heads.items():
        n = _norm(h)
        if _IRIS_HDR.match(n):
            out.setdefault("iris", j)
        elif _DEP_HDR.match(n):
            out.setdefault("dep", j)
        elif _CODE_HDR.match(n):
            out.setdefault("com", j)
    return out


def _commune_codes(sheet, start: int, cols: dict[str, int]) -> tuple[np.ndarray, bool]:
    """Code de commune de chaque ligne (IRIS ramené à sa commune, codes joints, préfixes)."""
    from observatoire.ingest.layout import join_split_codes
    from observatoire.matching import clean_code, prefixed_code

    body = sheet.array[start:]
    iris = False
    if "com" in cols:
        raw = body[:, cols["com"]]
        texts = [_cell_text(v) for v in raw.tolist()]
        if "dep" in cols and texts and all(t.isdigit() and len(t) <= 3 for t in texts if t):
            raw = join_split_codes(body[:, cols["dep"]], raw)
    elif "iris" in cols:
        iris = True
        raw = np.array([_cell_text(v)[:5] or None for v in body[:, cols["iris"]].tolist()],
                       dtype=object)
    else:
        raise ObservatoireError("aucune colonne de code de commune")
    if "iris" in cols and "com" in cols:
        iris = True
    codes = np.array([clean_code(v) or prefixed_code(_cell_text(v)) for v in raw.tolist()],
                     dtype=object)
    return codes, iris


def _numbers(sheet, start: int, j: int, where: str, head: str) -> np.ndarray:
    cells = sheet.array[start:, j].tolist()
    out = np.full(len(cells), np.nan)
    for k, v in enumerate(cells):
        if v is None or (isinstance(v, str) and not v.strip()):
            continue
        if isinstance(v, bool):
            out[k] = np.nan
            continue
        if isinstance(v, int | float):
            out[k] = float(v)
            continue
        text = re.sub(r"[\s\u00a0\u202f]", "", str(v)).replace(",", ".")
        try:
            out[k] = float(text)
        except ValueError:
            ligne, col = sheet.ref(start + k, j)
            raise ObservatoireError(
                f"{where}, ligne {ligne}, colonne {col} « {head} » : la valeur « {str(v)[:30]} » "
                f"n'est pas un nombre. Corrigez-la ou choisissez d'autres colonnes "
                f"(--categorie NOM=COLONNE).") from None
    bad = np.flatnonzero(out < 0)
    if len(bad):
        ligne, col = sheet.ref(start + int(bad[0]), j)
        raise ObservatoireError(
            f"{where}, ligne {ligne}, colonne {col} « {head} » : population négative "
            f"({out[bad[0]]:g}). Vérifiez le fichier.")
    return out


def _detect_year(texts: list[str], heads: dict[int, str], chosen: dict[str, int]) -> int | None:
    for j in chosen.values():
        m = _YEAR_IN_HDR.match(_norm(heads[j]))
        if m:
            return 2000 + int(m.group(1) or m.group(2))
    # « Date de référence statistique : 1er janvier 2021 » l'emporte sur « en vigueur à
    # compter du 1er janvier 2024 » : le millésime est celui du recensement.
    for pattern in (r"REFERENCE", r"POPULATIONS? LEGALES? (19|20)\d{2}", r"RECENSEMENT"):
        for t in texts:
            if re.search(pattern, _norm(t)):
                years = [int(y) for y in _YEAR_IN_TEXT.findall(t)]
                if years:
                    return years[0]
    years = [int(y) for t in texts for y in _YEAR_IN_TEXT.findall(t)]
    return max(years) if years else None


def _read_table(path: Path, feuille, ligne_entete):
    from observatoire.ingest.readers import read_any
    from observatoire.ingest.safety import check_file

    content = path.read_bytes()
    kind = check_file(content, path.name)
    wb = read_any(content, kind, path.name)
    sheets = wb.sheets
    if feuille:
        sheets = [s for s in sheets if s.name == feuille]
        if not sheets:
            raise ObservatoireError(
                f"Fichier {path.name} : pas de feuille « {feuille} ». Feuilles : "
                f"{', '.join(s.name for s in wb.sheets)}.")
    wanted = None if ligne_entete is None else int(ligne_entete) - 1
    found = []
    for sheet in sheets:
        hit = _header_row(sheet, wanted)
        if hit is None:
            continue
        cols = _code_columns(hit[1])
        if "com" in cols or "iris" in cols:
            found.append((len(sheet.array) - hit[0], sheet, hit[0], hit[1], cols))
    if not found:
        where = f"la feuille « {feuille} »" if feuille else \
            f"les feuilles ({', '.join(s.name for s in sheets)})"
        raise ObservatoireError(
            f"Fichier {path.name} : aucune colonne de code de commune (CODGEO, COM, « Code "
            f"commune », IRIS…) dans les {_SCAN} premières lignes de {where}. Précisez la "
            f"feuille (--feuille) et la ligne d'en-tête (--ligne-entete).")
    # La feuille la plus longue parmi celles qui portent des codes de commune : « Communes »
    # plutôt que « Régions » ou « Départements » (qui n'en ont pas).
    _, sheet, header, heads, cols = max(found, key=lambda f: f[0])
    titles = [path.name, sheet.name] + [_cell_text(v) for v in
                                        sheet.array[:header].ravel().tolist() if v is not None]
    return sheet, header, heads, cols, titles


def _choose_categories(heads: dict[int, str], cols: dict[str, int], pairs: dict[str, str],
                       where: str) -> dict[str, int]:
    by_norm: dict[str, int] = {}
    for j, h in heads.items():
        by_norm.setdefault(_norm(h), j)
    chosen: dict[str, int] = {}
    for name, col in pairs.items():
        j = by_norm.get(_norm(col))
        if j is None:
            raise ObservatoireError(
                f"{where} : pas de colonne « {col} » pour la catégorie {name}. Colonnes : "
                f"{', '.join(list(heads.values())[:40])}.")
        chosen[name] = j
    total = next((j for j, h in heads.items() if _TOTAL_HDR.match(_norm(h))), None)
    if total is not None and POPULATION not in chosen:
        chosen[POPULATION] = total
    if not pairs:
        # Tableau déjà fait pour l'observatoire : une colonne par catégorie, nommée comme elle.
        skip = set(cols.values()) | {total}
        for j, h in heads.items():
            name = h.strip().lower()
            if j in skip or name in ("nom", "libgeo", "annee", "libelle", "commune"):
                continue
            if _CATEGORIE.match(name):
                chosen.setdefault(name, j)
    if not chosen:
        raise ObservatoireError(
            f"{where} : aucune catégorie de population à importer. Choisissez les colonnes "
            f"(--categorie femmes_15_64=P20_F1564) parmi : "
            f"{', '.join(list(heads.values())[:40])}.")
    return chosen


def lire_populations(source, *, feuille: str | None = None, ligne_entete: int | None = None,
                     categories=None, annee: int | None = None) -> pd.DataFrame:
    """Lit un fichier de populations en table longue, tel que l'INSEE le publie.

    Parameters
    ----------
    source : path-like or pandas.DataFrame
        Fichier (.csv, .xlsx, .xls, .ods) ou tableau déjà lu. Une colonne de code de
        commune (``CODGEO``, ``COM``, « Code commune » avec « Code département », ``IRIS``…)
        et des colonnes de nombres.
    feuille : str, optional
        Feuille à lire ; par défaut la plus longue de celles qui portent un code de commune.
    ligne_entete : int, optional
        Numéro (à partir de 1) de la ligne d'en-tête ; par défaut trouvée.
    categories : dict or list of str, optional
        Catégories à importer : ``{"femmes_15_64": "P20_F1564"}`` ou
        ``["femmes_15_64=P20_F1564"]``. Par défaut, les colonnes nommées comme des
        catégories (``femmes_15_64``). La population municipale totale est ajoutée sous
        ``population`` dès que le tableau la donne.
    annee : int, optional
        Millésime ; sinon lu dans les en-têtes (``P20_…`` → 2020), le titre ou le nom du
        fichier.

    Returns
    -------
    pandas.DataFrame
        Colonnes ``code_insee``, ``categorie``, ``valeur`` (lignes IRIS et anciens codes
        additionnés par commune actuelle) ; ``attrs["rapport"]`` : feuille, ligne
        d'en-tête, colonnes retenues, année, lignes lues, communes, codes inconnus.
    """
    if isinstance(source, pd.DataFrame):
        return _from_frame(source)
    path = Path(source)
    if not path.exists():
        raise ObservatoireError(f"Fichier de populations introuvable : {path}.")
    pairs = _parse_pairs(categories)
    sheet, header, heads, cols, titles = _read_table(path, feuille, ligne_entete)
    where = f"Fichier {path.name}, feuille « {sheet.name} »"
    chosen = _choose_categories(heads, cols, pairs, where)
    start = header + 1
    codes, iris = _commune_codes(sheet, start, cols)
    year = annee if annee is not None else _detect_year(titles, heads, chosen)
    if year is None:
        raise ObservatoireError(
            f"{where} : l'année des populations n'est ni dans les en-têtes ni dans le titre : "
            f"précisez-la (--annee).")
    from observatoire import communes

    code_map = communes.current_code_map()
    current = np.array([code_map.get(c) if c else None for c in codes.tolist()], dtype=object)
    filled = np.array([c is not None for c in codes.tolist()])
    unknown = sorted({c for c, t in zip(codes.tolist(), current.tolist(), strict=True)
                      if c is not None and t is None})
    keep = current != None  # noqa: E711
    if not keep.any():
        raise ObservatoireError(f"{where} : aucun code de commune reconnu (par exemple "
                                f"« {_cell_text(sheet.array[start, next(iter(cols.values()))])} »"
                                f"). Vérifiez la ligne d'en-tête (--ligne-entete).")
    parts = []
    for name, j in chosen.items():
        vals = _numbers(sheet, start, j, where, heads[j])
        frame = pd.DataFrame({"code_insee": current[keep], "valeur": vals[keep]})
        frame = frame.dropna(subset=["valeur"])
        summed = frame.groupby("code_insee", sort=True)["valeur"].sum().reset_index()
        summed["categorie"] = name
        parts.append(summed)
    long = pd.concat(parts, ignore_index=True)[["code_insee", "categorie", "valeur"]]
    long.attrs["rapport"] = {
        "fichier": path.name, "feuille": sheet.name, "ligne_entete": sheet.rows[header],
        "categories": {n: heads[j] for n, j in chosen.items()}, "annee": int(year),
        "lignes_lues": int(filled.sum()), "communes": int(long["code_insee"].nunique()),
        "iris_additionnes": bool(iris), "codes_inconnus": unknown[:20],
        "n_codes_inconnus": len(unknown)}
    return long


def _from_frame(source: pd.DataFrame) -> pd.DataFrame:
    df = source.copy()
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


def import_populations(source, annee: int | None = None, *, engine=None,
                       simulation: bool = False, **options) -> dict:
    """Importe des populations par catégorie pour une année (remplace l'existant).

    Parameters
    ----------
    source : path-like or pandas.DataFrame
        Voir :func:`lire_populations`.
    annee : int, optional
        Millésime ; par défaut lu dans le fichier.
    engine : sqlalchemy.engine.Engine, optional
    simulation : bool, default False
        Lit et rend le rapport sans rien écrire.
    **options
        ``feuille``, ``ligne_entete``, ``categories`` (voir :func:`lire_populations`).

    Returns
    -------
    dict
        Le rapport de lecture, plus ``valeurs`` (nombre de valeurs écrites) et
        ``par_categorie`` (communes par catégorie).
    """
    from observatoire import storage

    long = lire_populations(source, annee=annee, **options)
    rapport = dict(long.attrs.get("rapport", {}))
    year = int(annee if annee is not None else rapport.get("annee"))
    long = long.assign(annee=year)
    rapport.update({"annee": year, "valeurs": int(len(long)), "simulation": simulation,
                    "par_categorie": {str(k): int(v) for k, v in
                                      long.groupby("categorie")["code_insee"].count().items()}})
    if simulation:
        return rapport
    records = [{"code_insee": c, "categorie": k, "valeur": float(v), "annee": year}
               for c, k, v in zip(long["code_insee"].tolist(), long["categorie"].tolist(),
                                  long["valeur"].tolist(), strict=True)]
    with storage.transaction(engine) as conn:
        for cat in long["categorie"].unique().tolist():
            conn.execute(sa.delete(storage.populations).where(
                (storage.populations.c.annee == year)
                & (storage.populations.c.categorie == cat)))
        if records:
            conn.execute(sa.insert(storage.populations), records)
    return rapport


def importer_populations(source, annee: int | None = None, *, engine=None, **options) -> int:
    """Importe des populations par catégorie (voir :func:`import_populations`).

    Returns
    -------
    int
        Nombre de valeurs écrites.
    """
    return import_populations(source, annee, engine=engine, **options)["valeurs"]


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
            f"Dénominateur « {categorie} » inconnu : importez-le (observatoire populations "
            f"importer FICHIER) ou choisissez parmi : "
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
