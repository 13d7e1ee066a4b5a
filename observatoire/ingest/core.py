"""Lecture complète d'une contribution : du fichier reçu aux valeurs par commune.

:func:`read_contribution` lit sans rien écrire (pour l'aperçu de l'application et la
simulation) ; :func:`import_contribution` lit puis enregistre un lot en une transaction
(:func:`observatoire.batches.store_batch`). Un fichier refusé (données personnelles,
fichier dangereux ou illisible, valeurs invalides) ne laisse aucune trace.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from observatoire import batches, catalogues, matching
from observatoire.config import settings
from observatoire.errors import FichierRefuseError, ObservatoireError
from observatoire.ingest import values as V
from observatoire.ingest.headers import HeaderMapper, HeaderMatch, remember_mapping
from observatoire.ingest.layout import Layout, detect
from observatoire.ingest.personal import check_personal_data
from observatoire.ingest.readers import Sheet, Workbook, read_any
from observatoire.ingest.report import Report
from observatoire.ingest.safety import check_file

_PERIOD_SHEET = re.compile(
    r"^(T\s?[1-4]|TRIM(ESTRE)?\s?[1-4]|[1-4]\s?(E|ER|EME)?\s?TRIM(ESTRE)?|S\s?[12]|"
    r"SEMESTRE\s?[12]|[12]\s?(E|ER|EME)?\s?SEMESTRE|JANV(IER)?|FEV(RIER)?|MARS|AVR(IL)?|MAI|"
    r"JUIN|JUIL(LET)?|AOUT|SEPT(EMBRE)?|OCT(OBRE)?|NOV(EMBRE)?|DEC(EMBRE)?|M\d{1,2}|"
    r"MOIS \d{1,2})\b")
_YEAR = re.compile(r"(?<!\d)(20\d{2})(?!\d)")
MAX_LISTED = 200


@dataclass
class Parsed:
    """Résultat de :func:`read_contribution`.

    Attributes
    ----------
    values : pandas.DataFrame
        Colonnes :data:`observatoire.batches.VALUE_COLUMNS` : une ligne par (commune ou
        libellé non localisé, indicateur).
    report : Report
    content : bytes
        Contenu exact du fichier (archivé tel quel à l'import).
    filename : str
    entetes_non_resolus : list of dict
        ``entete``, ``feuille``, ``colonne``, ``candidats`` : à passer, une fois choisis,
        dans ``mapping_overrides``.
    communes_non_reconnues : list of dict
        ``texte``, ``feuille``, ``ligne``, ``statut`` (``ambigu``/``inconnue``),
        ``candidats`` (liste de ``{code_insee, nom}``) : à passer dans
        ``commune_overrides``.
    """

    values: pd.DataFrame
    report: Report
    content: bytes
    filename: str
    entetes_non_resolus: list[dict] = field(default_factory=list)
    communes_non_reconnues: list[dict] = field(default_factory=list)


@dataclass
class _SheetResult:
    sheet: Sheet
    layout: Layout
    obs: pd.DataFrame
    lignes: int


def _load_source(source, filename: str | None) -> tuple[bytes, str]:
    if isinstance(source, bytes | bytearray | memoryview):
        if not filename:
            raise ObservatoireError("Indiquez le nom du fichier reçu (paramètre filename).")
        return bytes(source), filename
    if hasattr(source, "read"):
        return source.read(), filename or getattr(source, "name", "fichier")
    path = Path(source)
    if not path.is_file():
        raise ObservatoireError(f"Le fichier {path} est introuvable.")
    size_mo = path.stat().st_size / 1_000_000
    if size_mo > settings().taille_max_mo:
        # Refus avant lecture : on ne charge pas en mémoire un fichier démesuré.
        raise FichierRefuseError(
            f"Le fichier « {path.name} » fait {size_mo:.1f} Mo, au-delà de la limite de "
            f"{settings().taille_max_mo:g} Mo (réglage import.taille_max_mo de "
            f"config/territoire.toml). Envoyez un fichier réduit aux effectifs par commune.")
    return path.read_bytes(), filename or path.name


def _territory_check(codes: pd.Series) -> pd.Series:
    """Vrai pour les codes de communes dans le territoire servi."""
    s = settings()
    terr = matching.communes.load_territoire()
    return codes.isin(set(terr["code_insee"])) if s.departement else codes.notna()


def _template_layout(wb: Workbook, mapper: HeaderMapper) -> tuple[list[Sheet], dict]:
    stamp = wb.stamp or {}
    name = stamp.get("feuille")
    sheets = [s for s in wb.sheets if s.name == name]
    if not sheets or not stamp.get("indicateurs"):
        return [], {}
    sheet = sheets[0]
    lay = Layout(header=stamp.get("ligne_entete", 1) - 1, code_col=0, name_col=1)
    for k, code in enumerate(stamp["indicateurs"]):
        lay.item_cols[2 + k] = HeaderMatch(code, "modele", 1.0)
        lay.headers[2 + k] = str(sheet.cells.iat[lay.header, 2 + k])
    return [sheet], {sheet.name: lay}


def _match_rows(sheet: Sheet, lay: Layout, body: pd.DataFrame, index, overrides: dict
                ) -> pd.DataFrame:
    """Commune de chaque ligne : code, libellé, nature (commune, total, non localisé…)."""
    n = len(body)
    code = np.full(n, None, dtype=object)
    methode = np.full(n, "vide", dtype=object)
    cands = np.empty(n, dtype=object)
    cands[:] = [()] * n
    raw = pd.Series([None] * n, index=body.index, dtype=object)
    cp = body[lay.cp_col] if lay.cp_col is not None else None
    for col in (lay.code_col, lay.name_col):
        if col is None:
            continue
        cells = body[col]
        todo = (methode == "vide") | (methode == "inconnue")
        todo &= cells.notna().to_numpy()
        if not todo.any():
            continue
        sub = cells[todo]
        res = matching.match_communes(sub, None if cp is None else cp[todo], index=index)
        got = res["methode"].to_numpy()
        # Un code inconnu n'écrase pas ce que le nom pourrait donner ; un nom reconnu, si.
        code[todo] = res["code_insee"].to_numpy()
        methode[todo] = got
        cands[todo] = res["candidats"].to_numpy()
        raw[todo] = sub.map(lambda v: str(int(v)) if isinstance(v, float) and v.is_integer()
                            else str(v).strip())
    # Libellés de total : dans la colonne de nom ou de code.
    total = np.zeros(n, dtype=bool)
    sous_total = np.zeros(n, dtype=bool)
    for col in (lay.code_col, lay.name_col):
        if col is None:
            continue
        texts = body[col]
        mask = texts.map(lambda v: isinstance(v, str)).to_numpy()
        if mask.any():
            uniq = {u: matching.normalize_name(u) for u in pd.unique(texts[mask])}
            norm = texts[mask].map(uniq)
            is_tot = norm.map(lambda s: bool(matching._TOTAL_RE.match(s))).to_numpy()
            is_sous = norm.map(lambda s: s.startswith(("SOUS", "S TOTAL"))).to_numpy()
            total[np.flatnonzero(mask)[is_tot]] = True
            sous_total[np.flatnonzero(mask)[is_tot & is_sous]] = True
    methode[total] = "total"
    if overrides:
        keys = raw.map(lambda s: s if s is None else str(s).strip())
        for i in np.flatnonzero(keys.isin(list(overrides)).to_numpy()):
            target = overrides[keys.iat[i]]
            code[i] = target or None
            methode[i] = "confirmee" if target else "non_localise"
    return pd.DataFrame({"code_insee": code, "methode": methode, "candidats": cands,
                         "texte": raw.to_numpy(), "sous_total": sous_total}, index=body.index)


def _observations(sheet: Sheet, lay: Layout, mapper: HeaderMapper, annee: int,
                  index, overrides: dict, report: Report) -> _SheetResult:
    body = sheet.cells.iloc[lay.header + 1:]
    rows = _match_rows(sheet, lay, body, index, overrides)
    positions = np.arange(lay.header + 1, lay.header + 1 + len(body))
    frames = []
    if lay.is_long:
        vals, state = V.parse_counts(body[lay.long_value_col])
        if lay.long_item_col is not None:
            item_cells = body[lay.long_item_col]
            uniq = {u: mapper.map(u) for u in pd.unique(item_cells.dropna())}
            items = item_cells.map(lambda v: uniq[v].indicateur if v in uniq else None)
            for text, m in uniq.items():
                if m.indicateur is None:
                    report.entetes_non_resolus.append(
                        {"entete": str(text), "feuille": sheet.name,
                         "colonne": sheet.ref(lay.header, lay.long_item_col)[1],
                         "candidats": m.candidats})
                    report.add("avertissement", "indicateur_non_reconnu",
                               f"l'indicateur « {text} » ne correspond à aucun indicateur du "
                               f"catalogue : ses lignes sont ignorées. Choisissez-le parmi "
                               f"{_cands_text(m)} (« correspondances --confirmer »).",
                               sheet.name, None, sheet.ref(lay.header, lay.long_item_col)[1])
                else:
                    _note_mapping(report, str(text), m)
        else:
            only = next(iter(mapper.own_codes)) if len(mapper.own_codes) == 1 else None
            items = pd.Series(only, index=body.index, dtype=object)
        frames.append(pd.DataFrame({"pos": positions, "indicateur": items.to_numpy(),
                                    "valeur": vals.to_numpy(), "etat": state.to_numpy(),
                                    "j": lay.long_value_col}))
    else:
        for j, m in lay.item_cols.items():
            vals, state = V.parse_counts(body[j])
            frames.append(pd.DataFrame({"pos": positions, "indicateur": m.indicateur,
                                        "valeur": vals.to_numpy(), "etat": state.to_numpy(),
                                        "j": j}))
            _note_mapping(report, lay.headers.get(j, ""), m)
    obs = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["pos", "indicateur", "valeur", "etat", "j"])
    rinfo = rows.reset_index(drop=True)
    idx = obs["pos"].to_numpy() - (lay.header + 1)
    for col in ("code_insee", "methode", "candidats", "texte", "sous_total"):
        obs[col] = rinfo[col].to_numpy()[idx]
    if lay.year_col is not None:
        years = body[lay.year_col].map(lambda v: matching.clean_code(v) and None or v)
        ycol = pd.to_numeric(years.astype(object), errors="coerce").to_numpy()[idx]
        other = ~np.isnan(ycol) & (ycol != annee)
        if other.any():
            found = sorted({int(y) for y in ycol[other]})
            report.add("avertissement", "autre_annee",
                       f"{int(other.sum())} valeurs portent sur une autre année "
                       f"({', '.join(map(str, found))}) que {annee} : elles sont ignorées.",
                       sheet.name, None, sheet.ref(lay.header, lay.year_col)[1])
            obs = obs[~other]
    lignes = int(((rows["methode"] != "vide") & (rows["methode"] != "total")).sum())
    return _SheetResult(sheet=sheet, layout=lay, obs=obs, lignes=lignes)


def _cands_text(m: HeaderMatch) -> str:
    if not m.candidats:
        return "les codes du catalogue (data/catalogues/indicateurs.csv)"
    return ", ".join(f"{c['indicateur']} ({c['libelle']})" for c in m.candidats)


def _note_mapping(report: Report, entete: str, m: HeaderMatch) -> None:
    if any(c["entete"] == entete and c["indicateur"] == m.indicateur
           for c in report.correspondances):
        return
    report.correspondances.append({"entete": entete, "indicateur": m.indicateur,
                                   "methode": m.methode, "score": m.score,
                                   "hors_contributeur": m.hors_contributeur})


def _check_totals(res: _SheetResult, report: Report) -> None:
    obs, sheet = res.obs, res.sheet
    tot = obs[(obs["methode"] == "total") & ~obs["sous_total"]]
    if tot.empty:
        return
    data = obs[~obs["methode"].isin(["total", "vide"]) | (
        (obs["methode"] == "vide") & (obs["etat"] != V.EMPTY))]
    for (item, j), grp in tot.groupby(["indicateur", "j"]):
        stated = grp[grp["etat"] == V.OK]
        if stated.empty:
            continue
        first = stated.iloc[0]
        rows_item = data[data["indicateur"] == item]
        computed = int(rows_item.loc[rows_item["etat"] == V.OK, "valeur"].sum())
        masked = bool((rows_item["etat"] == V.MASKED).any())
        value = int(first["valeur"])
        if value != computed and not (masked and value > computed):
            ligne, col = sheet.ref(int(first["pos"]), int(j))
            report.add("avertissement", "total_incoherent",
                       f"le total indiqué ({value}) pour « {item} » ne correspond pas à la "
                       f"somme des lignes ({computed}) : les valeurs par commune sont "
                       f"chargées, le total est ignoré. Vérifiez le tableau.",
                       sheet.name, ligne, col)


_ERROR_TEXT = {
    V.NEGATIVE: ("valeur_negative", "effectif négatif ({v}) : un effectif est un entier positif "
                                    "ou nul. Corrigez la cellule."),
    V.FRACTION: ("valeur_decimale", "effectif non entier ({v}) : un effectif est un entier. "
                                    "Corrigez la cellule."),
    V.NOT_NUMERIC: ("valeur_non_numerique", "valeur non numérique ({v}) : attendu un entier "
                                            "positif ou une marque de secret (« s », « <5 »)."),
    V.INJECTION: ("formule_refusee", "contenu de type formule ou commande ({v}) : refusé par "
                                     "sécurité, jamais évalué. Saisissez un nombre."),
}


def _safe_repr(v) -> str:
    text = str(v)
    text = text if len(text) <= 40 else text[:37] + "…"
    # Un texte qui commence par = + - @ est cité entre guillemets, jamais tel quel en début
    # de cellule d'un export (injection CSV).
    return f"« {text} »"


def _collect_errors(res: _SheetResult, report: Report) -> None:
    obs, sheet = res.obs, res.sheet
    bad = obs[obs["etat"].isin(list(_ERROR_TEXT)) & (obs["methode"] != "total")]
    if bad.empty:
        return
    cells = sheet.cells
    for k, (_, row) in enumerate(bad.iterrows()):
        if k >= MAX_LISTED:
            report.add("erreur", "trop_d_erreurs",
                       f"… et {len(bad) - MAX_LISTED} autres valeurs invalides dans cette "
                       f"feuille.", sheet.name)
            break
        i, j = int(row["pos"]), int(row["j"])
        code, text = _ERROR_TEXT[int(row["etat"])]
        ligne, col = sheet.ref(i, j)
        report.add("erreur", code, text.format(v=_safe_repr(cells.iat[i, j])),
                   sheet.name, ligne, col)


def _finalise(results: list[_SheetResult], report: Report, index, contributeur: str,
              national: bool = False) -> pd.DataFrame:
    keep = []
    for res in results:
        obs = res.obs
        obs = obs[(obs["methode"] != "total") & (obs["etat"].isin([V.OK, V.MASKED]))
                  & obs["indicateur"].notna()].copy()
        sheet = res.sheet
        pos, jj = obs["pos"].to_numpy(dtype=int), obs["j"].to_numpy(dtype=int)
        if sheet.transposed:
            obs["ligne"] = np.asarray(sheet.cols_orig_rows)[jj]
            obs["colonne"] = np.asarray(sheet.rows_orig_cols, dtype=object)[pos]
        else:
            obs["ligne"] = np.asarray(sheet.rows)[pos]
            obs["colonne"] = np.asarray(sheet.cols, dtype=object)[jj]
        obs["feuille"] = sheet.name
        keep.append(obs)
    if not keep:
        return pd.DataFrame(columns=batches.VALUE_COLUMNS)
    obs = pd.concat(keep, ignore_index=True)
    located = obs["code_insee"].notna()
    # Hors du territoire servi : gardé en non localisé, signalé.
    outside = located & ~_territory_check(obs["code_insee"]) if not national else \
        pd.Series(False, index=obs.index)
    obs["libelle_non_localise"] = None
    if outside.any():
        firsts = obs[outside].drop_duplicates("code_insee")
        for _, first in firsts.head(MAX_LISTED).iterrows():
            report.add("avertissement", "hors_territoire",
                       f"la commune {matching.describe(first['code_insee'], index)} est hors "
                       f"du territoire servi ({settings().territoire_nom}) : ses valeurs sont "
                       f"comptées en non localisé.", first["feuille"], first["ligne"])
        if len(firsts) > MAX_LISTED:
            report.add("avertissement", "hors_territoire",
                       f"… et {len(firsts) - MAX_LISTED} autres communes hors du territoire "
                       f"servi, comptées en non localisé.")
        labels = {c: "hors territoire : " + matching.describe(c, index)
                  for c in firsts["code_insee"]}
        obs.loc[outside, "libelle_non_localise"] = obs.loc[outside, "code_insee"].map(labels)
        obs.loc[outside, "code_insee"] = None
    contrib = catalogues.get_contributeur(contributeur)
    try:
        own = set(catalogues.communes_du_territoire(contrib.territoire)["code_insee"])
    except ObservatoireError:
        own = None
    if own is not None:
        out_c = obs["code_insee"].notna() & ~obs["code_insee"].isin(own)
        n_out = obs.loc[out_c, "code_insee"].nunique()
        if n_out:
            report.add("avertissement", "hors_territoire_contributeur",
                       f"{n_out} communes sont hors du territoire déclaré du contributeur "
                       f"({contrib.territoire}) : elles sont chargées ; vérifiez le registre "
                       f"des contributeurs si c'est normal.")
    unloc = obs["code_insee"].isna() & obs["libelle_non_localise"].isna()
    meth = obs["methode"]
    obs.loc[unloc, "libelle_non_localise"] = np.where(
        meth[unloc] == "vide", "commune non renseignée",
        obs.loc[unloc, "texte"].astype(object).fillna("commune non renseignée").map(
            lambda s: str(s)[:255]))
    _report_unmatched(obs, report, index)
    obs["masque"] = obs["etat"] == V.MASKED
    obs["valeur"] = obs["valeur"].astype("Int64")
    obs["key_code"] = obs["code_insee"].fillna("")
    obs["key_lib"] = obs["libelle_non_localise"].fillna("")
    keys = ["key_code", "key_lib", "indicateur"]
    dup_in_sheet = obs.duplicated(keys + ["feuille"], keep=False) & obs["code_insee"].notna()
    if dup_in_sheet.any():
        groups = obs[dup_in_sheet].groupby(["code_insee", "indicateur", "feuille"])
        if groups.ngroups > MAX_LISTED:
            report.add("avertissement", "commune_en_double",
                       f"{groups.ngroups} couples commune/indicateur figurent plusieurs fois : "
                       f"leurs valeurs sont additionnées (les {MAX_LISTED} premiers suivent).")
        for k, ((code, item, feuille), grp) in enumerate(groups):
            if k >= MAX_LISTED:
                break
            lines = ", ".join(str(x) for x in grp["ligne"].tolist()[:5])
            report.add("avertissement", "commune_en_double",
                       f"{matching.describe(code, index)} figure plusieurs fois pour "
                       f"« {item} » (lignes {lines}) : les valeurs sont additionnées.",
                       feuille, int(grp["ligne"].iloc[0]))
    if obs.duplicated(keys).any():
        agg = obs.groupby(keys, sort=False, dropna=False).agg(
            code_insee=("code_insee", "first"),
            libelle_non_localise=("libelle_non_localise", "first"),
            valeur=("valeur", lambda s: s.sum(min_count=1)),
            masque=("masque", "any"),
            feuille=("feuille", lambda s: ", ".join(dict.fromkeys(s))[:128]),
            ligne=("ligne", "first"), colonne=("colonne", "first"),
        ).reset_index()
        # Somme avec une part masquée : inconnue, donc masquée (jamais un nombre partiel).
        agg.loc[agg["masque"], "valeur"] = pd.NA
        obs = agg
    out = obs[batches.VALUE_COLUMNS].reset_index(drop=True)
    out["valeur"] = out["valeur"].astype("Int64")
    out["masque"] = out["masque"].astype(bool)
    out["ligne"] = out["ligne"].astype("Int64")
    out["code_insee"] = out["code_insee"].astype(object).where(out["code_insee"].notna(), None)
    out["libelle_non_localise"] = out["libelle_non_localise"].astype(object).where(
        out["libelle_non_localise"].notna(), None)
    return out


def _report_unmatched(obs: pd.DataFrame, report: Report, index) -> None:
    bad = obs[obs["methode"].isin(["ambigu", "inconnue"])]
    if bad.empty:
        return
    first = bad.drop_duplicates(["texte", "feuille"])
    for _, row in first.iterrows():
        cands = [{"code_insee": c, "nom": index.noms.get(c, "")} for c in row["candidats"]]
        entry = {"texte": row["texte"], "feuille": row["feuille"], "ligne": int(row["ligne"]),
                 "statut": row["methode"], "candidats": cands}
        report.communes_non_reconnues.append(entry)
        ctext = ", ".join(f"{c['nom']} ({c['code_insee']})" for c in cands)
        if row["methode"] == "ambigu":
            msg = (f"la commune « {row['texte']} » est ambiguë (candidates : {ctext}) : elle "
                   f"n'est pas devinée ; ses valeurs sont comptées en non localisé. Précisez "
                   f"le code INSEE dans le fichier ou choisissez la commune à l'import.")
        else:
            hint = f" Communes proches : {ctext}." if ctext else ""
            msg = (f"la commune « {row['texte']} » n'est pas reconnue : ses valeurs sont "
                   f"comptées en non localisé.{hint} Précisez le code INSEE ou choisissez "
                   f"la commune à l'import.")
        report.add("avertissement", "commune_" + ("ambigue" if row["methode"] == "ambigu"
                                                  else "inconnue"),
                   msg, row["feuille"], int(row["ligne"]))


def _choose_sheets(results: list[_SheetResult], annee: int, report: Report
                   ) -> list[_SheetResult]:
    if len(results) <= 1:
        return results
    names = {r.sheet.name: r for r in results}
    years = {n: {int(y) for y in _YEAR.findall(n)} for n in names}
    if any(years.values()):
        same_year = [names[n] for n, ys in years.items() if annee in ys or not ys]
        dropped = [n for n, ys in years.items() if ys and annee not in ys]
        if dropped and same_year:
            for n in dropped:
                report.feuilles.append({"nom": n, "role": f"ignorée (autre année que {annee})"})
            results = same_year
    if len(results) <= 1:
        return results
    periods = [bool(_PERIOD_SHEET.match(matching.normalize_name(r.sheet.name))) for r in results]
    if all(periods):
        report.add("avertissement", "feuilles_additionnees",
                   f"les feuilles {', '.join(r.sheet.name for r in results)} sont des périodes "
                   f"de l'année : leurs valeurs sont additionnées.")
        return results
    items = [set(r.obs["indicateur"].dropna()) for r in results]
    if all(a.isdisjoint(b) for k, a in enumerate(items) for b in items[k + 1:]):
        return results
    report.add("erreur", "feuilles_multiples",
               f"le classeur contient plusieurs feuilles de même nature "
               f"({', '.join(r.sheet.name for r in results)}) sans qu'on sache s'il faut les "
               f"additionner : précisez la ou les feuilles à importer (option --feuille).")
    return results


def read_contribution(source, filename: str | None = None, contributeur: str = "",
                      annee: int = 0, mapping_overrides: dict[str, str] | None = None,
                      commune_overrides: dict[str, str | None] | None = None,
                      feuilles: list[str] | None = None, departement: str | None = "config",
                      engine=None) -> Parsed:
    """Lit un fichier de contributeur sans rien enregistrer.

    Parameters
    ----------
    source : path-like, bytes or file-like
        Fichier reçu (chemin, contenu, ou objet fichier comme celui d'un
        ``st.file_uploader``).
    filename : str, optional
        Nom d'origine ; obligatoire quand ``source`` est un contenu.
    contributeur : str
        Identifiant du registre (``data/catalogues/contributeurs.csv``).
    annee : int
        Année N des données.
    mapping_overrides : dict, optional
        En-tête (ou libellé d'indicateur en format long) → code d'indicateur, choisis par
        l'agent pour cet import.
    commune_overrides : dict, optional
        Texte de la cellule commune → code INSEE choisi (ou None : non localisé).
    feuilles : list of str, optional
        Feuilles à lire (par défaut : toutes celles qui portent un tableau).
    departement : str or None, default "config"
        Département dont les noms de communes sont reconnus ; None = France entière.
    engine : Engine, optional
        Base où lire les correspondances mémorisées.

    Returns
    -------
    Parsed

    Raises
    ------
    FichierRefuseError
        Fichier dangereux, illisible, ou porteur de données personnelles
        (:class:`~observatoire.errors.DonneesPersonnellesError`).
    ObservatoireError
        Contributeur inconnu ou année invalide.
    """
    contrib = catalogues.get_contributeur(contributeur)
    annee = _check_year(annee)
    content, filename = _load_source(source, filename)
    name = Path(filename).name
    report = Report(fichier=name, contributeur=contrib.identifiant, annee=annee)
    kind = check_file(content, name)
    wb = read_any(content, kind, name)
    report.format = "modele" if wb.stamp and wb.stamp.get("indicateurs") else wb.format
    report.encodage = wb.encodage
    if departement == "config":
        departement = settings().departement
    index = matching.get_index(departement)
    remembered = None
    if engine is not None:
        from observatoire.ingest.headers import remembered_mappings
        remembered = remembered_mappings(contrib.identifiant, engine)
    mapper = HeaderMapper(contrib.identifiant, mapping_overrides, remembered)
    overrides = {str(k).strip(): v for k, v in (commune_overrides or {}).items()}

    sheets = wb.sheets
    if feuilles:
        missing = [f for f in feuilles if f not in {s.name for s in sheets}]
        if missing:
            raise ObservatoireError(
                f"Feuille(s) absente(s) du classeur : {', '.join(missing)}. Feuilles "
                f"présentes : {', '.join(s.name for s in sheets)}.")
        sheets = [s for s in sheets if s.name in feuilles]
    fixed: dict[str, Layout] = {}
    if report.format == "modele":
        sheets, fixed = _template_layout(wb, mapper)
        stamp = wb.stamp
        if stamp.get("contributeur") and stamp["contributeur"] != contrib.identifiant:
            report.add("avertissement", "modele_autre_contributeur",
                       f"ce modèle a été préparé pour « {stamp['contributeur']} », pas pour "
                       f"« {contrib.identifiant} » : vérifiez le contributeur choisi.")
        if stamp.get("annee") and stamp["annee"] != annee:
            report.add("avertissement", "modele_autre_annee",
                       f"ce modèle a été préparé pour l'année {stamp['annee']}, pas {annee} : "
                       f"vérifiez l'année choisie.")

    results: list[_SheetResult] = []
    for sheet in sheets:
        if sheet.hidden and not feuilles:
            report.feuilles.append({"nom": sheet.name, "role": "ignorée (masquée)"})
            continue
        if sheet.name in fixed:
            oriented, lay = sheet, fixed[sheet.name]
        else:
            oriented, lay = detect(sheet, mapper, index)
        check_personal_data(oriented, None if lay is None else lay.header,
                            skip_cols=[] if lay is None else lay.commune_cols)
        if lay is None:
            report.feuilles.append({"nom": sheet.name,
                                    "role": "ignorée (aucun tableau par commune reconnu)"})
            continue
        res = _observations(oriented, lay, mapper, annee, index, overrides, report)
        results.append(res)
    # Contrôle des données personnelles des feuilles non retenues aussi (ci-dessus) :
    # on ne refuse qu'après avoir tout vu d'une feuille, mais avant tout stockage.
    results = _choose_sheets(results, annee, report)
    for res in results:
        role = "lue" + (" (transposée : communes en colonnes)" if res.sheet.transposed else "")
        role += ", format long" if res.layout.is_long else ""
        report.feuilles.append({"nom": res.sheet.name, "role": role})
        lay = res.layout
        for j, m in lay.unresolved.items():
            head = lay.headers.get(j, "")
            col = res.sheet.ref(lay.header, j)[1]
            report.entetes_non_resolus.append({"entete": head, "feuille": res.sheet.name,
                                               "colonne": col, "candidats": m.candidats})
            report.add("avertissement", "entete_non_reconnu",
                       f"la colonne « {head} » contient des nombres mais ne correspond à "
                       f"aucun indicateur : elle est ignorée. Candidats : {_cands_text(m)}. "
                       f"Confirmez la correspondance (« observatoire contributions "
                       f"correspondances --confirmer \"{head}=CODE\" ») puis réimportez.",
                       res.sheet.name, res.sheet.ref(lay.header, j)[0], col)
        for m in lay.item_cols.values():
            if m.hors_contributeur:
                report.add("avertissement", "indicateur_hors_contributeur",
                           f"l'indicateur « {m.indicateur} » n'est pas attendu de ce "
                           f"contributeur d'après le registre : chargé quand même ; vérifiez "
                           f"la correspondance.", res.sheet.name)
        _collect_errors(res, report)
        _check_totals(res, report)
        report.lignes_lues += res.lignes
    if not results:
        report.add("erreur", "aucun_tableau",
                   "aucun tableau d'effectifs par commune n'a été reconnu : il faut une colonne "
                   "de communes (code INSEE ou nom) et au moins une colonne d'indicateur. "
                   "Utilisez le modèle standard (« observatoire contributions modele »).")
    _year_hint(wb, name, annee, report)
    values = _finalise(results, report, index, contrib.identifiant,
                       national=departement is None) if results else \
        pd.DataFrame(columns=batches.VALUE_COLUMNS)
    if results and values.empty and report.ok:
        report.add("erreur", "aucune_valeur",
                   "aucune valeur n'a été lue dans le tableau reconnu : vérifiez que les "
                   "cellules contiennent des effectifs.")
    report.fill_values(values, index.noms)
    return Parsed(values=values, report=report, content=content, filename=name,
                  entetes_non_resolus=report.entetes_non_resolus,
                  communes_non_reconnues=report.communes_non_reconnues)


def _year_hint(wb: Workbook, name: str, annee: int, report: Report) -> None:
    texts = [name] + [s.name for s in wb.sheets]
    for s in wb.sheets:
        top = s.cells.iloc[:3]
        texts += [v for v in top.to_numpy().ravel() if isinstance(v, str)]
    years = {int(y) for t in texts for y in _YEAR.findall(t)}
    if years and annee not in years:
        report.add("avertissement", "annee_differente",
                   f"le fichier mentionne l'année {', '.join(map(str, sorted(years)))} et non "
                   f"{annee} : vérifiez l'année choisie.")


def _check_year(annee) -> int:
    try:
        annee = int(annee)
    except (TypeError, ValueError) as exc:
        raise ObservatoireError(f"L'année « {annee} » n'est pas un nombre.") from exc
    this_year = dt.date.today().year
    if not 2000 <= annee <= this_year + 1:
        raise ObservatoireError(
            f"L'année {annee} est hors des bornes acceptées (2000 à {this_year + 1}).")
    return annee


def import_contribution(source, filename: str | None = None, contributeur: str = "",
                        annee: int = 0, simulation: bool = False,
                        utilisateur: str = "inconnu",
                        mapping_overrides: dict[str, str] | None = None,
                        commune_overrides: dict[str, str | None] | None = None,
                        feuilles: list[str] | None = None, engine=None) -> Report:
    """Lit un fichier de contributeur puis l'enregistre comme lot (une transaction).

    Parameters
    ----------
    source, filename, contributeur, annee, mapping_overrides, commune_overrides, feuilles
        Voir :func:`read_contribution`.
    simulation : bool, default False
        Lecture complète et rapport, rien n'est enregistré (ni base, ni archive) ; un
        fichier aux valeurs invalides donne un rapport ``ok`` faux au lieu d'une exception.
    utilisateur : str
        Qui importe (conservé avec le lot et dans le journal).
    engine : Engine, optional

    Returns
    -------
    Report
        ``statut`` : ``simulation``, ``nouveau``, ``remplace`` ou ``inchange``.

    Raises
    ------
    FichierRefuseError
        Fichier refusé : rien n'est enregistré. L'attribut ``rapport`` de l'exception
        porte le rapport complet quand le refus vient des valeurs.
    """
    from observatoire import storage

    engine = engine or storage.get_engine()
    parsed = read_contribution(source, filename, contributeur, annee, mapping_overrides,
                               commune_overrides, feuilles, engine=engine)
    report = parsed.report
    if simulation:
        report.statut = "simulation" if report.ok else "refuse"
        return report
    if not report.ok:
        report.statut = "refuse"
        first = "; ".join(i.to_text() for i in report.erreurs[:5])
        more = f" (et {len(report.erreurs) - 5} autres)" if len(report.erreurs) > 5 else ""
        exc = FichierRefuseError(
            f"Fichier « {parsed.filename} » refusé, rien n'a été enregistré : {first}{more}.")
        exc.rapport = report
        raise exc
    result = batches.store_batch(
        contributeur=report.contributeur, annee=report.annee, fichier=parsed.filename,
        contenu=parsed.content, values=parsed.values, utilisateur=utilisateur,
        rapport=report.to_dict(with_values=False), engine=engine)
    report.statut, report.lot_id = result.statut, result.lot_id
    report.remplace_lot_id = result.remplace_lot_id
    for entete, code in (mapping_overrides or {}).items():
        remember_mapping(report.contributeur, entete, code, utilisateur, engine)
    return report
