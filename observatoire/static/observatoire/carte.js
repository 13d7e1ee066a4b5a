/* Carte de l'observatoire : décode la topologie des communes, colore, dessine les limites,
 * les dispositifs et les référents, la légende et les contrôles. Aucune ressource externe.
 * Appelé par observatoire.maps (Python) : Observatoire.build(map, config).
 */
(function () {
  "use strict";

  function decodeArcs(topo) {
    var s = topo.transform.scale, t = topo.transform.translate;
    return topo.arcs.map(function (arc) {
      var x = 0, y = 0;
      return arc.map(function (p) {
        x += p[0]; y += p[1];
        return [y * s[1] + t[1], x * s[0] + t[0]];
      });
    });
  }

  function ringOf(arcs, idx) {
    var pts = [];
    idx.forEach(function (i) {
      var a = i < 0 ? arcs[~i].slice().reverse() : arcs[i];
      if (pts.length) { pts.pop(); }
      Array.prototype.push.apply(pts, a);
    });
    return pts;
  }

  function latlngsOf(arcs, geom) {
    if (!geom || !geom.arcs) { return []; }
    var polys = geom.type === "Polygon" ? [geom.arcs] : geom.arcs;
    return polys.map(function (poly) {
      return poly.map(function (ring) { return ringOf(arcs, ring); });
    });
  }

  function escapeHtml(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"}[c];
    });
  }

  function ensurePatterns(map, layer, patterns) {
    var renderer = map.getRenderer(layer);
    var svg = renderer && renderer._container;
    if (!svg || !patterns || svg.querySelector("defs.obs-motifs")) { return; }
    var defs = document.createElementNS("http://www.w3.org/2000/svg", "defs");
    defs.setAttribute("class", "obs-motifs");
    defs.innerHTML = patterns;
    svg.insertBefore(defs, svg.firstChild);
  }

  function fillFor(cfg, k) {
    if (k === null || k === undefined || k === -1) { return cfg.styles.sans_donnee; }
    if (typeof k === "number") { return {fillColor: cfg.palette[k], fillOpacity: 0.9}; }
    return cfg.styles[k] || cfg.styles.sans_donnee;
  }

  function build(map, cfg) {
    var topo = cfg.topology;
    var arcs = decodeArcs(topo);
    var geoms = topo.objects.communes.geometries;
    var key = cfg.unit_key;  // "id" pour les communes, sinon la propriété du groupe
    var choro = L.featureGroup();
    var blanches = L.featureGroup();
    var strokeCommunes = key === "id";
    geoms.forEach(function (g) {
      var unit = key === "id" ? g.id : g.properties[key];
      var v = cfg.values[unit] || null;
      var k = v ? v[0] : null;
      var style = L.extend({color: "#ffffff", weight: strokeCommunes ? 0.6 : 0,
                            opacity: 1, className: "obs-commune obs-c-" + g.id},
                           fillFor(cfg, k));
      var ll = latlngsOf(arcs, g);
      if (!ll.length) { return; }
      var poly = L.polygon(ll, style);
      var name = key === "id" ? g.properties.n : (v && v[2]) || unit;
      var text = v ? v[1] : cfg.texte_sans_donnee;
      poly.feature = {type: "Feature", id: g.id,
                      properties: {code: unit, nom: g.properties.n, unite: name}};
      var head = key === "id" ? escapeHtml(name) + " (" + escapeHtml(unit) + ")"
        : escapeHtml(name) + " (" + escapeHtml(unit) + ")<br><small>commune : " +
          escapeHtml(g.properties.n) + "</small>";
      poly.bindTooltip("<b>" + head + "</b><br>" + text, {sticky: true});
      poly.on("mouseover", function () { this.setStyle({weight: 2.5, color: "#000000"}); });
      poly.on("mouseout", function () {
        this.setStyle({weight: style.weight, color: style.color});
      });
      choro.addLayer(poly);
      if (v && v[3]) {
        blanches.addLayer(L.polygon(ll, L.extend({fill: false, interactive: false},
                                                 cfg.contour_blanche)));
      }
    });
    choro.addTo(map);
    ensurePatterns(map, choro.getLayers()[0] || L.polygon([]), cfg.patterns);
    var overlays = {};
    overlays[cfg.noms.choro] = choro;
    if (blanches.getLayers().length) {
      blanches.addTo(map);
      overlays[cfg.noms.blanches] = blanches;
    }
    (cfg.meshes || []).forEach(function (m) {
      var lines = m.arcs.map(function (i) { return arcs[i < 0 ? ~i : i]; });
      var layer = L.polyline(lines, {color: m.color, weight: m.weight, dashArray: m.dash || null,
                                     interactive: false});
      if (m.show) { layer.addTo(map); }
      overlays[m.name] = layer;
    });
    (cfg.dispositifs || []).forEach(function (grp) {
      var cluster = L.markerClusterGroup({
        showCoverageOnHover: false, maxClusterRadius: 40,
        iconCreateFunction: function (c) {
          return L.divIcon({html: "<span>" + escapeHtml(grp.abbr) + "<b>" + c.getChildCount() +
                            "</b></span>", className: "obs-cluster",
                            iconSize: L.point(38, 38)});
        }
      });
      grp.points.forEach(function (p) {
        var icon = L.divIcon({html: "<span>" + escapeHtml(grp.abbr) + "</span>",
                              className: "obs-dispositif obs-" + grp.cls,
                              iconSize: L.point(26, 26)});
        var marker = L.marker([p[0], p[1]], {icon: icon, title: p[3], keyboard: true,
                                             alt: p[3]});
        marker.bindPopup(p[2], {maxWidth: 320});
        cluster.addLayer(marker);
      });
      if (grp.show) { cluster.addTo(map); }
      overlays[grp.name] = cluster;
    });
    if (cfg.referents && cfg.referents.points.length) {
      var refs = L.featureGroup();
      cfg.referents.points.forEach(function (p) {
        var trained = p[2] === 1;
        L.circleMarker([p[0], p[1]], {
          radius: 5, color: "#000000", weight: 1.5,
          fillColor: trained ? "#000000" : "#ffffff", fillOpacity: 1
        }).bindTooltip(escapeHtml(p[3]) + " : " + (trained ? cfg.referents.forme
                                                            : cfg.referents.non_forme))
          .addTo(refs);
      });
      if (cfg.referents.show) { refs.addTo(map); }
      overlays[cfg.referents.name] = refs;
    }
    var bases = {};
    bases[cfg.noms.fond_vide] = L.layerGroup().addTo(map);
    if (cfg.osm) {
      bases[cfg.noms.osm] = L.tileLayer(cfg.osm.url, {attribution: cfg.osm.attribution,
                                                     maxZoom: 18});
    }
    L.control.layers(bases, overlays, {collapsed: cfg.collapsed !== false}).addTo(map);
    if (L.Control.Search) {
      var search = new L.Control.Search({
        layer: choro, propertyName: "nom", initial: false, marker: false,
        textPlaceholder: cfg.noms.recherche, textErr: cfg.noms.introuvable,
        textCancel: cfg.noms.effacer, autoCollapse: true,
        moveToLocation: function (latlng, title, m) {
          if (latlng.layer && latlng.layer.getBounds) { m.fitBounds(latlng.layer.getBounds()); }
        }
      });
      search.on("search:locationfound", function (e) {
        if (e.layer) { e.layer.setStyle({weight: 3.5, color: "#000000"}); e.layer.openTooltip(); }
      });
      map.addControl(search);
    }
    if (L.control.fullscreen) {
      L.control.fullscreen({position: "topleft", title: cfg.noms.plein_ecran,
                            titleCancel: cfg.noms.quitter_plein_ecran}).addTo(map);
    }
    if (cfg.legend) {
      var legend = L.control({position: "bottomright"});
      legend.onAdd = function () {
        var div = L.DomUtil.create("div", "obs-legende");
        div.setAttribute("role", "region");
        div.setAttribute("aria-label", "Légende");
        div.innerHTML = "<details open><summary>Légende</summary>" + cfg.legend + "</details>";
        L.DomEvent.disableClickPropagation(div);
        L.DomEvent.disableScrollPropagation(div);
        return div;
      };
      legend.addTo(map);
    }
    L.control.scale({imperial: false, position: "bottomleft"}).addTo(map);
    if (cfg.bounds) {
      // Place laissée à droite pour la légende, pour qu'elle ne cache pas le territoire.
      var pad = cfg.legend && map.getSize().x > 480 ? Math.min(170, map.getSize().x * 0.25) : 0;
      map.fitBounds(cfg.bounds, {paddingBottomRight: [pad, 0], paddingTopLeft: [10, 10]});
    }
    return choro;
  }

  window.Observatoire = {build: build, decodeArcs: decodeArcs};
})();
