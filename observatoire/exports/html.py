"""Carte interactive autonome (HTML) : Leaflet et ses styles intégrés, hors ligne.

Construite avec folium, sans aucun appel réseau : Leaflet (``observatoire/static``) est
recopié dans la page, ses images en ``data:``, et aucun fond tuilé n'est demandé. La
page ne contient que des données publiques (textes déjà formatés de la table publique)
et se reproduit à l'octet près : les identifiants aléatoires de folium sont remplacés
par des identifiants séquentiels.
"""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path

import folium
import numpy as np
import shapely
from branca.element import Element, MacroElement
from jinja2 import Template

from observatoire import classification as cl
from observatoire.exports import print_maps as pm
from observatoire.exports.donnees import (
    MENTION_DEMO,
    NON_CONCLUANT,
    PAS_DE_DONNEE,
    SECRET,
    VALEUR,
    Publication,
    texte_valeur,
)

STATIC = Path(__file__).resolve().parent.parent / "static" / "leaflet"
#: Tolérance de simplification (m) : invisible à l'écran, divise le poids de la page.
TOLERANCE_M = 40.0
DECIMALES_COORD = 5  # environ 1 m


def _leaflet_inline() -> tuple[str, str]:
    css = (STATIC / "leaflet.css").read_text(encoding="utf-8")

    def data_uri(m: re.Match) -> str:
        img = STATIC / m.group(1)
        if not img.exists():
            return m.group(0)
        b64 = base64.b64encode(img.read_bytes()).decode()
        return f"url(data:image/png;base64,{b64})"

    css = re.sub(r"url\((images/[^)]+\.png)\)", data_uri, css)
    js = (STATIC / "leaflet.js").read_text(encoding="utf-8")
    return css, js


class _Motifs(MacroElement):
    """Motifs SVG des hachures, appliqués aux communes après le dessin de Leaflet."""

    _template = Template("""
{% macro script(this, kwargs) %}
(function() {
  var map = {{ this.carte }};
  var couche = {{ this.couche }};
  var defs = {{ this.defs|tojson }};
  function appliquer() {
    var svg = map.getPanes().overlayPane.querySelector('svg');
    if (!svg) { return; }
    if (!svg.querySelector('defs.motifs')) {
      var d = document.createElementNS('http://www.w3.org/2000/svg', 'defs');
      d.setAttribute('class', 'motifs');
      d.innerHTML = defs;
      svg.insertBefore(d, svg.firstChild);
    }
    couche.eachLayer(function(l) {
      var m = l.feature.properties.motif;
      if (m && l._path) { l._path.setAttribute('fill', 'url(#motif-' + m + ')'); }
    });
  }
  map.on('zoomend moveend', appliquer);
  appliquer();
})();
{% endmacro %}
""")

    def __init__(self, carte: str, couche: str, defs: str):
        super().__init__()
        self._name = "Motifs"
        self.carte, self.couche, self.defs = carte, couche, defs


