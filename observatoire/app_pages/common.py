"""Appels mis en cache et petits éléments partagés par les pages de l'application.

Règle : les fonctions ``public_*`` ne renvoient que la vue publique (secret statistique
appliqué) ; les fonctions ``exact_*`` ne sont appelées que depuis les pages des agents,
qui ne sont enregistrées dans la navigation que pour une session authentifiée.
"""

from __future__ import annotations

import html
import logging
import threading

import pandas as pd
import sqlalchemy as sa
import streamlit as st

from observatoire import auth, communes, maps, storage
from observatoire.config import settings
from observatoire.errors import ObservatoireError, ReferentielAbsentError

NIVEAUX = {"commune": "Communes", "epci": "EPCI (intercommunalités)",
           "arrondissement": "Arrondissements"}
NIVEAU_SINGULIER = {"commune": "commune", "epci": "EPCI", "arrondissement": "arrondissement",
                    "departement": "département"}
MESURES = {
    "observe": "Effectif (nombre de cas)",
    "taux": "Taux pour 1 000 habitants",
    "taux_lisse": "Taux lissé pour 1 000 habitants (Bayes empirique)",
    "ratio": "Rapport observé / attendu",
    "label": "Étiquette (zone révélatrice, blanche présumée…)",
}
UNITES = {"observe": "cas", "taux": "pour 1 000 habitants",
          "taux_lisse": "pour 1 000 habitants (lissé)", "ratio": "observé / attendu",
          "label": ""}
DEMO_TEXT = "Données fictives de démonstration"


# --- versions : invalident les caches après un import --------------------------------

def geo_version() -> str:
    """Empreinte du référentiel importé (date de modification du GeoPackage)."""
    path = settings().geo_path
    return f"{path}:{path.stat().st_mtime_ns}" if path.exists() else "absent"


def data_version() -> str:
    """Empreinte des données : dernier lot, dernière entrée du journal, mode."""
    engine = storage.get_engine()
    with engine.connect() as conn:
        lot = conn.execute(sa.select(sa.func.max(storage.lots.c.id),
                                     sa.func.count(storage.lots.c.id))).one()
        jour = conn.execute(sa.select(sa.func.max(storage.journal.c.id))).scalar()
        mode = storage.get_meta(conn, "mode")
    return f"{settings().db_url}|{lot[0]}|{lot[1]}|{jour}|{mode}"


# --- référentiel -------------------------------------------------------------------

@st.cache_resource(show_spinner=False, max_entries=16)
def _layer(niveau: str, web: bool, version: str):
    from observatoire import referentiel

    return referentiel.load_layer(niveau, web=web)


def layer(niveau: str = "commune", web: bool = False):
    """Couche du référentiel (mise en cache jusqu'au prochain import de contours).

    Raises
    ------
    ReferentielAbsentError
    """
    return _layer(niveau, web, geo_version())


@st.cache_resource(show_spinner=False, max_entries=4)
def _topology(version: str) -> dict:
    communes = _layer("commune", True, version)
    return maps.encode_topology(communes, {"n": "nom", "e": "epci", "a": "arrondissement"},
                                meshes=("epci", "arrondissement"))


def topology() -> dict:
    """Topologie quantifiée des communes (voir :func:`observatoire.maps.encode_topology`)."""
    return _topology(geo_version())


def referentiel_loaded() -> bool:
    """Vrai quand des contours couvrant le territoire sont importés."""
    try:
        layer("commune", True)
    except ReferentielAbsentError:
        return False
    return True


# Streamlit ne traduit pas l'outil de dépôt de fichier (« Upload », « 200MB per file ») :
# pas de paramètre pour ces textes (streamlit/streamlit#13500). On les remplace par CSS ;
# la taille acceptée est celle de l'import (import.taille_max_mo), dite dans la page.
_WIDGETS_EN_FRANCAIS = """<style>
[data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"] p {
  font-size: 0; }
[data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"] p::after {
  content: "Choisir un fichier"; font-size: 0.875rem; }
[data-testid="stFileUploaderDropzoneInstructions"] span { font-size: 0; }
[data-testid="stFileUploaderDropzoneInstructions"] span::after {
  content: "ou déposez-le ici"; font-size: 0.875rem; }
</style>"""


def widgets_en_francais() -> None:
    """Textes anglais des composants Streamlit remplacés par leur équivalent français."""
    st.html(_WIDGETS_EN_FRANCAIS)


def issue_text(issue) -> str:
    """Erreur ou avertissement d'un rapport d'import (dict JSON), avec sa position."""
    if isinstance(issue, dict):
        where = ", ".join(f"{k} {issue[k]}" for k in ("feuille", "ligne", "colonne")
                          if issue.get(k) not in (None, ""))
        msg = issue.get("message") or issue.get("texte") or str(issue)
        return f"{msg}" + (f" ({where})" if where else "")
    return str(issue)


