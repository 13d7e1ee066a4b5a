"""Lecture complète d'une contribution : du fichier reçu aux valeurs par commune.

:func:`read_contribution` lit sans rien écrire (pour l'aperçu de l'application et la
simulation) ; :func:`import_contribution` lit puis enregistre un lot en une transaction
(:func:`observatoire.batches.store_batch`). Un fichier refusé (données personnelles,
fichier dangereux ou illisible, valeurs invalides) ne laisse aucune trace.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from observatoire import batches, catalogues, matching
from observatoire.config import settings
from observatoire.errors import FichierRefuseError, ObservatoireError
from observatoire.ingest import values as V
from observatoire.ingest.headers import HeaderMapper, HeaderMatch, remember_mapping
from observatoire.ingest.layout import Layout, detect, join_split_codes
from observatoire.ingest.personal import (
    _commune_strings,
    check_personal_data,
    check_workbook,
    neutral_filename,
)
from observatoire.ingest.readers import Sheet, Workbook, read_any
from observatoire.ingest.report import Report, refusal
from observatoire.ingest.safety import check_file

_PERIOD_SHEET = re.compile(
    r"^(T\s?[1-4]|TRIM(ESTRE)?\s?[1-4]|[1-4]\s?(E|ER|EME)?\s?TRIM(ESTRE)?|S\s?[12]|"
    r"SEMESTRE\s?[12]|[12]\s?(E|ER|EME)?\s?SEMESTRE|JANV(IER)?|FEV(RIER)?|MARS|AVR(IL)?|MAI|"
    r"JUIN|JUIL(LET)?|AOUT|SEPT(EMBRE)?|OCT(OBRE)?|NOV(EMBRE)?|DEC(EMBRE)?|M\d{1,2}|"
    r"MOIS \d{1,2})\b")
_YEAR = re.compile(r"(?<!\d)(20\d{2})(?!\d)")
MAX_LISTED = 200


@dataclass
class Parsed:
    """Résultat de :func:`read_contribution`.

    Attributes
    ----------
    values : pandas.DataFrame
        Colonnes :data:`observatoire.batches.VALUE_COLUMNS` : une ligne par (commune ou
        libellé non localisé, indicateur).
    report : Report
    content : bytes
        Contenu exact du fichier (archivé tel quel à l'import).
    filename : str
    entetes_non_resolus : list of dict
        ``entete``, ``feuille``, ``colonne``, ``candidats`` : à passer, une fois choisis,
        dans ``mapping_overrides``.
    communes_non_reconnues : list of dict
        ``texte``, ``feuille``, ``ligne``, ``statut`` (``ambigu``/``inconnue``),
        ``candidats`` (liste de ``{code_insee, nom}``) : à passer dans
        ``commune_overrides``.
    """

    values: pd.DataFrame
    report: Report
    content: bytes
    filename: str
    entetes_non_resolus: list[dict] = field(default_factory=list)
    communes_non_reconnues: list[dict] = field(default_factory=list)


@dataclass
class _SheetResult:
    """Valeurs lues d'une feuille.

    ``obs`` : tableaux numpy alignés, une entrée par cellule de valeur (``pos`` ligne et
    ``j`` colonne dans la feuille, ``ind`` rang de l'indicateur dans ``items`` ou -1,
    ``valeur``, ``etat``, ``r`` rang de la ligne dans ``rows``). ``rows`` : ce qu'on sait
    de chaque ligne (commune, méthode, candidates, texte, sous-total), gardé une fois par
    ligne plutôt que recopié pour chaque indicateur.
    """

    sheet: Sheet
    layout: Layout
    obs: dict
    lignes: int
    rows: dict
    items: list


def _load_source(source, filename: str | None) -> tuple[bytes, str]:
    if isinstance(source, bytes | bytearray | memoryview):
        if not filename:
            raise ObservatoireError("Indiquez le nom du fichier reçu (paramètre filename).")
        return bytes(source), filename
    if hasattr(source, "read"):
        return source.read(), filename or getattr(source, "name", "fichier")
    path = Path(source)
    if not path.is_file():
        raise ObservatoireError(f"Le fichier {path} est introuvable.")
    size_mo = path.stat().st_size / 1_000_000
    if size_mo > settings().taille_max_mo:
        # Refus avant lecture : on ne charge pas en mémoire un fichier démesuré.
        raise FichierRefuseError(
            f"Le fichier « {path.name} » fait {size_mo:.1f} Mo, au-delà de la limite de "
            f"{settings().taille_max_mo:g} Mo (réglage import.taille_max_mo de "
            f"config/territoire.toml). Envoyez un fichier réduit aux effectifs par commune.")
    return path.read_bytes(), filename or path.name


def _territory_codes() -> frozenset[str] | None:
    """Codes des communes du territoire servi ; None quand aucun département n'est configuré."""
    s = settings()
    if not s.departement:
        return None
    return frozenset(matching.communes.load_territoire()["code_insee"])


def _template_layout(wb: Workbook, mapper: HeaderMapper) -> tuple[list[Sheet], dict]:
    stamp = wb.stamp or {}
    name = stamp.get("feuille")
    sheets = [s for s in wb.sheets if s.name == name]
    if not sheets or not stamp.get("indicateurs"):
        return [], {}
    sheet = sheets[0]
    lay = Layout(header=stamp.get("ligne_entete", 1) - 1, code_col=0, name_col=1)
    for k, code in enumerate(stamp["indicateurs"]):
        lay.item_cols[2 + k] = HeaderMatch(code, "modele", 1.0)
        lay.headers[2 + k] = str(sheet.array[lay.header, 2 + k])
    return [sheet], {sheet.name: lay}


_OBS_FIELDS = ("pos", "j", "indicateur", "valeur", "etat", "code_insee", "methode",
               "candidats", "texte", "sous_total")


def _take(obs: dict, sel) -> dict:
    """Lignes ``sel`` (masque ou indices) de chaque tableau d'un relevé."""
    return {k: v[sel] for k, v in obs.items()}


def _not_na(cells: np.ndarray) -> np.ndarray:
    # None ou NaN : « cells == cells » n'est faux que pour NaN.
    return (cells != None) & (cells == cells)  # noqa: E711


def _cell_text(v) -> str:
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v).strip()


def _texts(cells: np.ndarray) -> np.ndarray:
    """Texte de chaque cellule (une fois par valeur distincte), None pour une cellule vide."""
    out = np.full(len(cells), None, dtype=object)
    filled = np.flatnonzero(_not_na(cells))
    if len(filled):
        codes, uniq = matching.distinct_values(cells[filled])
        out[filled] = np.array([_cell_text(u) for u in uniq], dtype=object)[codes]
    return out


