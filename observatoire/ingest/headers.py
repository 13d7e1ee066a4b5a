"""Correspondance entre les en-têtes des fichiers et les indicateurs du catalogue.

Ordre de priorité : correspondance donnée pour cet import (``mapping_overrides``), puis
correspondance confirmée par les agents pour ce contributeur et mémorisée (table
``correspondances_entetes``), puis code, libellé ou synonyme du catalogue, puis
rapprochement approché (difflib) — ce dernier est signalé « à confirmer ». Les
indicateurs du contributeur sont cherchés d'abord ; un indicateur d'un autre
contributeur n'est retenu que s'il est sans rival, avec un avertissement.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass, field

import sqlalchemy as sa

from observatoire import catalogues, storage
from observatoire.matching import normalize_name

# Mots sans poids dans un en-tête (« Nb de », « nombre des », « (VIF) » reste : il compte).
_STOPWORDS = {"NB", "NBRE", "NOMBRE", "DE", "DES", "DU", "D", "LA", "LE", "LES", "L", "N",
              "PAR", "POUR", "EN", "A", "AU", "AUX", "ET", "TOTAL", "ANNEE", "EFFECTIF",
              "EFFECTIFS", "NO"}
_PERIOD = re.compile(r"^(T[1-4]|S[12]|(19|20)\d{2}|\d+)$")
# Mots d'une période de l'année dans un en-tête (« T1 », « 2e trimestre », « Janvier »,
# « S2 », « M03 ») : une colonne par période d'un même indicateur, à additionner.
_MONTHS = ("JANVIER|JANV|FEVRIER|FEVR|FEV|MARS|AVRIL|AVR|MAI|JUIN|JUILLET|JUIL|AOUT|"
           "SEPTEMBRE|SEPT|OCTOBRE|OCT|NOVEMBRE|NOV|DECEMBRE|DEC")
_PERIOD_WORDS = re.compile(
    rf"(?:^| )(?:T ?[1-4]|S ?[12]|TRIM(?:ESTRE)? ?[1-4]|[1-4] ?(?:ER|E|EME)? TRIM(?:ESTRE)?|"
    rf"SEMESTRE ?[12]|[12] ?(?:ER|E|EME)? SEMESTRE|{_MONTHS}|M ?(?:0?[1-9]|1[0-2])|"
    rf"MOIS (?:0?[1-9]|1[0-2]))(?= |$)")
_PERIOD_TOKENS = re.compile(rf"^({_MONTHS}|TRIM|TRIMESTRE|TRIMESTRES|SEMESTRE|SEMESTRES|"
                            rf"ER|E|EME|M\d{{1,2}}|MOIS)$")


def period_label(text) -> str | None:
    """La période de l'année que désigne un en-tête (« T1 », « Janvier »…), sinon None.

    Examples
    --------
    >>> period_label("Faits T2")
    'T2'
    >>> period_label("Faits constatés") is None
    True
    """
    m = _PERIOD_WORDS.search(normalize_name(text))
    return m.group(0).strip() if m else None
#: Score minimal d'un rapprochement approché retenu sans confirmation.
ACCEPT = 0.82
#: Écart minimal avec le deuxième candidat.
MARGIN = 0.08


def header_key(text) -> str:
    """Forme canonique d'un en-tête : capitales sans accents, sans mots vides ni années."""
    norm = normalize_name(text)
    if _PERIOD_WORDS.search(norm):
        # « 2e trimestre », « Janvier » : la période ne dit rien de l'indicateur.
        norm = _PERIOD_WORDS.sub(" ", norm)
        tokens = [t for t in norm.split() if not _PERIOD_TOKENS.match(t)]
    else:
        tokens = norm.split()
    tokens = [t for t in tokens if t not in _STOPWORDS and not _PERIOD.match(t)]
    return " ".join(tokens)