def _geojson(pub: Publication, indicateur: str, classification: cl.Classification) -> dict:
    g = pm.table_carte(pub, indicateur, "departement")
    t = pub.table(indicateur, "commune").set_index("code")
    geom = shapely.coverage_simplify(g.geometry.values, TOLERANCE_M) \
        if hasattr(shapely, "coverage_simplify") else g.geometry.simplify(TOLERANCE_M).values
    geom = shapely.transform(
        np.asarray(__import__("geopandas").GeoSeries(geom, crs=g.crs).to_crs(4326)),
        lambda xy: np.round(xy, DECIMALES_COORD))
    idx = np.full(len(g), -1)
    val = (g["statut"] == VALEUR).to_numpy()
    idx[val] = classification.classes(g.loc[val, "taux"])
    feats = []
    etats = {SECRET: cl.STYLE_SECRET, NON_CONCLUANT: cl.STYLE_NON_CONCLUANT,
             PAS_DE_DONNEE: cl.STYLE_PAS_DE_DONNEE}
    for i, r in enumerate(g.itertuples(index=False)):
        sec = r.statut == SECRET
        row = t.loc[r.code] if r.code in t.index else None
        style = classification.styles()[idx[i]] if idx[i] >= 0 else etats[r.statut]
        label = r.label if isinstance(r.label, str) else "pas de donnée"
        props = {
            "code": r.code, "nom": r.nom,
            "effectif": texte_valeur(r.observe, 0, sec) or "pas de donnée",
            "taux": texte_valeur(r.taux, 1, sec) or "–",
            "population": texte_valeur(row["population"], 0) if row is not None else "",
            "etiquette": label,
            "classe": style.libelle,
            "couleur": style.remplissage, "motif": style.motif,
            "blanche": label == "blanche présumée",
        }
        feats.append({"type": "Feature", "properties": props,
                      "geometry": shapely.geometry.mapping(geom[i])})
    return {"type": "FeatureCollection", "features": feats}


def _legende(pub: Publication, indicateur: str, classification: cl.Classification) -> str:
    def case(style: cl.Style) -> str:
        svg = cl.motif_svg(style, f"leg-{style.motif}") if style.motif else ""
        fill = f"url(#leg-{style.motif})" if style.motif else style.remplissage
        return (f'<svg width="22" height="14" aria-hidden="true"><defs>{svg}</defs>'
                f'<rect width="22" height="14" fill="{fill}" stroke="#636363"/></svg>')
    lignes = [f'<div class="ligne">{case(s)} {html.escape(s.libelle)}</div>'
              for s in classification.styles() + [cl.STYLE_SECRET, cl.STYLE_PAS_DE_DONNEE]]
    lignes.append('<div class="ligne"><svg width="22" height="14" aria-hidden="true">'
                  '<rect x="1" y="1" width="20" height="12" fill="none" stroke="#3f007d" '
                  'stroke-width="2.5" stroke-dasharray="4 2"/></svg> zone blanche présumée'
                  '</div>')
    titre, sous = pm.titres(pub, indicateur, "departement")
    demo = f'<div class="demo">{MENTION_DEMO}</div>' if pub.demo else ""
    return f"""
<div id="legende" role="region" aria-label="Légende">
{demo}<div class="titre">{html.escape(titre)}</div><div class="sous">{html.escape(sous)}</div>
<div class="entete">Taux {cl.UNITE_TAUX} ({html.escape(cl.METHODES[classification.methode])})</div>
{''.join(lignes)}
<div class="source">{html.escape(pub.ligne_source(indicateur))}<br>
{html.escape(pub.attribution())}</div>
</div>
<style>
#legende {{position:absolute; z-index:1000; top:10px; right:10px; max-width:330px;
  background:rgba(255,255,255,.94); padding:8px 10px; font:12px/1.35 "DejaVu Sans",Arial,sans-serif;
  border:1px solid #999; border-radius:4px}}
#legende .titre {{font-weight:bold; font-size:13px}}
#legende .sous {{color:#333; margin-bottom:6px}}
#legende .entete {{font-weight:bold; margin:4px 0}} #legende .ligne {{display:flex; gap:6px;
  align-items:center}} #legende .source {{font-size:10px; color:#444; margin-top:6px}}
#legende .demo {{color:#b2182b; font-weight:bold; text-transform:uppercase}}
</style>"""


def _ids_deterministes(racine) -> None:
    """Remplace les identifiants aléatoires (uuid4) de folium par un compteur."""
    n = 0
    pile = [racine]
    while pile:
        el = pile.pop(0)
        el._id = f"{n:08d}"
        n += 1
        pile.extend(el._children.values())
        for attr in ("header", "html", "script"):
            sous = getattr(el, attr, None)
            if sous is not None and hasattr(sous, "_children") and sous is not el:
                pile.append(sous)


