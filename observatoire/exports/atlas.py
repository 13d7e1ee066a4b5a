"""Atlas PDF A4 : couverture, sommaire, cartes, tableaux, tendances, couverture, méthode.

Une page = une figure matplotlib A4 portrait ajoutée à un ``PdfPages``. Le plan est
établi avant de dessiner, pour que le sommaire donne les vrais numéros de page.
Chaque page porte son numéro, la date des données et, en démonstration, la mention
« données fictives de démonstration ».
"""

from __future__ import annotations

import datetime as dt
import re
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.artist import Artist  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.font_manager import FontProperties  # noqa: E402

from observatoire import classification as cl  # noqa: E402
from observatoire.exports import print_maps as pm  # noqa: E402
from observatoire.exports.donnees import (  # noqa: E402
    MENTION_DEMO,
    Publication,
    note_sources_manquantes,
    texte_etiquette,
    texte_valeur,
)

#: Lignes de tableau par page A4 portrait (corps 7 pt).
LIGNES_PAR_PAGE = 58
#: Caractères par ligne de texte courant (corps 9 pt, marges de 2 cm).
LARGEUR_TEXTE = 100
LIGNES_TEXTE = 62


@dataclass
class Page:
    """Une page du plan : section (pour le sommaire) et ce qui la dessine.

    Une page de texte ou de tableau se dessine sur une figure A4 portrait neuve
    (``dessiner``) ; une page de carte (``carte``) est la figure A4 paysage de la carte
    isolée : reprise si elle est déjà dessinée, sinon dessinée une fois, donnée à
    l'appelant pour ses fichiers, puis libérée.
    """

    section: str | None
    dessiner: Callable[[Figure], None] | None = None
    #: Carte de la page : ``(indicateur, territoire, mesure, niveau)``.
    carte: tuple[str, str, str, str] | None = None
    classification: cl.Classification | None = None


def _figure() -> Figure:
    return Figure(figsize=pm.A4_PORTRAIT)


def _cadre(fig: Figure, pub: Publication, numero: int, total: int, *,
           filigrane: bool = True) -> list:
    """Pied de page de l'atlas (numéro, territoire, mention de démonstration).

    Returns
    -------
    list
        Les textes ajoutés, pour les retirer d'une figure de carte reprise.
    """
    portrait = fig.get_figwidth() < fig.get_figheight()
    x0, x1 = (0.07, 0.93) if portrait else (0.03, 0.97)
    ajouts = [
        fig.text(x1, 0.018, f"page {numero} / {total}", ha="right", fontsize=7.5,
                 color="#444"),
        fig.text(x0, 0.018, f"Observatoire territorial des VIF — {pub.territoire_nom} — "
                 f"données {pub.annee}", fontsize=7, color="#444")]
    if pub.demo:
        # En portrait, au-dessus du numéro ; en paysage (carte reprise), au centre du pied.
        ajouts.append(fig.text(x1 if portrait else 0.5, 0.034 if portrait else 0.018,
                               MENTION_DEMO, ha="right" if portrait else "center",
                               fontsize=7.5, color="#b2182b", fontweight="bold"))
        if filigrane:  # une carte reprise a déjà le sien
            ajouts.append(pm.filigrane(fig, MENTION_DEMO, taille=34, rotation=55, alpha=0.08))
    return ajouts


def _titre(fig: Figure, titre: str, sous: str = "") -> None:
    fig.text(0.07, 0.955, titre, fontsize=13, fontweight="bold", va="top")
    if sous:
        fig.text(0.07, 0.93, sous, fontsize=9.5, va="top", color="#333")


def _texte(fig: Figure, lignes: list[str], y0: float = 0.90, taille: float = 8.5) -> None:
    pas = 0.0135 * taille / 8.5
    for i, ligne in enumerate(lignes):
        gras = ligne.startswith("## ")
        fig.text(0.07, y0 - i * pas, ligne[3:] if gras else ligne, fontsize=taille + (1 if gras
                 else 0), fontweight="bold" if gras else "normal", va="top")


