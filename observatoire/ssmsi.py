"""Base communale du SSMSI : délinquance enregistrée par la police et la gendarmerie.

Le service statistique ministériel de la sécurité intérieure publie chaque année sur
data.gouv.fr (Licence Ouverte 2.0) les « Bases statistiques communale, départementale et
régionale de la délinquance enregistrée par la police et la gendarmerie nationales ». Le
fichier communal couvre toute la France et toutes les années depuis 2016, dans la
géographie d'un seul millésime du COG (« géographie 2025 »). Deux mises en page :

- éditions jusqu'en 2024 : CSV « ; », virgule décimale, colonnes ``CODGEO_<géo>``,
  ``annee`` (2 chiffres), ``classe``, ``unité.de.compte``, ``valeur.publiée``
  (``diff``/``ndiff``), ``faits``, ``tauxpourmille``, ``complementinfoval``… ;
- éditions depuis 2025 : parquet ou CSV.gz « ; », colonnes ``CODGEO_<géo>``, ``annee``
  (4 chiffres), ``indicateur``, ``unite_de_compte``, ``nombre``, ``taux_pour_mille``,
  ``est_diffuse`` (``diff``/``ndiff``), ``complement_info_nombre``…

Seuls les indicateurs des violences intrafamiliales sont gardés (voir
:data:`INDICATORS`), seulement pour le département servi, filtré bloc par bloc pendant la
lecture (le fichier national compte plusieurs millions de lignes). Une ligne ``ndiff``
(non diffusée par le SSMSI) devient une valeur **masquée**, jamais 0 ni la moyenne
départementale des colonnes « complément ». Les codes d'une géographie ancienne sont
rattachés à la commune actuelle ; une commune actuelle alimentée par plusieurs anciens
codes reçoit leur somme, masquée si l'une des parts l'est.

:func:`read_ssmsi` lit sans rien écrire ; :func:`import_ssmsi` enregistre un lot par
année, toutes les années en une transaction (:func:`observatoire.batches.store_batches`).
"""

from __future__ import annotations

import codecs
import datetime as dt
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from observatoire import batches, catalogues, communes, matching
from observatoire.config import settings
from observatoire.errors import FichierRefuseError, ObservatoireError
from observatoire.ingest.report import Issue, issue_lines, refusal

#: Identifiant du SSMSI dans le registre des contributeurs.
CONTRIBUTEUR = "ssmsi"
#: Type du registre des contributeurs désignant une source publique, importée par
#: l'observatoire lui-même : personne n'envoie de tableau annuel, aucun modèle n'est
#: préparé, la campagne de collecte ne l'attend pas.
#: Indicateur du catalogue → libellés du SSMSI qui l'alimentent (toutes éditions).
INDICATORS: dict[str, tuple[str, ...]] = {
    "ssmsi_violences_intrafamiliales": ("Coups et blessures volontaires intrafamiliaux",
                                        "Violences physiques intrafamiliales"),
    "ssmsi_violences_sexuelles": ("Violences sexuelles",),
}
#: Mises en page : rôle → nom de colonne (normalisé par :func:`_column_key`).
LAYOUTS: dict[str, dict[str, str]] = {
    "jusqu_a_2024": {"annee": "annee", "libelle": "classe", "unite": "unite_de_compte",
                     "diffusion": "valeur_publiee", "nombre": "faits"},
    "depuis_2025": {"annee": "annee", "libelle": "indicateur", "unite": "unite_de_compte",
                    "diffusion": "est_diffuse", "nombre": "nombre"},
}
LAYOUT_NAMES = {"jusqu_a_2024": "éditions jusqu'en 2024 (classe, faits, valeur.publiée)",
                "depuis_2025": "éditions depuis 2025 (indicateur, nombre, est_diffuse)"}
FIRST_YEAR = 2016
MAX_LISTED = 50
_CODGEO = re.compile(r"^codgeo(?:_(\d{4}))?$")
_MISSING = {"", "NA", "NAN", "NULL", "NONE"}
_BLOCK = 1 << 24  # 16 Mo de CSV (ou 500 000 lignes de parquet) par bloc