def _match_rows(sheet: Sheet, lay: Layout, index, overrides: dict) -> dict:
    """Commune de chaque ligne : code, libellé, nature (commune, total, non localisé…)."""
    start = lay.header + 1
    body = sheet.array[start:]
    n = len(body)
    code = np.full(n, None, dtype=object)
    methode = _filled(n, "vide")
    cands = _filled(n, ())
    source = np.full(n, None, dtype=object)  # cellule d'où vient le texte de la ligne
    every_row = False  # chaque ligne a déjà sa commune, reconnue par son code
    cp = body[:, lay.cp_col] if lay.cp_col is not None else None
    cid = cuniq = None
    matched = False  # une colonne a déjà donné des communes
    codes_only = set()  # colonnes faites de codes actuels seulement (aucun total possible)
    for col in (lay.code_col, lay.name_col):
        if col is None or every_row:
            continue  # pas de colonne, ou plus aucune ligne à reconnaître
        cells = body[:, col]
        joined = col == lay.code_col and lay.dep_col is not None
        if joined:
            # Code de département et code de commune sur 3 chiffres : joints.
            cells = join_split_codes(body[:, lay.dep_col], cells)
        # Une colonne de textes seulement n'a ni None ni NaN : rien à tester.
        filled = np.ones(n, dtype=bool) if sheet.types(col, start) <= {str} \
            else _not_na(cells)
        todo = filled & ((methode == "vide") | (methode == "inconnue")) if matched else filled
        if not todo.any():
            continue
        matched = True
        if cp is None and todo is filled and not joined:
            # Toute la colonne : une reconnaissance par valeur distincte (déjà calculées).
            dcodes, duniq, dtypes = sheet.distinct(col, start)
            c, m, k, all_codes = matching.match_distinct(
                duniq, index, dtypes,
                all_current=dtypes == {str} and sheet.subset_of(col, start, index.current_codes))
            if all_codes:
                codes_only.add(col)
            if filled.all():
                # Autant de valeurs distinctes que de lignes : les rangs sont 0..n-1.
                code, methode, cands = (c, m, k) if len(duniq) == n else \
                    (c[dcodes], m[dcodes], k[dcodes])
                every_row = all_codes
                if all_codes:
                    # Que des codes actuels, distincts : chaque valeur est sa commune.
                    cid, cuniq = dcodes, list(duniq)
                else:
                    # Numéros de communes par valeur distincte, répartis sur les lignes.
                    ucid, ulist = pd.factorize(c)
                    cid, cuniq = ucid[dcodes], ulist.tolist()
            else:
                code[todo], methode[todo], cands[todo] = c[dcodes][todo], m[dcodes][todo], \
                    k[dcodes][todo]
        else:
            sub = cells[todo]
            # Un code inconnu n'écrase pas ce que le nom pourrait donner ; un nom reconnu, si.
            code[todo], methode[todo], cands[todo] = matching.match_values(
                sub, None if cp is None else cp[todo], index)
            cid = cuniq = None
        source[todo] = cells[todo]
    # Libellés de total : dans la colonne de nom ou de code (textes distincts seulement).
    total = np.zeros(n, dtype=bool)
    sous_total = np.zeros(n, dtype=bool)
    for col in (lay.code_col, lay.name_col):
        if col is None or not n:
            continue
        if col in codes_only and matching.codes_are_not_totals(index):
            continue  # que des codes actuels, dont aucun n'est un libellé de total
        safe = _commune_strings()
        if sheet.subset_of(col, start, safe):
            # Que des codes et noms officiels (déjà vérifié par le contrôle des données
            # personnelles) : ceux qui se lisent comme un total sont connus d'avance ;
            # les valeurs distinctes n'y figurent qu'une fois chacune.
            tot_s = _safe_totals(safe)
            if not tot_s or tot_s.keys().isdisjoint(sheet.column(col, start)):
                continue
            codes, uniq, types = sheet.distinct(col, start)
            tot_u = np.zeros(len(uniq), dtype=bool)
            sous_u = np.zeros(len(uniq), dtype=bool)
            found = frozenset(tot_s).intersection(uniq)
            for t in found:
                k = uniq.index(t)
                tot_u[k], sous_u[k] = True, tot_s[t]
        else:
            codes, uniq, types = sheet.distinct(col, start)
            tot_u = np.zeros(len(uniq), dtype=bool)
            sous_u = np.zeros(len(uniq), dtype=bool)
            if types <= {str}:
                strs, texts = None, uniq
            else:
                strs = [k for k, u in enumerate(uniq) if isinstance(u, str)]
                texts = [uniq[k] for k in strs]
            if not texts:
                continue
            is_tot, is_sous = matching.total_label_flags(
                texts, matching.non_total_strings(index))
            if not is_tot.any():
                continue
            where = slice(None) if strs is None else strs
            tot_u[where], sous_u[where] = is_tot, is_tot & is_sous
        total |= tot_u[codes]
        sous_total |= sous_u[codes]
    methode[total] = "total"
    # Le texte ne sert qu'aux lignes sans commune (rapport, libellé non localisé) et aux
    # choix de l'agent : on ne le calcule que pour elles.
    texte = np.full(n, None, dtype=object)
    if every_row and not overrides:
        need = np.zeros(n, dtype=bool)
    else:
        need = np.ones(n, dtype=bool) if overrides else (code == None)  # noqa: E711
        need &= source != None  # noqa: E711
    if need.any():
        texte[need] = _texts(source[need])
    if overrides:
        for i in np.flatnonzero(need).tolist():
            if texte[i] in overrides:
                target = overrides[texte[i]]
                code[i] = target or None
                methode[i] = "confirmee" if target else "non_localise"
                cid = None
    if cid is None:
        cid, cuniq = pd.factorize(code)
        cuniq = cuniq.tolist()
    vide = np.zeros(n, dtype=bool) if every_row else methode == "vide"
    return {"code_insee": code, "methode": methode, "candidats": cands, "texte": texte,
            "sous_total": sous_total, "total": methode == "total", "vide": vide,
            "cid": cid, "communes": cuniq}


def _filled(n: int, value) -> np.ndarray:
    """Tableau d'objets de longueur ``n`` dont chaque case est ``value`` (le même objet).

    ``np.full(n, "vide", dtype=object)`` fabriquerait une chaîne neuve par case.
    """
    out = np.empty(n, dtype=object)
    out.fill(value)
    return out


_SAFE_TOTALS: dict = {}


def _safe_totals(safe: frozenset) -> dict:
    """Codes et noms officiels de communes qui se lisent comme un libellé de total.

    (« Somme-Tourbe »), chacun avec son drapeau de sous-total ; calculé une fois.
    """
    hit = _SAFE_TOTALS.get("v")
    if hit is None or hit[0] is not safe:
        texts = sorted(safe)
        is_tot, is_sous = matching.total_label_flags(texts)
        hit = (safe, {t: bool(s) for t, tt, s in zip(texts, is_tot.tolist(), is_sous.tolist(),
                                                     strict=True) if tt})
        _SAFE_TOTALS["v"] = hit
    return hit[1]


def _item_id(items: list, code: str | None) -> int:
    if code is None:
        return -1
    if code not in items:
        items.append(code)
    return items.index(code)


def _observations(sheet: Sheet, lay: Layout, mapper: HeaderMapper, annee: int,
                  index, overrides: dict, report: Report, items: list) -> _SheetResult:
    body = sheet.array[lay.header + 1:]
    n = len(body)
    rows = _match_rows(sheet, lay, index, overrides)
    positions = np.arange(lay.header + 1, lay.header + 1 + n)
    parts = []
    if lay.is_long:
        vals, state = V.parse_array(body[:, lay.long_value_col])
        if lay.long_item_col is not None:
            codes, uniq = matching.distinct_values(body[:, lay.long_item_col])
            found = []
            for text in uniq:
                if text is None or (isinstance(text, float) and text != text):
                    found.append(None)
                    continue
                m = mapper.map(text)
                found.append(m.indicateur)
                if m.indicateur is None:
                    report.entetes_non_resolus.append(
                        {"entete": str(text), "feuille": sheet.name,
                         "colonne": sheet.ref(lay.header, lay.long_item_col)[1],
                         "candidats": m.candidats})
                    report.add("avertissement", "indicateur_non_reconnu",
                               f"l'indicateur « {text} » ne correspond à aucun indicateur du "
                               f"catalogue : ses lignes sont ignorées. Choisissez-le parmi "
                               f"{_cands_text(m)} (« correspondances --confirmer »).",
                               sheet.name, None, sheet.ref(lay.header, lay.long_item_col)[1])
                else:
                    _note_mapping(report, str(text), m)
            ids = np.array([_item_id(items, f) for f in found] or [-1], dtype=np.int64)
            row_items = ids[codes] if n else np.empty(0, dtype=np.int64)
        else:
            only = next(iter(mapper.own_codes)) if len(mapper.own_codes) == 1 else None
            row_items = np.full(n, _item_id(items, only), dtype=np.int64)
        parts.append((lay.long_value_col, row_items, vals, state))
    else:
        for j, m in lay.item_cols.items():
            vals, state = V.parse_array(body[:, j], sheet.types(j, lay.header + 1))
            parts.append((j, np.full(n, _item_id(items, m.indicateur), dtype=np.int64), vals,
                          state))
            _note_mapping(report, lay.headers.get(j, ""), m)
    k = len(parts)
    idx = np.tile(np.arange(n), k)
    obs = {"pos": np.tile(positions, k),
           "j": np.repeat(np.array([p[0] for p in parts], dtype=np.int64), n),
           "ind": np.concatenate([p[1] for p in parts]) if parts
           else np.empty(0, dtype=np.int64),
           "valeur": np.concatenate([p[2] for p in parts]) if parts else np.empty(0),
           "etat": np.concatenate([p[3] for p in parts]) if parts
           else np.empty(0, dtype=np.int8),
           "r": idx}
    if lay.year_col is not None:
        years = pd.to_numeric(pd.Series(body[:, lay.year_col], dtype=object), errors="coerce")
        ycol = years.to_numpy(dtype=float, na_value=np.nan)[idx]
        other = ~np.isnan(ycol) & (ycol != annee)
        if other.any():
            found = sorted({int(y) for y in ycol[other]})
            report.add("avertissement", "autre_annee",
                       f"{int(other.sum())} valeurs portent sur une autre année "
                       f"({', '.join(map(str, found))}) que {annee} : elles sont ignorées.",
                       sheet.name, None, sheet.ref(lay.header, lay.year_col)[1])
            obs = _take(obs, ~other)
    lignes = int((~rows["vide"] & ~rows["total"]).sum())
    return _SheetResult(sheet=sheet, layout=lay, obs=obs, lignes=lignes, rows=rows,
                        items=items)


