"""Cartes Folium de l'observatoire, sans entrées-sorties, et leurs ressources hors ligne.

La couche des communes est envoyée au navigateur sous forme de **TopoJSON quantifié** :
chaque limite partagée par deux communes n'est écrite qu'une fois (arcs), les
coordonnées sont des entiers différentiels sur une grille d'environ 10 m, et seules les
propriétés utiles à la carte voyagent (code, nom, EPCI, arrondissement). Les limites
d'EPCI et d'arrondissements et le contour du territoire sont tirés des mêmes arcs
(maillages), sans géométrie supplémentaire ; la couleur de chaque unité arrive à part,
dans un petit dictionnaire ``code -> [classe, texte]``. La topologie ne dépend que des
contours : l'application la calcule une fois et la garde en cache.

Leaflet, ses extensions et nos styles sont servis par l'application elle-même
(``observatoire/static``, voir ``SOURCES.md``) : aucune ressource n'est chargée depuis un
CDN. :func:`standalone_html` les incorpore dans un fichier HTML autonome.

Examples
--------
>>> topo = encode_topology(communes, {"n": "nom", "e": "epci", "a": "arrondissement"},
...                        meshes=("epci", "arrondissement"))            # doctest: +SKIP
>>> m = build_map(topo, {"62041": [2, "12,3 pour 1 000 habitants"]},
...               palette=["#fef0d9", "#fdcc8a", "#fc8d59", "#d7301f"])  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from folium.elements import JSCSSMixin
from jinja2 import Template

from observatoire.classification import Style, format_nombre, motif_svg

STATIC_DIR = Path(__file__).resolve().parent / "static"
#: Préfixe sous lequel Streamlit sert ``static/`` (``server.enableStaticServing``).
STREAMLIT_STATIC = "/app/static"

_JS = [
    ("leaflet", "leaflet/leaflet.js"),
    ("markercluster", "markercluster/leaflet.markercluster.js"),
    ("fullscreen", "fullscreen/Control.FullScreen.js"),
    ("leaflet_search", "leaflet-search/dist/leaflet-search.min.js"),
    ("observatoire", "observatoire/carte.js"),
]
_CSS = [
    ("leaflet_css", "leaflet/leaflet.css"),
    ("markercluster_css", "markercluster/MarkerCluster.css"),
    ("fullscreen_css", "fullscreen/Control.FullScreen.css"),
    ("leaflet_search_css", "leaflet-search/dist/leaflet-search.min.css"),
    ("observatoire_css", "observatoire/carte.css"),
]

NOMS = {
    "choro": "Mesure choisie",
    "blanches": "Zones blanches présumées (contour en tirets)",
    "fond_vide": "Contours seuls (hors ligne)",
    "osm": "OpenStreetMap (en ligne)",
    "recherche": "Chercher une commune…",
    "introuvable": "Commune introuvable",
    "effacer": "Effacer",
    "plein_ecran": "Afficher la carte en plein écran",
    "quitter_plein_ecran": "Quitter le plein écran",
    "zoom_avant": "Zoom avant",
    "zoom_arriere": "Zoom arrière",
    "couches": "Couches de la carte (limites, dispositifs, référents)",
    "legende": "Légende de la carte",
    "leaflet": "Leaflet, bibliothèque libre de cartes interactives",
    "couches_eteintes": "Couches masquées (bouton « Couches » en haut à droite de la carte) :",
}


# --- topologie -----------------------------------------------------------------------

def _rings(geom) -> list[list[np.ndarray]]:
    if geom is None or geom.is_empty:
        return []
    polys = list(geom.geoms) if geom.geom_type == "MultiPolygon" else [geom]
    out = []
    for p in polys:
        if p.geom_type != "Polygon":
            continue
        out.append([np.asarray(p.exterior.coords)] +
                   [np.asarray(r.coords) for r in p.interiors])
    return out


def encode_topology(
    gdf: gpd.GeoDataFrame,
    properties: Mapping[str, str],
    *,
    id_column: str = "code",
    meshes: Iterable[str] = (),
    quantization: int = 10_000,
    simplify: float = 1.5,
    object_name: str = "communes",
) -> dict:
    """Encode une couverture de polygones en TopoJSON quantifié.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Polygones (communes) dans n'importe quel CRS ; reprojetés en WGS 84. La géométrie
        doit déjà être simplifiée en couverture (``referentiel.load_layer(..., web=True)``)
        pour que les limites partagées coïncident.
    properties : mapping
        Nom de la propriété TopoJSON -> colonne de ``gdf`` (gardez-les courts).
    id_column : str, default "code"
        Colonne servant d'identifiant (``id`` de chaque géométrie).
    meshes : iterable of str
        Colonnes de regroupement (``"epci"``, ``"arrondissement"``) dont on veut les
        limites : pour chacune, la liste des arcs qui séparent deux groupes différents ou
        bordent le territoire, dans ``topology["meshes"][colonne]``. ``"contour"`` donne
        toujours les arcs du bord du territoire.
    quantization : int, default 10000
        Nombre de pas de la grille sur chaque axe de l'emprise (10 000 sur le
        Pas-de-Calais : environ 11 m).
    simplify : float, default 1.5
        Tolérance de Douglas-Peucker appliquée à chaque arc, en pas de grille (0 : aucune).
        Les jonctions restent en place : les communes voisines restent jointives.
    object_name : str, default "communes"

    Returns
    -------
    dict
        Topologie (``type`` = ``"Topology"``, ``transform``, ``arcs`` différentiels,
        ``objects``, ``bbox``) et ``meshes``.

    Raises
    ------
    ValueError
        Si une colonne demandée manque ou si ``quantization`` < 2.
    """
    missing = [c for c in [id_column, *properties.values(), *meshes] if c not in gdf.columns]
    if missing:
        raise ValueError(f"Colonnes absentes de la couche : {missing} ; présentes : "
                         f"{list(gdf.columns)}.")
    if quantization < 2:
        raise ValueError(f"quantization doit valoir au moins 2 (reçu {quantization}).")
    wgs = gdf.to_crs(4326) if gdf.crs is not None and gdf.crs.to_epsg() != 4326 else gdf
    x0, y0, x1, y1 = (float(v) for v in wgs.total_bounds)
    sx = (x1 - x0) / (quantization - 1) or 1.0
    sy = (y1 - y0) / (quantization - 1) or 1.0

    # 1. Anneaux quantifiés, sans points répétés ; les anneaux effondrés disparaissent.
    features: list[list[list[list[tuple[int, int]]]]] = []
    for geom in wgs.geometry.values:
        polys = []
        for rings in _rings(geom):
            qrings = []
            for coords in rings:
                q = np.empty((len(coords), 2), dtype=np.int64)
                q[:, 0] = np.round((coords[:, 0] - x0) / sx)
                q[:, 1] = np.round((coords[:, 1] - y0) / sy)
                keep = np.ones(len(q), dtype=bool)
                keep[1:] = np.any(q[1:] != q[:-1], axis=1)
                pts = [tuple(p) for p in q[keep].tolist()]
                if pts and pts[0] == pts[-1]:
                    pts.pop()
                if len(set(pts)) >= 3:
                    qrings.append(pts)
            if qrings and len(qrings[0]) >= 3:
                polys.append(qrings)
        features.append(polys)

    # 2. Jonctions : points où les voisins changent d'un anneau à l'autre.
    first_pair: dict[tuple[int, int], tuple] = {}
    junctions: set[tuple[int, int]] = set()
    for polys in features:
        for rings in polys:
            for pts in rings:
                n = len(pts)
                for i, p in enumerate(pts):
                    a, b = pts[i - 1], pts[(i + 1) % n]
                    pair = (a, b) if a <= b else (b, a)
                    seen = first_pair.setdefault(p, pair)
                    if seen != pair:
                        junctions.add(p)

    # 3. Découpe en arcs aux jonctions ; un arc partagé n'est écrit qu'une fois.
    arc_index: dict[tuple, int] = {}
    arcs: list[list[tuple[int, int]]] = []
    arc_users: list[list[int]] = []

    def _arc(points: list[tuple[int, int]], fid: int) -> int:
        key = tuple(points)
        if key in arc_index:
            idx = arc_index[key]
            arc_users[idx].append(fid)
            return idx
        rkey = key[::-1]
        if rkey in arc_index:
            idx = arc_index[rkey]
            arc_users[idx].append(fid)
            return ~idx
        arc_index[key] = len(arcs)
        arcs.append(points)
        arc_users.append([fid])
        return len(arcs) - 1

    geometries = []
    for fid, polys in enumerate(features):
        garcs = []
        for rings in polys:
            rarcs = []
            for pts in rings:
                cut = [i for i, p in enumerate(pts) if p in junctions]
                if not cut:
                    start = min(range(len(pts)), key=pts.__getitem__)
                    ring = pts[start:] + pts[:start]
                    rarcs.append([_arc(ring + [ring[0]], fid)])
                    continue
                ring = pts[cut[0]:] + pts[:cut[0]]
                offs = [c - cut[0] for c in cut] + [len(pts)]
                ring = ring + [ring[0]]
                rarcs.append([_arc(ring[offs[j]:offs[j + 1] + 1], fid)
                              for j in range(len(offs) - 1)])
            garcs.append(rarcs)
        geometries.append(garcs)

    # 4. Arcs différentiels, géométries et propriétés.
    encoded = []
    for pts in arcs:
        a = np.asarray(pts, dtype=np.int64)
        if simplify > 0 and len(a) > 2:
            # Douglas-Peucker sur l'arc : ses extrémités (jonctions) restent, et un arc
            # partagé est simplifié une seule fois, donc les voisins restent jointifs.
            line = shapely.simplify(shapely.LineString(a), simplify, preserve_topology=False)
            a = np.asarray(line.coords, dtype=np.int64)
            if len(a) < 2 or (len(a) == 2 and np.all(a[0] == a[-1])):
                a = np.asarray(pts, dtype=np.int64)
        d = np.vstack([a[:1], np.diff(a, axis=0)])
        encoded.append(d.tolist())
    ids = wgs[id_column].astype(str).tolist()
    props = {k: wgs[col].astype(object).where(wgs[col].notna(), None).tolist()
             for k, col in properties.items()}
    geoms = []
    for fid, garcs in enumerate(geometries):
        g: dict = {"id": ids[fid],
                   "properties": {k: (str(v[fid]) if v[fid] is not None and
                                      not isinstance(v[fid], (int, float)) else v[fid])
                                  for k, v in props.items()}}
        if not garcs:
            g["type"] = None
        elif len(garcs) == 1:
            g["type"], g["arcs"] = "Polygon", garcs[0]
        else:
            g["type"], g["arcs"] = "MultiPolygon", garcs
        geoms.append(g)

    mesh_out = {"contour": [i for i, u in enumerate(arc_users) if len(set(u)) == 1]}
    for col in meshes:
        groups = wgs[col].astype(str).tolist()
        mesh_out[col] = [i for i, u in enumerate(arc_users)
                         if len({groups[f] for f in u}) > 1 or len(set(u)) == 1]
    return {
        "type": "Topology",
        "bbox": [x0, y0, x1, y1],
        "transform": {"scale": [sx, sy], "translate": [x0, y0]},
        "objects": {object_name: {"type": "GeometryCollection", "geometries": geoms}},
        "arcs": encoded,
        "meshes": mesh_out,
    }


def decode_topology(topology: Mapping, object_name: str = "communes") -> gpd.GeoDataFrame:
    """Reconstruit les polygones d'une topologie de :func:`encode_topology` (contrôles).

    Returns
    -------
    geopandas.GeoDataFrame
        ``id``, propriétés et géométrie en WGS 84.
    """
    sx, sy = topology["transform"]["scale"]
    tx, ty = topology["transform"]["translate"]
    arcs = []
    for arc in topology["arcs"]:
        a = np.cumsum(np.asarray(arc, dtype=float), axis=0)
        arcs.append(np.column_stack([a[:, 0] * sx + tx, a[:, 1] * sy + ty]))

    def ring(idx):
        parts = []
        for i in idx:
            a = arcs[~i][::-1] if i < 0 else arcs[i]
            parts.append(a if not parts else a[1:])
        return np.vstack(parts)

    rows, geoms = [], []
    for g in topology["objects"][object_name]["geometries"]:
        polys = ([g["arcs"]] if g.get("type") == "Polygon" else g.get("arcs") or [])
        shapes = [shapely.Polygon(ring(p[0]), [ring(r) for r in p[1:]]) for p in polys]
        geoms.append(shapely.MultiPolygon(shapes) if len(shapes) > 1 else
                     (shapes[0] if shapes else None))
        rows.append({"id": g["id"], **g.get("properties", {})})
    return gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:4326")


def topology_json(topology: Mapping) -> str:
    """JSON compact d'une topologie, sûr dans un élément ``<script>``."""
    return _script_json(topology)


