"""Banc d'essai : publication par défaut du Pas-de-Calais sur la démonstration.

Ce que produit ``observatoire publier --annee N --sortie DOSSIER`` sans autre option :
les indicateurs configurés (``[publication]`` de ``config/territoire.toml``), le
département et ses 7 arrondissements (PDF, SVG, PNG), cartes par EPCI et des
étiquettes, atlas, Excel, CSV, HTML. Objectif : moins de 60 s sur 2 cœurs.

Imprime, en temps écoulé et en temps de processeur (la machine est partagée : le temps
écoulé dépend de sa charge, que le banc d'essai imprime aussi) :

1. la publication complète : durée par artefact, cartes décomposées (dessin, PDF, SVG,
   PNG), total ;
2. son détail, mesuré ici en enveloppant les fonctions de matplotlib et de
   ``print_maps`` (la même mesure vaut pour le code d'avant) : dessin des cartes,
   chaque format, pages de l'atlas, écriture des polices ;
3. face à face, mesurés dans ce même run sur les mêmes figures, l'ancien enregistrement
   et l'actuel : PDF d'une carte du département avec les polices TrueType (sous-ensemble
   calculé par fontTools à chaque fichier) puis Type 3 ; PNG à 300 dpi puis à la
   résolution retenue ; pages de tableau de l'atlas dessinées un texte par ligne puis
   d'un seul artiste.

    .venv/bin/python benchmarks/bench_publication.py [--indicateurs a,b] [--annee 2024]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
GEOJSON = SHARED / "geo" / "pas-de-calais" / "communes-62-pas-de-calais.geojson"
#: Mesures alternées de chaque variante des comparaisons (médiane imprimée).
REPETITIONS = 3


class Chronos:
    """Temps écoulé et de processeur cumulés par clé."""

    def __init__(self):
        self.ecoule = collections.Counter()
        self.cpu = collections.Counter()
        self.nombre = collections.Counter()

    @contextlib.contextmanager
    def mesure(self, cle: str):
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.ecoule[cle] += time.perf_counter() - t0
            self.cpu[cle] += time.process_time() - c0
            self.nombre[cle] += 1

    def envelopper(self, objet, nom: str, cle) -> None:
        """Remplace ``objet.nom`` par la même fonction, chronométrée sous ``cle(args)``."""
        fonction = getattr(objet, nom)

        def chronometree(*args, **kwargs):
            with self.mesure(cle(args, kwargs) if callable(cle) else cle):
                return fonction(*args, **kwargs)

        setattr(objet, nom, chronometree)


def _instrumenter(chronos: Chronos) -> None:
    """Chronomètre le dessin des cartes, chaque enregistrement et l'écriture des polices."""
    from matplotlib.backends import backend_pdf
    from matplotlib.figure import Figure

    from observatoire.exports import print_maps as pm

    def cle_savefig(args, kwargs):
        fig, cible = args[0], args[1]
        if isinstance(cible, backend_pdf.PdfPages):
            paysage = fig.get_figwidth() > fig.get_figheight()
            return "atlas : pages de carte" if paysage else "atlas : autres pages"
        fmt = kwargs.get("format") or Path(str(cible)).suffix.lstrip(".")
        return f"cartes : {fmt.upper()}"

    chronos.envelopper(pm, "figure_carte", "cartes : dessin")
    chronos.envelopper(Figure, "savefig", cle_savefig)
    chronos.envelopper(backend_pdf.PdfPages, "close", "atlas : fin du fichier")
    chronos.envelopper(backend_pdf.PdfFile, "writeFonts", "polices des PDF (déjà comptées)")


def _mediane(mesures: list[tuple[float, float]]) -> tuple[float, float]:
    return (statistics.median(m[0] for m in mesures),
            statistics.median(m[1] for m in mesures))


def _comparer(variantes: dict, repetitions: int = REPETITIONS) -> dict:
    """Mesure chaque variante ``nom -> fonction() -> octets`` en alternance."""
    mesures = {nom: [] for nom in variantes}
    tailles = {}
    for _ in range(repetitions):
        for nom, f in variantes.items():
            t0, c0 = time.perf_counter(), time.process_time()
            tailles[nom] = len(f())
            mesures[nom].append((time.perf_counter() - t0, time.process_time() - c0))
    return {nom: (*_mediane(m), tailles[nom]) for nom, m in mesures.items()}


def _imprimer_comparaison(titre: str, res: dict) -> None:
    print(f"\n{titre}")
    (ref, (e0, c0, _t0)), *autres = res.items()
    for nom, (e, c, taille) in res.items():
        rapport = "" if nom == ref else f"   soit {c / c0:4.2f} × le processeur de la référence"
        print(f"  {nom:<52s} {e:5.2f} s écoulées, {c:5.2f} s de processeur, "
              f"{taille / 1024:7.0f} Ko{rapport}")


