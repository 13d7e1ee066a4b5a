"""Modes privés des fichiers de l'observatoire : fichiers 0600, dossiers 0700.

La base SQLite, l'archive des fichiers reçus, les sauvegardes, le fichier des comptes et
les clés ne sont lisibles que par le compte du système qui fait tourner l'observatoire,
quel que soit le masque (``umask``) du processus : les modes sont posés explicitement
après la création, pas seulement demandés à ``open``/``mkdir`` (que le masque rogne).

:func:`repair` remet ces modes sur une installation existante (``observatoire base
initialiser``) et dit ce qu'elle a changé.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700
#: Fichiers qu'SQLite crée à côté de la base (mêmes droits que la base elle-même).
SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def make_private_dirs(path: str | os.PathLike) -> Path:
    """Crée le dossier ``path`` et ses parents manquants, chacun en 0700.

    Les dossiers qui existent déjà ne sont pas modifiés (voir :func:`repair`).

    Returns
    -------
    pathlib.Path
    """
    path = Path(path)
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIR_MODE)
        except FileExistsError:  # créé entre-temps par un autre processus
            continue
        os.chmod(directory, DIR_MODE)
    return path


def open_private(path: str | os.PathLike, flags: int = os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                 ) -> int:
    """Ouvre (en créant au besoin) ``path`` en 0600 ; rend le descripteur.

    Parameters
    ----------
    path : path-like
    flags : int
        Drapeaux de :func:`os.open` ; ``os.O_EXCL`` pour refuser un fichier existant.
    """
    fd = os.open(path, flags, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def ensure_private_file(path: str | os.PathLike) -> Path:
    """Crée ``path`` vide en 0600 s'il n'existe pas (base SQLite avant sa création).

    SQLite crée ses fichiers ``-wal`` et ``-shm`` avec les droits de la base : une base
    créée privée le reste avec eux.
    """
    path = Path(path)
    make_private_dirs(path.parent)
    try:
        os.close(open_private(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        pass
    return path


@dataclass(frozen=True)
class Repair:
    """Un mode remis d'aplomb (ou qui n'a pas pu l'être).

    Attributes
    ----------
    chemin : pathlib.Path
    avant, apres : int
        Modes (bits de permission) avant et après.
    erreur : str
        Vide si la correction a réussi ; sinon la raison, en français.
    """

    chemin: Path
    avant: int
    apres: int
    erreur: str = ""

    def text(self) -> str:
        """« chemin : 0644 → 0600 » (ou la raison de l'échec)."""
        if self.erreur:
            return f"{self.chemin} : {self.erreur}"
        return f"{self.chemin} : {self.avant:04o} → {self.apres:04o}"


def _fix(path: Path, mode: int, out: list[Repair]) -> None:
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode):
        return  # un lien n'a pas de droits propres ; sa cible est traitée si elle est à nous
    current = stat.S_IMODE(info.st_mode)
    if current == mode:
        return
    if info.st_uid != os.getuid():
        out.append(Repair(path, current, current,
                          f"appartient à un autre utilisateur (uid {info.st_uid}), droits "
                          f"{current:04o} laissés : corrigez-les avec son propriétaire"))
        return
    try:
        os.chmod(path, mode)
    except OSError as exc:
        out.append(Repair(path, current, current, f"droits non modifiables ({exc.strerror})"))
        return
    out.append(Repair(path, current, mode))


def _fix_tree(root: Path, out: list[Repair]) -> None:
    if not root.is_dir() or root.is_symlink():
        return
    _fix(root, DIR_MODE, out)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(dirpath)
        for name in dirnames:
            _fix(base / name, DIR_MODE, out)
        for name in filenames:
            _fix(base / name, FILE_MODE, out)


def sqlite_path(db_url: str) -> Path | None:
    """Fichier d'une URL SQLite (``sqlite:///chemin``), None pour un autre moteur."""
    if not db_url.startswith("sqlite"):
        return None
    raw = db_url.split("///", 1)[-1].split("?", 1)[0]
    if not raw or raw == ":memory:":
        return None
    return Path(raw)


def private_paths() -> dict[str, list[Path]]:
    """Ce qui doit être privé dans la configuration courante.

    Returns
    -------
    dict
        ``dossiers`` (dossiers seuls), ``arbres`` (dossier et tout son contenu),
        ``fichiers`` (fichiers seuls).
    """
    from observatoire import auth
    from observatoire.access import sessions
    from observatoire.config import settings

    s = settings()
    folders = [s.data_dir]
    trees = [s.archive_dir, s.data_dir / "sauvegardes"]
    key = sessions.key_path()
    # Le dossier des clés par défaut est le nôtre ; une clé placée ailleurs
    # (OBSERVATOIRE_CLE_SESSION) ne rend pas son dossier privé d'office.
    if key.parent == sessions.default_key_dir():
        trees.append(key.parent)
    files: list[Path] = []
    db = sqlite_path(s.db_url)
    if db is not None:
        files += [db.with_name(db.name + suffix) for suffix in SQLITE_SUFFIXES]
        if db.parent != s.data_dir:
            folders.append(db.parent)
    files.append(key)
    try:
        comptes = auth.accounts_path()
    except Exception:  # noqa: BLE001  (fichier mal placé : signalé par les commandes comptes)
        comptes = None
    if comptes is not None:
        files.append(comptes)
        # Le dossier par défaut (~/.config/observatoire) est le nôtre ; un dossier choisi
        # par l'exploitant (OBSERVATOIRE_COMPTES) reste à sa main.
        if comptes.parent == auth.default_accounts_dir():
            folders.append(comptes.parent)
    return {"dossiers": folders, "arbres": trees, "fichiers": files}


def repair() -> list[Repair]:
    """Remet les modes privés de l'installation courante.

    Returns
    -------
    list of Repair
        Ce qui a été changé (ou n'a pas pu l'être), dans l'ordre du parcours ; vide si
        tout était déjà privé.
    """
    out: list[Repair] = []
    paths = private_paths()
    for folder in paths["dossiers"]:
        if folder.is_dir():
            _fix(folder, DIR_MODE, out)
    for tree in paths["arbres"]:
        _fix_tree(tree, out)
    for path in paths["fichiers"]:
        if path.is_file():
            _fix(path, FILE_MODE, out)
    return out
