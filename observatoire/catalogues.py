"""Catalogues éditables : indicateurs et contributeurs.

Les deux fichiers vivent dans ``data/catalogues/`` (``indicateurs.csv``,
``contributeurs.csv``) : les agents y ajoutent, renomment ou retirent un indicateur ou
un contributeur sans nouvelle version du logiciel. Chaque valeur stockée garde le code
de son indicateur, jamais son libellé.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from observatoire.config import CATALOGUE_DIR, settings
from observatoire.errors import ObservatoireError


def _split(value: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in str(value or "").split("|") if p.strip())


@dataclass(frozen=True)
class Indicateur:
    """Un item du catalogue commun.

    Attributes
    ----------
    code : str
        Code stable (``faits_constates``), celui des valeurs stockées.
    libelle : str
        Libellé français montré aux utilisateurs.
    definition : str
        Ce qu'on compte.
    contributeurs_types : tuple of str
        Types de contributeurs qui le déclarent.
    synonymes : tuple of str
        En-têtes rencontrés dans les fichiers des contributeurs.
    actif : bool
        False pour un indicateur retiré (gardé pour l'historique).
    inclus_dans : str or None
        Code de l'indicateur dont celui-ci est un « dont » (les victimes femmes parmi les
        victimes reçues) : publiés ensemble, leur différence est un effectif de plus à
        protéger.
    """

    code: str
    libelle: str
    definition: str
    contributeurs_types: tuple[str, ...]
    synonymes: tuple[str, ...]
    actif: bool = True
    inclus_dans: str | None = None


#: Type de registre d'une source publique importée par l'observatoire (le SSMSI).
PUBLIC_SOURCE_TYPE = "source_publique"


@dataclass(frozen=True)
class Contributeur:
    """Un contributeur du registre.

    Attributes
    ----------
    identifiant : str
        Identifiant stable (``gendarmerie_62``).
    nom : str
        Nom complet.
    type : str
        Type (``iscg``, ``police``, ``association``…).
    territoire : str
        Territoire déclaré, dans la syntaxe de :func:`communes_couvertes` : département
        (``62``), arrondissement(s) (``622`` ou ``622|623``), EPCI (code SIREN), liste
        de communes (``62119|62510``, une circonscription de police), ou « le reste »
        du territoire d'autres sources (``reste:police_62|reste:police_bethune``, la
        zone de gendarmerie).
    indicateurs : tuple of str
        Codes des indicateurs qu'il déclare.
    contact : str
        À qui s'adresser.
    premiere_annee, derniere_annee : int, optional
        Années de la collecte où il est attendu (vides : toutes).
    """

    identifiant: str
    nom: str
    type: str
    territoire: str
    indicateurs: tuple[str, ...]
    contact: str = ""
    premiere_annee: int | None = None
    derniere_annee: int | None = None

    @property
    def source_publique(self) -> bool:
        """Vrai pour une source publique (type ``source_publique``, le SSMSI) : ses données
        sont téléchargées et importées par l'observatoire, personne ne l'envoie chaque année
        (ni campagne, ni modèle, ni tableau de contributeur, ni lot de démonstration).
        """
        return self.type == PUBLIC_SOURCE_TYPE

    def attendu_en(self, annee: int) -> bool:
        """Vrai si la campagne de l'année ``annee`` attend un fichier de ce contributeur."""
        if self.source_publique:
            return False
        return ((self.premiere_annee is None or int(annee) >= self.premiere_annee)
                and (self.derniere_annee is None or int(annee) <= self.derniere_annee))


def _annee(value: str, colonne: str, identifiant: str) -> int | None:
    value = str(value or "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise ObservatoireError(
            f"Registre des contributeurs (data/catalogues/contributeurs.csv), contributeur "
            f"« {identifiant} », colonne « {colonne} » : « {value} » n'est pas une année ; "
            f"écrivez une année sur quatre chiffres ou laissez la case vide."
        )
    return int(value)


