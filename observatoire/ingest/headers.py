"""Correspondance entre les en-têtes des fichiers et les indicateurs du catalogue.

Ordre de priorité : correspondance donnée pour cet import (``mapping_overrides``), puis
correspondance confirmée par les agents pour ce contributeur et mémorisée (table
``correspondances_entetes``), puis code, libellé ou synonyme du catalogue, puis
rapprochement approché (rapidfuzz) — ce dernier est signalé « à confirmer ». Les
indicateurs du contributeur sont cherchés d'abord ; un indicateur d'un autre
contributeur n'est retenu que s'il est sans rival, avec un avertissement.

Un en-tête sans indicateur n'est jamais laissé sans suite : ses candidats sont classés
(indicateurs déclarés par le contributeur d'abord — un contributeur qui n'en déclare
qu'un se le voit proposer avec une forte confiance —, ressemblance avec les libellés,
synonymes et définitions, correspondances déjà confirmées par un autre contributeur) ;
``accept_proposals`` retient le premier.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace

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
        ``approchee``, ``proposition_acceptee`` (premier candidat retenu par
        ``--accepter-propositions``) ou ``non_resolue``.
    score : float
    candidats : list of dict
        Candidats classés (``indicateur``, ``libelle``, ``score``, ``raison``), pour le
        rapport : indicateurs déclarés par le contributeur d'abord.
    hors_contributeur : bool
        Indicateur que le registre n'attribue pas à ce contributeur.
    """

    indicateur: str | None
    methode: str
    score: float = 0.0
    candidats: list[dict] = field(default_factory=list)
    hors_contributeur: bool = False


def remembered_mappings(contributeur: str | None, engine=None) -> dict[str, str]:
    """Correspondances mémorisées d'un contributeur : clé d'en-tête → code d'indicateur.

    ``contributeur`` None : celles de tous les contributeurs (pour proposer à l'un la
    correspondance qu'un autre a déjà confirmée pour le même en-tête).
    """
    engine = engine or storage.get_engine()
    t = storage.correspondances
    q = sa.select(t.c.entete, t.c.indicateur).order_by(t.c.confirme_le)
    if contributeur is not None:
        q = q.where(t.c.contributeur == contributeur)
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    return {header_key(r.entete): r.indicateur for r in rows}


def check_item_code(code, entete: str | None = None) -> str:
    """Code d'indicateur vérifié : présent et actif dans le catalogue, sinon une erreur.

    Toute correspondance passe par ici avant d'être lue ou enregistrée (ligne de
    commande, application) : « nan », une cellule vide ou un libellé ne deviennent
    jamais un indicateur.

    Raises
    ------
    ObservatoireError
        Code absent du catalogue (le message cite la valeur reçue et les codes permis).
    """
    from observatoire.errors import ObservatoireError

    known = {i.code for i in catalogues.load_indicateurs() if i.actif}
    text = "" if code is None else str(code).strip()
    if text not in known:
        where = f" pour l'en-tête « {entete} »" if entete else ""
        raise ObservatoireError(
            f"L'indicateur « {text or 'vide'} »{where} n'est pas un code du catalogue "
            f"(data/catalogues/indicateurs.csv) : choisissez l'un de ses codes "
            f"({', '.join(sorted(known))}).")
    return text


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
    indicateur = check_item_code(indicateur, entete)
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
    """Ressemblance de deux clés d'en-tête (0 à 1), par rapidfuzz.

    Égalité : 1. Tous les mots de ``b`` (un synonyme) dans ``a`` (« VICTIMES RECUES DANS »
    pour « VICTIMES RECUES ») : fort indice, d'autant plus que ``b`` a de mots ; un seul
    mot commun (« FEMMES ») ne suffit jamais à retenir un indicateur sans confirmation.
    Sinon, la meilleure ressemblance de caractères, mots dans l'ordre ou triés.
    """
    if a == b:
        return 1.0
    from rapidfuzz import fuzz

    ta, tb = set(a.split()), set(b.split())
    if not ta or not tb:
        return 0.0
    if tb <= ta or ta <= tb:
        small = min(len(ta), len(tb))
        contained = 0.95 - 0.14 / small
    else:
        contained = 0.0
    return max(contained, fuzz.ratio(a, b) / 100, fuzz.token_sort_ratio(a, b) / 100 - 0.02)


def _definition_score(key: str, definition_words: frozenset[str]) -> float:
    """Part des mots de l'en-tête présents dans la définition de l'indicateur (× 0,7)."""
    words = set(key.split())
    if not words or not definition_words:
        return 0.0
    return 0.7 * len(words & definition_words) / len(words)


