"""Lecture des valeurs : effectifs entiers, nombres écrits en texte, valeurs masquées.

Tout est vectorisé (pandas) : une colonne de 200 000 cellules ne passe par Python que
pour ses textes distincts.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

#: Marques de secret posées par le contributeur : stockées masquées, jamais 0 ni un nombre.
MASK_RE = re.compile(
    r"^\s*((<|≤|<=|inf\.?|inférieur à|moins de)\s*\d+|s|nc|n\.c\.?|secret( stat(istique)?)?|"
    r"ss|ns|n\.s\.?|\*+|masqué|masque|confidentiel|c)\s*$",
    re.IGNORECASE,
)
EMPTY_RE = re.compile(r"^\s*(-+|–|—|\.|/|néant|neant|vide|nd|n\.d\.?)?\s*$", re.IGNORECASE)
INJECTION_RE = re.compile(r"^\s*[=+\-@\t\r]\s*[A-Za-z_]")
_SPACES = re.compile(r"[\s\u00a0\u202f\u2009']+")

#: Codes d'anomalie de :func:`parse_counts`.
OK, EMPTY, MASKED, NEGATIVE, FRACTION, NOT_NUMERIC, INJECTION = range(7)


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
    n = len(cells)
    obj = cells.to_numpy(dtype=object)
    numbers = np.full(n, np.nan)
    state = np.full(n, EMPTY, dtype=np.int8)
    kinds = pd.Series(obj).map(_kind).to_numpy()
    is_num = kinds == 1
    if is_num.any():
        numbers[is_num] = obj[is_num].astype(float)
        state[is_num] = OK
    is_str = kinds == 2
    if is_str.any():
        texts = obj[is_str]
        uniq = pd.unique(texts)
        table = {u: _parse_text(u) for u in uniq}
        parsed = [table[t] for t in texts]
        numbers[is_str] = [p[0] if p[0] is not None else np.nan for p in parsed]
        state[is_str] = [p[1] for p in parsed]
    other = kinds == 3
    state[other] = NOT_NUMERIC
    valid = state == OK
    nan_num = valid & np.isnan(numbers)
    state[nan_num] = EMPTY
    valid &= ~nan_num
    neg = valid & (numbers < 0)
    frac = valid & ~neg & (np.floor(numbers) != numbers)
    state[neg] = NEGATIVE
    state[frac] = FRACTION
    good = state == OK
    out = pd.array(np.where(good, numbers, 0).astype(np.int64), dtype="Int64")
    out[~good] = pd.NA
    return (pd.Series(out, index=cells.index, name="valeur"),
            pd.Series(state, index=cells.index, name="etat"))


def looks_numeric(cells: pd.Series, min_share: float = 0.5) -> bool:
    """Vrai quand la plupart des cellules non vides sont des effectifs ou des valeurs masquées."""
    _, state = parse_counts(cells)
    filled = state != EMPTY
    if not filled.any():
        return False
    return bool((state[filled].isin([OK, MASKED, NEGATIVE, FRACTION])).mean() >= min_share)
