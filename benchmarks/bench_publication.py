"""Banc d'essai : publication complète du Pas-de-Calais sur la démonstration.

Département + 7 arrondissements (PDF, SVG, PNG chacun), carte des étiquettes, atlas,
classeur Excel, CSV, carte HTML : temps par artefact et total (objectif : < 60 s sur
2 cœurs). Utilise un dossier de données temporaire : la base du projet n'est pas touchée.

    .venv/bin/python benchmarks/bench_publication.py [--indicateur CODE]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
GEOJSON = SHARED / "geo" / "pas-de-calais" / "communes-62-pas-de-calais.geojson"


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--indicateur", default="victimes_accompagnees")
    p.add_argument("--annee", type=int, default=2024)
    args = p.parse_args(argv)
    if not GEOJSON.exists():
        print(f"{GEOJSON} absent : banc d'essai impossible.")
        return {}
    with tempfile.TemporaryDirectory(prefix="bench-publication-") as tmp:
        os.environ["OBSERVATOIRE_DATA_DIR"] = str(Path(tmp) / "data")
        os.environ["OBSERVATOIRE_DB_URL"] = f"sqlite:///{Path(tmp) / 'data' / 'obs.db'}"
        from observatoire import config, demo, referentiel, storage

        config.settings.cache_clear()
        storage.reset_engines()
        t0 = time.perf_counter()
        # Millésime et source tels que les décrit /work/shared/geo/pas-de-calais/README.md.
        referentiel.import_boundaries(GEOJSON, millesime="2018",
                                      attribution="IGN – ADMIN EXPRESS COG 2018")
        demo.load_demo()
        print(f"préparation (contours + démonstration, hors mesure) : "
              f"{time.perf_counter() - t0:.1f} s")
        from observatoire.exports import publier

        t0, c0 = time.perf_counter(), time.process_time()
        man = publier(args.annee, Path(tmp) / "publication", indicateurs=[args.indicateur])
        total, cpu = time.perf_counter() - t0, time.process_time() - c0
        print(f"\nPublication {args.annee}, indicateur {args.indicateur} : "
              f"{len(man['fichiers'])} fichiers")
        for cle, d in man["durees"].items():
            print(f"  {cle:<60s} {d:6.1f} s")
        cartes = sum(d for c, d in man["durees"].items() if c.startswith("carte "))
        print(f"  {'dont cartes (8 territoires + EPCI + étiquettes, × 3 formats)':<60s} "
              f"{cartes:6.1f} s")
        print(f"  {'TOTAL':<60s} {total:6.1f} s  (objectif < 60 s : "
              f"{'atteint' if total < 60 else 'NON atteint'})")
        print(f"  processeur consommé par la publication : {cpu:.1f} s ; charge de la machine "
              f"(1 min) : {os.getloadavg()[0]:.1f} pour {os.cpu_count()} cœurs")
        return {"total": total, "processeur": cpu, **man["durees"]}


if __name__ == "__main__":
    main(sys.argv[1:])