def _markdown_lignes(md: str) -> list[str]:
    """Markdown simple -> lignes repliées (titres en « ## », listes en « – »)."""
    out: list[str] = []
    for bloc in re.split(r"\n\s*\n", md.strip()):
        bloc = bloc.strip()
        if not bloc:
            continue
        if bloc.startswith("#"):
            out += ["", "## " + bloc.lstrip("#").strip()]
            continue
        for para in re.split(r"\n(?=\s*[-*] |\s*\d+\. )", bloc):
            para = re.sub(r"\s+", " ", para).strip()
            para = re.sub(r"\*\*(.+?)\*\*|\*(.+?)\*|`(.+?)`",
                          lambda m: next(g for g in m.groups() if g), para)
            para = re.sub(r"\[(.+?)\]\((.+?)\)", r"\1", para)
            puce = para[:2] in ("- ", "* ")
            if puce:
                para = "– " + para[2:]
            out += textwrap.wrap(para, LARGEUR_TEXTE, subsequent_indent="  " if puce else "")
        out.append("")
    return out


#: Police des tableaux : à chasse fixe, une ligne de tableau = un seul texte.
POLICE_TABLEAU = "DejaVu Sans Mono"
_CHASSE = 0.602  # avance d'un caractère de DejaVu Sans Mono, en em
_SEP = "  "  # entre deux colonnes


def _cellule(texte: str, largeur: int, alignement: str) -> str:
    texte = str(texte)
    if len(texte) > largeur:
        texte = texte[: largeur - 1] + "…"
    return texte.ljust(largeur) if alignement == "left" else texte.rjust(largeur)


class _Lignes(Artist):
    """Toutes les lignes d'un tableau en un seul artiste.

    Chaque ligne va droit au moteur de rendu (``renderer.draw_text``), à sa position :
    pas de mise en page de matplotlib par texte (un ``Text`` par ligne coûtait la
    moitié du temps d'une page de tableau). Une ligne reste un seul texte, colonnes
    alignées par des espaces en police à chasse fixe : ``pdftotext -layout`` la rend
    telle quelle, même là où passe le filigrane. Les lignes sont centrées sur leur
    ordonnée, au même pas quel que soit leur contenu.

    Parameters
    ----------
    lignes : list of tuple
        ``(x, y, texte, gras)`` : début et milieu de la ligne, en fractions de la figure.
    taille : float
        Corps en points.
    """

    def __init__(self, lignes: list[tuple[float, float, str, bool]], taille: float):
        super().__init__()
        self._lignes = lignes
        self._polices = {gras: FontProperties(family=POLICE_TABLEAU, size=taille,
                                              weight="bold" if gras else "normal")
                         for gras in (False, True)}
        self.set_zorder(3)

    def draw(self, renderer) -> None:
        if not self.get_visible():
            return
        # Ligne de base mesurée une fois par graisse, dans les unités du moteur (points
        # en PDF, pixels en PNG) : milieu de la boîte de « lp », comme va="center".
        base = {}
        for gras, police in self._polices.items():
            _l, hauteur, descente = renderer.get_text_width_height_descent(
                "lp", police, ismath=False)
            base[gras] = hauteur / 2 - descente
        xy = self.get_transform().transform([(x, y) for x, y, *_r in self._lignes])
        gc = renderer.new_gc()
        gc.set_foreground("black")
        renderer.open_group("tableau", gid=self.get_gid())
        for (px, py), (_x, _y, texte, gras) in zip(xy, self._lignes, strict=True):
            renderer.draw_text(gc, px, py - base[gras], texte, self._polices[gras], 0)
        renderer.close_group("tableau")
        gc.restore()
        self.stale = False