def _script_json(obj) -> str:
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("</", "<\\/").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


# --- valeurs, légende ----------------------------------------------------------------

def _swatch(style: Style) -> str:
    ident = f"lg-{style.motif}" if style.motif else ""
    defs = f"<defs>{motif_svg(style, ident)}</defs>" if style.motif else ""
    dash = f' stroke-dasharray="{html.escape(style.tirets)}"' if style.tirets else ""
    if style.remplissage == "none" and style.libelle.startswith("limite"):
        return (f'<svg class="sw" width="24" height="14" aria-hidden="true">'
                f'<line x1="0" y1="7" x2="24" y2="7" stroke="{style.contour}" '
                f'stroke-width="{max(style.epaisseur * 2, 1):.1f}"{dash}/></svg>')
    fill = f"url(#{ident})" if style.motif else (
        "none" if style.remplissage == "none" else style.remplissage)
    width = max(style.epaisseur * 2, 1)
    return (f'<svg class="sw" width="24" height="14" aria-hidden="true">{defs}'
            f'<rect x="0.5" y="0.5" width="23" height="13" fill="{fill}" '
            f'stroke="{style.contour}" stroke-width="{width:.1f}"{dash}/></svg>')


@dataclass(frozen=True)
class LegendItem:
    """Entrée de légende liée à une couche de la carte, avec son effectif.

    Attributes
    ----------
    symbole : Style or str
        Style de :mod:`observatoire.classification`, ou ``"rond"``, ``"rond plein"``,
        ``"dispositif"``, ``"grappe"``, ``"titre"`` (intertitre de la légende).
    libelle : str, optional
        Texte ; par défaut celui du style.
    couche : str, optional
        Identifiant de la couche (``"referents"``, ``"dispositif-iscg"``, ``"epci"``…) :
        l'entrée n'est montrée que quand la couche est affichée.
    n : int, optional
        Nombre d'unités ou de points (affiché entre parenthèses).
    abbr : str, optional
        Lettres du marqueur d'un dispositif.
    """

    symbole: Style | str
    libelle: str | None = None
    couche: str | None = None
    n: int | None = None
    abbr: str | None = None


