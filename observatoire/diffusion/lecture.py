"""Lire une diffusion publiée : ses tables en DataFrames, la série des années publiées.

Tout ce que le public voit (carte, fiche, tableaux, téléchargements, atlas, classeur,
CSV, HTML, ligne de commande publique) passe par ces fonctions, qui ne lisent que le
contenu public des diffusions validées.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from observatoire.errors import ObservatoireError

__all__ = ["indicateurs", "niveaux", "periodes", "serie", "table"]

#: Colonnes numériques d'une table publique.
NUMERIQUES = ("population", "personnes_annees", "taux", "taux_ic_bas", "taux_ic_haut",
              "attendu", "ratio", "taux_lisse", "p_exces", "p_defaut")


def indicateurs(public: dict) -> dict[str, str]:
    """Code -> libellé des indicateurs d'une diffusion, dans son ordre."""
    return {i["code"]: i["libelle"] for i in public.get("indicateurs", [])}


def periodes(public: dict, indicateur: str | None = None) -> list[str]:
    """Périodes publiées (l'année, un cumul, des années antérieures)."""
    vus = []
    for t in public.get("tables", []):
        if indicateur is None or t["indicateur"] == indicateur:
            if t["periode"] not in vus:
                vus.append(t["periode"])
    return vus


def niveaux(public: dict, indicateur: str, periode: str) -> list[str]:
    """Niveaux publiés d'un indicateur pour une période."""
    return [t["niveau"] for t in public.get("tables", [])
            if t["indicateur"] == indicateur and t["periode"] == periode]


def _brute(public: dict, indicateur: str, periode: str, niveau: str) -> dict | None:
    for t in public.get("tables", []):
        if (t["indicateur"], t["periode"], t["niveau"]) == (indicateur, periode, niveau):
            return t
    return None


def table(public: dict, indicateur: str, periode: str | int | None = None,
          niveau: str = "commune") -> pd.DataFrame:
    """Table publique d'une diffusion en DataFrame.

    Parameters
    ----------
    public : dict
        Contenu public d'une diffusion.
    indicateur : str
    periode : str or int, optional
        Par défaut l'année de la diffusion.
    niveau : {"commune", "epci", "arrondissement", "departement"}

    Returns
    -------
    pandas.DataFrame
        Colonnes de la diffusion (``code``, ``nom``, ``population``, ``etat``,
        ``secret``, ``observe`` (Int64), ``taux``, ``taux_ic_bas``, ``taux_ic_haut``,
        ``attendu``, ``ratio``, ``taux_lisse``, ``p_exces``, ``p_defaut``, ``label``,
        ``motif``), plus ``niveau`` et, pour les communes, ``epci`` et
        ``arrondissement``. ``attrs`` : ``annee``, ``periode``, ``phi``, ``seuil_p``,
        ``demo``, ``seuil_secret``.

    Raises
    ------
    ObservatoireError
        Table absente de la diffusion.
    """
    periode = str(periode if periode is not None else public["annee"])
    t = _brute(public, indicateur, periode, niveau)
    if t is None:
        raise ObservatoireError(
            f"La diffusion {public.get('annee')} ne publie pas « {indicateur} » "
            f"({periode}, niveau {niveau}).")
    df = pd.DataFrame(t["lignes"], columns=t["colonnes"])
    for c in NUMERIQUES:
        if c in df:
            df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    df["observe"] = pd.to_numeric(df["observe"], errors="coerce").astype("Int64")
    df["secret"] = df["secret"].astype(bool)
    df["code"] = df["code"].astype(str)
    df.insert(2, "niveau", niveau)
    from observatoire.stats.perimetres import COUVERTURES

    df["couverture_libelle"] = df["couverture"].map(COUVERTURES).astype(object)
    noms = public.get("geographie", {}).get("noms", {})
    if niveau == "commune":
        geo = public.get("geographie", {}).get("communes", {})
        if geo:
            g = pd.DataFrame(geo).set_index("code")
            for col in ("epci", "arrondissement"):
                df[col] = df["code"].map(g[col]).astype(object)
                df[f"{col}_nom"] = df[col].map(noms.get(col, {})).astype(object)
    df.attrs = {"annee": int(public["annee"]), "periode": periode, "niveau": niveau,
                "indicateur": indicateur, "phi": t.get("phi"), "seuil_p": t.get("seuil_p"),
                "annees": t.get("annees", []), "demo": bool(public.get("demo")),
                "seuil_secret": int(public.get("seuil_secret", 5)),
                "version": public.get("version")}
    # Ce que la diffusion dit publiquement de la mesure (sources attendues absentes…).
    meta = (public.get("meta") or {}).get(f"{indicateur}/{periode}") or {}
    df.attrs["sources_manquantes"] = meta.get("sources_manquantes") or []
    df.attrs["avertissements"] = [
        f"source attendue absente : {m.get('nom')} ({m.get('contributeur')}), "
        f"{m.get('annee')} — laissée de côté cette année-là, pour les effectifs comme pour "
        f"les attendus ; les communes qu'elle seule devait couvrir sont hors du périmètre "
        f"des sources" for m in df.attrs["sources_manquantes"]]
    if meta.get("denominateurs"):
        df.attrs["denominateurs"] = meta["denominateurs"]
    return df


def serie(publics: Mapping[int, dict], indicateur: str,
          niveaux_: Iterable[str] = ("arrondissement", "departement"),
          jusqu_a: int | None = None) -> pd.DataFrame:
    """Série annuelle publiée : chaque année lue dans sa propre diffusion validée.

    Une année qu'aucune diffusion validée n'a encore publiée est prise dans la plus
    récente diffusion qui la montre (ses années antérieures).

    Parameters
    ----------
    publics : mapping
        Année -> contenu public de la diffusion validée en vigueur.
    indicateur : str
    niveaux_ : iterable of str
    jusqu_a : int, optional
        Dernière année de la série.

    Returns
    -------
    pandas.DataFrame
        ``niveau``, ``code``, ``nom``, ``annee`` et les colonnes de :func:`table`.
    """
    morceaux: dict[tuple[int, str], pd.DataFrame] = {}
    for annee in sorted(publics, reverse=True):
        pub = publics[annee]
        for per in periodes(pub, indicateur):
            if "-" in per:
                continue
            a = int(per)
            if jusqu_a is not None and a > jusqu_a:
                continue
            for niv in niveaux_:
                cle = (a, niv)
                propre = a == annee
                if cle in morceaux and not propre:
                    continue
                if _brute(pub, indicateur, per, niv) is None:
                    continue
                t = table(pub, indicateur, per, niv)
                t.insert(3, "annee", a)
                morceaux[cle] = t
    if not morceaux:
        return pd.DataFrame(columns=["niveau", "code", "nom", "annee", "observe", "secret",
                                     "taux"])
    out = pd.concat([morceaux[k] for k in sorted(morceaux)], ignore_index=True)
    out["annee"] = out["annee"].astype(int)
    return out


def valeur_secrete(x) -> bool:
    """Vrai pour une valeur absente d'une cellule (None, NaN, <NA>)."""
    return x is None or x is pd.NA or (isinstance(x, float) and np.isnan(x))
