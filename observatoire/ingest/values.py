"""Lecture des valeurs : effectifs entiers, nombres écrits en texte, valeurs masquées.

Tout est vectorisé (numpy) : une colonne de nombres est convertie d'un bloc, une colonne
de 200 000 cellules de texte ne passe par Python que pour ses valeurs distinctes.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

#: Marques de secret posées par le contributeur : stockées masquées, jamais 0 ni un nombre.
MASK_RE = re.compile(
    r"^\s*((<|≤|<=|inf\.?|inférieur à|moins de)\s*\d+|s|nc|n\.c\.?|secret( stat(istique)?)?|"
    r"ss|ns|n\.s\.?|\*+|masqué|masque|confidentiel|c|"
    # Une fourchette (« 1 à 4 », « 1-4 », « entre 1 et 4 », « [1;4] ») cache l'effectif
    # exact : c'est un secret, pas un nombre.
    r"(de\s+)?\d+\s*(à|a|-|–)\s*\d+|entre\s+\d+\s+et\s+\d+|[\[\]]\s*\d+\s*[;,]\s*\d+\s*[\[\]])"
    r"\s*$",
    re.IGNORECASE,
)
EMPTY_RE = re.compile(r"^\s*(-+|–|—|\.|/|néant|neant|vide|nd|n\.d\.?)?\s*$", re.IGNORECASE)
INJECTION_RE = re.compile(r"^\s*[=+\-@\t\r]\s*[A-Za-z_]")
_SPACES = re.compile(r"[\s\u00a0\u202f\u2009']+")

#: Codes d'anomalie de :func:`parse_counts` ; ``TOO_LARGE`` : nombre démesuré pour un
#: effectif (au-delà de :data:`MAX_COUNT`, jusqu'aux nombres qu'aucun entier 64 bits ne
#: tient) ; ``EXCLUDED`` : cellule d'une ligne écartée à la demande de l'agent.
OK, EMPTY, MASKED, NEGATIVE, FRACTION, NOT_NUMERIC, INJECTION, TOO_LARGE, EXCLUDED = range(9)
#: Effectif le plus grand qu'on accepte pour une commune et un indicateur : plus que la
#: population de la plus grande commune de France ; au-delà, c'est une erreur de saisie
#: (un code, un numéro de téléphone, une somme collés dans la cellule).
MAX_COUNT = 10_000_000


def _parse_text(text: str) -> tuple[float | None, int]:
    if EMPTY_RE.match(text):
        return None, EMPTY
    if MASK_RE.match(text):
        return None, MASKED
    if INJECTION_RE.match(text):
        return None, INJECTION
    compact = _SPACES.sub("", text)
    if re.fullmatch(r"[+-]?\d+([.,]\d+)?", compact):
        return float(compact.replace(",", ".")), OK
    return None, NOT_NUMERIC


_NUMERIC_TYPES = (float, int, np.floating, np.integer)
_PLAIN_NUMBERS = {float, int}


def _kind(v) -> int:
    # 0 vide, 1 nombre, 2 texte, 3 autre (date, booléen…)
    if v is None:
        return 0
    if isinstance(v, bool):
        return 3
    if isinstance(v, _NUMERIC_TYPES):
        return 1
    if isinstance(v, str):
        return 2
    return 3


def _parse_cell(v) -> tuple[float, int]:
    kind = _kind(v)
    if kind == 1:
        return float(v), OK
    if kind == 2:
        number, state = _parse_text(v)
        return (np.nan if number is None else number), state
    return np.nan, (EMPTY if kind == 0 else NOT_NUMERIC)


def parse_array(cells, types=None) -> tuple[np.ndarray, np.ndarray]:
    """Effectifs d'un tableau de cellules : ``(nombres, états)`` en tableaux numpy.

    Une colonne dont toutes les cellules sont déjà des nombres Python (le cas d'un
    classeur) est convertie d'un bloc ; sinon chaque valeur *distincte* est lue une
    fois (quelques dizaines pour 200 000 cellules d'un CSV), puis répartie.

    Parameters
    ----------
    cells : array-like
        Cellules brutes (nombres, textes, None).
    types : set, optional
        Types des cellules, s'ils sont déjà connus.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ``float64`` (NaN sauf pour un effectif valide) et ``int8`` (``OK``, ``EMPTY``…).
    """
    obj = np.asarray(cells, dtype=object)
    n = len(obj)
    if types is None:
        types = set(map(type, obj.tolist()))
    if types <= _PLAIN_NUMBERS:
        numbers = obj.astype(np.float64)
        state = np.full(n, OK, dtype=np.int8)
    elif types <= _PLAIN_NUMBERS | {type(None)}:
        numbers = np.full(n, np.nan)
        state = np.full(n, EMPTY, dtype=np.int8)
        filled = obj != None  # noqa: E711 (comparaison élément par élément)
        numbers[filled] = obj[filled].astype(np.float64)
        state[filled] = OK
    elif bool in types or np.bool_ in types:
        # VRAI vaut 1 pour une table de hachage : cellule par cellule.
        parsed = [_parse_cell(v) for v in obj.tolist()]
        numbers = np.array([p[0] for p in parsed], dtype=np.float64).reshape(n)
        state = np.array([p[1] for p in parsed], dtype=np.int8).reshape(n)
    else:
        codes, uniq = pd.factorize(obj, use_na_sentinel=False)
        parsed = [_parse_cell(u) for u in uniq.tolist()]
        numbers = np.array([p[0] for p in parsed], dtype=np.float64)[codes]
        state = np.array([p[1] for p in parsed], dtype=np.int8)[codes]
    valid = state == OK
    nan_num = valid & np.isnan(numbers)
    state[nan_num] = EMPTY
    valid &= ~nan_num
    neg = valid & (numbers < 0)
    frac = valid & ~neg & (np.floor(numbers) != numbers)
    # Trop grand pour un effectif (et, au-delà de 2^63, pour la base : jamais converti).
    huge = valid & ~neg & ~(numbers <= MAX_COUNT)
    state[neg] = NEGATIVE
    state[frac] = FRACTION
    state[huge] = TOO_LARGE
    numbers[state != OK] = np.nan
    return numbers, state


def parse_counts(cells: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Convertit une colonne de cellules en effectifs.

    Parameters
    ----------
    cells : pandas.Series
        Cellules brutes (nombres, textes, None).

    Returns
    -------
    (pandas.Series, pandas.Series)
        ``valeur`` (Int64, ``<NA>`` sauf pour un effectif valide) et ``etat`` (entier :
        ``OK``, ``EMPTY``, ``MASKED``, ``NEGATIVE``, ``FRACTION``, ``NOT_NUMERIC``,
        ``INJECTION``), alignées sur ``cells``.

    Examples
    --------
    >>> v, e = parse_counts(pd.Series([3.0, "1 204", "<5", None, -2, "=HYPERLINK(1)"]))
    >>> list(e) == [OK, OK, MASKED, EMPTY, NEGATIVE, INJECTION]
    True
    """
    obj = cells.to_numpy(dtype=object)
    numbers, state = parse_array(np.where(pd.isna(obj), None, obj) if obj.size else obj)
    good = state == OK
    out = pd.array(np.where(good, numbers, 0).astype(np.int64), dtype="Int64")
    out[~good] = pd.NA
    return (pd.Series(out, index=cells.index, name="valeur"),
            pd.Series(state, index=cells.index, name="etat"))


def looks_numeric(cells, min_share: float = 0.5) -> bool:
    """Vrai quand la plupart des cellules non vides sont des effectifs ou des valeurs masquées.

    Parameters
    ----------
    cells : pandas.Series or numpy.ndarray
        Cellules brutes (None pour vide).
    min_share : float
    """
    obj = cells.to_numpy(dtype=object) if isinstance(cells, pd.Series) else cells
    _, state = parse_array(np.where(pd.isna(obj), None, obj) if len(obj) else obj)
    filled = state != EMPTY
    if not filled.any():
        return False
    return bool(np.isin(state[filled], [OK, MASKED, NEGATIVE, FRACTION, TOO_LARGE]).mean()
                >= min_share)
