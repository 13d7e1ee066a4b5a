"""Registres des dispositifs d'aide et des communes ayant désigné un référent VIF.

Deux registres éditables par les agents, chacun importé depuis un tableur (.csv ou
.xlsx) dont les en-têtes sont reconnus par synonymes, et chacun avec son modèle Excel :

- **dispositifs** : accueils de jour, LEAO, hébergement, ISCG, France Services… Le type
  vient du catalogue ``data/catalogues/types_dispositifs.csv``. Un dispositif sans
  coordonnées est placé dans sa commune (``localisation = "commune"``, ou
  ``"territoire"`` quand il couvre une zone et qu'il est posé au chef-lieu) ; un
  dispositif avec coordonnées (``localisation = "adresse"``) est contrôlé : le point
  doit tomber dans le contour de sa commune quand le référentiel géographique est
  importé. Le registre initial du projet est ``data/catalogues/dispositifs_plan_cadre.csv``
  (les dispositifs que nomme le plan cadre 2024-2026, chacun avec sa source).
- **référents** : commune, date de désignation, formé oui/non, date de formation. Le nom
  et le contact du référent sont réservés aux agents : :func:`public_referents` est la
  seule vue destinée aux sorties publiques.

Les données fictives de démonstration et les données réelles ne se mêlent jamais :
chaque écriture passe par :func:`observatoire.batches.ensure_mode`.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from observatoire import communes, storage
from observatoire.batches import ensure_mode
from observatoire.config import CATALOGUE_DIR, settings
from observatoire.errors import ObservatoireError, ReferentielAbsentError

#: Catalogue éditable des types de dispositifs.
TYPES_PATH = CATALOGUE_DIR / "types_dispositifs.csv"
#: Registre initial : les dispositifs nommés par le plan cadre 2024-2026.
INITIAL_REGISTRY_PATH = CATALOGUE_DIR / "dispositifs_plan_cadre.csv"

#: Colonnes du registre des dispositifs (table ``dispositifs`` sans ``id`` ni ``demo``).
DISPOSITIF_COLUMNS = ["type", "nom", "adresse", "code_insee", "commune", "latitude",
                      "longitude", "localisation", "capacite", "unite_capacite", "horaires",
                      "contact", "source", "remarque"]
#: Colonnes du registre des référents (table ``referents`` sans ``demo``).
REFERENT_COLUMNS = ["code_insee", "date_designation", "forme", "date_formation",
                    "nom_referent", "contact_referent", "source"]
#: Colonnes publiables des référents : jamais le nom ni le contact.
PUBLIC_REFERENT_COLUMNS = ["code_insee", "commune", "date_designation", "forme",
                           "date_formation"]

LOCALISATIONS = ("adresse", "commune", "territoire")
DAYS = ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"]

# En-têtes reconnus, par champ. Comparés après normalisation (minuscules, sans accents,
# tout caractère non alphanumérique remplacé par « _ »).
DISPOSITIF_SYNONYMS: dict[str, list[str]] = {
    "type": ["type", "type_dispositif", "type de dispositif", "categorie", "nature"],
    # France services : les en-têtes de chaque édition de la liste de l'ANCT (2020-2021 :
    # lib_france_services, ADRESSE, COMPLEMENT.D.ADRESSE, CONTACT.MAIL, TELEPHONE ;
    # 2022-2023 : matricule, lib_fs, mail ; depuis 2024 : id_fs, lib_fs, insee_com ; versions
    # tableur en toutes lettres : « Nom de la France services », « Adresse e-mail »).
    "nom": ["nom", "lib_fs", "lib_france_services", "nom_france_services", "nom_fs",
            "libelle_france_services", "nom de la france services", "nom france services",
            "france services", "nom de l'espace", "nom de la structure", "libelle",
            "nom_structure", "structure", "denomination", "nom du dispositif", "dispositif",
            "raison_sociale", "etablissement"],
    "adresse": ["adresse", "adresse_postale", "voie", "adresse_1", "numero et voie",
                "adresse_fs", "adresse de la structure", "result_label"],
    "complement_adresse": ["complement_adresse", "complement d'adresse", "adresse_2",
                           "complement"],
    "code_insee": ["code_insee", "insee_com", "insee", "code_commune", "codgeo", "depcom",
                   "code insee commune", "com_insee", "cog", "code_insee_commune",
                   "codeinsee", "code_commune_insee", "result_citycode", "citycode"],
    "commune": ["commune", "lib_com", "nom_commune", "ville", "libelle_commune",
                "localite", "libcom", "result_city", "nom de la commune"],
    "code_postal": ["code_postal", "cp", "postcode", "code postal"],
    "latitude": ["latitude", "lat", "y_wgs84", "coord_lat", "latitude_wgs84",
                 "result_latitude"],
    "longitude": ["longitude", "lon", "lng", "long", "x_wgs84", "coord_lon",
                  "longitude_wgs84", "result_longitude"],
    "localisation": ["localisation", "precision", "precision_localisation"],
    "capacite": ["capacite", "places", "nombre_places", "nb_places", "capacite_accueil",
                 "nombre de places", "effectif"],
    "unite_capacite": ["unite_capacite", "unite", "unite de capacite"],
    "horaires": ["horaires", "horaires_ouverture", "heures_ouverture",
                 "horaires d'ouverture", "ouverture"],
    **{f"h_{day}": [f"h_{day}", f"horaires_{day}", day] for day in DAYS},
    "prise_rdv": ["prise_rdv", "sur_rendez_vous", "rendez_vous", "rdv"],
    "contact": ["contact", "coordonnees", "contact_institutionnel"],
    "mail": ["mail", "courriel", "email", "e_mail", "adresse_mail", "adresse electronique",
             "contact.mail", "contact_mail", "contact_email", "mail_fs", "adresse e-mail",
             "adresse_email", "courriel_fs"],
    "telephone": ["telephone", "tel", "numero_telephone", "tel_fixe", "standard",
                  "contact.telephone", "contact_telephone", "telephone_fs", "tel_fs",
                  "numero de telephone"],
    "source": ["source", "origine", "reference"],
    "remarque": ["remarque", "remarques", "commentaire", "commentaires", "observations",
                 "note"],
}

REFERENT_SYNONYMS: dict[str, list[str]] = {
    "code_insee": DISPOSITIF_SYNONYMS["code_insee"],
    "commune": DISPOSITIF_SYNONYMS["commune"],
    "code_postal": DISPOSITIF_SYNONYMS["code_postal"],
    "date_designation": ["date_designation", "date de designation", "date_nomination",
                         "date de nomination", "designe_le", "nomme_le", "date",
                         "date designation referent"],
    "forme": ["forme", "formee", "forme_e", "forme oui non", "formation", "a ete forme",
              "referent forme"],
    "date_formation": ["date_formation", "date de formation", "forme_le", "formation_le"],
    "nom_referent": ["nom_referent", "nom du referent", "referent", "nom", "nom prenom",
                     "nom et prenom", "referent vif"],
    "contact_referent": ["contact_referent", "contact", "mail", "courriel", "email",
                         "telephone", "contact du referent"],
    "source": DISPOSITIF_SYNONYMS["source"],
}

TRUE_WORDS = {"oui", "o", "yes", "y", "vrai", "true", "1", "x", "forme", "formee"}
FALSE_WORDS = {"non", "n", "no", "faux", "false", "0", "", "non forme", "non formee"}
_MAX_LISTED = 30


class RegistreInvalideError(ObservatoireError):
    """Fichier de registre illisible ou incomplet : rien n'en est enregistré."""