@dataclass(frozen=True)
class HeaderMatch:
    """Indicateur retenu pour un en-tête.

    Attributes
    ----------
    indicateur : str or None
        Code retenu ; None si non résolu.
    methode : str
        ``confirmee`` (donnée pour cet import), ``memorisee``, ``catalogue``,
        ``approchee`` ou ``non_resolue``.
    score : float
    candidats : list of dict
        Meilleurs candidats (``indicateur``, ``libelle``, ``score``), pour le rapport.
    hors_contributeur : bool
        Indicateur que le registre n'attribue pas à ce contributeur.
    """

    indicateur: str | None
    methode: str
    score: float = 0.0
    candidats: list[dict] = field(default_factory=list)
    hors_contributeur: bool = False


def remembered_mappings(contributeur: str, engine=None) -> dict[str, str]:
    """Correspondances mémorisées d'un contributeur : clé d'en-tête → code d'indicateur."""
    engine = engine or storage.get_engine()
    t = storage.correspondances
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.entete, t.c.indicateur)
                            .where(t.c.contributeur == contributeur)).all()
    return {header_key(r.entete): r.indicateur for r in rows}


def list_mappings(contributeur: str | None = None, engine=None) -> list[dict]:
    """Correspondances mémorisées (toutes, ou d'un contributeur)."""
    engine = engine or storage.get_engine()
    t = storage.correspondances
    q = sa.select(t).order_by(t.c.contributeur, t.c.entete)
    if contributeur:
        q = q.where(t.c.contributeur == contributeur)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings().all()]


def remember_mapping(contributeur: str, entete: str, indicateur: str, utilisateur: str,
                     engine=None) -> None:
    """Mémorise (ou remplace) la correspondance confirmée « en-tête → indicateur ».

    Parameters
    ----------
    contributeur : str
    entete : str
        En-tête tel qu'il figure dans le fichier.
    indicateur : str
        Code du catalogue.
    utilisateur : str
        Qui confirme.

    Raises
    ------
    ObservatoireError
        Indicateur absent du catalogue, ou contributeur inconnu.
    """
    from observatoire.errors import ObservatoireError

    catalogues.get_contributeur(contributeur)
    if indicateur not in catalogues.indicateurs_by_code():
        raise ObservatoireError(
            f"L'indicateur « {indicateur} » n'est pas dans le catalogue "
            f"(data/catalogues/indicateurs.csv) : utilisez l'un de ses codes "
            f"({', '.join(catalogues.indicateurs_by_code())})."
        )
    entete = str(entete).strip()
    if not header_key(entete):
        raise ObservatoireError(f"L'en-tête « {entete} » est vide une fois normalisé.")
    engine = engine or storage.get_engine()
    t = storage.correspondances
    with storage.transaction(engine) as conn:
        _delete_same_header(conn, contributeur, entete)
        conn.execute(sa.insert(t).values(
            contributeur=contributeur, entete=entete[:255], indicateur=indicateur,
            confirme_le=dt.datetime.now().replace(microsecond=0), confirme_par=utilisateur))


def forget_mapping(contributeur: str, entete: str, engine=None) -> int:
    """Oublie une correspondance mémorisée ; renvoie le nombre de lignes retirées."""
    engine = engine or storage.get_engine()
    with storage.transaction(engine) as conn:
        return _delete_same_header(conn, contributeur, entete)


def _delete_same_header(conn, contributeur: str, entete: str) -> int:
    """Retire les correspondances du contributeur dont l'en-tête normalisé est le même."""
    t = storage.correspondances
    existing = conn.execute(sa.select(t.c.entete).where(t.c.contributeur == contributeur)
                            ).scalars().all()
    same = [e for e in existing if header_key(e) == header_key(entete)]
    if same:
        conn.execute(sa.delete(t).where(t.c.contributeur == contributeur,
                                        t.c.entete.in_(same)))
    return len(same)