def produire_html(pub: Publication, chemin: Path, indicateur: str,
                  classification: cl.Classification) -> Path:
    """Écrit la carte interactive autonome d'un indicateur (département, communes).

    Parameters
    ----------
    pub : Publication
    chemin : Path
        Fichier ``.html``.
    indicateur : str
    classification : Classification
        Les mêmes classes que les cartes imprimées.

    Returns
    -------
    Path
    """
    gj = _geojson(pub, indicateur, classification)
    b = pub.couches["departement"].to_crs(4326).total_bounds
    m = folium.Map(location=[(b[1] + b[3]) / 2, (b[0] + b[2]) / 2], tiles=None,
                   zoom_start=9, control_scale=True, zoom_control=True)
    # Aucune ressource distante : on retire les liens CDN de folium et on intègre Leaflet.
    m.default_js, m.default_css = [], []
    css, js = _leaflet_inline()
    m.get_root().header.add_child(Element(f"<style>{css}</style>"), name="leaflet_css")
    m.get_root().header.add_child(Element(f"<script>{js}</script>"), name="leaflet_js")
    m.fit_bounds([[b[1], b[0]], [b[3], b[2]]])
    couche = folium.GeoJson(
        gj, name="communes",
        style_function=lambda f: {
            "fillColor": f["properties"]["couleur"], "fillOpacity": 0.9,
            "color": "#3f007d" if f["properties"]["blanche"] else "#666666",
            "weight": 2.5 if f["properties"]["blanche"] else 0.4,
            "dashArray": "4 2" if f["properties"]["blanche"] else None},
        highlight_function=lambda f: {"weight": 2, "color": "#000000"},
        tooltip=folium.GeoJsonTooltip(
            fields=["nom", "effectif", "taux", "etiquette", "population"],
            aliases=["Commune", "Effectif", f"Taux {cl.UNITE_TAUX}", "Étiquette",
                     "Population"], localize=False, sticky=True),
    ).add_to(m)
    for niveau, style in (("epci", cl.STYLE_LIMITE_EPCI),
                          ("arrondissement", cl.STYLE_LIMITE_ARRONDISSEMENT)):
        lim = pub.couches[niveau][["code", "nom", "geometry"]].copy()
        lim["geometry"] = lim.geometry.simplify(TOLERANCE_M).boundary
        lim = lim.to_crs(4326)
        lim["geometry"] = shapely.transform(lim.geometry.values,
                                            lambda xy: np.round(xy, DECIMALES_COORD))
        folium.GeoJson(json.loads(lim.to_json(drop_id=True)), name=style.libelle,
                       style_function=lambda f, s=style: {"color": s.contour,
                                                          "weight": s.epaisseur * 2,
                                                          "dashArray": s.tirets or None},
                       interactive=False).add_to(m)
    defs = "".join(cl.motif_svg(s) for s in (cl.STYLE_SECRET, cl.STYLE_NON_CONCLUANT,
                                             cl.STYLE_PAS_DE_DONNEE))
    m.add_child(_Motifs(m.get_name(), couche.get_name(), defs))
    m.get_root().html.add_child(Element(_legende(pub, indicateur, classification)))
    folium.LayerControl(collapsed=True).add_to(m)
    racine = m.get_root()
    _ids_deterministes(racine)
    # Les macros se référencent par nom : on les recalcule après le changement d'ids.
    for el in m._children.values():
        if isinstance(el, _Motifs):
            el.carte, el.couche = m.get_name(), couche.get_name()
    page = racine.render()
    distants = re.findall(r'<(?:script|link)[^>]+(?:src|href)="(https?:[^"]+)"', page)
    if distants:
        raise RuntimeError(f"Ressources distantes dans la carte autonome : {distants}")
    chemin.parent.mkdir(parents=True, exist_ok=True)
    chemin.write_text(page, encoding="utf-8", newline="\n")
    return chemin