def legend_html(
    title: str,
    entries: Sequence[Style | tuple[str, str] | LegendItem],
    *,
    subtitle: str | None = None,
    notes: Sequence[str] = (),
    demo: bool = False,
) -> str:
    """HTML de la légende : chaque entrée a son libellé (pas d'information par la seule couleur).

    Parameters
    ----------
    title : str
        Titre (mesure et année).
    entries : sequence of Style, (kind, label) or LegendItem
        Styles de :mod:`observatoire.classification` (classes, secret, étiquettes,
        contours, limites), ``("rond", libellé)`` / ``("rond plein", libellé)`` pour
        les points des référents, ``("titre", texte)`` pour un intertitre, ou
        :class:`LegendItem` (couche, effectif, lettres d'un dispositif).
    subtitle : str, optional
        Unité, méthode de classement.
    notes : sequence of str
        Lignes ajoutées sous les entrées (source, secret).
    demo : bool
        Ajoute « Données fictives de démonstration ».

    Returns
    -------
    str
    """
    esc = html.escape
    parts = [f"<h4>{esc(title)}</h4>"]
    if subtitle:
        parts.append(f"<p>{esc(subtitle)}</p>")
    if demo:
        parts.append('<p class="demo">Données fictives de démonstration</p>')
    items: list[str] = []

    def close() -> None:
        if items:
            parts.append("<ul>" + "".join(items) + "</ul>")
            items.clear()

    for entry in entries:
        if not isinstance(entry, LegendItem):
            entry = (LegendItem(entry) if isinstance(entry, Style)
                     else LegendItem(entry[0], entry[1]))
        sym = entry.symbole
        if sym == "titre":
            close()
            parts.append(f"<h5>{esc(entry.libelle or '')}</h5>")
            continue
        if isinstance(sym, Style):
            sw, label = _swatch(sym), entry.libelle or sym.libelle
        else:
            label = entry.libelle or ""
            sw = {"rond": '<span class="sw rond" aria-hidden="true"></span>',
                  "rond plein": '<span class="sw rond plein" aria-hidden="true"></span>',
                  "dispositif": f'<span class="sw disp" aria-hidden="true">'
                                f'{esc(entry.abbr or "")}</span>',
                  "grappe": '<span class="sw disp grappe" aria-hidden="true">'
                            f'{esc(entry.abbr or "")}</span>'}.get(sym, "")
        n = f'<span class="n">({format_nombre(entry.n, 0)})</span>' if entry.n is not None else ""
        couche = f' data-couche="{esc(entry.couche)}"' if entry.couche else ""
        items.append(f"<li{couche}>{sw}<span>{esc(label)}{n}</span></li>")
    close()
    parts.append('<p class="obs-couches-eteintes" hidden></p>')
    parts += [f'<p class="note">{esc(n)}</p>' for n in notes]
    return "".join(parts)


