"""Données d'une publication : tout ce que les exports lisent, rassemblé une fois.

Les exports (cartes, atlas, classeur, CSV, HTML) ne lisent que :class:`Publication` :
les tables publiques d'une diffusion validée (:mod:`observatoire.diffusion`), les
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
from observatoire.errors import ObservatoireError

#: Mention portée par chaque page quand la base est en mode démonstration.
MENTION_DEMO = "données fictives de démonstration"

#: Colonnes des tables publiques normalisées, dans l'ordre des exports.
COLONNES = ["code", "nom", "niveau", "population", "observe", "secret", "taux",
            "taux_lisse", "attendu", "ratio", "p_exces", "p_defaut", "label"]

#: Statuts cartographiques d'une unité.
VALEUR, SECRET, NON_CONCLUANT, PAS_DE_DONNEE = "valeur", "secret", "non_concluant", "pas_de_donnee"
HORS_PERIMETRE = "hors_perimetre"
#: Ce qu'une sortie écrit à la place d'une valeur ou d'une étiquette absente.
LIBELLES_STATUT = {HORS_PERIMETRE: "hors du périmètre des sources",
                   PAS_DE_DONNEE: "pas de donnée (population inconnue)",
                   SECRET: "secret"}


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
    couches_web : dict
        Les mêmes, simplifiées en couverture à l'import (``load_layer(..., web=True)``) :
        pour la carte interactive. Vide : les exports prennent ``couches``.
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
        Lots de contributions utilisés (``lot``, ``contributeur``, ``nom``, ``annee``,
        ``recu_le``, ``indicateurs``) : jamais le nom du fichier reçu.
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
    diffusion : dict
        Diffusion publiée (numéro, année, version, empreinte SHA-256, résumé de l'audit).
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
    couches_web: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    diffusion: dict = field(default_factory=dict)

    def table(self, indicateur: str, niveau: str = "commune") -> pd.DataFrame:
        """Table publique d'un indicateur à un niveau (vide si absente)."""
        t = self.tables.get((indicateur, niveau))
        return t.copy() if t is not None else pd.DataFrame(columns=COLONNES)

    def arrondissements(self) -> list[tuple[str, str]]:
        """``(code, nom)`` des arrondissements du territoire, triés par code."""
        a = self.couches["arrondissement"].sort_values("code")
        return list(zip(a["code"].astype(str), a["nom"].astype(str), strict=True))

    def nom_territoire(self, territoire: str) -> str:
        """Nom lisible : « Pas-de-Calais », « arrondissement de Béthune », « … d'Arras »."""
        from observatoire.formats import de

        if territoire == "departement":
            return self.territoire_nom
        noms = dict(self.arrondissements())
        return f"arrondissement {de(noms.get(territoire, territoire))}"

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
        """Origine des contours et projection (``referentiel.summary()``).

        « Contours : IGN – ADMIN EXPRESS COG 2018 » quand l'import a dit sa source et
        son millésime (``observatoire referentiel importer … --source … --millesime …``).
        """
        src = str(self.source_geo.get("source") or "IGN – ADMIN EXPRESS COG")
        mil = self.source_geo.get("millesime")
        if mil and str(mil) not in src:
            src = f"{src} {mil}"
        cog = self.source_geo.get("cog") or "INSEE – Code officiel géographique"
        return (f"Contours : {src} ; EPCI et arrondissements regroupés selon {cog}. "
                f"Projection : RGF93 / Lambert-93 (EPSG:2154).")


def hors_perimetre(table: pd.DataFrame) -> pd.Series:
    """Vrai pour les unités qu'aucune source reçue ne couvre (colonne ``couverture``).

    Une table sans ``couverture`` ni ``couvert`` (produite avant que l'analyse ne les
    donne) n'a aucune unité hors du périmètre.
    """
    if "couverture" in table:
        return (table["couverture"].astype(object) == HORS_PERIMETRE).fillna(False).astype(bool)
    if "couvert" in table:
        return ~table["couvert"].astype("boolean").fillna(True).astype(bool)
    return pd.Series(False, index=table.index)


