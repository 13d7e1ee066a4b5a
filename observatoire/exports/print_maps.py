"""Cartes imprimables (PDF vectoriel, SVG, PNG 300 dpi) en Lambert-93.

geopandas + matplotlib + classes de :mod:`observatoire.classification`. Pas de fond
de carte tuilé : les limites administratives suffisent et la carte s'imprime hors ligne.
Chaque carte porte titre, sous-titre (indicateur, unité), légende aux bornes en format
français, échelle, flèche du nord, ligne de sources et attribution des limites.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import geopandas as gpd
import matplotlib

matplotlib.use("Agg")  # pas d'affichage : les cartes sont des fichiers

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch, Rectangle  # noqa: E402

from observatoire import classification as cl  # noqa: E402
from observatoire.exports.donnees import (  # noqa: E402
    MENTION_DEMO,
    NON_CONCLUANT,
    PAS_DE_DONNEE,
    SECRET,
    VALEUR,
    Publication,
    statut,
)

#: A4 paysage, en pouces.
A4_PAYSAGE = (11.69, 8.27)
A4_PORTRAIT = (8.27, 11.69)
DPI_PNG = 300

#: Styles des dispositifs par type (marqueur, couleur) ; les autres types : cercle gris.
MARQUEURS_DISPOSITIFS = {
    "accueil_de_jour": ("s", "#1b9e77"),
    "leao": ("D", "#7570b3"),
    "hebergement": ("^", "#d95f02"),
    "iscg": ("P", "#e7298a"),
    "france_services": ("o", "#66a61e"),
}

_MARQUEURS_AUTRES = [("o", "#e6ab02"), ("p", "#a6761d"), ("h", "#1f78b4"), ("*", "#b15928"),
                     ("X", "#6a3d9a"), ("<", "#33a02c"), (">", "#fb9a99")]

RC = {
    "font.family": "DejaVu Sans",
    "svg.fonttype": "none",  # texte SVG en <text> : lisible, cherchable, vérifiable
    "svg.hashsalt": "observatoire-vif",  # identifiants SVG stables d'une exécution à l'autre
    "pdf.fonttype": 42,
    "hatch.linewidth": 0.5,
    "path.simplify": True,
}


def metadonnees(annee: int, fmt: str, titre: str = "") -> dict:
    """Métadonnées fixes d'un fichier : dates tirées de l'année des données.

    Parameters
    ----------
    annee : int
        Année des données ; la date inscrite est le 1er janvier de N+1, pour que deux
        publications des mêmes entrées soient identiques octet pour octet.
    fmt : {"pdf", "svg", "png"}
    titre : str
        Titre du document.
    """
    quand = dt.datetime(annee + 1, 1, 1, tzinfo=dt.UTC)
    if fmt == "pdf":
        return {"Title": titre, "Creator": "Observatoire territorial des VIF",
                "Producer": "Observatoire territorial des VIF (matplotlib)",
                "CreationDate": quand, "ModDate": quand}
    if fmt == "svg":
        return {"Title": titre, "Date": None, "Creator": "Observatoire territorial des VIF"}
    return {"Title": titre, "Software": "Observatoire territorial des VIF"}


def communes_du_territoire(pub: Publication, territoire: str) -> gpd.GeoDataFrame:
    """Couche des communes d'un territoire (``"departement"`` ou code d'arrondissement)."""
    com = pub.couches["commune"]
    if territoire == "departement":
        return com
    return com[com["arrondissement"].astype(str) == str(territoire)]


def table_carte(pub: Publication, indicateur: str, territoire: str) -> gpd.GeoDataFrame:
    """Communes du territoire jointes à leur table publique, avec leur statut."""
    geo = communes_du_territoire(pub, territoire)[["code", "nom", "geometry"]]
    t = pub.table(indicateur, "commune")
    keep = [c for c in ("code", "observe", "secret", "taux", "taux_lisse", "label") if c in t]
    g = geo.merge(t[keep], on="code", how="left")
    if "secret" not in g:
        g["secret"] = False
    g["secret"] = g["secret"].astype("boolean").fillna(False).astype(bool)
    g["statut"] = statut(g)
    return gpd.GeoDataFrame(g, geometry="geometry", crs=geo.crs)


def classification_pour(pub: Publication, indicateur: str, *, methode: str = "quantiles",
                        k: int = 5, palette: str = "YlOrRd", bornes=None) -> cl.Classification:
    """Classes de la carte des taux d'un indicateur, sur les communes publiées du département.

    Les mêmes classes servent à la carte départementale et à celles des
    arrondissements : une couleur a le même sens sur toutes les pages de l'atlas.
    """
    g = table_carte(pub, indicateur, "departement")
    valeurs = g.loc[g["statut"] == VALEUR, "taux"]
    if bornes is not None:
        return cl.classer(valeurs, "bornes_fixes", palette_nom=palette, bornes=bornes)
    return cl.classer(valeurs, methode, k, palette)


def _plot(ax, geoms: gpd.GeoSeries, style: cl.Style, zorder: float = 1, **extra) -> None:
    if geoms.empty:
        return
    kw = style.matplotlib()
    kw.update(extra)
    hatch = kw.pop("hatch", None)
    geoms.plot(ax=ax, zorder=zorder, **kw)
    coll = ax.collections[-1]
    if hatch:
        coll.set_hatch(hatch)
        coll.set_hatchcolor(style.couleur_hachures)


def _contours(ax, geoms: gpd.GeoSeries, style: cl.Style, zorder: float, ls="-") -> None:
    if geoms.empty:
        return
    geoms.boundary.plot(ax=ax, color=style.contour, linewidth=style.epaisseur,
                        linestyle=ls, zorder=zorder)


def _echelle(ax) -> None:
    """Barre d'échelle en kilomètres (le plan Lambert-93 est métrique)."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    largeur = x1 - x0
    cible = largeur / 5 / 1000
    km = max(c for c in (1, 2, 5, 10, 20, 25, 50, 100, 200) if c <= max(cible, 1))
    L = km * 1000
    bx, by = x0 + largeur * 0.04, y0 + (y1 - y0) * 0.04
    h = (y1 - y0) * 0.008
    for i in range(2):
        ax.add_patch(Rectangle((bx + i * L / 2, by), L / 2, h, facecolor="black" if i == 0 else
                               "white", edgecolor="black", linewidth=0.6, zorder=20))
    for frac, txt in ((0, "0"), (0.5, cl.format_nombre(km / 2, 0 if km % 2 == 0 else 1)),
                      (1, f"{km} km")):
        ax.text(bx + frac * L, by + h * 1.8, txt, ha="center", va="bottom", fontsize=7,
                zorder=20)