def legend_for_map(
    title: str,
    subtitle: str | None,
    valeurs: Sequence[Style | LegendItem],
    *,
    etats: Sequence[Style] = (),
    blanches: bool = False,
    meshes: Sequence[Mapping] = (),
    dispositifs: Sequence[Mapping] = (),
    referents: Mapping | None = None,
    notes: Sequence[str] = (),
    demo: bool = False,
) -> str:
    """Légende complète d'une carte de :func:`build_map` : tout symbole qu'elle montre.

    La même pour la carte de l'application et la carte HTML autonome : classes (ou
    étiquettes), états sans valeur (secret, pas de donnée…), contour des zones blanches,
    limites, chaque type de dispositif (lettres du marqueur et libellé en toutes
    lettres), grappes, référents. Les entrées d'une couche ne se montrent que quand la
    couche est affichée (``data-couche``, voir carte.js).

    Parameters
    ----------
    title, subtitle : str
    valeurs : sequence of Style or LegendItem
        Classes de la mesure (avec leur effectif) ou styles des étiquettes.
    etats : sequence of Style
        États non numériques présents sur la carte.
    blanches : bool
        Des zones blanches présumées sont entourées.
    meshes, dispositifs, referents
        Les couches passées à :func:`build_map`.
    notes : sequence of str
    demo : bool

    Returns
    -------
    str
    """
    from observatoire import classification as cl

    entries: list = [*valeurs, *etats]
    couches: list = []
    if blanches:
        couches.append(LegendItem(cl.STYLE_CONTOUR_BLANCHE, couche="blanches"))
    styles_limites = {"arrondissement": cl.STYLE_LIMITE_ARRONDISSEMENT,
                      "epci": cl.STYLE_LIMITE_EPCI}
    for m in meshes:
        if m["mesh"] in styles_limites:
            couches.append(LegendItem(styles_limites[m["mesh"]], couche=m["mesh"]))
    for grp in dispositifs:
        couches.append(LegendItem("dispositif", grp["label"], couche=f"dispositif-{grp['cls']}",
                                  n=len(grp["points"]), abbr=grp["abbr"]))
    if dispositifs:
        couches.append(LegendItem("grappe", "plusieurs dispositifs proches d'un même type "
                                  "(lettres et nombre)", abbr="AJ 2"))
    if referents and referents.get("points"):
        n_forme = sum(p[2] for p in referents["points"])
        couches.append(LegendItem("rond plein", "commune avec référent VIF formé",
                                  couche="referents", n=n_forme))
        couches.append(LegendItem("rond", "commune avec référent VIF pas encore formé",
                                  couche="referents", n=len(referents["points"]) - n_forme))
    if couches:
        entries += [LegendItem("titre", "Sur la carte"), *couches]
    return legend_html(title, entries, subtitle=subtitle, notes=notes, demo=demo)


def leaflet_style(style: Style) -> dict:
    """Style Leaflet d'un :class:`~observatoire.classification.Style`, motif compris.

    Un motif (hachures, points) devient ``fillColor: url(#motif-…)`` : les
    ``<pattern>`` correspondants sont insérés dans le SVG de la carte par carte.js.
    """
    d = style.leaflet()
    pattern = d.pop("pattern", None)
    if pattern:
        d["fillColor"] = f"url(#motif-{pattern})"
        d["fillOpacity"] = 1.0
    return {k: d[k] for k in ("fillColor", "fillOpacity")}


def popup_html(title: str, fields: Sequence[tuple[str, object]]) -> str:
    """Fiche HTML d'une fenêtre surgissante (champs vides omis, tout échappé)."""
    rows = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(str(v))}</dd>"
                   for k, v in fields if v is not None and str(v).strip() not in ("", "nan"))
    return f'<div class="obs-popup"><h4>{html.escape(title)}</h4><dl>{rows}</dl></div>'


_ABBR_FALLBACK = re.compile(r"[A-Za-zÀ-ÿ]+")

