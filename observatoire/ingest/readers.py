"""Lecture brute des fichiers : classeurs (python-calamine) et CSV (pandas).

Chaque feuille devient une :class:`Sheet` : un tableau de cellules Python (nombres,
textes, dates ; None pour une cellule vide) avec la position d'origine de chaque ligne et
colonne, pour que tout message cite la ligne et la colonne que voit le contributeur.
Les formules sont lues par leur dernière valeur calculée (celle qu'Excel enregistre),
jamais évaluées. Aucun de ces lecteurs n'exécute de macro ni ne suit de lien externe.
"""

from __future__ import annotations

import csv
import functools
import html
import io
import itertools
import re
import zipfile
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from observatoire.errors import FichierRefuseError

#: Feuille cachée du modèle standard et son tampon de version.
TEMPLATE_SHEET = "_modele_observatoire"
TEMPLATE_STAMP = "observatoire-vif-modele"


def column_letter(index: int) -> str:
    """Lettre de colonne Excel d'un indice à partir de 0 (0 → A, 27 → AB)."""
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


@dataclass
class Sheet:
    """Une feuille lue (ou un CSV).

    Attributes
    ----------
    name : str
        Nom de la feuille (nom du fichier pour un CSV).
    cells : pandas.DataFrame
        Cellules (dtype object ; None pour vide), colonnes 0..n-1.
    rows : list of int
        Numéro de ligne d'origine (1 = première ligne) de chaque ligne de ``cells``.
    cols : list of str
        Lettre de colonne d'origine de chaque colonne de ``cells``.
    merged : list of tuple
        Plages fusionnées ``(ligne0, col0, ligne1, col1)`` en indices de ``cells``.
    hidden : bool
        Feuille masquée dans le classeur.
    transposed : bool
        Vrai quand ``cells`` est la transposée de la feuille (communes en colonnes).
    hidden_columns : callable, optional
        Rend les indices des colonnes masquées dans le classeur (lues comme les autres).
    formulas : callable, optional
        Rend les cellules de formule sans valeur calculée (voir :attr:`uncached`) ;
        appelé seulement si on en a besoin.
    array : numpy.ndarray
        Les mêmes cellules en tableau numpy d'objets Python (lignes × colonnes), que
        la lecture parcourt : ni conversion de type, ni accès ligne par ligne pandas.
    """

    name: str
    cells: pd.DataFrame
    rows: list[int]
    cols: list[str]
    merged: list[tuple[int, int, int, int]] = field(default_factory=list)
    hidden: bool = False
    transposed: bool = False
    array: np.ndarray | None = field(default=None, repr=False, compare=False)
    formulas: object = field(default=None, repr=False, compare=False)
    hidden_columns: object = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.array is None:
            arr = self.cells.to_numpy(dtype=object)
            self.array = np.where(pd.isna(arr), None, arr) if arr.size else arr

    @classmethod
    def from_array(cls, name: str, array: np.ndarray, **kw) -> Sheet:
        """Feuille bâtie sur un tableau d'objets (None pour vide), sans copie ni conversion.

        ``cells`` est une vue pandas de type object sur ce tableau : pandas n'y devine
        aucun type de colonne (pas de conversion des textes en chaînes Arrow).
        """
        cells = pd.DataFrame(array, dtype=object, copy=False)
        kw.setdefault("rows", list(range(1, array.shape[0] + 1)))
        kw.setdefault("cols", [column_letter(j) for j in range(array.shape[1])])
        return cls(name=name, cells=cells, array=array, **kw)

    def column(self, j: int, start: int = 0) -> list:
        """Cellules de la colonne ``j`` à partir de la ligne ``start``, en liste (en cache).

        Les contrôles qui suivent (types, appartenance à un ensemble connu) parcourent
        cette liste : une seule conversion du tableau numpy par colonne.
        """
        cache = self.__dict__.setdefault("_column", {})
        if (j, start) not in cache:
            cache[(j, start)] = self.array[start:, j].tolist()
        return cache[(j, start)]

    def distinct(self, j: int, start: int = 0) -> tuple[np.ndarray, list, frozenset]:
        """Valeurs distinctes de la colonne ``j`` à partir de la ligne ``start`` (en cache).

        Returns
        -------
        (numpy.ndarray, list, frozenset)
            Rang de la valeur distincte de chaque cellule, valeurs distinctes dans
            l'ordre de leur première apparition (None compris), types présents.
            Partagé par le contrôle des données personnelles, la reconnaissance des
            communes et celle des totaux : chaque colonne n'est hachée qu'une fois.
        """
        from observatoire.matching import distinct_values

        cache = self.__dict__.setdefault("_distinct", {})
        if (j, start) not in cache:
            types = self.types(j, start)
            codes, uniq = distinct_values(self.array[start:, j], types,
                                          values_list=self.column(j, start))
            # Types des valeurs distinctes, pas des cellules : pandas y rend None en NaN.
            cache[(j, start)] = (codes, uniq, types if uniq is self.column(j, start)
                                 else frozenset(map(type, uniq)))
        return cache[(j, start)]

    def subset_of(self, j: int, start: int, known: frozenset) -> bool:
        """Vrai quand la colonne ``j`` (depuis ``start``) n'a que des textes de ``known``.

        En cache par ensemble : la même question (codes actuels des communes, codes et
        noms officiels) posée par le contrôle des données personnelles, la reconnaissance
        des communes et celle des totaux n'est tranchée qu'une fois. Les cellules sont
        cherchées telles quelles (sans calculer les valeurs distinctes, qui coûtent plus
        cher qu'une recherche) ; la recherche s'arrête au premier texte inconnu.

        ``known`` ne contient que des textes : un nombre, une date ou une cellule vide
        n'y est jamais. Une colonne qui s'y trouve tout entière est donc une colonne de
        textes, ce que :meth:`types` sait alors sans la parcourir (les lecteurs ne
        rendent que des ``str`` Python, jamais une sous-classe).
        """
        cache = self.__dict__.setdefault("_subset", {})
        key = (j, start, id(known))
        hit = cache.get(key)
        if hit is None or hit[0] is not known:
            distinct = self.__dict__.get("_distinct", {}).get((j, start))
            cells = distinct[1] if distinct is not None else self.column(j, start)
            inside = known.issuperset(cells)
            hit = (known, inside)
            cache[key] = hit
            if inside:
                self.__dict__.setdefault("_types", {}).setdefault(
                    (j, start), frozenset({str}) if cells else frozenset())
        return hit[1]

    def types(self, j: int, start: int = 0) -> frozenset:
        """Types présents dans la colonne ``j`` à partir de la ligne ``start`` (en cache).

        Moins cher que :meth:`distinct` : une colonne de nombres n'a pas à être hachée
        pour savoir qu'elle ne porte ni texte ni date.
        """
        cache = self.__dict__.setdefault("_types", {})
        if (j, start) not in cache:
            cache[(j, start)] = frozenset(map(type, self.column(j, start)))
        return cache[(j, start)]

    @property
    def uncached(self) -> list[tuple[int, int]]:
        """Cellules ``(ligne, colonne)`` (indices de ``cells``) faites d'une formule sans
        valeur calculée enregistrée : lues vides, ce qu'il faut signaler.

        Calculé à la première demande (il faut relire le XML de la feuille), ce qui n'arrive
        que lorsqu'une cellule de valeurs est vide.
        """
        cache = self.__dict__.setdefault("_uncached", {})
        if "cells" not in cache:
            cache["cells"] = list(self.formulas()) if self.formulas is not None else []
        return cache["cells"]

    def ref(self, i: int, j: int) -> tuple[int, str]:
        """(ligne, colonne) d'origine de la cellule ``cells.iat[i, j]``."""
        if self.transposed:
            return self.cols_orig_rows[j], self.rows_orig_cols[i]
        return self.rows[i], self.cols[j]

    def transpose(self) -> Sheet:
        """Feuille transposée (lignes et colonnes échangées), positions d'origine gardées."""
        t = Sheet.from_array(self.name, np.ascontiguousarray(self.array.T),
                             rows=list(range(len(self.cols))), cols=[str(r) for r in self.rows],
                             merged=[(c0, r0, c1, r1) for r0, c0, r1, c1 in self.merged],
                             hidden=self.hidden, transposed=True)
        if self.formulas is not None:
            t.formulas = lambda: [(j, i) for i, j in self.formulas()]
        t.cols_orig_rows = list(self.rows)
        t.rows_orig_cols = list(self.cols)
        return t


