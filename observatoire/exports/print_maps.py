"""Cartes imprimables (PDF vectoriel, SVG, PNG) en Lambert-93.

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
import shapely  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.font_manager import FontProperties  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch, PathPatch, Rectangle  # noqa: E402
from matplotlib.textpath import TextPath  # noqa: E402
from matplotlib.transforms import Affine2D, ScaledTranslation  # noqa: E402

from observatoire import classification as cl  # noqa: E402
from observatoire.exports.donnees import (  # noqa: E402
    HORS_PERIMETRE,
    MENTION_DEMO,
    PAS_DE_DONNEE,
    SECRET,
    VALEUR,
    Publication,
    etiquette_carte,
    statut,
)

#: A4 paysage, en pouces.
A4_PAYSAGE = (11.69, 8.27)
A4_PORTRAIT = (8.27, 11.69)
#: Résolution des PNG dont l'impression a besoin : les cartes par commune du
#: département, où 887 communes tiennent sur une page et les plus petites font 1 mm.
DPI_PNG = 300
#: Résolution des autres PNG (cartes d'arrondissement, carte par EPCI) : leurs unités
#: sont 2,5 à 10 fois plus grandes sur la page, et l'impression passe par le PDF
#: vectoriel ; 1 754 × 1 240 pixels suffisent à l'écran, aux diaporamas et aux sites.
DPI_PNG_ECRAN = 150

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
    # Polices Type 3 : les contours des glyphes utilisés, écrits par matplotlib lui-même.
    # En Type 42 (TrueType), fontTools recalculait un sous-ensemble de chaque police pour
    # chaque PDF (0,2 s par police et par fichier, deux fois pour les ligatures) : un
    # quart du temps de la publication. Texte toujours incorporé, vectoriel, cherchable
    # (table ToUnicode) ; même taille de fichier.
    "pdf.fonttype": 3,
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


#: Niveaux cartographiables : commune partout, EPCI pour le département seulement (les
#: EPCI débordent des arrondissements).
NIVEAUX_CARTE = ("commune", "epci")


def unites_du_territoire(pub: Publication, territoire: str,
                         niveau: str = "commune") -> gpd.GeoDataFrame:
    """Couche des unités cartographiées d'un territoire.

    Parameters
    ----------
    pub : Publication
    territoire : str
        ``"departement"`` ou code d'arrondissement.
    niveau : {"commune", "epci"}
        Les EPCI ne se cartographient qu'à l'échelle du département.

    Raises
    ------
    ValueError
        Niveau inconnu, ou EPCI demandés pour un arrondissement.
    """
    if niveau == "commune":
        return communes_du_territoire(pub, territoire)
    if niveau not in NIVEAUX_CARTE:
        raise ValueError(f"Niveau de carte « {niveau} » inconnu : {', '.join(NIVEAUX_CARTE)}.")
    if territoire != "departement":
        raise ValueError("La carte par EPCI se fait pour le département : les EPCI débordent "
                         "des arrondissements.")
    return pub.couches[niveau]


def table_carte(pub: Publication, indicateur: str, territoire: str,
                niveau: str = "commune") -> gpd.GeoDataFrame:
    """Unités du territoire jointes à leur table publique, avec statut et étiquette.

    Returns
    -------
    geopandas.GeoDataFrame
        ``code``, ``nom``, ``geometry``, les valeurs publiques, ``statut`` (voir
        :func:`~observatoire.exports.donnees.statut`) et ``etiquette`` (celle de la carte
        des étiquettes, None = pas de donnée).
    """
    geo = unites_du_territoire(pub, territoire, niveau)[["code", "nom", "geometry"]]
    t = pub.table(indicateur, niveau)
    keep = [c for c in ("code", "observe", "secret", "taux", "taux_lisse", "label", "couvert",
                        "couverture") if c in t]
    g = geo.merge(t[keep], on="code", how="left")
    if "secret" not in g:
        g["secret"] = False
    g["secret"] = g["secret"].astype("boolean").fillna(False).astype(bool)
    g["statut"] = statut(g, "taux")
    g["etiquette"] = etiquette_carte(g)
    return gpd.GeoDataFrame(g, geometry="geometry", crs=geo.crs)


def classification_pour(pub: Publication, indicateur: str, *, niveau: str = "commune",
                        methode: str = "quantiles", k: int = 5, palette: str = "YlOrRd",
                        bornes=None) -> cl.Classification:
    """Classes de la carte des taux d'un indicateur, sur les unités publiées du département.

    Les mêmes classes communales servent à la carte départementale et à celles des
    arrondissements : une couleur a le même sens sur toutes les pages de l'atlas. Les
    communes sans aucun cas ont leur classe, « 0 (aucun cas) » ; les autres classes se
    calculent sur les taux positifs. Les EPCI ont leurs propres classes (leurs taux,
    moyennes de plusieurs communes, varient beaucoup moins).
    """
    # La règle commune à la carte de l'application et à la carte HTML.
    return cl.classer_table(table_carte(pub, indicateur, "departement", niveau), "taux",
                            methode, k, palette, bornes=bornes)


def _remplir(ax, geoms: gpd.GeoSeries, style: cl.Style, zorder: float = 1) -> None:
    """Remplit des unités d'un style, sans contour (les limites se tracent à part).

    Les unités hachurées sont d'abord fusionnées : une seule surface à hachurer au lieu
    de centaines (le rendu des hachures à 300 dpi coûte par polygone), et des hachures
    continues d'une commune à sa voisine, plus lisibles.
    """
    if geoms.empty:
        return
    if style.hachures:
        geoms = gpd.GeoSeries([_union(geoms.values)], crs=geoms.crs)
    geoms.plot(ax=ax, zorder=zorder, facecolor=style.remplissage, edgecolor="none",
               linewidth=0)
    if style.hachures:
        coll = ax.collections[-1]
        coll.set_hatch(style.hachures)
        coll.set_hatchcolor(style.couleur_hachures)


def _union(geoms) -> shapely.Geometry:
    """Union de communes voisines.

    Les communes du référentiel forment une couverture (ni trou ni chevauchement) :
    l'union de couverture, dix fois plus rapide, suffit ; si son résultat n'est pas
    valide (couverture imparfaite), l'union générale.
    """
    try:
        u = shapely.coverage_union_all(geoms)
        if shapely.is_valid(u):
            return u
    except shapely.errors.GEOSException:
        pass
    return shapely.union_all(geoms)


def _contours(ax, geoms: gpd.GeoSeries, style: cl.Style, zorder: float, ls="-") -> None:
    if geoms.empty:
        return
    geoms.boundary.plot(ax=ax, color=style.contour, linewidth=style.epaisseur,
                        linestyle=ls, zorder=zorder)


def _cadrer(ax, g: gpd.GeoDataFrame) -> None:
    """Emprise du territoire, avec sous lui une bande libre pour l'échelle et le nord.

    L'emprise est élargie (centrée) jusqu'aux proportions de l'axe : l'axe garde sa
    place dans la page et une échelle de 1 m = 1 m dans les deux sens.
    """
    ax.set_axis_off()
    xmin, ymin, xmax, ymax = g.total_bounds if len(g) else (0, 0, 1, 1)
    mx, my = (xmax - xmin) * 0.02, (ymax - ymin) * 0.02
    x0, x1 = xmin - mx, xmax + mx
    y0, y1 = ymin - (ymax - ymin) * 0.11, ymax + my
    pos = ax.get_position(original=True)  # get_position() appliquerait l'aspect
    largeur, hauteur = ax.figure.get_size_inches()
    rapport = (pos.height * hauteur) / (pos.width * largeur)
    if (y1 - y0) / (x1 - x0) < rapport:
        d = ((x1 - x0) * rapport - (y1 - y0)) / 2
        y0, y1 = y0 - d, y1 + d
    else:
        d = ((y1 - y0) / rapport - (x1 - x0)) / 2
        x0, x1 = x0 - d, x1 + d
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal", adjustable="box")


def _echelle(ax) -> None:
    """Barre d'échelle en kilomètres (le plan Lambert-93 est métrique), sous le territoire.

    Tailles et positions en fractions de la hauteur de l'axe : l'ensemble tient dans les
    8,5 % du bas, sous la bande libre que :func:`_cadrer` réserve (au moins 9,7 %).
    """
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    largeur, hauteur = x1 - x0, y1 - y0
    cible = largeur / 5 / 1000
    km = max(c for c in (1, 2, 5, 10, 20, 25, 50, 100, 200) if c <= max(cible, 1))
    L = km * 1000
    bx, by = x0 + largeur * 0.03, y0 + hauteur * 0.02
    h = hauteur * 0.011
    for i in range(2):
        ax.add_patch(Rectangle((bx + i * L / 2, by), L / 2, h, facecolor="black" if i == 0 else
                               "white", edgecolor="black", linewidth=0.6, zorder=20))
    for frac, txt in ((0, "0"), (0.5, cl.format_nombre(km / 2, 0 if km % 2 == 0 else 1)),
                      (1, f"{km} km")):
        ax.text(bx + frac * L, by + h + hauteur * 0.008, txt, ha="center", va="bottom",
                fontsize=7.5, zorder=20)
    _nord(ax, bx + L + largeur * 0.05, by, hauteur * 0.06)


def _nord(ax, x: float, y: float, hauteur: float) -> None:
    """Flèche du nord, à droite de l'échelle.

    En Lambert-93, le nord du quadrillage s'écarte du nord géographique de moins d'un
    degré sur le département : invisible à l'impression.
    """
    ax.annotate("", xy=(x, y + hauteur), xytext=(x, y),
                arrowprops={"arrowstyle": "-|>,head_width=0.35,head_length=0.7",
                            "color": "black", "lw": 1.4}, zorder=20)
    ax.text(x + hauteur * 0.3, y + hauteur * 0.45, "N", ha="left", va="center", fontsize=10,
            fontweight="bold", zorder=20)


def _enveloppe_texte(texte: str, largeur: int = 46) -> str:
    return "\n".join(textwrap.wrap(texte, largeur))


def dessiner_carte(ax, pub: Publication, indicateur: str, territoire: str,
                   classification: cl.Classification, *, mesure: str = "taux",
                   niveau: str = "commune", dispositifs: bool = True,
                   referents: bool = True) -> list:
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
        Taux pour 1 000 habitants par classes (toute unité publiée est colorée selon
        son taux ; seules les unités secrètes sont hachurées), ou étiquettes de
        l'analyse (où « non concluant » est une classe).
    niveau : {"commune", "epci"}
        Unités cartographiées (EPCI : département seulement).
    dispositifs, referents : bool
        Couches des dispositifs d'aide et des communes ayant un référent.

    Returns
    -------
    list
        Poignées de légende (``Patch``, ``Line2D``) dans l'ordre d'affichage.
    """
    g = table_carte(pub, indicateur, territoire, niveau)
    handles: list = []
    if mesure == "taux":
        idx = np.full(len(g), -1)
        val = (g["statut"] == VALEUR).to_numpy()
        idx[val] = classification.classes(g.loc[val, "taux"])
        for i, style in enumerate(classification.styles()):
            _remplir(ax, g.geometry[idx == i], style)
            n = int((idx == i).sum())
            handles.append(Patch(facecolor=style.remplissage, edgecolor="#636363",
                                 linewidth=0.4, label=f"{style.libelle}  ({n})"))
        secret_desc = (f"effectif de 1 à {pub.seuil_secret - 1}, ou non diffusé par la "
                       f"source : ni l'effectif ni le taux ne sont publiés"
                       if niveau == "commune" else
                       "total masqué pour qu'on ne puisse pas retrouver l'effectif d'une "
                       "commune")
        for code, style, desc in (
                (SECRET, cl.STYLE_SECRET, secret_desc),
                (HORS_PERIMETRE, cl.STYLE_HORS_PERIMETRE,
                 "aucune source reçue ne couvre l'unité : effectif inconnu, ni nul ni secret"),
                (PAS_DE_DONNEE, cl.STYLE_PAS_DE_DONNEE, "population inconnue")):
            m = (g["statut"] == code).to_numpy()
            _remplir(ax, g.geometry[m], style)
            # Les classes d'état restent dans la légende même vides (sauf la rare
            # population inconnue) : le lecteur sait qu'elles existent.
            if code != PAS_DE_DONNEE or m.any():
                handles.append(_patch(style, int(m.sum()), desc))
    else:
        lab = g["etiquette"]
        for nom, style in cl.STYLES_ETIQUETTES.items():
            m = (lab == nom).to_numpy()
            _remplir(ax, g.geometry[m], style)
            handles.append(_patch(style, int(m.sum()), _DESCRIPTIONS_ETIQUETTES.get(nom)))
        sans = ~lab.isin(list(cl.STYLES_ETIQUETTES)).to_numpy()
        hors = sans & (g["statut"] == HORS_PERIMETRE).to_numpy()
        _remplir(ax, g.geometry[hors], cl.STYLE_HORS_PERIMETRE)
        handles.append(_patch(cl.STYLE_HORS_PERIMETRE, int(hors.sum()),
                              "aucune source reçue ne couvre l'unité : ni effectif, ni "
                              "étiquette"))
        if (sans & ~hors).any():
            _remplir(ax, g.geometry[sans & ~hors], cl.STYLE_PAS_DE_DONNEE)
            handles.append(_patch(cl.STYLE_PAS_DE_DONNEE, int((sans & ~hors).sum()),
                                  "population inconnue"))
    # Limites des unités en un seul trait fin, par-dessus les remplissages.
    g.geometry.plot(ax=ax, facecolor="none", edgecolor="#737373",
                    linewidth=0.15 if niveau == "commune" else 0.5, zorder=3)

    _limites(ax, pub, g, handles, niveau)
    if mesure == "taux":
        blanches = g[g["etiquette"] == "blanche présumée"]
        if not blanches.empty:
            s = cl.STYLE_CONTOUR_BLANCHE
            blanches.geometry.boundary.plot(ax=ax, color=s.contour, linewidth=s.epaisseur,
                                            linestyle=(0, (4, 2)), zorder=6)
        handles.append(Line2D([], [], color=cl.STYLE_CONTOUR_BLANCHE.contour, linestyle="--",
                              linewidth=cl.STYLE_CONTOUR_BLANCHE.epaisseur,
                              label=f"zone blanche présumée ({len(blanches)}), contour\n"
                                    + _enveloppe_texte("moins de cas qu'attendu au-delà du "
                                                       "hasard : possible sous-révélation")))
    if dispositifs:
        handles += _dispositifs(ax, pub, g)
    if referents:
        handles += _referents(ax, pub, communes_du_territoire(pub, territoire))

    _cadrer(ax, g)
    _echelle(ax)
    return handles