#: Lettres du marqueur de chaque type de dispositif (la légende les écrit en toutes
#: lettres) ; un type absent prend les initiales de son libellé.
ABREVIATIONS = {
    "accueil_de_jour": "AJ", "leao": "LEAO", "hebergement_urgence": "HU", "alt": "ALT",
    "hebergement_auteurs": "HA", "iscg": "ISCG", "permanence_juridique": "PJ",
    "france_services": "FS", "uaped": "UAPED", "maison_des_adolescents": "MDA",
    "psychotrauma": "PSY", "ctv2s": "VSS", "tribunal_judiciaire": "TJ", "cidff": "CIDFF",
    "france_victimes": "FV", "cpef": "CPEF", "planning_familial": "PF", "caf_ads": "CAF",
    "commissariat": "POL", "brigade_gendarmerie": "GEN",
}


def _abbr(label: str, code: str | None = None) -> str:
    if code in ABREVIATIONS:
        return ABREVIATIONS[code]
    words = [w for w in _ABBR_FALLBACK.findall(label) if len(w) > 2]
    return ("".join(w[0] for w in words[:3]) or label[:2]).upper()


def dispositifs_layers(
    dispositifs: pd.DataFrame,
    type_labels: Mapping[str, str] | None = None,
    *,
    show: bool = True,
) -> list[dict]:
    """Prépare les dispositifs pour la carte : un groupe (grappe) par type.

    Parameters
    ----------
    dispositifs : pandas.DataFrame
        Colonnes ``type``, ``nom``, ``latitude``, ``longitude`` et, si présentes,
        ``adresse``, ``commune``, ``contact``, ``capacite``, ``unite_capacite``,
        ``horaires``, ``source``, ``localisation`` (``"commune"`` : placé au centre de sa
        commune faute d'adresse géocodée).
    type_labels : mapping, optional
        Code de type -> libellé français.
    show : bool, default True
        Groupes affichés d'emblée.

    Returns
    -------
    list of dict
        ``name`` (nom de la couche), ``label`` (libellé du type), ``abbr`` (lettres
        affichées dans le marqueur, :data:`ABREVIATIONS` : le type ne tient pas qu'à une
        couleur), ``cls``, ``show``, ``points`` (``[lat, lon, popup, titre, rang,
        nombre]`` : rang parmi les ``nombre`` dispositifs placés au même point).
    """
    type_labels = dict(type_labels or {})
    df = dispositifs.dropna(subset=["latitude", "longitude"])
    groups = []
    for code, grp in df.groupby("type", sort=True):
        label = type_labels.get(code, str(code).replace("_", " "))
        points = []
        for row in grp.itertuples(index=False):
            r = row._asdict()
            cap = r.get("capacite")
            capacite = (f"{format_nombre(cap)} {r.get('unite_capacite') or ''}".strip()
                        if cap is not None and not pd.isna(cap) else None)
            adresse = r.get("adresse")
            if r.get("localisation") == "commune":
                adresse = f"{adresse + ', ' if adresse and not pd.isna(adresse) else ''}" \
                          f"placé au centre de la commune"
            fields = [("Type", label), ("Adresse", adresse), ("Commune", r.get("commune")),
                      ("Contact", r.get("contact")), ("Capacité", capacite),
                      ("Horaires", r.get("horaires")), ("Source", r.get("source"))]
            fields = [(k, None if v is None or (not isinstance(v, str) and pd.isna(v)) else v)
                      for k, v in fields]
            points.append([round(float(r["latitude"]), 5), round(float(r["longitude"]), 5),
                           popup_html(str(r["nom"]), fields), f"{label} : {r['nom']}"])
        abbr = _abbr(label, str(code))
        groups.append({"name": f"{abbr} – {label} ({len(points)})", "label": label,
                       "abbr": abbr, "cls": re.sub(r"[^a-z0-9]+", "-", str(code).lower()),
                       "show": show, "points": points})
    # Plusieurs dispositifs au même point (placés au centre de la même commune) : rang et
    # nombre, pour que carte.js les dessine côte à côte au lieu de les superposer.
    places: dict[tuple, list] = {}
    for grp in groups:
        for p in grp["points"]:
            places.setdefault((round(p[0], 4), round(p[1], 4)), []).append(p)
    for memes in places.values():
        for i, p in enumerate(memes):
            p += [i, len(memes)]
    return groups


def referents_layer(communes: gpd.GeoDataFrame, referents: pd.DataFrame, *,
                    show: bool = False) -> dict:
    """Communes ayant un référent VIF : un point par commune, plein si formé.

    Couche discrète, éteinte par défaut : ses points (92 autour de Béthune dans la
    démonstration) cacheraient les couleurs des communes.

    Parameters
    ----------
    communes : geopandas.GeoDataFrame
        ``code``, ``nom`` et géométrie.
    referents : pandas.DataFrame
        ``code_insee`` et ``forme`` (bool). Toute autre colonne (nom, contact du
        référent) est ignorée : elle ne sort jamais sur la carte.
    show : bool, default False
        Couche affichée d'emblée.

    Returns
    -------
    dict
    """
    ref = referents[["code_insee", "forme"]].drop_duplicates("code_insee")
    merged = communes[["code", "nom", "geometry"]].merge(ref, left_on="code",
                                                         right_on="code_insee")
    pts = gpd.GeoSeries(merged.geometry.representative_point(), crs=communes.crs).to_crs(4326)
    points = [[round(p.y, 5), round(p.x, 5), 1 if bool(f) else 0, str(n)]
              for p, f, n in zip(pts, merged["forme"], merged["nom"], strict=True)]
    n_forme = sum(p[2] for p in points)
    return {"name": f"Communes avec référent VIF ({len(points)}, dont {n_forme} formés)",
            "forme": "référent VIF désigné et formé",
            "non_forme": "référent VIF désigné, pas encore formé",
            "show": show, "points": points}