@dataclass
class Workbook:
    """Fichier lu : ses feuilles et ce qu'on sait de sa forme.

    Attributes
    ----------
    format : str
        ``xlsx``, ``xls``, ``ods`` ou ``csv``.
    sheets : list of Sheet
    encodage, separateur : str or None
        Pour un CSV.
    stamp : dict or None
        Tampon du modèle standard (``version``, ``contributeur``, ``annee``,
        ``feuille``, ``ligne_entete``, ``indicateurs``) quand le fichier en est un.
    """

    format: str
    sheets: list[Sheet]
    encodage: str | None = None
    separateur: str | None = None
    stamp: dict | None = None


def _array(rows: list[list], rectangular: bool = False) -> np.ndarray:
    """Tableau d'objets (lignes × colonnes) des cellules, None pour une cellule vide.

    ``rectangular`` : toutes les lignes ont déjà la même longueur (une plage calamine
    l'est par construction), ce qu'on n'a alors pas à vérifier.
    """
    if not rows:
        return np.empty((0, 0), dtype=object)
    width = len(rows[0])
    if not rectangular:
        widths = set(map(len, rows))
        width = max(widths)
        if len(widths) > 1:
            rows = [list(r) + [None] * (width - len(r)) for r in rows]
    # Une seule passe sur les cellules, sans l'analyse de forme d'une affectation imbriquée.
    arr = np.fromiter(itertools.chain.from_iterable(rows), dtype=object,
                      count=len(rows) * width).reshape(len(rows), width)
    arr[arr == ""] = None
    return arr


