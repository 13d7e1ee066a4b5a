"""Benchmark à l'échelle nationale : SQLite et PostgreSQL côte à côte.

Jeu généré (graine fixe) sur toutes les communes actuelles de France
(``communes.load_communes(None)``, environ 35 000), 10 contributeurs, 10 indicateurs,
10 années : 100 lots de 350 000 valeurs, 35 millions de valeurs. Étapes mesurées,
chacune dans son propre processus (durée et pic de mémoire résidente) :

1. chargement : les 100 lots par ``batches.store_batch`` (transaction, archive) ;
2. classification : ``stats.analyser_table`` sur toutes les communes de France, pour
   chaque indicateur et chaque année, après lecture par ``storage.current_values`` ;
3. carte : un département (celui de la configuration) — analyse, vue publique, topologie,
   carte Folium rendue en HTML (contours 2018 de ``../shared/geo/france``) ;
4. publication : ``exports.publier`` pour ce département, dernière année.

Une étape dont le module n'est pas encore là est signalée « indisponible », jamais
simulée. PostgreSQL : ``OBSERVATOIRE_TEST_PG_URL`` si défini, sinon une grappe jetable
démarrée par le script quand les binaires sont installés.

Usage : ``python benchmarks/bench_national.py [--annees 10] [--contributeurs 10]
[--indicateurs 10] [--moteurs sqlite,postgresql] [--json FICHIER]``.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FRANCE_GPKG = ROOT.parent / "shared" / "geo" / "france" / "communes-metropole-2018.gpkg"
STEPS = ("chargement", "classification", "carte", "publication")
PREMIERE_ANNEE = 2015


class Indisponible(Exception):
    """Le module nécessaire à l'étape n'existe pas (encore) dans le projet."""


def _rss_mo() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- données ---------------------------------------------------------------------------

def _plan(args) -> tuple[list[str], list[str], list[int]]:
    import pandas as pd

    from observatoire.config import CATALOGUE_DIR

    contributeurs = pd.read_csv(CATALOGUE_DIR / "contributeurs.csv", dtype=str)["identifiant"]
    indicateurs = pd.read_csv(CATALOGUE_DIR / "indicateurs.csv", dtype=str)["code"]
    contributeurs = list(contributeurs)[: args.contributeurs]
    contributeurs += [f"source_{i}" for i in range(len(contributeurs), args.contributeurs)]
    return (contributeurs, list(indicateurs)[: args.indicateurs],
            list(range(PREMIERE_ANNEE, PREMIERE_ANNEE + args.annees)))


def _batch(communes, indicateurs, seed: int):
    """Lot d'un contributeur pour une année : Poisson sur la population, petits masqués."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    n = len(communes)
    pop = np.tile(communes["population"].to_numpy(float), len(indicateurs))
    taux = np.repeat(rng.uniform(0.5, 8.0, len(indicateurs)), n) / 1000
    # Hétérogénéité communale (gamma) : des zones révélatrices existent vraiment.
    vals = rng.poisson(pop * taux * np.tile(rng.gamma(4.0, 0.25, n), len(indicateurs)))
    masque = (vals > 0) & (vals < 5) & (rng.random(vals.size) < 0.3)
    return pd.DataFrame({
        "code_insee": np.tile(communes["code_insee"].to_numpy(), len(indicateurs)),
        "libelle_non_localise": None,
        "indicateur": np.repeat(indicateurs, n),
        "valeur": pd.Series(vals, dtype="Int64").where(~masque),
        "masque": masque,
        "feuille": "Feuil1",
        "ligne": np.tile(np.arange(2, n + 2), len(indicateurs)),
        "colonne": np.repeat([f"C{i}" for i in range(len(indicateurs))], n),
    })


# --- étapes (chacune dans un processus neuf) ------------------------------------------