# --- carte ---------------------------------------------------------------------------

class ObservatoireLayers(JSCSSMixin):
    """Élément Folium : couches, légende et contrôles de l'observatoire (voir carte.js)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = Observatoire.build({{ this._parent.get_name() }},
            {{ this.config_json }});
        {% endmacro %}
        """
    )

    def __init__(self, config: Mapping, asset_base: str = STREAMLIT_STATIC):
        super().__init__()
        self._name = "ObservatoireLayers"
        self.config_json = _script_json(config)
        self.default_js = [(n, f"{asset_base}/{p}") for n, p in _JS if n != "leaflet"]
        self.default_css = [(n, f"{asset_base}/{p}") for n, p in _CSS]


def map_config(
    topology: Mapping,
    values: Mapping[str, Sequence],
    *,
    palette: Sequence[str],
    styles: Mapping[str, Style] | None = None,
    unit_key: str = "id",
    legend: str | None = None,
    meshes: Sequence[Mapping] = (),
    dispositifs: Sequence[Mapping] = (),
    referents: Mapping | None = None,
    osm: bool = False,
    texte_sans_donnee: str = "pas de donnée",
    layer_name: str | None = None,
    collapsed_control: bool = True,
    titre: str | None = None,
    resume: str | None = None,
    inclure_topologie: bool = True,
) -> dict:
    """Configuration de carte lue par ``carte.js`` (voir :func:`build_map`).

    La carte de l'application (composant) et la page HTML autonome (:func:`build_map`)
    reçoivent la même configuration : mêmes couleurs, mêmes infobulles, même légende.

    Parameters
    ----------
    inclure_topologie : bool, default True
        False : sans la clé ``topology`` (l'application l'envoie à part, encodée une
        fois) ; l'emprise et les maillages sont tout de même tirés de ``topology``.
    titre, resume : str, optional
        Nom accessible de la carte et son résumé en phrases (:func:`resume_carte`).
    Autres paramètres : voir :func:`build_map`.

    Returns
    -------
    dict
        Sérialisable en JSON ; ``topology`` est la topologie sans ses maillages.
    """
    from observatoire import classification as cl

    styles = dict(styles or {})
    styles.setdefault("secret", cl.STYLE_SECRET)
    styles.setdefault("non_concluant", cl.STYLE_NON_CONCLUANT)
    styles.setdefault("sans_donnee", cl.STYLE_PAS_DE_DONNEE)
    styles.setdefault("hors_perimetre", cl.STYLE_HORS_PERIMETRE)
    x0, y0, x1, y1 = topology["bbox"]
    mesh_cfg = [{"name": d["name"], "mesh": d["mesh"], "arcs": topology["meshes"][d["mesh"]],
                 "color": d.get("color", "#333333"), "weight": d.get("weight", 1.5),
                 "dash": d.get("dash"), "show": d.get("show", True)} for d in meshes]
    cfg = {
        "values": {str(k): list(v) for k, v in values.items()},
        "unit_key": unit_key,
        "palette": list(palette),
        "styles": {k: leaflet_style(st) for k, st in styles.items()},
        "patterns": "".join(motif_svg(st) for st in {st.motif: st for st in styles.values()
                                                     if st.motif}.values()),
        "texte_sans_donnee": html.escape(texte_sans_donnee),
        "contour_blanche": {"color": cl.STYLE_CONTOUR_BLANCHE.contour,
                            "weight": cl.STYLE_CONTOUR_BLANCHE.epaisseur * 2,
                            "dashArray": cl.STYLE_CONTOUR_BLANCHE.tirets},
        "meshes": mesh_cfg,
        "dispositifs": list(dispositifs),
        "referents": referents,
        "legend": legend,
        "noms": dict(NOMS, choro=layer_name or NOMS["choro"]),
        "titre": titre or layer_name or NOMS["choro"],
        "resume": resume or "",
        "bounds": [[y0, x0], [y1, x1]],
        "collapsed": collapsed_control,
        "osm": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                "attribution": "© contributeurs OpenStreetMap"} if osm else None,
    }
    if inclure_topologie:
        cfg["topology"] = {k: topology[k] for k in ("transform", "arcs", "objects")}
    return cfg