def _cands_text(m: HeaderMatch) -> str:
    if not m.candidats:
        return "les codes du catalogue (data/catalogues/indicateurs.csv)"
    from observatoire.ingest.headers import RAISONS

    return ", ".join(f"{c['indicateur']} ({c['libelle']} ; {RAISONS.get(c.get('raison'), '')}"
                     f", score {c['score']:.2f})" for c in m.candidats)


def _sample(sheet: Sheet, header: int, j: int) -> str:
    """Première valeur non vide sous l'en-tête, citée (pour les messages)."""
    for v in sheet.array[header + 1:header + 200, j].tolist():
        if v is not None and not (isinstance(v, float) and v != v):
            return _safe_repr(_cell_text(v))
    return "aucune valeur"


def _columns_seen(sheets: list[Sheet], limit: int = 8) -> str:
    """Les premières colonnes remplies de la première feuille, avec une valeur d'exemple."""
    for sheet in sheets:
        arr = sheet.array
        if not arr.size:
            continue
        out = []
        for j in range(min(arr.shape[1], limit)):
            col = [v for v in arr[:60, j].tolist() if v is not None]
            if not col:
                continue
            head = _cell_text(col[0])[:30]
            sample = next((_cell_text(v)[:30] for v in col[1:]), None)
            out.append(f"{sheet.cols[j]} « {head} »" + (f" (ex. « {sample} »)" if sample
                                                         else ""))
        if out:
            return f"feuille « {sheet.name} » : " + ", ".join(out)
    return "aucune (fichier vide)"


def _report_prefixed_codes(res: _SheetResult, report: Report) -> None:
    """Avertit des codes INSEE lus derrière un préfixe (« com62001 »), avec un exemple."""
    methode = res.rows["methode"]
    hits = np.flatnonzero(methode == "code_prefixe")
    if not len(hits):
        return
    lay, sheet = res.layout, res.sheet
    col = lay.code_col if lay.code_col is not None else lay.name_col
    i = lay.header + 1 + int(hits[0])
    ligne, letter = sheet.ref(i, col)
    report.add("avertissement", "code_prefixe",
               f"{len(hits)} codes de commune sont précédés d'un préfixe (par exemple "
               f"{_safe_repr(_cell_text(sheet.array[i, col]))}) : lus comme le code INSEE qui "
               f"suit. Vérifiez qu'il s'agit bien des codes des communes.", sheet.name, ligne,
               letter)


def _note_mapping(report: Report, entete: str, m: HeaderMatch) -> None:
    if any(c["entete"] == entete and c["indicateur"] == m.indicateur
           for c in report.correspondances):
        return
    report.correspondances.append({"entete": entete, "indicateur": m.indicateur,
                                   "methode": m.methode, "score": m.score,
                                   "hors_contributeur": m.hors_contributeur})


def _report_same_item(res: _SheetResult, report: Report) -> None:
    """Dit ce qui a été fait des colonnes d'un même indicateur (voir ``Layout.periods``)."""
    sheet, lay = res.sheet, res.layout

    def name(j: int) -> str:
        return f"{sheet.ref(lay.header, j)[1]} « {lay.headers.get(j, '')} »"

    for item, cols in lay.periods.items():
        report.add("avertissement", "periodes_additionnees",
                   f"les colonnes {', '.join(name(j) for j in cols)} sont des périodes de "
                   f"l'année pour « {item} » : leurs valeurs sont additionnées (une période "
                   f"masquée rend l'année masquée).", sheet.name)
    for j, (why, kept) in lay.set_aside.items():
        item = lay.item_cols[kept].indicateur
        ligne, col = sheet.ref(lay.header, j)
        if why == "detail_periodes":
            report.add("avertissement", "detail_periodes_ignore",
                       f"la colonne {name(j)} détaille une période de « {item} » dont le total "
                       f"annuel est en colonne {name(kept)} : seul le total annuel est chargé.",
                       sheet.name, ligne, col)
            continue
        report.entetes_non_resolus.append(
            {"entete": lay.headers.get(j, ""), "feuille": sheet.name, "colonne": col,
             "candidats": lay.item_cols[kept].candidats})
        head = lay.headers.get(j, "")
        report.add("avertissement", "colonne_meme_indicateur",
                   f"les colonnes {name(kept)} et {name(j)} correspondent toutes deux à "
                   f"« {item} » : seule la colonne {sheet.ref(lay.header, kept)[1]} est "
                   f"chargée, la colonne {col} est ignorée. Si elle porte un autre "
                   f"indicateur, confirmez-le (« --correspondance \"{head}=CODE\" ») "
                   f"et réimportez.", sheet.name, ligne, col)


def _report_hidden_columns(res: _SheetResult, report: Report) -> None:
    """Signale les colonnes de valeurs chargées alors qu'elles sont masquées dans le classeur.

    Une colonne masquée est lue comme les autres (ses valeurs sont bien dans le fichier),
    mais l'agent qui ouvre le classeur ne la voit pas : il doit savoir qu'elle compte.
    """
    sheet, lay = res.sheet, res.layout
    if sheet.hidden_columns is None or not lay.item_cols:
        return
    hidden = sheet.hidden_columns()
    for j in sorted(set(lay.item_cols) & hidden):
        if j in lay.set_aside:
            continue  # déjà signalée comme écartée
        ligne, col = sheet.ref(lay.header, j)
        report.add("avertissement", "colonne_masquee",
                   f"la colonne {col} « {lay.headers.get(j, '')} » est masquée dans le "
                   f"classeur : ses valeurs sont chargées comme les autres. Affichez-la pour "
                   f"vérifier qu'elle doit l'être ; sinon, retirez-la et réimportez.",
                   sheet.name, ligne, col)


def _check_totals(res: _SheetResult, report: Report) -> None:
    """Compare chaque ligne de total indiquée à la somme des lignes qu'elle résume.

    Un total peut résumer les lignes depuis le total précédent (sous-total
    « Total arrondissement de Béthune »), toutes les lignes au-dessus (total général
    sous des sous-totaux) ou toutes les lignes du tableau (total placé en tête) : il
    est cohérent s'il vaut l'une de ces sommes. Chaque colonne a son propre total.
    """
    obs, sheet, rows = res.obs, res.sheet, res.rows
    r, etat, ind, pos = obs["r"], obs["etat"], obs["ind"], obs["pos"]
    is_total = rows["total"][r]
    tot = np.flatnonzero(is_total & (ind >= 0) & (etat == V.OK))
    if not len(tot):
        return
    vide = rows["vide"][r]
    data = ~(is_total | vide) | (vide & (etat != V.EMPTY))
    counted = etat == V.OK
    values = np.where(counted, obs["valeur"], 0.0)
    # Un total par (indicateur, colonne), dans l'ordre des indicateurs puis des colonnes.
    groups = sorted({(res.items[ind[i]], int(ind[i]), int(obs["j"][i])) for i in tot.tolist()})
    for item, item_id, j in groups:
        here = (ind == item_id) & (obs["j"] == j)
        cells = np.flatnonzero(here & data)
        cells = cells[np.argsort(pos[cells], kind="stable")]
        cpos = pos[cells]
        csum = np.concatenate([[0.0], np.cumsum(values[cells])])
        cmask = np.concatenate([[0], np.cumsum(etat[cells] == V.MASKED)])
        stated = np.flatnonzero(here & is_total & (etat == V.OK))
        stated = stated[np.argsort(pos[stated], kind="stable")]
        previous = 0  # nombre de cellules de données avant le total précédent
        for t in stated.tolist():
            above = int(np.searchsorted(cpos, pos[t]))
            sums = {"bloc": (csum[above] - csum[previous], cmask[above] - cmask[previous]),
                    "dessus": (csum[above], cmask[above]),
                    "tout": (csum[-1], cmask[-1])}
            value = int(obs["valeur"][t])
            fits = any(value == s or (m and value > s) for s, m in sums.values())
            # Somme de référence du message : le bloc depuis le total précédent, sinon
            # tout le tableau (total en tête ou total unique).
            ref = "bloc" if above > previous and previous else "dessus" if above else "tout"
            previous = above
            if fits:
                continue
            computed = int(sums[ref][0])
            where = {"bloc": "des lignes depuis le total précédent",
                     "dessus": "des lignes au-dessus", "tout": "des lignes"}[ref]
            ligne, col = sheet.ref(int(pos[t]), j)
            report.add("avertissement", "total_incoherent",
                       f"le total indiqué ({value}) pour « {item} » ne correspond pas à la "
                       f"somme {where} ({computed}) : les valeurs par commune sont "
                       f"chargées, le total est ignoré. Vérifiez le tableau.",
                       sheet.name, ligne, col)


