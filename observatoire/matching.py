"""Reconnaissance des communes dans les fichiers des contributeurs.

Une commune arrive sous bien des formes : code INSEE (nombre, texte, complété
d'espaces, sur 4 chiffres quand Excel a mangé le zéro initial), « Nom (code) », code
postal et nom, ou nom seul, écrit en capitales, sans accents, avec ou sans tirets,
« St » pour « Saint », article rejeté (« TOUQUET-PARIS-PLAGE (LE) »), ou nom d'une
ancienne commune devenue déléguée ou associée. Tout est ramené au code de la commune
actuelle (COG). Un nom porté par plusieurs communes n'est jamais tranché au hasard :
il est rendu « ambigu » avec ses candidates.

Le travail se fait sur les valeurs distinctes et l'index des noms est mis en cache :
un fichier de 200 000 lignes ne normalise que ses quelques milliers de noms différents.
"""

from __future__ import annotations

import bisect
import itertools
import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd

from observatoire import communes
from observatoire.config import settings

#: Méthodes de reconnaissance (colonne ``methode`` de :func:`match_communes`).
METHODES = ("code", "ancien_code", "code_prefixe", "nom_code", "code_postal_nom", "nom",
            "ancienne_commune", "non_localise", "ambigu", "inconnue", "vide")
#: Méthodes qui localisent une commune (ou disent qu'elle ne l'est pas) : une colonne dont
#: la plupart des cellules en relèvent est une colonne de communes, quel que soit son titre.
RECOGNISED = ("code", "ancien_code", "code_prefixe", "nom_code", "code_postal_nom", "nom",
              "ancienne_commune", "non_localise", "ambigu")

_CODE_RE = re.compile(r"^(\d{5}|\d{4}|2[AaBb]\d{3})$")
# Code préfixé (« com62001 », « COM_62001 », « INSEE:62001 », « C-62001 ») : un préfixe de
# lettres, un séparateur facultatif, un code complet.
_PREFIXED_RE = re.compile(r"^(?P<prefix>[A-Za-z][A-Za-z_]{0,11})[\s_:\-.#]?"
                          r"(?P<code>\d{5}|2[AaBb]\d{3})$")
_NOM_CODE_RE = re.compile(r"^(?P<nom>.*?\S)\s*[\(\[]\s*(?P<code>\d{5}|2[AaBb]\d{3})\s*[\)\]]$")
_CP_NOM_RE = re.compile(r"^(?P<cp>\d{5})\s*[-–,;:]?\s*(?P<nom>\D.*)$")
_NOM_CP_RE = re.compile(r"^(?P<nom>.*\D)\s*[-–,;:(]?\s*(?P<cp>\d{5})\s*\)?$")
_ARTICLE_SUFFIX_RE = re.compile(r"^(?P<nom>.+?)\s*\((?P<art>LE|LA|LES|L)\)$")
_ARTICLES = ("LE ", "LA ", "LES ", "L ")
# Abréviations courantes des noms de communes (après passage en capitales sans accents).
_ABBREV = {"ST": "SAINT", "STE": "SAINTE", "STS": "SAINTS", "STES": "SAINTES",
           "S/": "SUR", "/S": "SUR", "NDAME": "NOTRE DAME", "ND": "NOTRE DAME"}

_NON_LOCALISE_RE = re.compile(
    r"^(NON (RENSEIGNE|LOCALISE|PRECISE|COMMUNIQUE|CONNU|DETERMINE|IDENTIFIE|DOMICILIE)E?S?"
    r"( .*)?|INCONNUE?S?( .*)?|COMMUNES? (INCONNUE|NON RENSEIGNEE|NON PRECISEE)S?|"
    r"HORS( .*)?|AUTRES?( COMMUNES?| DEPARTEMENTS?| TERRITOIRES?| ARRONDISSEMENTS?)?( .*)?|"
    r"SANS DOMICILE( FIXE)?|SDF|N ?R|NON RENS|EXTERIEURE?S?( .*)?|ETRANGER|DIVERS|"
    r"NON ATTRIBUEE?S?|A DETERMINER|INDETERMINEE?S?|NON SECTORISEE?S?)$"
)
_TOTAL_RE = re.compile(r"^(SOUS ?TOTAL|S ?TOTAL|TOTAL|TOTAUX|TOTAL GENERAL|ENSEMBLE|SOMME)"
                       r"( .*)?$")


