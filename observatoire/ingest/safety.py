"""Contrôles de sûreté avant toute lecture : taille, archive, macros, chiffrement.

Un fichier dangereux ou illisible est refusé en entier, avec un message qui dit
pourquoi et quoi faire. Les contrôles portent sur les octets reçus, avant d'ouvrir le
classeur : la taille décompressée d'un .xlsx est lue dans le répertoire de l'archive
(tailles déclarées), ce qui arrête une « bombe zip » sans la décompresser.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import PurePath

from observatoire.config import settings
from observatoire.errors import FichierRefuseError

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
#: Extensions de classeurs à macros, refusées quel que soit leur contenu.
MACRO_EXTENSIONS = {".xlsm", ".xltm", ".xlsb", ".xlam", ".xla", ".xlm"}
ACCEPTED_EXTENSIONS = {".xlsx", ".xls", ".ods", ".csv", ".txt", ".tsv"}


def _utf16(name: str) -> bytes:
    return name.encode("utf-16-le")


def check_file(content: bytes, filename: str) -> str:
    """Vérifie un fichier reçu et renvoie son format.

    Parameters
    ----------
    content : bytes
        Contenu exact du fichier.
    filename : str
        Nom d'origine (son extension compte : .xlsm est refusé).

    Returns
    -------
    str
        ``"xlsx"``, ``"ods"``, ``"xls"`` ou ``"csv"``.

    Raises
    ------
    FichierRefuseError
        Fichier vide, trop gros, corrompu, protégé par mot de passe, à macros, archive
        qui se décompresse au-delà de ``decompression_max_mo``, ou format non pris en charge.
    """
    s = settings()
    name = PurePath(filename).name
    ext = PurePath(filename).suffix.lower()
    size_mo = len(content) / 1_000_000
    if not content:
        raise FichierRefuseError(f"Le fichier « {name} » est vide : rien à importer.")
    if size_mo > s.taille_max_mo:
        raise FichierRefuseError(
            f"Le fichier « {name} » fait {size_mo:.1f} Mo, au-delà de la limite de "
            f"{s.taille_max_mo:g} Mo (réglage import.taille_max_mo de config/territoire.toml). "
            f"Envoyez un fichier réduit aux effectifs par commune, ou relevez la limite."
        )
    if ext in MACRO_EXTENSIONS:
        raise FichierRefuseError(
            f"Le fichier « {name} » est un classeur à macros ({ext}) : il est refusé par "
            f"sécurité. Enregistrez-le au format .xlsx (Classeur Excel, sans macros) et "
            f"renvoyez-le."
        )
    if content.startswith(OLE_MAGIC):
        return _check_ole(content, name)
    if content.startswith(ZIP_MAGIC) or ext in {".xlsx", ".ods"}:
        return _check_zip(content, name, ext)
    if ext in {".csv", ".txt", ".tsv", ""}:
        if b"\x00" in content[:4096] and not content.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise FichierRefuseError(
                f"Le fichier « {name} » n'est pas un fichier texte (CSV) lisible : il contient "
                f"des octets binaires. Exportez le tableau en CSV ou en .xlsx."
            )
        return "csv"
    raise FichierRefuseError(
        f"Le format du fichier « {name} » ({ext or 'sans extension'}) n'est pas pris en "
        f"charge : envoyez un classeur .xlsx (ou .xls, .ods) ou un fichier .csv."
    )


def _check_ole(content: bytes, name: str) -> str:
    # Un .xlsx protégé par mot de passe est un conteneur OLE avec ces flux chiffrés ;
    # un .xls à macros contient un flux VBA.
    if _utf16("EncryptedPackage") in content or _utf16("EncryptionInfo") in content:
        raise FichierRefuseError(
            f"Le fichier « {name} » est un classeur protégé par un mot de passe : il ne peut "
            f"pas être lu. Enregistrez-en une copie sans mot de passe (Fichier > Informations "
            f"> Protéger le classeur > Chiffrer avec mot de passe, effacer le mot de passe) "
            f"et renvoyez-la."
        )
    if _utf16("_VBA_PROJECT_CUR") in content or _utf16("VBA") in content:
        raise FichierRefuseError(
            f"Le fichier « {name} » contient des macros : il est refusé par sécurité. "
            f"Enregistrez-le au format .xlsx (sans macros) et renvoyez-le."
        )
    return "xls"


def _check_zip(content: bytes, name: str, ext: str) -> str:
    s = settings()
    try:
        zf = zipfile.ZipFile(io.BytesIO(content))
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        # Le message de zipfile (« File is not a zip file ») reste en anglais : on ne le cite pas.
        raise FichierRefuseError(
            f"Le fichier « {name} » est corrompu ou incomplet : son contenu n'est pas celui "
            f"d'un classeur {ext.lstrip('.') or 'Excel'} (archive illisible, peut-être un "
            f"envoi interrompu ou un fichier renommé). Ouvrez-le dans votre tableur, "
            f"enregistrez-le de nouveau en .xlsx et renvoyez-le."
        ) from exc
    total = sum(i.file_size for i in infos)
    if total / 1_000_000 > s.decompression_max_mo:
        raise FichierRefuseError(
            f"Le fichier « {name} » se décompresse en {total / 1_000_000:.0f} Mo, au-delà de la "
            f"limite de {s.decompression_max_mo:g} Mo (réglage import.decompression_max_mo) : "
            f"il est refusé (fichier anormal ou « bombe zip »)."
        )
    for info in infos:
        # Taux de compression aberrant : une archive fabriquée peut tenir dans la limite
        # globale tout en étant une bombe ; Excel ne dépasse guère 1:100 sur du XML.
        if info.compress_size and info.file_size / info.compress_size > 1000 \
                and info.file_size > 10_000_000:
            raise FichierRefuseError(
                f"Le fichier « {name} » contient un élément anormalement compressé "
                f"({info.filename}) : il est refusé (possible « bombe zip »)."
            )
        if info.flag_bits & 0x1:
            raise FichierRefuseError(
                f"Le fichier « {name} » est une archive protégée par un mot de passe : "
                f"elle ne peut pas être lue. Enregistrez une copie sans mot de passe et "
                f"renvoyez-la."
            )
    names = {i.filename for i in infos}
    lower = {n.lower() for n in names}
    if any(n.endswith("vbaproject.bin") or "/vba" in n for n in lower):
        raise FichierRefuseError(
            f"Le fichier « {name} » contient des macros (vbaProject.bin) : il est refusé par "
            f"sécurité. Enregistrez-le au format .xlsx (Classeur Excel, sans macros) et "
            f"renvoyez-le."
        )
    if "mimetype" in names and "content.xml" in names:
        manifest = zf.read("META-INF/manifest.xml") if "META-INF/manifest.xml" in names else b""
        if b"encryption-data" in manifest:
            raise FichierRefuseError(
                f"Le fichier « {name} » est un classeur protégé par un mot de passe "
                f"(OpenDocument chiffré) : il ne peut pas être lu. Enregistrez-en une copie "
                f"sans mot de passe (Fichier > Propriétés > Sécurité dans LibreOffice) et "
                f"renvoyez-la.")
        return "ods"
    if "[Content_Types].xml" not in names or not any(n.startswith("xl/") for n in names):
        raise FichierRefuseError(
            f"Le fichier « {name} » n'est pas un classeur Excel valide (structure .xlsx "
            f"absente). Ouvrez-le dans votre tableur, enregistrez-le en .xlsx et renvoyez-le."
        )
    ctypes = zf.read("[Content_Types].xml")
    if b"macroEnabled" in ctypes:
        raise FichierRefuseError(
            f"Le fichier « {name} » est un classeur à macros : il est refusé par sécurité. "
            f"Enregistrez-le au format .xlsx (sans macros) et renvoyez-le."
        )
    return "xlsx"