_ERROR_TEXT = {
    V.NEGATIVE: ("valeur_negative", "effectif négatif ({v}) : un effectif est un entier positif "
                                    "ou nul. Corrigez la cellule."),
    V.FRACTION: ("valeur_decimale", "effectif non entier ({v}) : un effectif est un entier. "
                                    "Corrigez la cellule."),
    V.NOT_NUMERIC: ("valeur_non_numerique", "valeur non numérique ({v}) : attendu un entier "
                                            "positif ou une marque de secret (« s », « <5 »)."),
    V.INJECTION: ("formule_refusee", "contenu de type formule ou commande ({v}) : refusé par "
                                     "sécurité, jamais évalué. Saisissez un nombre."),
    V.TOO_LARGE: ("valeur_hors_bornes", "nombre démesuré pour un effectif ({v}) : plus de "
                                        "10 000 000, ou au-delà de ce qu'un entier peut "
                                        "stocker. Vérifiez la cellule (un code, un numéro ou "
                                        "une somme collés par erreur ?) et corrigez-la."),
}
_UNCACHED_TEXT = ("formule dont la valeur n'a jamais été calculée (fichier produit par un "
                  "programme) : ouvrez le fichier dans votre tableur, enregistrez-le, puis "
                  "renvoyez-le.")


def _safe_repr(v) -> str:
    text = str(v)
    text = text if len(text) <= 40 else text[:37] + "…"
    # Un texte qui commence par = + - @ est cité entre guillemets, jamais tel quel en début
    # de cellule d'un export (injection CSV).
    return f"« {text} »"


def _uncached_cells(res: _SheetResult) -> dict[int, list[int]]:
    """Cellules de valeurs faites d'une formule jamais calculée (lues vides), par colonne."""
    sheet, lay, obs = res.sheet, res.layout, res.obs
    # Une formule non calculée se lit vide : sans cellule de valeurs vide, rien à chercher
    # (et le XML de la feuille n'est pas relu).
    if sheet.formulas is None or not (obs["etat"] == V.EMPTY).any() or not sheet.uncached:
        return {}
    value_cols = set(lay.item_cols)  # périodes comprises
    if lay.long_value_col is not None:
        value_cols.add(lay.long_value_col)
    total = res.rows["total"]
    by_col: dict[int, list[int]] = {}
    for i, j in sheet.uncached:
        k = i - lay.header - 1
        if j in value_cols and 0 <= k < len(total) and not total[k]:
            by_col.setdefault(j, []).append(i)
    return by_col


def _report_uncached(by_col: dict[int, list[int]], res: _SheetResult, report: Report) -> None:
    """Refuse les cellules de valeurs faites d'une formule jamais calculée (lues vides)."""
    sheet, lay = res.sheet, res.layout
    for j, cells in sorted(by_col.items()):
        refs = [f"{sheet.ref(i, j)[1]}{sheet.ref(i, j)[0]}" for i in cells[:5]]
        more = f" et {len(cells) - 5} autres" if len(cells) > 5 else ""
        ligne, col = sheet.ref(cells[0], j)
        report.add("erreur", "formule_sans_valeur",
                   f"{len(cells)} cellule(s) de la colonne « {lay.headers.get(j, col)} » "
                   f"({', '.join(refs)}{more}) contiennent une formule dont la valeur n'a "
                   f"jamais été calculée (fichier produit par un programme, pas enregistré "
                   f"par un tableur) : elles se liraient vides. Ouvrez le fichier dans Excel "
                   f"ou LibreOffice, enregistrez-le, puis renvoyez-le.", sheet.name, ligne, col)


def _collect_errors(res: _SheetResult, report: Report, skip_invalid: bool = False) -> None:
    """Cellules invalides : erreurs (fichier refusé) ou, avec ``skip_invalid``, lignes écartées.

    Une ligne écartée l'est en entier (toutes ses valeurs) : garder la moitié d'une ligne
    dont une cellule est fausse ferait des totaux qui ne disent plus rien. Chaque ligne
    écartée est gardée au rapport (``lignes_ecartees``), qui est enregistré avec le lot.
    """
    obs, sheet = res.obs, res.sheet
    uncached = _uncached_cells(res)
    bad = np.flatnonzero(np.isin(obs["etat"], list(_ERROR_TEXT)) & ~res.rows["total"][obs["r"]])
    if not skip_invalid:
        _report_uncached(uncached, res, report)
        for k, r in enumerate(bad.tolist()):
            if k >= MAX_LISTED:
                report.add("erreur", "trop_d_erreurs",
                           f"… et {len(bad) - MAX_LISTED} autres valeurs invalides dans cette "
                           f"feuille. Corrigez-les, ou importez les lignes valides seulement "
                           f"(option --ecarter-lignes-invalides).", sheet.name)
                break
            i, j = int(obs["pos"][r]), int(obs["j"][r])
            code, text = _ERROR_TEXT[int(obs["etat"][r])]
            ligne, col = sheet.ref(i, j)
            report.add("erreur", code, text.format(v=_safe_repr(sheet.array[i, j])),
                       sheet.name, ligne, col)
        return
    causes: dict[int, list[tuple[int, str, str]]] = {}  # rang de ligne → (colonne, code, texte)
    for r in bad.tolist():
        code, text = _ERROR_TEXT[int(obs["etat"][r])]
        i, j = int(obs["pos"][r]), int(obs["j"][r])
        causes.setdefault(int(obs["r"][r]), []).append(
            (j, code, text.format(v=_safe_repr(sheet.array[i, j]))))
    start = res.layout.header + 1
    for j, cells in uncached.items():
        for i in cells:
            causes.setdefault(i - start, []).append((j, "formule_sans_valeur", _UNCACHED_TEXT))
    if not causes:
        return
    rows = np.array(sorted(causes), dtype=np.int64)
    drop = np.isin(obs["r"], rows)
    obs["etat"] = np.where(drop, V.EXCLUDED, obs["etat"]).astype(np.int8)
    for k, rr in enumerate(rows.tolist()):
        i = start + rr
        found = sorted(causes[rr])
        ligne, col = sheet.ref(i, found[0][0])
        cols = [sheet.ref(i, j)[1] for j, _c, _t in found]
        entry = {"feuille": sheet.name, "ligne": ligne, "colonnes": cols,
                 "commune": res.rows["texte"][rr] or _cell_label(res, rr),
                 "raisons": [c for _j, c, _t in found],
                 "message": found[0][2]}
        report.lignes_ecartees.append(entry)
        if k < MAX_LISTED:
            report.add("avertissement", "ligne_ecartee",
                       f"ligne écartée (lignes invalides écartées à la demande) : {found[0][2]} "
                       f"Aucune valeur de cette ligne n'est chargée ; elle reste inscrite au "
                       f"rapport du lot.", sheet.name, ligne, col)
    if len(rows) > MAX_LISTED:
        report.add("avertissement", "ligne_ecartee",
                   f"… et {len(rows) - MAX_LISTED} autres lignes écartées (liste complète "
                   f"dans le rapport du lot, --json).", sheet.name)


def _cell_label(res: _SheetResult, rr: int) -> str | None:
    """Texte de la commune d'une ligne (code ou nom tel qu'écrit), pour le rapport."""
    lay = res.layout
    for col in (lay.name_col, lay.code_col):
        if col is not None:
            v = res.sheet.array[lay.header + 1 + rr, col]
            if v is not None:
                return _cell_text(v)
    return None


@functools.lru_cache(maxsize=1)
def _str_dtype():
    # Type « str » de pandas (Arrow quand pyarrow est là) : établi une fois.
    return pd.Series([], dtype="str").dtype