def _tableau(fig: Figure, entetes: list[str], lignes: list[list[str]], y0: float = 0.90,
             largeurs: list[float] | None = None, taille: float = 7.0,
             alignement: list[str] | None = None) -> float:
    """Tableau en police à chasse fixe : en-têtes grisés, une ligne sur deux grisée.

    Returns
    -------
    float
        Ordonnée (fraction de page) sous la dernière ligne.
    """
    n = len(entetes)
    largeurs = largeurs or [1 / n] * n
    alignement = alignement or ["left"] + ["right"] * (n - 1)
    total = sum(largeurs)
    nb = int(0.86 * fig.get_figwidth() * 72 / (_CHASSE * taille))
    cols = [max(4, int(w / total * nb) - len(_SEP)) for w in largeurs]
    pas = 0.0145 * taille / 7.0

    def ligne(valeurs) -> str:
        # Sans les espaces de fin : chaque caractère dessiné coûte, même un blanc.
        return _SEP.join(_cellule(v, c, a) for v, c, a in zip(valeurs, cols, alignement,
                                                               strict=True)).rstrip()

    # En-têtes repliés sur deux lignes au plus, dans la largeur de leur colonne.
    morceaux = [textwrap.wrap(h, c) or [""] for h, c in zip(entetes, cols, strict=True)]
    n_ent = max(len(m) for m in morceaux)
    fig.add_artist(plt.Rectangle((0.065, y0 - pas * (n_ent - 0.5)), 0.87, pas * n_ent,
                                 facecolor="#e6e6e6", edgecolor="none"))
    textes = [(0.07, y0 - k * pas, ligne(m[k] if k < len(m) else "" for m in morceaux), True)
              for k in range(n_ent)]
    y = y0 - (n_ent - 1) * pas
    for i, row in enumerate(lignes):
        y -= pas
        if i % 2 == 1:
            fig.add_artist(plt.Rectangle((0.065, y - pas * 0.5), 0.87, pas,
                                         facecolor="#f5f5f5", edgecolor="none"))
        textes.append((0.07, y, ligne(row), False))
    fig.add_artist(_Lignes(textes, taille))
    return y - pas


def _lignes_communes(pub: Publication, indicateur: str, territoire: str) -> list[list[str]]:
    t = pub.table(indicateur, "commune")
    t = t[t["arrondissement"].astype(str) == territoire] if territoire != "departement" else t
    t = t.sort_values("nom", key=lambda s: s.str.normalize("NFKD"))
    etiquettes = texte_etiquette(t).tolist()
    lignes = []
    for r, etiquette in zip(t.itertuples(index=False), etiquettes, strict=True):
        sec = bool(r.secret) if not pd.isna(r.secret) else False
        lignes.append([
            str(r.nom)[:38], str(r.code), texte_valeur(r.population, 0),
            texte_valeur(r.observe, 0, sec), texte_valeur(r.taux, 1, sec),
            texte_valeur(getattr(r, "taux_lisse", np.nan), 1, sec), etiquette,
        ])
    return lignes


ENTETES_COMMUNES = ["Commune", "Code", "Population", "Effectif", "Taux ‰ hab.",
                    "Taux lissé", "Étiquette"]
LARGEURS_COMMUNES = [0.30, 0.08, 0.11, 0.09, 0.11, 0.10, 0.21]


def _pages_tableau(titre: str, sous: str, entetes, lignes, largeurs, section,
                   alignement=None) -> list[Page]:
    pages = []
    blocs = [lignes[i:i + LIGNES_PAR_PAGE] for i in range(0, len(lignes), LIGNES_PAR_PAGE)]
    for i, bloc in enumerate(blocs or [[]]):
        def dessiner(fig, bloc=bloc, i=i):
            _titre(fig, titre + (f" (suite {i + 1})" if i else ""), sous)
            _tableau(fig, entetes, bloc, 0.90, largeurs, alignement=alignement)
        pages.append(Page(section if i == 0 else None, dessiner))
    return pages