@dataclass
class RegistryReport:
    """Rapport d'import d'un registre.

    Attributes
    ----------
    fichier : str
        Nom du fichier lu.
    registre : str
        ``"dispositifs"`` ou ``"referents"``.
    lignes_lues : int
        Lignes de données lues (hors en-tête et lignes vides).
    importes : int
        Lignes écrites dans le registre.
    doublons : int
        Lignes déjà présentes, laissées telles quelles.
    supprimes : int
        Lignes retirées par ``--remplacer``.
    par_type : dict
        Nombre de lignes importées par type (dispositifs).
    colonnes : dict
        En-tête du fichier → champ reconnu.
    colonnes_ignorees : list of str
        En-têtes non reconnus.
    avertissements : list of str
        Problèmes qui n'empêchent pas l'import (point hors de sa commune, etc.).
    """

    fichier: str
    registre: str
    lignes_lues: int = 0
    importes: int = 0
    doublons: int = 0
    supprimes: int = 0
    par_type: dict = field(default_factory=dict)
    colonnes: dict = field(default_factory=dict)
    colonnes_ignorees: list = field(default_factory=list)
    avertissements: list = field(default_factory=list)

    def to_dict(self) -> dict:
        """Rapport sous forme de dictionnaire (sortie ``--json``)."""
        return dict(self.__dict__)

    def lines(self) -> list[str]:
        """Rapport lisible, une ligne par information, en français."""
        out = [f"Fichier : {self.fichier}",
               f"Lignes lues : {self.lignes_lues}",
               f"Lignes importées dans le registre des {self.registre} : {self.importes}"]
        if self.doublons:
            out.append(f"Déjà présentes (laissées telles quelles) : {self.doublons}")
        if self.supprimes:
            out.append(f"Retirées avant import (--remplacer) : {self.supprimes}")
        for code, n in sorted(self.par_type.items()):
            out.append(f"  {code} : {n}")
        if self.colonnes_ignorees:
            out.append("Colonnes ignorées : " + ", ".join(self.colonnes_ignorees))
        for warning in self.avertissements:
            out.append(f"Avertissement : {warning}")
        return out


# --------------------------------------------------------------------------- catalogue


def _norm(text) -> str:
    """Forme de comparaison : minuscules, sans accents, séparateurs réduits à « _ »."""
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


@lru_cache(maxsize=4)
def _types_cached(path: str, mtime: float) -> pd.DataFrame:
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = {"code", "libelle"} - set(df.columns)
    if missing:
        raise ObservatoireError(
            f"Le catalogue des types de dispositifs {path} n'a pas les colonnes "
            f"{', '.join(sorted(missing))} : rétablissez l'en-tête « code,libelle,description,"
            "synonymes »."
        )
    for col in ("description", "synonymes"):
        if col not in df.columns:
            df[col] = ""
    return df


def load_types(path: str | Path | None = None) -> pd.DataFrame:
    """Catalogue des types de dispositifs.

    Parameters
    ----------
    path : path-like, optional
        Fichier CSV ; par défaut ``data/catalogues/types_dispositifs.csv``.

    Returns
    -------
    pandas.DataFrame
        Colonnes ``code``, ``libelle``, ``description``, ``synonymes`` (séparés par « | »).
    """
    path = Path(path or TYPES_PATH)
    if not path.exists():
        raise ObservatoireError(f"Le catalogue des types de dispositifs {path} est introuvable.")
    return _types_cached(str(path), path.stat().st_mtime).copy()


def resolve_type(value: str, types: pd.DataFrame | None = None) -> str:
    """Code du catalogue désigné par ``value`` (code, libellé ou synonyme).

    Parameters
    ----------
    value : str
        Texte lu dans un fichier ou passé en option (« France Services », « LEAO »…).
    types : pandas.DataFrame, optional
        Catalogue (:func:`load_types` par défaut).

    Returns
    -------
    str
        Code du type.

    Raises
    ------
    ObservatoireError
        Si le type n'est pas au catalogue (le message liste les codes connus).
    """
    types = load_types() if types is None else types
    index = _type_index(types)
    code = index.get(_norm(value))
    if code is None:
        raise ObservatoireError(
            f"Type de dispositif « {value} » inconnu. Types du catalogue : "
            f"{', '.join(types['code'])}. Ajoutez-le à {TYPES_PATH.name} au besoin."
        )
    return code


def _type_index(types: pd.DataFrame) -> dict[str, str]:
    index: dict[str, str] = {}
    for row in types.itertuples(index=False):
        index[_norm(row.code)] = row.code
    for row in types.itertuples(index=False):
        for alias in [row.libelle, *str(row.synonymes).split("|")]:
            if alias.strip():
                index.setdefault(_norm(alias), row.code)
    return index


# --------------------------------------------------------------------------- lecture


def _read_sheets(path: Path) -> dict:
    """Feuilles du fichier (lecteurs et contrôles de sécurité de :mod:`observatoire.ingest`).

    Returns
    -------
    dict
        Nom de feuille → :class:`observatoire.ingest.readers.Sheet` (cellules brutes et
        numéros de ligne d'origine).
    """
    from observatoire.ingest.readers import read_any
    from observatoire.ingest.safety import check_file

    content = path.read_bytes()
    kind = check_file(content, path.name)
    return {sheet.name: sheet for sheet in read_any(content, kind, path.name).sheets}


def _cell_text(value) -> str:
    # Case vide : None, NaN, et les marques de pandas (pd.NA d'une colonne entière, NaT)
    # d'un tableau modifié dans l'application.
    if value is None or (pd.api.types.is_scalar(value) and bool(pd.isna(value))):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | pd.Timestamp):
        midnight = (value.hour, value.minute, value.second) == (0, 0, 0)
        return value.date().isoformat() if midnight else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).replace("\u00a0", " ").strip()


def _locate_table(path: Path, synonyms: dict[str, list[str]], required: list[str],
                  preferred_sheet: str) -> tuple[str, int, object, dict[str, str]]:
    """Feuille et ligne d'en-tête du tableau, et correspondance en-tête → champ."""
    lookup = {}
    for fieldname, names in synonyms.items():
        for name in [fieldname, *names]:
            lookup.setdefault(_norm(name), fieldname)
    sheets = _read_sheets(path)
    best = None
    for sheet, content in sheets.items():
        frame = content.cells
        for i in range(min(len(frame), 25)):
            cells = [_cell_text(v) for v in frame.iloc[i].tolist()]
            found = {c: lookup[_norm(c)] for c in cells if c and _norm(c) in lookup}
            score = len(set(found.values())) + (0.5 if _norm(sheet) == preferred_sheet else 0)
            if len(found) >= 2 and (best is None or score > best[0]):
                best = (score, sheet, i, content, found)
    if best is None:
        raise RegistreInvalideError(
            f"Fichier {path.name} : aucune ligne d'en-tête reconnue dans les 25 premières lignes "
            f"(feuilles lues : {', '.join(map(str, sheets))}). Attendu au moins les colonnes "
            f"{' et '.join(required)} ; utilisez le modèle (« observatoire … modele »)."
        )
    _, sheet, header_row, frame, found = best
    return str(sheet), header_row, frame, found


