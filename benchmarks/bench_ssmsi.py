"""Banc de l'import SSMSI (imprime ses chiffres ; hors suite de tests).

Fichier national fictif à la taille de l'édition 2025 : toutes les communes de France ×
9 années (2016-2024) × 12 indicateurs ≈ 3,8 millions de lignes, mise en page « depuis
2025 », CSV.gz (« ; », virgule décimale) puis parquet. Mesure la lecture complète (filtre du
département, rattachement des codes, rapport) et l'import (lots enregistrés en une
transaction), avec la mémoire de pointe du processus.

Rien n'est écrit dans le dépôt : fichiers et base dans un dossier temporaire.
"""

from __future__ import annotations

import os
import resource
import tempfile
import time
from pathlib import Path

INDICATEURS = [
    "Violences physiques intrafamiliales", "Violences sexuelles",
    "Violences physiques hors cadre familial", "Vols avec armes", "Vols violents sans arme",
    "Vols sans violence contre des personnes", "Cambriolages de logement",
    "Vols de véhicules", "Vols dans les véhicules", "Vols d'accessoires sur véhicules",
    "Destructions et dégradations volontaires", "Usage de stupéfiants",
]
ANNEES = list(range(2016, 2025))


def _int(x: float) -> str:
    return f"{x:_.0f}".replace("_", " ")


def _setup(tmp: Path) -> None:
    os.environ["OBSERVATOIRE_DATA_DIR"] = str(tmp / "data")
    os.environ["OBSERVATOIRE_DB_URL"] = f"sqlite:///{tmp / 'data' / 'bench.db'}"
    from observatoire import config

    config.settings.cache_clear()


def build_file(tmp: Path) -> tuple[Path, Path, int]:
    """Écrit le fichier national fictif en CSV.gz et en parquet."""
    import numpy as np
    import pandas as pd

    from observatoire import communes

    codes = communes.load_communes(None)["code_insee"].to_numpy()
    n = len(codes) * len(ANNEES) * len(INDICATEURS)
    rng = np.random.default_rng(0)
    nombre = rng.poisson(6, n)
    diffuse = np.where(nombre > 5, "diff", "ndiff")
    frame = pd.DataFrame({
        "CODGEO_2025": np.repeat(codes, len(ANNEES) * len(INDICATEURS)),
        "annee": np.tile(np.repeat(ANNEES, len(INDICATEURS)), len(codes)),
        "indicateur": np.tile(INDICATEURS, len(codes) * len(ANNEES)),
        "unite_de_compte": "victime",
        "nombre": np.where(diffuse == "diff", nombre.astype(float), np.nan),
        "taux_pour_mille": np.where(diffuse == "diff", nombre / 3.1, np.nan),
        "est_diffuse": diffuse,
        "complement_info_nombre": np.where(diffuse == "ndiff", 2.5, np.nan),
        "complement_info_taux": np.where(diffuse == "ndiff", 0.8, np.nan),
        "insee_pop": 1000, "insee_pop_millesime": 2021, "insee_log": 500,
        "insee_log_millesime": 2021,
    })
    gz = tmp / "donnee-data.gouv-2024-geographie2025.csv.gz"
    frame.to_csv(gz, sep=";", decimal=",", index=False, compression="gzip")
    pq = tmp / "donnee-data.gouv-2024-geographie2025.parquet"
    frame.to_parquet(pq, index=False)
    return gz, pq, n


def main() -> None:
    """Construit le fichier, mesure lecture et import, imprime les chiffres."""
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        _setup(tmp)
        from observatoire import ssmsi

        t = time.perf_counter()
        gz, pq, n = build_file(tmp)
        print(f"Fichier fictif : {_int(n)} lignes ; CSV.gz {gz.stat().st_size / 1e6:.0f} Mo, "
              f"parquet {pq.stat().st_size / 1e6:.0f} Mo (construit en "
              f"{time.perf_counter() - t:.0f} s)")
        for path in (gz, pq):
            t = time.perf_counter()
            data = ssmsi.read_ssmsi(path)
            read_s = time.perf_counter() - t
            n_values = sum(len(v) for v in data.values.values())
            print(f"Lecture {path.suffix} : {read_s:.1f} s = {_int(n / read_s)} lignes/s ; "
                  f"{n_values} valeurs du département gardées")
        t = time.perf_counter()
        report = ssmsi.import_ssmsi(gz, utilisateur="banc")
        print(f"Import CSV.gz (lecture + {len(report.par_annee)} lots en une transaction) : "
              f"{time.perf_counter() - t:.1f} s ; statut {report.statut}")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"Mémoire de pointe du processus (construction du fichier fictif comprise) : "
              f"{peak:.0f} Mo")


if __name__ == "__main__":
    main()
