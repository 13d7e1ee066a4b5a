"""Lance tous les benchmarks du projet (``make bench``) et résume leurs résultats.

Chaque script ``benchmarks/bench_*.py`` imprime ses propres chiffres et son rapport à sa
référence mesurée dans le même run (folium naïf pour la carte, lecture calamine nue pour
l'ingestion, boucle d'esda pour l'étape de Poisson, SQLite face à PostgreSQL pour
l'échelle nationale). Ce lanceur les exécute l'un après l'autre, dans cet ordre, chacun
dans son processus, recopie leur sortie, puis imprime un résumé daté (durée et statut de
chacun) et l'écrit dans ``build/benchmarks-<date>.txt`` pour le README.

Les benchmarks ne font pas partie de la suite de tests.

Usage : ``python benchmarks/run_all.py [NOM …]`` (``referentiel``, ``ingest``…
pour n'en lancer que certains).
"""

from __future__ import annotations

import datetime as dt
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: Ordre du pipeline ; tout autre bench_*.py présent passe ensuite, par ordre alphabétique.
ORDER = ["referentiel", "ingest", "stats", "map", "publication", "national"]


def discover(names: list[str] | None = None) -> list[Path]:
    """Scripts ``bench_*.py`` présents, dans l'ordre du pipeline."""
    found = {p.stem.removeprefix("bench_"): p for p in HERE.glob("bench_*.py")}
    ordered = [found[n] for n in ORDER if n in found]
    ordered += [p for n, p in sorted(found.items()) if n not in ORDER]
    if names:
        unknown = sorted(set(names) - set(found))
        if unknown:
            raise SystemExit(f"Benchmarks inconnus : {', '.join(unknown)} ; présents : "
                             f"{', '.join(sorted(found))}.")
        ordered = [p for p in ordered if p.stem.removeprefix("bench_") in names]
    return ordered


def machine() -> str:
    """Description courte de la machine (processeurs, mémoire, Python)."""
    try:
        import os

        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        cpus = os.cpu_count()
        return f"{cpus} cœurs, {mem:.0f} Go, Python {platform.python_version()}"
    except (ValueError, OSError):
        return f"Python {platform.python_version()}"


def main(argv: list[str] | None = None) -> int:
    """Lance les benchmarks ; code de sortie non nul si l'un d'eux a échoué."""
    argv = sys.argv[1:] if argv is None else argv
    scripts = discover(argv or None)
    started = dt.datetime.now()
    lines = [f"Benchmarks du {started:%d/%m/%Y %H:%M} — {machine()}"]
    print(lines[0], flush=True)
    if not scripts:
        print("Aucun script benchmarks/bench_*.py.")
        return 1
    summary = []
    for script in scripts:
        print(f"\n=== {script.name} ===", flush=True)
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, str(script)], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        output = []
        for line in proc.stdout:
            print(line, end="", flush=True)
            output.append(line)
        code = proc.wait()
        summary.append((script.name, code, time.perf_counter() - t0, "".join(output)))
    lines.append("")
    lines.append("| script | statut | durée |")
    lines.append("|---|---|---|")
    for name, code, secs, _out in summary:
        lines.append(f"| {name} | {'ok' if code == 0 else f'échec (code {code})'} | "
                     f"{secs:.0f} s |")
    print("\n" + "\n".join(lines[1:]))
    out_dir = ROOT / "build"
    out_dir.mkdir(exist_ok=True)
    report = out_dir / f"benchmarks-{started:%Y%m%d-%H%M}.txt"
    report.write_text("\n".join(lines) + "\n\n" + "\n".join(
        f"=== {name} ===\n{out}" for name, _c, _s, out in summary), encoding="utf-8")
    print(f"\nRapport complet : {report.relative_to(ROOT)}")
    return 0 if all(code == 0 for _n, code, _s, _o in summary) else 1


if __name__ == "__main__":
    sys.exit(main())