def build_map(topology: Mapping, values: Mapping[str, Sequence], *, palette: Sequence[str],
              asset_base: str = STREAMLIT_STATIC, **options) -> folium.Map:
    """Carte choroplèthe des communes (ou de leurs groupes), en page Folium autonome.

    Parameters
    ----------
    topology : mapping
        Sortie de :func:`encode_topology` (mise en cache par l'appelant).
    values : mapping
        Code d'unité -> ``[classe, texte]`` ou ``[classe, texte, nom, blanche]`` :
        ``classe`` entier (indice dans ``palette``), ``"secret"``, ``"non_concluant"``
        ou None (pas de donnée) ; ``texte`` : HTML déjà échappé montré dans l'infobulle
        (nombres au format français) ; ``nom`` : nom de l'unité quand elle n'est pas une
        commune ; ``blanche`` : 1 pour entourer une zone blanche présumée.
    palette : sequence of str
        Couleurs des classes, de la plus faible à la plus forte.
    asset_base : str
        URL sous laquelle ``observatoire/static`` est servi.
    **options
        Voir :func:`map_config` : ``styles`` (styles des classes non numériques
        désignées par leur clé dans ``values`` ; ``"sans_donnee"`` pour les unités
        absentes), ``unit_key`` (``"id"`` : une unité par commune ; ``"e"`` pour l'EPCI,
        ``"a"`` pour l'arrondissement : chaque commune prend la couleur de son groupe,
        sans trait intérieur), ``legend`` (HTML de :func:`legend_for_map`, placé à côté
        de la carte), ``meshes`` (limites : ``{"name", "mesh", "color", "weight",
        "dash", "show"}``), ``dispositifs`` (:func:`dispositifs_layers`),
        ``referents`` (:func:`referents_layer`), ``osm`` (fond OpenStreetMap proposé,
        en ligne), ``layer_name``, ``titre``, ``resume`` (résumé textuel de la carte,
        pour les lecteurs d'écran).

    Returns
    -------
    folium.Map
    """
    cfg = map_config(topology, values, palette=palette, **options)
    x0, y0, x1, y1 = topology["bbox"]
    # maxZoom explicite : sans fond de tuiles Leaflet n'en a pas, et les grappes l'exigent.
    m = folium.Map(location=[(y0 + y1) / 2, (x0 + x1) / 2], zoom_start=9, tiles=None,
                   control_scale=False, prefer_canvas=False, zoom_snap=0.25)
    m.options["maxZoom"], m.options["minZoom"] = 18, 6
    m.default_js = [("leaflet", f"{asset_base}/leaflet/leaflet.js")]
    m.default_css = [("leaflet_css", f"{asset_base}/leaflet/leaflet.css")]
    ObservatoireLayers(cfg, asset_base).add_to(m)
    return m


def standalone_html(m: folium.Map, titre: str | None = None) -> str:
    """HTML autonome de la carte : scripts, styles et images incorporés (hors ligne).

    Parameters
    ----------
    m : folium.Map
        Carte construite avec les ressources locales (:func:`build_map`).
    titre : str, optional
        Titre de la page (onglet du navigateur).

    Returns
    -------
    str
        Page HTML en français (``lang="fr"``) sans aucune ressource externe
        ``<script src>`` ni ``<link href>``.
    """
    page = m.get_root().render()
    prefix_re = re.compile(r'<script src="[^"]*?/((?:leaflet|markercluster|fullscreen|'
                           r'leaflet-search|observatoire)/[^"]+\.js)"></script>')
    page = prefix_re.sub(lambda mt: "<script>" + _read_static(mt.group(1)).replace(
        "</script", "<\\/script") + "</script>", page)
    css_re = re.compile(r'<link rel="stylesheet" href="[^"]*?/((?:leaflet|markercluster|'
                        r'fullscreen|leaflet-search|observatoire)/[^"]+\.css)"/?>')
    page = css_re.sub(lambda mt: "<style>" + _inline_css_urls(mt.group(1)) + "</style>", page)
    head = '<html lang="fr">\n<head>'
    if titre:
        head += f"\n    <title>{html.escape(titre)}</title>"
    return page.replace("<html>\n<head>", head, 1)


def _read_static(rel: str) -> str:
    return (STATIC_DIR / rel).read_text(encoding="utf-8")


def _inline_css_urls(rel: str) -> str:
    css = _read_static(rel)
    base = (STATIC_DIR / rel).parent

    def repl(mt):
        target = mt.group(1).strip("'\"")
        if target.startswith(("data:", "#")):
            return mt.group(0)
        path = (base / target).resolve()
        if not path.is_file() or STATIC_DIR not in path.parents:
            return mt.group(0)
        mime = {".png": "image/png", ".gif": "image/gif", ".svg": "image/svg+xml"}.get(
            path.suffix, "application/octet-stream")
        return f"url(data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()})"

    return re.sub(r"url\(([^)]+)\)", repl, css)


def external_resources(page: str) -> list[str]:
    """Scripts et feuilles de style externes (http, https ou //) d'une page HTML."""
    found = re.findall(r'<script[^>]+src="((?:https?:)?//[^"]+)"', page)
    found += re.findall(r'<link[^>]+href="((?:https?:)?//[^"]+)"', page)
    return found


# --- du tableau d'analyse à la carte -------------------------------------------------

_MESURE_LIBELLES = {
    "observe": ("Effectif", 0, ""),
    "taux": ("Taux", 1, " pour 1 000 habitants"),
    "taux_lisse": ("Taux lissé", 1, " pour 1 000 habitants"),
    "ratio": ("Observé / attendu", 2, ""),
}


