"""Manifeste d'une publication : fichiers et empreintes, entrées, paramètres.

``manifeste.json`` permet de tracer une publication (quels lots, quel référentiel) et
de la régénérer à l'identique. Il ne contient aucune date d'exécution : deux
publications des mêmes entrées ont le même manifeste.
"""

from __future__ import annotations

import json
from pathlib import Path

from observatoire.batches import sha256_file
from observatoire.exports.donnees import Publication

#: Empreinte SHA-256 d'un fichier (la même que celle des lots archivés).
sha256_fichier = sha256_file


def construire(pub: Publication, sortie: Path, fichiers: list[Path], parametres: dict,
               classifications: dict) -> dict:
    """Dictionnaire du manifeste (fichiers triés par chemin relatif)."""
    return {
        "publication": f"Observatoire territorial des violences intrafamiliales — "
                       f"{pub.territoire_nom}",
        "annee": pub.annee,
        "demo": pub.demo,
        "mention": "données fictives de démonstration" if pub.demo else None,
        "parametres": parametres,
        "diffusion": pub.diffusion or None,
        "entrees": {
            "lots": pub.lots,
            "referentiel": pub.source_geo,
            "seuil_secret": pub.seuil_secret,
            "date_donnees": pub.date_traitement().isoformat(),
        },
        "classes": {k: c.to_dict() for k, c in classifications.items()},
        "fichiers": [
            {"chemin": p.relative_to(sortie).as_posix(), "octets": p.stat().st_size,
             "sha256": sha256_fichier(p)}
            for p in sorted(fichiers, key=lambda q: q.relative_to(sortie).as_posix())
        ],
    }


def ecrire(manifeste: dict, sortie: Path) -> Path:
    """Écrit ``manifeste.json`` dans ``sortie``."""
    chemin = sortie / "manifeste.json"
    chemin.write_text(json.dumps(manifeste, ensure_ascii=False, indent=2, sort_keys=False)
                      + "\n", encoding="utf-8")
    return chemin