def _table(path: Path, synonyms, required, preferred_sheet):
    """Lignes de données sous forme de dicts champ → texte, avec leur numéro de ligne."""
    sheet, header_row, content, _ = _locate_table(path, synonyms, required, preferred_sheet)
    frame = content.cells
    lookup = {}
    for fieldname, names in synonyms.items():
        for name in [fieldname, *names]:
            lookup.setdefault(_norm(name), fieldname)
    headers = [_cell_text(v) for v in frame.iloc[header_row].tolist()]
    mapping: dict[int, str] = {}
    columns: dict[str, str] = {}
    ignored: list[str] = []
    for j, header in enumerate(headers):
        fieldname = lookup.get(_norm(header)) if header else None
        if fieldname is None or fieldname in mapping.values():
            if header:
                ignored.append(header)
            continue
        mapping[j] = fieldname
        columns[header] = fieldname
    rows = []
    for i in range(header_row + 1, len(frame)):
        values = frame.iloc[i].tolist()
        record = {f: _cell_text(values[j]) if j < len(values) else "" for j, f in mapping.items()}
        if not any(record.values()):
            continue
        # Numéro de ligne tel que le tableur l'affiche (1 = première ligne).
        record["_ligne"] = content.rows[i]
        record["_colonnes"] = {f: h for h, f in columns.items()}
        rows.append(record)
    return sheet, rows, columns, ignored


# --------------------------------------------------------------------------- communes


class _CommuneIndex:
    """Reconnaissance des communes d'un registre, par :mod:`observatoire.matching`.

    Code INSEE (actuel ou ancien), « Nom (code) », code postal et nom, nom seul avec ses
    variantes ; un nom ambigu est signalé avec ses candidates, jamais tranché.
    """

    def __init__(self) -> None:
        from observatoire import matching

        self._matching = matching
        self.index = matching.get_index(settings().departement)
        allc = communes.load_communes(None)
        self.names = dict(zip(allc["code_insee"], allc["nom"], strict=True))
        self.territoire = set(communes.load_territoire()["code_insee"])

    def _candidates(self, codes) -> str:
        return ", ".join(f"{self.names.get(c, '?')} ({c})" for c in list(codes)[:5])

    def match(self, code: str, name: str, postal: str = "") -> tuple[str | None, str]:
        """Code actuel et, à défaut, la raison de l'échec (message français)."""
        postal = postal or None
        if code:
            found = self._matching.match_commune(code, postal, self.index)
            if found.code_insee:
                return found.code_insee, ""
            return None, f"code INSEE « {code} » inconnu du Code officiel géographique"
        if name:
            found = self._matching.match_commune(name, postal, self.index)
            if found.code_insee:
                return found.code_insee, ""
            if found.methode == "ambigu":
                return None, (f"nom « {name} » ambigu (candidates : "
                              f"{self._candidates(found.candidats)}) : précisez le code INSEE")
            hint = (f" (proches : {self._candidates(found.candidats)})"
                    if found.candidats else "")
            return None, (f"commune « {name} » introuvable dans le département "
                          f"{settings().departement}{hint} : précisez le code INSEE")
        return None, "ni code INSEE ni nom de commune"


# --------------------------------------------------------------------------- dispositifs


def _parse_float(text: str) -> float | None:
    text = text.replace(",", ".").replace(" ", "")
    if not text:
        return None
    return float(text)


def _parse_capacity(text: str) -> tuple[int | None, str]:
    text = text.strip()
    if not text:
        return None, ""
    match = re.fullmatch(r"(\d[\d\s]*)(?:[.,]0+)?\s*(.*)", text)
    if not match:
        raise ValueError(text)
    return int(re.sub(r"\s", "", match.group(1))), match.group(2).strip()


def _join(parts, sep=" ; ") -> str | None:
    parts = [p for p in parts if p]
    return sep.join(parts) if parts else None


def read_dispositifs(path: str | Path, type: str | None = None, source: str | None = None,
                     ) -> tuple[pd.DataFrame, RegistryReport]:
    """Lit un tableur de dispositifs, sans rien écrire.

    Parameters
    ----------
    path : path-like
        Fichier .csv ou .xlsx (modèle de l'observatoire ou mise en page quelconque dont les
        en-têtes sont reconnus par synonymes : ``lib_fs``/``nom``, ``insee_com``/
        ``code_insee``, ``latitude``/``longitude``, ``h_lundi`` … ``h_samedi``…).
    type : str, optional
        Type imposé à toutes les lignes (code, libellé ou synonyme du catalogue) ;
        obligatoire si le fichier n'a pas de colonne de type.
    source : str, optional
        Source des lignes qui n'en donnent pas ; par défaut le nom du fichier et la date.

    Returns
    -------
    frame : pandas.DataFrame
        Colonnes :data:`DISPOSITIF_COLUMNS`, une ligne par dispositif.
    report : RegistryReport
        Colonnes reconnues et avertissements (``importes`` reste à 0).

    Raises
    ------
    RegistreInvalideError
        Colonne obligatoire absente, ou lignes invalides : le message les liste toutes avec
        leur fichier, ligne et colonne.
    """
    path = Path(path)
    sheet, rows, columns, ignored = _table(path, DISPOSITIF_SYNONYMS, ["nom", "code_insee"],
                                           "dispositifs")
    report = RegistryReport(fichier=path.name, registre="dispositifs", lignes_lues=len(rows),
                            colonnes=columns, colonnes_ignorees=ignored)
    fields = set(columns.values())
    where = f"Fichier {path.name}, feuille « {sheet} »"
    missing = []
    if "nom" not in fields:
        missing.append("nom (ou lib_fs, libelle, structure…)")
    if not fields & {"code_insee", "commune"}:
        missing.append("code_insee (ou insee_com, code_commune…) ou commune")
    if type is None and "type" not in fields:
        missing.append("type (ou l'option --type)")
    if missing:
        raise RegistreInvalideError(
            f"{where} : colonne(s) obligatoire(s) absente(s) : {', '.join(missing)}. "
            f"Colonnes lues : {', '.join(columns) or 'aucune reconnue'}"
            f"{' ; ignorées : ' + ', '.join(ignored) if ignored else ''}. "
            "Renommez les en-têtes ou partez du modèle « observatoire dispositifs modele »."
        )
    default_source = source or f"{path.name} (importé le {dt.date.today():%d/%m/%Y})"
    frame = _dispositif_records(rows, where, report, type, default_source)
    return frame, report


