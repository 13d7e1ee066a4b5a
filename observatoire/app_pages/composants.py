"""Composants de page (``st.components.v2``) : la carte Leaflet et la francisation.

**La carte** est dessinée dans la page elle-même (pas dans un cadre ``iframe``), par le
même ``carte.js`` que la carte HTML autonome de la publication. Les communes ne sont
dessinées qu'une fois : changer d'année, d'indicateur, de mesure ou de niveau ne fait
que recolorer les polygones et changer les infobulles et la légende. Un clic sur une
unité renvoie son code à Python (valeur déclenchée ``clic``).

**La francisation** donne à la page ``<html lang="fr">`` et traduit les quelques textes
que Streamlit n'expose pas (lien d'évitement, étiquettes d'accessibilité des boutons,
« Page not found ») : Streamlit n'a pas de paramètre de langue pour eux
(streamlit/streamlit#13500). Les ressources (Leaflet, extensions, styles) sont servies
par l'application (``static/``), aucune n'est chargée d'un CDN.
"""

from __future__ import annotations

import json

import streamlit as st

# Adresse des ressources : même racine que le script de Streamlit (marche aussi derrière
# un mandataire qui sert l'application sous un chemin, server.baseUrlPath).
_BASE = """
function obsBase() {
  const s = document.querySelector('script[src*="static/js/index"]');
  return s ? s.src.split('static/js/')[0] : new URL('./', document.baseURI).href;
}
"""

_CSS = ["leaflet/leaflet.css", "markercluster/MarkerCluster.css",
        "fullscreen/Control.FullScreen.css", "leaflet-search/dist/leaflet-search.min.css",
        "observatoire/carte.css"]
_JS = ["leaflet/leaflet.js", "markercluster/leaflet.markercluster.js",
       "fullscreen/Control.FullScreen.js", "leaflet-search/dist/leaflet-search.min.js",
       "observatoire/carte.js"]

_CHARGER = _BASE + f"""
const CSS = {json.dumps(_CSS)};
const JS = {json.dumps(_JS)};
function charger() {{
  if (window.__obsCarteLibs) {{ return window.__obsCarteLibs; }}
  const base = obsBase() + 'app/static/';
  // Styles d'abord : la carte doit connaître sa taille (carte.css) avant d'être cadrée.
  const styles = CSS.map((href) => new Promise((ok) => {{
    if (document.querySelector('link[data-obs="' + href + '"]')) {{ ok(); return; }}
    const l = document.createElement('link');
    l.rel = 'stylesheet'; l.href = base + href; l.setAttribute('data-obs', href);
    l.onload = ok; l.onerror = ok;
    document.head.appendChild(l);
  }}));
  // Téléchargés en parallèle, exécutés dans l'ordre (async = false) : les extensions
  // supposent Leaflet chargé.
  const scripts = JS.map((src) => new Promise((ok, ko) => {{
    const s = document.createElement('script');
    s.src = base + src; s.async = false; s.onload = ok;
    s.onerror = () => ko(new Error('Ressource introuvable : ' + src));
    document.head.appendChild(s);
  }}));
  window.__obsCarteLibs = Promise.all([...styles, ...scripts]);
  return window.__obsCarteLibs;
}}
"""

_CARTE_JS = _CHARGER + """
export default async function (component) {
  const { data, parentElement, setTriggerValue } = component;
  await charger();
  window.Observatoire.mount(parentElement, data, (code, besoin) =>
    besoin ? setTriggerValue(besoin, true) : setTriggerValue('clic', code));
}
"""

_carte = st.components.v2.component("observatoire_carte", js=_CARTE_JS,
                                    isolate_styles=False)


def carte(config: dict, *, key: str = "carte") -> tuple[str | None, str | None]:
    """Monte la carte (ou la met à jour) ; renvoie le code de l'unité cliquée.

    Parameters
    ----------
    config : dict
        Sortie de :func:`observatoire.maps.map_config`, où ``topology`` est déjà en
        JSON (chaîne : le navigateur ne la relit que si ``geo_version`` change), plus
        ``geo_version`` et ``couches_version`` (les couches de dispositifs, référents et
        limites ne sont refaites que quand elle change).
    key : str
        Clé Streamlit : la même d'une exécution à l'autre, pour que la carte reste en
        place et ne soit que recolorée.

    Returns
    -------
    code : str or None
        Code de l'unité cliquée pendant cette exécution, sinon None.
    signal : {"topologie", "dessinee"} or None
        ``"topologie"`` : le navigateur demande la topologie (il ne l'a pas gardée) ;
        ``"dessinee"`` : les communes viennent d'être dessinées.
    """
    result = _carte(key=key, data=config, on_clic_change=lambda: None,
                    on_topologie_change=lambda: None, on_dessinee_change=lambda: None)
    if result is None:
        return None, None
    signal = next((s for s in ("topologie", "dessinee") if getattr(result, s, None)), None)
    return getattr(result, "clic", None), signal


