/* Carte de l'observatoire : décode la topologie des communes, colore, dessine les limites,
 * les dispositifs et les référents, la légende (à côté de la carte, jamais dessus) et les
 * contrôles en français. Aucune ressource externe.
 *
 * Deux entrées, le même dessin :
 *  - Observatoire.build(map, config) : carte Folium déjà créée (page HTML autonome de la
 *    publication, observatoire.maps.build_map) ;
 *  - Observatoire.mount(element, config, onClick) : composant de l'application
 *    (observatoire.app_pages.composants) ; un nouvel appel sur le même élément ne
 *    redessine que ce qui a changé (couleurs, infobulles, légende), pas les communes.
 *    onClick(code) à chaque clic sur une unité ; onClick(null, "topologie") si la
 *    topologie, envoyée une fois par session, manque à ce navigateur ;
 *    onClick(null, "dessinee") une fois les communes dessinées.
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

  function ensurePatterns(S, patterns) {
    var renderer = S.map.getRenderer(S.choro.getLayers()[0] || L.polygon([]));
    var svg = renderer && renderer._container;
    if (!svg || !patterns) { return; }
    var defs = svg.querySelector("defs.obs-motifs");
    if (defs && defs.getAttribute("data-motifs") === patterns) { return; }
    if (!defs) {
      defs = document.createElementNS("http://www.w3.org/2000/svg", "defs");
      defs.setAttribute("class", "obs-motifs");
      svg.insertBefore(defs, svg.firstChild);
    }
    defs.innerHTML = patterns;
    defs.setAttribute("data-motifs", patterns);
  }

  function fillFor(cfg, k) {
    if (k === null || k === undefined || k === -1) { return cfg.styles.sans_donnee; }
    if (typeof k === "number") { return {fillColor: cfg.palette[k], fillOpacity: 0.9}; }
    return cfg.styles[k] || cfg.styles.sans_donnee;
  }

  function fit(S) {
    S.map.invalidateSize();
    if (S.bounds) {
      S.map.fitBounds(S.bounds, {paddingTopLeft: [12, 12], paddingBottomRight: [12, 12]});
    }
  }

  // --- la carte et ses contrôles ----------------------------------------------------

  function frenchControls(S, cfg) {
    var map = S.map, noms = cfg.noms;
    if (map.zoomControl) { map.removeControl(map.zoomControl); }
    map.zoomControl = L.control.zoom({zoomInTitle: noms.zoom_avant,
                                      zoomOutTitle: noms.zoom_arriere}).addTo(map);
    if (map.attributionControl) {
      map.attributionControl.setPrefix(
        '<a href="https://leafletjs.com" title="' + escapeHtml(noms.leaflet) + '">Leaflet</a>');
    }
    L.control.scale({imperial: false, position: "bottomleft"}).addTo(map);
    if (L.control.fullscreen) {
      L.control.fullscreen({position: "topleft", title: noms.plein_ecran,
                            titleCancel: noms.quitter_plein_ecran,
                            fullscreenElement: S.wrapper || false}).addTo(map);
      // Plein écran et retour : la carte change de taille, on la recadre sur le territoire.
      map.on("enterFullscreen exitFullscreen", function () {
        setTimeout(function () { fit(S); }, 150);
      });
    }
  }

  function addSearch(S, cfg) {
    if (!L.Control.Search) { return; }
    var search = new L.Control.Search({
      layer: S.choro, propertyName: "nom", initial: false, marker: false,
      textPlaceholder: cfg.noms.recherche, textErr: cfg.noms.introuvable,
      textCancel: cfg.noms.effacer, autoCollapse: true,
      moveToLocation: function (latlng, title, m) {
        if (latlng.layer && latlng.layer.getBounds) { m.fitBounds(latlng.layer.getBounds()); }
      }
    });
    search.on("search:locationfound", function (e) {
      if (e.layer) { e.layer.setStyle({weight: 3.5, color: "#000000"}); e.layer.openTooltip(); }
    });
    S.map.addControl(search);
    if (search._input) { search._input.setAttribute("aria-label", cfg.noms.recherche); }
    if (search._button) { search._button.setAttribute("aria-label", cfg.noms.recherche); }
  }

  function drawCommunes(S, topo) {
    var arcs = decodeArcs(topo);
    S.arcs = arcs;
    S.polys = [];
    S.choro = L.featureGroup();
    topo.objects.communes.geometries.forEach(function (g) {
      var ll = latlngsOf(arcs, g);
      if (!ll.length) { return; }
      var poly = L.polygon(ll, {color: "#ffffff", weight: 0.6, opacity: 1, fillOpacity: 0.9,
                                className: "obs-commune obs-c-" + g.id});
      poly._obsGeom = g;
      poly.feature = {type: "Feature", id: g.id, properties: {code: g.id, nom: g.properties.n}};
      poly.bindTooltip("", {sticky: true});
      poly.on("mouseover", function () { this.setStyle({weight: 2.5, color: "#000000"}); });
      poly.on("mouseout", function () {
        this.setStyle({weight: this._obsStyle.weight, color: this._obsStyle.color});
      });
      poly.on("click", function () { if (S.onClick) { S.onClick(this._obsUnit); } });
      S.choro.addLayer(poly);
      S.polys.push(poly);
    });
    S.choro.addTo(S.map);
    S.blanches = L.featureGroup().addTo(S.map);
  }

  function applyValues(S, cfg) {
    var key = cfg.unit_key;  // "id" pour les communes, sinon la propriété du groupe
    var strokeCommunes = key === "id";
    ensurePatterns(S, cfg.patterns);
    S.blanches.clearLayers();
    S.polys.forEach(function (poly) {
      var g = poly._obsGeom;
      var unit = key === "id" ? g.id : g.properties[key];
      var v = cfg.values[unit] || null;
      var style = L.extend({color: "#ffffff", weight: strokeCommunes ? 0.6 : 0, opacity: 1},
                           fillFor(cfg, v ? v[0] : null));
      poly._obsStyle = style;
      poly._obsUnit = unit;
      poly.setStyle(style);
      var name = key === "id" ? g.properties.n : (v && v[2]) || unit;
      var head = key === "id" ? escapeHtml(name) + " (" + escapeHtml(unit) + ")"
        : escapeHtml(name) + " (" + escapeHtml(unit) + ")<br><small>commune : " +
          escapeHtml(g.properties.n) + "</small>";
      poly.setTooltipContent("<b>" + head + "</b><br>" + (v ? v[1] : cfg.texte_sans_donnee));
      if (v && v[3]) {
        S.blanches.addLayer(L.polygon(poly.getLatLngs(),
                                      L.extend({fill: false, interactive: false},
                                               cfg.contour_blanche)));
      }
    });
  }

  function clusterIcon(grp) {
    return function (c) {
      return L.divIcon({html: "<span>" + escapeHtml(grp.abbr) + "<b>" + c.getChildCount() +
                        "</b></span>", className: "obs-cluster",
                        iconSize: L.point(Math.max(38, 12 + 7 * grp.abbr.length), 38)});
    };
  }

  function buildOverlays(S, cfg) {
    var overlays = [];  // [nom, couche, identifiant de la légende]
    overlays.push([cfg.noms.choro, S.choro, "choro"]);
    overlays.push([cfg.noms.blanches, S.blanches, "blanches"]);
    (cfg.meshes || []).forEach(function (m) {
      var lines = m.arcs.map(function (i) { return S.arcs[i < 0 ? ~i : i]; });
      var layer = L.polyline(lines, {color: m.color, weight: m.weight, dashArray: m.dash || null,
                                     interactive: false});
      if (m.show !== false) { layer.addTo(S.map); }
      overlays.push([m.name, layer, m.couche || m.mesh]);
    });
    (cfg.dispositifs || []).forEach(function (grp) {
      var cluster = L.markerClusterGroup ? L.markerClusterGroup({
        showCoverageOnHover: false, maxClusterRadius: 40, iconCreateFunction: clusterIcon(grp)
      }) : L.featureGroup();
      grp.points.forEach(function (p) {
        // Largeur selon les lettres (« AJ », « UAPED ») : jamais tronquées. Plusieurs
        // dispositifs au même point se rangent côte à côte (rang p[4] parmi p[5]).
        var w = Math.max(26, 10 + 7 * grp.abbr.length);
        var decalage = ((p[4] || 0) - ((p[5] || 1) - 1) / 2) * 46;
        var icon = L.divIcon({html: "<span>" + escapeHtml(grp.abbr) + "</span>",
                              className: "obs-dispositif obs-" + grp.cls,
                              iconSize: L.point(w, 24),
                              iconAnchor: L.point(w / 2 - decalage, 12)});
        var marker = L.marker([p[0], p[1]], {icon: icon, title: p[3], keyboard: true,
                                             alt: p[3]});
        // Marges d'auto-déplacement : la fenêtre s'ouvre hors des contrôles (zoom, plein
        // écran, recherche à gauche ; couches à droite ; échelle en bas).
        marker.bindPopup(p[2], {maxWidth: 320, autoPanPaddingTopLeft: L.point(56, 64),
                                autoPanPaddingBottomRight: L.point(56, 40)});
        cluster.addLayer(marker);
      });
      // Sur un petit écran, les marqueurs cacheraient les communes : couche à allumer.
      if (grp.show !== false && S.map.getSize().x >= 500) { cluster.addTo(S.map); }
      overlays.push([grp.name, cluster, "dispositif-" + grp.cls]);
    });
    var r = cfg.referents;
    if (r && r.points.length) {
      var refs = L.featureGroup();
      r.points.forEach(function (p) {
        var trained = p[2] === 1;
        // Discrets : petits, gris, sous les autres symboles ; la couche est éteinte par
        // défaut pour ne pas cacher les couleurs des communes.
        L.circleMarker([p[0], p[1]], {
          radius: 3.5, color: "#1a1a1a", weight: 1, opacity: 0.9, className: "obs-referent",
          fillColor: trained ? "#1a1a1a" : "#ffffff", fillOpacity: 0.9
        }).bindTooltip(escapeHtml(p[3]) + " : " + (trained ? r.forme : r.non_forme))
          .addTo(refs);
      });
      if (r.show) { refs.addTo(S.map); }
      overlays.push([r.name, refs, "referents"]);
    }
    var bases = {};
    bases[cfg.noms.fond_vide] = L.layerGroup().addTo(S.map);
    if (cfg.osm) {
      bases[cfg.noms.osm] = L.tileLayer(cfg.osm.url, {attribution: cfg.osm.attribution,
                                                     maxZoom: 18});
    }
    var named = {};
    overlays.forEach(function (o) { named[o[0]] = o[1]; o[1]._obsCouche = o[2]; });
    S.overlays = overlays;
    S.control = L.control.layers(bases, named, {collapsed: cfg.collapsed !== false})
      .addTo(S.map);
    if (S.control._layersLink) {
      S.control._layersLink.title = cfg.noms.couches;
      S.control._layersLink.setAttribute("aria-label", cfg.noms.couches);
    }
  }

  function clearOverlays(S) {
    if (S.control) { S.map.removeControl(S.control); }
    (S.overlays || []).forEach(function (o) {
      if (o[1] !== S.choro && o[1] !== S.blanches) { S.map.removeLayer(o[1]); }
    });
    S.map.eachLayer(function (l) { if (l instanceof L.TileLayer) { S.map.removeLayer(l); } });
  }

  // --- légende et résumé ------------------------------------------------------------

  function refreshLegend(S) {
    if (!S.legend) { return; }
    var on = {};
    (S.overlays || []).forEach(function (o) { on[o[2]] = S.map.hasLayer(o[1]); });
    // Une entrée liée à une couche n'apparaît que si la couche est affichée ; les couches
    // éteintes sont rappelées à part, pour qu'on sache les allumer.
    S.legend.querySelectorAll("[data-couche]").forEach(function (li) {
      var c = li.getAttribute("data-couche");
      if (c in on) { li.hidden = !on[c]; } else { li.hidden = true; }
    });
    var off = (S.overlays || []).filter(function (o) {
      return !on[o[2]] && S.legend.querySelector('[data-couche="' + o[2] + '"]');
    });
    var note = S.legend.querySelector(".obs-couches-eteintes");
    if (note) {
      note.hidden = !off.length;
      note.textContent = off.length ? S.noms.couches_eteintes + " " +
        off.map(function (o) { return o[0]; }).join(" ; ") + "." : "";
    }
  }

  function setLegend(S, cfg) {
    if (!S.legend) { return; }
    S.legend.innerHTML = cfg.legend || "";
    refreshLegend(S);
  }

  function layout(parent, cfg) {
    var wrapper = document.createElement("div");
    wrapper.className = "obs-carte";
    var mapDiv = document.createElement("div");
    mapDiv.className = "obs-carte-map";
    var legend = document.createElement("aside");
    legend.className = "obs-legende obs-legende-panneau";
    legend.setAttribute("aria-label", cfg.noms.legende);
    var resume = document.createElement("p");
    resume.className = "obs-resume";
    resume.id = "obs-resume-" + Math.random().toString(36).slice(2);
    mapDiv.setAttribute("role", "region");
    mapDiv.setAttribute("aria-describedby", resume.id);
    wrapper.appendChild(mapDiv);
    wrapper.appendChild(legend);
    parent.appendChild(wrapper);
    parent.appendChild(resume);
    return {wrapper: wrapper, mapDiv: mapDiv, legend: legend, resume: resume};
  }

  function setTexts(S, cfg) {
    S.mapDiv.setAttribute("aria-label", cfg.titre || cfg.noms.choro);
    if (S.resume) { S.resume.textContent = cfg.resume || ""; }
  }

  function draw(S, cfg, topo) {
    S.noms = cfg.noms;
    S.bounds = cfg.bounds;
    frenchControls(S, cfg);
    drawCommunes(S, topo);
    applyValues(S, cfg);
    buildOverlays(S, cfg);
    addSearch(S, cfg);
    setLegend(S, cfg);
    setTexts(S, cfg);
    S.map.on("overlayadd overlayremove", function () { refreshLegend(S); });
    fit(S);
  }

  /** Carte Folium (page HTML autonome) : la légende passe à côté de la carte. */
  function build(map, cfg) {
    var container = map.getContainer();
    var parent = container.parentNode;
    var L_ = layout(parent, cfg);
    // Le conteneur de Folium prend la place de la carte dans la mise en page commune.
    L_.wrapper.replaceChild(container, L_.mapDiv);
    container.classList.add("obs-carte-map");
    container.setAttribute("role", "region");
    container.setAttribute("aria-describedby", L_.resume.id);
    var S = {map: map, wrapper: L_.wrapper, mapDiv: container, legend: L_.legend,
             resume: L_.resume};
    draw(S, cfg, cfg.topology);
    return S.choro;
  }

  // Topologies déjà reçues pendant la session (l'application ne l'envoie qu'une fois).
  var topologies = {};

  /** Composant de l'application : dessine une fois, puis ne met à jour que la vue. */
  function mount(parent, cfg, onClick) {
    var t0 = window.performance ? performance.now() : 0;
    if (cfg.topology) {
      topologies[cfg.geo_version] = cfg.topology;
    } else if (topologies[cfg.geo_version]) {
      cfg = L.extend({}, cfg, {topology: topologies[cfg.geo_version]});
    }
    var S = parent.__observatoire;
    if (S && S.geo !== cfg.geo_version) {
      S.map.remove();
      parent.innerHTML = "";
      S = null;
    }
    if (!S) {
      if (!cfg.topology) {
        // Topologie inconnue de ce navigateur (cas rare : mémoire perdue) : on la demande.
        if (onClick) { onClick(null, "topologie"); }
        return null;
      }
      var L_ = layout(parent, cfg);
      var map = L.map(L_.mapDiv, {zoomSnap: 0.25, maxZoom: 18, minZoom: 6,
                                  preferCanvas: false});
      // Une vue dès la création : les couches s'ajoutent ensuite à une carte prête.
      map.fitBounds(cfg.bounds);
      S = {map: map, wrapper: L_.wrapper, mapDiv: L_.mapDiv, legend: L_.legend,
           resume: L_.resume, geo: cfg.geo_version, couches: cfg.couches_version};
      parent.__observatoire = S;
      S.onClick = onClick;
      var topo = typeof cfg.topology === "string" ? JSON.parse(cfg.topology) : cfg.topology;
      draw(S, cfg, topo);
      if (window.ResizeObserver) {
        // Barre latérale repliée, rotation du téléphone : la carte suit son conteneur.
        new ResizeObserver(function () { S.map.invalidateSize(); }).observe(L_.mapDiv);
      }
      // Communes dessinées : l'application peut envoyer le reste de la page (tableau).
      if (onClick) { onClick(null, "dessinee"); }
      return S;
    }
    S.onClick = onClick;
    applyValues(S, cfg);
    if (S.couches !== cfg.couches_version) {
      clearOverlays(S);
      buildOverlays(S, cfg);
      S.couches = cfg.couches_version;
    }
    setLegend(S, cfg);
    setTexts(S, cfg);
    if (window.performance) { window.__obsMaj = [t0, performance.now()]; }
    return S;
  }

  window.Observatoire = {build: build, mount: mount, decodeArcs: decodeArcs};
})();