def _nord(ax) -> None:
    """Flèche du nord.

    En Lambert-93, le nord du quadrillage s'écarte du nord géographique de moins d'un
    degré sur le département : invisible à l'impression.
    """
    ax.annotate("N", xy=(0.95, 0.95), xytext=(0.95, 0.86), xycoords="axes fraction",
                ha="center", va="center", fontsize=10, fontweight="bold",
                arrowprops={"arrowstyle": "-|>,head_width=0.4,head_length=0.8",
                            "color": "black", "lw": 1.5}, zorder=20)


def dessiner_carte(ax, pub: Publication, indicateur: str, territoire: str,
                   classification: cl.Classification, *, mesure: str = "taux",
                   dispositifs: bool = True, referents: bool = True) -> list:
    """Dessine la carte d'un territoire dans ``ax`` et renvoie les entrées de légende.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    pub : Publication
    indicateur : str
    territoire : str
        ``"departement"`` ou code d'arrondissement.
    classification : Classification
        Classes des taux (ignorées pour ``mesure="label"``).
    mesure : {"taux", "label"}
        Taux pour 1 000 habitants par classes, ou étiquettes de l'analyse.
    dispositifs, referents : bool
        Couches des dispositifs d'aide et des communes ayant un référent.

    Returns
    -------
    list
        Poignées de légende (``Patch``, ``Line2D``) dans l'ordre d'affichage.
    """
    g = table_carte(pub, indicateur, territoire)
    handles: list = []
    if mesure == "taux":
        idx = np.full(len(g), -1)
        val = (g["statut"] == VALEUR).to_numpy()
        idx[val] = classification.classes(g.loc[val, "taux"])
        for i, style in enumerate(classification.styles()):
            _plot(ax, g.geometry[idx == i], style, 1)
            n = int((idx == i).sum())
            handles.append(Patch(facecolor=style.remplissage, edgecolor="#636363",
                                 linewidth=0.4, label=f"{style.libelle}  ({n})"))
        for code, style in ((SECRET, cl.STYLE_SECRET), (NON_CONCLUANT, cl.STYLE_NON_CONCLUANT),
                            (PAS_DE_DONNEE, cl.STYLE_PAS_DE_DONNEE)):
            m = (g["statut"] == code).to_numpy()
            _plot(ax, g.geometry[m], style, 1)
            # Les classes d'état restent dans la légende même vides : le lecteur sait
            # qu'elles existent et ce qu'elles veulent dire.
            handles.append(_patch(style, int(m.sum())))
    else:
        # Les étiquettes se publient même quand l'effectif est secret : elles ne le
        # révèlent pas (voir docs/methodologie.md).
        lab = g["label"].astype("object").where(g["statut"] != PAS_DE_DONNEE)
        for nom, style in cl.STYLES_ETIQUETTES.items():
            m = (lab == nom).to_numpy()
            _plot(ax, g.geometry[m], style, 1)
            handles.append(_patch(style, int(m.sum())))
        m = ~lab.isin(list(cl.STYLES_ETIQUETTES)).to_numpy()
        _plot(ax, g.geometry[m], cl.STYLE_PAS_DE_DONNEE, 1)
        handles.append(_patch(cl.STYLE_PAS_DE_DONNEE, int(m.sum())))

    _limites(ax, pub, g, handles)
    if mesure == "taux":
        blanches = g[g["label"].astype("object") == "blanche présumée"]
        if not blanches.empty:
            s = cl.STYLE_CONTOUR_BLANCHE
            blanches.geometry.boundary.plot(ax=ax, color=s.contour, linewidth=s.epaisseur,
                                            linestyle=(0, (4, 2)), zorder=6)
        handles.append(Line2D([], [], color=cl.STYLE_CONTOUR_BLANCHE.contour, linestyle="--",
                              linewidth=cl.STYLE_CONTOUR_BLANCHE.epaisseur,
                              label=f"zone blanche présumée ({len(blanches)})"))
    if dispositifs:
        handles += _dispositifs(ax, pub, g)
    if referents:
        handles += _referents(ax, pub, g)

    ax.set_axis_off()
    ax.set_aspect("equal")
    xmin, ymin, xmax, ymax = g.total_bounds if len(g) else (0, 0, 1, 1)
    mx, my = (xmax - xmin) * 0.03, (ymax - ymin) * 0.03
    ax.set_xlim(xmin - mx, xmax + mx)
    ax.set_ylim(ymin - my * 3, ymax + my)
    _echelle(ax)
    _nord(ax)
    return handles