def _read(name: str, directory: Path | None) -> pd.DataFrame:
    path = (directory or CATALOGUE_DIR) / name
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError as exc:
        raise ObservatoireError(f"Le catalogue {path} est introuvable.") from exc


@lru_cache(maxsize=4)
def load_indicateurs(directory: Path | None = None) -> tuple[Indicateur, ...]:
    """Lit le catalogue des indicateurs (``data/catalogues/indicateurs.csv``).

    Parameters
    ----------
    directory : Path, optional
        Autre dossier de catalogues (tests).

    Returns
    -------
    tuple of Indicateur
        Dans l'ordre du fichier, actifs et retirés.
    """
    df = _read("indicateurs.csv", directory)
    return tuple(
        Indicateur(code=r["code"].strip(), libelle=r["libelle"].strip(),
                   definition=r.get("definition", "").strip(),
                   contributeurs_types=_split(r.get("contributeurs_types", "")),
                   synonymes=_split(r.get("synonymes", "")),
                   actif=r.get("actif", "oui").strip().lower() not in {"non", "0", "false"},
                   inclus_dans=str(r.get("inclus_dans") or "").strip() or None)
        for r in df.to_dict("records") if r["code"].strip()
    )


@lru_cache(maxsize=4)
def load_contributeurs(directory: Path | None = None) -> tuple[Contributeur, ...]:
    """Lit le registre des contributeurs (``data/catalogues/contributeurs.csv``).

    Returns
    -------
    tuple of Contributeur
    """
    df = _read("contributeurs.csv", directory)
    return tuple(
        Contributeur(identifiant=r["identifiant"].strip(), nom=r["nom"].strip(),
                     type=r["type"].strip(), territoire=r["territoire"].strip(),
                     indicateurs=_split(r["indicateurs"]), contact=r.get("contact", "").strip(),
                     premiere_annee=_annee(r.get("premiere_annee", ""), "premiere_annee",
                                           r["identifiant"].strip()),
                     derniere_annee=_annee(r.get("derniere_annee", ""), "derniere_annee",
                                           r["identifiant"].strip()))
        for r in df.to_dict("records") if r["identifiant"].strip()
    )


def indicateurs_by_code() -> dict[str, Indicateur]:
    """Indicateurs du catalogue indexés par code."""
    return {i.code: i for i in load_indicateurs()}


def get_contributeur(identifiant: str) -> Contributeur:
    """Contributeur du registre.

    Parameters
    ----------
    identifiant : str

    Raises
    ------
    ObservatoireError
        Identifiant inconnu ; le message liste les identifiants connus.
    """
    known = {c.identifiant: c for c in load_contributeurs()}
    if identifiant not in known:
        raise ObservatoireError(
            f"Le contributeur « {identifiant} » n'est pas dans le registre "
            f"(data/catalogues/contributeurs.csv). Identifiants connus : "
            f"{', '.join(sorted(known))}. Ajoutez-le au registre si c'est un nouveau contributeur."
        )
    return known[identifiant]


def indicateurs_du_contributeur(identifiant: str) -> list[Indicateur]:
    """Indicateurs qu'un contributeur déclare, dans l'ordre du registre.

    Ce sont ceux de la colonne ``indicateurs`` du registre ; à défaut, ceux du
    catalogue dont ``contributeurs_types`` contient son type.
    """
    contrib = get_contributeur(identifiant)
    by_code = indicateurs_by_code()
    if contrib.indicateurs:
        missing = [c for c in contrib.indicateurs if c not in by_code]
        if missing:
            raise ObservatoireError(
                f"Le registre des contributeurs cite pour « {identifiant} » des indicateurs "
                f"absents du catalogue : {', '.join(missing)}. Corrigez "
                f"data/catalogues/contributeurs.csv ou data/catalogues/indicateurs.csv."
            )
        return [by_code[c] for c in contrib.indicateurs]
    return [i for i in load_indicateurs() if i.actif and contrib.type in i.contributeurs_types]