def show_referentiel_absent(exc: Exception | None = None) -> None:
    """Explique comment importer les contours (jamais de trace d'exécution)."""
    st.warning(str(exc or ReferentielAbsentError()))
    st.markdown(
        "Pour importer les contours :\n\n"
        "- en ligne de commande : `observatoire referentiel importer CHEMIN` (GeoJSON, "
        "GeoPackage, shapefile IGN ADMIN EXPRESS) ou `observatoire referentiel telecharger "
        f"--departement {settings().departement}` si la machine a accès à internet ;\n"
        "- dans l'application : page **Référentiel** de l'espace agents (connexion requise).\n\n"
        "Le tableau des valeurs reste disponible sans les contours.")
    ref_page = st.session_state.get("_pages", {}).get("referentiel")
    if ref_page is not None and user() is not None:
        st.page_link(ref_page, label="Importer les contours maintenant (page Référentiel)")


# --- catalogues, démonstration -------------------------------------------------------

@st.cache_data(show_spinner=False)
def indicateurs() -> dict[str, str]:
    """Code -> libellé des indicateurs actifs du catalogue."""
    from observatoire import catalogues

    return {i.code: i.libelle for i in catalogues.load_indicateurs()
            if getattr(i, "actif", True)}


@st.cache_data(show_spinner=False)
def noms_arrondissements() -> dict[str, str]:
    """Code INSEE d'arrondissement → nom (« 622 » → « Béthune »)."""
    arr = communes.load_arrondissements()
    return dict(zip(arr["arrondissement"], arr["nom"], strict=True))


def contributeurs(tableaux_seulement: bool = False) -> dict[str, str]:
    """Identifiant -> nom des contributeurs du registre.

    ``tableaux_seulement`` : sans les sources publiques (SSMSI), qui ne s'importent pas
    comme un tableau de contributeur.
    """
    from observatoire import catalogues

    return {c.identifiant: c.nom for c in catalogues.load_contributeurs()
            if not (tableaux_seulement and c.source_publique)}


@st.cache_data(show_spinner=False)
def _disponibles(version: str) -> pd.DataFrame:
    engine = storage.get_engine()
    lt, v = storage.lots, storage.valeurs
    q = (sa.select(lt.c.annee, v.c.indicateur, lt.c.contributeur).distinct()
         .select_from(v.join(lt, v.c.lot_id == lt.c.id)).where(lt.c.courant.is_(True)))
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(q).all(), columns=["annee", "indicateur",
                                                            "contributeur"])


def disponibles() -> pd.DataFrame:
    """Triplets (année, indicateur, contributeur) présents dans les lots courants."""
    return _disponibles(data_version())


def derniere_annee() -> int:
    """Dernière année ayant des valeurs, sinon l'année précédente (campagne en cours)."""
    import datetime as dt

    dispo = disponibles()
    return int(dispo["annee"].max()) if not dispo.empty else dt.date.today().year - 1


@st.cache_data(show_spinner=False)
def _is_demo(version: str) -> bool:
    from observatoire import demo

    return bool(demo.is_demo())


def is_demo() -> bool:
    """Vrai quand la base contient le jeu fictif de démonstration."""
    return _is_demo(data_version())


def demo_banner() -> None:
    """Bandeau « données fictives de démonstration » des pages alimentées par la démo."""
    if is_demo():
        st.info(f"**{DEMO_TEXT}** : les chiffres de cette page sont inventés "
                "(jeu de démonstration). Pour passer aux données réelles : "
                "`observatoire demo --effacer`, puis importer les fichiers des contributeurs.",
                icon="ℹ️")


# --- analyses ---------------------------------------------------------------------

def _analyser(annees, indicateur, contributeurs_, niveau, geo_ver):
    from observatoire.stats.analyse import analyser

    geometrie = None
    if geo_ver != "absent":
        try:
            # Couverture simplifiée : mêmes voisinages (contiguïté), lecture déjà en cache.
            geometrie = _layer(niveau, True, geo_ver) if niveau != "departement" else None
        except ReferentielAbsentError:
            geometrie = None
    return analyser(list(annees), indicateur,
                    contributeurs=list(contributeurs_) if contributeurs_ else None,
                    niveau=niveau, geometrie=geometrie)


@st.cache_data(show_spinner="Analyse en cours…", max_entries=256)
def _public_table(annees: tuple, indicateur: str, contributeurs_: tuple | None, niveau: str,
                  geo_ver: str, data_ver: str) -> pd.DataFrame:
    from observatoire import secrecy

    table = _analyser(annees, indicateur, contributeurs_, niveau, geo_ver)
    return secrecy.apply_public(table)


def public_table(annees, indicateur, contributeurs_=None, niveau="commune") -> pd.DataFrame:
    """Tableau d'analyse, **vue publique** (secret statistique appliqué)."""
    return _public_table(tuple(sorted(annees)), indicateur,
                         tuple(sorted(contributeurs_)) if contributeurs_ else None, niveau,
                         geo_version(), data_version())