def _patch(style: cl.Style, n: int | None = None) -> Patch:
    label = style.libelle if n is None else f"{style.libelle}  ({n})"
    return Patch(facecolor=style.remplissage, edgecolor="#636363", linewidth=0.4,
                 hatch=style.hachures or None, hatchcolor=style.couleur_hachures, label=label)


def _limites(ax, pub: Publication, g: gpd.GeoDataFrame, handles: list) -> None:
    codes = set(g["code"])
    com = pub.couches["commune"]
    com = com[com["code"].isin(codes)]
    epci = pub.couches.get("epci")
    if epci is not None and not epci.empty:
        e = epci[epci["code"].isin(set(com["epci"].astype(str)))]
        # Les EPCI débordent parfois de l'arrondissement : on coupe au territoire.
        if len(com) != len(pub.couches["commune"]):
            e = gpd.clip(e, com.union_all())
        s = cl.STYLE_LIMITE_EPCI
        _contours(ax, e.geometry, s, 4, ls=(0, (3, 2)))
        handles.append(Line2D([], [], color=s.contour, linewidth=s.epaisseur, linestyle="--",
                              label=s.libelle))
    arr = pub.couches.get("arrondissement")
    if arr is not None and not arr.empty:
        a = arr[arr["code"].isin(set(com["arrondissement"].astype(str)))]
        s = cl.STYLE_LIMITE_ARRONDISSEMENT
        _contours(ax, a.geometry, s, 5)
        handles.append(Line2D([], [], color=s.contour, linewidth=s.epaisseur, label=s.libelle))


