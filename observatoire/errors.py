"""Exceptions de l'observatoire.

Chaque message est une phrase française destinée à l'utilisateur : ce qui ne va pas,
où (fichier, feuille, ligne, colonne) et quoi faire.
"""


class ObservatoireError(Exception):
    """Erreur présentable telle quelle à l'utilisateur (message en français)."""


class ConfigurationError(ObservatoireError):
    """Fichier de configuration absent ou invalide."""


class ReferentielAbsentError(ObservatoireError):
    """Les contours des communes n'ont pas encore été importés."""

    def __init__(self, message: str | None = None):
        super().__init__(
            message
            or (
                "Les contours des communes ne sont pas encore importés. Importez-les avec "
                "« observatoire referentiel importer CHEMIN » (GeoJSON, GeoPackage ou shapefile "
                "IGN ADMIN EXPRESS / Etalab), ou « observatoire referentiel telecharger "
                "--departement 62 » si la machine a accès à internet, ou depuis la page "
                "« Référentiel » de l'espace agents de l'application."
            )
        )


class ReferentielInvalideError(ObservatoireError):
    """Fichier de contours illisible ou inutilisable."""


class FichierRefuseError(ObservatoireError):
    """Fichier de contributeur refusé en entier : rien n'en est stocké."""


class DonneesPersonnellesError(FichierRefuseError):
    """Fichier refusé parce qu'il contient des données personnelles."""


class ModeIncompatibleError(ObservatoireError):
    """Tentative de mêler données fictives de démonstration et données réelles."""