def normalize_name(text) -> str:
    """Forme canonique d'un nom de commune (ou d'un libellé) pour la comparaison.

    Capitales sans accents (« Œ » devient « OE »), apostrophes, tirets et ponctuation
    remplacés par des espaces, « ST »/« STE » développés en « SAINT »/« SAINTE »,
    article rejeté en fin de nom (« TOUQUET (LE) ») remis devant.

    Parameters
    ----------
    text : object
        Texte lu dans une cellule (None et NaN donnent ``""``).

    Returns
    -------
    str

    Examples
    --------
    >>> normalize_name("St-Omer")
    'SAINT OMER'
    >>> normalize_name("NŒUX LES MINES")
    'NOEUX LES MINES'
    """
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return ""
    return _normalize_cached(str(text))


@lru_cache(maxsize=200_000)
def _normalize_cached(text: str) -> str:
    s = text.strip().upper().replace("Œ", "OE").replace("Æ", "AE").replace("ß", "SS")
    s = unicodedata.normalize("NFKD", s)
    s = "".join(ch for ch in s if not unicodedata.combining(ch))
    s = s.replace("S/", " SUR ").replace("/S ", " SUR ")
    s = re.sub(r"[^A-Z0-9()]+", " ", s).strip()
    m = _ARTICLE_SUFFIX_RE.match(s)
    if m:
        s = f"{m['art']} {m['nom']}"
    s = re.sub(r"[()]", " ", s)
    tokens = [_ABBREV.get(t, t) for t in s.split()]
    return " ".join(tokens)


def normalize_many(texts: list[str]) -> list[str]:
    """:func:`normalize_name` de nombreux textes d'un coup (noms officiels des référentiels).

    Les opérations de chaîne de pandas font en une passe ce que :func:`normalize_name`
    fait texte par texte ; les textes à parenthèses ou à barre oblique (article rejeté,
    « S/ ») passent par :func:`normalize_name` lui-même. Même résultat, vingt fois plus vite.
    """
    s = pd.Series(texts, dtype=object).fillna("").astype(str)
    special = s.str.contains(r"[()/]", regex=True).to_numpy()
    out = (s.str.strip().str.upper().str.replace("Œ", "OE").str.replace("Æ", "AE")
           .str.replace("ß", "SS").str.normalize("NFKD")
           .str.encode("ascii", "ignore").str.decode("ascii")
           .str.replace(r"[^A-Z0-9]+", " ", regex=True).str.strip())
    for short, full in _ABBREV.items():
        if short.isalpha():
            out = out.str.replace(rf"\b{short}\b", full, regex=True)
    result = out.tolist()
    for k in np.flatnonzero(special).tolist():
        result[k] = normalize_name(texts[k])
    return result


def is_non_localise_label(text) -> bool:
    """Vrai pour un libellé de ligne non localisée (« non renseigné », « hors arrondissement »…)."""
    norm = normalize_name(text)
    return bool(norm) and bool(_NON_LOCALISE_RE.match(norm))


def is_total_label(text) -> bool:
    """Vrai pour un libellé de ligne de total ou de sous-total (« TOTAL », « Sous-total »…).

    Le nom exact d'une commune n'en est jamais un (Somme-Bionne, Somme-Suippe…).
    """
    norm = normalize_name(text)
    return bool(norm) and bool(_TOTAL_RE.match(norm)) and norm not in _official_names()


@lru_cache(maxsize=1)
def _official_names() -> frozenset[str]:
    """Noms normalisés de toutes les communes actuelles de France."""
    return frozenset(normalize_many(communes.load_communes(None)["nom"].tolist()))


