"""Carte de l'application : octets envoyés au navigateur et temps serveur.

Mesure, dans une seule exécution, sur les contours du Pas-de-Calais de ``../shared`` :

1. les octets de la couche des communes : ``folium.GeoJson`` naïf de la géométrie
   importée (et du fichier d'origine) face à notre TopoJSON quantifié, puis la page
   complète de la carte (valeurs, légende, couches) ; cible : ≤ 1/3 du naïf ;
2. le temps serveur du premier rendu de la page Carte (caches vides) et d'un
   changement d'année puis d'indicateur jamais calculés, sans préchauffage (AppTest,
   même code que le serveur) ; cibles : < 2 s et < 0,5 s. Le temps vu dans le
   navigateur est mesuré par ``bench_carte_navigateur.py``.

Usage : ``python benchmarks/bench_map.py`` (données : un dossier temporaire, contours
importés et démonstration chargée ; rien n'est écrit dans le dépôt).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "geo" / "pas-de-calais" / "communes-62-pas-de-calais.geojson"


def _prepare(data: Path) -> None:
    env = dict(os.environ, OBSERVATOIRE_DATA_DIR=str(data),
               OBSERVATOIRE_DB_URL=f"sqlite:///{data / 'observatoire.db'}")
    for args in (["referentiel", "importer", str(SHARED)], ["demo"]):
        subprocess.run([sys.executable, "-m", "observatoire", *args], env=env, check=True,
                       capture_output=True)
    os.environ.update({k: env[k] for k in ("OBSERVATOIRE_DATA_DIR", "OBSERVATOIRE_DB_URL")})


def bytes_side_by_side() -> None:
    import folium
    import geopandas as gpd

    from observatoire import classification as cl
    from observatoire import maps, referentiel, secrecy
    from observatoire.stats.analyse import analyser

    def naive(gdf) -> int:
        m = folium.Map()
        folium.GeoJson(gdf).add_to(m)
        return len(m.get_root().render().encode())

    imported = referentiel.load_layer("commune")
    n_imported = naive(imported.to_crs(4326))
    n_raw = naive(gpd.read_file(SHARED))
    web = referentiel.load_layer("commune", web=True)
    tic = time.perf_counter()
    topo = maps.encode_topology(web, {"n": "nom", "e": "epci", "a": "arrondissement"},
                                meshes=("epci", "arrondissement"))
    t_topo = time.perf_counter() - tic
    n_topo = len(maps.topology_json(topo).encode())
    table = secrecy.apply_public(analyser(2024, "victimes_accueillies"))
    classes = cl.classer_table(table, "taux", "quantiles", 5)
    values = maps.values_from_table(table, "taux", classes)
    page = maps.build_map(topo, values, palette=classes.couleurs,
                          legend=maps.legend_html("Taux", classes.styles()),
                          meshes=[{"name": "EPCI", "mesh": "epci"},
                                  {"name": "Arrondissements", "mesh": "arrondissement"}])
    n_page = len(page.get_root().render().encode())
    print("Octets envoyés au navigateur (couche des 887 communes)")
    print(f"  folium.GeoJson naïf, géométrie importée : {n_imported:>10,} o")
    print(f"  folium.GeoJson naïf, fichier d'origine  : {n_raw:>10,} o")
    print(f"  TopoJSON quantifié (arcs + propriétés)  : {n_topo:>10,} o  "
          f"= {n_topo / n_imported:.2f} × importée, {n_topo / n_raw:.2f} × fichier "
          f"(cible ≤ 0,33) ; encodage {t_topo:.2f} s (une fois, en cache)")
    print(f"  page complète (valeurs, légende, maillages) : {n_page:>6,} o  "
          f"= {n_page / n_raw:.2f} × fichier naïf")


def server_times() -> None:
    from streamlit.testing.v1 import AppTest

    import observatoire.app_pages.navigation  # noqa: F401  (imports hors mesure)

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    tic = time.perf_counter()
    at.run()
    first = time.perf_counter() - tic
    assert not at.exception, at.exception
    # Aucun préchauffage en arrière-plan : chaque sélection est calculée à la demande.
    tic = time.perf_counter()
    at.selectbox(key="carte_annee").select(2023).run()
    year = time.perf_counter() - tic
    tic = time.perf_counter()
    at.selectbox(key="carte_indicateur").select("faits_constates").run()
    item = time.perf_counter() - tic
    tic = time.perf_counter()
    at.selectbox(key="carte_indicateur").select("victimes_accueillies").run()
    back = time.perf_counter() - tic
    print("Temps serveur de la page Carte (AppTest)")
    print(f"  premier rendu, caches vides          : {first:.2f} s (cible < 2 s)")
    print(f"  changement d'année                   : {year:.2f} s (cible < 0,5 s)")
    print(f"  changement d'indicateur              : {item:.2f} s (cible < 0,5 s)")
    print(f"  retour à une sélection déjà vue      : {back:.2f} s")
    print("  (sélections jamais calculées, sans préchauffage ; dans le navigateur : "
          "bench_carte_navigateur.py)")


def main() -> None:
    if not SHARED.exists():
        print(f"{SHARED} absent : benchmark ignoré.")
        return
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        _prepare(data)
        bytes_side_by_side()
        server_times()


if __name__ == "__main__":
    main()
