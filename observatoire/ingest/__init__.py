"""Lecture des fichiers des contributeurs.

API publique (utilisée par la ligne de commande et l'application) :

* :func:`read_contribution` : lit un fichier sans rien écrire → :class:`Parsed`
  (valeurs, rapport, en-têtes et communes à préciser avec leurs candidats) ;
* :func:`import_contribution` : lit et enregistre un lot (ou simule) → :class:`Report` ;
* :func:`write_template` : le modèle standard .xlsx d'un contributeur.

Les briques (lecture brute, sûreté, données personnelles, correspondances d'en-têtes,
valeurs) sont publiques pour être réutilisées par d'autres importeurs (registres).
"""

from observatoire.ingest.core import Parsed, import_contribution, read_contribution
from observatoire.ingest.headers import (
    HeaderMapper,
    forget_mapping,
    list_mappings,
    remember_mapping,
)
from observatoire.ingest.personal import check_personal_data
from observatoire.ingest.readers import Sheet, Workbook, read_any
from observatoire.ingest.report import Issue, Report
from observatoire.ingest.safety import check_file
from observatoire.ingest.template import build_template, write_template

__all__ = [
    "HeaderMapper", "Issue", "Parsed", "Report", "Sheet", "Workbook", "check_file",
    "check_personal_data", "forget_mapping", "import_contribution", "list_mappings",
    "read_any", "read_contribution", "remember_mapping", "build_template", "write_template",
]