def territoires_declares(directory: Path | None = None) -> dict[str, str]:
    """Identifiant → territoire déclaré de chaque contributeur du registre."""
    return {c.identifiant: c.territoire for c in load_contributeurs(directory)}


def contributeurs_attendus(annee: int, indicateur: str | None = None) -> tuple[Contributeur, ...]:
    """Contributeurs dont la campagne de l'année attend un fichier (page Campagne).

    Les sources publiques (SSMSI), que l'observatoire importe lui-même, ne sont jamais
    attendues ; un contributeur hors de ses années (``premiere_annee``,
    ``derniere_annee`` du registre) non plus.

    Parameters
    ----------
    annee : int
        Année N des données.
    indicateur : str, optional
        Ne garder que ceux qui déclarent cet indicateur (voir
        :func:`indicateurs_du_contributeur`).

    Returns
    -------
    tuple of Contributeur
        Dans l'ordre du registre.
    """
    out = []
    for c in load_contributeurs():
        if not c.attendu_en(annee):
            continue
        if indicateur is not None and indicateur not in {
                i.code for i in indicateurs_du_contributeur(c.identifiant)}:
            continue
        out.append(c)
    return tuple(out)


_PREFIXES = {"commune": "commune", "communes": "commune", "epci": "epci",
             "arrondissement": "arrondissement", "arrondissements": "arrondissement",
             "departement": "departement", "département": "departement"}


def _erreur_territoire(territoire: str, partie: str, pourquoi: str) -> ObservatoireError:
    return ObservatoireError(
        f"Territoire « {territoire} » : {pourquoi} (partie « {partie} »). Écrivez un "
        f"département (62), un ou plusieurs arrondissements (622|623), un EPCI (code SIREN à "
        f"9 chiffres), des communes (codes INSEE 62119|62510) ou le reste du territoire "
        f"d'autres contributeurs (reste:police_62), séparés par « | » (colonne « territoire » "
        f"de data/catalogues/contributeurs.csv, ou --perimetre)."
    )


_COLONNES_TERRITOIRE = {"commune": "code_insee", "epci": "epci",
                        "arrondissement": "arrondissement", "departement": "departement"}


def _codes_parties(parties: list[str], territoire: str, communes: pd.DataFrame) -> np.ndarray:
    """Masque des communes désignées par des parties positives du territoire.

    Les codes sont rangés par genre puis cherchés d'un coup par genre (une liste de
    communes d'une circonscription de police peut compter des dizaines de codes).
    """
    par_genre: dict[str, list[tuple[str, str]]] = {}
    valeurs: dict[str, set[str]] = {}
    for partie in parties:
        genre, sep, code = partie.partition(":")
        if sep:
            g = _PREFIXES.get(genre.strip().lower())
            if g is None:
                raise _erreur_territoire(territoire, partie, "préfixe inconnu")
            candidats = [g]
        else:
            code = genre
            candidats = (["commune"] if len(code) == 5 else ["epci"] if len(code) == 9 else
                         ["arrondissement", "departement"] if len(code) == 3 else
                         ["departement"] if len(code) == 2 else [])
        code = code.strip()
        for g in candidats:
            if g not in valeurs:
                valeurs[g] = _valeurs_connues(communes, g)
        connus = [g for g in candidats if code in valeurs[g]]
        if not connus:
            raise _erreur_territoire(territoire, partie,
                                     "ce code ne désigne aucune commune, aucun EPCI, aucun "
                                     "arrondissement ni aucun département connu")
        par_genre.setdefault(connus[0], []).append((partie, code))
    m = np.zeros(len(communes), dtype=bool)
    for g, codes in par_genre.items():
        m |= communes[_COLONNES_TERRITOIRE[g]].astype(str).isin([c for _p, c in codes]).to_numpy()
    return m