def step_chargement(args) -> dict:
    from observatoire import batches, communes, storage

    engine = storage.get_engine()
    france = communes.load_communes(None)
    contributeurs, indicateurs, annees = _plan(args)
    t_store = t_gen = 0.0
    n = 0
    for i, c in enumerate(contributeurs):
        for a in annees:
            t0 = time.perf_counter()
            values = _batch(france, indicateurs, seed=i * 1000 + a)
            # Le fichier archivé : un CSV de la taille de ce qu'enverrait le contributeur.
            contenu = values.to_csv(index=False, sep=";").encode("utf-8")
            t1 = time.perf_counter()
            batches.store_batch(contributeur=c, annee=a, fichier=f"{c}-{a}.csv",
                                contenu=contenu, values=values, utilisateur="benchmark",
                                engine=engine)
            t_gen += t1 - t0
            t_store += time.perf_counter() - t1
            n += len(values)
    return {"secondes_mesurees": t_store, "valeurs": n,
            "lots": len(contributeurs) * len(annees),
            "valeurs_par_s": round(n / t_store), "generation_s": round(t_gen, 1),
            "note": "durée = store_batch seul (génération et CSV à part)"}


def step_classification(args) -> dict:
    try:
        from observatoire.stats import analyser_table
    except ImportError as exc:
        raise Indisponible(f"observatoire.stats.analyser_table : {exc}") from exc
    from observatoire import communes, storage

    engine = storage.get_engine()
    france = communes.load_communes(None)
    _c, indicateurs, annees = _plan(args)
    t_lecture = t_analyse = 0.0
    etiquettes: dict[str, int] = {}
    for ind in indicateurs:
        for a in annees:
            t0 = time.perf_counter()
            valeurs = storage.current_values(engine, [a], [ind])
            t1 = time.perf_counter()
            table = analyser_table(valeurs, france, niveau="commune",
                                   zone_reference="departement")
            t_analyse += time.perf_counter() - t1
            t_lecture += t1 - t0
            for k, v in table["label"].value_counts().items():
                etiquettes[str(k)] = etiquettes.get(str(k), 0) + int(v)
    return {"secondes_mesurees": t_lecture + t_analyse, "analyses": len(indicateurs) * len(annees),
            "communes": len(france), "lecture_s": round(t_lecture, 1),
            "analyse_s": round(t_analyse, 1), "etiquettes": etiquettes}


def _module(name: str):
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise Indisponible(f"{name} : {exc}") from exc


def step_carte(args) -> dict:
    classification = _module("observatoire.classification")
    maps = _module("observatoire.maps")
    referentiel = _module("observatoire.referentiel")
    secrecy = _module("observatoire.secrecy")
    stats = _module("observatoire.stats")
    from observatoire.config import settings

    _c, indicateurs, annees = _plan(args)
    t0 = time.perf_counter()
    layer = referentiel.load_layer("commune", web=True)
    topo = maps.encode_topology(layer, {"n": "nom", "e": "epci", "a": "arrondissement"},
                                meshes=("epci", "arrondissement"))
    t1 = time.perf_counter()
    table = secrecy.apply_public(stats.analyser(annees[-1], indicateurs[0]))
    t2 = time.perf_counter()
    classes = classification.classer(table["taux"].dropna(), methode="quantiles", k=5)
    values = maps.values_from_table(table, "taux", classes,
                                    seuil_secret=settings().seuil_secret)
    m = maps.build_map(topo, values, palette=list(classes.couleurs))
    page = m.get_root().render()
    t3 = time.perf_counter()
    return {"secondes_mesurees": t3 - t0, "departement": settings().departement,
            "communes": len(layer), "topologie_s": round(t1 - t0, 2),
            "analyse_s": round(t2 - t1, 2), "rendu_s": round(t3 - t2, 2),
            "html_ko": round(len(page.encode()) / 1024)}


def step_publication(args) -> dict:
    exports = _module("observatoire.exports")
    if not hasattr(exports, "publier"):
        raise Indisponible("observatoire.exports.publier absent")
    from observatoire.config import settings

    _c, indicateurs, annees = _plan(args)
    sortie = Path(settings().data_dir) / "publication-bench"
    t0 = time.perf_counter()
    man = exports.publier(annees[-1], sortie, indicateurs=indicateurs)
    dt = time.perf_counter() - t0
    fichiers = [p for p in sortie.rglob("*") if p.is_file()]
    return {"secondes_mesurees": dt, "departement": settings().departement,
            "fichiers": len(fichiers),
            "mo_ecrits": round(sum(p.stat().st_size for p in fichiers) / 2**20, 1),
            "durees": {k: round(v, 1) for k, v in man.get("durees", {}).items()}}