#: Compléments de légende des étiquettes (la méthode complète est dans l'atlas).
_DESCRIPTIONS_ETIQUETTES = {
    "révélatrice": "plus de cas qu'attendu au-delà du hasard",
    "pas d'écart détecté": "écart à l'attendu compatible avec le hasard ; ce n'est pas "
                           "« tout va bien »",
    "blanche présumée": "moins de cas qu'attendu au-delà du hasard : possible "
                        "sous-révélation, pas absence de violences",
    "non concluant": "trop peu de cas attendus, ou effectif connu seulement par un "
                     "intervalle trop large : pas de conclusion possible",
}


def _patch(style: cl.Style, n: int | None = None, description: str | None = None) -> Patch:
    label = style.libelle if n is None else f"{style.libelle}  ({n})"
    if description:
        label = f"{label}\n{_enveloppe_texte(description)}"
    return Patch(facecolor=style.remplissage, edgecolor="#636363", linewidth=0.4,
                 hatch=style.hachures or None, hatchcolor=style.couleur_hachures, label=label)


def _limites(ax, pub: Publication, g: gpd.GeoDataFrame, handles: list,
             niveau: str = "commune") -> None:
    com = pub.couches["commune"]
    if niveau == "commune":
        com = com[com["code"].isin(set(g["code"]))]
    epci = pub.couches.get("epci")
    if niveau == "commune" and epci is not None and not epci.empty:
        e = epci[epci["code"].isin(set(com["epci"].astype(str)))]
        # Les EPCI débordent parfois de l'arrondissement : on coupe au territoire.
        if len(com) != len(pub.couches["commune"]):
            e = gpd.clip(e, _union(com.geometry.values))
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
    # Le symbole d'un type se décide sur tout le registre : le même sur toutes les cartes.
    autres = [t for t in sorted(set(d["type"].astype(str))) if t not in MARQUEURS_DISPOSITIFS]
    # Dispositifs à moins d'un mètre d'une unité du territoire (index spatial : sans
    # calculer l'union du territoire, qui coûtait plus que le reste de la couche).
    proches = np.unique(g.sindex.query(d.geometry.values, predicate="dwithin", distance=1)[0])
    d = d.iloc[proches]
    out = []
    for typ, grp in sorted(d.groupby("type"), key=lambda kv: str(kv[0])):
        # Forme ET couleur distinctes par type : la forme suffit sans la couleur.
        mk, col = MARQUEURS_DISPOSITIFS.get(str(typ)) or _MARQUEURS_AUTRES[
            autres.index(str(typ)) % len(_MARQUEURS_AUTRES)]
        ax.scatter(grp.geometry.x, grp.geometry.y, marker=mk, s=30, facecolor=col,
                   edgecolor="black", linewidth=0.5, zorder=10)
        lib = str(grp["type_libelle"].iloc[0]) if "type_libelle" in grp else str(typ)
        out.append(Line2D([], [], marker=mk, linestyle="", markerfacecolor=col,
                          markeredgecolor="black", markeredgewidth=0.5, markersize=6,
                          label=_enveloppe_texte(f"{lib} ({len(grp)})")))
    return out


