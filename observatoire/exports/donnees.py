"""Données d'une publication : tout ce que les exports lisent, rassemblé une fois.

Les exports (cartes, atlas, classeur, CSV, HTML) ne lisent que :class:`Publication` :
des tables déjà passées par le secret statistique (``secrecy.apply_public``), les
couches du référentiel, les registres publics et la traçabilité (lots, millésime des
contours). Ainsi le secret n'est appliqué qu'à un endroit, et les exports se testent
sur de petites publications construites à la main.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from observatoire.classification import format_nombre

#: Mention portée par chaque page quand la base est en mode démonstration.
MENTION_DEMO = "données fictives de démonstration"

#: Colonnes des tables publiques normalisées, dans l'ordre des exports.
COLONNES = ["code", "nom", "niveau", "population", "observe", "secret", "taux",
            "taux_lisse", "attendu", "ratio", "p_exces", "p_defaut", "label"]

#: Statuts cartographiques d'une unité.
VALEUR, SECRET, NON_CONCLUANT, PAS_DE_DONNEE = "valeur", "secret", "non_concluant", "pas_de_donnee"


@dataclass
class Publication:
    """Entrées d'une publication annuelle, secret déjà appliqué.

    Attributes
    ----------
    annee : int
        Année des données publiées.
    territoire_nom, departement : str
        Territoire servi (« Pas-de-Calais », « 62 »).
    indicateurs : dict
        Code -> libellé des indicateurs publiés, dans l'ordre de publication.
    couches : dict
        ``niveau`` -> GeoDataFrame Lambert-93 (``commune`` avec ``epci`` et
        ``arrondissement``, ``epci``, ``arrondissement``, ``departement``).
    tables : dict
        ``(indicateur, niveau)`` -> table publique (colonnes :data:`COLONNES`, plus
        ``epci`` et ``arrondissement`` pour les communes). ``observe`` et les valeurs
        dérivées sont vides (NaN) quand ``secret`` est vrai.
    contributeurs : dict
        Indicateur -> noms des contributeurs dont les données sont publiées.
    tendances : dict
        Indicateur -> table publique des évolutions (``niveau``, ``code``, ``nom``,
        ``annee`` et valeurs) ; peut être vide.
    couverture : pandas.DataFrame or None
        Par commune : ``code``, ``nom``, distances aux dispositifs (km), ``referent``.
    dispositifs : geopandas.GeoDataFrame or None
        Points Lambert-93 avec ``type``, ``nom``, ``commune``.
    referents : pandas.DataFrame or None
        ``code`` et ``forme`` (bool) des communes ayant un référent.
    lots : list of dict
        Lots de contributions utilisés (``id``, ``contributeur``, ``annee``,
        ``fichier``, ``sha256``, ``importe_le``).
    source_geo : dict
        ``source`` et ``millesime`` des contours (``referentiel.summary()``).
    methodologie : str
        Texte de méthode (Markdown, ``docs/methodologie.md``).
    demo : bool
        Données fictives de démonstration.
    seuil_secret : int
        Seuil du secret statistique.
    date_donnees : datetime.date
        Date d'arrêt des données (dernier import) : imprimée comme date de traitement
        pour que deux publications des mêmes entrées soient identiques.
    """

    annee: int
    territoire_nom: str
    departement: str
    indicateurs: dict[str, str]
    couches: dict[str, gpd.GeoDataFrame]
    tables: dict[tuple[str, str], pd.DataFrame]
    contributeurs: dict[str, list[str]] = field(default_factory=dict)
    tendances: dict[str, pd.DataFrame] = field(default_factory=dict)
    couverture: pd.DataFrame | None = None
    dispositifs: gpd.GeoDataFrame | None = None
    referents: pd.DataFrame | None = None
    lots: list[dict] = field(default_factory=list)
    source_geo: dict = field(default_factory=dict)
    methodologie: str = ""
    demo: bool = False
    seuil_secret: int = 5
    date_donnees: dt.date | None = None
    parametres: dict = field(default_factory=dict)

    def table(self, indicateur: str, niveau: str = "commune") -> pd.DataFrame:
        """Table publique d'un indicateur à un niveau (vide si absente)."""
        t = self.tables.get((indicateur, niveau))
        return t.copy() if t is not None else pd.DataFrame(columns=COLONNES)

    def arrondissements(self) -> list[tuple[str, str]]:
        """``(code, nom)`` des arrondissements du territoire, triés par code."""
        a = self.couches["arrondissement"].sort_values("code")
        return list(zip(a["code"].astype(str), a["nom"].astype(str), strict=True))

    def nom_territoire(self, territoire: str) -> str:
        """Nom lisible : « Pas-de-Calais » ou « arrondissement de Béthune »."""
        if territoire == "departement":
            return self.territoire_nom
        noms = dict(self.arrondissements())
        return f"arrondissement de {noms.get(territoire, territoire)}"

    def date_traitement(self) -> dt.date:
        """Date imprimée de traitement : arrêt des données, sinon 1er janvier de N+1."""
        return self.date_donnees or dt.date(self.annee + 1, 1, 1)

    def ligne_source(self, indicateur: str) -> str:
        """Ligne « Sources : … » d'une carte ou d'un tableau."""
        contrib = (", ".join(self.contributeurs.get(indicateur, []))
                   or "contributeurs de l'observatoire")
        return (f"Sources : {contrib} (données {self.annee}). Traitement : Observatoire "
                f"territorial des violences intrafamiliales, {self.date_traitement():%d/%m/%Y}.")

    def attribution(self) -> str:
        """Projection et origine des limites (``referentiel.summary()``)."""
        src = self.source_geo.get("source") or "IGN ADMIN EXPRESS"
        mil = self.source_geo.get("millesime")
        lim = f"{src}, millésime {mil}" if mil else src
        return (f"Projection : RGF93 / Lambert-93 (EPSG:2154). Limites communales : {lim} ; "
                f"EPCI et arrondissements : Code officiel géographique (INSEE).")


def statut(table: pd.DataFrame) -> pd.Series:
    """Statut cartographique de chaque unité : valeur, secret, non concluant, pas de donnée.

    Le secret prime (la valeur n'est pas publiée) ; une unité sans effectif observé
    (aucun contributeur ne la couvre) n'a « pas de donnée » ; une unité dont l'effectif
    attendu est trop faible pour conclure est « non concluante » et n'est pas colorée
    selon son taux, trop incertain.
    """
    secret = table["secret"].fillna(False).astype(bool) if "secret" in table else \
        pd.Series(False, index=table.index)
    observe = pd.to_numeric(table.get("observe"), errors="coerce")
    label = (table["label"].astype("object") if "label" in table
             else pd.Series(None, index=table.index, dtype="object"))
    out = np.where(secret, SECRET,
                   np.where(observe.isna(), PAS_DE_DONNEE,
                            np.where(label == "non concluant", NON_CONCLUANT, VALEUR)))
    return pd.Series(out, index=table.index, name="statut")


def texte_valeur(x, decimales: int = 1, secret: bool = False) -> str:
    """Valeur affichée dans un tableau : « secret », vide, ou nombre au format français."""
    if secret:
        return "secret"
    if x is None or (isinstance(x, float) and np.isnan(x)) or x is pd.NA:
        return ""
    return format_nombre(x, decimales)