def _str_column(labels: list, codes: np.ndarray) -> pd.Series:
    """Colonne de type « str » de pandas : ``labels[codes]``, sans passer par des objets.

    Les libellés distincts (quelques indicateurs, feuilles, colonnes) sont convertis une
    fois, puis répartis par Arrow, au lieu de convertir une à une 100 000 chaînes.
    """
    dtype = _str_dtype()
    if getattr(dtype, "storage", None) == "pyarrow":
        import pyarrow as pa

        arr = pa.array([str(x) for x in labels], type=pa.large_string()).take(
            pa.array(np.asarray(codes, dtype=np.int64)))
        return pd.Series(arr, dtype=dtype)
    return pd.Series(np.asarray([str(x) for x in labels], dtype=object)[codes], dtype=dtype)


def _finalise(results: list[_SheetResult], report: Report, index, contributeur: str,
              national: bool = False) -> tuple[pd.DataFrame, int]:
    """Valeurs finales de toutes les feuilles et nombre de communes distinctes localisées."""
    parts, col_labels, offset, communes = [], [], 0, []
    for n_sheet, res in enumerate(results):
        o, rows = res.obs, res.rows
        keep = ~rows["total"][o["r"]] & np.isin(o["etat"], [V.OK, V.MASKED]) & (o["ind"] >= 0)
        # Rien à écarter (le cas courant) : les tableaux sont repris sans copie.
        o = _take(o, keep) if not keep.all() else dict(o)
        sheet = res.sheet
        pos, jj = np.asarray(o["pos"], dtype=np.int64), np.asarray(o["j"], dtype=np.int64)
        if sheet.transposed:
            o["ligne"] = np.asarray(sheet.cols_orig_rows, dtype=np.int64)[jj]
            labels, which = list(sheet.rows_orig_cols), pos
        else:
            o["ligne"] = np.asarray(sheet.rows, dtype=np.int64)[pos]
            labels, which = list(sheet.cols), jj
        # Colonne d'origine : un code dans la liste de toutes les lettres de toutes les feuilles.
        o["colonne"] = which + offset
        col_labels += labels
        offset += len(labels)
        o["feuille"] = np.full(len(pos), n_sheet, dtype=np.int64)
        # Communes numérotées dans la liste de toutes les feuilles (-1 : sans commune).
        cid = rows["cid"][o["r"]]
        o["cid"] = np.where(cid >= 0, cid + len(communes), -1)
        communes += rows["communes"]
        parts.append(o)
    names = [r.sheet.name for r in results]
    items = results[0].items
    obs = {k: np.concatenate([p[k] for p in parts]) if len(parts) > 1 else parts[0][k]
           for k in parts[0]}
    if len(parts) == 1:
        cuniq, ccode = communes, obs["cid"]
    else:
        # Une même commune lue dans deux feuilles : un seul numéro.
        merged, cuniq = pd.factorize(np.array(communes + [None], dtype=object))
        cuniq = cuniq.tolist()
        ccode = np.where(obs["cid"] >= 0, merged[obs["cid"]], -1)

    def row_field(name: str, sel: np.ndarray) -> np.ndarray:
        # Champ d'une ligne de feuille (texte, méthode…) pour quelques valeurs seulement.
        out = np.empty(len(sel), dtype=object)
        f, r = obs["feuille"][sel], obs["r"][sel]
        for k, res in enumerate(results):
            here = f == k
            if here.any():
                out[here] = res.rows[name][r[here]]
        return out

    ligne, feuille = obs["ligne"], obs["feuille"]
    n = len(ccode)
    lib = np.full(n, None, dtype=object)
    if not national:
        # Hors du territoire servi : gardé en non localisé, signalé.
        terr = _territory_codes()
        out_u = np.array([terr is not None and c not in terr for c in cuniq] + [False])
        outside = out_u[ccode]
    else:
        outside = np.zeros(n, dtype=bool)
    if outside.any():
        rows_out = np.flatnonzero(outside)
        _, first_k = np.unique(ccode[rows_out], return_index=True)
        firsts = rows_out[np.sort(first_k)]  # première ligne de chaque commune, dans l'ordre
        for r in firsts[:MAX_LISTED].tolist():
            report.add("avertissement", "hors_territoire",
                       f"la commune {matching.describe(cuniq[ccode[r]], index)} est hors "
                       f"du territoire servi ({settings().territoire_nom}) : ses valeurs sont "
                       f"comptées en non localisé.", names[feuille[r]], int(ligne[r]))
        if len(firsts) > MAX_LISTED:
            report.add("avertissement", "hors_territoire",
                       f"… et {len(firsts) - MAX_LISTED} autres communes hors du territoire "
                       f"servi, comptées en non localisé.")
        labels_u = np.array(["hors territoire : " + matching.describe(c, index)
                             if out_u[k] else None for k, c in enumerate(cuniq)] + [None],
                            dtype=object)
        lib[outside] = labels_u[ccode[outside]]
        ccode = np.where(outside, -1, ccode)
    contrib = catalogues.get_contributeur(contributeur)
    try:
        own = catalogues.codes_du_territoire(contrib.territoire)
    except ObservatoireError:
        own = None
    present = np.zeros(len(cuniq) + 1, dtype=bool)
    present[ccode] = True
    present = present[:-1]
    seen = cuniq if present.all() else list(itertools.compress(cuniq, present.tolist()))
    if own is not None:
        # Les communes vues sont distinctes (numérotées une fois chacune) : celles hors du
        # territoire sont toutes les autres que celles du territoire (petit ensemble).
        n_out = len(seen) - len(own.intersection(seen))
        if n_out:
            report.add("avertissement", "hors_territoire_contributeur",
                       f"{n_out} communes sont hors du territoire déclaré du contributeur "
                       f"({contrib.territoire}) : elles sont chargées ; vérifiez le registre "
                       f"des contributeurs si c'est normal.")
    unloc = np.flatnonzero(ccode < 0)
    unloc = unloc[lib[unloc] == None]  # noqa: E711
    if len(unloc):
        meth_u, texte_u = row_field("methode", unloc), row_field("texte", unloc)
        lib[unloc] = [
            "commune non renseignée" if m == "vide" or t is None else str(t)[:255]
            for m, t in zip(meth_u.tolist(), texte_u.tolist(), strict=True)]
    bad = np.flatnonzero(ccode < 0)
    bad = bad[np.isin(row_field("methode", bad), ["ambigu", "inconnue"])]
    _report_unmatched(bad, row_field, obs, names, report, index)
    n_communes = len(seen)
    code = np.array(cuniq + [None], dtype=object)[ccode]
    etat = obs["etat"]
    masque = etat == V.MASKED
    valeur = obs["valeur"]
    icode = obs["ind"]
    iuniq = np.array(items, dtype=object)
    lcode = np.full(n, -1, dtype=np.int64)
    has_lib = np.flatnonzero(ccode < 0)
    n_lib = 0
    if len(has_lib):
        lcode[has_lib], luniq = pd.factorize(lib[has_lib])
        n_lib = len(luniq)
    # Clé (commune ou libellé non localisé, indicateur) en un entier.
    key = ((ccode.astype(np.int64) + 1) * (n_lib + 1) + lcode + 1) * len(items) + icode
    located = ccode >= 0
    if n and (key.max() > 50_000_000 or np.bincount(key).max() > 1):
        kcode, kuniq = pd.factorize(key)
    else:
        kcode, kuniq = None, key  # toutes les clés sont distinctes
    if len(kuniq) < n:
        _warn_duplicates(kcode, located, feuille, names, code, iuniq, icode, ligne, report,
                         index)
        return _aggregate(kcode, len(kuniq), code, lib, iuniq, icode, valeur, masque, feuille,
                          names, ligne, obs["colonne"], col_labels), n_communes
    ok = etat == V.OK
    frame = _values_frame(code, lib, _str_column(items, icode), valeur, ok, masque,
                          _str_column(names, feuille), ligne,
                          _str_column(col_labels, obs["colonne"]))
    # Pour le rapport : indicateurs dans l'ordre de leur première apparition, lignes
    # localisées (une ligne sans commune a ccode -1), déjà connus ici.
    rank, first = pd.factorize(icode)
    frame.attrs["_rapport"] = {"indicateurs": (rank, [str(items[k]) for k in first.tolist()]),
                               "localisees": located}
    return frame, n_communes