def _referents(ax, pub: Publication, communes: gpd.GeoDataFrame) -> list:
    r = pub.referents
    if r is None or r.empty:
        return []
    r = r[r["code"].isin(set(communes["code"]))]
    pts = communes.set_index("code").loc[r["code"]].geometry.representative_point()
    if r.empty:
        return []  # pas de légende « référent (0) » sur un territoire sans référent
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


def titres(pub: Publication, indicateur: str, territoire: str, mesure: str = "taux",
           niveau: str = "commune") -> tuple[str, str]:
    """Titre et sous-titre d'une carte."""
    lib = pub.indicateurs.get(indicateur, indicateur)
    par = "par EPCI" if niveau == "epci" else "par commune"
    sujet = (f"Violences intrafamiliales : taux {par}" if mesure == "taux"
             else "Violences intrafamiliales : zones révélatrices et blanches présumées")
    nom = pub.nom_territoire(territoire)
    titre = f"{nom[:1].upper()}{nom[1:]} — {sujet}, {pub.annee}"
    if mesure == "taux":
        sous = f"{lib} — taux {cl.UNITE_TAUX}"
    else:
        sous = f"{lib} — écart à l'effectif attendu selon la population"
    return titre, sous


def titre_legende(classification: cl.Classification | None, mesure: str,
                  niveau: str = "commune", separateur: str = "\n") -> str:
    """Titre de la légende : unité, méthode des classes, ce que comptent les parenthèses."""
    compte = "nombre d'EPCI" if niveau == "epci" else "nombre de communes"
    if mesure == "taux" and classification is not None:
        lignes = [f"Taux {cl.UNITE_TAUX}", f"classes : {classification.description_methode()}",
                  f"(entre parenthèses : {compte})"]
        if classification.note_classes():
            lignes.append(classification.note_classes())
        if separateur == "\n":
            lignes = [x for li in lignes for x in textwrap.wrap(li, 44)]
        return separateur.join(lignes)
    unite = "de la commune" if niveau == "commune" else "de l'EPCI"
    return separateur.join([f"Étiquette {unite}", f"({compte})"])