def _dispositif_records(rows: list[dict], where: str, report: RegistryReport,
                        type: str | None, default_source: str) -> pd.DataFrame:
    """Valide des lignes de dispositifs (champ → texte, ``_ligne``, ``_colonnes``).

    Même contrôle pour un tableur importé et pour le tableau modifié dans l'application.

    Raises
    ------
    RegistreInvalideError
        Toutes les lignes invalides, avec leur ligne et leur colonne.
    """
    types = load_types()
    forced = resolve_type(type, types) if type else None
    index = _CommuneIndex()
    errors: list[str] = []
    out = []
    for row in rows:
        line, cols = row["_ligne"], row["_colonnes"]

        def err(fieldname, message, line=line, cols=cols):
            column = cols.get(fieldname, fieldname)
            errors.append(f"ligne {line}, colonne « {column} » : {message}")

        record = {c: None for c in DISPOSITIF_COLUMNS}
        if forced:
            record["type"] = forced
        else:
            try:
                record["type"] = resolve_type(row.get("type", ""), types)
            except ObservatoireError:
                err("type", f"type « {row.get('type', '')} » absent du catalogue "
                            f"({TYPES_PATH.name})")
        record["nom"] = row.get("nom") or None
        if not record["nom"]:
            err("nom", "nom du dispositif vide")
        code, why = index.match(row.get("code_insee", ""), row.get("commune", ""),
                                row.get("code_postal", ""))
        if code is None:
            err("code_insee" if row.get("code_insee") else "commune", why)
        else:
            record["code_insee"] = code
            record["commune"] = index.names.get(code, row.get("commune") or None)
            if row.get("code_insee") and code != re.sub(r"\s+", "", row["code_insee"]):
                report.avertissements.append(
                    f"ligne {line} : code {row['code_insee']} remplacé par celui de la commune "
                    f"actuelle {code} ({record['commune']})")
            if code not in index.territoire:
                report.avertissements.append(
                    f"ligne {line} : {record['nom']} est hors du territoire servi "
                    f"({record['commune']}, {code})")
        record["adresse"] = _join([row.get("adresse"), row.get("complement_adresse")], ", ")
        try:
            lat, lon = _parse_float(row.get("latitude", "")), _parse_float(row.get("longitude", ""))
        except ValueError:
            err("latitude", f"coordonnées illisibles ({row.get('latitude')!r}, "
                            f"{row.get('longitude')!r}) : nombres décimaux attendus")
            lat = lon = None
        if (lat is None) != (lon is None):
            err("latitude" if lat is None else "longitude",
                "latitude et longitude vont ensemble : remplissez les deux ou aucune")
            lat = lon = None
        elif lat is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180):
            err("latitude", f"coordonnées hors limites ({lat}, {lon}) : degrés décimaux WGS84 "
                            "attendus (latitude entre -90 et 90)")
            lat = lon = None
        record["latitude"], record["longitude"] = lat, lon
        if lat is not None:
            record["localisation"] = "adresse"
        else:
            hint = _norm(row.get("localisation", ""))
            record["localisation"] = "territoire" if hint == "territoire" else "commune"
        try:
            capacity, unit = _parse_capacity(row.get("capacite", ""))
            record["capacite"] = capacity
            record["unite_capacite"] = row.get("unite_capacite") or unit or None
        except ValueError:
            err("capacite", f"capacité « {row.get('capacite')} » illisible : nombre entier "
                            "attendu (ex. 12), l'unité dans sa colonne")
        hours = [f"{day} {row[f'h_{day}']}" for day in DAYS if row.get(f"h_{day}")]
        record["horaires"] = _join([row.get("horaires"), _join(hours)])
        if _norm(row.get("prise_rdv", "")) in {"oui", "o", "yes", "1"}:
            record["horaires"] = _join([record["horaires"], "sur rendez-vous"])
        record["contact"] = _join([row.get("contact"), row.get("mail"), row.get("telephone")])
        record["source"] = row.get("source") or default_source
        record["remarque"] = row.get("remarque") or None
        out.append(record)
    if errors:
        raise RegistreInvalideError(_errors_message(where, errors))
    frame = pd.DataFrame(out, columns=DISPOSITIF_COLUMNS)
    frame["capacite"] = frame["capacite"].astype("Int64")
    frame["latitude"] = frame["latitude"].astype(float)
    frame["longitude"] = frame["longitude"].astype(float)
    return frame


def _errors_message(where: str, errors: list[str]) -> str:
    shown = errors[:_MAX_LISTED]
    more = f"\n… et {len(errors) - len(shown)} autre(s)." if len(errors) > len(shown) else ""
    return (f"{where} : {len(errors)} problème(s), rien n'a été importé. Corrigez le fichier "
            "puis relancez l'import.\n" + "\n".join(f"- {e}" for e in shown) + more)


def commune_layer_or_none():
    """Contours des communes (Lambert-93) s'il y en a pour le territoire, sinon None.

    Returns
    -------
    geopandas.GeoDataFrame or None
        :func:`observatoire.referentiel.load_layer` ``("commune")`` : les contours
        importés ou, à défaut, les contours simplifiés livrés avec l'application ; None
        si le département configuré n'a ni l'un ni l'autre.
    """
    from observatoire import referentiel

    if referentiel.origine() is None:
        return None
    try:
        return referentiel.load_layer("commune")
    except ReferentielAbsentError:
        return None


def check_points_in_communes(frame: pd.DataFrame, communes_layer) -> pd.DataFrame:
    """Dispositifs dont les coordonnées tombent hors du contour de leur commune.

    Parameters
    ----------
    frame : pandas.DataFrame
        Colonnes ``code_insee``, ``latitude``, ``longitude`` (WGS84) et ``nom`` ; les lignes
        sans coordonnées sont ignorées.
    communes_layer : geopandas.GeoDataFrame
        Contours des communes avec une colonne ``code`` (ou ``code_insee``), dans n'importe
        quel système de coordonnées déclaré.

    Returns
    -------
    pandas.DataFrame
        Une ligne par point mal placé : ``nom``, ``code_insee``, ``latitude``,
        ``longitude``, ``distance_m`` (distance au contour de sa commune, NaN si la commune
        n'a pas de contour) ; vide si tout est en place.
    """
    import geopandas as gpd

    layer = communes_layer.rename(columns={"code_insee": "code"})
    layer = layer.to_crs(2154)
    geoms = dict(zip(layer["code"].astype(str), layer.geometry, strict=True))
    located = frame[frame["latitude"].notna() & frame["longitude"].notna()]
    points = gpd.GeoSeries(gpd.points_from_xy(located["longitude"].astype(float),
                                              located["latitude"].astype(float)),
                           crs=4326, index=located.index).to_crs(2154)
    bad = []
    for idx, point in points.items():
        row = located.loc[idx]
        polygon = geoms.get(str(row["code_insee"]))
        if polygon is None:
            distance = float("nan")
        elif polygon.covers(point):
            continue
        else:
            distance = float(polygon.distance(point))
        bad.append({"nom": row.get("nom"), "code_insee": row["code_insee"],
                    "latitude": row["latitude"], "longitude": row["longitude"],
                    "distance_m": distance})
    return pd.DataFrame(bad, columns=["nom", "code_insee", "latitude", "longitude",
                                      "distance_m"])


def _key(type_, nom, code) -> tuple[str, str, str]:
    return (str(type_), _norm(nom), str(code))


def write_dispositifs(conn: Connection, frame: pd.DataFrame, *, demo: bool,
                      replace_types: list[str] | None = None) -> tuple[int, int, int]:
    """Écrit des dispositifs dans la transaction ``conn``.

    Parameters
    ----------
    conn : Connection
        Connexion dans une transaction ouverte (tout ou rien).
    frame : pandas.DataFrame
        Colonnes :data:`DISPOSITIF_COLUMNS`.
    demo : bool
        Lignes fictives de démonstration ; refusé si la base est de l'autre nature.
    replace_types : list of str, optional
        Types dont les dispositifs existants sont retirés avant l'écriture.

    Returns
    -------
    tuple of int
        (écrits, doublons laissés tels quels, retirés).
    """
    ensure_mode(conn, demo)
    table = storage.dispositifs
    removed = 0
    if replace_types:
        removed = conn.execute(sa.delete(table).where(table.c.type.in_(replace_types))).rowcount
    existing = {_key(r.type, r.nom, r.code_insee)
                for r in conn.execute(sa.select(table.c.type, table.c.nom, table.c.code_insee))}
    records = []
    duplicates = 0
    for record in _records(frame):
        key = _key(record["type"], record["nom"], record["code_insee"])
        if key in existing:
            duplicates += 1
            continue
        existing.add(key)
        record["demo"] = demo
        records.append(record)
    if records:
        conn.execute(sa.insert(table), records)
    return len(records), duplicates, removed