#: Textes anglais de Streamlit et leur traduction (attributs et textes visibles).
TRADUCTIONS = {
    "Skip to main content": "Aller au contenu principal",
    "Sidebar": "Barre latérale",
    "Collapse sidebar": "Replier la barre latérale",
    "Expand sidebar": "Déplier la barre latérale",
    "App pages": "Pages de l'application",
    "Link to heading": "Lien vers ce titre",
    "Choose an option": "Choisissez…",
    "Choose options": "Choisissez…",
    "Open": "Ouvrir la liste",
    "Close": "Fermer",
    "Selected values": "Valeurs choisies",
    "Clear all": "Tout effacer",
    "Clear value": "Effacer",
    "Show/hide columns": "Afficher ou masquer des colonnes",
    "Download as CSV": "Télécharger en CSV",
    "Search": "Rechercher",
    "Fullscreen": "Plein écran",
    "Close fullscreen": "Quitter le plein écran",
    "No results": "Aucun résultat",
    "Show password text": "Afficher le mot de passe",
    "Hide password text": "Masquer le mot de passe",
    "Page not found": "Page introuvable",
    "The page that you have requested does not seem to exist. Running the app's main page.":
        "La page demandée n'existe pas (adresse mal recopiée ou page retirée). Voici la "
        "carte, page d'accueil de l'observatoire ; le menu à gauche mène aux autres pages.",
    "Running...": "Calcul en cours…",
    "Stop": "Arrêter",
    "Deploy": "Déployer",
    "Drag and drop file here": "Déposez le fichier ici",
    "Browse files": "Choisir un fichier",
    "Delete": "Supprimer",
    "Remove file": "Retirer le fichier",
}
#: Débuts de texte suivis d'un nom (« Help for Année »).
PREFIXES = {"Help for ": "Aide : ", "Remove ": "Retirer ", "Delete ": "Supprimer "}

_FRANCAIS_JS = _CHARGER + f"""
const T = {json.dumps(TRADUCTIONS, ensure_ascii=False)};
const P = {json.dumps(PREFIXES, ensure_ascii=False)};
const ATTRS = ['aria-label', 'title', 'placeholder'];
// Taille de fichier de l'outil de dépôt (« 7.2KB ») : « 7,2 Ko ».
const TAILLE = /^(\\d+(?:\\.\\d+)?)\\s?(B|KB|MB|GB)$/;
const UNITES = {{B: 'octets', KB: 'Ko', MB: 'Mo', GB: 'Go'}};
function tr(s) {{
  if (!s) return null;
  const t = s.trim();
  const m = t.match(TAILLE);
  if (m) return s.replace(t, m[1].replace('.', ',') + '\u00a0' + UNITES[m[2]]);
  if (Object.prototype.hasOwnProperty.call(T, t)) return s.replace(t, T[t]);
  for (const p in P) {{ if (t.startsWith(p)) return s.replace(p, P[p]); }}
  return null;
}}
function traduire(root) {{
  const w = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  let n;
  while ((n = w.nextNode())) {{
    const v = tr(n.nodeValue);
    if (v !== null && v !== n.nodeValue) n.nodeValue = v;
  }}
  const els = root.querySelectorAll
    ? root.querySelectorAll('[aria-label],[title],[placeholder]') : [];
  els.forEach((e) => ATTRS.forEach((a) => {{
    const v = tr(e.getAttribute(a));
    if (v !== null && v !== e.getAttribute(a)) e.setAttribute(a, v);
  }}));
}}
export default function (component) {{
  document.documentElement.lang = 'fr';
  // Page de la carte : Leaflet se télécharge pendant que la page se construit.
  if (component.data && component.data.precharger) {{ charger(); }}
  if (!window.__obsFrancais) {{
    let prevu = false;
    window.__obsFrancais = new MutationObserver(() => {{
      if (prevu) return;
      prevu = true;
      requestAnimationFrame(() => {{ prevu = false; traduire(document.body); }});
    }});
    window.__obsFrancais.observe(document.body, {{childList: true, subtree: true,
      characterData: true, attributes: true, attributeFilter: ATTRS}});
  }}
  traduire(document.body);
}}
"""

_francais = st.components.v2.component("observatoire_francais", js=_FRANCAIS_JS,
                                       isolate_styles=False)

# Le conteneur vide de la francisation ne prend pas de place dans la barre latérale.
_CSS_FRANCAIS = """<style>
.st-key-observatoire_francais { display: none; }
</style>"""


def francais(precharger_carte: bool = False) -> None:
    """Page en français : ``lang="fr"`` et textes de Streamlit traduits (voir le module).

    Parameters
    ----------
    precharger_carte : bool
        Télécharger Leaflet et ``carte.js`` dès le début de la page (page Carte).
    """
    st.html(_CSS_FRANCAIS)
    _francais(key="observatoire_francais", height=0, data={"precharger": precharger_carte})