def _tendances(pub: Publication, indicateur: str) -> list[Page]:
    t = pub.tendances.get(indicateur)
    lib = pub.indicateurs.get(indicateur, indicateur)
    if t is None or t.empty:
        def vide(fig):
            _titre(fig, f"Tendances — {lib}")
            _texte(fig, ["Une seule année de données : pas encore de tendance."])
        return [Page(f"Tendances — {lib}", vide)]
    annees = sorted(t["annee"].unique())

    def dessiner(fig: Figure) -> None:
        _titre(fig, f"Tendances — {lib}",
               f"taux {cl.UNITE_TAUX} par arrondissement et pour le département, "
               f"{annees[0]}–{annees[-1]}")
        ax = fig.add_axes((0.12, 0.58, 0.80, 0.30))
        for (_code, nom), g in t.groupby(["code", "nom"], sort=True):
            g = g.sort_values("annee")
            dep = g["niveau"].iloc[0] == "departement"
            ax.plot(g["annee"], g["taux"], marker="o", markersize=3,
                    linewidth=2.2 if dep else 1, color="black" if dep else None,
                    label=str(nom))
        ax.set_xticks(annees)
        ax.set_xticklabels([str(a) for a in annees], fontsize=7)
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(
            lambda v, _: cl.format_nombre(v, 1)))
        ax.tick_params(labelsize=7)
        ax.set_ylabel(f"taux {cl.UNITE_TAUX}", fontsize=7.5)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6.5, ncol=2, frameon=False, loc="upper left",
                  bbox_to_anchor=(0, -0.1))
        n1, n = annees[-2] if len(annees) > 1 else annees[-1], annees[-1]
        lignes = []
        for (_code, nom), g in t.groupby(["code", "nom"], sort=True):
            g = g.set_index("annee")
            a, b = g.reindex([n1, n]).itertuples(index=False)
            sec_a, sec_b = bool(a.secret is True), bool(b.secret is True)
            diff = (b.observe - a.observe) if not (sec_a or sec_b) else np.nan
            lignes.append([str(nom), texte_valeur(a.observe, 0, sec_a),
                           texte_valeur(b.observe, 0, sec_b),
                           texte_valeur(diff, 0, sec_a or sec_b),
                           texte_valeur(a.taux, 1, sec_a), texte_valeur(b.taux, 1, sec_b)])
        _tableau(fig, ["Territoire", f"Effectif {n1}", f"Effectif {n}", "Écart",
                       f"Taux {n1}", f"Taux {n}"], lignes, 0.36,
                 [0.34, 0.13, 0.13, 0.12, 0.14, 0.14])
    return [Page(f"Tendances — {lib}", dessiner)]


def _couverture(pub: Publication) -> list[Page]:
    cov = pub.couverture

    def dessiner(fig: Figure) -> None:
        _titre(fig, "Couverture par les dispositifs et référents communaux",
               "par arrondissement ; distances à vol d'oiseau depuis le centre de chaque commune")
        if cov is None or cov.empty:
            _texte(fig, ["Aucun dispositif ni référent enregistré."])
            return
        dist_cols = [c for c in cov.columns if c.startswith("distance_")]
        noms = dict(pub.arrondissements())
        lignes = []
        for code, g in list(cov.groupby("arrondissement", sort=True)) + [("departement", cov)]:
            pop = g["population"].sum()
            row = [noms.get(code, pub.territoire_nom) if code != "departement"
                   else pub.territoire_nom,
                   texte_valeur(len(g), 0), texte_valeur(int(g["referent"].sum()), 0),
                   texte_valeur(int(g["referent_forme"].sum()), 0)]
            for c in dist_cols[:2]:
                d = g[c]
                med = np.nan if d.isna().all() else float(
                    np.average(d.fillna(d.max()), weights=g["population"].clip(lower=1)))
                row.append(texte_valeur(med, 1))
            row.append(texte_valeur(100 * g.loc[g["referent"], "population"].sum() / pop, 0)
                       + " %")
            lignes.append(row)
        ent = ["Territoire", "Communes", "Avec référent", "dont formé"]
        # Le type par ses lettres de carte (« AJ »), en toutes lettres dans la note : jamais
        # son code (« ctv2s »).
        from observatoire.maps import ABREVIATIONS
        from observatoire.registres import load_types

        types = load_types()
        libelles = dict(zip(types["code"].astype(str), types["libelle"].astype(str),
                            strict=True))
        codes = [c.removeprefix("distance_") for c in dist_cols[:2]]
        ent += [f"Dist. moy. {ABREVIATIONS.get(c, c.upper())} (km)" for c in codes]
        ent += ["Pop. couverte"]
        larg = [0.25, 0.10, 0.12, 0.10] + [0.16] * len(dist_cols[:2]) + [0.11]
        y = _tableau(fig, ent, lignes, 0.88, larg, taille=7) - 0.02
        notes = ["Distance moyenne pondérée par la population ; « pop. couverte » : part de la "
                 "population vivant dans une commune dotée d'un référent VIF. "
                 + " ; ".join(f"{ABREVIATIONS.get(c, c.upper())} : {libelles.get(c, c)}"
                              for c in codes) + ".",
                 "Les noms et coordonnées des référents ne sont pas publiés."]
        if pub.dispositifs is not None and not pub.dispositifs.empty:
            notes.append("Dispositifs enregistrés : " + ", ".join(
                f"{t} ({n})" for t, n in pub.dispositifs.groupby(
                    "type_libelle" if "type_libelle" in pub.dispositifs else "type")
                .size().items()) + ".")
        _texte(fig, sum((textwrap.wrap(n, LARGEUR_TEXTE) for n in notes), []), y)
    return [Page("Couverture et référents", dessiner)]