def names_a_commune(text, index: CommuneIndex | None = None) -> bool:
    """Vrai quand le texte désigne une commune : nom officiel d'une commune actuelle de
    France (à la casse, aux accents et aux tirets près), ou commune reconnue par ``index``
    (ancien nom, abréviation, nom ambigu entre plusieurs communes).

    Sert au contrôle des données personnelles : « Sainte Marie Kerque » a l'air d'une
    personne nommée mais n'en est pas une ; « Jean DUPONT » dans une colonne de communes,
    si.
    """
    if not isinstance(text, str):
        return False
    if normalize_name(text) in _official_names():
        return True
    if index is None:
        return False
    m = match_commune(text, None, index, suggest=False)
    return m.code_insee is not None or m.methode == "ambigu"


def _strip_article(norm: str) -> str:
    for art in _ARTICLES:
        if norm.startswith(art) and len(norm) > len(art) + 2:
            return norm[len(art):]
    return norm


@dataclass
class CommuneIndex:
    """Index de reconnaissance des communes d'un périmètre (mis en cache par :func:`get_index`).

    Attributes
    ----------
    departement : str or None
        Département des noms indexés ; None = France entière.
    names : dict
        Nom normalisé -> codes des communes actuelles qui le portent.
    old_names : dict
        Nom normalisé d'une commune déléguée ou associée -> codes des communes actuelles.
    short_names : dict
        Nom normalisé sans article initial -> codes (« TOUQUET PARIS PLAGE »).
    postal : dict
        Code postal -> codes INSEE des communes qu'il dessert.
    code_map : dict
        Tout code connu (actuel, délégué, associé, ancien) -> code actuel (France entière).
    noms : dict
        Code actuel -> nom officiel (France entière).
    """

    departement: str | None
    names: dict[str, tuple[str, ...]]
    old_names: dict[str, tuple[str, ...]]
    short_names: dict[str, tuple[str, ...]]
    postal: dict[str, frozenset[str]]
    code_map: dict[str, str]
    noms: dict[str, str]
    current_codes: frozenset[str] = field(default_factory=frozenset)
    _sorted_keys: list[str] | None = field(default=None, repr=False)

    def prefixed(self, norm: str, limit: int = 8) -> list[str]:
        """Codes des communes dont le nom commence par les mots de ``norm``."""
        if len(norm) < 3:
            return []
        if self._sorted_keys is None:
            self._sorted_keys = sorted(self.names)
        start = norm + " "
        pos = bisect.bisect_left(self._sorted_keys, start)
        out: list[str] = []
        for key in self._sorted_keys[pos:]:
            if not key.startswith(start) or len(out) >= limit:
                break
            out.extend(c for c in self.names[key] if c not in out)
        return out[:limit]

    def candidates_for(self, norm: str, limit: int = 3) -> list[str]:
        """Codes des communes aux noms les plus proches de ``norm`` (pour le rapport).

        Les noms sont rangés une fois par clé de blocage (deux premières lettres du nom et
        deux premières lettres de son dernier mot) : un nom mal écrit n'est comparé
        (rapidfuzz) qu'aux noms qui partagent l'une de ses clés, pas aux 35 000 noms de France.
        Le résultat est gardé par nom cherché.
        """
        if not norm:
            return []
        cache = self.__dict__.setdefault("_suggest", {})
        if norm in cache:
            return cache[norm][:limit]
        from rapidfuzz import fuzz, process

        blocks = self._blocks()
        pool: dict[str, None] = {}
        for key in _block_keys(norm):
            pool.update(dict.fromkeys(blocks.get(key, ())))
        found = process.extract(norm, list(pool), scorer=fuzz.ratio, limit=max(limit, 5),
                                score_cutoff=75)
        out: list[str] = []
        for key, _score, _k in found:
            for code in self.names[key]:
                if code not in out:
                    out.append(code)
        cache[norm] = out
        return out[:limit]

    def is_near_name(self, text, cutoff: float = 88) -> bool:
        """Vrai quand ``text`` est un nom de commune à une faute près (« Béthunx »).

        Même recherche bloquée que :meth:`candidates_for`, avec un seuil plus haut : sert
        à reconnaître une commune mal écrite, qui n'a pas à passer au modèle de langue.
        """
        from rapidfuzz import fuzz, process

        norm = normalize_name(text)
        if not norm:
            return False
        blocks = self._blocks()
        pool: dict[str, None] = {}
        for key in _block_keys(norm):
            pool.update(dict.fromkeys(blocks.get(key, ())))
        return process.extractOne(norm, list(pool), scorer=fuzz.ratio,
                                  score_cutoff=cutoff) is not None

    def _blocks(self) -> dict[str, tuple[str, ...]]:
        blocks = self.__dict__.get("_block_index")
        if blocks is None:
            tmp: dict[str, list[str]] = {}
            for name in self.names:
                for key in _block_keys(name):
                    tmp.setdefault(key, []).append(name)
            blocks = {k: tuple(v) for k, v in tmp.items()}
            self.__dict__["_block_index"] = blocks
        return blocks