def _pdf_ancien(fig, annee: int) -> bytes:
    """Carte en PDF comme avant : polices TrueType (Type 42), sous-ensemble par fichier."""
    import matplotlib.pyplot as plt

    from observatoire.exports import print_maps as pm

    buf = io.BytesIO()
    with plt.rc_context({**pm.RC, "pdf.fonttype": 42}):
        fig.savefig(buf, format="pdf", metadata=pm.metadonnees(annee, "pdf"),
                    facecolor="white")
    return buf.getvalue()


def _png_ancien(fig, annee: int) -> bytes:
    """Carte en PNG comme avant : 300 dpi pour toutes les cartes."""
    import matplotlib.pyplot as plt

    from observatoire.exports import print_maps as pm

    buf = io.BytesIO()
    with plt.rc_context(pm.RC):
        fig.savefig(buf, format="png", dpi=300, metadata=pm.metadonnees(annee, "png"),
                    facecolor="white", pil_kwargs={"compress_level": 3})
    return buf.getvalue()


def _enregistrement_actuel(fig, dossier: Path, annee: int, fmt: str, **options) -> bytes:
    from observatoire.exports import print_maps as pm

    (p,) = pm.enregistrer(fig, dossier / "carte", annee, formats=(fmt,), fermer=False,
                          **options)
    return p.read_bytes()


def _tableau_ancien(fig, entetes, lignes, y0=0.90, largeurs=None, taille=7.0,
                    alignement=None) -> None:
    """Référence : le tableau de l'atlas tel qu'il se dessinait, un texte par ligne.

    Mêmes colonnes, même police à chasse fixe, mêmes bandes grisées ; chaque ligne est
    un ``ax.text`` dont les espaces alignent les colonnes.
    """
    import textwrap

    import matplotlib.pyplot as plt

    from observatoire.exports import atlas

    n = len(entetes)
    largeurs = largeurs or [1 / n] * n
    alignement = alignement or ["left"] + ["right"] * (n - 1)
    nb = int(0.86 * fig.get_figwidth() * 72 / (0.602 * taille))
    cols = [max(4, int(w / sum(largeurs) * nb) - 2) for w in largeurs]
    pas = 0.0145 * taille / 7.0

    def cellule(texte, largeur, a):
        texte = str(texte)
        texte = texte[: largeur - 1] + "…" if len(texte) > largeur else texte
        return texte.ljust(largeur) if a == "left" else texte.rjust(largeur)

    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    morceaux = [textwrap.wrap(h, c) or [""] for h, c in zip(entetes, cols, strict=True)]
    n_ent = max(len(m) for m in morceaux)
    ax.add_patch(plt.Rectangle((0.065, y0 - pas * (n_ent - 0.5)), 0.87, pas * n_ent,
                               facecolor="#e6e6e6", edgecolor="none"))
    for k in range(n_ent):
        ax.text(0.07, y0 - k * pas, "  ".join(
            cellule(m[k] if k < len(m) else "", c, a)
            for m, c, a in zip(morceaux, cols, alignement, strict=True)),
            fontsize=taille, fontweight="bold", va="center", fontfamily=atlas.POLICE_TABLEAU)
    y = y0 - (n_ent - 1) * pas
    for i, row in enumerate(lignes):
        y -= pas
        if i % 2 == 1:
            ax.add_patch(plt.Rectangle((0.065, y - pas * 0.5), 0.87, pas, facecolor="#f5f5f5",
                                       edgecolor="none"))
        ax.text(0.07, y, "  ".join(cellule(v, c, a) for v, c, a in zip(
            row, cols, alignement, strict=True)).rstrip(), fontsize=taille, va="center",
            fontfamily=atlas.POLICE_TABLEAU)


def _pages_de_tableau(pub, indicateur: str, code: str, ancien: bool) -> bytes:
    """Les pages du tableau des communes d'un arrondissement, en un PDF."""
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    from observatoire.exports import atlas
    from observatoire.exports import print_maps as pm

    lignes = atlas._lignes_communes(pub, indicateur, code)
    blocs = [lignes[i:i + atlas.LIGNES_PAR_PAGE]
             for i in range(0, len(lignes), atlas.LIGNES_PAR_PAGE)]
    buf = io.BytesIO()
    alignement = ["left", "left", "right", "right", "right", "right", "left"]
    with plt.rc_context({**pm.RC, "pdf.fonttype": 42} if ancien else pm.RC), \
            PdfPages(buf, metadata=pm.metadonnees(pub.annee, "pdf")) as pdf:
        for bloc in blocs:
            fig = atlas._figure()
            atlas._titre(fig, "Arrondissement — communes")
            dessiner = _tableau_ancien if ancien else atlas._tableau
            dessiner(fig, atlas.ENTETES_COMMUNES, bloc, 0.90, atlas.LARGEURS_COMMUNES,
                     alignement=alignement)
            pdf.savefig(fig)
    return buf.getvalue()


