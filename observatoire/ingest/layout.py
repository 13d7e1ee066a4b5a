"""Repérage de la mise en page d'une feuille : ligne d'en-tête, rôle de chaque colonne.

Une feuille de contributeur commence souvent par des lignes de titre, porte parfois un
en-tête sur deux lignes (cellules fusionnées au-dessus), met les communes en lignes ou
en colonnes, ou suit un format long (commune, indicateur, valeur). On cherche, dans les
40 premières lignes, celle qui a l'air d'un en-tête : une colonne de communes (par son
en-tête ou par son contenu) et au moins une colonne d'indicateur (ou le couple
« indicateur » / « valeur »). Sans résultat, on essaie la feuille transposée.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from observatoire.ingest.headers import HeaderMapper, HeaderMatch, period_label
from observatoire.ingest.readers import Sheet
from observatoire.ingest.values import looks_numeric
from observatoire.matching import RECOGNISED, CommuneIndex, match_values, normalize_name

_CODE_HDR = re.compile(
    r"^(CODE( INSEE| COMMUNE| COM| GEO| GEOGRAPHIQUE| INSEE COMMUNE| INSEE DE LA COMMUNE|"
    r" COMMUNE INSEE| INSEE DE LA COMMUNE DE RESIDENCE)?|INSEE|INSEE COMMUNE|CODGEO( \d+)?|"
    r"COG|DEPCOM|COM|N INSEE|NUMERO INSEE|CODE INSEE COMMUNE)$")
_NAME_HDR = re.compile(
    r"^(((NOM|LIBELLE|LIB)( DE)?( LA)? )?(COMMUNE|COMMUNES|VILLE|LOCALITE)( .*)?|LIBGEO|"
    r"LIEU DE RESIDENCE.*|DOMICILE.*|RESIDENCE( .*)?|COMMUNE DE RESIDENCE.*)$")
_CP_HDR = re.compile(r"^(CP|C P|CODE POSTAL|CODES POSTAUX|CODEPOSTAL|CODE POSTAL COMMUNE)$")
# Code du département, à joindre au code de commune sur 3 chiffres (« Code département » +
# « Code commune » des tableaux de l'INSEE).
_DEP_HDR = re.compile(r"^(CODE )?(DEPARTEMENT|DEP|DEPT|DPT|CODE DEP|CODDEP|DEP CODE)"
                      r"( CODE)?$")
_DEP_VALUE = re.compile(r"^(\d{2,3}|2[AB])$")
_YEAR_HDR = re.compile(r"^(ANNEE|AN|ANNEES|EXERCICE|MILLESIME|ANNEE DE REFERENCE)$")
_ITEM_HDR = re.compile(r"^(INDICATEUR|INDICATEURS|ITEM|ITEMS|LIBELLE INDICATEUR|NATURE|"
                       r"NATURE DES FAITS|TYPE|CATEGORIE|CLASSE|RUBRIQUE|VARIABLE|"
                       r"CODE INDICATEUR|LIBELLE)$")
_VALUE_HDR = re.compile(r"^(VALEUR|VALEURS|NOMBRE|NB|NBRE|EFFECTIF|EFFECTIFS|QUANTITE|"
                        r"COMPTE)$")
_TOTAL_HDR = re.compile(r"^(TOTAL|TOTAUX|TOTAL GENERAL|ENSEMBLE|SOMME|TOTAL ANNUEL)$")
SCAN_ROWS = 40
SAMPLE_ROWS = 60


@dataclass
class Layout:
    """Rôle des colonnes d'une feuille.

    Attributes
    ----------
    header : int
        Indice de la ligne d'en-tête dans ``sheet.cells``.
    code_col, name_col, cp_col, year_col : int or None
        Colonnes du code INSEE, du nom de commune, du code postal, de l'année.
    dep_col : int or None
        Colonne du code du département quand le code de commune n'a que 3 chiffres
        (codes en deux colonnes) : les deux sont joints.
    item_cols : dict
        Colonne → :class:`HeaderMatch` (format large).
    long_item_col, long_value_col : int or None
        Format long : colonne des indicateurs et colonne des valeurs.
    unresolved : dict
        Colonnes chiffrées dont l'en-tête n'a pas trouvé d'indicateur.
    headers : dict
        Colonne → texte d'en-tête (avec l'en-tête de groupe fusionné au-dessus, le cas échéant).
    ignored : list of int
        Colonnes de texte libre ou de total, non chargées.
    periods : dict
        Indicateur → colonnes de ses périodes (« T1 » … « T4 », mois), additionnées.
    set_aside : dict
        Colonne écartée → (raison, colonne chargée à sa place) : ``detail_periodes``
        (une période dont le total annuel est aussi donné) ou ``meme_indicateur`` (une
        deuxième colonne du même indicateur).
    """

    header: int
    code_col: int | None = None
    name_col: int | None = None
    cp_col: int | None = None
    year_col: int | None = None
    dep_col: int | None = None
    item_cols: dict[int, HeaderMatch] = field(default_factory=dict)
    long_item_col: int | None = None
    long_value_col: int | None = None
    unresolved: dict[int, HeaderMatch] = field(default_factory=dict)
    headers: dict[int, str] = field(default_factory=dict)
    ignored: list[int] = field(default_factory=list)
    periods: dict[str, list[int]] = field(default_factory=dict)
    set_aside: dict[int, tuple[str, int]] = field(default_factory=dict)
    score: float = 0.0

    @property
    def commune_cols(self) -> list[int]:
        """Colonnes qui désignent la commune."""
        return [c for c in (self.code_col, self.name_col, self.cp_col, self.dep_col)
                if c is not None]

    @property
    def known_cols(self) -> list[int]:
        """Colonnes dont le rôle est connu : communes, indicateurs (résolus ou à
        confirmer, écartés compris), année, format long, totaux.
        """
        cols = [*self.commune_cols, *self.item_cols, *self.unresolved, *self.set_aside]
        cols += [c for c in (self.year_col, self.long_item_col, self.long_value_col)
                 if c is not None]
        for group in self.periods.values():
            cols += group
        return sorted(set(cols))

    @property
    def is_long(self) -> bool:
        """Format long (une ligne par commune et indicateur)."""
        return self.long_value_col is not None and not self.item_cols


def _text(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    s = str(v).strip()
    return s or None


def _group_headers(sheet: Sheet, i: int) -> dict[int, str]:
    """En-têtes de groupe de la ligne au-dessus de ``i`` (cellules fusionnées étendues)."""
    if i == 0:
        return {}
    above = sheet.array[i - 1].tolist()
    out = {j: t for j, v in enumerate(above) if (t := _text(v))}
    for r0, c0, r1, c1 in sheet.merged:
        if r0 <= i - 1 <= r1 and (label := _text(sheet.array[r0, c0])):
            for j in range(c0, c1 + 1):
                out[j] = label
    # Une ligne de titre (un seul texte très long) n'est pas un en-tête de groupe.
    if len(out) == 1 and len(next(iter(out.values()))) > 60:
        return {}
    return out


def _text_column(sheet: Sheet, j: int) -> bool:
    """Vrai quand la colonne ``j`` ne contient que des textes (et des cellules vides)."""
    cache = sheet.__dict__.setdefault("_text_columns", {})
    if j not in cache:
        types = set(map(type, sheet.array[:, j].tolist())) - {type(None)}
        cache[j] = bool(types) and all(issubclass(t, str) for t in types)
    return cache[j]


def _commune_share(sheet: Sheet, i: int, j: int, index: CommuneIndex) -> float:
    """Part des cellules sous la ligne ``i`` de la colonne ``j`` qui désignent une commune.

    Chaque valeur distincte n'est reconnue qu'une fois par feuille (en cache), sans chercher
    de communes proches : la recherche de la mise en page essaie toutes les colonnes de
    dizaines de lignes candidates.
    """
    sample = [v for v in sheet.array[i + 1:i + 1 + SAMPLE_ROWS, j].tolist()
              if v is not None and not (isinstance(v, float) and v != v)]
    if not sample:
        return 0.0
    cache = sheet.__dict__.setdefault("_commune_kind", {})
    todo = [v for v in dict.fromkeys(map(_hashable, sample)) if v not in cache]
    if todo:
        _, methode, _ = match_values(np.array(todo, dtype=object), index=index, suggest=False)
        cache.update(zip(todo, np.isin(methode, RECOGNISED).tolist(), strict=True))
    return float(np.mean([cache[_hashable(v)] for v in sample]))


def _hashable(v):
    # VRAI n'est pas le code 1 : un booléen garde son type dans la clé du cache.
    return ("bool", v) if isinstance(v, bool) else v


def _split_code_columns(sheet: Sheet, i: int, lay: Layout, texts: dict[int, str]) -> None:
    """Code de commune sur 3 chiffres à côté d'un code de département : les joint.

    Les tableaux de l'INSEE donnent « Code département » (62) et « Code commune » (119) ;
    seuls, ces 3 chiffres ne désignent aucune commune.
    """
    if lay.code_col is None:
        return
    body = sheet.array[i + 1:i + 1 + SAMPLE_ROWS]
    com = [v for v in body[:, lay.code_col].tolist() if v is not None]
    if not com or not all(_short_code(v) for v in com):
        return
    for j, text in texts.items():
        if j == lay.code_col or not _DEP_HDR.match(normalize_name(text)):
            continue
        deps = [v for v in body[:, j].tolist() if v is not None]
        if deps and all(_DEP_VALUE.match(_code_text(v)) for v in deps):
            lay.dep_col = j
            return


def _code_text(v) -> str:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v).strip().upper()


def _short_code(v) -> bool:
    text = _code_text(v)
    return text.isdigit() and 1 <= len(text) <= 3


def join_split_codes(dep_cells: np.ndarray, com_cells: np.ndarray) -> np.ndarray:
    """Codes INSEE joints depuis un code de département et un code de commune sur 3 chiffres.

    « 62 » + « 119 » → « 62119 » ; « 2A » + « 4 » → « 2A004 » ; outre-mer, « 971 » + « 101 »
    → « 97101 » (le code de commune y reprend le dernier chiffre du département). Une
    ligne sans l'un des deux garde la cellule du code de commune telle quelle.
    """
    out = np.array(com_cells, dtype=object, copy=True)
    for k, (d, c) in enumerate(zip(dep_cells.tolist(), com_cells.tolist(), strict=True)):
        if d is None or c is None:
            continue
        dep, com = _code_text(d), _code_text(c)
        if not (_DEP_VALUE.match(dep) and com.isdigit() and len(com) <= 3):
            continue
        if len(dep) == 2:
            dep = dep.zfill(2)
            out[k] = dep + com.zfill(3)
        else:
            out[k] = dep + com.zfill(3)[-2:]
    return out


def _try_row(sheet: Sheet, i: int, mapper: HeaderMapper, index: CommuneIndex) -> Layout | None:
    row = sheet.array[i].tolist()
    # Une cellule d'en-tête vide au-dessus d'une colonne de textes (souvent celle des
    # communes, laissée sans titre) compte comme un en-tête : la colonne sera reconnue
    # par son contenu.
    texts = {j: (_text(v) or "") for j, v in enumerate(row)
             if _text(v) or (v is None and _text_column(sheet, j))}
    if len([t for t in texts.values() if not t.replace(".", "").isdigit()]) < 2:
        return None
    groups = _group_headers(sheet, i)
    lay = Layout(header=i)
    pending: list[int] = []
    for j, text in texts.items():
        norm = normalize_name(text)
        lay.headers[j] = text
        if _CODE_HDR.match(norm) and lay.code_col is None:
            lay.code_col = j
        elif _CP_HDR.match(norm) and lay.cp_col is None:
            lay.cp_col = j
        elif _NAME_HDR.match(norm) and lay.name_col is None:
            lay.name_col = j
        elif _YEAR_HDR.match(norm) and lay.year_col is None:
            lay.year_col = j
        elif _ITEM_HDR.match(norm) and lay.long_item_col is None:
            lay.long_item_col = j
        elif _VALUE_HDR.match(norm) and lay.long_value_col is None:
            lay.long_value_col = j
        elif _TOTAL_HDR.match(norm):
            lay.ignored.append(j)
        else:
            match = mapper.map(text)
            if match.indicateur is None and j in groups and groups[j] != text:
                combined = mapper.map(f"{groups[j]} {text}")
                if combined.indicateur is not None:
                    match = combined
                    lay.headers[j] = f"{groups[j]} / {text}"
            if match.indicateur is not None:
                lay.item_cols[j] = match
            else:
                pending.append(j)
    if lay.long_value_col is not None and lay.long_item_col is None:
        # « Nombre » sans colonne d'indicateur : une colonne comme une autre.
        j, lay.long_value_col = lay.long_value_col, None
        match = mapper.map(texts[j])
        if match.indicateur is not None:
            lay.item_cols[j] = match
        else:
            pending.append(j)
    if lay.long_item_col is not None and lay.long_value_col is None:
        # « Indicateur » sans colonne de valeurs : c'est l'en-tête de la colonne des
        # communes d'un tableau transposé, ou une colonne de texte.
        pending.insert(0, lay.long_item_col)
        lay.long_item_col = None
    _split_code_columns(sheet, i, lay, texts)
    if lay.code_col is not None and lay.dep_col is None and lay.name_col is None \
            and _commune_share(sheet, i, lay.code_col, index) < 0.5:
        # « Code » au-dessus d'autre chose que des communes : la colonne des communes est
        # cherchée par son contenu.
        pending.insert(0, lay.code_col)
        lay.code_col = None
    if lay.code_col is None and lay.name_col is None:
        # Colonne de communes sans en-tête reconnaissable (« » ou « Secteur ») : par son contenu.
        for j in [*pending, *[k for k in range(sheet.array.shape[1]) if k not in texts]]:
            if j in lay.item_cols or j == lay.long_item_col:
                continue
            if _commune_share(sheet, i, j, index) >= 0.5:
                lay.name_col = j
                if j in pending:
                    pending.remove(j)
                break
    if lay.code_col is None and lay.name_col is None:
        return None
    if not lay.item_cols and lay.long_value_col is None:
        # Peut-être une colonne unique de valeurs pour un contributeur à un seul indicateur.
        if len(mapper.own_codes) == 1 and pending:
            numeric = [j for j in pending if looks_numeric(sheet.array[i + 1:, j])]
            # Une colonne de valeurs, ou une par période (« T1 » … « T4 » sous « 2023 »).
            if len(numeric) == 1 or (len(numeric) > 1 and all(
                    period_label(f"{groups.get(j, '')} {texts[j]}") for j in numeric)):
                for j in numeric:
                    lay.item_cols[j] = HeaderMatch(next(iter(mapper.own_codes)),
                                                   "seul_indicateur", 0.5)
                    pending.remove(j)
    _same_item_columns(lay, {j: f"{groups.get(j, '')} {texts[j]}" for j in lay.item_cols})
    body = sheet.array[i + 1:i + 1 + 500]
    for j in pending:
        if j in (lay.long_item_col, lay.long_value_col):
            continue
        if looks_numeric(body[:, j]):
            match = mapper.map(texts[j])
            accepted = mapper.accept(match, {m.indicateur for m in lay.item_cols.values()})
            if accepted is not None:  # --accepter-propositions : le premier candidat
                lay.item_cols[j] = accepted
            else:
                lay.unresolved[j] = match
        else:
            lay.ignored.append(j)
    if not lay.item_cols and not lay.unresolved and lay.long_value_col is None:
        return None
    # Une colonne de nombres sans indicateur reconnu compte moins qu'une colonne reconnue,
    # mais un tableau de communes et de nombres n'est jamais écarté en silence : ses
    # colonnes sont rapportées « à confirmer » avec leurs candidats.
    lay.score = len(lay.item_cols) + 0.25 * len(lay.unresolved) + (3 if lay.is_long else 0) \
        + 0.5 * (lay.code_col is not None) + 0.5 * (lay.name_col is not None)
    return lay


def _same_item_columns(lay: Layout, labels: dict[int, str]) -> None:
    """Plusieurs colonnes pour un même indicateur : périodes, total annuel ou doublon.

    Des périodes de l'année (« T1 » … « T4 », mois) sont additionnées. Quand une colonne
    sans période (le total annuel, « Faits constatés » à côté de « Faits T1 ») est
    donnée aussi, c'est elle qui est chargée : additionner le tout compterait deux fois.
    Deux colonnes sans période pour un même indicateur : la mieux reconnue est chargée,
    l'autre est écartée et signalée (l'agent peut lui donner un autre indicateur).
    """
    by_item: dict[str, list[int]] = {}
    for j, m in lay.item_cols.items():
        by_item.setdefault(m.indicateur, []).append(j)
    for item, cols in by_item.items():
        if len(cols) < 2:
            continue
        periods = [j for j in cols if period_label(labels.get(j, ""))]
        others = [j for j in cols if j not in periods]
        if not others:
            lay.periods[item] = cols
            continue
        best = max(others, key=lambda j: (lay.item_cols[j].score, -j))
        for j in cols:
            if j != best:
                lay.set_aside[j] = ("detail_periodes" if j in periods else "meme_indicateur",
                                    best)
                del lay.item_cols[j]


def detect_layout(sheet: Sheet, mapper: HeaderMapper, index: CommuneIndex) -> Layout | None:
    """Ligne d'en-tête et rôle des colonnes d'une feuille (orientation donnée).

    Parameters
    ----------
    sheet : Sheet
    mapper : HeaderMapper
    index : CommuneIndex

    Returns
    -------
    Layout or None
        None quand aucune ligne ne ressemble à un en-tête de tableau par commune.
    """
    best: Layout | None = None
    for i in range(min(SCAN_ROWS, len(sheet.array))):
        lay = _try_row(sheet, i, mapper, index)
        if lay is not None and (best is None or lay.score > best.score):
            best = lay
    return best


def detect(sheet: Sheet, mapper: HeaderMapper, index: CommuneIndex
           ) -> tuple[Sheet, Layout | None]:
    """Comme :func:`detect_layout`, en essayant aussi la feuille transposée.

    Returns
    -------
    (Sheet, Layout or None)
        La feuille dans l'orientation retenue (transposée si les communes sont en
        colonnes) et sa mise en page.
    """
    lay = detect_layout(sheet, mapper, index)
    if lay is not None:
        return sheet, lay
    if sheet.array.shape[1] >= 3 and sheet.array.shape[1] <= 50_000:
        t = sheet.transpose()
        lay = detect_layout(t, mapper, index)
        if lay is not None:
            return t, lay
    return sheet, None


def body_frame(sheet: Sheet, lay: Layout) -> pd.DataFrame:
    """Lignes sous l'en-tête."""
    return sheet.cells.iloc[lay.header + 1:]