def legende(ax, handles: list, classification: cl.Classification | None, mesure: str,
            niveau: str = "commune") -> None:
    """Légende dans un axe dédié, titrée avec l'unité."""
    ax.set_axis_off()
    leg = ax.legend(handles=handles, loc="upper left",
                    title=titre_legende(classification, mesure, niveau), frameon=False,
                    fontsize=7.5, title_fontsize=8.5, alignment="left", handlelength=2.4,
                    handleheight=1.5, borderaxespad=0, labelspacing=0.55)
    leg._legend_box.align = "left"


def figure_carte(pub: Publication, indicateur: str, territoire: str,
                 classification: cl.Classification, *, mesure: str = "taux",
                 niveau: str = "commune", dispositifs: bool = True,
                 referents: bool = True) -> Figure:
    """Carte complète A4 paysage : titre, carte, légende, sources, attribution.

    Parameters
    ----------
    pub, indicateur, territoire, classification, mesure, niveau, dispositifs, referents
        Voir :func:`dessiner_carte`.

    Returns
    -------
    matplotlib.figure.Figure
        À enregistrer avec :func:`enregistrer` (les trois formats depuis la même
        figure), et à reprendre telle quelle comme page de l'atlas.
    """
    with plt.rc_context(RC):
        fig = Figure(figsize=A4_PAYSAGE)
        titre, sous = titres(pub, indicateur, territoire, mesure, niveau)
        fig.text(0.03, 0.955, titre, fontsize=14, fontweight="bold", va="top")
        fig.text(0.03, 0.915, sous, fontsize=10.5, va="top", color="#333333")
        if pub.demo:
            marquer_demo(fig)
        ax = fig.add_axes((0.02, 0.115, 0.66, 0.775))
        handles = dessiner_carte(ax, pub, indicateur, territoire, classification,
                                 mesure=mesure, niveau=niveau, dispositifs=dispositifs,
                                 referents=referents)
        axl = fig.add_axes((0.70, 0.115, 0.28, 0.775))
        legende(axl, handles, classification, mesure, niveau)
        pied(fig, pub, indicateur)
    return fig