def _valeurs_connues(communes: pd.DataFrame, genre: str) -> set[str]:
    col = _COLONNES_TERRITOIRE[genre]
    return set(communes[col].astype(str).unique()) if col in communes else set()


def _parties(territoire: str) -> list[str]:
    """Parties d'un territoire : séparées par « | » (aussi « ; », « , » ou des espaces)."""
    morceaux = [m for m in re.split(r"[|;,\s]+", territoire) if m]
    parties: list[str] = []
    for m in morceaux:
        # « departement: 62 » : le préfixe et son code, séparés par une espace.
        if parties and parties[-1].endswith(":"):
            parties[-1] += m
        else:
            parties.append(m)
    return parties


def communes_couvertes(territoire: str, communes: pd.DataFrame | None = None, *,
                       territoires: Mapping[str, str] | None = None,
                       _pile: tuple[str, ...] = ()) -> frozenset[str]:
    """Codes INSEE des communes d'un territoire de contributeur (ou d'un périmètre de lot).

    Syntaxe : des parties séparées par « | » (ou « ; », « , », des espaces), qui
    s'ajoutent ; celles qui commencent par ``reste:`` ou ``sauf:`` se retranchent.

    - ``62`` : un département ; ``622`` : un arrondissement (un code à 3 caractères est
      d'abord cherché parmi les arrondissements) ; ``200035442`` : un EPCI (SIREN) ;
      ``62119`` : une commune. Préfixes explicites possibles : ``commune:``,
      ``epci:``, ``arrondissement:``, ``departement:`` ;
    - ``reste:ID`` : hors du territoire du contributeur ``ID`` (la gendarmerie couvre le
      reste de la police : ``reste:police_62|reste:police_bethune``) ;
    - ``sauf:CODE`` : hors d'une zone (``62|sauf:622``).

    Sans partie positive, le point de départ est le département servi
    (``config/territoire.toml``) s'il figure dans ``communes``, sinon toutes les communes
    de ``communes``.

    Parameters
    ----------
    territoire : str
    communes : pandas.DataFrame, optional
        Communes où chercher (``code_insee``, ``epci``, ``arrondissement``,
        ``departement``) ; par défaut toute la France (référentiel du COG).
    territoires : mapping, optional
        Identifiant → territoire des autres contributeurs, pour ``reste:`` ; par défaut
        le registre.

    Returns
    -------
    frozenset of str

    Raises
    ------
    ObservatoireError
        Partie illisible, code inconnu, contributeur inconnu ou renvoi circulaire
        (message français qui dit quoi écrire).
    """
    from observatoire import communes as _communes

    territoire = str(territoire or "").strip()
    frame = _communes.load_communes(None) if communes is None else communes
    parties = _parties(territoire)
    if not parties:
        raise _erreur_territoire(territoire, territoire, "territoire vide")
    moins = np.zeros(len(frame), dtype=bool)
    positives = []
    for partie in parties:
        tete, _, reste = partie.partition(":")
        tete = tete.strip().lower()
        if tete == "reste" and reste:
            ident = reste.strip()
            autres = territoires_declares() if territoires is None else territoires
            if ident not in autres:
                raise _erreur_territoire(territoire, partie,
                                         f"le contributeur « {ident} » n'est pas dans le "
                                         f"registre")
            if ident in _pile:
                raise _erreur_territoire(territoire, partie,
                                         "renvoi circulaire entre territoires ("
                                         + " → ".join((*_pile, ident)) + ")")
            codes = communes_couvertes(autres[ident], frame, territoires=autres,
                                       _pile=(*_pile, ident))
            moins |= frame["code_insee"].astype(str).isin(codes).to_numpy()
        elif tete == "sauf" and reste:
            moins |= _codes_parties([reste.strip()], territoire, frame)
        else:
            positives.append(partie)
    if positives:
        plus = _codes_parties(positives, territoire, frame)
    else:
        dep = settings().departement
        dans = (frame["departement"].astype(str) == dep).to_numpy()
        plus = dans if dans.any() else np.ones(len(frame), dtype=bool)
    return frozenset(frame.loc[plus & ~moins, "code_insee"].astype(str))