def values_from_table(table: pd.DataFrame, mesure: str, classification=None, *,
                      seuil_secret: int = 5) -> dict[str, list]:
    """Valeurs de carte (:func:`build_map`) tirées d'un tableau d'analyse **public**.

    Parameters
    ----------
    table : pandas.DataFrame
        Table publique d'une diffusion (:func:`observatoire.diffusion.lecture.table`) :
        ``code``, ``nom``, ``observe``, ``taux``, ``taux_lisse``, ``ratio``, ``label``, ``secret``.
    mesure : {"observe", "taux", "taux_lisse", "ratio", "label"}
    classification : observatoire.classification.Classification, optional
        Classes de la mesure numérique (inutile pour ``"label"``).
    seuil_secret : int
        Seuil affiché dans l'infobulle des cellules secrètes.

    Returns
    -------
    dict
        Code -> ``[classe, texte, nom, blanche]`` où ``classe`` est un indice de
        classe, ``"secret"``, ``"non_concluant"``, une étiquette, ou None.
    """
    if mesure not in (*_MESURE_LIBELLES, "label"):
        raise ValueError(f"Mesure « {mesure} » inconnue : attendu l'une de "
                         f"{', '.join([*_MESURE_LIBELLES, 'label'])}.")
    n = len(table)
    secret = (table["secret"].fillna(False).astype(bool).tolist() if "secret" in table
              else [False] * n)
    labels = [None if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA
              else str(v) for v in (table["label"].tolist() if "label" in table
                                    else [None] * n)]
    if mesure != "label":
        vals = pd.to_numeric(table[mesure], errors="coerce").astype(float)
        classes = (classification.classes(vals) if classification is not None
                   else np.full(n, -1)).tolist()
    # Colonnes lues une fois en listes : une boucle sur .iloc coûte 30 fois plus.
    columns = {col: pd.to_numeric(table[col], errors="coerce").astype(float).tolist()
               for col in _MESURE_LIBELLES if col in table}
    out: dict[str, list] = {}
    esc = html.escape
    codes = table["code"].astype(str).tolist()
    noms = table["nom"].astype(str).tolist()
    from observatoire.classification import STYLE_HORS_PERIMETRE
    from observatoire.exports.donnees import hors_perimetre

    hors = hors_perimetre(table).tolist()
    for i in range(n):
        label = labels[i]
        lines = []
        if hors[i]:
            # Aucune source ne couvre l'unité : ni valeur, ni secret, ni étiquette.
            out[codes[i]] = ["hors_perimetre", esc(STYLE_HORS_PERIMETRE.libelle), noms[i], 0]
            continue
        if mesure == "label":
            # L'étiquette ne révèle pas l'effectif : elle reste visible même sous le secret.
            k = label
            if secret[i]:
                lines.append("effectif : secret statistique")
        elif secret[i]:
            k = "secret"
            lines.append(f"secret statistique (effectif de 1 à {seuil_secret - 1}, non "
                         f"diffusé par la source, ou protégeant une autre cellule)")
        elif mesure == "ratio" and label == "non concluant":
            k = "non_concluant"
        else:
            k = int(classes[i]) if classes[i] >= 0 else None
        if not secret[i]:
            for col, (lib, dec, unite) in _MESURE_LIBELLES.items():
                v = columns[col][i] if col in columns else math.nan
                if math.isnan(v):
                    continue
                texte = esc(f"{lib} : {format_nombre(v, dec)}{unite}")
                lines.append(f"<b>{texte}</b>" if col == mesure else texte)
        if mesure != "label" and not secret[i] and k is None:
            lines.insert(0, "pas de donnée")
        if label:
            lines.append(f"Étiquette : {esc(label)}")
        out[codes[i]] = [k, "<br>".join(lines), noms[i], 1 if label == "blanche présumée" else 0]
    return out


_UNITES_PLURIEL = {"commune": ("commune", "communes"), "epci": ("EPCI", "EPCI"),
                   "arrondissement": ("arrondissement", "arrondissements"),
                   "departement": ("département", "départements")}


def resume_carte(table: pd.DataFrame, mesure: str, classification=None, titre: str = "",
                 *, niveau: str = "commune", n_max: int = 5) -> str:
    """Résumé en phrases d'une carte, pour qui ne la voit pas (lecteur d'écran).

    Parameters
    ----------
    table : pandas.DataFrame
        Table **publique** de la carte (``code``, ``nom``, ``secret``, ``observe``,
        ``label`` et la colonne ``mesure``).
    mesure : str
        Colonne cartographiée, ou ``"label"`` pour la carte des étiquettes.
    classification : observatoire.classification.Classification, optional
        Classes de la carte (effectif de chaque classe).
    titre : str
    niveau : str
        Unités de la carte (``commune``, ``epci``, ``arrondissement``).
    n_max : int
        Nombre d'unités citées parmi les valeurs les plus élevées.

    Returns
    -------
    str
    """
    from observatoire.exports.donnees import PAS_DE_DONNEE, SECRET, statut

    un, des = _UNITES_PLURIEL.get(niveau, (niveau, niveau))
    n = len(table)
    phrases = [f"Carte : {titre}." if titre else "Carte."]
    if mesure == "label":
        labels = table["label"].dropna().astype(str).value_counts()
        parts = [f"{v} {des if v > 1 else un} « {k} »" for k, v in labels.items()]
        phrases.append(f"{n} {des} : " + ", ".join(parts) + ".")
    else:
        st_ = statut(table, mesure)
        n_sec, n_abs = int((st_ == SECRET).sum()), int((st_ == PAS_DE_DONNEE).sum())
        phrases.append(f"{n} {des} : {n - n_sec - n_abs} avec une valeur publiée, {n_sec} "
                       f"sous le secret statistique, {n_abs} sans donnée.")
        if classification is not None and classification.effectifs:
            parts = [f"{lib} : {e} {des if e > 1 else un}" for lib, e in
                     zip(classification.etiquettes(), classification.effectifs, strict=True)]
            phrases.append(f"Classes ({classification.unite}) : " + " ; ".join(parts) + ".")
        vals = pd.to_numeric(table[mesure], errors="coerce").where(st_ == "valeur")
        top = table.assign(_v=vals).dropna(subset=["_v"]).nlargest(n_max, "_v")
        dec = 0 if mesure == "observe" else (2 if mesure == "ratio" else 1)
        if not top.empty:
            phrases.append("Valeurs les plus élevées : " + ", ".join(
                f"{nom} ({format_nombre(v, dec)})" for nom, v in zip(top["nom"], top["_v"],
                                                                     strict=True)) + ".")
    phrases.append("Le tableau sous la carte donne la valeur de chaque "
                   f"{un if niveau != 'epci' else 'EPCI'}.")
    return " ".join(phrases)
