"""CSV open data : UTF-8, séparateur « ; », colonnes documentées, secret appliqué.

Une ligne par (indicateur, niveau, unité). Une valeur secrète est une cellule vide
avec ``secret = oui`` : un zéro publié reste un zéro. Le schéma (Table Schema,
``schema.data.gouv.fr``) accompagne le fichier et documente chaque colonne.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from observatoire.exports.donnees import Publication

#: (colonne, type Table Schema, description) : l'ordre est celui du fichier.
SCHEMA = [
    ("annee", "integer", "Année des données"),
    ("indicateur", "string", "Code de l'indicateur (catalogue de l'observatoire)"),
    ("indicateur_libelle", "string", "Libellé de l'indicateur"),
    ("niveau", "string", "commune, epci, arrondissement ou departement"),
    ("code", "string", "Code INSEE (commune, arrondissement, département) ou SIREN (EPCI)"),
    ("nom", "string", "Nom de l'unité"),
    ("population", "integer", "Population municipale (INSEE)"),
    ("observe", "integer", "Effectif observé ; vide si secret ou sans donnée"),
    ("attendu", "number", "Effectif attendu selon la population et le taux de référence"),
    ("ratio", "number", "Ratio observé / attendu"),
    ("taux", "number", "Taux pour 1 000 habitants"),
    ("taux_lisse", "number", "Taux lissé (Bayes empirique) pour 1 000 habitants"),
    ("label", "string", "révélatrice, pas d'écart détecté, blanche présumée ou non concluant ; "
                        "vide hors du périmètre des sources"),
    ("secret", "string", "oui si la valeur est couverte par le secret statistique"),
    ("demo", "string", "oui pour des données fictives de démonstration"),
    ("couverture", "string", "couverte, couverte en partie, ou hors du périmètre des sources "
                             "(aucune source reçue ne couvre l'unité : effectif inconnu, ni "
                             "nul ni secret)"),
]
COUVERTURE_CSV = {"complete": "couverte", "partielle": "couverte en partie",
                  "hors_perimetre": "hors du périmètre des sources"}
DECIMALES = {"attendu": 2, "ratio": 3, "taux": 2, "taux_lisse": 2}


def _nombre(x, d: int | None) -> str:
    if x is None or x is pd.NA or (isinstance(x, float) and np.isnan(x)):
        return ""
    if d is None:
        return str(int(round(float(x))))
    return f"{float(x):.{d}f}".replace(".", ",")


def _cellule(v: str) -> str:
    v = v.replace("\r", " ").replace("\n", " ")
    if v.startswith(("=", "+", "-", "@", "\t")):
        v = "'" + v  # un tableur n'y verra pas de formule
    if any(ch in v for ch in ';"'):
        v = '"' + v.replace('"', '""') + '"'
    return v


def produire_csv(pub: Publication, chemin: Path) -> list[Path]:
    """Écrit le CSV et son schéma (``.schema.json``).

    Parameters
    ----------
    pub : Publication
    chemin : Path
        Fichier ``.csv``.

    Returns
    -------
    list of Path
        Le CSV et le schéma.
    """
    lignes = [";".join(c for c, _t, _d in SCHEMA)]
    for ind, lib in pub.indicateurs.items():
        for niveau in ("commune", "epci", "arrondissement", "departement"):
            t = pub.table(ind, niveau)
            for r in t.itertuples(index=False):
                r = r._asdict()
                sec = bool(r.get("secret") is True)
                vals = {"annee": str(pub.annee), "indicateur": ind, "indicateur_libelle": lib,
                        "niveau": niveau, "code": str(r["code"]), "nom": str(r["nom"]),
                        "population": _nombre(r.get("population"), None),
                        "label": r["label"] if isinstance(r.get("label"), str) else "",
                        "secret": "oui" if sec else "non", "demo": "oui" if pub.demo else "non",
                        "couverture": COUVERTURE_CSV.get(str(r.get("couverture")), "couverte")}
                for c in ("observe", "attendu", "ratio", "taux", "taux_lisse"):
                    vals[c] = "" if sec else _nombre(r.get(c), DECIMALES.get(c))
                lignes.append(";".join(_cellule(vals[c]) for c, _t, _d in SCHEMA))
    chemin.parent.mkdir(parents=True, exist_ok=True)
    chemin.write_text("\n".join(lignes) + "\n", encoding="utf-8", newline="\n")
    schema = {
        "name": chemin.stem, "title": f"Observatoire des VIF — {pub.territoire_nom} — "
                                     f"{pub.annee}",
        "encoding": "utf-8", "dialect": {"delimiter": ";", "lineTerminator": "\n"},
        "fields": [{"name": c, "type": t, "description": d,
                    **({"decimalChar": ","} if t == "number" else {})} for c, t, d in SCHEMA],
        "missingValues": [""],
    }
    sch = chemin.with_suffix(".schema.json")
    sch.write_text(json.dumps(schema, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return [chemin, sch]