def marquer_demo(fig: Figure) -> None:
    """Mention visible « données fictives de démonstration » (en-tête et filigrane)."""
    fig.text(0.97, 0.985, MENTION_DEMO.upper(), ha="right", va="top", fontsize=9,
             color="#b2182b", fontweight="bold")
    filigrane(fig, MENTION_DEMO, taille=40, rotation=25, alpha=0.10)


def filigrane(fig: Figure, texte: str, *, taille: float, rotation: float,
              alpha: float) -> PathPatch:
    """Filigrane centré sur la page, dessiné en tracé et non en texte.

    Visible de même, mais absent du texte du PDF : en texte, ses lettres obliques
    s'intercalaient dans les lignes des tableaux à l'extraction (``pdftotext
    -layout``, lecteurs d'écran, copier-coller). La mention reste en texte dans
    l'en-tête ou le pied de chaque page.
    """
    chemin = TextPath((0, 0), texte, size=taille, prop=FontProperties(family="DejaVu Sans"))
    b = chemin.get_extents()
    # Points -> pouces -> pixels à la résolution de l'enregistrement, puis centre de page.
    placement = (Affine2D().translate(-(b.x0 + b.x1) / 2, -(b.y0 + b.y1) / 2)
                 .rotate_deg(rotation).scale(1 / 72) + fig.dpi_scale_trans
                 + ScaledTranslation(0.5, 0.5, fig.transFigure))
    return fig.add_artist(PathPatch(chemin, transform=placement, facecolor="#b2182b",
                                    edgecolor="none", alpha=alpha, zorder=100))