def read_workbook(content: bytes, kind: str, filename: str = "") -> Workbook:
    """Lit un classeur (.xlsx, .xls, .ods) avec python-calamine.

    Parameters
    ----------
    content : bytes
    kind : str
        Format rendu par :func:`observatoire.ingest.safety.check_file`.
    filename : str
        Pour les messages.

    Returns
    -------
    Workbook

    Raises
    ------
    FichierRefuseError
        Classeur corrompu, chiffré ou illisible.
    """
    from python_calamine import CalamineWorkbook

    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(content))
        metas = {m.name: m for m in wb.sheets_metadata}
        sheets = []
        stamp = None
        for index, name in enumerate(wb.sheet_names):
            sh = wb.get_sheet_by_index(index)
            meta = metas.get(name)
            hidden = meta is not None and not str(meta.visible).endswith(".Visible")
            rows = sh.to_python(skip_empty_area=False)
            if name == TEMPLATE_SHEET:
                stamp = _read_stamp(rows)
                continue
            merged = [(r0, c0, r1, c1) for (r0, c0), (r1, c1) in (sh.merged_cell_ranges or [])]
            sheets.append(Sheet.from_array(name, _array(rows, rectangular=True), merged=merged,
                                           hidden=hidden))
    except FichierRefuseError:
        raise
    except Exception as exc:  # calamine lève ses propres types (ZipError, XmlError, PasswordError…)
        # Le message de calamine est en anglais : il n'est jamais cité, seulement interprété.
        if _looks_encrypted(exc, content, kind):
            raise FichierRefuseError(
                f"Le fichier « {filename} » est un classeur protégé par un mot de passe : il "
                f"ne peut pas être lu. Enregistrez-en une copie sans mot de passe et "
                f"renvoyez-la.") from exc
        raise FichierRefuseError(
            f"Le fichier « {filename} » est corrompu ou illisible : le tableur qui l'a produit "
            f"l'a mal enregistré, ou ce n'est pas un classeur {kind}. Ouvrez-le dans votre "
            f"tableur, enregistrez-le de nouveau en .xlsx et renvoyez-le."
        ) from exc
    if kind == "xlsx" and stamp is None:
        stamp = _stamp_from_defined_names(content)
    if kind == "xlsx":
        for sheet in sheets:
            sheet.formulas = functools.partial(_uncached_formulas, content, sheet.name)
            sheet.hidden_columns = functools.partial(_hidden_columns, content, sheet.name)
    return Workbook(format=kind, sheets=sheets, stamp=stamp)


