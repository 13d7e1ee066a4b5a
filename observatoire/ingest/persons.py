"""Personnes nommées repérées par un modèle de langue (spaCy, ``fr_core_news_sm``).

Les règles de :mod:`observatoire.ingest.personal` trouvent les civilités, les prénoms
courants, les dates, adresses, numéros et récits ; le modèle trouve les noms de personnes
que nulle liste ne connaît (« Gwendoline Pruvost », « pruvost gwendoline »).

Le modèle coûte deux secondes à charger : il ne l'est qu'au premier texte qui en a
besoin, c'est-à-dire qui porte au moins deux mots inexpliqués (voir
:mod:`observatoire.ingest.vocabulaire`) — un tableau de communes et de nombres n'en a
jamais. Une entité « personne » n'est pas retenue quand c'est le nom d'un lieu connu
(commune, EPCI…) ou quand un mot de structure la précède (« Maison Jean Moulin »).
"""

from __future__ import annotations

import re
from functools import lru_cache

from observatoire.errors import ObservatoireError
from observatoire.ingest.vocabulaire import is_known, place_names
from observatoire.matching import normalize_name

#: Mot qui fait du nom de personne qui le suit le nom d'un lieu ou d'une structure.
INSTITUTIONS = frozenset(
    "MAISON CENTRE ESPACE COLLEGE LYCEE ECOLE GROUPE SCOLAIRE SALLE FOYER RESIDENCE HOPITAL "
    "CLINIQUE MEDIATHEQUE BIBLIOTHEQUE STADE GYMNASE ASSOCIATION FONDATION INSTITUT CITE "
    "POLE PERMANENCE ANTENNE CCAS CSAPA CHRS IME EHPAD CMP CMPP MJC SOCIAL SOCIALE CULTUREL "
    "SOCIOCULTUREL HOSPITALIER MUNICIPAL MUNICIPALE QUARTIER QPV IRIS SECTEUR PARC PLACE "
    "CAMPUS FORUM HALLE AVENUE QUAI RUE BOULEVARD COMMISSARIAT BRIGADE TRIBUNAL PAVILLON "
    "ESPLANADE ILOT SQUARE CITE CLUB FOYER".split())

_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*", re.UNICODE)


def unexplained_tokens(text: str) -> list[str]:
    """Mots (capitales sans accents) qui ne sont ni outils, ni administratifs, ni courants,
    ni pris dans le nom d'un lieu connu (« Bully-les-Mines », « Lens-Liévin »).
    """
    from observatoire.config import settings
    from observatoire.ingest.vocabulaire import local_place_words

    tokens = normalize_name(text).split()
    local = local_place_words(settings().departement or None)
    candidates = [k for k, t in enumerate(tokens) if len(t) >= 2 and t.isalpha()
                  and not is_known(t) and t not in local]
    if len(candidates) < 2:
        # Le nom des lieux (coûteux à charger) ne sert que s'il reste deux mots à expliquer.
        return [tokens[k] for k in candidates]
    covered = _place_cover(tokens, place_names())
    return [tokens[k] for k in candidates if not covered[k]]


def needs_model(text: str) -> bool:
    """Vrai quand un texte peut nommer une personne que les règles ne trouvent pas : il faut
    au moins deux mots inexpliqués (un prénom et un nom).
    """
    return len(unexplained_tokens(text)) >= 2


def _place_cover(tokens: list[str], places: frozenset[str], longest: int = 8) -> list[bool]:
    """Mots pris dans un nom de lieu connu (recherche gloutonne, du nom le plus long).

    Seuls les noms de plusieurs mots comptent : un nom de lieu d'un mot peut aussi être un
    nom de famille (Vincent, commune du Jura), et un mot seul n'atteint pas le seuil de
    deux mots de :func:`needs_model`.
    """
    covered = [False] * len(tokens)
    i = 0
    while i < len(tokens):
        for j in range(min(len(tokens), i + longest), i + 1, -1):
            if " ".join(tokens[i:j]) in places:
                covered[i:j] = [True] * (j - i)
                i = j
                break
        else:
            i += 1
    return covered


# Un mot, avec ses traits d'union (« Marie-Galante », « Jean-Pierre ») : un nom composé
# est un seul mot.
_TOKEN = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*", re.UNICODE)