def _block_keys(norm: str) -> tuple[str, ...]:
    """Clés de blocage d'un nom normalisé : début du nom, début de son dernier mot."""
    words = norm.split()
    if not words:
        return ()
    first, last = norm.replace(" ", "")[:2], words[-1][:2]
    return (f"D{first}",) if first == last and len(words) == 1 else (f"D{first}", f"F{last}")


def _group(pairs: Iterable[tuple[str, str]]) -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for key, code in pairs:
        if key and code not in out.setdefault(key, []):
            out[key].append(code)
    return {k: tuple(v) for k, v in out.items()}


@lru_cache(maxsize=8)
def get_index(departement: str | None = None) -> CommuneIndex:
    """Index des communes d'un département (ou de la France entière), mis en cache.

    Parameters
    ----------
    departement : str or None
        Code du département dont les noms sont reconnus ; None = France entière. Les
        codes INSEE, eux, sont toujours reconnus dans toute la France.

    Returns
    -------
    CommuneIndex
    """
    allc = communes.load_communes(None)
    scope = allc if departement is None else allc[allc["departement"] == departement]
    # Listes Python d'abord : parcourir une colonne de chaînes Arrow, valeur par valeur,
    # coûte dix fois plus.
    scope_codes, scope_noms = scope["code_insee"].tolist(), scope["nom"].tolist()
    names = _group(zip(map(normalize_name, scope_noms), scope_codes, strict=True))
    short = _group((_strip_article(k), c) for k, codes in names.items() for c in codes
                   if _strip_article(k) != k)
    anc = communes.load_anciennes()
    anc = anc[(anc["nom"] != "") & anc["code_commune"].isin(set(scope_codes))]
    old = _group(zip(map(normalize_name, anc["nom"].tolist()), anc["code_commune"].tolist(),
                     strict=True))
    postal: dict[str, set[str]] = {}
    for code, cps in zip(scope_codes, scope["codes_postaux"].tolist(), strict=True):
        for cp in str(cps).replace(",", "|").split("|"):
            if cp.strip():
                postal.setdefault(cp.strip(), set()).add(code)
    all_codes = allc["code_insee"].tolist()
    return CommuneIndex(
        departement=departement, names=names, old_names=old, short_names=short,
        postal={k: frozenset(v) for k, v in postal.items()},
        code_map=communes.current_code_map(),
        noms=dict(zip(all_codes, allc["nom"].tolist(), strict=True)),
        current_codes=frozenset(all_codes),
    )


@dataclass(frozen=True)
class CommuneMatch:
    """Résultat de la reconnaissance d'une cellule.

    Attributes
    ----------
    code_insee : str or None
        Code de la commune actuelle ; None si non localisé, ambigu ou inconnu.
    methode : str
        Une des :data:`METHODES`.
    candidats : tuple of str
        Codes candidats (nom ambigu ou inconnu).
    """

    code_insee: str | None
    methode: str
    candidats: tuple[str, ...] = ()


