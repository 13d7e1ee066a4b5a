"""Configuration : territoire servi, seuils, chemins.

Le territoire est une donnée (``config/territoire.toml``), pas du code. Les variables
d'environnement ``OBSERVATOIRE_CONFIG``, ``OBSERVATOIRE_DATA_DIR`` et
``OBSERVATOIRE_DB_URL`` priment sur le fichier.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from observatoire.errors import ConfigurationError

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = ROOT / "config" / "territoire.toml"
#: Tables de référence versionnées (générées depuis @etalab/decoupage-administratif).
REFERENCE_DIR = ROOT / "data" / "communes"
#: Catalogues éditables (indicateurs, contributeurs, types de dispositifs…).
CATALOGUE_DIR = ROOT / "data" / "catalogues"


#: Niveaux géographiques qu'une diffusion peut publier, du plus fin au plus large.
NIVEAUX_DIFFUSION = ("commune", "epci", "arrondissement", "departement")


@dataclass(frozen=True)
class DiffusionConfig:
    """Ce que publie chaque diffusion annuelle (section ``[diffusion]``).

    Attributes
    ----------
    indicateurs : tuple of str
        Indicateurs publiés (vide : ceux de ``[publication]``).
    niveaux : tuple of str
        Niveaux publiés pour l'année N.
    serie_niveaux : tuple of str
        Niveaux auxquels la diffusion de N montre les années antérieures qu'aucune
        diffusion validée n'a encore publiées.
    evolution : bool
        Comparer N à N − 1 (à partir des seules valeurs publiées des deux années).
    cumul_annees : int
        Longueur du cumul publié pour les petites communes (0 : pas de cumul).
    cumul_population_max : int
        Communes concernées par le cumul : population municipale inférieure à ce nombre.
    fdr : bool
        Contrôle de Benjamini–Hochberg des étiquettes communales.
    alpha : float
        Niveau des étiquettes.
    """

    indicateurs: tuple[str, ...] = ()
    niveaux: tuple[str, ...] = NIVEAUX_DIFFUSION
    serie_niveaux: tuple[str, ...] = ("epci", "arrondissement", "departement")
    evolution: bool = True
    cumul_annees: int = 3
    cumul_population_max: int = 10_000
    fdr: bool = True
    alpha: float = 0.05


def _diffusion(raw: dict, path: Path) -> DiffusionConfig:
    def _niveaux(cle: str, defaut: tuple[str, ...]) -> tuple[str, ...]:
        val = tuple(str(x) for x in raw.get(cle, defaut))
        inconnus = [x for x in val if x not in NIVEAUX_DIFFUSION]
        if inconnus:
            raise ConfigurationError(
                f"{path}, section [diffusion], clé « {cle} » : niveau(x) inconnu(s) "
                f"{', '.join(inconnus)} ; possibles : {', '.join(NIVEAUX_DIFFUSION)}.")
        return val

    cumul = int(raw.get("cumul_annees", 3))
    if cumul not in (0, 2, 3, 4, 5):
        raise ConfigurationError(
            f"{path}, section [diffusion] : cumul_annees vaut {cumul} ; choisissez 0 (pas de "
            f"cumul) ou une durée de 2 à 5 ans.")
    alpha = float(raw.get("alpha", 0.05))
    if not 0 < alpha < 0.5:
        raise ConfigurationError(
            f"{path}, section [diffusion] : alpha vaut {alpha} ; il doit être entre 0 et 0,5.")
    return DiffusionConfig(
        indicateurs=tuple(str(x) for x in raw.get("indicateurs", ())),
        niveaux=_niveaux("niveaux", NIVEAUX_DIFFUSION),
        serie_niveaux=_niveaux("serie_niveaux", ("epci", "arrondissement", "departement")),
        evolution=bool(raw.get("evolution", True)),
        cumul_annees=cumul,
        cumul_population_max=int(raw.get("cumul_population_max", 10_000)),
        fdr=bool(raw.get("fdr", True)),
        alpha=alpha,
    )


@dataclass(frozen=True)
class Settings:
    """Réglages effectifs de l'observatoire.

    Attributes
    ----------
    departement : str
        Code INSEE du département servi (« 62 »).
    arrondissements : tuple of str
        Codes INSEE des arrondissements couverts.
    """

    territoire_nom: str
    departement: str
    arrondissements: tuple[str, ...]
    zone_reference: str
    seuil_secret: int
    priorite: dict = field(default_factory=dict)
    taille_max_mo: float = 20
    decompression_max_mo: float = 200
    indicateurs_publies: tuple[str, ...] = ()
    diffusion: DiffusionConfig = field(default_factory=lambda: DiffusionConfig())
    fdr: bool = True
    surdispersion: str = "multiplicative"
    attendu_min_surdispersion: float = 10.0
    data_dir: Path = ROOT / "data"
    db_url: str = ""
    config_path: Path = DEFAULT_CONFIG
    #: Section ``[acces]`` brute : durée des sessions, limitation des essais de connexion
    #: (lue et validée par :mod:`observatoire.access`).
    acces: dict = field(default_factory=dict)

    @property
    def geo_path(self) -> Path:
        """GeoPackage du référentiel géographique importé (non versionné)."""
        return self.data_dir / "communes" / "referentiel.gpkg"

    @property
    def archive_dir(self) -> Path:
        """Racine des fichiers de contributeurs archivés tels quels."""
        return self.data_dir / "contributions"


def load_settings(path: str | os.PathLike | None = None) -> Settings:
    """Lit la configuration.

    Parameters
    ----------
    path : path-like, optional
        Fichier TOML ; par défaut ``OBSERVATOIRE_CONFIG`` ou ``config/territoire.toml``.

    Returns
    -------
    Settings
    """
    path = Path(path or os.environ.get("OBSERVATOIRE_CONFIG") or DEFAULT_CONFIG)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigurationError(
            f"Le fichier de configuration {path} est introuvable. Copiez "
            f"config/territoire.toml et adaptez-le."
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(
            f"Le fichier de configuration {path} n'est pas un TOML valide : {exc}."
        ) from exc
    terr = raw.get("territoire", {})
    if "departement" not in terr:
        raise ConfigurationError(
            f"Le fichier {path} ne précise pas le département servi "
            f"(clé « departement » de la section [territoire])."
        )
    stockage = raw.get("stockage", {})
    data_dir = Path(os.environ.get("OBSERVATOIRE_DATA_DIR")
                    or ROOT / stockage.get("donnees", "data"))
    db_url = os.environ.get("OBSERVATOIRE_DB_URL") or f"sqlite:///{data_dir / 'observatoire.db'}"
    imp = raw.get("import", {})
    ana = raw.get("analyse", {})
    modele = str(ana.get("surdispersion", "multiplicative"))
    if modele not in ("aucune", "multiplicative", "additive"):
        raise ConfigurationError(
            f"Le fichier {path}, section [analyse], clé « surdispersion » : « {modele} » "
            f"inconnu ; écrivez \"multiplicative\", \"additive\" ou \"aucune\"."
        )
    return Settings(
        territoire_nom=terr.get("nom", terr["departement"]),
        departement=str(terr["departement"]),
        arrondissements=tuple(str(a) for a in terr.get("arrondissements", [])),
        zone_reference=terr.get("zone_reference", "departement"),
        seuil_secret=int(raw.get("secret", {}).get("seuil", 5)),
        priorite=dict(raw.get("priorite", {})),
        taille_max_mo=float(imp.get("taille_max_mo", 20)),
        decompression_max_mo=float(imp.get("decompression_max_mo", 200)),
        indicateurs_publies=tuple(raw.get("publication", {}).get("indicateurs", [])),
        diffusion=_diffusion(raw.get("diffusion", {}), path),
        fdr=bool(ana.get("controle_multiplicite", True)),
        surdispersion=modele,
        attendu_min_surdispersion=float(ana.get("attendu_min_surdispersion", 10)),
        data_dir=data_dir,
        db_url=db_url,
        config_path=path,
        acces=dict(raw.get("acces", {})),
    )


@lru_cache(maxsize=1)
def settings() -> Settings:
    """Réglages du processus (mis en cache ; ``settings.cache_clear()`` pour relire)."""
    return load_settings()