def _pages_texte(titre: str, lignes: list[str], section: str) -> list[Page]:
    pages = []
    for i in range(0, max(len(lignes), 1), LIGNES_TEXTE):
        bloc = lignes[i:i + LIGNES_TEXTE]

        def dessiner(fig, bloc=bloc, i=i):
            _titre(fig, titre + (" (suite)" if i else ""))
            _texte(fig, bloc, 0.91)
        pages.append(Page(section if i == 0 else None, dessiner))
    return pages


def _sources_lignes(pub: Publication) -> list[str]:
    lignes = ["## Contributions utilisées", ""]
    for lot in sorted(pub.lots, key=lambda x: (x["nom"], x["annee"], x["lot"])):
        # Jamais le nom du fichier reçu : il peut nommer une personne.
        recu = dt.date.fromisoformat(lot["recu_le"]).strftime("%d/%m/%Y")
        lignes += textwrap.wrap(
            f"– {lot['nom']}, données {lot['annee']}, reçues le {recu} (lot n° {lot['lot']})",
            LARGEUR_TEXTE, subsequent_indent="  ")
    if not pub.lots:
        lignes.append("Aucune contribution.")
    if pub.diffusion:
        d = pub.diffusion
        lignes += ["", "## Diffusion", ""]
        lignes += textwrap.wrap(
            f"Diffusion {d['annee']}, version {d['version']}, validée le "
            f"{dt.date.fromisoformat(d['valide_le'][:10]).strftime('%d/%m/%Y')} ; empreinte "
            f"SHA-256 du contenu publié : {d['sha256']}.", LARGEUR_TEXTE)
    notes = dict.fromkeys(note_sources_manquantes(pub.table(ind, "commune"))
                          for ind in pub.indicateurs)
    notes.pop("", None)
    if notes:
        lignes += ["", "## Sources attendues absentes", ""]
        for n in notes:
            lignes += textwrap.wrap(n, LARGEUR_TEXTE)
    lignes += ["", "## Référentiel géographique", ""]
    lignes += textwrap.wrap(pub.attribution(), LARGEUR_TEXTE)
    lignes += textwrap.wrap("Populations municipales : INSEE (Code officiel géographique, "
                            "via @etalab/decoupage-administratif).", LARGEUR_TEXTE)
    lignes += ["", "## Secret statistique", ""]
    lignes += textwrap.wrap(
        f"Les effectifs communaux de 1 à {pub.seuil_secret - 1} ne sont pas publiés, ni les "
        f"taux, ratios et écarts qui en dérivent ; un secret secondaire, planifié sur toutes "
        f"les diffusions ensemble (totaux, cumuls, « dont », années), empêche de les "
        f"retrouver ou de les encadrer. Avant d'être validée, la diffusion a été attaquée "
        f"par un intrus automatique (programmation linéaire sur tout ce qui est publié) : "
        f"il ne resserre aucun de ces effectifs. Un zéro reste publié : c'est le signal des "
        f"zones blanches présumées.", LARGEUR_TEXTE)
    if pub.demo:
        lignes += ["", "## Données de démonstration", ""]
        lignes += textwrap.wrap(
            "Toutes les valeurs de ce document sont fictives (jeu de démonstration généré "
            "sur les populations réelles). Elles ne décrivent aucune situation réelle.",
            LARGEUR_TEXTE)
    return lignes


