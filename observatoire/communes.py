"""Référentiel des communes : tables attributaires versionnées (COG, populations, EPCI).

Les tables viennent de ``data/communes/`` (régénérées par
``scripts/generer_referentiel.py``). Les codes INSEE restent des chaînes de bout en
bout (zéros initiaux, 2A/2B). Les contours, eux, sont importés : voir
:mod:`observatoire.referentiel`.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

from observatoire.config import REFERENCE_DIR, settings

_STR = {"code_insee": str, "departement": str, "region": str, "arrondissement": str,
        "epci": str, "codes_postaux": str, "code": str, "code_commune": str, "chef_lieu": str}


def _read(name: str) -> pd.DataFrame:
    df = pd.read_csv(REFERENCE_DIR / f"{name}.csv", dtype=_STR, keep_default_na=False)
    return df


@lru_cache(maxsize=4)
def _all_communes() -> pd.DataFrame:
    df = _read("communes")
    df["population"] = df["population"].astype("int64")
    return df


def load_communes(departement: str | None = "config", arrondissements=None) -> pd.DataFrame:
    """Communes actuelles (COG) avec leurs attributs.

    Parameters
    ----------
    departement : str or None, default "config"
        Code du département ; ``"config"`` = celui de la configuration ; None = France entière.
    arrondissements : iterable of str, optional
        Restreint aux arrondissements donnés.

    Returns
    -------
    pandas.DataFrame
        Colonnes ``code_insee``, ``nom``, ``departement``, ``region``, ``arrondissement``,
        ``arrondissement_nom``, ``epci``, ``epci_nom``, ``population``, ``codes_postaux``.
    """
    df = _all_communes()
    if departement == "config":
        departement = settings().departement
    if departement is not None:
        df = df[df["departement"] == departement]
    if arrondissements:
        df = df[df["arrondissement"].isin(list(arrondissements))]
    return df.reset_index(drop=True).copy()


def load_territoire() -> pd.DataFrame:
    """Communes du territoire servi (département et arrondissements de la configuration)."""
    s = settings()
    return load_communes(s.departement, s.arrondissements or None)


def load_anciennes() -> pd.DataFrame:
    """Communes déléguées, associées, arrondissements municipaux et anciens codes, avec leur
    commune actuelle.

    Aux tables du COG s'ajoutent, s'il a été importé, les mouvements du fichier
    d'événements de l'INSEE (:func:`import_insee_events`) : noms des communes absorbées
    sans devenir déléguées (Canteleux → Bonnières) et anciens noms (Montreuil →
    Montreuil-sur-Mer).

    Returns
    -------
    pandas.DataFrame
        Colonnes ``code``, ``nom``, ``type`` (``deleguee``, ``associee``,
        ``arrondissement_municipal``, ``ancien_code``, ``ancien_nom``), ``code_commune``.
    """
    path = events_path()
    stamp = path.stat().st_mtime_ns if path.exists() else None
    return _anciennes(str(path), stamp)


@lru_cache(maxsize=2)
def _anciennes(path: str, stamp: int | None) -> pd.DataFrame:
    base = _read("communes_anciennes")
    if stamp is None:
        return base
    events = pd.read_csv(path, dtype=str, keep_default_na=False)
    # Un mouvement nommé remplace la ligne sans nom du COG pour le même ancien code.
    both = pd.concat([events[base.columns], base], ignore_index=True)
    both = both.drop_duplicates(["code", "type", "code_commune"], keep="first")
    return both.sort_values(["code", "type"], kind="stable").reset_index(drop=True)


def events_path():
    """Fichier des mouvements de communes importés (données de l'utilisateur, non versionné)."""
    return settings().data_dir / "communes" / "evenements.csv"


#: Types de mouvements INSEE qui changent le code d'une commune (fusions, communes
#: nouvelles, changements de département ou de chef-lieu).
_CODE_EVENTS = {"31", "32", "33", "34", "41", "50"}


def import_insee_events(path) -> dict:
    """Importe le fichier des mouvements de communes de l'INSEE (COG, « v_mvt_commune »).

    Chaque ancienne commune est rattachée à sa commune actuelle en suivant la chaîne des
    mouvements jusqu'au COG en vigueur ; un mouvement qui n'aboutit à aucune commune
    actuelle (commune rétablie depuis, par exemple) est compté et ignoré.

    Parameters
    ----------
    path : path-like
        CSV de l'INSEE (colonnes ``MOD``, ``DATE_EFF``, ``TYPECOM_AV``, ``COM_AV``,
        ``LIBELLE_AV``, ``TYPECOM_AP``, ``COM_AP``, ``LIBELLE_AP``).

    Returns
    -------
    dict
        ``anciens_codes``, ``anciens_noms``, ``ignores`` (nombres) et ``fichier``.

    Raises
    ------
    ObservatoireError
        Fichier illisible ou sans les colonnes attendues.
    """
    from pathlib import Path

    from observatoire.errors import ObservatoireError

    path = Path(path)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, sep=None, engine="python",
                          encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise ObservatoireError(f"Le fichier d'événements {path.name} est illisible : {exc}. "
                                f"Téléchargez le CSV « mouvements des communes » du COG de "
                                f"l'INSEE.") from exc
    raw.columns = [c.strip().upper() for c in raw.columns]
    needed = ["MOD", "TYPECOM_AV", "COM_AV", "LIBELLE_AV", "TYPECOM_AP", "COM_AP",
              "LIBELLE_AP"]
    missing = [c for c in needed if c not in raw.columns]
    if missing:
        raise ObservatoireError(
            f"Le fichier {path.name} n'a pas les colonnes du fichier des mouvements de "
            f"communes de l'INSEE (manquantes : {', '.join(missing)}).")
    current = set(_all_communes()["code_insee"])
    base = current_code_map()
    com = raw[(raw["TYPECOM_AV"] == "COM") & raw["TYPECOM_AP"].isin(["COM", "COMD", "COMA"])]
    moves = com[com["MOD"].isin(_CODE_EVENTS) & (com["COM_AV"] != com["COM_AP"])]
    forward: dict[str, str] = {}
    for av, ap in zip(moves["COM_AV"], moves["COM_AP"], strict=True):
        forward.setdefault(av, ap)

    def resolve(code: str) -> str | None:
        seen = set()
        while code not in current and code in forward and code not in seen:
            seen.add(code)
            code = forward[code]
        code = base.get(code, code)
        return code if code in current else None

    rows, ignored = [], 0
    for row in com.itertuples(index=False):
        if row.COM_AV != row.COM_AP and row.MOD in _CODE_EVENTS:
            kind = "ancien_code"
        elif row.COM_AV == row.COM_AP and row.LIBELLE_AV != row.LIBELLE_AP:
            kind = "ancien_nom"
        else:
            continue
        target = resolve(row.COM_AV if kind == "ancien_nom" else row.COM_AP)
        if target is None:
            ignored += 1
            continue
        rows.append({"code": row.COM_AV, "nom": row.LIBELLE_AV, "type": kind,
                     "code_commune": target})
    out = pd.DataFrame(rows, columns=["code", "nom", "type", "code_commune"]).drop_duplicates()
    dest = events_path()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".part")
    out.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n")
    tmp.replace(dest)
    return {"fichier": path.name, "anciens_codes": int((out["type"] == "ancien_code").sum()),
            "anciens_noms": int((out["type"] == "ancien_nom").sum()), "ignores": ignored}


@lru_cache(maxsize=1)
def load_epci() -> pd.DataFrame:
    """EPCI à fiscalité propre : ``epci``, ``nom``, ``type``, ``population``."""
    return _read("epci")


@lru_cache(maxsize=1)
def load_arrondissements() -> pd.DataFrame:
    """Arrondissements : ``arrondissement``, ``nom``, ``departement``, ``chef_lieu``."""
    return _read("arrondissements")


@lru_cache(maxsize=1)
def load_departements() -> pd.DataFrame:
    """Départements : ``departement``, ``nom``, ``region``, ``chef_lieu``."""
    return _read("departements")


def current_code_map() -> dict[str, str]:
    """Associe tout code connu (actuel, délégué, associé, ancien) à sa commune actuelle."""
    mapping = {c: c for c in _all_communes()["code_insee"].tolist()}
    anc = load_anciennes()
    for code, cible in zip(anc["code"].tolist(), anc["code_commune"].tolist(), strict=True):
        mapping.setdefault(code, cible)
    return mapping