def _dispositifs(ax, pub: Publication, g: gpd.GeoDataFrame) -> list:
    d = pub.dispositifs
    if d is None or d.empty:
        return []
    zone = g.union_all()
    d = d[d.geometry.within(zone.buffer(1))]
    out = []
    for i, (typ, grp) in enumerate(sorted(d.groupby("type"), key=lambda kv: str(kv[0]))):
        # Forme ET couleur distinctes par type : la forme suffit sans la couleur.
        mk, col = MARQUEURS_DISPOSITIFS.get(str(typ), _MARQUEURS_AUTRES[i % len(_MARQUEURS_AUTRES)])
        ax.scatter(grp.geometry.x, grp.geometry.y, marker=mk, s=22, facecolor=col,
                   edgecolor="white", linewidth=0.6, zorder=10)
        lib = str(grp["type_libelle"].iloc[0]) if "type_libelle" in grp else str(typ)
        lib = "\n".join(textwrap.wrap(f"{lib} ({len(grp)})", 34))
        out.append(Line2D([], [], marker=mk, linestyle="", markerfacecolor=col,
                          markeredgecolor="white", markersize=6, label=lib))
    return out


def _referents(ax, pub: Publication, g: gpd.GeoDataFrame) -> list:
    r = pub.referents
    if r is None or r.empty:
        return []
    r = r[r["code"].isin(set(g["code"]))]
    pts = g.set_index("code").loc[r["code"]].geometry.representative_point()
    forme = r["forme"].fillna(False).astype(bool).to_numpy()
    out = []
    for m, plein, lib in ((forme, True, "référent VIF formé"),
                          (~forme, False, "référent VIF non formé")):
        if m.any():
            p = pts[m]
            ax.scatter(p.x, p.y, marker="v", s=14, facecolor="black" if plein else "white",
                       edgecolor="black", linewidth=0.6, zorder=11)
        out.append(Line2D([], [], marker="v", linestyle="", markersize=5,
                          markerfacecolor="black" if plein else "white",
                          markeredgecolor="black", label=f"{lib} ({int(m.sum())})"))
    return out


def titres(pub: Publication, indicateur: str, territoire: str, mesure: str = "taux"
           ) -> tuple[str, str]:
    """Titre et sous-titre d'une carte."""
    lib = pub.indicateurs.get(indicateur, indicateur)
    sujet = ("Violences intrafamiliales : taux par commune" if mesure == "taux"
             else "Violences intrafamiliales : zones révélatrices et blanches présumées")
    nom = pub.nom_territoire(territoire)
    titre = f"{nom[:1].upper()}{nom[1:]} — {sujet}, {pub.annee}"
    if mesure == "taux":
        sous = f"{lib} — taux {cl.UNITE_TAUX}"
    else:
        sous = f"{lib} — écart à l'effectif attendu selon la population"
    return titre, sous


def legende(ax, handles: list, classification: cl.Classification | None, mesure: str) -> None:
    """Légende dans un axe dédié, titrée avec l'unité."""
    ax.set_axis_off()
    if mesure == "taux" and classification is not None:
        titre = (f"Taux {cl.UNITE_TAUX}\nclasses : {cl.METHODES[classification.methode]}\n"
                 f"(entre parenthèses : nombre de communes)")
    else:
        titre = "Étiquette de la commune\n(nombre de communes)"
    leg = ax.legend(handles=handles, loc="upper left", title=titre, frameon=False,
                    fontsize=7.5, title_fontsize=8.5, alignment="left", handlelength=2.2,
                    handleheight=1.3, borderaxespad=0)
    leg._legend_box.align = "left"