def plan(pub: Publication, classifications: dict[str, cl.Classification],
         options: dict | None = None, *,
         classifications_epci: dict[str, cl.Classification] | None = None) -> list[Page]:
    """Pages de l'atlas dans l'ordre (hors couverture et sommaire).

    Parameters
    ----------
    pub : Publication
    classifications : dict
        Indicateur -> classes des cartes communales de taux.
    options : dict, optional
        ``dispositifs`` et ``referents`` (bool) pour les couches des cartes.
    classifications_epci : dict, optional
        Indicateur -> classes de la carte des taux par EPCI (calculées sinon).

    Returns
    -------
    list of Page
    """
    classifications_epci = dict(classifications_epci or {})
    pages: list[Page] = []
    for ind, c in classifications.items():
        lib = pub.indicateurs.get(ind, ind)
        if ind not in classifications_epci:
            classifications_epci[ind] = pm.classification_pour(pub, ind, niveau="epci",
                                                               palette=c.palette)
        pages.append(Page(f"{pub.territoire_nom} — {lib} : taux par commune",
                          carte=(ind, "departement", "taux", "commune"), classification=c))
        pages.append(Page(f"{pub.territoire_nom} — {lib} : taux par EPCI",
                          carte=(ind, "departement", "taux", "epci"),
                          classification=classifications_epci[ind]))
        pages.append(Page(f"{pub.territoire_nom} — {lib} : zones révélatrices et blanches",
                          carte=(ind, "departement", "label", "commune"), classification=c))
    for code, nom in pub.arrondissements():
        for ind, c in classifications.items():
            lib = pub.indicateurs.get(ind, ind)
            pages.append(Page(f"Arrondissement de {nom} — {lib}",
                              carte=(ind, code, "taux", "commune"), classification=c))
            pages += _pages_tableau(
                f"Arrondissement de {nom} — communes", f"{lib}, {pub.annee}",
                ENTETES_COMMUNES, _lignes_communes(pub, ind, code), LARGEURS_COMMUNES, None,
                alignement=["left", "left", "right", "right", "right", "right", "left"])
    for ind in classifications:
        pages += _tendances(pub, ind)
    pages += _couverture(pub)
    pages += _pages_texte("Méthode", _markdown_lignes(pub.methodologie or
                                                      "Méthode non renseignée."), "Méthode")
    pages += _pages_texte("Sources des données", _sources_lignes(pub), "Sources des données")
    return pages