def _values_frame(code, lib, indicateur: pd.Series, valeur, ok, masque, feuille: pd.Series,
                  ligne, colonne: pd.Series) -> pd.DataFrame:
    """Tableau des valeurs aux colonnes et types de :data:`batches.VALUE_COLUMNS`."""
    n = len(code)
    if not n:
        colonne = pd.Series([], dtype=object)  # comme un tableau vide de pandas
    values = pd.arrays.IntegerArray(np.where(ok, valeur, 0).astype(np.int64), ~ok)
    lines = pd.arrays.IntegerArray(np.asarray(ligne, dtype=np.int64), np.zeros(n, dtype=bool))
    # Tableaux neufs, propres à ce tableau de valeurs : repris sans copie.
    return pd.DataFrame(copy=False, data={
        "code_insee": pd.Series(code, dtype=object, copy=False),
        "libelle_non_localise": pd.Series(lib, dtype=object, copy=False),
        "indicateur": indicateur, "valeur": pd.Series(values, copy=False),
        "masque": pd.Series(np.array(masque, dtype=bool, copy=None), copy=False),
        "feuille": feuille, "ligne": pd.Series(lines, copy=False), "colonne": colonne,
    }, columns=batches.VALUE_COLUMNS)


def _warn_duplicates(kcode, located, feuille, names, code, iuniq, icode, ligne,
                     report: Report, index) -> None:
    """Avertit des communes listées plusieurs fois pour un indicateur dans une feuille.

    Vectorisé : les groupes (commune, indicateur, feuille) et leurs lignes distinctes sont
    comptés par numpy ; seuls les groupes cités au rapport passent par Python.
    """
    skey = kcode.astype(np.int64) * len(names) + feuille
    scode, _ = pd.factorize(skey)
    counts = np.bincount(scode)
    dup = np.flatnonzero((counts[scode] > 1) & located)
    if not len(dup):
        return
    # Plusieurs cellules d'une même ligne : les périodes d'un indicateur, additionnées et
    # déjà signalées (« periodes_additionnees ») ; ce n'est pas une commune en double.
    g, lines = scode[dup], np.asarray(ligne, dtype=np.int64)[dup]
    pair = pd.factorize(g.astype(np.int64) * (int(lines.max()) + 1) + lines)[0]
    first_pair = np.unique(pair, return_index=True)[1]
    distinct_lines = np.bincount(g[first_pair], minlength=int(g.max()) + 1)
    keep = distinct_lines[g] > 1
    if not keep.any():
        return
    rows, g = dup[keep], g[keep]
    frame = pd.DataFrame({"g": g, "r": rows, "code": code[rows].astype(str),
                          "item": iuniq[icode[rows]].astype(str),
                          "feuille": np.asarray(names, dtype=object)[feuille[rows]].astype(str)})
    firsts = frame.drop_duplicates("g").sort_values(["code", "item", "feuille"], kind="stable")
    n_groups = len(firsts)
    if n_groups > MAX_LISTED:
        report.add("avertissement", "commune_en_double",
                   f"{n_groups} couples commune/indicateur figurent plusieurs fois : "
                   f"leurs valeurs sont additionnées (les {MAX_LISTED} premiers suivent).")
    shown = firsts.head(MAX_LISTED)
    members = frame[frame["g"].isin(shown["g"])].groupby("g", sort=False)["r"].apply(list)
    for row in shown.itertuples(index=False):
        group_rows = members[row.g]
        lines_txt = ", ".join(str(int(ligne[r])) for r in group_rows[:5])
        report.add("avertissement", "commune_en_double",
                   f"{matching.describe(row.code, index)} figure plusieurs fois pour "
                   f"« {row.item} » (lignes {lines_txt}) : les valeurs sont additionnées.",
                   row.feuille, int(ligne[group_rows[0]]))


def _aggregate(kcode, n_keys, code, lib, iuniq, icode, valeur, masque, feuille, names, ligne,
               colonne, col_labels) -> pd.DataFrame:
    """Somme des valeurs d'une même clé (commune ou libellé, indicateur), dans l'ordre."""
    _, first = np.unique(kcode, return_index=True)  # kcode numérote dans l'ordre d'apparition
    ok = masque == False  # noqa: E712
    ok &= ~np.isnan(valeur)
    sums = np.bincount(kcode, weights=np.where(ok, valeur, 0.0), minlength=n_keys)
    n_ok = np.bincount(kcode, weights=ok, minlength=n_keys)
    any_mask = np.bincount(kcode, weights=masque, minlength=n_keys) > 0
    # Somme avec une part masquée : inconnue, donc masquée (jamais un nombre partiel).
    good = (n_ok > 0) & ~any_mask
    feuille = np.asarray(feuille, dtype=np.int64)
    label_of = np.asarray([str(n) for n in names], dtype=object)
    if len(names) == 1:
        feuille_txt = np.full(n_keys, label_of[0][:128], dtype=object)
    else:
        # Feuilles de chaque clé, dans l'ordre de leur première apparition (groupement
        # pandas, sans boucle sur les lignes).
        pair = kcode.astype(np.int64) * len(names) + feuille
        _, pfirst = np.unique(pair, return_index=True)
        pfirst = np.sort(pfirst)
        pk, pf = kcode[pfirst], feuille[pfirst]
        joined = pd.Series(label_of[pf]).groupby(pk, sort=True).agg(", ".join)
        feuille_txt = np.empty(n_keys, dtype=object)
        feuille_txt[joined.index.to_numpy()] = [t[:128] for t in joined.tolist()]
    fcode, funiq = pd.factorize(feuille_txt)
    return _values_frame(code[first], lib[first], _str_column(iuniq.tolist(), icode[first]),
                         sums, good, any_mask, _str_column(funiq.tolist(), fcode),
                         ligne[first], _str_column(col_labels, colonne[first]))


def _report_unmatched(bad: np.ndarray, row_field, obs: dict, names: list[str],
                      report: Report, index) -> None:
    texts, methodes = row_field("texte", bad), row_field("methode", bad)
    candidats = row_field("candidats", bad)
    seen = set()
    for k, r in enumerate(bad.tolist()):
        texte, feuille = texts[k], names[obs["feuille"][r]]
        if (texte, feuille) in seen:
            continue
        seen.add((texte, feuille))
        methode, ligne = methodes[k], int(obs["ligne"][r])
        cands = [{"code_insee": c, "nom": index.noms.get(c, "")} for c in candidats[k]]
        entry = {"texte": texte, "feuille": feuille, "ligne": ligne,
                 "statut": methode, "candidats": cands}
        report.communes_non_reconnues.append(entry)
        ctext = ", ".join(f"{c['nom']} ({c['code_insee']})" for c in cands)
        if methode == "ambigu":
            msg = (f"la commune « {texte} » est ambiguë (candidates : {ctext}) : elle "
                   f"n'est pas devinée ; ses valeurs sont comptées en non localisé. Précisez "
                   f"le code INSEE dans le fichier ou choisissez la commune à l'import.")
        else:
            hint = f" Communes proches : {ctext}." if ctext else ""
            msg = (f"la commune « {texte} » n'est pas reconnue : ses valeurs sont "
                   f"comptées en non localisé.{hint} Précisez le code INSEE ou choisissez "
                   f"la commune à l'import.")
        report.add("avertissement", "commune_" + ("ambigue" if methode == "ambigu"
                                                  else "inconnue"),
                   msg, feuille, ligne)


def _sheet_communes(res: _SheetResult) -> set:
    """Communes reconnues d'une feuille (lignes de total exclues)."""
    rows = res.rows
    return {c for c, t in zip(rows["code_insee"].tolist(), rows["total"].tolist(), strict=True)
            if c is not None and not t}


