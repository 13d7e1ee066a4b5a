"""Régénère la couche web simplifiée des communes livrée avec l'application.

Sans contours importés, l'application, ``observatoire demo`` et ``observatoire publier``
affichent cette couche (et disent que ce sont des contours simplifiés) ; importer les
contours officiels la remplace. Seule la géométrie dérivée est versionnée, jamais le
fichier d'origine :

1. lecture des contours officiels (IGN ADMIN EXPRESS COG) par la chaîne d'import du
   référentiel (``observatoire.referentiel.lecture``) ;
2. rapprochement avec le COG actuel (``rapprochement.reconcile``) : les communes
   absorbées sont dissoutes dans leur commune actuelle (891 polygones 2018 → 887) ;
3. simplification de couverture (``shapely.coverage_simplify``, 100 m, celle de l'import) :
   les voisines restent jointives ;
4. écriture en TopoJSON quantifié (limites partagées écrites une fois, environ 5 m de
   grille), lisible par GDAL, QGIS et ``pyogrio`` ;
5. origine, date, licence et empreinte du fichier lu dans le TopoJSON (membre
   ``metadonnees``) et dans une fiche de source à côté.

Usage :
    python scripts/generer_contours_simplifies.py
    python scripts/generer_contours_simplifies.py --source CHEMIN --departement 62 \\
        --millesime 2018 --source-texte "IGN – ADMIN EXPRESS COG 2018"
"""

from __future__ import annotations

import argparse
import hashlib
import json
from datetime import date
from pathlib import Path

import geopandas as gpd

from observatoire import maps
from observatoire.referentiel import lecture, niveaux, rapprochement, simplifies

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = ROOT.parent / "shared" / "geo" / "pas-de-calais" / \
    "communes-62-pas-de-calais.geojson"


def build(source: Path, departement: str, tolerance: float) -> tuple[dict, dict]:
    lu = lecture.read_boundaries(source)
    frame, repares, vides = lecture.repair(lu.frame)
    communes_geo, orphelins, rapport = rapprochement.reconcile(frame, departement, False)
    if not orphelins.empty:
        raise SystemExit(f"{len(orphelins)} polygone(s) non rapproché(s) : "
                         f"{', '.join(orphelins['code_source'])} ; corrigez la source.")
    gdf = niveaux.attach_attributes(communes_geo)
    gdf = gdf[gdf["code"].str.startswith(departement)]
    web = gdf[["code", "nom", "geometry"]].copy()
    web.geometry = gpd.GeoSeries(niveaux.simplify_coverage(gdf.geometry.values, tolerance),
                                 index=gdf.index, crs=gdf.crs)
    check = niveaux.coverage_check(web.geometry.values)
    if not check["valide"]:
        raise SystemExit(f"Couverture simplifiée invalide : {check}.")
    # Grille de 20 000 pas sur l'emprise (environ 5 m) ; arcs déjà simplifiés en couverture.
    topo = maps.encode_topology(web, {"nom": "nom"}, simplify=0, quantization=20_000)
    topo.pop("meshes")
    fusions = rapport[rapport["statut"].isin(["deleguee", "associee", "ancien_code"])]
    info = {"polygones_source": int(len(lu.frame)), "communes": int(len(web)),
            "fusions": [f"{r.code_source} {r.nom_source} → {r.code_actuel} {r.nom_actuel}"
                        for r in fusions.itertuples(index=False)],
            "repares": len(repares), "vides": len(vides)}
    return topo, info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--departement", default="62")
    parser.add_argument("--millesime", default="2018")
    parser.add_argument("--source-texte", default="IGN – ADMIN EXPRESS COG 2018")
    parser.add_argument("--provenance",
                        default="redistribution gregoiredavid/france-geojson v2.1.1, "
                                "contours déjà généralisés par mapshaper")
    parser.add_argument("--tolerance", type=float, default=niveaux.TOLERANCE_WEB)
    args = parser.parse_args()
    topo, info = build(args.source, args.departement, args.tolerance)
    sortie = simplifies.chemin(args.departement)
    sortie.parent.mkdir(parents=True, exist_ok=True)
    empreinte = hashlib.sha256(args.source.read_bytes()).hexdigest()
    meta = {"source": args.source_texte, "millesime": args.millesime,
            "departement": args.departement,
            "fichier_source": args.source.name, "provenance": args.provenance,
            "sha256_source": empreinte,
            "genere_le": date.today().isoformat(), "tolerance_m": args.tolerance,
            "licence": "Licence Ouverte / Open Licence version 2.0 (Etalab)", **info}
    # Membre supplémentaire du TopoJSON : ignoré par GDAL, lu par l'application.
    topo["metadonnees"] = meta
    sortie.write_text(json.dumps(topo, ensure_ascii=False, separators=(",", ":")),
                      encoding="utf-8")
    fusions = "\n".join(f"  - {f}" for f in info["fusions"]) or "  - aucune"
    simplifies.chemin_source(args.departement).write_text(f"""\
# Contours simplifiés des communes ({args.departement})

`{sortie.name}` : couche web des {info['communes']} communes actuelles du
département {args.departement}, livrée avec l'application pour qu'une installation neuve
montre une carte. Générée par `scripts/generer_contours_simplifies.py` le
{meta['genere_le']}.

- **Source :** {args.source_texte}, fichier `{args.source.name}` ({args.provenance} ;
  SHA-256 `{empreinte[:16]}…`), {info['polygones_source']} polygones.
- **Licence :** {meta['licence']}. Attribution : « {args.source_texte} ; traitement :
  Observatoire territorial des violences intrafamiliales ».
- **Transformations :** rapprochement avec le Code officiel géographique actuel
  (`@etalab/decoupage-administratif`, voir `SOURCE.md`), communes absorbées dissoutes
  dans leur commune actuelle :
{fusions}
- simplification de couverture (`shapely.coverage_simplify`, {args.tolerance:g} m) : les
  communes voisines gardent leurs limites communes, sans trou ni chevauchement ;
- TopoJSON quantifié (WGS 84, grille d'environ 5 m), seules propriétés : code INSEE (`id`)
  et nom. Seule cette géométrie dérivée est versionnée, jamais le fichier d'origine.

Ces contours servent tant que les contours officiels ne sont pas importés
(`observatoire referentiel importer` ou la page Référentiel) : l'import les remplace.
""", encoding="utf-8")
    print(f"{sortie} : {info['communes']} communes, {sortie.stat().st_size // 1024} Ko")


if __name__ == "__main__":
    main()