class HeaderMapper:
    """Associe des en-têtes aux indicateurs pour un contributeur.

    Parameters
    ----------
    contributeur : str or None
        Identifiant du registre ; None = tous les indicateurs sur un pied d'égalité.
    overrides : dict, optional
        En-tête → code, donnés pour cet import (priment sur tout ; codes vérifiés).
    remembered : dict, optional
        Clé d'en-tête → code (par défaut lues en base pour ce contributeur).
    shared : dict, optional
        Clé d'en-tête → code confirmés par d'autres contributeurs (candidats seulement).
    accept_proposals : bool, default False
        Retient le premier candidat d'un en-tête non résolu (voir :meth:`accept`).
    """

    def __init__(self, contributeur: str | None, overrides: dict[str, str] | None = None,
                 remembered: dict[str, str] | None = None, shared: dict[str, str] | None = None,
                 accept_proposals: bool = False):
        self.contributeur = contributeur
        self.overrides = {header_key(k): check_item_code(v, k)
                          for k, v in (overrides or {}).items()}
        self.remembered = remembered if remembered is not None else (
            remembered_mappings(contributeur) if contributeur else {})
        self.shared = shared or {}
        self.accept_proposals = accept_proposals
        allitems = [i for i in catalogues.load_indicateurs() if i.actif]
        own = catalogues.indicateurs_du_contributeur(contributeur) if contributeur else allitems
        self.own_codes = {i.code for i in own}
        self._active = {i.code for i in allitems}
        self.libelles = {i.code: i.libelle for i in catalogues.load_indicateurs()}
        self._forms: list[tuple[str, str, str]] = []
        self._definitions: dict[str, frozenset[str]] = {}
        for item in allitems:
            self._forms.append((header_key(item.code.replace("_", " ")), item.code, "libelle"))
            self._forms.append((header_key(item.libelle), item.code, "libelle"))
            for text in item.synonymes:
                self._forms.append((header_key(text), item.code, "synonyme"))
            self._definitions[item.code] = frozenset(header_key(item.definition).split())
        self._forms = [f for f in self._forms if f[0]]
        self._exact: dict[str, set[str]] = {}
        for key, code, _why in self._forms:
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

    def accept(self, match: HeaderMatch, used=()) -> HeaderMatch | None:
        """Avec ``accept_proposals``, le premier candidat d'un en-tête non résolu qui n'est
        pas déjà l'indicateur d'une autre colonne (``used``) ; sinon None.
        """
        if not self.accept_proposals or match.indicateur is not None:
            return None
        best = next((c for c in match.candidats if c["indicateur"] not in set(used)), None)
        if best is None:
            return None
        return self._found(best["indicateur"], "proposition_acceptee", best["score"],
                           match.candidats)

    def _map(self, key: str) -> HeaderMatch:
        if key in self.overrides:
            return self._found(self.overrides[key], "confirmee", 1.0)
        if key in self.remembered and self.remembered[key] in self._active:
            return self._found(self.remembered[key], "memorisee", 1.0)
        exact = self._exact.get(key, set())
        own_exact = exact & self.own_codes
        if len(own_exact) == 1:
            return self._found(next(iter(own_exact)), "catalogue", 1.0)
        scores: dict[str, tuple[float, str]] = {}
        for form, code, why in self._forms:
            sc = _similarity(key, form)
            if sc > scores.get(code, (0.0, ""))[0]:
                scores[code] = (sc, why)
        ranked = sorted(((c, sc) for c, (sc, _w) in scores.items()), key=lambda kv: -kv[1])
        cands = self._candidates(key, scores)
        for pool in (self.own_codes, set(scores)):
            if pool is not self.own_codes and len(exact) == 1:
                return self._found(next(iter(exact)), "catalogue", 1.0)
            sub = [(c, sc) for c, sc in ranked if c in pool]
            if not sub:
                continue
            best_code, best = sub[0]
            second = sub[1][1] if len(sub) > 1 else 0.0
            if best >= ACCEPT and best - second >= MARGIN:
                return self._found(best_code, "approchee", best, cands)
        return HeaderMatch(None, "non_resolue", ranked[0][1] if ranked else 0.0, cands)

    def _candidates(self, key: str, scores: dict[str, tuple[float, str]],
                    limit: int = 6) -> list[dict]:
        """Candidats classés d'un en-tête : indicateurs déclarés d'abord, puis les autres."""
        found: dict[str, tuple[float, str]] = {}

        def offer(code: str, score: float, why: str) -> None:
            if code in self._active and score > found.get(code, (0.0, ""))[0]:
                found[code] = (min(score, 0.99), why)

        declared = self.own_codes if self.contributeur else set()
        for code, (score, why) in scores.items():
            if score >= 0.5 or code in declared:
                offer(code, max(score, 0.3), why if score >= 0.5 else "declare")
        for code, words in self._definitions.items():
            score = _definition_score(key, words)
            if score >= 0.3:
                offer(code, score, "definition")
        if key in self.shared:
            offer(self.shared[key], 0.9, "deja_confirmee")
        if self.contributeur and len(self.own_codes) == 1:
            # Un seul indicateur déclaré : c'est presque sûrement lui.
            only = next(iter(self.own_codes))
            offer(only, max(0.9, found.get(only, (0.0, ""))[0]), "seul_indicateur_declare")
        ranked = sorted(found.items(), key=lambda kv: (kv[0] not in declared, -kv[1][0], kv[0]))
        return [{"indicateur": c, "libelle": self.libelles.get(c, c), "score": round(sc, 3),
                 "raison": why, "declare": c in declared}
                for c, (sc, why) in ranked[:limit]]

    def _found(self, code: str, methode: str, score: float, cands=None) -> HeaderMatch:
        return HeaderMatch(code, methode, round(score, 3), cands or [],
                           hors_contributeur=bool(self.contributeur)
                           and code not in self.own_codes)


#: Textes des raisons d'un candidat, pour les rapports.
RAISONS = {"declare": "indicateur déclaré par le contributeur", "libelle": "libellé",
           "synonyme": "synonyme", "definition": "définition",
           "deja_confirmee": "déjà confirmé par un autre contributeur",
           "seul_indicateur_declare": "seul indicateur déclaré par le contributeur"}


def with_method(match: HeaderMatch, methode: str) -> HeaderMatch:
    """La même correspondance avec une autre méthode."""
    return replace(match, methode=methode)