def _journal(conn: Connection, utilisateur: str, action: str, detail: str) -> None:
    conn.execute(sa.insert(storage.journal).values(
        quand=dt.datetime.now().replace(microsecond=0), qui=utilisateur, action=action,
        detail=detail))


def import_dispositifs(path: str | Path, type: str | None = None, source: str | None = None,
                       replace: bool = False, utilisateur: str = "cli",
                       engine: Engine | None = None, demo: bool = False) -> RegistryReport:
    """Importe un tableur de dispositifs dans le registre, en une transaction.

    Parameters
    ----------
    path : path-like
        Fichier .csv ou .xlsx (voir :func:`read_dispositifs`).
    type : str, optional
        Type imposé à toutes les lignes.
    source : str, optional
        Source des lignes qui n'en donnent pas.
    replace : bool, default False
        Retire d'abord les dispositifs existants des types présents dans le fichier
        (mise à jour d'une liste, par exemple celle des France Services). Sinon, une ligne
        déjà au registre (même type, nom et commune) est laissée telle quelle.
    utilisateur : str
        Qui importe (journal).
    engine : Engine, optional
    demo : bool, default False
        Réservé au jeu de démonstration.

    Returns
    -------
    RegistryReport
        Avec les points hors de leur commune en avertissements quand les contours sont
        importés, et les dispositifs sans coordonnées placés au point représentatif de leur
        commune.
    """
    engine = engine or storage.get_engine()
    frame, report = read_dispositifs(path, type=type, source=source)
    layer = commune_layer_or_none()
    if layer is not None:
        for bad in check_points_in_communes(frame, layer).itertuples(index=False):
            where = (f"à {bad.distance_m:.0f} m de son contour" if bad.distance_m == bad.distance_m
                     else "commune sans contour")
            report.avertissements.append(
                f"{bad.nom} : le point ({bad.latitude}, {bad.longitude}) n'est pas dans sa "
                f"commune {bad.code_insee} ({where}) ; vérifiez les coordonnées")
    with storage.transaction(engine) as conn:
        written, dup, removed = write_dispositifs(
            conn, frame, demo=demo,
            replace_types=sorted(frame["type"].unique()) if replace else None)
        _journal(conn, utilisateur, "import_dispositifs",
                 f"{Path(path).name} : {written} dispositif(s)")
    report.importes, report.doublons, report.supprimes = written, dup, removed
    report.par_type = {k: int(v) for k, v in frame["type"].value_counts().items()}
    if layer is not None:
        place_at_communes(engine, layer)
    return report


def save_edited_dispositifs(original: pd.DataFrame, edited: pd.DataFrame,
                            utilisateur: str, *, demo: bool = False,
                            engine: Engine | None = None) -> RegistryReport:
    """Enregistre le registre modifié dans l'application (tableau éditable), en une transaction.

    Chaque ligne passe par le même contrôle qu'un tableur importé (type du catalogue,
    commune, coordonnées, capacité) ; une seule erreur et rien n'est écrit. Chaque
    dispositif **garde son identifiant** : une ligne modifiée est mise à jour sur place,
    une ligne ajoutée (sans ``id``) est créée, une ligne retirée du tableau est supprimée ;
    les autres ne bougent pas.

    Un dispositif placé à sa commune (``localisation`` « commune » ou « territoire ») dont
    on n'a pas touché aux coordonnées y reste placé : ses coordonnées ne deviennent pas
    une adresse ; si on les a modifiées, c'est désormais une adresse.

    Parameters
    ----------
    original : pandas.DataFrame
        Le registre tel qu'affiché (:func:`list_dispositifs`, avec ``id``).
    edited : pandas.DataFrame
        Le même tableau après modification (``id`` non modifiable ; vide pour une ligne
        ajoutée).
    utilisateur : str
        Qui enregistre (journal).
    demo : bool, default False
        Base de démonstration.
    engine : Engine, optional

    Returns
    -------
    RegistryReport
        ``importes`` : lignes créées ou modifiées ; ``supprimes`` : lignes retirées.

    Raises
    ------
    RegistreInvalideError
        Lignes invalides : le message les liste toutes, avec le nom du dispositif.
    """
    engine = engine or storage.get_engine()
    before = original.set_index("id") if "id" in original.columns else None
    rows, kept_points, ids = [], {}, []
    for k, rec in enumerate(edited.to_dict("records"), start=1):
        row = {c: _cell_text(rec.get(c)) for c in DISPOSITIF_COLUMNS}
        rid = rec.get("id")
        rid = int(rid) if rid is not None and not pd.isna(rid) else None
        old = before.loc[rid] if before is not None and rid in before.index else None
        ids.append(rid if old is not None else None)
        placed = row["localisation"] in ("commune", "territoire")
        if placed and old is not None and _same_point(old, rec):
            # Point de sa commune, pas une adresse : gardé tel quel, localisation comprise.
            kept_points[k - 1] = (old["latitude"], old["longitude"], row["localisation"])
            row["latitude"] = row["longitude"] = ""
        row["_ligne"] = f"{k} « {row['nom'] or 'sans nom'} »"
        row["_colonnes"] = {c: c for c in DISPOSITIF_COLUMNS}
        rows.append(row)
    report = RegistryReport(fichier="tableau modifié dans l'application",
                            registre="dispositifs", lignes_lues=len(rows),
                            colonnes={c: c for c in DISPOSITIF_COLUMNS})
    frame = _dispositif_records(rows, "Tableau des dispositifs modifié", report, None,
                                f"modifié dans l'application le {dt.date.today():%d/%m/%Y}")
    for k, (lat, lon, where) in kept_points.items():
        frame.loc[k, ["latitude", "longitude", "localisation"]] = [lat, lon, where]
    table = storage.dispositifs
    records = _records(frame)
    originaux = {int(i) for i in original["id"].tolist()} if "id" in original.columns else set()
    gardes = {i for i in ids if i is not None}
    modifies = 0
    with storage.transaction(engine) as conn:
        ensure_mode(conn, demo)
        retires = sorted(originaux - gardes)
        removed = (conn.execute(sa.delete(table).where(table.c.id.in_(retires))).rowcount
                   if retires else 0)
        anciens = {r.id: r._asdict() for r in conn.execute(
            sa.select(table).where(table.c.id.in_(sorted(gardes))))} if gardes else {}
        nouveaux = []
        for rid, record in zip(ids, records, strict=True):
            if rid is None:
                nouveaux.append(record)
                continue
            if any(anciens.get(rid, {}).get(c) != record[c] for c in DISPOSITIF_COLUMNS):
                conn.execute(sa.update(table).where(table.c.id == rid).values(**record))
                modifies += 1
        crees, dup, _ = write_dispositifs(conn, pd.DataFrame(nouveaux, columns=DISPOSITIF_COLUMNS),
                                          demo=demo) if nouveaux else (0, 0, 0)
        _journal(conn, utilisateur, "modification_dispositifs",
                 f"{modifies} dispositif(s) modifié(s), {crees} ajouté(s), {removed} retiré(s)")
    report.importes, report.doublons, report.supprimes = modifies + crees, dup, removed
    report.par_type = {k: int(v) for k, v in frame["type"].value_counts().items()}
    layer = commune_layer_or_none()
    if layer is not None:
        place_at_communes(engine, layer)
    return report