@st.cache_data(show_spinner="Analyse en cours…", max_entries=64)
def _exact_table(annees: tuple, indicateur: str, contributeurs_: tuple | None, niveau: str,
                 geo_ver: str, data_ver: str) -> pd.DataFrame:
    return _analyser(annees, indicateur, contributeurs_, niveau, geo_ver)


def exact_table(annees, indicateur, contributeurs_=None, niveau="commune") -> pd.DataFrame:
    """Tableau d'analyse **exact** : pages des agents seulement (vérifie la session)."""
    require_staff()
    return _exact_table(tuple(sorted(annees)), indicateur,
                        tuple(sorted(contributeurs_)) if contributeurs_ else None, niveau,
                        geo_version(), data_version())


_PREWARMED: set = set()
_PREWARM_LOCK = threading.Lock()


def prewarm(annees, indicateurs_, niveau: str = "commune") -> None:
    """Calcule d'avance, en arrière-plan, les vues publiques voisines de la sélection.

    Changer d'année ou d'indicateur trouve alors l'analyse déjà en cache. Une seule
    fois par version des données et par niveau ; le fil est un démon de faible coût.
    """
    geo_ver, data_ver = geo_version(), data_version()
    key = (geo_ver, data_ver, niveau)
    with _PREWARM_LOCK:
        if key in _PREWARMED:
            return
        _PREWARMED.add(key)
    combos = [(int(a), str(i)) for i in indicateurs_ for a in annees]

    def _run() -> None:
        for annee, ind in combos:
            if geo_version() != geo_ver or data_version() != data_ver:
                return  # données changées (import, autre dossier) : rien à préchauffer
            try:
                _public_table((annee,), ind, None, niveau, geo_ver, data_ver)
            except Exception:  # noqa: BLE001  (préchauffage : l'erreur réapparaîtra à l'affichage)
                continue

    # Le fil n'appartient à aucune session : Streamlit le signale à chaque appel en cache,
    # sans conséquence ; on tait ce seul avertissement.
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").setLevel(
        logging.ERROR)
    threading.Thread(target=_run, name="observatoire-prechauffage", daemon=True).start()


# --- registres ----------------------------------------------------------------------

@st.cache_data(show_spinner=False)
def _dispositifs(geo_ver: str, data_ver: str) -> pd.DataFrame:
    from observatoire import registres

    communes = _layer("commune", False, geo_ver) if geo_ver != "absent" else None
    pts = registres.dispositifs_points(communes_layer=communes)
    wgs = pts.to_crs(4326)
    out = pd.DataFrame(pts.drop(columns="geometry"))
    out["x"], out["y"] = pts.geometry.x, pts.geometry.y
    out["longitude"], out["latitude"] = wgs.geometry.x, wgs.geometry.y
    return out


def dispositifs() -> pd.DataFrame:
    """Dispositifs placés (Lambert-93 ``x``/``y`` et WGS 84), registre public."""
    return _dispositifs(geo_version(), data_version())


@st.cache_data(show_spinner=False)
def _types_dispositifs() -> dict[str, str]:
    from observatoire import registres

    t = registres.load_types()
    code = "code" if "code" in t.columns else t.columns[0]
    lib = "libelle" if "libelle" in t.columns else t.columns[1]
    return dict(zip(t[code].astype(str), t[lib].astype(str), strict=True))


def types_dispositifs() -> dict[str, str]:
    """Code -> libellé des types de dispositifs."""
    return _types_dispositifs()


@st.cache_data(show_spinner=False)
def _referents_publics(data_ver: str) -> pd.DataFrame:
    from observatoire import registres

    return registres.public_referents()


def referents_publics() -> pd.DataFrame:
    """Registre public des référents (jamais le nom ni le contact)."""
    return _referents_publics(data_version())


# --- session ----------------------------------------------------------------------

def user() -> auth.Account | None:
    """Agent connecté, ou None."""
    try:
        return auth.current_user()
    except ObservatoireError as exc:
        st.error(str(exc))
        return None


def require_staff(admin: bool = False) -> auth.Account:
    """Arrête la page si la session n'est pas celle d'un agent (ou d'un administrateur)."""
    account = user()
    if account is None or (admin and not account.is_admin):
        st.error("Cette page est réservée aux agents authentifiés"
                 + (" ayant le rôle administrateur." if admin else "."))
        st.stop()
    return account


def show_error(exc: Exception) -> None:
    """Affiche une erreur prévue (message français), sans trace d'exécution."""
    st.error(str(exc))


def fmt(x, decimales: int = 1) -> str:
    """Nombre au format français, « – » si absent."""
    return maps.format_nombre(x, decimales) or "–"


def escape(text) -> str:
    """Échappe un texte pour du HTML."""
    return html.escape(str(text))