def comparaisons(pub, dossier: Path) -> None:
    """Ancien et nouvel enregistrement, sur les mêmes figures, dans ce même run."""
    from observatoire.exports import atlas
    from observatoire.exports import print_maps as pm

    dossier.mkdir(parents=True, exist_ok=True)
    ind = next(iter(pub.indicateurs))
    c = pm.classification_pour(pub, ind)
    code = pub.arrondissements()[0][0]
    print(f"\nComparaisons sur les mêmes figures (indicateur {ind}, médiane de "
          f"{REPETITIONS} mesures alternées)")
    fig = pm.figure_carte(pub, ind, "departement", c)
    _imprimer_comparaison("PDF de la carte des taux du département", _comparer({
        "avant : polices TrueType, sous-ensemble par fichier": lambda: _pdf_ancien(
            fig, pub.annee),
        "maintenant (pm.enregistrer)": lambda: _enregistrement_actuel(
            fig, dossier, pub.annee, "pdf")}))
    _imprimer_comparaison("PNG de la carte des taux du département", _comparer({
        "avant : 300 dpi": lambda: _png_ancien(fig, pub.annee),
        "maintenant (pm.enregistrer)": lambda: _enregistrement_actuel(
            fig, dossier, pub.annee, "png")}))
    fig.clear()
    fig = pm.figure_carte(pub, ind, code, c)
    options = {}
    if hasattr(pm, "dpi_png"):
        options["dpi_png"] = pm.dpi_png(code)
    _imprimer_comparaison(f"PNG de la carte de l'arrondissement {code}", _comparer({
        "avant : 300 dpi": lambda: _png_ancien(fig, pub.annee),
        "maintenant (pm.enregistrer)": lambda: _enregistrement_actuel(
            fig, dossier, pub.annee, "png", **options)}))
    fig.clear()
    n = len(atlas._lignes_communes(pub, ind, code))
    _imprimer_comparaison(f"Pages du tableau des {n} communes de l'arrondissement {code} "
                          f"(dessin et PDF)", _comparer({
                              "avant : un texte par ligne, polices TrueType":
                                  lambda: _pages_de_tableau(pub, ind, code, True),
                              "maintenant (atlas._tableau)":
                                  lambda: _pages_de_tableau(pub, ind, code, False)}))


def _imprimer_publication(man: dict, total: float, cpu: float) -> None:
    print(f"\nPublication {man['annee']} ({', '.join(man['parametres']['indicateurs'])}) : "
          f"{len(man['fichiers'])} fichiers, "
          f"{sum(f['octets'] for f in man['fichiers']) / 2**20:.0f} Mo")
    cartes = {c: d for c, d in man["durees"].items() if c.startswith("carte ")}
    for cle, d in man["durees"].items():
        if cle not in cartes:
            print(f"  {cle:<58s} {d:6.1f} s")
    print(f"  {f'cartes ({len(cartes)}, 3 formats chacune)':<58s} "
          f"{sum(cartes.values()):6.1f} s")
    for cle, d in man.get("durees_cartes", {}).items():
        print(f"  {f'  dont {cle}':<58s} {d:6.1f} s")
    print(f"  {'TOTAL':<58s} {total:6.1f} s  (objectif < 60 s : "
          f"{'atteint' if total < 60 else 'NON atteint'})")
    print(f"  processeur consommé par la publication : {cpu:.1f} s ; charge de la machine "
          f"(1 min) : {os.getloadavg()[0]:.1f} pour {os.cpu_count()} cœurs")


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--indicateurs", default=None,
                   help="codes séparés par des virgules (défaut : ceux de la configuration)")
    p.add_argument("--annee", type=int, default=2024)
    p.add_argument("--sans-comparaisons", action="store_true",
                   help="seulement la publication complète")
    args = p.parse_args(argv)
    if not GEOJSON.exists():
        print(f"{GEOJSON} absent : banc d'essai impossible.")
        return {}
    indicateurs = [i for i in args.indicateurs.split(",") if i] if args.indicateurs else None
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
        from observatoire.exports import donnees, publier

        # La publication rassemblée par publier() sert ensuite aux comparaisons.
        rassemblees = []
        rassembler = donnees.rassembler

        def garder(*a, **k):
            rassemblees.append(rassembler(*a, **k))
            return rassemblees[-1]

        donnees.rassembler = garder
        chronos = Chronos()
        _instrumenter(chronos)
        t0, c0 = time.perf_counter(), time.process_time()
        man = publier(args.annee, Path(tmp) / "publication", indicateurs=indicateurs)
        total, cpu = time.perf_counter() - t0, time.process_time() - c0
        donnees.rassembler = rassembler
        _imprimer_publication(man, total, cpu)
        print("\n  détail (écoulé / processeur, nombre d'appels) :")
        for cle in sorted(chronos.ecoule):
            print(f"    {cle:<44s} {chronos.ecoule[cle]:6.1f} s / {chronos.cpu[cle]:5.1f} s "
                  f"({chronos.nombre[cle]})")
        if rassemblees and not args.sans_comparaisons:
            comparaisons(rassemblees[0], Path(tmp) / "comparaisons")
        return {"total": total, "processeur": cpu, **man["durees"]}


if __name__ == "__main__":
    main(sys.argv[1:])