def statut(table: pd.DataFrame, colonne: str = "taux") -> pd.Series:
    """Statut cartographique de chaque unité sur une carte de valeurs (effectif, taux…).

    Une unité hors du périmètre des sources l'est avant tout (elle n'est ni secrète ni
    nulle : aucune source ne dit rien d'elle) ; puis le secret prime (la valeur n'est pas
    publiée) ; une unité couverte sans valeur (population inconnue) n'a « pas de
    donnée » ; toute autre unité est colorée selon sa valeur. « Non concluant » n'est pas
    un statut de la valeur mais de l'étiquette (le test de l'écart à l'attendu) : il ne se
    montre que sur les cartes des étiquettes.

    Parameters
    ----------
    table : pandas.DataFrame
        Table publique (``secret``, ``observe``, ``colonne`` et, s'il y en a,
        ``couverture``).
    colonne : str, default "taux"
        Valeur cartographiée.

    Returns
    -------
    pandas.Series
        :data:`VALEUR`, :data:`SECRET`, :data:`HORS_PERIMETRE` ou :data:`PAS_DE_DONNEE`.
    """
    secret = table["secret"].fillna(False).astype(bool) if "secret" in table else \
        pd.Series(False, index=table.index)
    observe = pd.to_numeric(table.get("observe"), errors="coerce")
    valeur = pd.to_numeric(table[colonne], errors="coerce") if colonne in table else observe
    absent = observe.isna() | valeur.isna()
    out = np.where(hors_perimetre(table), HORS_PERIMETRE,
                   np.where(secret, SECRET, np.where(absent, PAS_DE_DONNEE, VALEUR)))
    return pd.Series(out, index=table.index, name="statut")


def etiquette_carte(table: pd.DataFrame) -> pd.Series:
    """Étiquette montrée sur la carte des étiquettes (``None`` : pas d'étiquette).

    Les étiquettes se publient même quand l'effectif est secret, calculées sur tout
    l'intervalle que le public connaît (voir ``docs/methodologie.md``). Une unité hors
    du périmètre des sources, ou sans population connue, n'en a pas.
    """
    st = statut(table, "observe")
    lab = table["label"].astype("object") if "label" in table else \
        pd.Series(None, index=table.index, dtype="object")
    return lab.where(~st.isin([PAS_DE_DONNEE, HORS_PERIMETRE]), None)


def texte_etiquette(table: pd.DataFrame) -> pd.Series:
    """Étiquette à écrire dans un tableau : l'étiquette, ou pourquoi il n'y en a pas."""
    st = statut(table, "observe")
    lab = etiquette_carte(table)
    sans = st.map(LIBELLES_STATUT).where(st.isin([HORS_PERIMETRE, PAS_DE_DONNEE]),
                                         LIBELLES_STATUT[PAS_DE_DONNEE])
    return lab.where(lab.notna(), sans).astype(object)


def note_sources_manquantes(table: pd.DataFrame) -> str:
    """Phrase sur les sources que la campagne attendait et qui manquent (vide sinon)."""
    manq = (table.attrs or {}).get("sources_manquantes") or []
    if not manq:
        return ""
    liste = ", ".join(f"{m['nom']} ({m['annee']})" for m in manq)
    return (f"Sources attendues absentes : {liste}. Elles sont laissées de côté (effectifs "
            f"et attendus) ; les communes qu'elles seules couvrent sont hors du périmètre "
            f"des sources.")


def texte_valeur(x, decimales: int = 1, secret: bool = False) -> str:
    """Valeur affichée dans un tableau : « secret », vide, ou nombre au format français."""
    if secret:
        return "secret"
    if x is None or (isinstance(x, float) and np.isnan(x)) or x is pd.NA:
        return ""
    return format_nombre(x, decimales)


#: Ce que les fichiers publics disent de l'audit. Pas les nombres de cellules protégées ou
#: tues : le premier compte les effectifs vraiment de 1 à 4 parmi les cellules secrètes,
#: une information que la diffusion ne donne pas par ailleurs.
AUDIT_PUBLIC = ("sur", "methode", "diffusions_auditees")