# Enregistrement FILEPASS (0x002F) d'un classeur .xls chiffré, suivi du type de chiffrement
# (0 : XOR, 1 : RC4).
_XLS_FILEPASS = re.compile(rb"\x2f\x00[\x02-\xff]\x00(?:\x00\x00|\x01\x00)")


def _looks_encrypted(exc: Exception, content: bytes, kind: str) -> bool:
    """Vrai quand un classeur illisible l'est parce qu'il est chiffré (mot de passe)."""
    text = f"{type(exc).__name__} {exc}".lower()
    if "password" in text or "encrypt" in text or "protect" in text:
        return True
    if kind == "xls":
        return bool(_XLS_FILEPASS.search(content[:65536]))
    return False


def _read_stamp(rows: list[list]) -> dict | None:
    pairs = {str(r[0]).strip(): r[1] for r in rows if len(r) >= 2 and r[0] not in (None, "")}
    if pairs.get("tampon") != TEMPLATE_STAMP:
        return None
    return {
        "version": str(pairs.get("version", "")),
        "contributeur": str(pairs.get("contributeur", "")),
        "annee": int(float(pairs["annee"])) if pairs.get("annee") not in (None, "") else None,
        "feuille": str(pairs.get("feuille", "")),
        "ligne_entete": int(float(pairs.get("ligne_entete", 1))),
        "indicateurs": [c for c in str(pairs.get("indicateurs", "")).split("|") if c],
    }


def _stamp_from_defined_names(content: bytes) -> dict | None:
    # Repli quand la feuille cachée a été supprimée mais le nom défini conservé : on
    # reconnaît le modèle, sans ses paramètres (lu alors comme un tableau ordinaire).
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as zf:
            xml = zf.read("xl/workbook.xml").decode("utf-8", "replace")
    except (KeyError, zipfile.BadZipFile):
        return None
    return {"version": "inconnue"} if "OBSERVATOIRE_MODELE" in xml else None


_UNCACHED = re.compile(
    rb'<(?:\w+:)?c r="([A-Z]+)(\d+)"[^>]*>\s*<(?:\w+:)?f\b[^>]*(?:/>|>[^<]*</(?:\w+:)?f>)\s*'
    rb'(?:<(?:\w+:)?v\s*/>|<(?:\w+:)?v>\s*</(?:\w+:)?v>)?\s*</(?:\w+:)?c>')