def produire_atlas(pub: Publication, chemin: Path, classifications: dict[str, cl.Classification],
                   *, options: dict | None = None, progress=None,
                   classifications_epci: dict[str, cl.Classification] | None = None,
                   figures: dict | None = None,
                   apres_carte: Callable[[tuple, Figure, float], None] | None = None) -> Path:
    """Écrit l'atlas PDF A4 : pages de texte et tableaux en portrait, cartes en paysage.

    Les pages de carte sont les figures des cartes isolées (mêmes classes, même
    dessin) : passées par ``figures``, elles ne sont pas redessinées ; sinon chacune
    est dessinée à son tour, confiée à ``apres_carte`` (qui en écrit les fichiers), mise
    en page puis libérée : une seule carte en mémoire à la fois, même pour un atlas de
    dix-sept indicateurs.

    Parameters
    ----------
    pub : Publication
    chemin : Path
        Fichier PDF à écrire.
    classifications : dict
        Indicateur -> classes des cartes communales de taux (celles des cartes isolées).
    options : dict, optional
        Couches optionnelles des cartes (``dispositifs``, ``referents``).
    progress : callable, optional
        Appelée ``progress(fait, total)`` après chaque page.
    classifications_epci : dict, optional
        Indicateur -> classes de la carte des taux par EPCI.
    figures : dict, optional
        ``(indicateur, territoire, mesure, niveau)`` -> figure de carte déjà dessinée.
    apres_carte : callable, optional
        ``apres_carte(cle, figure, duree_dessin)``, appelée pour chaque carte dessinée
        ici, avant que l'atlas n'y ajoute son pied de page.

    Returns
    -------
    Path
    """
    options = options or {}
    pages = plan(pub, classifications, options, classifications_epci=classifications_epci)
    entrees = []
    debut = 3  # couverture, sommaire
    for i, p in enumerate(pages):
        if p.section:
            entrees.append((p.section, debut + i))
    total = len(pages) + 2
    meta = pm.metadonnees(pub.annee, "pdf",
                          f"Atlas des violences intrafamiliales — {pub.territoire_nom} — "
                          f"{pub.annee}")
    chemin.parent.mkdir(parents=True, exist_ok=True)
    debut_pages = [Page(None, lambda f: _couverture_atlas(f, pub)),
                   Page(None, lambda f: _sommaire(f, entrees))]
    with plt.rc_context(pm.RC), PdfPages(chemin, metadata=meta) as pdf:
        for n, page in enumerate(debut_pages + pages, start=1):
            if page.carte is not None:
                fig = (figures or {}).get(page.carte)
                neuve = fig is None
                if neuve:
                    ind, terr, mesure, niveau = page.carte
                    t0 = time.perf_counter()
                    fig = pm.figure_carte(pub, ind, terr, page.classification, mesure=mesure,
                                          niveau=niveau, **options)
                    if apres_carte:
                        apres_carte(page.carte, fig, time.perf_counter() - t0)
                ajouts = _cadre(fig, pub, n, total, filigrane=False)
                pdf.savefig(fig)
                for t in ajouts:
                    t.remove()
                if neuve:
                    fig.clear()
            else:
                fig = _figure()
                page.dessiner(fig)
                _cadre(fig, pub, n, total)
                pdf.savefig(fig)
                fig.clear()
            if progress:
                progress(n, total)
    return chemin


def _couverture_atlas(fig: Figure, pub: Publication) -> None:
    fig.patches.append(plt.Rectangle((0, 0.62), 1, 0.38, transform=fig.transFigure,
                                     facecolor="#3f007d", figure=fig))
    fig.text(0.08, 0.90, "Observatoire territorial\ndes violences intrafamiliales",
             fontsize=24, fontweight="bold", color="white", va="top", linespacing=1.3)
    fig.text(0.08, 0.74, f"{pub.territoire_nom} — données {pub.annee}", fontsize=16,
             color="white", va="top")
    fig.text(0.08, 0.68, "Atlas : cartes, tableaux par commune, tendances, couverture",
             fontsize=11, color="white", va="top")
    y = 0.56
    fig.text(0.08, y, "Indicateurs publiés", fontsize=11, fontweight="bold", va="top")
    for lib in pub.indicateurs.values():
        y -= 0.028
        fig.text(0.10, y, f"– {lib}", fontsize=10, va="top")
    fig.text(0.08, 0.14, "Plan départemental de lutte contre les violences faites aux femmes "
             "2024-2026, action 4.03.", fontsize=8.5, va="top")
    fig.text(0.08, 0.12, f"Données arrêtées au {pub.date_traitement():%d/%m/%Y}. "
             f"Secret statistique appliqué.", fontsize=8.5, va="top")
    if pub.demo:
        fig.text(0.08, 0.30, MENTION_DEMO.upper(), fontsize=18, color="#b2182b",
                 fontweight="bold")


def _sommaire(fig: Figure, entrees: list[tuple[str, int]]) -> None:
    _titre(fig, "Sommaire")
    y = 0.89
    for titre, page in entrees:
        titre = titre if len(titre) <= 88 else titre[:87] + "…"
        fig.text(0.07, y, titre, fontsize=8.5, va="top")
        fig.text(0.93, y, str(page), fontsize=8.5, va="top", ha="right")
        y -= 0.0175
