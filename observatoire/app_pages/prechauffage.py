"""Démarrage du serveur : la première visite est aussi rapide que les suivantes.

``serveur.py`` (``make app``) lance l'application comme ``st.App`` ; au démarrage, avant
d'accepter le premier visiteur, :func:`lifespan` importe les modules lourds (analyse,
SciPy, géométrie) et calcule la **carte d'ouverture** (contours, topologie, analyse
publique de la sélection par défaut, légende, couches). Rien ne tourne ensuite en
arrière-plan : un changement de sélection est calculé à la demande.
"""

from __future__ import annotations

import logging
import time
from contextlib import asynccontextmanager

_LOG = logging.getLogger("observatoire.prechauffage")


def prechauffer() -> float:
    """Calcule la carte d'ouverture et renvoie la durée (s).

    Une erreur (base vide, contours absents…) n'empêche pas le démarrage : la page la
    dira au visiteur.
    """
    t0 = time.perf_counter()
    # Hors d'une session, Streamlit signale chaque appel mis en cache : sans conséquence.
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").setLevel(
        logging.ERROR)
    logging.getLogger("streamlit.runtime.caching.cache_data_api").setLevel(logging.ERROR)
    try:
        from observatoire import diffusion, stats  # noqa: F401  (imports lourds)
        from observatoire.app_pages import carte, common, navigation  # noqa: F401

        dispo = common.annees_indicateurs_publics()
        if not dispo.empty:
            sel = carte.selection_par_defaut(dispo)
            common.public_table([sel["annee"]], sel["indicateur"], None, sel["niveau"])
            carte.map_config(sel, carte.titre_selection(sel))
    except Exception as exc:  # noqa: BLE001  (démarrage : la page dira l'erreur)
        _LOG.warning("Préchauffage interrompu : %s", exc)
    return time.perf_counter() - t0


@asynccontextmanager
async def lifespan(_app):
    """Cycle de vie de ``st.App`` : préchauffe, puis sert."""
    duree = prechauffer()
    _LOG.info("Carte d'ouverture prête en %.1f s.", duree)
    yield
