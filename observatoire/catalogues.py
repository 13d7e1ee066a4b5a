"""Catalogues éditables : indicateurs et contributeurs.

Les deux fichiers vivent dans ``data/catalogues/`` (``indicateurs.csv``,
``contributeurs.csv``) : les agents y ajoutent, renomment ou retirent un indicateur ou
un contributeur sans nouvelle version du logiciel. Chaque valeur stockée garde le code
de son indicateur, jamais son libellé.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

from observatoire.config import CATALOGUE_DIR
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
    """

    code: str
    libelle: str
    definition: str
    contributeurs_types: tuple[str, ...]
    synonymes: tuple[str, ...]
    actif: bool = True


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
        Code d'arrondissement INSEE (3 caractères, ``622``) ou de département (``62``).
    indicateurs : tuple of str
        Codes des indicateurs qu'il déclare.
    contact : str
        À qui s'adresser.
    """

    identifiant: str
    nom: str
    type: str
    territoire: str
    indicateurs: tuple[str, ...]
    contact: str = ""

    @property
    def source_publique(self) -> bool:
        """Vrai pour une source publique (type ``source_publique``, le SSMSI) : ses données
        sont téléchargées et importées par l'observatoire, personne ne l'envoie chaque année
        (ni campagne, ni modèle, ni tableau de contributeur, ni lot de démonstration).
        """
        return self.type == PUBLIC_SOURCE_TYPE


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
                   actif=r.get("actif", "oui").strip().lower() not in {"non", "0", "false"})
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
                     indicateurs=_split(r["indicateurs"]), contact=r.get("contact", "").strip())
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


def communes_du_territoire(territoire: str) -> pd.DataFrame:
    """Communes actuelles d'un territoire de contributeur.

    Parameters
    ----------
    territoire : str
        Code d'arrondissement (3 caractères, ``622``) ou de département (2 ou 3
        caractères, ``62``, ``2A``, ``974``). Un code de 3 caractères est d'abord cherché
        parmi les arrondissements.

    Returns
    -------
    pandas.DataFrame
        Colonnes de :func:`observatoire.communes.load_communes`, triées par nom.
    """
    from observatoire import communes

    territoire = str(territoire).strip()
    allc = communes.load_communes(None)
    df = allc[allc["arrondissement"] == territoire]
    if df.empty:
        df = allc[allc["departement"] == territoire]
    if df.empty:
        raise ObservatoireError(
            f"Le territoire « {territoire} » n'est ni un arrondissement ni un département "
            f"connu : indiquez un code INSEE d'arrondissement (622) ou de département (62) "
            f"dans la colonne « territoire » de data/catalogues/contributeurs.csv."
        )
    return df.sort_values(["nom", "code_insee"]).reset_index(drop=True)


@lru_cache(maxsize=32)
def codes_du_territoire(territoire: str) -> frozenset[str]:
    """Codes INSEE des communes d'un territoire de contributeur (mis en cache).

    Voir :func:`communes_du_territoire` ; lève la même erreur pour un territoire inconnu.
    """
    return frozenset(communes_du_territoire(territoire)["code_insee"])


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