def run_step(name: str, args) -> dict:
    """Exécute une étape dans ce processus ; rend durée, pic de mémoire, détails."""
    base = _rss_mo()
    t0 = time.perf_counter()
    try:
        detail = globals()[f"step_{name}"](args)
        status = "ok"
    except Indisponible as exc:
        detail, status = {"raison": str(exc)}, "indisponible"
    except Exception as exc:  # le benchmark rapporte l'échec et passe à l'étape suivante
        detail = {"raison": f"{type(exc).__name__}: {exc}",
                  "trace": traceback.format_exc(limit=4)}
        status = "echec"
    return {"etape": name, "statut": status, "secondes": time.perf_counter() - t0,
            "pic_mo": _rss_mo(), "base_mo": base, **detail}


# --- orchestration ---------------------------------------------------------------------

@contextlib.contextmanager
def postgres_server():
    """URL d'un serveur PostgreSQL : celui des tests, ou une grappe jetable."""
    url = os.environ.get("OBSERVATOIRE_TEST_PG_URL")
    if url:
        yield url, "serveur fourni (OBSERVATOIRE_TEST_PG_URL)"
        return
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not bins:
        yield None, "binaires PostgreSQL absents (paquet postgresql)"
        return
    bindir = Path(bins[-1]).parent
    tmp = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(tmp, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = tmp / "data"
    try:
        subprocess.run([*as_user, bindir / "initdb", "-D", data, "-U", "postgres",
                        "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"],
                       check=True, capture_output=True)
        # Réglages d'une installation ordinaire (fsync actif) : c'est un benchmark.
        subprocess.run([*as_user, bindir / "pg_ctl", "-D", data, "-l", tmp / "log", "-w",
                        "-o", f"-c listen_addresses=127.0.0.1 -p {port} -k {tmp}", "start"],
                       check=True, capture_output=True)
        yield (f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres",
               f"grappe jetable {bindir.parent.name} sur 127.0.0.1:{port}")
    finally:
        subprocess.run([*as_user, bindir / "pg_ctl", "-D", data, "-m", "fast", "stop"],
                       capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def _pg_database(server_url: str):
    import sqlalchemy as sa

    name = f"bench_national_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.engine.make_url(server_url).set(database=name).render_as_string(
            hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _prepare_geo(tmp: Path) -> tuple[Path | None, str]:
    """Importe une fois les contours du département configuré depuis le fichier national."""
    if not FRANCE_GPKG.exists():
        return None, f"{FRANCE_GPKG} absent"
    env = {**os.environ, "OBSERVATOIRE_DATA_DIR": str(tmp / "geo"),
           "OBSERVATOIRE_DB_URL": f"sqlite:///{tmp / 'geo' / 'x.db'}"}
    (tmp / "geo").mkdir()
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "observatoire", "referentiel", "importer",
                          str(FRANCE_GPKG)], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        return None, f"import des contours impossible : {out.stderr.strip()[-300:]}"
    return tmp / "geo" / "communes", f"contours importés en {time.perf_counter() - t0:.0f} s"


def _run_backend(label: str, url: str, tmp: Path, geo: Path | None, args) -> list[dict]:
    data = tmp / label / "data"
    data.mkdir(parents=True)
    if geo is not None:
        shutil.copytree(geo, data / "communes")
    env = {**os.environ, "OBSERVATOIRE_DATA_DIR": str(data), "OBSERVATOIRE_DB_URL": url}
    results = []
    for step in args.etapes:
        if step != "chargement" and any(r["etape"] == "chargement" and r["statut"] != "ok"
                                        for r in results):
            results.append({"etape": step, "statut": "indisponible", "moteur": label,
                            "raison": "chargement en échec"})
            continue
        cmd = [sys.executable, __file__, "--etape", step, "--annees", str(args.annees),
               "--contributeurs", str(args.contributeurs), "--indicateurs",
               str(args.indicateurs)]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True)
        lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
        if out.returncode != 0 or not lines:
            res = {"etape": step, "statut": "echec", "raison": out.stderr.strip()[-500:]}
        else:
            res = json.loads(lines[-1])
        res["moteur"] = label
        results.append(res)
        print(f"  [{label}] {step} : {_cell(res)}", flush=True)
    return results


