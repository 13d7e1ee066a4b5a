"""Lecture des fichiers des contributeurs.

API publique (utilisée par la ligne de commande et l'application) :

* :func:`read_contribution` : lit un fichier sans rien écrire → :class:`Parsed`
  (valeurs, rapport, en-têtes et communes à préciser avec leurs candidats) ;
* :func:`import_contribution` : lit et enregistre un lot (ou simule) → :class:`Report` ;
* :func:`write_template` : le modèle standard .xlsx d'un contributeur.

Les briques (lecture brute, sûreté, données personnelles, correspondances d'en-têtes,
valeurs) sont publiques pour être réutilisées par d'autres importeurs (registres).
Chaque nom n'est importé qu'à sa première demande : ``import observatoire.ingest`` ne
charge ni openpyxl ni le modèle de langue.
"""

import importlib

_EXPORTS = {
    "Parsed": "core", "import_contribution": "core", "read_contribution": "core",
    "HeaderMapper": "headers", "forget_mapping": "headers", "list_mappings": "headers",
    "remember_mapping": "headers", "check_personal_data": "personal", "Sheet": "readers",
    "Workbook": "readers", "read_any": "readers", "Issue": "report", "Report": "report",
    "check_file": "safety", "build_template": "template", "write_template": "template",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'observatoire.ingest' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"observatoire.ingest.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value