def rassembler(annee: int, indicateurs=None, *, territoire: str | None = None,
               dispositifs: bool = True, engine=None) -> Publication:
    """Les fichiers d'une diffusion validée : ses tables publiques, les contours, les registres.

    Rien n'est recalculé sur les valeurs exactes : toutes les tables viennent du contenu
    public de la diffusion validée en vigueur pour l'année (et, pour la série, de celles
    des années précédentes). Les registres publics (dispositifs, communes dotées d'un
    référent) et les contours sont lus tels quels.

    Parameters
    ----------
    annee : int
        Année de la diffusion.
    indicateurs : iterable of str, optional
        Parmi ceux de la diffusion ; par défaut tous.
    territoire : str, optional
        Non utilisé ici (le choix des territoires se fait à l'export) ; gardé pour la
        traçabilité des paramètres.
    dispositifs : bool, default True
        Lire les registres des dispositifs et des référents.
    engine : sqlalchemy.engine.Engine, optional

    Returns
    -------
    Publication

    Raises
    ------
    AucuneDiffusionError
        Aucune diffusion validée pour l'année.
    ReferentielAbsentError
        Contours non importés.
    """
    from observatoire import diffusion, referentiel, registres, storage
    from observatoire.config import ROOT, settings
    from observatoire.diffusion import lecture
    from observatoire.stats.coverage import couverture as _couverture

    s = settings()
    engine = engine or storage.get_engine()
    d = diffusion.courante(int(annee), engine=engine)
    pub_json = d.public
    couches = {n: referentiel.load_layer(n) for n in ("commune", "epci", "arrondissement",
                                                       "departement")}
    couches_web = {"commune": referentiel.load_layer("commune", web=True)}
    for g in [*couches.values(), *couches_web.values()]:
        g["code"] = g["code"].astype(str)
    libelles = lecture.indicateurs(pub_json)
    if indicateurs is None:
        indicateurs = list(libelles)
    indicateurs = list(indicateurs)
    absents = [i for i in indicateurs if i not in libelles]
    if absents:
        raise ObservatoireError(
            f"La diffusion {annee} (version {d.version}) ne publie pas : {', '.join(absents)}. "
            f"Indicateurs publiés : {', '.join(libelles)}.")
    courantes = {a: x.public for a, x in diffusion.courantes(engine).items() if a <= annee}
    tables, contributeurs, tendances = {}, {}, {}
    for ind in indicateurs:
        for niveau in lecture.niveaux(pub_json, ind, str(annee)):
            tables[(ind, niveau)] = lecture.table(pub_json, ind, str(annee), niveau)
        contributeurs[ind] = sorted({lot["nom"] for lot in pub_json.get("lots", [])
                                     if ind in lot.get("indicateurs", [])
                                     and lot["annee"] == int(annee)})
        tend = lecture.serie(courantes, ind, ("arrondissement", "departement"), jusqu_a=annee)
        tendances[ind] = tend if tend["annee"].nunique() > 1 else tend.iloc[0:0]
    couverture = points = refs = None
    if dispositifs:
        r = registres.public_referents(engine)
        refs = pd.DataFrame({"code": r["code_insee"].astype(str),
                             "forme": r["forme"].fillna(False).astype(bool)})
        points = registres.dispositifs_points(engine, communes_layer=couches["commune"])
        base = tables.get((indicateurs[0], "commune"))
        if base is not None:
            # Distances et référents : registres publics et géométrie, rien d'exact.
            # L'indice de priorité que calcule aussi _couverture n'est pas gardé ; il lit
            # les colonnes publiques (attendu, taux lissé : vides sur les cellules secrètes).
            cols = [c for c in ("code", "nom", "niveau", "population", "arrondissement",
                                "personnes_annees", "attendu", "taux_lisse", "observe",
                                "label") if c in base]
            cov = _couverture(base[cols],
                              geometrie=couches["commune"],
                              dispositifs=registres.list_dispositifs(engine), referents=r)
            dist = [c for c in cov.columns if c.startswith("distance_") and c.endswith("_km")]
            couverture = cov[["code", "nom", "arrondissement", "population", "referent",
                              "referent_forme"] + dist].rename(
                columns={c: c.removesuffix("_km") for c in dist})
            couverture["referent"] = couverture["referent"].fillna(False).astype(bool)
            couverture["referent_forme"] = couverture["referent_forme"].fillna(False).astype(
                bool)
        if not points.empty:
            types = registres.load_types()
            lib = dict(zip(types["code"], types["libelle"], strict=True))
            points = points[["type", "nom", "code_insee", "commune", "geometry"]].copy()
            points["type_libelle"] = points["type"].map(lambda t: lib.get(t, t))
    lots = [lot for lot in pub_json.get("lots", []) if set(lot.get("indicateurs", []))
            & set(indicateurs)]
    date_donnees = (max(dt.date.fromisoformat(x["recu_le"]) for x in lots) if lots else None)
    methode = ROOT / "docs" / "methodologie.md"
    resume = referentiel.summary()
    return Publication(
        annee=int(annee), territoire_nom=pub_json.get("territoire_nom", s.territoire_nom),
        departement=pub_json.get("departement", s.departement),
        indicateurs={i: libelles.get(i, i) for i in indicateurs}, couches=couches,
        couches_web=couches_web,
        tables=tables, contributeurs=contributeurs, tendances=tendances,
        couverture=couverture, dispositifs=points, referents=refs, lots=lots,
        source_geo={"source": resume.get("source"), "millesime": resume.get("millesime"),
                    "cog": resume.get("cog"), "fichier": resume.get("fichier")},
        methodologie=methode.read_text(encoding="utf-8") if methode.exists() else "",
        demo=bool(pub_json.get("demo")), seuil_secret=int(pub_json.get("seuil_secret",
                                                                       s.seuil_secret)),
        date_donnees=date_donnees,
        diffusion={**d.resume(), "audit": {k: d.audit[k] for k in AUDIT_PUBLIC
                                           if k in d.audit}})