def proper_name_run(text: str) -> str | None:
    """Suite d'au moins deux noms propres inexpliqués : un prénom et un nom, probablement.

    Deux mots ou plus, à la suite, dont aucun n'est un mot connu (outil, administratif,
    courant, catalogue) ni le nom d'une commune du département ou d'un lieu connu de
    plusieurs mots, écrits comme des noms propres (« VASSEUR Ambre », « Loïc Nguyen ») —
    ou le texte entier fait de deux à quatre tels mots dans une seule casse
    (« kylie wiart », « NGUYEN TIPHAINE »). Un mot de structure juste avant (« Maison »,
    « Collège », « Foyer ») en fait le nom d'un lieu. Complète le modèle de langue, qui
    classe mal un nom isolé (« lieu », « divers »).
    """
    from observatoire.config import settings
    from observatoire.ingest.vocabulaire import local_place_words

    words = [(m.group(0), m.start()) for m in _TOKEN.finditer(text)]
    if len(words) < 2:
        return None
    norms = [normalize_name(w) for w, _ in words]
    local = local_place_words(settings().departement or None)
    maybe = [len(n) >= 2 and not _known_compound(n) and n not in local
             and n not in INSTITUTIONS for n in norms]
    if sum(maybe) < 2:
        return None
    covered = _place_cover(norms, place_names())
    uniform = all(w.islower() for w, _ in words) or all(w.isupper() for w, _ in words)
    free = [maybe[k] and not covered[k] for k in range(len(norms))]
    if uniform and 2 <= len(words) <= 4 and all(free) and not _looks_acronyms(words):
        return text.strip()
    run: list[int] = []
    for k in range(len(words) + 1):
        ok = k < len(words) and free[k] and words[k][0][:1].isupper() and \
            not (words[k][0].isupper() and len(words[k][0]) <= 4 and k + 1 < len(words)
                 and words[k + 1][0].isupper())
        if ok:
            run.append(k)
            continue
        if len(run) >= 2 and not _after_institution(norms, run[0]):
            return " ".join(words[i][0] for i in run)
        run = []
    return None


def _known_compound(norm: str) -> bool:
    """Vrai quand chaque partie d'un mot (composé ou non) est un mot connu."""
    return all(is_known(p) for p in norm.split())


def _after_institution(norms: list[str], k: int) -> bool:
    """Vrai quand le mot qui précède (articles et prépositions sautés) est un mot de
    structure ou de lieu (« Quartier du Mont-Liébaut », « Collège Jean Jaurès »).
    """
    from observatoire.ingest.vocabulaire import STOP

    i = k - 1
    while i >= 0 and norms[i] in STOP:
        i -= 1
    return i >= 0 and norms[i] in INSTITUTIONS


def _looks_acronyms(words) -> bool:
    # « BTA COB », « CSP DDSP » : des sigles de quatre lettres au plus, pas un nom.
    return all(w.isupper() and len(w) <= 4 for w, _ in words)


@lru_cache(maxsize=1)
def _nlp():
    """Pipeline spaCy français réduit à la reconnaissance d'entités (chargé une fois)."""
    try:
        import spacy

        return spacy.load("fr_core_news_sm", exclude=[
            "parser", "lemmatizer", "attribute_ruler", "morphologizer", "senter"])
    except (ImportError, OSError) as exc:
        raise ObservatoireError(
            "Le modèle de langue français (paquet fr-core-news-sm) est absent : le contrôle "
            "des données personnelles ne peut pas se faire, rien n'est importé. Réinstallez "
            "l'observatoire (« make install »).") from exc


def _variants(text: str) -> list[str]:
    """Le texte, et sa forme « Prénom Nom » quand il est tout en minuscules ou capitales."""
    out = [text]
    letters = [c for c in text if c.isalpha()]
    if letters and (all(c.islower() for c in letters) or all(c.isupper() for c in letters)):
        out.append(" ".join(w.capitalize() for w in re.split(r"(\s+)", text) if w.strip()))
        words = text.split()
        if 2 <= len(words) <= 4:
            out.append(" ".join(w.capitalize() for w in reversed(words)))
    return out


def _is_person(ent, doc) -> bool:
    if ent.label_ != "PER":
        return False
    norm = normalize_name(ent.text)
    if not norm or norm in place_names():
        return False
    if len(ent.text.split()) < 2:
        return False  # un seul mot, même composé (« Marie-Galante ») : pas un prénom et un nom
    tokens = unexplained_tokens(ent.text)
    if not tokens:
        return False  # que des mots connus (« Conseil », « Secteur Nord »)
    first = norm.split()[0]
    if first in INSTITUTIONS:
        return False  # « Quartier Mont-Liébaut », « Centre social Jean Jaurès »
    before = [normalize_name(t.text) for t in doc[max(0, ent.start - 2):ent.start]
              if t.is_alpha]
    return not (before and before[-1] in INSTITUTIONS)


def persons(texts: list[str]) -> dict[str, str]:
    """Textes qui nomment une personne d'après le modèle : texte → nom trouvé.

    Parameters
    ----------
    texts : list of str
        Textes à examiner (seuls ceux qui en ont besoin, :func:`needs_model`, y vont).

    Returns
    -------
    dict
        Pour chaque texte en cause, l'entité « personne » trouvée.
    """
    found: dict[str, str] = {}
    todo = []
    for t in dict.fromkeys(texts):
        run = proper_name_run(t)
        if run is not None:
            found[t] = run
        elif needs_model(t):
            todo.append(t)
    if not todo:
        return found
    nlp = _nlp()
    pairs = [(v, t) for t in todo for v in _variants(t)]
    for doc, (_v, original) in zip(nlp.pipe([p[0] for p in pairs], batch_size=256), pairs,
                                   strict=True):
        if original in found:
            continue
        for ent in doc.ents:
            if _is_person(ent, doc):
                found[original] = ent.text
                break
    return found


def model_loaded() -> bool:
    """Vrai quand le modèle a déjà été chargé dans ce processus (pour les bancs d'essai)."""
    return _nlp.cache_info().currsize > 0