def _choose_sheets(results: list[_SheetResult], annee: int, report: Report
                   ) -> list[_SheetResult]:
    if len(results) <= 1:
        return results
    names = {r.sheet.name: r for r in results}
    years = {n: {int(y) for y in _YEAR.findall(n)} for n in names}
    if any(years.values()):
        same_year = [names[n] for n, ys in years.items() if annee in ys or not ys]
        dropped = [n for n, ys in years.items() if ys and annee not in ys]
        if dropped and same_year:
            for n in dropped:
                report.feuilles.append({"nom": n, "role": f"ignorée (autre année que {annee})"})
            results = same_year
    if len(results) <= 1:
        return results
    periods = [bool(_PERIOD_SHEET.match(matching.normalize_name(r.sheet.name))) for r in results]
    if all(periods):
        report.add("avertissement", "feuilles_additionnees",
                   f"les feuilles {', '.join(r.sheet.name for r in results)} sont des périodes "
                   f"de l'année : leurs valeurs sont additionnées.")
        return results
    items = [set(r.obs["ind"][r.obs["ind"] >= 0].tolist()) for r in results]
    if all(a.isdisjoint(b) for k, a in enumerate(items) for b in items[k + 1:]):
        return results
    # Une feuille par secteur (brigade, commissariat, antenne) : chacune porte ses propres
    # communes ; les additionner ne compte personne deux fois.
    places = [_sheet_communes(r) for r in results]
    recap = [k for k, p in enumerate(places)
             if len(results) > 2 and p >= set().union(*(q for m, q in enumerate(places) if m != k))]
    parts = [k for k in range(len(results)) if k not in recap[:1]]
    if all(places[k] for k in parts) and all(
            places[a].isdisjoint(places[b]) for n, a in enumerate(parts) for b in parts[n + 1:]):
        if recap:
            kept = results[recap[0]]
            report.feuilles.append({"nom": kept.sheet.name,
                                    "role": "ignorée (récapitulatif des autres feuilles)"})
            report.add("avertissement", "feuille_recapitulative",
                       f"la feuille « {kept.sheet.name} » reprend les communes de toutes les "
                       f"autres : elle est lue comme leur récapitulatif et ignorée ; seules les "
                       f"feuilles détaillées sont chargées. Si c'est elle qu'il faut charger, "
                       f"importez-la seule (option --feuille).", kept.sheet.name)
        kept = [results[k] for k in parts]
        report.add("avertissement", "feuilles_additionnees",
                   f"les feuilles {', '.join(r.sheet.name for r in kept)} portent chacune "
                   f"des communes différentes (une feuille par secteur) : leurs valeurs sont "
                   f"réunies.")
        return kept
    report.add("erreur", "feuilles_multiples",
               f"le classeur contient plusieurs feuilles de même nature "
               f"({', '.join(r.sheet.name for r in results)}) sans qu'on sache s'il faut les "
               f"additionner : précisez la ou les feuilles à importer (option --feuille).")
    return results


def read_contribution(source, filename: str | None = None, contributeur: str = "",
                      annee: int = 0, mapping_overrides: dict[str, str] | None = None,
                      commune_overrides: dict[str, str | None] | None = None,
                      feuilles: list[str] | None = None, departement: str | None = "config",
                      engine=None, accept_proposals: bool = False,
                      skip_invalid_rows: bool = False) -> Parsed:
    """Lit un fichier de contributeur sans rien enregistrer.

    Parameters
    ----------
    source : path-like, bytes or file-like
        Fichier reçu (chemin, contenu, ou objet fichier comme celui d'un
        ``st.file_uploader``).
    filename : str, optional
        Nom d'origine ; obligatoire quand ``source`` est un contenu.
    contributeur : str
        Identifiant du registre (``data/catalogues/contributeurs.csv``).
    annee : int
        Année N des données.
    mapping_overrides : dict, optional
        En-tête (ou libellé d'indicateur en format long) → code d'indicateur, choisis par
        l'agent pour cet import.
    commune_overrides : dict, optional
        Texte de la cellule commune → code INSEE choisi (ou None : non localisé).
    feuilles : list of str, optional
        Feuilles à lire (par défaut : toutes celles qui portent un tableau).
    departement : str or None, default "config"
        Département dont les noms de communes sont reconnus ; None = France entière.
    engine : Engine, optional
        Base où lire les correspondances mémorisées (du contributeur, et celles des autres
        contributeurs, proposées comme candidats).
    accept_proposals : bool, default False
        Retient le premier candidat de chaque colonne de nombres sans indicateur reconnu
        (le rapport le dit, méthode ``proposition_acceptee``).
    skip_invalid_rows : bool, default False
        Écarte les lignes qui portent une valeur invalide au lieu de refuser le fichier ;
        chaque ligne écartée reste au rapport (``lignes_ecartees``).

    Returns
    -------
    Parsed

    Raises
    ------
    FichierRefuseError
        Fichier dangereux, illisible, ou porteur de données personnelles
        (:class:`~observatoire.errors.DonneesPersonnellesError`).
    ObservatoireError
        Contributeur inconnu ou année invalide.
    """
    contrib = catalogues.get_contributeur(contributeur)
    _refuse_public_source(contrib)
    annee = _check_year(annee)
    content, filename = _load_source(source, filename)
    received = Path(filename).name
    # Un nom de fichier qui nomme une personne n'est gardé nulle part (rapport, lot,
    # archive) : un nom neutre le remplace et le rapport dit pourquoi.
    name, renamed = neutral_filename(received, contrib.identifiant, annee)
    report = Report(fichier=name, contributeur=contrib.identifiant, annee=annee)
    if renamed:
        report.fichier_renomme = renamed
        report.add("avertissement", "nom_fichier_personnel",
                   f"le nom du fichier reçu a l'air de nommer une personne ({renamed}) : il "
                   f"n'est pas gardé ; le lot s'appelle « {name} ». Demandez au contributeur "
                   f"de nommer ses fichiers sans nom de personne (« bilan_2024.xlsx »).")
    kind = check_file(content, name)
    wb = read_any(content, kind, name)
    # Noms de feuilles (masquées comprises), notes de cellule, en-têtes : avant la mise en
    # page, pour qu'un fichier nominatif soit refusé en quelques secondes.
    check_workbook(wb, content, kind)
    report.format = "modele" if wb.stamp and wb.stamp.get("indicateurs") else wb.format
    report.encodage = wb.encodage
    if departement == "config":
        departement = settings().departement
    index = matching.get_index(departement)
    remembered = shared = None
    if engine is not None:
        from observatoire.ingest.headers import remembered_mappings
        remembered = remembered_mappings(contrib.identifiant, engine)
        shared = remembered_mappings(None, engine)
    mapper = HeaderMapper(contrib.identifiant, mapping_overrides, remembered, shared,
                          accept_proposals=accept_proposals)
    overrides = {str(k).strip(): v for k, v in (commune_overrides or {}).items()}

    sheets = wb.sheets
    if feuilles:
        missing = [f for f in feuilles if f not in {s.name for s in sheets}]
        if missing:
            raise ObservatoireError(
                f"Feuille(s) absente(s) du classeur : {', '.join(missing)}. Feuilles "
                f"présentes : {', '.join(s.name for s in sheets)}.")
        sheets = [s for s in sheets if s.name in feuilles]
    fixed: dict[str, Layout] = {}
    if report.format == "modele":
        sheets, fixed = _template_layout(wb, mapper)
        stamp = wb.stamp
        if stamp.get("contributeur") and stamp["contributeur"] != contrib.identifiant:
            report.add("avertissement", "modele_autre_contributeur",
                       f"ce modèle a été préparé pour « {stamp['contributeur']} », pas pour "
                       f"« {contrib.identifiant} » : vérifiez le contributeur choisi.")
        if stamp.get("annee") and stamp["annee"] != annee:
            report.add("avertissement", "modele_autre_annee",
                       f"ce modèle a été préparé pour l'année {stamp['annee']}, pas {annee} : "
                       f"vérifiez l'année choisie.")

    results: list[_SheetResult] = []
    items: list[str] = []  # indicateurs lus, communs à toutes les feuilles
    for sheet in sheets:
        if sheet.hidden and not feuilles:
            # Pas lue, mais contrôlée : une feuille masquée n'en est pas moins dans le fichier.
            check_personal_data(sheet, None, current_codes=index.current_codes, index=index)
            report.feuilles.append({"nom": sheet.name, "role": "ignorée (masquée)"})
            continue
        if sheet.name in fixed:
            oriented, lay = sheet, fixed[sheet.name]
        else:
            oriented, lay = detect(sheet, mapper, index)
        check_personal_data(oriented, None if lay is None else lay.header,
                            skip_cols=[] if lay is None else lay.commune_cols,
                            current_codes=index.current_codes, index=index,
                            known_cols=[] if lay is None else lay.known_cols,
                            headers=None if lay is None else lay.headers)
        if lay is None:
            report.feuilles.append({"nom": sheet.name,
                                    "role": "ignorée (aucun tableau par commune reconnu)"})
            continue
        res = _observations(oriented, lay, mapper, annee, index, overrides, report, items)
        results.append(res)
    # Contrôle des données personnelles des feuilles non retenues aussi (ci-dessus), et des
    # feuilles que --feuille ou le modèle écartent : le fichier est archivé en entier.
    read_names = {s.name for s in sheets}
    for sheet in wb.sheets:
        if sheet.name not in read_names:
            check_personal_data(sheet, None, current_codes=index.current_codes, index=index)
    results = _choose_sheets(results, annee, report)
    for res in results:
        role = "lue" + (" (transposée : communes en colonnes)" if res.sheet.transposed else "")
        role += ", format long" if res.layout.is_long else ""
        report.feuilles.append({"nom": res.sheet.name, "role": role})
        lay = res.layout
        for j, m in lay.unresolved.items():
            head = lay.headers.get(j, "")
            col = res.sheet.ref(lay.header, j)[1]
            report.entetes_non_resolus.append({"entete": head, "feuille": res.sheet.name,
                                               "colonne": col, "candidats": m.candidats,
                                               "exemple": _sample(res.sheet, lay.header, j)})
            best = f"\"{head}={m.candidats[0]['indicateur']}\"" if m.candidats else \
                f"\"{head}=CODE\""
            report.add("avertissement", "entete_non_reconnu",
                       f"la colonne « {head} » contient des nombres (par exemple "
                       f"{_sample(res.sheet, lay.header, j)}) mais ne correspond à aucun "
                       f"indicateur : elle est à confirmer et n'est pas chargée. Candidats : "
                       f"{_cands_text(m)}. Choisissez l'indicateur (--correspondance {best}, "
                       f"ou --accepter-propositions pour retenir le premier candidat) puis "
                       f"réimportez.", res.sheet.name, res.sheet.ref(lay.header, j)[0], col)
        _report_same_item(res, report)
        _report_hidden_columns(res, report)
        for m in lay.item_cols.values():
            if m.hors_contributeur:
                report.add("avertissement", "indicateur_hors_contributeur",
                           f"l'indicateur « {m.indicateur} » n'est pas attendu de ce "
                           f"contributeur d'après le registre : chargé quand même ; vérifiez "
                           f"la correspondance.", res.sheet.name)
        _collect_errors(res, report, skip_invalid_rows)
        _report_prefixed_codes(res, report)
        _check_totals(res, report)
        report.lignes_lues += res.lignes
    if not results:
        seen = _columns_seen(sheets)
        report.add("erreur", "aucun_tableau",
                   f"aucun tableau d'effectifs par commune n'a été reconnu : il faut une "
                   f"colonne de communes (code INSEE, nom, ou code du département et code de "
                   f"commune) et au moins une colonne de nombres. Colonnes lues : {seen}. "
                   f"Vérifiez que le fichier contient bien un tableau par commune, ou "
                   f"utilisez le modèle standard (« observatoire contributions modele »).")
    _year_hint(wb, name, annee, report)
    values, n_communes = _finalise(results, report, index, contrib.identifiant,
                                   national=departement is None) if results else \
        (pd.DataFrame(columns=batches.VALUE_COLUMNS), 0)
    if results and values.empty and report.ok:
        if report.entetes_non_resolus:
            heads = ", ".join(f"« {e['entete']} »" for e in report.entetes_non_resolus[:5])
            report.add("erreur", "aucune_valeur",
                       f"aucune colonne n'a pu être chargée : les colonnes de nombres {heads} "
                       f"sont à confirmer (voir leurs candidats). Indiquez l'indicateur de "
                       f"chacune (--correspondance \"ENTETE=code\") ou retenez les "
                       f"propositions (--accepter-propositions), puis réimportez.")
        else:
            report.add("erreur", "aucune_valeur",
                       "aucune valeur n'a été lue dans le tableau reconnu : vérifiez que les "
                       "cellules contiennent des effectifs.")
    known = values.attrs.pop("_rapport", {})
    report.fill_values(values, index.noms, communes_reconnues=n_communes, **known)
    return Parsed(values=values, report=report, content=content, filename=name,
                  entetes_non_resolus=report.entetes_non_resolus,
                  communes_non_reconnues=report.communes_non_reconnues)


