"""Détection des données personnelles : tout fichier qui en contient est refusé en entier.

Deux familles de contrôles :

* les **en-têtes** : une colonne « Nom », « Prénom », « Date de naissance »,
  « Adresse », « Téléphone », « Courriel », « N° de dossier »… suffit à refuser ;
  « Nom commune », « Commune » ou « Nombre de victimes » sont permis ;
* les **contenus**, dans toute colonne (y compris une colonne libre « observations ») :
  une personne nommée (« M. Dupont », « Mme X », « Jean DUPONT »), une date complète
  sous l'en-tête (possible date de naissance), une adresse électronique, un numéro de
  téléphone ou de sécurité sociale.

Le message nomme la feuille, la colonne et la raison, jamais la donnée elle-même (elle
ne doit pas se retrouver dans un journal).
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache

import numpy as np
import pandas as pd

from observatoire.errors import DonneesPersonnellesError
from observatoire.matching import names_a_commune, normalize_name

_PERSONAL_HEADERS = [
    (re.compile(r"^(DATE (DE )?NAISSANCE|DATE NAIS+|DDN|NEE? LE|NE E LE|ANNEE DE NAISSANCE|"
                r"LIEU DE NAISSANCE|NAISSANCE)$"), "date de naissance"),
    (re.compile(r"^(ADRESSE|ADRESSES|ADRESSE POSTALE|ADRESSE DOMICILE|RUE|N ET RUE|VOIE|"
                r"NUMERO ET RUE|ADRESSE DE LA VICTIME|ADRESSE DU DOMICILE|COMPLEMENT D ADRESSE)$"),
     "adresse"),
    (re.compile(r"^(ADRESSE (MAIL|E ?MAIL|ELECTRONIQUE|COURRIEL)|COURRIEL|COURRIELS|MEL|MAIL|"
                r"MAILS|E ?MAIL|E ?MAILS)$"), "adresse électronique"),
    (re.compile(r"^((N|NO|NUM|NUMERO) (DE )?)?(TELEPHONE|TEL|PORTABLE|MOBILE|FIXE|GSM)( .*)?$"),
     "téléphone"),
    (re.compile(r"^((N|NO|NUM|NUMERO|REF|REFERENCE) (DE |DU )?)?(DOSSIER|PROCEDURE|PV|"
                r"PLAINTE|ALLOCATAIRE|MAIN COURANTE)( .*)?$"), "numéro de dossier"),
    (re.compile(r"^((N|NO|NUMERO) (DE )?)?(SECURITE SOCIALE|SECU|NIR|INSEE DE LA PERSONNE)$"),
     "numéro de sécurité sociale"),
    (re.compile(r"^(IDENTITE|IDENTITES|IDENTITE DE LA VICTIME|VICTIME IDENTITE|NOM PRENOM|"
                r"PRENOM NOM|NOM ET PRENOM|PRENOM ET NOM|NOM DE NAISSANCE|NOM D USAGE|"
                r"NOM MARITAL|NOM DE JEUNE FILLE|INITIALES)$"), "nom ou prénom"),
]
_NAME_TOKENS = {"NOM", "NOMS", "PRENOM", "PRENOMS"}
# Mots qui font d'un « Nom … » un en-tête permis (nom d'une commune, d'une structure…).
_NAME_ALLOWED = {"COMMUNE", "COMMUNES", "VILLE", "LOCALITE", "INDICATEUR", "STRUCTURE",
                 "DISPOSITIF", "SERVICE", "ETABLISSEMENT", "ARRONDISSEMENT", "EPCI",
                 "DEPARTEMENT", "CONTRIBUTEUR", "ORGANISME", "ASSOCIATION", "FEUILLE",
                 "TERRITOIRE", "QUARTIER", "ITEM", "LIEU", "SITE", "PERMANENCE", "BRE"}

_FIRST_NAMES = (
    "Jean|Marie|Pierre|Michel|André|Philippe|Nathalie|Isabelle|Sophie|Sylvie|Catherine|"
    "Martine|Christine|Françoise|Valérie|Sandrine|Stéphanie|Céline|Julie|Laura|Camille|Léa|"
    "Manon|Emma|Chloé|Sarah|Pauline|Marine|Aurélie|Émilie|Emilie|Caroline|Anne|Monique|"
    "Nicole|Patricia|Christiane|Jacqueline|Brigitte|Véronique|Laurence|Paul|Louis|Nicolas|"
    "Thomas|Julien|David|Alexandre|Antoine|Kevin|Kévin|Maxime|Romain|Sébastien|Laurent|"
    "Christophe|Frédéric|Éric|Eric|Patrick|Alain|Daniel|Bernard|Thierry|Olivier|Stéphane|"
    "Pascal|Dominique|Bruno|Didier|Franck|Gilles|Jérôme|Vincent|François|Guillaume|Mohamed|"
    "Ahmed|Fatima|Karim|Hugo|Lucas|Théo|Nathan|Enzo|Léo|Jules|Gabriel|Raphaël|Arthur|"
    "Louise|Alice|Lina|Inès|Jade|Lola|Zoé|Anaïs|Mathilde|Charlotte|Élodie|Elodie|Audrey|"
    "Mélanie|Virginie|Karine|Corinne|Hélène|Agnès|Claire|Delphine|Florence|Sabrina|Jessica|"
    "Amandine|Marion|Lucie|Clara|Eva|Océane|Justine|Morgane|Margaux|Cédric|Damien|Fabien|"
    "Jonathan|Mickaël|Yannick|Jacques|Gérard|René|Claude|Roger|Marcel|Henri|Georges|Robert|"
    "Joseph|Simone|Yvette|Denise|Josiane|Ginette|Odette|Jeanne|Madeleine|Suzanne|Paulette|"
    "Germaine|Chantal|Annie|Danielle|Mireille|Evelyne|Béatrice|Sylvain|Fabrice|Arnaud|"
    "Mathieu|Matthieu|Benjamin|Quentin|Clément|Florian|Adrien|Alexis|Yasmine|Nadia|Samira|"
    "Leïla|Sonia|Myriam|Aurore|Ophélie|Coralie|Laetitia|Cindy|Vanessa|Émilie|Gaëlle|Anthony"
)
_UPPER = "A-ZÀÂÄÇÉÈÊËÎÏÔÖÙÛÜŸ"
_LOWER = "a-zàâäçéèêëîïôöùûüÿœ"
_CONTENT_PATTERNS = [
    (re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}"), "adresse électronique"),
    (re.compile(r"(?<![\d,.])(?:\+33\s?|0033\s?|0)[1-9](?:[\s.\-]?\d{2}){4}(?![\d,.])"),
     "numéro de téléphone"),
    (re.compile(r"(?<!\d)[12]\s?\d{2}\s?(0[1-9]|1[0-2]|[2-9]\d)\s?(\d{2}|2[AB])\s?\d{3}\s?\d{3}"
                r"(\s?\d{2})?(?!\d)"), "numéro de sécurité sociale"),
    (re.compile(rf"(?<![\w.])(?:M\.|MM\.|Mme|Mmes|Mlle|Melle|Mr|Monsieur|Madame|Mademoiselle)"
                rf"\.?\s+[{_UPPER}]"), "personne nommée (civilité suivie d'un nom)"),
    (re.compile(rf"(?<![\w-])(?:{_FIRST_NAMES})\s+(?:[{_UPPER}]{{2,}}|[{_UPPER}][{_LOWER}]+)"
                rf"(?![\w-])"), "personne nommée (prénom et nom)"),
    (re.compile(rf"(?<![\w-])[{_UPPER}]{{2,}}[{_UPPER}'\-]*\s+(?:{_FIRST_NAMES})(?![\w-])"),
     "personne nommée (nom et prénom)"),
]
# Mot qui fait d'un « prénom nom » qui le suit le nom d'un lieu ou d'une structure
# (« Maison Jean Moulin », « Collège Jean Jaurès ») : ce n'est pas une personne. Les mots
# de voie (rue, avenue…) n'en font pas partie : « 3 rue Jean Moulin » est une adresse.
_INSTITUTIONS = frozenset(
    "MAISON CENTRE ESPACE COLLEGE LYCEE ECOLE GROUPE SCOLAIRE SALLE FOYER RESIDENCE HOPITAL "
    "CLINIQUE MEDIATHEQUE BIBLIOTHEQUE STADE GYMNASE ASSOCIATION FONDATION INSTITUT CITE "
    "POLE PERMANENCE ANTENNE CCAS CSAPA CHRS IME EHPAD CMP CMPP MJC SOCIAL SOCIALE CULTUREL "
    "SOCIOCULTUREL HOSPITALIER MUNICIPAL MUNICIPALE".split())
_WORD_BEFORE = re.compile(r"([\w'-]+)[\s,.:-]*$")
_TEXT_DATE = re.compile(r"(?<!\d)(0?[1-9]|[12]\d|3[01])[/.\-](0?[1-9]|1[0-2])[/.\-](19|20)\d{2}"
                        r"(?!\d)|(?<!\d)(19|20)\d{2}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])(?!\d)")
_PLAIN = re.compile(r"^[\s\d.,;:<>≤=+\-/%()*sSnNcC]*$")


def personal_header_reason(text) -> str | None:
    """Raison pour laquelle un en-tête désigne une donnée personnelle, ou None.

    Examples
    --------
    >>> personal_header_reason("Prénom")
    'nom ou prénom'
    >>> personal_header_reason("NOM COMMUNE") is None
    True
    """
    if not isinstance(text, str) or len(text) > 80:
        return None
    norm = normalize_name(text)
    if not norm:
        return None
    tokens = norm.split()
    if tokens[0] in _NAME_TOKENS and not (set(tokens) & _NAME_ALLOWED):
        return "nom ou prénom"
    for pattern, reason in _PERSONAL_HEADERS:
        if pattern.match(norm):
            return reason
    return None


def _names_a_place(text: str, match: re.Match, reason: str) -> bool:
    """Vrai quand la personne trouvée est le nom d'une structure (« Maison Jean Moulin »).

    Le mot qui précède le prénom (juste avant la trouvaille pour « prénom nom », en tête
    de la trouvaille pour « NOM prénom ») est un mot de lieu ou de structure.
    """
    if reason == "personne nommée (prénom et nom)":
        before = _WORD_BEFORE.search(text[:match.start()])
        word = before.group(1) if before else ""
    elif reason == "personne nommée (nom et prénom)":
        word = match.group(0).split()[0]
    else:
        return False
    return normalize_name(word).replace(" ", "-") in _INSTITUTIONS


def personal_content_reason(text: str) -> str | None:
    """Raison pour laquelle un texte de cellule ressemble à une donnée personnelle, ou None.

    Examples
    --------
    >>> personal_content_reason("suivie par Mme D.")
    "personne nommée (civilité suivie d'un nom)"
    >>> personal_content_reason("Maison Jean Moulin") is None
    True
    """
    # Un texte fait de chiffres et de ponctuation peut être un téléphone, un numéro de
    # sécurité sociale ou une date : seuls les motifs de personnes nommées sont sautés.
    plain = bool(_PLAIN.match(text))
    for pattern, reason in _CONTENT_PATTERNS:
        if plain and reason.startswith("personne"):
            continue
        for match in pattern.finditer(text):
            if not _names_a_place(text, match, reason):
                return reason
    if _TEXT_DATE.search(text):
        return "date complète (possible date de naissance)"
    return None


def _refuse(sheet_name: str, col: str, header, reason: str, ligne: int | None,
            kind: str) -> DonneesPersonnellesError:
    head = f" « {header} »" if isinstance(header, str) and header.strip() else ""
    where = f"feuille « {sheet_name} », colonne {col}{head}"
    if ligne is not None:
        where += f", ligne {ligne}"
    what = ("son en-tête désigne une donnée personnelle" if kind == "entete"
            else "une cellule ressemble à une donnée personnelle")
    return DonneesPersonnellesError(
        f"Fichier refusé : données personnelles ({reason}) — {where} : {what}. Rien n'a été "
        f"enregistré. L'observatoire ne reçoit que des effectifs par commune : retirez "
        f"toute information sur les personnes (noms, dates de naissance, adresses, "
        f"téléphones, courriels, numéros de dossier) et renvoyez le tableau agrégé."
    )


_DATE_TYPES = (dt.date, pd.Timestamp)  # dt.datetime est un dt.date


@lru_cache(maxsize=1)
def _commune_strings() -> frozenset[str]:
    """Codes et noms officiels des communes, tels quels : sans danger dans une colonne de communes.

    Un nom officiel n'a ni chiffre ni « @ » (on ne garde que ceux-là) : il ne peut
    ressembler qu'à une personne nommée, ce qu'il n'est pas puisque c'est une commune ; un
    code n'est fait que de chiffres (et de A ou B pour la Corse).
    """
    from observatoire import communes

    allc = communes.load_communes(None)
    names = [n for n in allc["nom"] if not re.search(r"[\d@]", n)]
    return frozenset([*allc["code_insee"], *names])


def _may_hit(texts) -> bool:
    """Faux quand aucun des textes ne peut ressembler à une donnée personnelle.

    Les textes sont cherchés tous ensemble : joints par NUL (qu'aucun motif ne
    reconnaît, et qui borne les regards en arrière et en avant comme un début ou une fin
    de texte), un motif qui ne trouve rien dans l'ensemble ne trouve rien dans aucun
    texte. Seule une trouvaille fait relire les textes un par un.
    """
    if not texts:
        return False
    joined = "\x00".join(texts)
    return any(p.search(joined) for p, _ in _CONTENT_PATTERNS) \
        or bool(_TEXT_DATE.search(joined))


def _first_content_hit(texts: list[str], is_commune=None, allowed=None
                       ) -> tuple[str, str] | None:
    """Premier texte (dans l'ordre donné) qui ressemble à une donnée personnelle, ou None.

    Même règle que :func:`personal_content_reason`. Dans une colonne de communes,
    ``is_commune(texte)`` vrai excuse une « personne nommée » qui est en fait le nom d'une
    commune (« Sainte Marie Kerque ») ; ``allowed(texte, raison)`` vrai excuse un texte.

    Returns
    -------
    (str, str) or None
        Le texte et la raison.
    """
    for text in texts:
        reason = personal_content_reason(text)
        if reason is None or (is_commune is not None and reason.startswith("personne")
                              and is_commune(text)):
            continue
        if allowed is not None and allowed(text, reason):
            continue
        return text, reason
    return None


def _note_rows(cells: np.ndarray, start: int) -> frozenset[int]:
    """Lignes de notes sous le tableau (« Source : … extraction du 15/01/2024 »).

    Ce sont, après la dernière ligne qui porte un nombre, les lignes faites d'une seule
    cellule de texte. Comme les titres au-dessus de l'en-tête, elles datent le document,
    pas une personne : une date y est permise (les autres motifs y restent cherchés).
    """
    notes = []
    for i in range(len(cells) - 1, start - 1, -1):
        row = [v for v in cells[i].tolist() if v is not None]
        if any(isinstance(v, int | float) and not isinstance(v, bool) for v in row):
            break
        if len(row) == 1 and isinstance(row[0], str):
            notes.append(i)
    return frozenset(notes)


_CODES_SAFE: dict = {}  # id(codes) → (codes, codes ⊆ _commune_strings())


def _codes_are_safe(codes: frozenset, safe: frozenset) -> bool:
    hit = _CODES_SAFE.get(id(codes))
    if hit is None or hit[0] is not codes or hit[1] is not safe:
        hit = (codes, safe, codes <= safe)
        _CODES_SAFE.clear()
        _CODES_SAFE[id(codes)] = hit
    return hit[2]


def check_personal_data(sheet, header_row: int | None = None, skip_cols=(),
                        header_scan_rows: int = 60, current_codes: frozenset | None = None,
                        index=None) -> None:
    """Refuse une feuille qui contient des données personnelles.

    Chaque colonne est contrôlée, colonnes de texte libre comprises ; les textes le
    sont une fois par valeur distincte.

    Parameters
    ----------
    sheet : observatoire.ingest.readers.Sheet
    header_row : int, optional
        Indice (dans ``sheet.cells``) de la ligne d'en-tête reconnue : les dates au-dessus
        (titres, « extrait du … ») sont permises, celles du tableau non. None = toute
        la feuille est du tableau.
    skip_cols : iterable of int
        Colonnes de communes : un contenu qui ressemble à une personne nommée n'y est
        permis que s'il désigne une commune (« Sainte Marie Kerque » n'est personne ;
        « Jean DUPONT » en est une, et finirait sinon en libellé non localisé).
    header_scan_rows : int
        Nombre de premières lignes où chaque cellule courte est testée comme en-tête.
    current_codes : frozenset, optional
        Codes actuels des communes (``CommuneIndex.current_codes``) : une colonne de
        communes qui n'en porte que de ceux-là est reconnue sans danger par la même
        question que pose ensuite la reconnaissance des communes (réponse en cache).
    index : CommuneIndex, optional
        Index des communes servi : reconnaît aussi les anciens noms et les variantes
        comme des communes (voir :func:`observatoire.matching.names_a_commune`).

    Raises
    ------
    DonneesPersonnellesError
        Au premier constat, avec la feuille, la colonne et la raison.
    """
    cells = sheet.array
    if cells.size == 0:
        return
    skip = set(skip_cols)
    # Au-dessus de l'en-tête et sur sa ligne, toute cellule courte est un en-tête possible ;
    # sans en-tête reconnu, les premières lignes, hors colonnes de communes (« Rue » est
    # une commune de la Somme).
    top = cells[:header_row + 1] if header_row is not None else cells[:header_scan_rows]
    for j in range(cells.shape[1]):
        for i, v in enumerate(top[:, j].tolist()):
            if header_row is None and j in skip and i > 0:
                continue
            if isinstance(v, str):
                reason = personal_header_reason(v)
                if reason:
                    ligne, col = sheet.ref(i, j)
                    raise _refuse(sheet.name, col, v, reason, ligne, "entete")
    start = 0 if header_row is None else header_row + 1
    body = cells[start:]
    header_vals = cells[header_row] if header_row is not None else None
    safe = _commune_strings() if skip else frozenset()

    def is_commune(text: str) -> bool:
        return names_a_commune(text, index)

    lazy: dict = {}  # lignes de notes, calculées au premier besoin seulement
    for j in range(body.shape[1]):
        # Valeurs distinctes de la colonne (partagées avec la reconnaissance des communes).
        if j in skip and (
                (current_codes is not None and _codes_are_safe(current_codes, safe)
                 and sheet.subset_of(j, start, current_codes))
                or sheet.subset_of(j, start, safe)):
            continue  # rien que des codes et noms officiels de communes
        types = sheet.types(j, start)
        if not any(issubclass(t, _DATE_TYPES) or issubclass(t, str) for t in types):
            continue  # ni texte ni date : rien à chercher, pas besoin des valeurs distinctes
        codes, distinct, types = sheet.distinct(j, start)
        head = None if header_vals is None else header_vals[j]
        if any(issubclass(t, _DATE_TYPES) for t in types):
            k = next(k for k, v in enumerate(distinct) if isinstance(v, _DATE_TYPES))
            i = start + int(np.flatnonzero(codes == k)[0])
            ligne, letter = sheet.ref(i, j)
            raise _refuse(sheet.name, letter, head,
                          "date complète (possible date de naissance)", ligne, "contenu")
        if not any(issubclass(t, str) for t in types):
            continue
        pool = set(distinct) - safe if j in skip else distinct
        if not types <= {str, type(None)}:
            pool = [t for t in pool if isinstance(t, str)]
        elif type(None) in types:
            pool = [t for t in pool if t is not None]
        if not _may_hit(pool):
            continue
        # Textes distincts dans l'ordre de leur première apparition : le premier trouvé est
        # celui de la première ligne en cause.
        texts = [t for t in distinct if isinstance(t, str) and not (j in skip and t in safe)]

        def in_notes(text: str, reason: str, j=j, codes=codes, distinct=distinct) -> bool:
            # Une date dans une note de bas de tableau seulement : permise.
            if not reason.startswith("date"):
                return False
            if "notes" not in lazy:
                lazy["notes"] = _note_rows(cells, start)
            k = next(k for k, v in enumerate(distinct) if isinstance(v, str) and v == text)
            rows = start + np.flatnonzero(codes == k)
            return all(int(i) in lazy["notes"] for i in rows)

        hit = _first_content_hit(texts, is_commune if j in skip else None, in_notes)
        if hit is None:
            continue
        text, reason = hit
        k = next(k for k, v in enumerate(distinct) if isinstance(v, str) and v == text)
        i = start + int(np.flatnonzero(codes == k)[0])
        ligne, letter = sheet.ref(i, j)
        raise _refuse(sheet.name, letter, head, reason, ligne, "contenu")