def _similarity(a: str, b: str) -> float:
    if a == b:
        return 1.0
    ta, tb = set(a.split()), set(b.split())
    if not ta or not tb:
        return 0.0
    ratio = difflib.SequenceMatcher(None, a, b).ratio()
    jaccard = len(ta & tb) / len(ta | tb)
    # Toutes les mots du synonyme présents dans l'en-tête (« VICTIMES VIF SUIVIES » pour
    # « VICTIMES SUIVIES ») : fort indice, un peu moins qu'une égalité.
    contained = 0.9 * len(tb) / len(ta) ** 0.5 / len(tb) ** 0.5 if tb <= ta else 0.0
    return max(ratio, jaccard, min(contained, 0.9))


class HeaderMapper:
    """Associe des en-têtes aux indicateurs pour un contributeur.

    Parameters
    ----------
    contributeur : str or None
        Identifiant du registre ; None = tous les indicateurs sur un pied d'égalité.
    overrides : dict, optional
        En-tête → code, donnés pour cet import (priment sur tout).
    remembered : dict, optional
        Clé d'en-tête → code (par défaut lues en base pour ce contributeur).
    """

    def __init__(self, contributeur: str | None, overrides: dict[str, str] | None = None,
                 remembered: dict[str, str] | None = None):
        self.contributeur = contributeur
        self.overrides = {header_key(k): v for k, v in (overrides or {}).items()}
        self.remembered = remembered if remembered is not None else (
            remembered_mappings(contributeur) if contributeur else {})
        allitems = [i for i in catalogues.load_indicateurs() if i.actif]
        own = catalogues.indicateurs_du_contributeur(contributeur) if contributeur else allitems
        self.own_codes = {i.code for i in own}
        self.libelles = {i.code: i.libelle for i in catalogues.load_indicateurs()}
        self._forms: list[tuple[str, str]] = []
        for item in allitems:
            for text in (item.code.replace("_", " "), item.libelle, *item.synonymes):
                key = header_key(text)
                if key:
                    self._forms.append((key, item.code))
        self._exact: dict[str, set[str]] = {}
        for key, code in self._forms:
            self._exact.setdefault(key, set()).add(code)
        self._cache: dict[str, HeaderMatch] = {}

    def map(self, header) -> HeaderMatch:
        """Indicateur d'un en-tête (voir l'ordre de priorité du module)."""
        key = header_key(header)
        if not key:
            return HeaderMatch(None, "non_resolue")
        if key not in self._cache:
            self._cache[key] = self._map(key)
        return self._cache[key]

    def _map(self, key: str) -> HeaderMatch:
        if key in self.overrides:
            return self._found(self.overrides[key], "confirmee", 1.0)
        if key in self.remembered:
            return self._found(self.remembered[key], "memorisee", 1.0)
        exact = self._exact.get(key, set())
        own_exact = exact & self.own_codes
        if len(own_exact) == 1:
            return self._found(next(iter(own_exact)), "catalogue", 1.0)
        scores: dict[str, float] = {}
        for form, code in self._forms:
            s = _similarity(key, form)
            if s > scores.get(code, 0.0):
                scores[code] = s
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        cands = [{"indicateur": c, "libelle": self.libelles.get(c, c), "score": round(s, 3)}
                 for c, s in ranked[:3] if s >= 0.4]
        for pool in (self.own_codes, set(scores)):
            if pool is not self.own_codes and len(exact) == 1:
                return self._found(next(iter(exact)), "catalogue", 1.0)
            sub = [(c, s) for c, s in ranked if c in pool]
            if not sub:
                continue
            best_code, best = sub[0]
            second = sub[1][1] if len(sub) > 1 else 0.0
            if best >= ACCEPT and best - second >= MARGIN:
                return self._found(best_code, "approchee", best, cands)
        return HeaderMatch(None, "non_resolue", ranked[0][1] if ranked else 0.0, cands)

    def _found(self, code: str, methode: str, score: float, cands=None) -> HeaderMatch:
        return HeaderMatch(code, methode, round(score, 3), cands or [],
                           hors_contributeur=bool(self.contributeur)
                           and code not in self.own_codes)