def _year_hint(wb: Workbook, name: str, annee: int, report: Report) -> None:
    texts = [name] + [s.name for s in wb.sheets]
    for s in wb.sheets:
        texts += [v for v in s.array[:3].ravel().tolist() if isinstance(v, str)]
    years = {int(y) for t in texts for y in _YEAR.findall(t)}
    if years and annee not in years:
        report.add("avertissement", "annee_differente",
                   f"le fichier mentionne l'année {', '.join(map(str, sorted(years)))} et non "
                   f"{annee} : vérifiez l'année choisie.")


def _refuse_public_source(contrib) -> None:
    """Une source publique (le SSMSI) a son propre import, pas celui des tableaux."""
    if contrib.source_publique:
        raise ObservatoireError(
            f"« {contrib.identifiant} » est une source publique, pas un contributeur qui envoie "
            f"un tableau : importez son fichier avec « observatoire ssmsi importer FICHIER ».")


def _check_year(annee) -> int:
    try:
        annee = int(annee)
    except (TypeError, ValueError) as exc:
        raise ObservatoireError(f"L'année « {annee} » n'est pas un nombre.") from exc
    this_year = dt.date.today().year
    if not 2000 <= annee <= this_year + 1:
        raise ObservatoireError(
            f"L'année {annee} est hors des bornes acceptées (2000 à {this_year + 1}).")
    return annee


def import_contribution(source, filename: str | None = None, contributeur: str = "",
                        annee: int = 0, simulation: bool = False,
                        utilisateur: str = "inconnu",
                        mapping_overrides: dict[str, str] | None = None,
                        commune_overrides: dict[str, str | None] | None = None,
                        feuilles: list[str] | None = None, engine=None,
                        accept_proposals: bool = False,
                        skip_invalid_rows: bool = False,
                        perimetre: str | None = None) -> Report:
    """Lit un fichier de contributeur puis l'enregistre comme lot (une transaction).

    Parameters
    ----------
    source, filename, contributeur, annee, mapping_overrides, commune_overrides, feuilles
        Voir :func:`read_contribution`.
    accept_proposals, skip_invalid_rows
        Voir :func:`read_contribution` ; les propositions acceptées sont mémorisées pour
        ce contributeur comme les correspondances confirmées.
    perimetre : str, optional
        Communes que couvre ce lot quand elles sont moins que le territoire déclaré du
        contributeur (syntaxe de :func:`observatoire.catalogues.communes_couvertes`),
        enregistré avec le lot ; refusé s'il déborde du territoire déclaré.
    simulation : bool, default False
        Lecture complète et rapport, rien n'est enregistré (ni base, ni archive) ; un
        fichier aux valeurs invalides donne un rapport ``ok`` faux au lieu d'une exception.
    utilisateur : str
        Qui importe (conservé avec le lot et dans le journal).
    engine : Engine, optional

    Returns
    -------
    Report
        ``statut`` : ``simulation``, ``nouveau``, ``remplace`` ou ``inchange``.

    Raises
    ------
    FichierRefuseError
        Fichier refusé : rien n'est enregistré. L'attribut ``rapport`` de l'exception
        porte le rapport complet quand le refus vient des valeurs.
    """
    from observatoire import storage

    engine = engine or storage.get_engine()
    if perimetre:
        from observatoire.stats.perimetres import verifier_perimetre

        n_perimetre = len(verifier_perimetre(contributeur, perimetre))
    parsed = read_contribution(source, filename, contributeur, annee, mapping_overrides,
                               commune_overrides, feuilles, engine=engine,
                               accept_proposals=accept_proposals,
                               skip_invalid_rows=skip_invalid_rows)
    report = parsed.report
    if perimetre:
        report.add("avertissement", "perimetre_restreint",
                   f"périmètre du lot restreint à {n_perimetre} commune(s) ({perimetre}) : "
                   f"hors de lui, ce lot ne dit rien des communes.")
    if simulation:
        report.statut = "simulation" if report.ok else "refuse"
        return report
    if not report.ok:
        raise refusal(report, parsed.filename)
    result = batches.store_batch(
        contributeur=report.contributeur, annee=report.annee, fichier=parsed.filename,
        contenu=parsed.content, values=parsed.values, utilisateur=utilisateur,
        rapport=report.to_dict(with_values=False), engine=engine, perimetre=perimetre or None)
    report.statut, report.lot_id = result.statut, result.lot_id
    report.remplace_lot_id = result.remplace_lot_id
    confirmed = dict(mapping_overrides or {})
    confirmed.update({c["entete"]: c["indicateur"] for c in report.correspondances
                      if c["methode"] == "proposition_acceptee"})
    for entete, code in confirmed.items():
        remember_mapping(report.contributeur, entete, code, utilisateur, engine)
    return report