def groupes_sources(territoires: Mapping[str, str]) -> dict[str, str]:
    """Groupe de chaque source : celles qu'un ``reste:`` relie se partagent un territoire.

    La police et la gendarmerie (``reste:police_62``) forment un groupe : ensemble elles
    couvrent le département, et une commune de la zone de gendarmerie n'est pas « en
    partie couverte » parce que la police n'y va pas.

    Parameters
    ----------
    territoires : mapping
        Identifiant → territoire.

    Returns
    -------
    dict
        Identifiant → identifiant du groupe (le plus petit identifiant du groupe).
    """
    parent = {c: c for c in territoires}

    def racine(c: str) -> str:
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    for ident, terr in territoires.items():
        for partie in _parties(str(terr or "")):
            tete, _, autre = partie.strip().partition(":")
            if tete.strip().lower() == "reste" and autre.strip() in parent:
                a, b = racine(ident), racine(autre.strip())
                if a != b:
                    parent[max(a, b)] = min(a, b)
    return {c: racine(c) for c in territoires}


def communes_du_territoire(territoire: str) -> pd.DataFrame:
    """Communes actuelles d'un territoire de contributeur.

    Parameters
    ----------
    territoire : str
        Territoire dans la syntaxe de :func:`communes_couvertes` (``622``, ``62``,
        ``62119|62510``, ``reste:police_62``…).

    Returns
    -------
    pandas.DataFrame
        Colonnes de :func:`observatoire.communes.load_communes`, triées par nom.
    """
    from observatoire import communes

    allc = communes.load_communes(None)
    codes = communes_couvertes(territoire, allc)
    df = allc[allc["code_insee"].isin(codes)]
    return df.sort_values(["nom", "code_insee"]).reset_index(drop=True)


@lru_cache(maxsize=32)
def codes_du_territoire(territoire: str) -> frozenset[str]:
    """Codes INSEE des communes d'un territoire de contributeur (mis en cache).

    Voir :func:`communes_couvertes` ; lève la même erreur pour un territoire inconnu.
    """
    return communes_couvertes(territoire)


@dataclass(frozen=True)
class FicheIndicateur:
    """Fiche d'un indicateur en langage clair, pour les élus et le public.

    Attributes
    ----------
    code : str
    ce_qui_est_compte : str
        Ce que compte l'indicateur, en une ou deux phrases.
    qui_le_compte : str
        Qui transmet ces chiffres.
    ce_que_cela_ne_dit_pas : str
        Les lectures à éviter.
    """

    code: str
    ce_qui_est_compte: str
    qui_le_compte: str
    ce_que_cela_ne_dit_pas: str


@lru_cache(maxsize=4)
def load_fiches_indicateurs(directory: Path | None = None) -> dict[str, FicheIndicateur]:
    """Lit les fiches des indicateurs (``data/catalogues/fiches_indicateurs.csv``).

    Returns
    -------
    dict
        Code de l'indicateur → :class:`FicheIndicateur` ; un indicateur sans fiche est
        absent (l'application montre alors sa définition du catalogue).
    """
    try:
        df = _read("fiches_indicateurs.csv", directory)
    except ObservatoireError:
        return {}
    return {r["code"].strip(): FicheIndicateur(
        code=r["code"].strip(), ce_qui_est_compte=r["ce_qui_est_compte"].strip(),
        qui_le_compte=r["qui_le_compte"].strip(),
        ce_que_cela_ne_dit_pas=r["ce_que_cela_ne_dit_pas"].strip())
        for r in df.to_dict("records") if r["code"].strip()}