def prefixed_code(value) -> str | None:
    """Code INSEE précédé d'un préfixe de lettres (« com62001 » → « 62001 »), ou None.

    Examples
    --------
    >>> prefixed_code("COM_62119")
    '62119'
    >>> prefixed_code("Béthune") is None
    True
    """
    if not isinstance(value, str):
        return None
    m = _PREFIXED_RE.match(value.strip())
    return m["code"].upper() if m else None


def clean_code(value) -> str | None:
    """Code INSEE lu dans une cellule (62119, 62119.0, " 62119 ", "1001" → "01001"), ou None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float):
        if math.isnan(value) or not value.is_integer():
            return None
        value = int(value)
    if isinstance(value, int):
        return str(value).zfill(5) if 1000 <= value <= 99999 else None
    s = str(value).strip().replace("\u00a0", "")
    if s.endswith(".0"):
        s = s[:-2]
    if not _CODE_RE.match(s):
        return None
    return s.upper().zfill(5)


def _by_name(index: CommuneIndex, norm: str, cp: str | None,
             suggest: bool = True) -> CommuneMatch:
    for table, methode in ((index.names, "nom"), (index.short_names, "nom"),
                           (index.old_names, "ancienne_commune")):
        codes = table.get(norm)
        if not codes:
            continue
        if cp:
            in_cp = [c for c in codes if c in index.postal.get(cp, ())]
            if len(in_cp) == 1:
                return CommuneMatch(in_cp[0], "code_postal_nom" if methode == "nom" else methode)
        if len(codes) == 1:
            return CommuneMatch(codes[0], methode)
        return CommuneMatch(None, "ambigu", tuple(codes))
    # Nom tronqué (« AUCHY » pour Auchy-les-Mines, Auchy-au-Bois…) : jamais tranché,
    # rendu ambigu quand plusieurs communes commencent ainsi.
    prefixed = index.prefixed(norm)
    if cp and prefixed:
        in_cp = [c for c in prefixed if c in index.postal.get(cp, ())]
        prefixed = in_cp or prefixed
    if len(prefixed) > 1:
        return CommuneMatch(None, "ambigu", tuple(prefixed))
    # Les communes proches ne servent qu'au rapport : la recherche de la mise en page, qui
    # essaie des dizaines de colonnes, ne les demande pas.
    cands = prefixed or (index.candidates_for(norm) if suggest else [])
    if cp and cp in index.postal:
        # Le code postal restreint les candidates proposées au rapport, sans trancher.
        cands = [c for c in cands if c in index.postal[cp]] or sorted(index.postal[cp])[:5]
    return CommuneMatch(None, "inconnue", tuple(cands))


def match_commune(value, code_postal=None, index: CommuneIndex | None = None,
                  suggest: bool = True) -> CommuneMatch:
    """Reconnaît une commune écrite dans une cellule.

    Parameters
    ----------
    value : object
        Contenu de la cellule : code INSEE, « Nom (code) », « 62400 Essars », nom…
    code_postal : object, optional
        Code postal lu dans une autre colonne de la même ligne.
    index : CommuneIndex, optional
        Par défaut celui du département configuré.
    suggest : bool, default True
        Cherche les communes proches d'un nom inconnu (pour le rapport).

    Returns
    -------
    CommuneMatch

    Examples
    --------
    >>> match_commune("BETHUNE").code_insee
    '62119'
    """
    index = index or get_index(settings().departement)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return CommuneMatch(None, "vide")
    if type(value) is str and value in index.current_codes:
        # Cas le plus fréquent (code INSEE actuel écrit tel quel) : une recherche suffit.
        return CommuneMatch(value, "code")
    code = clean_code(value)
    if code is not None:
        if code in index.current_codes:
            return CommuneMatch(code, "code")
        if code in index.code_map:
            return CommuneMatch(index.code_map[code], "ancien_code")
        if code in index.postal and len(index.postal[code]) == 1:
            return CommuneMatch(next(iter(index.postal[code])), "code_postal_nom")
        return CommuneMatch(None, "inconnue")
    text = str(value).strip()
    if not text:
        return CommuneMatch(None, "vide")
    code = prefixed_code(text)
    if code is not None and code in index.code_map:
        return CommuneMatch(index.code_map[code], "code_prefixe")
    m = _NOM_CODE_RE.match(text)
    if m:
        code = clean_code(m["code"])
        by_name = _by_name(index, normalize_name(m["nom"]), None, suggest=False)
        if code in index.code_map and by_name.code_insee in (None, index.code_map[code]):
            return CommuneMatch(index.code_map[code], "nom_code")
        # Le nombre entre parenthèses ne désigne pas la commune nommée : c'est sans doute
        # son code postal (« Essars (62400) »).
        text, code_postal = m["nom"], m["code"]
    cp = clean_code(code_postal)
    m = _CP_NOM_RE.match(text) or _NOM_CP_RE.match(text)
    if m:
        cp, text = m["cp"], m["nom"]
    norm = normalize_name(text)
    if not norm:
        return CommuneMatch(None, "vide")
    if _NON_LOCALISE_RE.match(norm):
        return CommuneMatch(None, "non_localise")
    return _by_name(index, norm, cp, suggest)


def distinct_values(values: np.ndarray, types=None, values_list: list | None = None
                    ) -> tuple[np.ndarray, list]:
    """Indice de la valeur distincte de chaque cellule, et les valeurs distinctes.

    Les booléens sont tenus à part : ``True == 1`` pour une table de hachage, mais une
    cellule VRAI n'est pas le code 1. ``types`` : types des cellules, s'ils sont connus ;
    ``values_list`` : les mêmes cellules en liste, si on l'a déjà.
    """
    if values_list is None:
        values_list = values.tolist()
    if types is None:
        types = set(map(type, values_list))
    if bool in types:
        keys = np.empty(len(values), dtype=object)
        keys[:] = [(type(v) is bool, v) for v in values_list]
        codes, uniq = pd.factorize(keys, use_na_sentinel=False)
        return codes, [k[1] for k in uniq.tolist()]
    if types == {str}:
        # Colonne de textes tous différents (codes INSEE d'un fichier par commune) : un
        # dictionnaire le dit plus vite que la table de hachage de pandas.
        first = dict.fromkeys(values_list)
        if len(first) == len(values_list):
            return np.arange(len(values_list), dtype=np.intp), values_list
    codes, uniq = pd.factorize(values, use_na_sentinel=False)
    return codes, list(uniq.tolist())


def match_values(values, codes_postaux=None, index: CommuneIndex | None = None,
                 distinct: tuple[np.ndarray, list] | None = None, suggest: bool = True
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reconnaît un tableau de cellules de communes, une fois par valeur distincte.

    Parameters
    ----------
    values : array-like
        Cellules (codes, noms, « Nom (code) »…), None pour une cellule vide.
    codes_postaux : array-like, optional
        Codes postaux alignés sur ``values``.
    index : CommuneIndex, optional
        Par défaut celui du département configuré.
    distinct : (numpy.ndarray, list), optional
        Valeurs distinctes de ``values`` déjà calculées (:func:`distinct_values`).
    suggest : bool, default True
        Cherche les communes proches des noms inconnus (pour le rapport).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray, numpy.ndarray)
        Tableaux d'objets alignés sur ``values`` : code INSEE (None si non reconnu),
        méthode (une des :data:`METHODES`) et candidats (tuple de codes).
    """
    index = index or get_index(settings().departement)
    values = np.asarray(values, dtype=object)
    if len(values) == 0:
        return (np.empty(0, dtype=object), np.empty(0, dtype=object),
                np.empty(0, dtype=object))
    if codes_postaux is None:
        codes, uniq = distinct if distinct is not None else distinct_values(values)
        code_u, meth_u, cand_u, _ = match_distinct(uniq, index, suggest=suggest)
        return code_u[codes], meth_u[codes], cand_u[codes]
    else:
        cps = np.empty(len(values), dtype=object)
        cps[:] = [_hashable(v) for v in np.asarray(codes_postaux, dtype=object).tolist()]
        vcodes, vuniq = distinct_values(values)
        pcodes, puniq = distinct_values(cps)
        width = len(puniq)
        codes, upairs = pd.factorize(vcodes.astype(np.int64) * width + pcodes)
        found = [match_commune(vuniq[int(p) // width], puniq[int(p) % width], index, suggest)
                 for p in upairs.tolist()]
        code_u = np.array([m.code_insee for m in found], dtype=object)
    meth_u = np.array([m.methode for m in found], dtype=object)
    cand_u = np.empty(len(found), dtype=object)
    cand_u.fill(())
    for k, m in enumerate(found):
        if m.candidats:
            cand_u[k] = m.candidats
    return code_u[codes], meth_u[codes], cand_u[codes]


def match_distinct(uniq: list, index: CommuneIndex, types=None, all_current: bool = False,
                   suggest: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Reconnaît des valeurs distinctes (sans code postal).

    Un code actuel écrit tel quel (le cas de presque toutes les cellules d'un fichier
    par code INSEE) est son propre résultat : seules les autres valeurs passent par
    :func:`match_commune`.

    ``types`` : types des valeurs, s'ils sont déjà connus ; ``all_current`` : vrai quand
    l'appelant sait déjà que toutes sont des textes de ``index.current_codes`` ;
    ``suggest`` : cherche les communes proches des noms inconnus.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray, numpy.ndarray, bool)
        Code INSEE, méthode et candidats de chaque valeur, et vrai quand toutes sont des
        codes actuels écrits tels quels (les codes rendus sont alors les valeurs mêmes).
    """
    n = len(uniq)
    current = index.current_codes
    if all_current:
        hit = np.ones(n, dtype=bool)
    elif set(map(type, uniq) if types is None else types) == {str} \
            and current.issuperset(uniq):
        hit = np.ones(n, dtype=bool)  # tout d'un coup, sans boucle Python
    else:
        hit = np.fromiter((type(u) is str and u in current for u in uniq), dtype=bool,
                          count=n)
    code_u = np.empty(n, dtype=object)
    code_u[:] = uniq
    meth_u = np.empty(n, dtype=object)
    meth_u.fill("code")  # le même objet partout (np.full fabriquerait n chaînes)
    cand_u = np.empty(n, dtype=object)
    cand_u.fill(())
    miss = np.flatnonzero(~hit).tolist()
    if miss:
        found = [match_commune(uniq[k], None, index, suggest) for k in miss]
        code_u[miss] = [m.code_insee for m in found]
        meth_u[miss] = [m.methode for m in found]
        for k, m in zip(miss, found, strict=True):
            if m.candidats:
                cand_u[k] = m.candidats
    return code_u, meth_u, cand_u, not miss


def match_communes(values: pd.Series, codes_postaux: pd.Series | None = None,
                   index: CommuneIndex | None = None) -> pd.DataFrame:
    """Reconnaît une colonne entière de communes (travail sur les valeurs distinctes).

    Parameters
    ----------
    values : pandas.Series
        Cellules de la colonne des communes (codes, noms, « Nom (code) »…).
    codes_postaux : pandas.Series, optional
        Colonne des codes postaux, alignée sur ``values``.
    index : CommuneIndex, optional
        Par défaut celui du département configuré.

    Returns
    -------
    pandas.DataFrame
        Même index que ``values`` ; colonnes ``code_insee`` (None si non reconnu),
        ``methode`` et ``candidats`` (tuple de codes).
    """
    cells = values.astype(object).to_numpy(dtype=object)
    cps = None if codes_postaux is None else codes_postaux.astype(object).to_numpy(dtype=object)
    code, methode, cands = match_values(cells, cps, index)
    return pd.DataFrame({"code_insee": pd.Series(code, dtype=object, index=values.index),
                         "methode": pd.Series(methode, dtype=object, index=values.index),
                         "candidats": pd.Series(cands, dtype=object, index=values.index)},
                        index=values.index)


# Un libellé de total, une fois normalisé, commence par l'un de ces mots : un texte dont
# les lettres (capitales, sans accents, sans rien d'autre) ne les contiennent pas ne peut
# pas en être un. Sert de tamis avant la normalisation complète, texte par texte.
_TOTAL_WORDS = re.compile(b"TOTA|ENSEMBLE|SOMME")


def non_total_strings(index: CommuneIndex) -> frozenset[str]:
    """Codes actuels et noms officiels des communes qui ne sont pas des libellés de total.

    Calculé une fois par index : une colonne de communes en est presque entièrement
    faite, et ces textes-là n'ont pas à repasser par :func:`total_label_flags`.
    """
    known = index.__dict__.get("_non_total")
    if known is None:
        texts = sorted({*index.current_codes, *index.noms.values()})
        is_tot, _ = total_label_flags(texts)
        known = frozenset(itertools.compress(texts, (~is_tot).tolist()))
        index.__dict__["_non_total"] = known
    return known


def codes_are_not_totals(index: CommuneIndex) -> bool:
    """Vrai quand aucun code actuel n'est un libellé de total (calculé une fois par index).

    Une colonne faite de codes actuels seulement n'a alors pas à passer par
    :func:`total_label_flags`.
    """
    known = index.__dict__.get("_codes_not_totals")
    if known is None:
        known = index.current_codes <= non_total_strings(index)
        index.__dict__["_codes_not_totals"] = known
    return known


def total_label_flags(texts: list[str], known: frozenset[str] = frozenset()
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Libellés de total et de sous-total parmi des textes (distincts, de préférence).

    Équivaut à :func:`is_total_label` texte par texte ; seuls les textes qui contiennent
    un des mots d'un total passent par la normalisation complète.

    Parameters
    ----------
    texts : list of str
    known : frozenset of str, optional
        Textes dont on sait qu'ils ne sont pas des totaux (:func:`non_total_strings`) :
        écartés d'emblée.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Booléens alignés sur ``texts`` : total (sous-totaux compris), sous-total.
    """
    n = len(texts)
    total = np.zeros(n, dtype=bool)
    sous = np.zeros(n, dtype=bool)
    if not n:
        return total, sous
    if known:
        if known.issuperset(texts):
            return total, sous
        rest = [k for k, t in enumerate(texts) if t not in known]
        if len(rest) < n:
            if rest:
                total[rest], sous[rest] = total_label_flags([texts[k] for k in rest])
            return total, sous
    # Même passage en capitales et décomposition que normalize_name, sur tous les textes
    # d'un coup (séparés par NUL, que ni la décomposition ni les mots cherchés ne
    # franchissent), puis tout ce qui n'est pas ASCII (accents détachés…) est retiré :
    # normalize_name ne fait que retirer ces accents ou changer le reste en espaces, donc
    # ce tamis laisse passer au moins tous les totaux, jamais moins. Le rang d'un mot
    # trouvé est le nombre de séparateurs qui le précèdent.
    joined = "\x00".join(texts)
    if joined.count("\x00") != n - 1:
        hits = range(n)  # un texte contient lui-même un NUL : pas de tamis
    else:
        joined = joined.upper().replace("Œ", "OE").replace("Æ", "AE")
        if not joined.isascii():
            joined = unicodedata.normalize("NFKD", joined)
        letters = joined.encode("ascii", "ignore")
        starts = [m.start() for m in _TOTAL_WORDS.finditer(letters)]
        if starts:
            seps = np.flatnonzero(np.frombuffer(letters, dtype=np.uint8) == 0)
            hits = sorted(set(np.searchsorted(seps, starts).tolist()))
        else:
            hits = []
    for k in hits:
        norm = normalize_name(texts[k])
        if norm and _TOTAL_RE.match(norm) and norm not in _official_names():
            total[k] = True
            sous[k] = norm.startswith(("SOUS", "S TOTAL"))
    return total, sous


def _hashable(v):
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def describe(code: str, index: CommuneIndex | None = None) -> str:
    """« Nom (code) » d'une commune actuelle, pour les messages."""
    index = index or get_index(settings().departement)
    nom = index.noms.get(code)
    return f"{nom} ({code})" if nom else code