def _cell(res: dict) -> str:
    if res["statut"] == "indisponible":
        return f"indisponible ({res['raison']})"
    if res["statut"] != "ok":
        return f"échec ({res['raison'].splitlines()[-1] if res['raison'] else '?'})"
    return f"{_seconds(res):.1f} s, pic {res['pic_mo']:.0f} Mo"


def _seconds(res: dict) -> float:
    """Durée de l'opération mesurée (sans l'import des modules ni la génération)."""
    return float(res.get("secondes_mesurees", res["secondes"]))


def _table(results: list[dict], moteurs: list[str]) -> str:
    by = {(r["moteur"], r["etape"]): r for r in results}
    lines = ["| étape | " + " | ".join(moteurs) + (" | PostgreSQL / SQLite |"
                                                     if len(moteurs) == 2 else "")]
    lines.append("|---" * (len(moteurs) + 1 + (len(moteurs) == 2)) + "|")
    for step in STEPS:
        cells = [_cell(by[(m, step)]) if (m, step) in by else "non lancé" for m in moteurs]
        row = f"| {step} | " + " | ".join(cells)
        if len(moteurs) == 2:
            a, b = by.get((moteurs[0], step)), by.get((moteurs[1], step))
            ratio = (f"{_seconds(b) / _seconds(a):.2f}"
                     if a and b and a["statut"] == b["statut"] == "ok" and _seconds(a) > 0
                     else "—")
            row += f" | {ratio}"
        lines.append(row + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Lance le benchmark national et imprime ses chiffres ; rend le code de sortie."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--annees", type=int, default=10)
    p.add_argument("--contributeurs", type=int, default=10)
    p.add_argument("--indicateurs", type=int, default=10)
    p.add_argument("--moteurs", default="sqlite,postgresql")
    p.add_argument("--etapes", default=",".join(STEPS))
    p.add_argument("--json", type=Path, help="écrit aussi les résultats dans ce fichier")
    p.add_argument("--etape", choices=STEPS, help=argparse.SUPPRESS)  # processus enfant
    args = p.parse_args(argv)
    if args.etape:
        print(json.dumps(run_step(args.etape, args), ensure_ascii=False, default=str))
        return 0
    args.etapes = [s for s in args.etapes.split(",") if s]
    moteurs = [m for m in args.moteurs.split(",") if m]
    n_val = 35_000 * args.contributeurs * args.indicateurs * args.annees
    print(f"Benchmark national : {args.contributeurs} contributeurs × {args.indicateurs} "
          f"indicateurs × {args.annees} années sur toutes les communes (≈ {n_val:,} "
          f"valeurs).".replace(",", " "))
    results: list[dict] = []
    tmp = Path(tempfile.mkdtemp(prefix="bench-national-"))
    try:
        geo, msg = _prepare_geo(tmp) if {"carte", "publication"} & set(args.etapes) \
            else (None, "non nécessaires")
        print(f"Contours du département : {msg}")
        labels = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
        with postgres_server() if "postgresql" in moteurs else \
                contextlib.nullcontext((None, "")) as (pg_url, pg_msg):
            for m in moteurs:
                if m == "sqlite":
                    results += _run_backend("SQLite", f"sqlite:///{tmp / 'sqlite.db'}", tmp,
                                            geo, args)
                elif m == "postgresql":
                    print(f"PostgreSQL : {pg_msg}")
                    if pg_url is None:
                        results += [{"moteur": "PostgreSQL", "etape": s,
                                     "statut": "indisponible", "raison": pg_msg}
                                    for s in args.etapes]
                        continue
                    with _pg_database(pg_url) as url:
                        results += _run_backend("PostgreSQL", url, tmp, geo, args)
        print()
        print(_table(results, [labels[m] for m in moteurs]))
        print("Temps : l'opération mesurée seule (sans import des modules ni génération des "
              "données) ; pic : mémoire résidente maximale du processus de l'étape.")
        if args.json:
            args.json.write_text(json.dumps(results, ensure_ascii=False, indent=2,
                                            default=str))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if any(r["statut"] == "echec" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
