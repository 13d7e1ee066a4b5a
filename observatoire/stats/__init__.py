"""Statistiques de l'observatoire : mesures, zones révélatrices ou blanches présumées,
tendances, couverture par les dispositifs, indice de priorité.

API stable partagée par l'application, la ligne de commande et les exports :

- :func:`analyser` : tableau par unité (commune, EPCI, arrondissement, département) ;
- :func:`analyser_niveaux` : plusieurs niveaux d'un coup, communes mesurées une fois ;
- :func:`analyser_table` : la même chose sans entrée-sortie (DataFrames fournis) ;
- :data:`LABELS` : les quatre étiquettes et leur description française ;
- :func:`etiqueter_intervalles` : la règle des étiquettes, pour des effectifs exacts ou
  connus par intervalle (cellules secrètes) ; :func:`limites_test` : son entonnoir ;
- :func:`couverture_lot`, :func:`couvertures_lots` : les communes que couvre un lot ;
- :func:`tendance`, :func:`serie` : évolutions entre années ;
- :func:`couverture`, :func:`indice_priorite` : distances aux dispositifs, référents,
  priorités ;
- ce sont des vues d'agents : le public ne lit que les diffusions validées
  (:mod:`observatoire.diffusion`).

La méthode est décrite, en français, dans ``docs/methodologie.md``.
"""

from observatoire.stats.analyse import (
    COLONNES,
    ZONES_REFERENCE,
    analyser,
    analyser_niveaux,
    analyser_regroupement,
    analyser_table,
    analyser_unites,
    base_communale,
)
from observatoire.stats.coverage import (
    COMPOSANTES,
    analyser_couverture,
    couverture,
    distances_dispositifs,
    indice_priorite,
    points_communes,
    statut_referents,
)
from observatoire.stats.labels import (
    BLANCHE,
    LABELS,
    NON_CONCLUANT,
    NORME,
    REVELATRICE,
    etiqueter,
    etiqueter_intervalles,
    limites_test,
    seuil_benjamini_hochberg,
    suggerer_regroupement,
)
from observatoire.stats.measures import (
    NIVEAUX,
    DonneesAbsentesError,
    agreger,
    mesurer_communes,
    sources_croisees,
)
from observatoire.stats.perimetres import (
    COUVERTURES,
    couverture_lot,
    couvertures_lots,
    perimetres_des_lots,
    sources_manquantes,
    verifier_perimetre,
)
from observatoire.stats.trends import (
    analyser_serie,
    analyser_tendance,
    rapport_taux_exact,
    serie,
    tendance,
)

__all__ = [
    "COMPOSANTES",
    "COUVERTURES",
    "couverture_lot",
    "couvertures_lots",
    "etiqueter_intervalles",
    "limites_test",
    "perimetres_des_lots",
    "seuil_benjamini_hochberg",
    "sources_manquantes",
    "verifier_perimetre",
    "analyser_couverture",
    "analyser_serie",
    "analyser_tendance",
    "couverture",
    "distances_dispositifs",
    "indice_priorite",
    "points_communes",
    "serie",
    "statut_referents",
    "tendance",
    "rapport_taux_exact",
    "BLANCHE",
    "COLONNES",
    "LABELS",
    "NIVEAUX",
    "NON_CONCLUANT",
    "NORME",
    "REVELATRICE",
    "ZONES_REFERENCE",
    "DonneesAbsentesError",
    "agreger",
    "analyser",
    "analyser_niveaux",
    "analyser_regroupement",
    "analyser_table",
    "analyser_unites",
    "base_communale",
    "etiqueter",
    "mesurer_communes",
    "sources_croisees",
    "suggerer_regroupement",
]
