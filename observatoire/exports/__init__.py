"""Publication annuelle : cartes imprimables, atlas, classeur, CSV, HTML, manifeste.

:func:`publier` est l'unique entrée (commande ``observatoire publier`` et page
Publication de l'application). Tout ce qui sort passe par la vue publique
(les tables d'une diffusion validée, lues une fois dans
:func:`observatoire.exports.donnees.rassembler`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path

from observatoire.errors import ObservatoireError

__all__ = ["publier", "produire"]

#: Types d'artefacts, dans l'ordre de production.
ARTEFACTS = ("cartes", "atlas", "excel", "csv", "html")


def _cle_bornes(indicateur: str, niveau: str = "commune") -> str:
    return f"{indicateur}/taux/{niveau}"


def _nom_carte(indicateur: str, territoire: str, mesure: str, niveau: str) -> str:
    """Nom de fichier (sans extension) d'une carte."""
    nom = "departement" if territoire == "departement" else f"arrondissement-{territoire}"
    suffixe = "etiquettes" if mesure == "label" else "taux"
    return f"{indicateur}-{nom}-{suffixe}" + ("-epci" if niveau == "epci" else "")


def produire(pub, sortie: str | Path, *, territoires: Iterable[str] | None = None,
             bornes_fixes: bool = False, methode: str = "quantiles", k: int = 5,
             palette: str = "YlOrRd", dispositifs: bool = True,
             artefacts: Iterable[str] = ARTEFACTS,
             progress: Callable[[float, str], None] | None = None,
             chemin_bornes: Path | None = None) -> dict:
    """Produit tous les fichiers d'une :class:`~observatoire.exports.donnees.Publication`.

    Parameters
    ----------
    pub : Publication
        Entrées déjà passées par le secret statistique.
    sortie : path-like
        Dossier de sortie (créé au besoin).
    territoires : iterable of str, optional
        ``"departement"`` et/ou codes d'arrondissement ; par défaut le département et
        tous ses arrondissements.
    bornes_fixes : bool, default False
        Reprendre les bornes enregistrées les années précédentes (et enregistrer celles
        de cette année s'il n'y en a pas encore), pour comparer les cartes d'une année
        à l'autre.
    methode, k, palette
        Classification (voir :func:`observatoire.classification.classer`).
    dispositifs : bool, default True
        Couches des dispositifs et des référents sur les cartes.
    artefacts : iterable of str
        Parmi :data:`ARTEFACTS`.
    progress : callable, optional
        ``progress(fraction, message)`` après chaque étape.
    chemin_bornes : Path, optional
        Fichier des bornes fixes (par défaut ``<données>/publication/bornes_fixes.json``).

    Returns
    -------
    dict
        Le manifeste (aussi écrit dans ``sortie/manifeste.json``), avec
        ``durees`` (secondes par artefact) hors fichier.
    """
    from observatoire import classification as cl
    from observatoire.exports import atlas, excel, html, manifest, opendata
    from observatoire.exports import print_maps as pm

    sortie = Path(sortie)
    sortie.mkdir(parents=True, exist_ok=True)
    artefacts = list(artefacts)
    inconnus = set(artefacts) - set(ARTEFACTS)
    if inconnus:
        raise ObservatoireError(f"Artefacts inconnus : {', '.join(sorted(inconnus))} ; "
                                f"possibles : {', '.join(ARTEFACTS)}.")
    codes_arr = [c for c, _n in pub.arrondissements()]
    territoires = list(territoires) if territoires else ["departement"] + codes_arr
    for t in territoires:
        if t != "departement" and t not in codes_arr:
            raise ObservatoireError(
                f"Territoire « {t} » inconnu : « departement » ou un arrondissement parmi "
                f"{', '.join(codes_arr)}.")
    if chemin_bornes is None:
        from observatoire.config import settings

        chemin_bornes = settings().data_dir / "publication" / "bornes_fixes.json"
    classes, classes_epci, origine = {}, {}, {}
    for ind in pub.indicateurs:
        for niveau, dest, cle_origine in (("commune", classes, ind),
                                          ("epci", classes_epci, f"{ind} (EPCI)")):
            cle = _cle_bornes(ind, niveau)
            c = cl.charger_bornes_fixes(chemin_bornes, cle) if bornes_fixes else None
            if c is not None:
                dest[ind] = pm.classification_pour(pub, ind, niveau=niveau, bornes=c.bornes,
                                                   palette=c.palette)
                origine[cle_origine] = "bornes fixes enregistrées"
                continue
            dest[ind] = pm.classification_pour(pub, ind, niveau=niveau, methode=methode, k=k,
                                               palette=palette)
            origine[cle_origine] = methode
            if bornes_fixes:
                cl.enregistrer_bornes_fixes(chemin_bornes, cle, dest[ind],
                                            annee_origine=pub.annee)
                origine[cle_origine] = f"{methode}, enregistrées comme bornes fixes"
    cartes = []
    if "cartes" in artefacts:
        for ind in pub.indicateurs:
            for t in territoires:
                cartes.append((ind, t, "taux", "commune"))
            if "departement" in territoires:
                cartes.append((ind, "departement", "taux", "epci"))
                cartes.append((ind, "departement", "label", "commune"))
    # Avec l'atlas, chaque carte est dessinée à son tour de page, ses fichiers écrits de
    # la même figure, puis elle est libérée : une seule figure en mémoire à la fois.
    dans_atlas = "atlas" in artefacts
    etapes = [] if dans_atlas else [("cartes", c) for c in cartes]
    etapes += [(a, None) for a in ("atlas", "excel", "csv") if a in artefacts]
    if "html" in artefacts:
        etapes += [("html", ind) for ind in pub.indicateurs]
    fichiers: list[Path] = []
    durees: dict[str, float] = {}
    options = {"dispositifs": dispositifs, "referents": dispositifs}
    a_ecrire = set(cartes)
    n_etapes = len(etapes) + (len(cartes) if dans_atlas else 0) + 1
    faites = 0

    def avancer(message: str) -> None:
        nonlocal faites
        faites += 1
        if progress:
            progress(min(faites / n_etapes, 1.0), message)

    def ecrire_carte(cle: tuple, fig, duree_dessin: float = 0.0) -> None:
        """Les trois fichiers d'une carte (PDF, SVG, PNG), de la figure déjà dessinée."""
        if cle not in a_ecrire:
            return
        t0 = time.perf_counter()
        ind, terr, mesure, niveau = cle
        base = sortie / "cartes" / _nom_carte(ind, terr, mesure, niveau)
        fichiers.extend(pm.enregistrer(
            fig, base, pub.annee, fermer=not dans_atlas,
            titre=" — ".join(pm.titres(pub, ind, terr, mesure, niveau)),
            dpi_png=pm.dpi_png(terr, niveau)))
        nom = base.name.removeprefix(f"{ind}-")
        cle_duree = f"carte {nom} ({ind})"
        durees[cle_duree] = (durees.get(cle_duree, 0.0) + duree_dessin
                             + time.perf_counter() - t0)
        avancer(f"carte {pub.nom_territoire(terr)}")

    topologie = None
    for quoi, ind in etapes:
        t0 = time.perf_counter()
        if quoi == "cartes":
            i, terr, mesure, niveau = ind
            c = classes_epci[i] if niveau == "epci" else classes[i]
            td = time.perf_counter()
            fig = pm.figure_carte(pub, i, terr, c, mesure=mesure, niveau=niveau, **options)
            ecrire_carte(ind, fig, time.perf_counter() - td)
            continue
        if quoi == "atlas":
            durees_avant = sum(durees.values())
            fichiers.append(atlas.produire_atlas(pub, sortie / f"atlas-{pub.annee}.pdf",
                                                 classes, options=options,
                                                 classifications_epci=classes_epci,
                                                 apres_carte=ecrire_carte))
            cle = msg = "atlas"
            # Le temps des cartes (dessin et fichiers) est compté à chaque carte.
            t0 += sum(durees.values()) - durees_avant
        elif quoi == "excel":
            fichiers.append(excel.produire_excel(pub, sortie / f"tableaux-{pub.annee}.xlsx"))
            cle = msg = "classeur Excel"
        elif quoi == "csv":
            fichiers += opendata.produire_csv(pub, sortie / f"donnees-{pub.annee}.csv")
            cle = msg = "CSV open data"
        else:
            if topologie is None:  # une fois pour tous les indicateurs
                topologie = html.encoder_topologie(pub)
            fichiers.append(html.produire_html(pub, sortie / f"carte-{ind}-{pub.annee}.html",
                                               ind, classes[ind], topologie=topologie))
            cle, msg = f"html ({ind})", "carte interactive"
        durees[cle] = durees.get(cle, 0.0) + time.perf_counter() - t0
        avancer(msg)
    parametres = {"annee": pub.annee, "territoires": territoires,
                  "indicateurs": list(pub.indicateurs), "methode": methode, "k": k,
                  "palette": palette, "bornes_fixes": bornes_fixes,
                  "origine_classes": origine, "dispositifs": dispositifs,
                  "artefacts": artefacts}
    toutes = {**classes, **{f"{ind}/epci": c for ind, c in classes_epci.items()}}
    man = manifest.construire(pub, sortie, fichiers, parametres, toutes)
    manifest.ecrire(man, sortie)
    if progress:
        progress(1.0, "manifeste")
    man["durees"] = durees
    return man


