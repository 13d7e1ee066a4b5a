"""Appels mis en cache et petits éléments partagés par les pages de l'application.

Règle : les fonctions ``public_*`` ne renvoient que la vue publique (secret statistique
appliqué) ; les fonctions ``exact_*`` ne sont appelées que depuis les pages des agents,
qui ne sont enregistrées dans la navigation que pour une session authentifiée.
"""

from __future__ import annotations

import html

import pandas as pd
import sqlalchemy as sa
import streamlit as st

from observatoire import auth, communes, formats, maps, storage
from observatoire.config import settings
from observatoire.errors import ObservatoireError, ReferentielAbsentError

NIVEAUX = {"commune": "Communes", "epci": "EPCI (intercommunalités)",
           "arrondissement": "Arrondissements"}
NIVEAU_SINGULIER = {"commune": "commune", "epci": "EPCI", "arrondissement": "arrondissement",
                    "departement": "département"}
MESURES = {
    "taux_lisse": "Taux lissé pour 1 000 hab. (recommandé)",
    "taux": "Taux brut pour 1 000 hab.",
    "observe": "Nombre de cas",
    "ratio": "Rapport au nombre attendu",
    "label": "Étiquette (révélatrice, blanche présumée…)",
}
#: Une phrase par mesure, en langage clair (aide des listes, légende, page Méthode).
MESURES_AIDE = {
    "taux_lisse": "Le taux de chaque commune rapproché de la moyenne du département "
                  "d'autant plus qu'elle est petite : une petite commune n'apparaît pas en "
                  "tête ou en queue pour un ou deux cas de hasard. C'est la mesure que la "
                  "méthode recommande pour comparer les communes.",
    "taux": "Le nombre de cas pour 1 000 habitants, tel quel : très variable d'une année à "
            "l'autre dans les petites communes.",
    "observe": "Le nombre de cas comptés par les contributeurs, sans tenir compte de la "
               "population.",
    "ratio": "Le nombre de cas comptés divisé par le nombre attendu si la commune avait le "
             "taux du département : 1 = comme la moyenne, 2 = deux fois plus.",
    "label": "Le résultat du test de l'écart à l'attendu : révélatrice (plus de cas "
             "qu'attendu au-delà du hasard), blanche présumée (moins de cas, signal d'une "
             "possible sous-révélation), dans la norme, ou non concluant (trop peu de cas "
             "attendus pour conclure).",
}
#: La mesure sur laquelle la carte s'ouvre : celle que la méthode recommande de
#: cartographier (docs/methodologie.md, « Taux lissé »).
MESURE_RECOMMANDEE = "taux_lisse"
UNITES = {"observe": "cas", "taux": "pour 1 000 habitants",
          "taux_lisse": "pour 1 000 habitants (lissé)", "ratio": "observé / attendu",
          "label": ""}
DEMO_TEXT = "Données fictives de démonstration"
#: Titre de chaque page dans l'onglet du navigateur : « Carte — Observatoire VIF — … ».
SUFFIXE_TITRE = "Observatoire VIF"


# --- versions : invalident les caches après un import --------------------------------

def geo_version() -> str:
    """Empreinte des contours servis : GeoPackage importé, ou contours simplifiés livrés."""
    from observatoire.referentiel import simplifies

    path = settings().geo_path
    if path.exists():
        return f"{path}:{path.stat().st_mtime_ns}"
    if not simplifies.disponible(settings().departement):
        return "absent"
    livre = simplifies.chemin(settings().departement)
    return f"simplifie:{livre}:{livre.stat().st_mtime_ns}"


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
    """Vrai quand des contours couvrant le territoire sont servis (importés ou livrés)."""
    try:
        layer("commune", True)
    except ReferentielAbsentError:
        return False
    return True


@st.cache_data(show_spinner=False)
def _origine_contours(version: str) -> dict:
    from observatoire import referentiel

    info = referentiel.summary()
    return {"simplifie": bool(info.get("simplifie")), "source": info.get("source"),
            "millesime": info.get("millesime"), "charge": bool(info.get("charge"))}


def origine_contours() -> dict:
    """``simplifie`` (contours simplifiés livrés), ``source``, ``millesime`` des contours."""
    return _origine_contours(geo_version())