def _column_index(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n - 1


def _sheet_xml_path(zf: zipfile.ZipFile, name: str) -> str | None:
    """Chemin, dans l'archive d'un .xlsx, du XML de la feuille ``name`` (None si introuvable)."""
    wb = zf.read("xl/workbook.xml").decode("utf-8", "replace")
    rels = zf.read("xl/_rels/workbook.xml.rels").decode("utf-8", "replace")
    rid = None
    for tag in re.findall(r"<(?:\w+:)?sheet\b[^>]*>", wb):
        found = re.search(r'\bname="([^"]*)"', tag)
        if found and html.unescape(found[1]) == name:
            rid = re.search(r'\br:id="([^"]+)"', tag)
            break
    if rid is None:
        return None
    for rel in re.findall(r"<(?:\w+:)?Relationship\b[^>]*>", rels):
        if re.search(rf'\bId="{re.escape(rid[1])}"', rel):
            target = re.search(r'Target="([^"]+)"', rel)[1].lstrip("/")
            return target if target.startswith("xl/") else "xl/" + target
    return None


def sheet_xml_paths(zf: zipfile.ZipFile) -> dict[str, str]:
    """Nom de chaque feuille d'un .xlsx → chemin de son XML dans l'archive."""
    wb = zf.read("xl/workbook.xml").decode("utf-8", "replace")
    rels = zf.read("xl/_rels/workbook.xml.rels").decode("utf-8", "replace")
    targets = {}
    for rel in re.findall(r"<(?:\w+:)?Relationship\b[^>]*>", rels):
        rid, target = re.search(r'\bId="([^"]+)"', rel), re.search(r'Target="([^"]+)"', rel)
        if rid and target:
            t = target[1].lstrip("/")
            targets[rid[1]] = t if t.startswith("xl/") else "xl/" + t
    out = {}
    for tag in re.findall(r"<(?:\w+:)?sheet\b[^>]*>", wb):
        name, rid = re.search(r'\bname="([^"]*)"', tag), re.search(r'\br:id="([^"]+)"', tag)
        if name and rid and rid[1] in targets:
            out[html.unescape(name[1])] = targets[rid[1]]
    return out


def _uncached_formulas(content: bytes, name: str) -> list[tuple[int, int]]:
    """Cellules ``(ligne, colonne)`` de formule sans valeur calculée de la feuille ``name``.

    Excel enregistre avec chaque formule sa dernière valeur, que la lecture reprend ; un
    fichier produit par un programme qui écrit des formules sans les calculer n'en a
    pas, et la cellule serait lue vide sans que personne le sache.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as zf:
            target = _sheet_xml_path(zf, name)
            if target is None:
                return []
            xml = zf.read(target)
    except (KeyError, TypeError, zipfile.BadZipFile):
        return []  # structure inattendue : calamine a déjà lu ce qu'il pouvait
    if b"<f" not in xml and b":f" not in xml:  # sans formule, le cas courant
        return []
    return [(int(r) - 1, _column_index(c)) for c, r in _UNCACHED.findall(xml)]


_COL_TAG = re.compile(rb"<(?:\w+:)?col\b[^>]*>")


def _hidden_columns(content: bytes, name: str) -> frozenset[int]:
    """Colonnes (indices à partir de 0) masquées dans la feuille ``name`` d'un .xlsx.

    Elles sont décrites en tête du XML de la feuille (``<cols>``, avant les cellules) : on
    ne lit que ce début, pas toute la feuille. calamine lit les cellules masquées comme
    les autres ; le rapport le signale quand une colonne masquée est chargée.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as zf:
            target = _sheet_xml_path(zf, name)
            if target is None:
                return frozenset()
            head = b""
            with zf.open(target) as fh:
                while b"sheetData" not in head and len(head) < 4_000_000:
                    chunk = fh.read(65536)
                    if not chunk:
                        break
                    head += chunk
    except (KeyError, TypeError, zipfile.BadZipFile):
        return frozenset()
    head = head.split(b"sheetData", 1)[0]
    hidden = set()
    for tag in _COL_TAG.findall(head):
        if not re.search(rb'\bhidden="(1|true)"', tag):
            continue
        lo, hi = re.search(rb'\bmin="(\d+)"', tag), re.search(rb'\bmax="(\d+)"', tag)
        if lo and hi and int(hi[1]) - int(lo[1]) < 16384:
            hidden.update(range(int(lo[1]) - 1, int(hi[1])))
    return frozenset(hidden)


_ENCODINGS = ("utf-8-sig", "cp1252")


def decode_text(content: bytes) -> tuple[str, str]:
    """Décode un CSV : UTF-8 (avec ou sans BOM), UTF-16 avec BOM, sinon Windows-1252.

    Returns
    -------
    (str, str)
        Texte et nom de l'encodage retenu.
    """
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        return content.decode("utf-16"), "utf-16"
    try:
        return content.decode("utf-8-sig"), ("utf-8-sig" if content.startswith(b"\xef\xbb\xbf")
                                              else "utf-8")
    except UnicodeDecodeError:
        pass
    # cp1252 laisse 5 octets sans caractère : latin-1 les reprend plutôt que d'échouer.
    try:
        return content.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return content.decode("latin-1"), "latin-1"


def sniff_separator(text: str) -> str:
    """Séparateur d'un CSV parmi ``;``, ``,`` et tabulation (le plus régulier sur 50 lignes)."""
    lines = [ln for ln in text.splitlines()[:50] if ln.strip()]
    best, best_score = ";", -1.0
    for sep in (";", "\t", ","):
        counts = [len(next(csv.reader([ln], delimiter=sep))) - 1 for ln in lines]
        counts = [c for c in counts if c > 0]
        if not counts:
            continue
        mode = max(set(counts), key=counts.count)
        score = counts.count(mode) * (1 + min(mode, 20) / 100)
        if score > best_score:
            best, best_score = sep, score
    return best


def read_csv_bytes(content: bytes, filename: str = "fichier.csv") -> Workbook:
    """Lit un CSV en une feuille de textes (aucune conversion, aucune formule évaluée).

    Parameters
    ----------
    content : bytes
    filename : str
        Donne le nom de la feuille.

    Returns
    -------
    Workbook
    """
    text, encoding = decode_text(content)
    if not text.strip():
        raise FichierRefuseError(f"Le fichier « {filename} » ne contient aucune ligne de "
                                 f"texte : rien à importer. Vérifiez l'export du tableau.")
    sep = sniff_separator(text)
    width = max((len(next(csv.reader([ln], delimiter=sep)))
                 for ln in text.splitlines()[:200] if ln.strip()), default=1)
    try:
        # dtype=object : des chaînes Python telles quelles (le type « str » de pandas les
        # convertirait en Arrow, puis il faudrait les reconvertir pour les parcourir).
        df = pd.read_csv(io.StringIO(text), sep=sep, header=None, dtype=object,
                         keep_default_na=False, na_filter=False, names=range(width),
                         skip_blank_lines=False, engine="c", quoting=csv.QUOTE_MINIMAL)
        arr = df.to_numpy(dtype=object)
    except (pd.errors.ParserError, ValueError, csv.Error):
        try:
            rows = list(csv.reader(io.StringIO(text), delimiter=sep))
        except csv.Error as exc:
            raise FichierRefuseError(
                f"Le fichier « {filename} » n'est pas un CSV lisible (guillemets ou "
                f"séparateurs incohérents). Exportez de nouveau le tableau en CSV (séparateur "
                f"« ; ») ou en .xlsx, et renvoyez-le.") from exc
        arr = _array(rows) if rows else np.empty((0, 0), dtype=object)
    arr = np.array(arr, dtype=object)  # inscriptible, indépendant du DataFrame lu
    arr[arr == ""] = None
    name = re.sub(r"\.(csv|txt|tsv)$", "", filename.rsplit("/", 1)[-1], flags=re.I) or "csv"
    return Workbook(format="csv", encodage=encoding, separateur=sep,
                    sheets=[Sheet.from_array(name, arr)])


def read_any(content: bytes, kind: str, filename: str = "") -> Workbook:
    """Lit un fichier déjà contrôlé par :func:`observatoire.ingest.safety.check_file`."""
    if kind == "csv":
        return read_csv_bytes(content, filename)
    return read_workbook(content, kind, filename)
