"""Benchmark : import de toutes les communes de métropole (../shared/geo/france/).

Mesure, pour chaque étape de ``referentiel.import_boundaries`` (lecture, rapprochement,
dissolution, simplification, écriture), la durée et le pic de mémoire résidente du
processus (échantillonné dans /proc, car GEOS alloue hors de portée de tracemalloc).
Cible : moins de 60 s et moins de 4 Go sur la machine de CI (2 cœurs).

Ce n'est pas un test : le script imprime ses chiffres. Usage ::

    .venv/bin/python benchmarks/bench_referentiel.py [CHEMIN_GPKG]
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = ROOT.parent / "shared" / "geo" / "france" / "communes-metropole-2018.gpkg"
TARGET_SECONDS = 60
TARGET_GB = 4


def _rss_bytes() -> int:
    """Mémoire résidente actuelle (Linux : /proc/self/statm ; sinon le pic getrusage)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class StepPeaks(dict):
    """Dictionnaire des durées d'étape qui note aussi le pic de mémoire de chaque étape.

    ``import_boundaries`` écrit la durée d'une étape à sa fin : le pic observé depuis la
    précédente écriture est donc celui de cette étape.
    """

    def __init__(self, interval: float = 0.01):
        super().__init__()
        self.peaks: dict[str, int] = {}
        self._peak = _rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, args=(interval,), daemon=True)

    def _sample(self, interval: float) -> None:
        while not self._stop.is_set():
            self._peak = max(self._peak, _rss_bytes())
            time.sleep(interval)

    def __setitem__(self, step, seconds):
        self._peak = max(self._peak, _rss_bytes())
        self.peaks[step] = self._peak
        self._peak = _rss_bytes()
        super().__setitem__(step, seconds)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _current_codes_absent_from(source: Path) -> list[str]:
    """Codes actuels des départements du fichier qui n'y figurent pas tels quels."""
    import pyogrio

    from observatoire import communes

    codes = set(pyogrio.read_dataframe(source, columns=["code"], read_geometry=False)["code"])
    cog = communes.load_communes(None)
    cog = cog[cog["departement"].isin({c[:2] for c in codes})]
    return sorted(set(cog["code_insee"]) - codes)


def main(argv: list[str] | None = None) -> dict:
    """Lance le benchmark et imprime ses chiffres ; renvoie le rapport d'import."""
    argv = sys.argv[1:] if argv is None else argv
    source = Path(argv[0]) if argv else DEFAULT_SOURCE
    if not source.exists():
        print(f"{source} absent : données partagées (../shared) indisponibles, rien à mesurer.")
        return {}
    with tempfile.TemporaryDirectory(prefix="bench-referentiel-") as data_dir:
        # Le référentiel du benchmark s'écrit dans un dossier jetable, jamais dans data/.
        os.environ["OBSERVATOIRE_DATA_DIR"] = data_dir
        from observatoire import config, referentiel

        config.settings.cache_clear()
        start_rss = _rss_bytes()
        tic = time.perf_counter()
        with StepPeaks() as steps:
            report = referentiel.import_boundaries(source, departement=None, timings=steps)
        total = time.perf_counter() - tic
        size = config.settings().geo_path.stat().st_size
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    print(f"Import de {source.name} (France entière, sans filtre de département)")
    print(f"{'étape':<16}{'durée (s)':>10}{'pic RSS (Mo)':>14}")
    for step, seconds in steps.items():
        print(f"{step:<16}{seconds:>10.2f}{steps.peaks[step] / 2**20:>14.0f}")
    print(f"{'total':<16}{total:>10.2f}{peak / 2**20:>14.0f}")
    print(f"mémoire au départ : {start_rss / 2**20:.0f} Mo ; GeoPackage écrit : "
          f"{size / 2**20:.1f} Mo")
    print()
    print(f"communes actuelles avec contour : {report['communes']}")
    print(f"EPCI : {report['epci']} ; arrondissements : {report['arrondissements']} ; "
          f"départements : {report['departements']}")
    by_status: dict[str, int] = {}
    for r in report["rapproches"]:
        by_status[r["statut"]] = by_status.get(r["statut"], 0) + 1
    print(f"codes périmés rattachés à leur commune actuelle : {len(report['rapproches'])} "
          f"({', '.join(f'{k} {v}' for k, v in sorted(by_status.items()))})")
    print(f"codes non rapprochés : {len(report['non_rapproches'])}")
    sans = [r["code_actuel"] for r in report["sans_contour"]]
    absent = _current_codes_absent_from(source)
    rebuilt = sorted(set(absent) - set(sans))
    print(f"communes actuelles dont le code manque au fichier : {len(absent)} ; "
          f"reconstituées depuis leurs anciens codes : {len(rebuilt)} ({', '.join(rebuilt)})")
    print(f"communes actuelles sans contour (listées) : {len(sans)} ({', '.join(sans)})")
    for r in report["repares"]:
        print(f"géométrie invalide réparée : {r['code']} ({r['raison']})")
    web = report["couverture"]["web"]
    print(f"couverture simplifiée valide : {web['valide']} "
          f"(arêtes incohérentes : {web['aretes_incoherentes']})")
    verdict = "atteinte" if total < TARGET_SECONDS and peak < TARGET_GB * 2**30 else "MANQUÉE"
    print(f"cible (< {TARGET_SECONDS} s, < {TARGET_GB} Go) : {verdict}")
    return report


if __name__ == "__main__":
    main()