def _records(frame: pd.DataFrame) -> list[dict]:
    """Lignes de dispositifs validées, en types Python (pour SQLAlchemy)."""
    clean = frame[DISPOSITIF_COLUMNS].astype(object).where(frame[DISPOSITIF_COLUMNS].notna(),
                                                           None)
    out = []
    for record in clean.to_dict("records"):
        if record["capacite"] is not None:
            record["capacite"] = int(record["capacite"])
        for col in ("latitude", "longitude"):
            if record[col] is not None:
                record[col] = float(record[col])
        out.append(record)
    return out


def _same_point(old, new: dict) -> bool:
    def num(v):
        return None if v is None or v != v else round(float(v), 7)

    try:
        return (num(old["latitude"]), num(old["longitude"])) == \
            (num(new.get("latitude")), num(new.get("longitude")))
    except (TypeError, ValueError):
        return False


def load_initial_registry(engine: Engine | None = None, demo: bool = False,
                          replace: bool = False, utilisateur: str = "cli") -> RegistryReport:
    """Charge le registre initial (dispositifs nommés par le plan cadre 2024-2026).

    Parameters
    ----------
    engine : Engine, optional
    demo : bool, default False
        Lignes marquées fictives (jeu de démonstration).
    replace : bool, default False
        Retire d'abord les dispositifs des mêmes types.
    utilisateur : str

    Returns
    -------
    RegistryReport
    """
    return import_dispositifs(INITIAL_REGISTRY_PATH, replace=replace, utilisateur=utilisateur,
                              engine=engine, demo=demo)


def list_dispositifs(engine: Engine | None = None, types=None) -> pd.DataFrame:
    """Registre des dispositifs.

    Parameters
    ----------
    engine : Engine, optional
    types : iterable of str, optional
        Codes de types à garder.

    Returns
    -------
    pandas.DataFrame
        Colonnes ``id``, :data:`DISPOSITIF_COLUMNS`, ``demo``, triées par type puis nom.
    """
    engine = engine or storage.get_engine()
    table = storage.dispositifs
    q = sa.select(table).order_by(table.c.type, table.c.nom, table.c.id)
    if types:
        q = q.where(table.c.type.in_(list(types)))
    with engine.connect() as conn:
        df = pd.DataFrame(conn.execute(q).mappings().all(),
                          columns=["id", *DISPOSITIF_COLUMNS, "demo"])
    df["capacite"] = df["capacite"].astype("Int64")
    for col in ("latitude", "longitude"):
        df[col] = df[col].astype(float)
    return df


def place_at_communes(engine: Engine | None = None, communes_layer=None) -> int:
    """Donne aux dispositifs sans coordonnées le point représentatif de leur commune.

    Le point représentatif (``representative_point``) est toujours dans le contour, même
    pour une commune en croissant, contrairement au centroïde. La localisation reste
    ``"commune"`` (ou ``"territoire"``) : la carte sait que ce point n'est pas une adresse.

    Parameters
    ----------
    engine : Engine, optional
    communes_layer : geopandas.GeoDataFrame, optional
        Contours (colonne ``code``) ; par défaut ceux du référentiel importé.

    Returns
    -------
    int
        Nombre de dispositifs placés.

    Raises
    ------
    ReferentielAbsentError
        Si les contours ne sont ni fournis ni importés.
    """
    engine = engine or storage.get_engine()
    layer = communes_layer if communes_layer is not None else commune_layer_or_none()
    if layer is None:
        raise ReferentielAbsentError()
    layer = layer.rename(columns={"code_insee": "code"})
    points = layer.set_index(layer["code"].astype(str)).geometry.representative_point()
    points = points.set_crs(layer.crs, allow_override=True).to_crs(4326)
    table = storage.dispositifs
    n = 0
    with storage.transaction(engine) as conn:
        rows = conn.execute(sa.select(table.c.id, table.c.code_insee).where(
            table.c.localisation != "adresse")).all()
        for row in rows:
            point = points.get(row.code_insee)
            if point is None:
                continue
            conn.execute(sa.update(table).where(table.c.id == row.id).values(
                latitude=round(point.y, 6), longitude=round(point.x, 6)))
            n += 1
    return n


def dispositifs_points(engine: Engine | None = None, types=None, communes_layer=None):
    """Dispositifs en points (Lambert-93), prêts pour les cartes et les distances.

    Parameters
    ----------
    engine : Engine, optional
    types : iterable of str, optional
    communes_layer : geopandas.GeoDataFrame, optional
        Contours utilisés pour les dispositifs sans coordonnées ; par défaut le
        référentiel importé.

    Returns
    -------
    geopandas.GeoDataFrame
        Colonnes de :func:`list_dispositifs` et ``geometry`` (EPSG:2154). Un dispositif
        sans coordonnées est au point représentatif de sa commune ; il est omis si sa
        commune n'a pas de contour.

    Raises
    ------
    ReferentielAbsentError
        S'il faut placer des dispositifs à leur commune et que les contours manquent.
    """
    import geopandas as gpd

    df = list_dispositifs(engine, types)
    located = df["latitude"].notna() & df["longitude"].notna()
    geometry = gpd.GeoSeries(gpd.points_from_xy(df["longitude"], df["latitude"]), crs=4326,
                             index=df.index).to_crs(2154)
    if (~located).any():
        layer = communes_layer if communes_layer is not None else commune_layer_or_none()
        if layer is None:
            raise ReferentielAbsentError()
        layer = layer.rename(columns={"code_insee": "code"}).to_crs(2154)
        rep = layer.set_index(layer["code"].astype(str)).geometry.representative_point()
        for idx in df.index[~located]:
            geometry[idx] = rep.get(df.at[idx, "code_insee"])
    out = gpd.GeoDataFrame(df, geometry=geometry, crs=2154)
    return out[out.geometry.notna()].reset_index(drop=True)


def write_dispositifs_template(path: str | Path) -> Path:
    """Écrit le modèle Excel du registre des dispositifs.

    Parameters
    ----------
    path : path-like
        Fichier .xlsx à créer.

    Returns
    -------
    pathlib.Path
    """
    types = load_types()
    headers = ["type", "nom", "adresse", "code_insee", "commune", "latitude", "longitude",
               "capacite", "unite_capacite", "horaires", "contact", "source", "remarque"]
    notes = {
        "type": "code du catalogue (liste déroulante, feuille « Types »)",
        "nom": "nom du dispositif (obligatoire)",
        "adresse": "numéro, voie",
        "code_insee": "code INSEE de la commune, 5 chiffres (ou la commune seule)",
        "commune": "nom de la commune",
        "latitude": "degrés décimaux WGS84 (facultatif), ex. 50.5298",
        "longitude": "degrés décimaux WGS84 (facultatif), ex. 2.6412",
        "capacite": "nombre entier (places, postes…), facultatif",
        "unite_capacite": "places, postes, lits…",
        "horaires": "horaires d'ouverture, texte libre",
        "contact": "contact institutionnel (jamais de personne nommée)",
        "source": "d'où vient l'information (document, site, date)",
        "remarque": "texte libre",
    }
    instructions = [
        "Registre des dispositifs d'aide — modèle de l'observatoire territorial des VIF",
        "",
        "Une ligne par dispositif, dans la feuille « Dispositifs ». Ne renommez pas les en-têtes.",
        "Obligatoires : type, nom, et code_insee (ou commune).",
        "Sans latitude ni longitude, le dispositif est placé dans sa commune (et marqué ainsi).",
        "Avec des coordonnées, le point doit tomber dans sa commune : l'import le vérifie.",
        "Contact : coordonnées institutionnelles uniquement, jamais d'une personne.",
        "Import : observatoire dispositifs importer FICHIER",
        "",
        *[f"{h} : {notes[h]}" for h in headers],
    ]
    return _write_template(Path(path), "Dispositifs", headers, instructions,
                           type_codes=list(types["code"]), types=types)


