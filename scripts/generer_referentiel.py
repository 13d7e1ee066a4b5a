"""Régénère les tables de référence versionnées sous data/communes/.

Source : paquet npm @etalab/decoupage-administratif (version épinglée ci-dessous), qui
reprend le Code officiel géographique de l'INSEE avec les populations légales, les
arrondissements, les EPCI et les codes postaux. Licence Ouverte / Open Licence.

Usage :
    python scripts/generer_referentiel.py            # télécharge le paquet avec npm pack
    python scripts/generer_referentiel.py --source node_modules/@etalab/decoupage-administratif
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tarfile
import tempfile
from datetime import date
from pathlib import Path

import pandas as pd

PACKAGE = "@etalab/decoupage-administratif"
VERSION = "6.0.0"
OUT = Path(__file__).resolve().parent.parent / "data" / "communes"


def fetch_package(workdir: Path) -> Path:
    subprocess.run(["npm", "pack", f"{PACKAGE}@{VERSION}", "--silent"], cwd=workdir, check=True,
                   capture_output=True)
    tgz = next(workdir.glob("*.tgz"))
    with tarfile.open(tgz) as tar:
        tar.extractall(workdir, filter="data")
    return workdir / "package"


def build(source: Path) -> dict[str, pd.DataFrame]:
    data = source / "data"
    communes = json.loads((data / "communes.json").read_text(encoding="utf-8"))
    arrs = pd.DataFrame(json.loads((data / "arrondissements.json").read_text(encoding="utf-8")))
    deps = pd.DataFrame(json.loads((data / "departements.json").read_text(encoding="utf-8")))
    epcis = json.loads((data / "epci.json").read_text(encoding="utf-8"))

    epci_of = {m["code"]: e["code"] for e in epcis for m in e["membres"]}
    arr_nom = dict(zip(arrs["code"], arrs["nom"], strict=True))
    epci_nom = {e["code"]: e["nom"] for e in epcis}

    actuelles = [c for c in communes if c["type"] == "commune-actuelle"]
    df = pd.DataFrame(
        {
            "code_insee": [c["code"] for c in actuelles],
            "nom": [c["nom"] for c in actuelles],
            "departement": [c["departement"] for c in actuelles],
            "region": [c.get("region", "") for c in actuelles],
            "arrondissement": [c.get("arrondissement", "") for c in actuelles],
            "epci": [epci_of.get(c["code"], "") for c in actuelles],
            "population": [int(c.get("population") or 0) for c in actuelles],
            "codes_postaux": ["|".join(c.get("codesPostaux", [])) for c in actuelles],
        }
    )
    df["arrondissement_nom"] = df["arrondissement"].map(arr_nom).fillna("")
    df["epci_nom"] = df["epci"].map(epci_nom).fillna("")
    df = df[["code_insee", "nom", "departement", "region", "arrondissement", "arrondissement_nom",
             "epci", "epci_nom", "population", "codes_postaux"]].sort_values("code_insee")

    rows = []
    for c in communes:
        if c["type"] in ("commune-deleguee", "commune-associee"):
            rows.append({"code": c["code"], "nom": c["nom"],
                         "type": c["type"].removeprefix("commune-"),
                         "code_commune": c["chefLieu"]})
        elif c["type"] == "arrondissement-municipal":
            # Paris, Lyon, Marseille : chaque arrondissement municipal compte pour sa commune.
            rows.append({"code": c["code"], "nom": c["nom"], "type": "arrondissement_municipal",
                         "code_commune": c["commune"]})
    for c in actuelles:
        for old in c.get("anciensCodes", []) or []:
            rows.append({"code": old, "nom": "", "type": "ancien_code", "code_commune": c["code"]})
    anciennes = pd.DataFrame(rows).drop_duplicates().sort_values(["code", "type"])

    epci_df = pd.DataFrame(
        {"epci": [e["code"] for e in epcis], "nom": [e["nom"] for e in epcis],
         "type": [e.get("type", "") for e in epcis],
         "population": [e.get("populationMunicipale", 0) for e in epcis]}
    ).sort_values("epci")
    arr_df = arrs[["code", "nom", "departement", "chefLieu"]].rename(
        columns={"code": "arrondissement", "chefLieu": "chef_lieu"}).sort_values("arrondissement")
    dep_df = deps[["code", "nom", "region", "chefLieu"]].rename(
        columns={"code": "departement", "chefLieu": "chef_lieu"}).sort_values("departement")
    return {"communes": df, "communes_anciennes": anciennes, "epci": epci_df,
            "arrondissements": arr_df, "departements": dep_df}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, help="dossier du paquet déjà installé")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        source = args.source or fetch_package(Path(tmp))
        version = json.loads((source / "package.json").read_text())["version"]
        if version != VERSION:
            raise SystemExit(f"Version {version} trouvée, {VERSION} attendue.")
        tables = build(source)
    OUT.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        table.to_csv(OUT / f"{name}.csv", index=False, encoding="utf-8", lineterminator="\n")
    (OUT / "SOURCE.md").write_text(
        f"""# Tables de référence des communes

Générées par `scripts/generer_referentiel.py` le {date.today().isoformat()}.

- **Source :** paquet npm `{PACKAGE}` version **{VERSION}** (Etalab), qui reprend le Code
  officiel géographique (COG) de l'INSEE, les populations légales (population municipale),
  les arrondissements, les EPCI à fiscalité propre et les codes postaux.
- **Licence :** Licence Ouverte / Open Licence (Etalab). Attribution : « INSEE – Code
  officiel géographique et populations légales ; Etalab – decoupage-administratif {VERSION} ».

| fichier | contenu |
|---|---|
| `communes.csv` | {len(tables['communes'])} communes actuelles : code INSEE (texte), nom, département, région, arrondissement (code et nom), EPCI (code SIREN et nom), population municipale, codes postaux séparés par `|` |
| `communes_anciennes.csv` | {len(tables['communes_anciennes'])} lignes : communes déléguées et associées (`type` = `deleguee`/`associee`), arrondissements municipaux de Paris, Lyon et Marseille (`arrondissement_municipal`) et anciens codes absorbés (`ancien_code`), chacun avec le code de sa commune actuelle (`code_commune`) |
| `epci.csv` | {len(tables['epci'])} EPCI : code SIREN, nom, type, population municipale |
| `arrondissements.csv` | {len(tables['arrondissements'])} arrondissements : code INSEE (3 ou 4 caractères), nom, département, chef-lieu |
| `departements.csv` | {len(tables['departements'])} départements |

Les contours ne sont pas versionnés : ils s'importent (`observatoire referentiel importer`).
""",
        encoding="utf-8",
    )
    print(f"Tables écrites dans {OUT}")


if __name__ == "__main__":
    main()