def figure_carte(pub: Publication, indicateur: str, territoire: str,
                 classification: cl.Classification, *, mesure: str = "taux",
                 dispositifs: bool = True, referents: bool = True) -> Figure:
    """Carte complète A4 paysage : titre, carte, légende, sources, attribution.

    Parameters
    ----------
    pub, indicateur, territoire, classification, mesure, dispositifs, referents
        Voir :func:`dessiner_carte`.

    Returns
    -------
    matplotlib.figure.Figure
        À enregistrer avec :func:`enregistrer` ; fermée par celui-ci.
    """
    with plt.rc_context(RC):
        fig = Figure(figsize=A4_PAYSAGE)
        titre, sous = titres(pub, indicateur, territoire, mesure)
        fig.text(0.03, 0.955, titre, fontsize=14, fontweight="bold", va="top")
        fig.text(0.03, 0.915, sous, fontsize=10.5, va="top", color="#333333")
        if pub.demo:
            marquer_demo(fig)
        ax = fig.add_axes((0.02, 0.10, 0.68, 0.79))
        handles = dessiner_carte(ax, pub, indicateur, territoire, classification,
                                 mesure=mesure, dispositifs=dispositifs, referents=referents)
        axl = fig.add_axes((0.72, 0.10, 0.26, 0.79))
        legende(axl, handles, classification, mesure)
        pied(fig, pub, indicateur)
    return fig


def marquer_demo(fig: Figure) -> None:
    """Mention visible « données fictives de démonstration » (en-tête et filigrane)."""
    fig.text(0.97, 0.985, MENTION_DEMO.upper(), ha="right", va="top", fontsize=9,
             color="#b2182b", fontweight="bold")
    fig.text(0.5, 0.5, MENTION_DEMO, ha="center", va="center", fontsize=40,
             color="#b2182b", alpha=0.10, rotation=25, zorder=100)


def pied(fig: Figure, pub: Publication, indicateur: str | None, y: float = 0.055) -> None:
    """Lignes de source et d'attribution en bas de page."""
    lignes = []
    if indicateur:
        lignes.append(pub.ligne_source(indicateur))
    lignes.append(pub.attribution())
    lignes.append(f"Secret statistique : effectifs communaux de 1 à {pub.seuil_secret - 1} "
                  f"non publiés, ni les valeurs qui en dérivent.")
    for i, txt in enumerate(lignes):
        fig.text(0.03, y - i * 0.016, txt, fontsize=6.5, color="#333333", va="top",
                 wrap=True)


def enregistrer(fig: Figure, base: Path, annee: int, formats=("pdf", "svg", "png"),
                titre: str = "") -> list[Path]:
    """Enregistre une figure dans chaque format, métadonnées fixes, puis la ferme.

    Parameters
    ----------
    fig : Figure
    base : Path
        Chemin sans extension.
    annee : int
        Année des données (dates des métadonnées).
    formats : iterable of str
        Parmi ``pdf``, ``svg``, ``png`` (300 dpi).
    titre : str
        Titre inscrit dans les métadonnées.

    Returns
    -------
    list of Path
    """
    out = []
    with plt.rc_context(RC):
        for fmt in formats:
            p = base.with_suffix(f".{fmt}")
            p.parent.mkdir(parents=True, exist_ok=True)
            fig.savefig(p, format=fmt, dpi=DPI_PNG if fmt == "png" else 72,
                        metadata=metadonnees(annee, fmt, titre), facecolor="white")
            out.append(p)
    fig.clear()
    return out


__all__ = ["figure_carte", "dessiner_carte", "enregistrer", "classification_pour",
           "table_carte", "titres", "legende", "pied", "marquer_demo", "metadonnees"]