def pied(fig: Figure, pub: Publication, indicateur: str | None, y: float = 0.088) -> None:
    """Lignes de source, d'attribution et de secret en bas de page.

    La bande sous ``y − 0,05`` reste libre : l'atlas y met son numéro de page.
    """
    lignes = []
    if indicateur:
        lignes.append(pub.ligne_source(indicateur))
    lignes.append(pub.attribution())
    lignes.append(f"Secret statistique : effectifs communaux de 1 à {pub.seuil_secret - 1} "
                  f"non publiés, ni les valeurs qui en dérivent.")
    # Largeur en caractères de corps 7 (≈ 0,5 em de chasse moyenne) : une longue liste de
    # contributeurs passe à la ligne au lieu de sortir de la page.
    largeur = max(60, int(fig.get_figwidth() * 0.94 * 72 / (7 * 0.52)))
    lignes = [x for li in lignes for x in textwrap.wrap(li, largeur)]
    pas = 0.0145
    # La dernière ligne reste au-dessus de la bande du numéro de page.
    y = max(y, 0.04 + (len(lignes) - 1) * pas)
    for i, txt in enumerate(lignes):
        fig.text(0.03, y - i * pas, txt, fontsize=7, color="#333333", va="top")


def dpi_png(territoire: str, niveau: str = "commune") -> int:
    """Résolution du PNG d'une carte : 300 dpi là où l'impression en a besoin.

    Parameters
    ----------
    territoire : str
        ``"departement"`` ou code d'arrondissement.
    niveau : {"commune", "epci"}

    Returns
    -------
    int
        :data:`DPI_PNG` pour les cartes par commune du département (taux et
        étiquettes), :data:`DPI_PNG_ECRAN` pour les autres.
    """
    return DPI_PNG if territoire == "departement" and niveau == "commune" else DPI_PNG_ECRAN