def publier(annee: int, sortie: str | Path, territoires: Iterable[str] | None = None,
            indicateurs: Iterable[str] | None = None,
            progress: Callable[[float, str], None] | None = None, *,
            bornes_fixes: bool = False, methode: str = "quantiles", k: int = 5,
            palette: str = "YlOrRd", dispositifs: bool = True,
            artefacts: Iterable[str] = ARTEFACTS, engine=None) -> dict:
    """Produit la publication annuelle complète depuis la base.

    Parameters
    ----------
    annee : int
        Année des données (publiée en novembre N+1).
    sortie : path-like
        Dossier de sortie.
    territoires : iterable of str, optional
        ``"departement"`` et/ou codes d'arrondissement (défaut : tous).
    indicateurs : iterable of str, optional
        Codes du catalogue (défaut : tous ceux qui ont des valeurs pour ``annee``).
    progress : callable, optional
        ``progress(fraction, message)`` : pour la barre de progression de l'application.
    bornes_fixes, methode, k, palette, dispositifs, artefacts
        Voir :func:`produire`.
    engine : sqlalchemy.engine.Engine, optional

    Returns
    -------
    dict
        Manifeste (fichiers et SHA-256, entrées, paramètres) et ``durees``.

    Examples
    --------
    >>> from observatoire.exports import publier  # doctest: +SKIP
    >>> man = publier(2024, "publication-2024", progress=lambda f, m: print(f, m))  # doctest: +SKIP
    """
    from observatoire.exports.donnees import rassembler

    t0 = time.perf_counter()
    if progress:
        progress(0.0, "analyse et secret statistique")
    pub = rassembler(int(annee), indicateurs, dispositifs=dispositifs, engine=engine)
    t_analyse = time.perf_counter() - t0
    man = produire(pub, sortie, territoires=territoires, bornes_fixes=bornes_fixes,
                   methode=methode, k=k, palette=palette, dispositifs=dispositifs,
                   artefacts=artefacts, progress=progress)
    man["durees"] = {"analyse et secret": t_analyse, **man["durees"]}
    return man