def mention_contours() -> str:
    """Phrase d'origine des contours, pour sous la carte (sans clé ni commande)."""
    o = origine_contours()
    if not o["charge"]:
        return ""
    if o["simplifie"]:
        return ("Contours simplifiés livrés avec l'application (IGN – ADMIN EXPRESS, "
                "Licence Ouverte 2.0) : les limites sont approximatives à grande échelle.")
    return f"Contours : {o['source']}."


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
/* Moins de marge au-dessus du titre : la carte se voit sans faire défiler. */
@media (min-width: 641px) {
  [data-testid="stMainBlockContainer"] { padding-top: 2.5rem; } }
[data-testid="stMain"] h1 { font-size: 2.1rem; padding-top: 0.25rem; }
@media (max-width: 640px) { [data-testid="stMain"] h1 { font-size: 1.6rem; } }
/* Focus clavier toujours visible (WCAG 2.4.7). */
a:focus-visible, button:focus-visible, input:focus-visible, [role="button"]:focus-visible,
[tabindex]:focus-visible, summary:focus-visible {
  outline: 3px solid #000091 !important; outline-offset: 2px; }
/* Légendes et notes lisibles : contraste d'au moins 4,5:1 sur fond blanc. */
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] p { color: #4a4a4f; }
/* Téléphone : les quatre listes de la carte deux par deux, pour voir la carte plus tôt. */
@media (max-width: 640px) {
  .st-key-carte_controles [data-testid="stHorizontalBlock"] { flex-wrap: wrap; gap: 0.5rem; }
  .st-key-carte_controles [data-testid="stColumn"] { flex: 1 1 45% !important;
    min-width: 45% !important; width: 45% !important; }
}
/* Tableau sur ordinateur, liste sur téléphone (voir carte.py). */
.st-key-carte_liste { display: none; }
@media (max-width: 640px) {
  .st-key-carte_liste { display: block; }
  .st-key-carte_tableau_large { display: none; }
}
.obs-liste { list-style: none; padding: 0; margin: 0; }
.obs-liste li { border-bottom: 1px solid #d9d9d9; padding: 6px 0; }
.obs-liste .obs-v { font-weight: bold; }
.obs-liste small { color: #4a4a4f; }
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
    """Dit que les contours manquent ; aux agents, comment les importer (jamais de trace)."""
    if user() is None:
        st.warning("La carte n'est pas disponible : les contours des communes ne sont pas "
                   "encore chargés. Le tableau des valeurs reste disponible.")
        return
    st.warning(str(exc or ReferentielAbsentError()))
    st.markdown(
        "Pour importer les contours : page **Référentiel** de l'espace agents (fichier IGN "
        "ADMIN EXPRESS, GeoJSON ou GeoPackage), ou en ligne de commande "
        "`observatoire referentiel importer CHEMIN`. Le tableau des valeurs reste "
        "disponible sans les contours.")
    ref_page = st.session_state.get("_pages", {}).get("referentiel")
    if ref_page is not None:
        st.page_link(ref_page, label="Importer les contours maintenant (page Référentiel)")


# --- catalogues, démonstration -------------------------------------------------------

@st.cache_data(show_spinner=False)
def indicateurs() -> dict[str, str]:
    """Code -> libellé des indicateurs actifs du catalogue."""
    from observatoire import catalogues

    return {i.code: i.libelle for i in catalogues.load_indicateurs()
            if getattr(i, "actif", True)}


@st.cache_data(show_spinner=False)
def fiches_indicateurs() -> dict:
    """Code -> fiche en langage clair (ce qui est compté, par qui, ce que cela ne dit pas)."""
    from observatoire import catalogues

    return catalogues.load_fiches_indicateurs()


def fiche_indicateur_markdown(code: str) -> str:
    """Fiche d'un indicateur en Markdown (définition du catalogue à défaut de fiche)."""
    from observatoire import catalogues

    fiche = fiches_indicateurs().get(code)
    if fiche is None:
        ind = catalogues.indicateurs_by_code().get(code)
        return ind.definition if ind is not None and ind.definition else ""
    return (f"**Ce qui est compté.** {fiche.ce_qui_est_compte}\n\n"
            f"**Qui le compte.** {fiche.qui_le_compte}\n\n"
            f"**Ce que cela ne dit pas.** {fiche.ce_que_cela_ne_dit_pas}")


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
    """Triplets (année, indicateur, contributeur) présents dans les lots courants (agents)."""
    return _disponibles(data_version())


@st.cache_data(show_spinner=False, max_entries=4)
def _diffusions_publiees(data_ver: str) -> dict[int, dict]:
    from observatoire import diffusion

    return {a: d.public for a, d in diffusion.courantes().items()}


def diffusions_publiees() -> dict[int, dict]:
    """Année → contenu public de la diffusion validée en vigueur : tout ce que lit le public."""
    return _diffusions_publiees(data_version())


def annees_indicateurs_publics() -> pd.DataFrame:
    """Couples (année, indicateur) publiés par une diffusion validée, années décroissantes.

    Seul point d'entrée des pages publiques pour savoir ce qui est publié : jamais de
    sous-ensemble de contributeurs ni de combinaison d'années (elles ne lisent que les
    diffusions).
    """
    from observatoire.diffusion import lecture

    lignes = [(a, i) for a, pub in diffusions_publiees().items()
              for i in lecture.indicateurs(pub) if str(a) in lecture.periodes(pub, i)]
    return (pd.DataFrame(lignes, columns=["annee", "indicateur"])
            .sort_values(["annee", "indicateur"], ascending=[False, True])
            .reset_index(drop=True))


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
    """Bandeau « données fictives de démonstration » des pages alimentées par la démo.

    Le public lit seulement que les chiffres sont inventés ; un administrateur a en plus
    le lien vers la page qui efface la démonstration.
    """
    if not is_demo():
        return
    st.info(f"**{DEMO_TEXT}** : chiffres inventés, qui ne décrivent aucune situation "
            "réelle.", icon="ℹ️")
    account = user()
    page = st.session_state.get("_pages", {}).get("demonstration")
    if account is not None and account.is_admin and page is not None:
        st.page_link(page, label="Passer aux données réelles : effacer la démonstration")


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


@st.cache_data(show_spinner=False, max_entries=256)
def _public_table(annee: int, indicateur: str, niveau: str, periode: str | None,
                  data_ver: str) -> pd.DataFrame:
    from observatoire.diffusion import lecture

    pub = _diffusions_publiees(data_ver).get(int(annee))
    if pub is None:
        from observatoire.diffusion import AucuneDiffusionError

        raise AucuneDiffusionError(annee)
    return lecture.table(pub, indicateur, periode or str(annee), niveau)


def public_table(annees, indicateur, contributeurs_=None, niveau="commune", *,
                 periode: str | None = None) -> pd.DataFrame:
    """Table publique d'une diffusion validée (seul point d'accès aux chiffres publics).

    Parameters
    ----------
    annees : list of int
        Une seule année : celle de la diffusion.
    indicateur, niveau : str
    contributeurs_ : None
        Le public ne choisit jamais ses sources (toutes celles de la diffusion).
    periode : str, optional
        Une autre période publiée par la diffusion (le cumul « 2022-2024 »).

    Raises
    ------
    ObservatoireError
        Plusieurs années, des contributeurs, ou rien de publié pour cette sélection.
    """
    annees = list(annees)
    if contributeurs_ or len(annees) != 1:
        raise ObservatoireError(
            "Le public ne lit que les diffusions validées, une année à la fois et toutes "
            "sources réunies : les combinaisons d'années ou de contributeurs sont "
            "réservées aux agents (page Valeurs exactes).")
    return _public_table(int(annees[0]), indicateur, niveau, periode, data_version())


def cumul_public(annee: int, indicateur: str) -> pd.DataFrame | None:
    """Cumul des petites communes publié par la diffusion de l'année (ou None)."""
    from observatoire.diffusion import lecture

    pub = diffusions_publiees().get(int(annee))
    if pub is None:
        return None
    cumuls = [p for p in lecture.periodes(pub, indicateur) if "-" in p]
    if not cumuls:
        return None
    return public_table([annee], indicateur, None, "commune", periode=cumuls[0])


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


def show_refus(exc: Exception) -> None:
    """Affiche le refus d'un fichier, « Fichier refusé : » une seule fois."""
    message = str(exc)
    st.error(message if message.startswith("Fichier refusé") else f"Fichier refusé : {message}")


def fmt(x, decimales: int = 1) -> str:
    """Nombre au format français, « – » si absent."""
    return maps.format_nombre(x, decimales) or "–"


def date_fr(d) -> str:
    """Date en toutes lettres (« 1er décembre 2026 »), « – » si absente."""
    return formats.date(d) or "–"


def date_heure_fr(d) -> str:
    """Date et heure (« 1er décembre 2026 à 14 h 05 »), « – » si absentes."""
    return formats.date_heure(d) or "–"


def titre_page(titre: str) -> str:
    """Titre d'onglet d'une page : « Carte — Observatoire VIF — Pas-de-Calais »."""
    return f"{titre} — {SUFFIXE_TITRE} — {settings().territoire_nom}"


def escape(text) -> str:
    """Échappe un texte pour du HTML."""
    return html.escape(str(text))