# --------------------------------------------------------------------------- référents


def _parse_date(text: str) -> dt.date | None:
    text = text.strip()
    if not text:
        return None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}(?:[ T].*)?", text):
        return dt.date.fromisoformat(text[:10])
    if re.fullmatch(r"\d{1,2}/\d{1,2}/\d{2,4}", text):
        return pd.to_datetime(text, dayfirst=True).date()
    if re.fullmatch(r"\d{5}(?:\.0)?", text):
        # Date Excel restée en numéro de série (cellule au format Standard).
        return (dt.date(1899, 12, 30) + dt.timedelta(days=int(float(text))))
    raise ValueError(text)


def read_referents(path: str | Path) -> tuple[pd.DataFrame, RegistryReport]:
    """Lit un tableur de référents VIF, sans rien écrire.

    Parameters
    ----------
    path : path-like
        Fichier .csv ou .xlsx ; colonnes reconnues par synonymes (``code_insee`` ou
        ``commune``, ``date_designation``, ``forme`` oui/non, ``date_formation``,
        ``nom_referent``, ``contact_referent``, ``source``).

    Returns
    -------
    frame : pandas.DataFrame
        Colonnes :data:`REFERENT_COLUMNS`, une ligne par commune.
    report : RegistryReport

    Raises
    ------
    RegistreInvalideError
        Colonne commune absente ou lignes invalides (toutes listées avec ligne et colonne).
    """
    path = Path(path)
    sheet, rows, columns, ignored = _table(path, REFERENT_SYNONYMS, ["code_insee", "forme"],
                                           "referents")
    report = RegistryReport(fichier=path.name, registre="référents", lignes_lues=len(rows),
                            colonnes=columns, colonnes_ignorees=ignored)
    where = f"Fichier {path.name}, feuille « {sheet} »"
    if not set(columns.values()) & {"code_insee", "commune"}:
        raise RegistreInvalideError(
            f"{where} : colonne de commune absente (code_insee ou commune). Colonnes lues : "
            f"{', '.join(columns) or 'aucune reconnue'}. Partez du modèle « observatoire "
            "referents modele »."
        )
    default_source = f"{path.name} (importé le {dt.date.today():%d/%m/%Y})"
    return _referent_records(rows, where, report, default_source), report


def _referent_records(rows: list[dict], where: str, report: RegistryReport,
                      default_source: str) -> pd.DataFrame:
    """Valide des lignes de référents (champ → texte, ``_ligne``, ``_colonnes``).

    Même contrôle pour un tableur importé et pour le tableau modifié dans l'application :
    commune reconnue (code ou nom), dates lisibles, « formé » oui ou non.

    Raises
    ------
    RegistreInvalideError
        Toutes les lignes invalides, avec leur ligne et leur colonne.
    """
    index = _CommuneIndex()
    errors: list[str] = []
    out: dict[str, dict] = {}
    for row in rows:
        line, cols = row["_ligne"], row["_colonnes"]

        def err(fieldname, message, line=line, cols=cols):
            errors.append(f"ligne {line}, colonne « {cols.get(fieldname, fieldname)} » : "
                          f"{message}")

        code, why = index.match(row.get("code_insee", ""), row.get("commune", ""),
                                row.get("code_postal", ""))
        if code is None:
            err("code_insee" if row.get("code_insee") else "commune", why)
            continue
        record = {"code_insee": code, "source": row.get("source") or default_source}
        for fieldname in ("date_designation", "date_formation"):
            try:
                record[fieldname] = _parse_date(row.get(fieldname, ""))
            except ValueError:
                err(fieldname, f"date « {row.get(fieldname)} » illisible : JJ/MM/AAAA attendu")
                record[fieldname] = None
        trained = _norm(row.get("forme", "")).replace("_", " ")
        if trained in TRUE_WORDS:
            record["forme"] = True
        elif trained in FALSE_WORDS:
            record["forme"] = record["date_formation"] is not None
        else:
            err("forme", f"« {row.get('forme')} » : oui ou non attendu")
            record["forme"] = False
        if record["date_formation"] is not None and not record["forme"]:
            record["forme"] = True
        record["nom_referent"] = row.get("nom_referent") or None
        record["contact_referent"] = row.get("contact_referent") or None
        if code in out:
            report.avertissements.append(
                f"ligne {line} : {index.names.get(code)} ({code}) apparaît deux fois ; la "
                "dernière ligne est retenue")
        if code not in index.territoire:
            report.avertissements.append(
                f"ligne {line} : {index.names.get(code)} ({code}) est hors du territoire servi")
        out[code] = record
    if errors:
        raise RegistreInvalideError(_errors_message(where, errors))
    return pd.DataFrame(list(out.values()), columns=REFERENT_COLUMNS)


def write_referents(conn: Connection, frame: pd.DataFrame, *, demo: bool,
                    replace: bool = False) -> tuple[int, int]:
    """Écrit des référents (une ligne par commune, la nouvelle remplace l'ancienne).

    Parameters
    ----------
    conn : Connection
        Connexion dans une transaction ouverte.
    frame : pandas.DataFrame
        Colonnes :data:`REFERENT_COLUMNS`.
    demo : bool
        Lignes fictives de démonstration ; refusé si la base est de l'autre nature.
    replace : bool, default False
        Vide d'abord le registre.

    Returns
    -------
    tuple of int
        (écrits, retirés par ``replace``).
    """
    ensure_mode(conn, demo)
    table = storage.referents
    removed = conn.execute(sa.delete(table)).rowcount if replace else 0
    clean = frame[REFERENT_COLUMNS].astype(object).where(frame[REFERENT_COLUMNS].notna(), None)
    records = clean.to_dict("records")
    for record in records:
        record["demo"] = demo
        record["forme"] = bool(record["forme"])
    if records:
        conn.execute(sa.delete(table).where(table.c.code_insee.in_(
            [r["code_insee"] for r in records])))
        conn.execute(sa.insert(table), records)
    return len(records), removed


def import_referents(path: str | Path, replace: bool = False, utilisateur: str = "cli",
                     engine: Engine | None = None) -> RegistryReport:
    """Importe un tableur de référents VIF, en une transaction.

    Parameters
    ----------
    path : path-like
    replace : bool, default False
        Vide le registre avant l'import (sinon, chaque commune du fichier remplace sa
        ligne et les autres communes restent).
    utilisateur : str
    engine : Engine, optional

    Returns
    -------
    RegistryReport
    """
    engine = engine or storage.get_engine()
    frame, report = read_referents(path)
    with storage.transaction(engine) as conn:
        written, removed = write_referents(conn, frame, demo=False, replace=replace)
        _journal(conn, utilisateur, "import_referents",
                 f"{Path(path).name} : {written} commune(s)")
    report.importes, report.supprimes = written, removed
    return report