def enregistrer(fig: Figure, base: Path, annee: int, formats=("pdf", "svg", "png"),
                titre: str = "", *, fermer: bool = True, dpi_png: int = DPI_PNG) -> list[Path]:
    """Enregistre une figure dans chaque format, métadonnées fixes, puis la ferme.

    Parameters
    ----------
    fig : Figure
    base : Path
        Chemin sans extension.
    annee : int
        Année des données (dates des métadonnées).
    formats : iterable of str
        Parmi ``pdf``, ``svg``, ``png``.
    titre : str
        Titre inscrit dans les métadonnées.
    fermer : bool, default True
        Vider la figure après l'enregistrement ; False pour la reprendre ensuite (page
        de l'atlas).
    dpi_png : int, default :data:`DPI_PNG`
        Résolution du PNG (voir :func:`dpi_png`).

    Returns
    -------
    list of Path
    """
    out = []
    for fmt in formats:
        p = base.with_suffix(f".{fmt}")
        p.parent.mkdir(parents=True, exist_ok=True)
        _sauver(fig, p, fmt, annee, titre, dpi_png)
        out.append(p)
    if fermer:
        fig.clear()
    return out


def _sauver(fig: Figure, cible, fmt: str, annee: int, titre: str = "",
            dpi_png: int = DPI_PNG) -> None:
    with plt.rc_context(RC):
        # Compression PNG 3 au lieu de 6 : 5 % plus gros, deux fois plus rapide.
        extra = {"pil_kwargs": {"compress_level": 3}} if fmt == "png" else {}
        fig.savefig(cible, format=fmt, dpi=dpi_png if fmt == "png" else 72,
                    metadata=metadonnees(annee, fmt, titre), facecolor="white", **extra)


__all__ = ["figure_carte", "dessiner_carte", "enregistrer", "dpi_png",
           "classification_pour",
           "table_carte", "unites_du_territoire", "titres", "titre_legende", "legende", "pied",
           "marquer_demo", "filigrane", "metadonnees"]

