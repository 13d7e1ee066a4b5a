r"""Nombres, dates, tailles et noms à la française, par Babel (données CLDR).

Un seul endroit pour écrire ce que lit un élu : « 1 234,5 » (espace fine insécable des
milliers, virgule décimale), « 1er décembre 2026 », « 7,2 Ko », « arrondissement
d'Arras ». Babel porte les règles de la locale ``fr_FR`` ; on n'y ajoute que ce que CLDR
ne dit pas (le « 1er » du premier du mois, l'unité « Ko », l'élision devant un nom).

Examples
--------
>>> nombre(1234.5)
'1\u202f234,5'
>>> date(datetime.date(2026, 12, 1))
'1er décembre 2026'
>>> taille(7373) == "7,2\u00a0Ko"   # espace insécable avant l'unité
True
>>> de("Arras"), de("Béthune"), de("Le Portel")
("d'Arras", 'de Béthune', 'du Portel')
"""

from __future__ import annotations

import datetime
import math
import re

from babel.dates import format_date, format_datetime
from babel.numbers import get_decimal_symbol, get_group_symbol

LOCALE = "fr_FR"
#: Séparateurs de la locale (CLDR) : espace fine insécable U+202F, virgule.
GROUPE, DECIMALE = get_group_symbol(LOCALE), get_decimal_symbol(LOCALE)
_SEPARATEURS = str.maketrans({",": GROUPE, ".": DECIMALE})

_VOYELLE = re.compile(r"^[aeiouyàâäéèêëîïôöùûüœæAEIOUYÀÂÄÉÈÊËÎÏÔÖÙÛÜŒÆ]")


def _absent(x) -> bool:
    if x is None:
        return True
    try:
        return bool(math.isnan(float(x)))
    except (TypeError, ValueError):
        return True  # pd.NA, texte : pas un nombre


def nombre(x, decimales: int = 1) -> str:
    """Nombre au format français, avec exactement ``decimales`` chiffres après la virgule.

    Parameters
    ----------
    x : float, int or None
        Valeur ; None, NaN ou ``pd.NA`` donnent une chaîne vide.
    decimales : int, default 1

    Returns
    -------
    str
        « 1 234,5 » ; jamais « -0,0 » (un lecteur n'y voit rien de négatif).
    """
    if _absent(x):
        return ""
    v = float(x)
    if round(v, decimales) == 0:
        v = 0.0
    # Les séparateurs viennent de CLDR ; le gabarit de Python fait le reste, 30 fois plus
    # vite que l'application d'un motif Babel (une carte formate des milliers de nombres).
    return f"{v:,.{decimales}f}".translate(_SEPARATEURS)


def entier(x) -> str:
    """Entier au format français (« 12 345 »), chaîne vide si absent."""
    return nombre(x, 0)


def date(d) -> str:
    """Date en toutes lettres : « 1er décembre 2026 », « 15 mars 2024 ».

    Parameters
    ----------
    d : datetime.date, datetime.datetime, str (ISO) or None

    Returns
    -------
    str
        Chaîne vide si ``d`` est absent ou illisible.
    """
    d = _as_date(d)
    if d is None:
        return ""
    texte = format_date(d, format="d MMMM y", locale=LOCALE)
    # CLDR écrit « 1 décembre » ; l'usage français est « 1er décembre ».
    return re.sub(r"^1 ", "1er ", texte)


def date_heure(d) -> str:
    """Date et heure : « 1er décembre 2026 à 14 h 05 » (chaîne vide si absente)."""
    if isinstance(d, str):
        try:
            d = datetime.datetime.fromisoformat(d)
        except ValueError:
            return d
    if not isinstance(d, datetime.datetime):
        return date(d)
    heure = format_datetime(d, format="H 'h' mm", locale=LOCALE)
    return f"{date(d)} à {heure}"


def _as_date(d):
    if d is None:
        return None
    if isinstance(d, str):
        try:
            return datetime.date.fromisoformat(d[:10])
        except ValueError:
            return None
    if hasattr(d, "to_pydatetime"):  # pandas.Timestamp
        if d != d:  # NaT
            return None
        d = d.to_pydatetime()
    if isinstance(d, datetime.datetime):
        return d.date()
    return d if isinstance(d, datetime.date) else None


_UNITES = ("octets", "Ko", "Mo", "Go", "To")


def taille(octets: int | float | None) -> str:
    """Taille de fichier : « 512 octets », « 7,2 Ko », « 1,3 Mo » (1 Ko = 1 024 octets)."""
    if _absent(octets):
        return ""
    v = float(octets)
    i = 0
    while v >= 1024 and i < len(_UNITES) - 1:
        v /= 1024
        i += 1
    return f"{nombre(v, 0 if i == 0 else 1)}\u00a0{_UNITES[i]}"


def de(nom: str) -> str:
    """« de » devant un nom propre, élidé ou contracté : « d'Arras », « du Portel ».

    Parameters
    ----------
    nom : str
        Nom de commune, d'arrondissement ou d'EPCI.

    Returns
    -------
    str
    """
    nom = str(nom).strip()
    for article, contracte in (("Le ", "du "), ("Les ", "des ")):
        if nom.startswith(article):
            return contracte + nom[len(article):]
    return ("d'" if _VOYELLE.match(nom) else "de ") + nom