def save_edited_referents(edited: pd.DataFrame, utilisateur: str, *, demo: bool = False,
                          engine: Engine | None = None) -> RegistryReport:
    """Enregistre le registre des référents modifié dans l'application, en une transaction.

    Chaque ligne passe par le même contrôle que l'import d'un tableur
    (:func:`read_referents` : commune reconnue par son code ou son nom, dates lisibles,
    formé oui ou non) ; une seule erreur et rien n'est écrit. Le tableau remplace le
    registre : une commune retirée du tableau n'a plus de référent, chaque autre commune
    garde sa ligne (la commune est l'identifiant du registre).

    Parameters
    ----------
    edited : pandas.DataFrame
        Colonnes de :func:`list_referents` (``exact=True``) : ``code_insee`` (ou
        ``commune``), ``date_designation``, ``forme``, ``date_formation``,
        ``nom_referent``, ``contact_referent``, ``source``.
    utilisateur : str
    demo : bool, default False
    engine : Engine, optional

    Returns
    -------
    RegistryReport

    Raises
    ------
    RegistreInvalideError
        Lignes invalides, toutes listées avec leur commune.
    """
    engine = engine or storage.get_engine()
    champs = ["code_insee", "commune", "date_designation", "forme", "date_formation",
              "nom_referent", "contact_referent", "source"]
    rows = []
    for k, rec in enumerate(edited.to_dict("records"), start=1):
        row = {c: _cell_text(rec.get(c)) for c in champs}
        forme = rec.get("forme")
        if isinstance(forme, bool | np.bool_):
            row["forme"] = "oui" if forme else "non"
        if not any(row[c] for c in champs):
            continue  # ligne ajoutée puis laissée vide
        row["_ligne"] = f"{k} « {row['commune'] or row['code_insee'] or 'sans commune'} »"
        row["_colonnes"] = {c: c for c in champs}
        rows.append(row)
    report = RegistryReport(fichier="tableau modifié dans l'application", registre="référents",
                            lignes_lues=len(rows), colonnes={c: c for c in champs})
    frame = _referent_records(rows, "Tableau des référents modifié", report,
                              f"modifié dans l'application le {dt.date.today():%d/%m/%Y}")
    with storage.transaction(engine) as conn:
        written, removed = write_referents(conn, frame, demo=demo, replace=True)
        _journal(conn, utilisateur, "modification_referents",
                 f"{written} commune(s) avec référent")
    report.importes, report.supprimes = written, max(removed - written, 0)
    return report


def list_referents(engine: Engine | None = None, exact: bool = False) -> pd.DataFrame:
    """Registre des référents.

    Parameters
    ----------
    engine : Engine, optional
    exact : bool, default False
        Ajoute le nom et le contact du référent : usage interne des agents seulement.

    Returns
    -------
    pandas.DataFrame
        Colonnes :data:`PUBLIC_REFERENT_COLUMNS` plus ``arrondissement``, ``source`` et
        ``demo`` ; avec ``exact``, ``nom_referent`` et ``contact_referent``.
    """
    engine = engine or storage.get_engine()
    table = storage.referents
    with engine.connect() as conn:
        df = pd.DataFrame(conn.execute(sa.select(table).order_by(table.c.code_insee))
                          .mappings().all(), columns=[*REFERENT_COLUMNS, "demo"])
    info = communes.load_communes(None)[["code_insee", "nom", "arrondissement"]]
    df = df.merge(info.rename(columns={"nom": "commune"}), on="code_insee", how="left")
    df["forme"] = df["forme"].astype(bool)
    cols = [*PUBLIC_REFERENT_COLUMNS, "arrondissement", "source", "demo"]
    if exact:
        cols += ["nom_referent", "contact_referent"]
    return df[cols]


def public_referents(engine: Engine | None = None) -> pd.DataFrame:
    """Vue publiable du registre des référents : jamais le nom ni le contact.

    Parameters
    ----------
    engine : Engine, optional

    Returns
    -------
    pandas.DataFrame
        Colonnes :data:`PUBLIC_REFERENT_COLUMNS` exactement (``code_insee``, ``commune``,
        ``date_designation``, ``forme``, ``date_formation``).
    """
    return list_referents(engine, exact=False)[PUBLIC_REFERENT_COLUMNS].copy()


def write_referents_template(path: str | Path) -> Path:
    """Écrit le modèle Excel du registre des référents VIF.

    Parameters
    ----------
    path : path-like
        Fichier .xlsx à créer.

    Returns
    -------
    pathlib.Path
    """
    headers = ["code_insee", "commune", "date_designation", "forme", "date_formation",
               "nom_referent", "contact_referent", "source"]
    instructions = [
        "Registre des référents VIF des communes — modèle de l'observatoire territorial des VIF",
        "",
        "Une ligne par commune ayant désigné un référent, dans la feuille « Referents ».",
        "code_insee : 5 chiffres (ou la commune seule) ; date_designation et date_formation : "
        "JJ/MM/AAAA ; forme : oui ou non.",
        "nom_referent et contact_referent sont réservés aux agents de la préfecture : ils ne "
        "figurent dans aucune carte, aucun tableau ni aucune publication.",
        "Import : observatoire referents importer FICHIER",
    ]
    return _write_template(Path(path), "Referents", headers, instructions, yes_no_col="forme")


def _write_template(path: Path, sheet: str, headers: list[str], instructions: list[str],
                    type_codes: list[str] | None = None, types: pd.DataFrame | None = None,
                    yes_no_col: str | None = None) -> Path:
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = Workbook()
    info = wb.active
    info.title = "Instructions"
    for i, line in enumerate(instructions, start=1):
        info.cell(row=i, column=1, value=line)
    info["A1"].font = Font(bold=True, size=13)
    info.column_dimensions["A"].width = 110
    ws = wb.create_sheet(sheet)
    for j, header in enumerate(headers, start=1):
        cell = ws.cell(row=1, column=j, value=header)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        ws.column_dimensions[get_column_letter(j)].width = max(14, len(header) + 4)
    ws.freeze_panes = "A2"
    col = {h: get_column_letter(j) for j, h in enumerate(headers, start=1)}
    if type_codes:
        ref = wb.create_sheet("Types")
        ref.append(["code", "libelle", "description"])
        for row in types.itertuples(index=False):
            ref.append([row.code, row.libelle, row.description])
        dv = DataValidation(type="list", formula1=f"=Types!$A$2:$A${len(type_codes) + 1}",
                            allow_blank=False, showErrorMessage=True,
                            errorTitle="Type inconnu",
                            error="Choisissez un code de la feuille « Types ».")
        ws.add_data_validation(dv)
        dv.add(f"{col['type']}2:{col['type']}2000")
    for name, low, high in (("latitude", -90, 90), ("longitude", -180, 180)):
        if name in col:
            dv = DataValidation(type="decimal", operator="between", formula1=str(low),
                                formula2=str(high), allow_blank=True, showErrorMessage=True,
                                error=f"{name} : degrés décimaux entre {low} et {high}.")
            ws.add_data_validation(dv)
            dv.add(f"{col[name]}2:{col[name]}2000")
    if "capacite" in col:
        dv = DataValidation(type="whole", operator="greaterThanOrEqual", formula1="0",
                            allow_blank=True, showErrorMessage=True,
                            error="Capacité : nombre entier positif ou nul.")
        ws.add_data_validation(dv)
        dv.add(f"{col['capacite']}2:{col['capacite']}2000")
    if yes_no_col:
        dv = DataValidation(type="list", formula1='"oui,non"', allow_blank=True,
                            showErrorMessage=True, error="Répondez oui ou non.")
        ws.add_data_validation(dv)
        dv.add(f"{col[yes_no_col]}2:{col[yes_no_col]}2000")
    for name in ("code_insee",):
        if name in col:
            # Texte : un code comme 02001 garde son zéro initial.
            for r in range(2, 2001):
                ws[f"{col[name]}{r}"].number_format = "@"
    wb.active = 1
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path