@dataclass
class SsmsiReport:
    """Rapport de lecture ou d'import d'un fichier du SSMSI.

    Attributes
    ----------
    fichier : str
    format : str
        ``csv``, ``csv.gz`` ou ``parquet``.
    mise_en_page : str
        Clé de :data:`LAYOUTS`.
    geographie : int or None
        Millésime du COG de l'édition (suffixe de la colonne ``CODGEO_``).
    departement : str
        Département retenu.
    statut : str
        ``lu``, ``simulation``, ``enregistre``, ``inchange`` ou ``refuse``.
    lignes_lues : int
        Lignes de données du fichier (toute la France, tous indicateurs).
    lignes_retenues : int
        Lignes du département et des indicateurs VIF.
    annees : list of int
    valeurs_par_indicateur : dict
        Par code : ``valeurs``, ``total`` (non masquées), ``masquees``, ``libelles`` et
        ``unites`` lus dans le fichier.
    valeurs_masquees : int
        Valeurs non diffusées par le SSMSI (``ndiff``), stockées masquées.
    codes_fusionnes : list of dict
        Anciens codes rattachés à une commune actuelle (``code``, ``commune``).
    codes_inconnus : list of dict
        Codes que le COG ne connaît pas (``code``, ``lignes``) : valeurs gardées en non
        localisé.
    par_annee : dict
        Année → ``valeurs``, ``masquees``, ``statut``, ``lot_id``, ``remplace_lot_id``.
    erreurs, avertissements : list of Issue
    """

    fichier: str
    format: str = ""
    mise_en_page: str = ""
    geographie: int | None = None
    departement: str = ""
    statut: str = "lu"
    lignes_lues: int = 0
    lignes_retenues: int = 0
    annees: list[int] = field(default_factory=list)
    valeurs_par_indicateur: dict[str, dict] = field(default_factory=dict)
    valeurs_masquees: int = 0
    codes_fusionnes: list[dict] = field(default_factory=list)
    codes_inconnus: list[dict] = field(default_factory=list)
    par_annee: dict[int, dict] = field(default_factory=dict)
    erreurs: list[Issue] = field(default_factory=list)
    avertissements: list[Issue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Vrai quand aucune erreur n'empêche l'enregistrement."""
        return not self.erreurs

    def add(self, niveau: str, code: str, message: str, ligne=None, colonne=None) -> None:
        """Ajoute une erreur ou un avertissement."""
        issue = Issue(niveau, code, message, None, None if ligne is None else int(ligne),
                      colonne)
        (self.erreurs if niveau == "erreur" else self.avertissements).append(issue)

    def to_dict(self) -> dict:
        """Rapport sérialisable en JSON."""
        out = asdict(self)
        out["par_annee"] = {str(k): v for k, v in self.par_annee.items()}
        out["ok"] = self.ok
        return out

    def to_text(self, max_items: int = MAX_LISTED) -> str:
        """Rapport lisible en français, pour la ligne de commande."""
        statut = {"lu": "lu (rien n'est enregistré)",
                  "simulation": "simulation : lu en entier, rien n'est enregistré",
                  "enregistre": "chargé",
                  "inchange": "fichier identique aux lots courants : rien n'a changé",
                  "refuse": "REFUSÉ : rien n'est enregistré"}.get(self.statut, self.statut)
        geo = f", géographie {self.geographie}" if self.geographie else ""
        lines = [f"Fichier : {self.fichier}",
                 f"Source : SSMSI, base communale de la délinquance enregistrée — "
                 f"département {self.departement}",
                 f"Format : {self.format} ({LAYOUT_NAMES.get(self.mise_en_page, '?')}{geo})",
                 f"Résultat : {statut}",
                 f"Lignes lues : {self.lignes_lues} (dont {self.lignes_retenues} du "
                 f"département pour les indicateurs VIF)"]
        if self.annees:
            lines.append(f"Années : {', '.join(map(str, self.annees))}")
        lines.append(f"Valeurs non diffusées par le SSMSI (masquées) : {self.valeurs_masquees}")
        if self.valeurs_par_indicateur:
            lines.append("Valeurs chargées par indicateur :")
            for code, d in self.valeurs_par_indicateur.items():
                lines.append(f"  - {code} : {d['valeurs']} valeurs, total {d['total']}, "
                             f"{d['masquees']} masquées (« {' », « '.join(d['libelles'])} », "
                             f"unité : {', '.join(d['unites']) or '?'})")
        if self.codes_fusionnes:
            lines.append(f"Anciens codes rattachés à leur commune actuelle : "
                         f"{len(self.codes_fusionnes)}")
        lines.append(f"Codes inconnus (gardés en non localisé) : {len(self.codes_inconnus)}")
        if self.par_annee:
            lines.append("Par année :")
            for annee, d in sorted(self.par_annee.items()):
                etat = {"nouveau": f"chargé (lot {d.get('lot_id')})",
                        "remplace": f"chargé (lot {d.get('lot_id')}, remplace le lot "
                                    f"{d.get('remplace_lot_id')}, conservé dans l'historique)",
                        "inchange": f"inchangé (lot courant {d.get('lot_id')})",
                        }.get(d.get("statut"), "lu")
                lines.append(f"  - {annee} : {d['valeurs']} valeurs dont {d['masquees']} "
                             f"masquées — {etat}")
        lines += issue_lines(self.erreurs, self.avertissements, max_items)
        return "\n".join(lines)


@dataclass
class SsmsiData:
    """Résultat de :func:`read_ssmsi`.

    Attributes
    ----------
    values : dict
        Année → valeurs aux colonnes :data:`observatoire.batches.VALUE_COLUMNS`.
    report : SsmsiReport
    path : Path
        Fichier lu (archivé tel quel à l'import).
    """

    values: dict[int, pd.DataFrame]
    report: SsmsiReport
    path: Path


# --------------------------------------------------------------------------- lecture


def _column_key(name: str) -> str:
    """Nom de colonne comparable : minuscules sans accents, ponctuation → « _ »."""
    norm = matching.normalize_name(name).lower()
    return re.sub(r"[^a-z0-9]+", "_", norm).strip("_")


def label_key(text) -> str:
    """Libellé d'indicateur comparable (casse, accents, ponctuation, espaces ignorés).

    Examples
    --------
    >>> label_key("  VIOLENCES physiques intra-familiales ") == label_key(
    ...     "Violences physiques intrafamiliales")
    True
    >>> label_key("Violences sexuelles")
    'VIOLENCESSEXUELLES'
    """
    return matching.normalize_name(text).replace(" ", "")


def _indicator_by_label() -> dict[str, str]:
    return {label_key(lib): code for code, libs in INDICATORS.items() for lib in libs}


def parse_years(text: str | None) -> list[int] | None:
    """Années demandées : « 2019-2023 », « 2021 », « 2019,2021 » ou None (toutes).

    Raises
    ------
    ObservatoireError
        Texte illisible ou année hors des bornes.
    """
    if text is None or not str(text).strip():
        return None
    years: set[int] = set()
    for part in re.split(r"[,;\s]+", str(text).strip()):
        if not part:
            continue
        m = re.fullmatch(r"(\d{4})(?:\s*[-–]\s*(\d{4}))?", part)
        if not m:
            raise ObservatoireError(
                f"« {part} » n'est pas une année ni une plage d'années : écrivez par exemple "
                f"--annees 2019-2023 ou --annees 2021.")
        first, last = int(m[1]), int(m[2] or m[1])
        if last < first:
            raise ObservatoireError(f"La plage d'années « {part} » est à l'envers : écrivez "
                                    f"{last}-{first}.")
        years.update(range(first, last + 1))
    for y in sorted(years):
        _check_year(y, "--annees")
    return sorted(years)


def _check_year(year: int, where: str) -> None:
    last = dt.date.today().year
    if not FIRST_YEAR <= year <= last:
        raise ObservatoireError(
            f"L'année {year} ({where}) est hors des bornes de la base communale du SSMSI "
            f"({FIRST_YEAR} à {last}) : vérifiez l'année demandée ou le fichier.")


def _detect_format(path: Path) -> str:
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head[:2] == b"\x1f\x8b":
        return "csv.gz"
    if head == b"PAR1":
        return "parquet"
    if head[:2] == b"PK":
        raise FichierRefuseError(
            f"Le fichier « {path.name} » est une archive zip ou un classeur (xlsx) : la base "
            f"communale du SSMSI s'importe telle que data.gouv.fr la publie, en CSV, CSV.gz "
            f"ou parquet. Extrayez le fichier communal de l'archive si besoin.")
    if not head:
        raise FichierRefuseError(f"Le fichier « {path.name} » est vide.")
    return "csv"


def _open_stream(path: Path, fmt: str):
    import pyarrow as pa

    return pa.input_stream(str(path), compression="gzip" if fmt == "csv.gz" else None)


def _csv_dialect(path: Path, fmt: str) -> tuple[str, str]:
    """Encodage et séparateur, d'après le début du fichier."""
    with _open_stream(path, fmt) as stream:
        head = stream.read(1 << 16)
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        encoding = "utf8"
    except UnicodeDecodeError:
        text, encoding = head.decode("cp1252", errors="replace"), "cp1252"
    first = text.lstrip("\ufeff").splitlines()[0] if text.strip() else ""
    counts = {sep: first.count(sep) for sep in (";", ",", "\t")}
    sep = max(counts, key=counts.get)
    if not counts[sep]:
        raise FichierRefuseError(
            f"Le fichier « {path.name} » n'a pas d'en-tête de colonnes séparées par « ; » "
            f"(première ligne : « {first[:80]} ») : ce n'est pas la base communale du SSMSI.")
    return encoding, sep


def _header(path: Path, fmt: str) -> tuple[list[str], dict]:
    """Noms des colonnes et options de lecture CSV."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if fmt == "parquet":
        try:
            return list(pq.ParquetFile(str(path)).schema_arrow.names), {}
        except (OSError, pa.ArrowException) as exc:
            raise FichierRefuseError(f"Le fichier parquet « {path.name} » est illisible "
                                     f"({exc}) : téléchargez-le de nouveau.") from exc
    encoding, sep = _csv_dialect(path, fmt)
    opts = {"read": pacsv.ReadOptions(encoding=encoding, block_size=_BLOCK),
            "parse": pacsv.ParseOptions(delimiter=sep)}
    try:
        with _open_stream(path, fmt) as stream:
            names = list(pacsv.open_csv(stream, read_options=opts["read"],
                                        parse_options=opts["parse"]).schema.names)
    except (OSError, pa.ArrowException) as exc:
        raise FichierRefuseError(f"Le fichier « {path.name} » est illisible comme CSV ({exc}) : "
                                 f"téléchargez-le de nouveau depuis data.gouv.fr.") from exc
    return [n.lstrip("\ufeff") for n in names], opts


def _layout(names: list[str], filename: str) -> tuple[str, dict[str, str], int | None]:
    """Mise en page, rôle → nom réel de colonne, millésime de la géographie."""
    keys = {_column_key(n): n for n in names}
    codgeo = [(n, _CODGEO.match(k)) for k, n in keys.items() if _CODGEO.match(k)]
    if not codgeo:
        raise FichierRefuseError(
            f"Le fichier « {filename} » n'a pas de colonne CODGEO_<année> (code de la "
            f"commune) ; colonnes lues : {', '.join(names[:12])}. Importez le fichier "
            f"communal de la base du SSMSI, pas le départemental ou le régional.")
    if len(codgeo) > 1:
        raise FichierRefuseError(
            f"Le fichier « {filename} » a plusieurs colonnes de code commune "
            f"({', '.join(n for n, _ in codgeo)}) : gardez celle de la géographie de "
            f"l'édition.")
    col, m = codgeo[0]
    for name, roles in LAYOUTS.items():
        if all(k in keys for k in roles.values()):
            cols = {role: keys[k] for role, k in roles.items()}
            cols["code"] = col
            return name, cols, int(m[1]) if m[1] else None
    expected = " ; ".join(f"{LAYOUT_NAMES[n]} : {', '.join(r.values())}"
                          for n, r in LAYOUTS.items())
    raise FichierRefuseError(
        f"La mise en page du fichier « {filename} » n'est pas reconnue (colonnes lues : "
        f"{', '.join(names[:15])}). Colonnes attendues — {expected}. Vérifiez qu'il "
        f"s'agit bien de la base communale du SSMSI.")


def _batches(path: Path, fmt: str, columns: list[str], opts: dict):
    """Blocs Arrow des seules colonnes utiles, toutes en texte."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if fmt == "parquet":
        for batch in pq.ParquetFile(str(path)).iter_batches(batch_size=500_000,
                                                            columns=columns):
            yield pa.RecordBatch.from_arrays(
                [batch.column(c).cast(pa.string()) for c in columns], names=columns)
        return
    convert = pacsv.ConvertOptions(include_columns=columns,
                                   column_types={c: pa.string() for c in columns})
    with _open_stream(path, fmt) as stream:
        reader = pacsv.open_csv(stream, read_options=opts["read"],
                                parse_options=opts["parse"], convert_options=convert)
        yield from reader


def _scan(path: Path, fmt: str, cols: dict[str, str], opts: dict, departement: str,
          report: SsmsiReport) -> tuple[pd.DataFrame, set[str]]:
    """Lit le fichier bloc par bloc ; ne garde que le département et les indicateurs VIF."""
    import pyarrow as pa
    import pyarrow.compute as pc

    wanted = _indicator_by_label()
    columns = [cols[r] for r in ("code", "annee", "libelle", "unite", "diffusion", "nombre")]
    # Noms de colonnes du CSV d'origine (pyarrow garde l'éventuel BOM du premier).
    kept, labels_seen, offset = [], set(), 0
    accepted: dict[str, bool] = {}
    try:
        for batch in _batches(path, fmt, columns, opts):
            n = batch.num_rows
            codes = pc.utf8_lpad(pc.utf8_trim_whitespace(batch.column(0)), 5, "0")
            labels = batch.column(2)
            for raw in pc.unique(labels).to_pylist():
                if raw is not None and raw not in accepted:
                    accepted[raw] = label_key(raw) in wanted
                    labels_seen.add(raw)
            ok_labels = [lab for lab, ok in accepted.items() if ok]
            mask = pc.and_(pc.starts_with(codes, departement),
                           pc.is_in(labels, value_set=pa.array(ok_labels, pa.string())))
            mask = pc.fill_null(mask, False)
            if pc.any(mask).as_py():
                sub = pa.table([codes, *batch.columns[1:],
                                pa.array(np.arange(offset, offset + n), pa.int64())],
                               names=["code", "annee", "libelle", "unite", "diffusion",
                                      "nombre", "rang"]).filter(mask)
                kept.append(sub.to_pandas())
            offset += n
    except pa.ArrowException as exc:
        raise FichierRefuseError(
            f"Le fichier « {path.name} » est illisible après la ligne {offset + 1} ({exc}) : "
            f"il est peut-être tronqué ; téléchargez-le de nouveau.") from exc
    report.lignes_lues = offset
    frame = (pd.concat(kept, ignore_index=True) if kept else
             pd.DataFrame(columns=["code", "annee", "libelle", "unite", "diffusion", "nombre",
                                   "rang"]))
    # Ligne du fichier : en-tête en ligne 1 pour un CSV ; rang à partir de 1 en parquet.
    frame["ligne"] = frame["rang"].astype("int64") + (2 if fmt != "parquet" else 1)
    report.lignes_retenues = len(frame)
    return frame.drop(columns="rang"), labels_seen


def _parse_years(frame: pd.DataFrame, cols: dict, report: SsmsiReport) -> pd.Series:
    raw = frame["annee"].fillna("").astype(str).str.strip()
    num = pd.to_numeric(raw.str.replace(",", ".", regex=False), errors="coerce")
    bad = num.isna() | (num % 1 != 0)
    years = num.where(~bad, -1).astype("int64")
    years = years.where(years >= 100, 2000 + years)  # « 16 » : 2016
    last = dt.date.today().year
    out_of_bounds = ~bad & ~years.between(FIRST_YEAR, last)
    for kind, sel in (("annee_illisible", bad), ("annee_hors_bornes", out_of_bounds)):
        for value, first in frame.loc[sel].groupby(raw[sel])["ligne"].min().items():
            msg = (f"l'année « {value} » n'est pas un nombre." if kind == "annee_illisible"
                   else f"l'année « {value} » est hors des bornes de la base communale du "
                        f"SSMSI ({FIRST_YEAR} à {last}).")
            report.add("erreur", kind, msg + " Vérifiez le fichier (colonne des années).",
                       int(first), cols["annee"])
    return years.where(~bad & ~out_of_bounds, -1)


def _parse_counts(frame: pd.DataFrame, cols: dict, report: SsmsiReport
                  ) -> tuple[pd.Series, pd.Series]:
    """Valeurs (Int64) et masque ; une ligne ``ndiff`` est masquée quoi qu'elle porte."""
    status = frame["diffusion"].fillna("").astype(str).str.strip().str.lower()
    masked = status == "ndiff"
    unknown = ~masked & (status != "diff")
    for value, first in frame.loc[unknown].groupby(status[unknown])["ligne"].min().items():
        report.add("erreur", "diffusion_inconnue",
                   f"la valeur « {value} » de la colonne {cols['diffusion']} n'est ni « diff » "
                   f"ni « ndiff » : le fichier n'est pas lisible tel quel, vérifiez qu'il "
                   f"vient bien de data.gouv.fr.", int(first), cols["diffusion"])
    raw = frame["nombre"].fillna("").astype(str).str.strip()
    missing = raw.str.upper().isin(_MISSING)
    num = pd.to_numeric(raw.str.replace("\u00a0", "", regex=False)
                        .str.replace(" ", "", regex=False)
                        .str.replace(",", ".", regex=False), errors="coerce")
    published = ~masked & ~unknown
    checks = (
        ("nombre_absent", published & missing,
         "est publiée (diff) sans nombre : le fichier est incomplet ; téléchargez-le de "
         "nouveau."),
        ("nombre_illisible", published & ~missing & num.isna(),
         "porte un nombre illisible ; vérifiez le fichier."),
        ("nombre_invalide", published & num.notna() & ((num < 0) | (num % 1 != 0)),
         "porte un nombre négatif ou non entier : un effectif est un entier positif."),
    )
    for kind, sel, text in checks:
        rows = frame.loc[sel, "ligne"]
        for ligne in rows.head(MAX_LISTED).tolist():
            report.add("erreur", kind, f"la ligne {text}", int(ligne), cols["nombre"])
        if len(rows) > MAX_LISTED:
            report.add("erreur", kind, f"… et {len(rows) - MAX_LISTED} autres lignes de ce "
                                       f"type.")
    good = published & num.notna() & (num >= 0) & (num % 1 == 0)
    values = pd.array(np.where(good, num.fillna(0), 0).astype("int64"), dtype="Int64")
    values[~good.to_numpy()] = pd.NA
    return pd.Series(values, index=frame.index), masked


def read_ssmsi(path, annees: list[int] | None = None,
               departement: str | None = None) -> SsmsiData:
    """Lit la base communale du SSMSI (sans rien écrire).

    Parameters
    ----------
    path : path-like
        Fichier ``.csv``, ``.csv.gz`` ou ``.parquet`` tel que publié (le format est
        reconnu au contenu, pas à l'extension).
    annees : list of int, optional
        Années à garder ; None = toutes celles du fichier. Une année demandée absente
        du fichier est une erreur.
    departement : str, optional
        Département gardé ; par défaut celui de la configuration.

    Returns
    -------
    SsmsiData
        Valeurs par année et rapport ; ``report.ok`` faux si des erreurs empêchent
        l'enregistrement.

    Raises
    ------
    FichierRefuseError
        Fichier introuvable, illisible, mise en page inconnue, pas de colonne
        ``CODGEO_``, aucun indicateur VIF, rien pour le département.
    """
    path = Path(path)
    if not path.is_file():
        raise ObservatoireError(f"Le fichier {path} est introuvable.")
    departement = str(departement or settings().departement)
    for year in annees or []:
        _check_year(int(year), "--annees")
    _check_catalogue()
    fmt = _detect_format(path)
    report = SsmsiReport(fichier=path.name, format=fmt, departement=departement)
    names, opts = _header(path, fmt)
    report.mise_en_page, cols, report.geographie = _layout(names, path.name)
    frame, labels_seen = _scan(path, fmt, cols, opts, departement, report)
    if frame.empty:
        _refuse_empty(path.name, labels_seen, departement, report)
    frame["indicateur"] = frame["libelle"].map(lambda t: _indicator_by_label()[label_key(t)])
    frame["annee_n"] = _parse_years(frame, cols, report)
    frame["valeur"], frame["masque"] = _parse_counts(frame, cols, report)
    present = sorted(set(frame.loc[frame["annee_n"] > 0, "annee_n"]))
    if annees:
        absent = sorted(set(map(int, annees)) - set(present))
        if absent:
            raise FichierRefuseError(
                f"Le fichier « {path.name} » ne porte pas l'année {', '.join(map(str, absent))} "
                f"(années présentes : {', '.join(map(str, present))}) : choisissez des "
                f"années du fichier avec --annees.")
        frame = frame[frame["annee_n"].isin(set(map(int, annees)))]
    _check_duplicates(frame, cols, report)
    values = _to_current_communes(frame, report, cols["nombre"])
    _fill_report(values, frame, report)
    return SsmsiData(values=values, report=report, path=path)


def _check_catalogue() -> None:
    known = catalogues.indicateurs_by_code()
    missing = [c for c in INDICATORS if c not in known]
    if missing:
        raise ObservatoireError(
            f"Le catalogue des indicateurs (data/catalogues/indicateurs.csv) n'a pas "
            f"{', '.join(missing)} : rétablissez ces lignes avant d'importer le SSMSI.")
    catalogues.get_contributeur(CONTRIBUTEUR)


def _refuse_empty(filename: str, labels_seen: set[str], departement: str,
                  report: SsmsiReport) -> None:
    wanted = _indicator_by_label()
    if not any(label_key(lab) in wanted for lab in labels_seen):
        shown = ", ".join(f"« {lab} »" for lab in sorted(labels_seen)[:20]) or "aucun"
        expected = ", ".join(f"« {lab} »" for libs in INDICATORS.values() for lab in libs)
        raise FichierRefuseError(
            f"Le fichier « {filename} » ne contient aucun indicateur de violences "
            f"intrafamiliales ({expected}) ; indicateurs lus : {shown}. Vérifiez qu'il "
            f"s'agit de la base communale de la délinquance enregistrée du SSMSI.")
    raise FichierRefuseError(
        f"Le fichier « {filename} » ne contient aucune commune du département {departement} "
        f"({report.lignes_lues} lignes lues) : vérifiez le fichier ou le département "
        f"configuré (config/territoire.toml).")


def _check_duplicates(frame: pd.DataFrame, cols: dict, report: SsmsiReport) -> None:
    dup = frame.duplicated(["code", "annee_n", "indicateur"], keep="first")
    for row in frame.loc[dup].head(MAX_LISTED).itertuples():
        report.add("erreur", "ligne_en_double",
                   f"le code {row.code} figure deux fois pour « {row.libelle} » en "
                   f"{row.annee_n} : le fichier a été modifié ou mal assemblé ; téléchargez-le "
                   f"de nouveau.", row.ligne, cols["code"])


def _to_current_communes(frame: pd.DataFrame, report: SsmsiReport,
                         value_column: str) -> dict[int, pd.DataFrame]:
    """Codes de l'édition → communes actuelles ; sommes des anciens codes, masques, inconnus."""
    code_map = communes.current_code_map()
    territory = set(communes.load_territoire()["code_insee"])
    allc = communes.load_communes(None)
    noms = dict(zip(allc["code_insee"], allc["nom"], strict=True))
    uniq = sorted(set(frame["code"]))
    target = {c: code_map.get(c) for c in uniq}
    merged = sorted(c for c, t in target.items() if t is not None and t != c)
    report.codes_fusionnes = [{"code": c, "commune": target[c], "nom": noms.get(target[c], "")}
                              for c in merged]
    unknown = [c for c, t in target.items() if t is None]
    for c in unknown:
        lines = frame.loc[frame["code"] == c, "ligne"]
        report.codes_inconnus.append({"code": c, "lignes": int(len(lines)),
                                      "premiere_ligne": int(lines.min())})
    for entry in report.codes_inconnus[:MAX_LISTED]:
        report.add("avertissement", "code_inconnu",
                   f"le code {entry['code']} n'est pas une commune connue du COG, ni actuelle "
                   f"ni ancienne : ses {entry['lignes']} valeurs sont gardées en non localisé. "
                   f"Importez le fichier des mouvements de communes de l'INSEE "
                   f"(« observatoire referentiel evenements ») puis réimportez.",
                   entry["premiere_ligne"])
    outside = sorted({t for t in target.values() if t is not None and t not in territory})
    if outside:
        report.add("avertissement", "hors_territoire",
                   f"{len(outside)} communes du département sont hors du territoire servi "
                   f"({settings().territoire_nom}) : leurs valeurs ne sont pas chargées.")
    frame = frame[frame["annee_n"] > 0].copy()
    frame = _drop_included_arrondissements(frame, report)
    frame["code_insee"] = frame["code"].map(target)
    frame = frame[frame["code_insee"].isna() | frame["code_insee"].isin(territory)]
    frame["libelle_non_localise"] = np.where(frame["code_insee"].isna(),
                                             "code SSMSI inconnu : " + frame["code"], None)
    frame["cle"] = frame["code_insee"].fillna(frame["libelle_non_localise"])
    grouped = frame.groupby(["annee_n", "cle", "indicateur"], sort=True, dropna=False)
    out = grouped.agg(code_insee=("code_insee", "first"),
                      libelle_non_localise=("libelle_non_localise", "first"),
                      somme=("valeur", "sum"), masque=("masque", "any"),
                      manquants=("valeur", lambda s: int(s.isna().sum())),
                      ligne=("ligne", "min")).reset_index()
    # Somme avec une part masquée (ou inconnue) : masquée, jamais un nombre partiel.
    out["masque"] = out["masque"] | (out["manquants"] > 0)
    out["valeur"] = out["somme"].astype("Int64").mask(out["masque"])
    out["feuille"] = None
    out["colonne"] = value_column
    result = {}
    for annee, part in out.groupby("annee_n", sort=True):
        vals = part[batches.VALUE_COLUMNS].reset_index(drop=True)
        for col in ("code_insee", "libelle_non_localise"):
            vals[col] = vals[col].astype(object).where(vals[col].notna(), None)
        result[int(annee)] = vals
    return result


def _drop_included_arrondissements(frame: pd.DataFrame, report: SsmsiReport) -> pd.DataFrame:
    """Écarte les arrondissements municipaux déjà comptés dans leur commune.

    Paris, Lyon et Marseille figurent dans la base à la fois par commune et par
    arrondissement municipal : les lignes d'un arrondissement dont la commune est aussi
    donnée (même année, même indicateur) l'additionneraient deux fois. Sans la ligne de
    la commune, les arrondissements lui sont rattachés (somme).
    """
    anc = communes.load_anciennes()
    arr = anc[anc["type"] == "arrondissement_municipal"]
    parent = dict(zip(arr["code"], arr["code_commune"], strict=True))
    is_arr = frame["code"].isin(parent.keys())
    if not is_arr.any():
        return frame
    present = set(zip(frame["annee_n"], frame["indicateur"], frame["code"], strict=True))
    included = is_arr & pd.Series(
        [(a, i, parent.get(c)) in present for a, i, c in zip(
            frame["annee_n"], frame["indicateur"], frame["code"], strict=True)],
        index=frame.index)
    if included.any():
        codes = sorted(set(frame.loc[included, "code"]))
        parents = sorted({parent[c] for c in codes})
        report.add("avertissement", "arrondissements_municipaux",
                   f"{len(codes)} arrondissements municipaux ({', '.join(codes[:5])}"
                   f"{'…' if len(codes) > 5 else ''}) sont déjà comptés dans leur commune "
                   f"({', '.join(parents)}), présente dans le fichier : leurs lignes sont "
                   f"écartées pour ne pas compter deux fois.")
    return frame[~included]


def _fill_report(values: dict[int, pd.DataFrame], frame: pd.DataFrame,
                 report: SsmsiReport) -> None:
    report.annees = sorted(values)
    allv = (pd.concat(values.values(), ignore_index=True) if values
            else pd.DataFrame(columns=batches.VALUE_COLUMNS))
    report.valeurs_masquees = int(allv["masque"].sum())
    for code in INDICATORS:
        sub = allv[allv["indicateur"] == code]
        src = frame[frame["indicateur"] == code]
        if sub.empty and src.empty:
            continue
        report.valeurs_par_indicateur[code] = {
            "valeurs": int(len(sub)),
            "total": int(pd.to_numeric(sub["valeur"], errors="coerce").fillna(0).sum()),
            "masquees": int(sub["masque"].sum()),
            "libelles": sorted(set(src["libelle"].dropna().astype(str))),
            "unites": sorted(set(src["unite"].dropna().astype(str).str.strip()) - {""})}
    for annee, vals in values.items():
        report.par_annee[annee] = {"valeurs": int(len(vals)),
                                   "masquees": int(vals["masque"].sum())}


# --------------------------------------------------------------------------- import


def import_ssmsi(path, annees: list[int] | None = None, simulation: bool = False,
                 utilisateur: str = "inconnu", engine=None) -> SsmsiReport:
    """Lit la base communale du SSMSI puis enregistre un lot par année, tout ou rien.

    Parameters
    ----------
    path : path-like
        Fichier ``.csv``, ``.csv.gz`` ou ``.parquet`` du SSMSI.
    annees : list of int, optional
        Années à importer ; None = toutes celles du fichier.
    simulation : bool, default False
        Lecture complète et rapport ; rien n'est enregistré (ni base, ni archive).
    utilisateur : str
        Qui importe (conservé avec chaque lot et dans le journal).
    engine : Engine, optional

    Returns
    -------
    SsmsiReport
        ``statut`` : ``simulation``, ``enregistre`` ou ``inchange`` ; ``par_annee`` donne
        le statut de chaque lot (``nouveau``, ``remplace``, ``inchange``).

    Raises
    ------
    FichierRefuseError
        Fichier refusé : rien n'est enregistré ; l'attribut ``rapport`` porte le rapport
        quand le refus vient des valeurs.
    ModeIncompatibleError
        Base de démonstration.
    """
    from observatoire import storage

    data = read_ssmsi(path, annees)
    report = data.report
    if simulation:
        report.statut = "simulation" if report.ok else "refuse"
        return report
    if not report.ok:
        raise refusal(report, report.fichier)
    engine = engine or storage.get_engine()
    common = report.to_dict()
    for key in ("par_annee", "codes_fusionnes", "avertissements"):
        common.pop(key)
    lots = [batches.BatchInput(annee=annee, values=vals,
                               rapport={**common, "annee": annee,
                                        **report.par_annee[annee]})
            for annee, vals in sorted(data.values.items())]
    results = batches.store_batches(contributeur=CONTRIBUTEUR, fichier=data.path.name,
                                    contenu=data.path, lots=lots, utilisateur=utilisateur,
                                    engine=engine)
    for lot, result in zip(lots, results, strict=True):
        report.par_annee[lot.annee].update(statut=result.statut, lot_id=result.lot_id,
                                           remplace_lot_id=result.remplace_lot_id)
    unchanged = all(r.statut == "inchange" for r in results)
    report.statut = "inchange" if unchanged else "enregistre"
    return report
