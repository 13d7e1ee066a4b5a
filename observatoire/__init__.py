"""Observatoire territorial des violences intrafamiliales.

Chargement des tableaux des contributeurs, référentiel des communes, statistiques,
cartes et exports pour la publication annuelle.
"""

__version__ = "0.1.0"
