"""Détection des données personnelles : tout fichier qui en contient est refusé en entier.

Où l'on cherche : les en-têtes, les cellules (colonnes de texte libre comprises), les notes
et commentaires de cellule, les noms de feuilles (masquées comprises) et le nom du
fichier. Les en-têtes, noms de feuilles et notes sont contrôlés **avant** la recherche de
la mise en page (:func:`check_workbook`) : un refus prend quelques secondes.

Comment : des règles d'abord (:func:`personal_content_reason`) — civilité suivie d'un nom,
prénom courant suivi d'un nom, « NOM P. », date de naissance (en chiffres ou en lettres,
« née le 12 mars 1985 »), adresse (« 14 rue des Lilas », « domicile : … »), numéro de
dossier ou de procédure, courriel, téléphone, numéro de sécurité sociale, récit sur une
personne (« victime relogée chez sa sœur ») — puis un modèle de langue
(:mod:`observatoire.ingest.persons`) pour les noms qu'aucune liste ne connaît, dans toute
casse. Les noms d'unités administratives (« Nom de la région », « Nom du canton »,
« Commissariat de Béthune », « QPV Mont-Liébaut ») ne sont pas des personnes.

Le message nomme la feuille, la colonne, la ligne et la raison ; il ne recopie jamais la
donnée elle-même (elle ne doit pas se retrouver dans un journal) : l'extrait cité est
masqué (« J••• D••••• »).
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from functools import lru_cache
from pathlib import PurePath

import numpy as np
import pandas as pd

from observatoire.errors import DonneesPersonnellesError
from observatoire.ingest import persons
from observatoire.ingest.vocabulaire import ADMIN, GENERAL, UNITS, is_known, place_names
from observatoire.matching import names_a_commune, normalize_name

_PERSONAL_HEADERS = [
    (re.compile(r"^(DATE (DE )?NAISSANCE|DATE NAIS+|DDN|NEE? LE|NE E LE|NE S? LE|"
                r"ANNEE DE NAISSANCE|LIEU DE NAISSANCE|NAISSANCE|AGE DE LA VICTIME|"
                r"AGE DE L AUTEUR|DATE DE NAISSANCE .*)$"), "date de naissance"),
    (re.compile(r"^(ADRESSE|ADRESSES|ADRESSE POSTALE|ADRESSE DOMICILE|RUE|N ET RUE|VOIE|"
                r"NUMERO ET RUE|ADRESSE DE LA VICTIME|ADRESSE DE L AUTEUR|ADRESSE DU DOMICILE|"
                r"COMPLEMENT D ADRESSE|ADRESSE PERSONNELLE|DOMICILE DE LA VICTIME|"
                r"ADRESSE .* VICTIME|ADRESSE .* AUTEUR|N DE RUE|NUMERO DE RUE)$"), "adresse"),
    (re.compile(r"^(ADRESSE (MAIL|E ?MAIL|ELECTRONIQUE|COURRIEL)|COURRIEL|COURRIELS|MEL|MAIL|"
                r"MAILS|E ?MAIL|E ?MAILS)$"), "adresse électronique"),
    (re.compile(r"^((N|NO|NUM|NUMERO) (DE )?)?(TELEPHONE|TEL|PORTABLE|MOBILE|FIXE|GSM)( .*)?$"),
     "téléphone"),
    (re.compile(r"^((N|NO|NUM|NUMERO|REF|REFERENCE) (DE |DU )?)?(DOSSIER|PROCEDURE|PV|"
                r"PLAINTE|ALLOCATAIRE|MAIN COURANTE)( .*)?$|^(N|NO|NUM|NUMERO|REF|REFERENCE) "
                r"(DE |DU |D )?(AFFAIRE|PARQUET|ECROU|RG|SUIVI)( .*)?$"), "numéro de dossier"),
    (re.compile(r"^((N|NO|NUMERO) (DE )?)?(SECURITE SOCIALE|SECU|NIR|INSEE DE LA PERSONNE)$"),
     "numéro de sécurité sociale"),
    (re.compile(r"^(IDENTITE|IDENTITES|IDENTITE DE LA VICTIME|VICTIME IDENTITE|NOM PRENOM|"
                r"PRENOM NOM|NOM ET PRENOM|PRENOM ET NOM|NOM DE NAISSANCE|NOM D USAGE|"
                r"NOM MARITAL|NOM DE JEUNE FILLE|INITIALES|NOM DE FAMILLE|PATRONYME|"
                r"IDENTITE DE L AUTEUR|VICTIME|VICTIMES NOMS?|AUTEUR NOM|MIS EN CAUSE)$"),
     "nom ou prénom"),
]
_NAME_TOKENS = {"NOM", "NOMS", "PRENOM", "PRENOMS"}
# Mots qui font d'un « Nom … » un en-tête permis : le nom d'une unité, d'un lieu, d'un
# indicateur (« Nom de la région », « Nom du canton », « Nom de l'unité »).
_NAME_ALLOWED = UNITS

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
    "Mélanie|Virginie|Karine|Corinne|Hélène|Agnès|Delphine|Sabrina|Jessica|"
    "Amandine|Marion|Lucie|Clara|Eva|Océane|Justine|Morgane|Margaux|Cédric|Damien|Fabien|"
    "Jonathan|Mickaël|Yannick|Jacques|Gérard|René|Claude|Roger|Marcel|Henri|Georges|Robert|"
    "Joseph|Simone|Yvette|Denise|Josiane|Ginette|Odette|Jeanne|Madeleine|Suzanne|Paulette|"
    "Germaine|Chantal|Annie|Danielle|Mireille|Evelyne|Béatrice|Sylvain|Fabrice|Arnaud|"
    "Mathieu|Matthieu|Benjamin|Quentin|Clément|Florian|Adrien|Alexis|Yasmine|Nadia|Samira|"
    "Leïla|Sonia|Myriam|Aurore|Ophélie|Coralie|Laetitia|Cindy|Vanessa|Gaëlle|Anthony|"
    "Jordan|Dylan|Steven|Mélissa|Melissa|Amélie|Noémie|Elise|Élise|Lisa|Mathis|Noah|Adam|"
    "Louna|Maëlle|Nolan|Lenny|Timéo|Kylian|Mael|Maël|Axel|Baptiste|Corentin|Valentin|"
    "Alexandra|Angélique|Stéphanie|Séverine|Nadège|Magali|Émeline|Emeline|Gwladys|Ludovic|"
    "Grégory|Jérémy|Jeremy|Mickael|Michael|Cyril|Xavier|Hervé|Serge|Yves|Joël|Lionel|"
    "Régis|Denis|Francis|Gaston|Raymond|Lucien|Maurice|Albert|Léon|Émile|Fernand|Marcelle|"
    "Huguette|Colette|Lucienne|Raymonde|Yvonne|Solange|Micheline|Arlette|Jocelyne|Sylviane|"
    "Fatou|Aïcha|Aicha|Khadija|Malika|Nabil|Rachid|Mehdi|Samir|Yassine|Sofiane|Bilal|Nora"
)
_FIRST_NAME_SET = frozenset(normalize_name(n) for n in _FIRST_NAMES.split("|"))
_UPPER = "A-ZÀÂÄÇÉÈÊËÎÏÔÖÙÛÜŸ"
_LOWER = "a-zàâäçéèêëîïôöùûüÿœ"
_MONTHS = ("janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|"
           "octobre|novembre|décembre|decembre")
_VOIES = (r"rue|r\.|avenue|av\.?|boulevard|bd|bld|place|pl\.|impasse|imp\.|allée|allee|"
          r"chemin|ch\.|route|rte|quai|cours|square|sq\.|résidence|residence|rés\.|res\.|"
          r"lotissement|lot\.|cité|cite|hameau|lieu-dit|lieudit|passage|sentier|faubourg|"
          r"fg|rond-point|esplanade|parvis|villa|clos|domaine|venelle|ruelle|chaussée|"
          r"chaussee|bâtiment|batiment|bât\.|bat\.|appartement|appt|apt")

#: Motifs d'une donnée personnelle dans un texte, avec leur raison (dans l'ordre).
_CONTENT_PATTERNS = [
    (re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}"), "adresse électronique"),
    (re.compile(r"(?<![\d,.])(?:\+33\s?|0033\s?|0)[1-9](?:[\s.\-]?\d{2}){4}(?![\d,.])"),
     "numéro de téléphone"),
    (re.compile(r"(?<!\d)[12]\s?\d{2}\s?(0[1-9]|1[0-2]|[2-9]\d)\s?(\d{2}|2[AB])\s?\d{3}\s?\d{3}"
                r"(\s?\d{2})?(?!\d)"), "numéro de sécurité sociale"),
    # « née le … », « né en 1985 », « âgée de 34 ans » ; les mots « date de naissance »
    # seuls (une consigne, une définition) ne disent rien de personne.
    (re.compile(r"(?<![\w.])(?:n[ée]e?s?|naissance)\s+(?:le|en|au|à|a)\s+\S|"
                r"\bdate\s+de\s+naissance\s*:?\s*\d|\bddn\s*:?\s*\d|"
                r"\b[âa]g[ée]e?\s+de\s+\d{1,3}\s+ans\b", re.I), "date de naissance"),
    (re.compile(rf"(?<![\w.])(?:M\.|MM\.|(?i:mme|mmes|mlle|melle|mr|monsieur|madame|"
                rf"mademoiselle))\.?\s+(?!(?i:le|la|les|l'|l’|du|de|des|et|ou|au)\b)"
                rf"[{_UPPER}{_LOWER}]"), "personne nommée (civilité suivie d'un nom)"),
    (re.compile(rf"(?<![\w-])\d{{1,4}}\s*(?:bis|ter|b|t)?\s*,?\s*(?:{_VOIES})(?![\w])"
                rf"\s*\S", re.I), "adresse"),
    (re.compile(r"\b(?:domicile|adresse)\s*:\s*\S|\b(?:domicilié|domiciliée|"
                r"domicilie|domiciliee|demeurant|demeurante|habite|habitant|réside|reside|"
                r"résidant|residant|résidante|residante)\s+(?:à|a|au|aux|en|chez|rue|\d)", re.I),
     "adresse"),
    (re.compile(r"\b(?:dossier|proc[ée]dure|proc\.|pv|p\.v\.|affaire|rg|parquet|plainte|"
                r"main\s+courante|mc|[ée]crou|r[ée]f\.?|r[ée]f[ée]rence|signalement|suivi)"
                r"\s*(?:n°|no\.?|num\.?|numéro|numero|#|:)?\s*[A-Z]{0,4}[-/ ]?"
                r"(?:\d{2,4}\s*[-/.]\s*\d{1,7}|\d{5,})\b|"
                r"\b(?:dossier|proc[ée]dure|pv|affaire|plainte|signalement)\s*"
                r"(?:n°|no\.|num\.?|numéro|numero|#)\s*\d+", re.I), "numéro de dossier"),
    (re.compile(rf"(?<![\w-])(?:{_FIRST_NAMES})\s+(?:[{_UPPER}]{{2,}}|[{_UPPER}{_LOWER}]"
                rf"[{_LOWER}]+)(?![\w-])", re.I), "personne nommée (prénom et nom)"),
    (re.compile(rf"(?<![\w-])[{_UPPER}]{{2,}}[{_UPPER}'\-]*\s+(?i:{_FIRST_NAMES})(?![\w-])"),
     "personne nommée (nom et prénom)"),
    (re.compile(rf"(?<![\w-])[{_UPPER}][{_UPPER}'\-]+\s+[{_UPPER}]\.(?!\w)|"
                rf"(?<![\w.-])[{_UPPER}]\.\s*[{_UPPER}][{_LOWER}]{{2,}}(?![\w-])"),
     "personne nommée (nom et initiale)"),
]
_TEXT_DATE = re.compile(
    r"(?<!\d)(0?[1-9]|[12]\d|3[01])[/.\-](0?[1-9]|1[0-2])[/.\-](19|20)\d{2}(?!\d)|"
    r"(?<!\d)(19|20)\d{2}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])(?!\d)|"
    rf"(?<!\d)(0?[1-9]|[12]\d|3[01]|1er)\s+(?i:{_MONTHS})\s+(19|20)\d{{2}}(?!\d)")
# Mots qui datent un document ou une période, pas une personne.
_DATE_CONTEXT = re.compile(
    r"\b(extraction|extrait|mise\s+à\s+jour|mise\s+a\s+jour|maj|situation|arr[êe]t[ée]e?s?|"
    r"donn[ée]es|chiffres|[ée]dition|[ée]dit[ée]e?s?|produite?s?|version|p[ée]riode|du|au|"
    r"depuis|jusqu|entre|valid[ée]e?s?|transmise?s?|envoy[ée]e?s?|re[çc]ue?s?|saisie?s?|"
    r"source|requête|requete|export|export[ée]|avant|apr[èe]s|[ée]ch[ée]ance|limite|"
    r"renvoy(?:er|ez)|retour)\b", re.I)
_PLAIN = re.compile(r"^[\s\d.,;:<>≤=+\-/%()*sSnNcC]*$")
_INSTITUTIONS = persons.INSTITUTIONS
_WORD_BEFORE = re.compile(r"([\w'-]+)[\s,.:-]*$")
_PERSON_REASONS = ("personne nommée (prénom et nom)", "personne nommée (nom et prénom)",
                   "personne nommée (nom et initiale)")

# Récit sur une personne : un rôle au singulier et un état, ou un possessif et un proche.
_ROLE = frozenset("VICTIME CONJOINT CONJOINTE CONCUBIN CONCUBINE COMPAGNON COMPAGNE MARI "
                  "EPOUX EPOUSE FILS FILLE SOEUR FRERE MERE PERE ENFANT BEBE NOURRISSON "
                  "AUTEUR AGRESSEUR PLAIGNANT PLAIGNANTE MADAME MONSIEUR ELLE IL INTERESSEE "
                  "INTERESSE PATIENTE PATIENT USAGERE USAGER MINEURE BENEFICIAIRE".split())
_STATE = frozenset("RELOGE RELOGEE HEBERGE HEBERGEE INCARCERE INCARCEREE PLACE PLACEE PLACES "
                   "PLACEES HOSPITALISE HOSPITALISEE DECEDE DECEDEE VIOLENT VIOLENTE ENCEINTE "
                   "SEPARE SEPAREE DIVORCE DIVORCEE MENACE MENACEE FRAPPE FRAPPEE BATTU BATTUE "
                   "BLESSE BLESSEE INTERPELLE INTERPELLEE CONDAMNE CONDAMNEE ECROUE ECROUEE "
                   "EXPULSE EXPULSEE PARTI PARTIE QUITTE AGE AGEE "
                   "MARIEE PACSE PACSEE ALCOOLIQUE TOXICOMANE DEPRESSIVE SUICIDAIRE MUTE "
                   "MUTEE SCOLARISE SCOLARISEE ORIENTEE ACCOMPAGNEE SUIVIE RECUE ACCUEILLIE "
                   "MISE ABRI REFUGIEE ENFUIE VIOLEE AGRESSEE HARCELEE EMPRISE TRAUMATISEE "
                   "CHEZ SOUHAITE REFUSE RETOURNEE REVENUE".split())
_POSSESSIVE = frozenset({"SON", "SA", "SES"})
_KIN = frozenset("SOEUR FRERE MERE PERE MARI FEMME EPOUX EPOUSE CONJOINT CONJOINTE COMPAGNON "
                 "COMPAGNE ENFANT ENFANTS FILS FILLE FILLES PARENTS BEAU BELLE EX AVOCAT "
                 "AVOCATE DOMICILE EMPLOYEUR AGRESSEUR VOISIN VOISINE FAMILLE TANTE ONCLE "
                 "GRAND COUSIN COUSINE AMI AMIE".split())
_GENERIC = frozenset("UNE CHAQUE TOUTE TOUT AUCUN AUCUNE TOUTES TOUS LES DES PAR".split())


def masked(text: str, limit: int = 40) -> str:
    """Extrait masqué d'un texte : première lettre de chaque mot, le reste en points."""
    out = re.sub(r"(?<=\w)\w", "•", str(text)[:limit])
    return out + ("…" if len(str(text)) > limit else "")


def personal_header_reason(text) -> str | None:
    """Raison pour laquelle un en-tête désigne une donnée personnelle, ou None.

    Examples
    --------
    >>> personal_header_reason("Prénom")
    'nom ou prénom'
    >>> personal_header_reason("Nom de la région") is None
    True
    """
    if not isinstance(text, str) or len(text) > 80:
        return None
    norm = normalize_name(text)
    if not norm:
        return None
    tokens = norm.split()
    if tokens[0] in _NAME_TOKENS and not ({*tokens, *map(_sing, tokens)} & _NAME_ALLOWED):
        return "nom ou prénom"
    for pattern, reason in _PERSONAL_HEADERS:
        if pattern.match(norm):
            return reason
    return None


def _sing(word: str) -> str:
    return word[:-1] if len(word) > 3 and word[-1] in "SX" else word


def _names_a_place(text: str, match: re.Match, reason: str) -> bool:
    """Vrai quand la personne trouvée est le nom d'une structure (« Maison Jean Moulin »).

    Le mot qui précède le prénom (juste avant la trouvaille pour « prénom nom », en tête
    de la trouvaille pour « NOM prénom ») est un mot de lieu ou de structure ; ou le mot
    qui suit le prénom est un mot connu (« Claire pour », « Marie et »), pas un nom.
    """
    found = match.group(0)
    if reason == "personne nommée (prénom et nom)":
        before = _WORD_BEFORE.search(text[:match.start()])
        word = before.group(1) if before else ""
        second = normalize_name(found.split()[-1])
        if is_known(second) and second not in _FIRST_NAME_SET:
            return True
    elif reason in ("personne nommée (nom et prénom)", "personne nommée (nom et initiale)"):
        word = found.split()[0]
        head = normalize_name(word.rstrip("."))
        if reason.endswith("initiale)") and len(head) > 1 and is_known(head):
            return True  # « ISCG B. », « CSP L. » : un sigle, pas un nom
    else:
        return False
    return normalize_name(word).replace(" ", "-") in _INSTITUTIONS


def narrative_reason(text: str) -> str | None:
    """« texte libre sur une personne » quand un texte raconte la situation de quelqu'un.

    Un rôle au singulier (victime, conjoint, sœur…) et un état (relogée, incarcéré, placés,
    chez…), sans déterminant générique (« une victime peut être comptée… ») ; ou un
    possessif suivi d'un proche (« sa sœur », « son conjoint ») ; ou des enfants comptés
    avec leur état (« 3 enfants placés »).
    """
    tokens = normalize_name(text).split()
    if len(tokens) < 2:
        return None
    for k, t in enumerate(tokens):
        if t in _POSSESSIVE and k + 1 < len(tokens) and tokens[k + 1] in _KIN:
            return "texte libre sur une personne"
    roles = [k for k, t in enumerate(tokens) if t in _ROLE
             and not (k and tokens[k - 1] in _GENERIC)]
    # L'état suit le rôle de près (« victime relogée », « conjoint violent incarcéré ») ;
    # une définition (« où réside la victime, pas le service qui l'a reçue ») les sépare.
    if any(tokens[r + d] in _STATE for r in roles for d in (1, 2, 3) if r + d < len(tokens)):
        return "texte libre sur une personne"
    for k, t in enumerate(tokens[:-2]):
        if t.isdigit() and tokens[k + 1] == "ENFANTS" and tokens[k + 2] in _STATE:
            return "texte libre sur une personne"
    return None


def personal_content_reason(text: str, dates_allowed: bool = False) -> str | None:
    """Raison pour laquelle un texte ressemble à une donnée personnelle (règles), ou None.

    Parameters
    ----------
    text : str
    dates_allowed : bool, default False
        Une date complète est permise (titre, note sous le tableau, note de cellule) ;
        une date de naissance ne l'est jamais.

    Examples
    --------
    >>> personal_content_reason("suivie par Mme D.")
    "personne nommée (civilité suivie d'un nom)"
    >>> personal_content_reason("Maison Jean Moulin") is None
    True
    >>> personal_content_reason("née le 12 mars 1985")
    'date de naissance'
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
    date = _TEXT_DATE.search(text)
    if date and not (dates_allowed or _DATE_CONTEXT.search(text[:date.start()])
                     or _recent(date.group(0))):
        return "date complète (possible date de naissance)"
    return narrative_reason(text)


def _recent(date_text: str) -> bool:
    """Vrai pour une date de l'année en cours, de la précédente ou à venir : l'échéance ou
    l'extraction d'un tableau, pas une naissance (« née le … » est cherché à part).
    """
    years = [int(y) for y in re.findall(r"(?:19|20)\d{2}", date_text)]
    return bool(years) and years[-1] >= dt.date.today().year - 1


def _refuse(sheet_name: str | None, col: str | None, header, reason: str, ligne: int | None,
            kind: str, sample: str | None = None) -> DonneesPersonnellesError:
    parts = []
    if sheet_name is not None:
        parts.append(f"feuille « {sheet_name} »")
    if col is not None:
        head = f" « {header} »" if isinstance(header, str) and header.strip() else ""
        parts.append(f"colonne {col}{head}")
    if ligne is not None:
        parts.append(f"ligne {ligne}")
    where = ", ".join(parts) or "fichier"
    what = {"entete": "son en-tête désigne une donnée personnelle",
            "contenu": "une cellule ressemble à une donnée personnelle",
            "note": "une note (commentaire) de cellule ressemble à une donnée personnelle",
            "feuille": "le nom d'une feuille ressemble à une donnée personnelle",
            "texte_libre": "cette colonne, que le chargeur ne reconnaît pas (ni communes, ni "
                           "indicateur, ni source ou note), contient du texte libre"}[kind]
    extract = f" (extrait masqué : « {masked(sample)} »)" if sample else ""
    return DonneesPersonnellesError(
        f"Fichier refusé : données personnelles ({reason}) — {where} : {what}{extract}. Rien "
        f"n'a été enregistré. L'observatoire ne reçoit que des effectifs par commune : "
        f"retirez toute information sur les personnes (noms, dates de naissance, adresses, "
        f"téléphones, courriels, numéros de dossier, récits) et renvoyez le tableau agrégé."
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
    noms = allc["nom"].tolist()
    names = [n for n in noms if not _DIGIT_AT.search(n)]
    return frozenset([*allc["code_insee"].tolist(), *names])


_DIGIT_AT = re.compile(r"[\d@]")


def _may_hit(texts) -> bool:
    """Faux quand aucun des textes ne peut ressembler à une donnée personnelle (règles).

    Les textes sont cherchés tous ensemble : joints par NUL (qu'aucun motif ne
    reconnaît, et qui borne les regards en arrière et en avant comme un début ou une fin
    de texte), un motif qui ne trouve rien dans l'ensemble ne trouve rien dans aucun
    texte. Seule une trouvaille fait relire les textes un par un. Le récit est cherché
    par ses mots (un rôle, un possessif) sur le même ensemble.
    """
    if not texts:
        return False
    joined = "\x00".join(texts)
    if any(p.search(joined) for p, _ in _CONTENT_PATTERNS) or _TEXT_DATE.search(joined):
        return True
    words = set(normalize_name(joined.replace("\x00", " ")).split())
    return bool(words & (_ROLE | _POSSESSIVE))


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
            return frozenset(notes)
        if len(row) == 1 and isinstance(row[0], str):
            notes.append(i)
    return frozenset()  # aucune ligne de nombres : pas de tableau, donc pas de notes dessous


_CODES_SAFE: dict = {}  # id(codes) → (codes, codes ⊆ _commune_strings())


def _codes_are_safe(codes: frozenset, safe: frozenset) -> bool:
    hit = _CODES_SAFE.get(id(codes))
    if hit is None or hit[0] is not codes or hit[1] is not safe:
        hit = (codes, safe, codes <= safe)
        _CODES_SAFE.clear()
        _CODES_SAFE[id(codes)] = hit
    return hit[2]


# En-têtes d'une colonne de métadonnées : source, note, méthode… Leur texte n'est pas du
# texte libre sur les personnes (il reste contrôlé par les règles et le modèle).
_METADATA_HDR = re.compile(
    r"^(SOURCES?|NOTES?( DE SOURCE)?|ORIGINE( DES DONNEES)?|METHODES?|METHODOLOGIE|"
    r"PRECISIONS?|DEFINITIONS?|CHAMP|UNITE( DE COMPTE)?|PERIODE|DATE (D )?EXTRACTION|"
    r"EXTRACTION|MISE A JOUR|MAJ|VERSION|STATUT|QUALITE|FIABILITE|NATURE( DES DONNEES)?|"
    r"TYPE( DE DONNEES)?|MODE DE COMPTAGE|REMARQUES? SUR LES DONNEES|NOTE METHODOLOGIQUE|"
    r"LIBELLE|INTITULE|CATEGORIE|RUBRIQUE|SECRET|DIFFUSION)$")
_FREE_TEXT_MIN_WORDS = 3


def is_metadata_header(text) -> bool:
    """Vrai pour l'en-tête d'une colonne de métadonnées (source, note, méthode, unité…)
    ou d'une unité administrative (« Brigade », « Nom du canton », « QPV »).
    """
    norm = normalize_name(text)
    if not norm:
        return False
    if _METADATA_HDR.match(norm):
        return True
    words = [w for w in norm.split() if w not in {"NOM", "LIBELLE", "CODE", "DE", "DU", "LA",
                                                  "LE", "L", "D", "DES", "LES"}]
    return bool(words) and all(w in UNITS or _sing(w) in UNITS or w in GENERAL or w in ADMIN
                               for w in words)


def free_text_reason(text: str) -> bool:
    """Vrai quand un texte est du texte libre : au moins trois mots, dont au moins un qui
    n'est ni administratif, ni courant, ni le nom d'un lieu connu.
    """
    tokens = normalize_name(text).split()
    words = [t for t in tokens if not t.isdigit()]
    if len(words) < _FREE_TEXT_MIN_WORDS:
        return False
    places = place_names()
    if any(t not in places for t in persons.unexplained_tokens(text)):
        return True
    # Que des mots connus, mais une phrase (« orientée vers la mairie ») : un verbe ou un
    # participe qu'aucun libellé d'unité ne porte.
    return any(t in _STATE for t in tokens)


def check_personal_data(sheet, header_row: int | None = None, skip_cols=(),
                        header_scan_rows: int = 60, current_codes: frozenset | None = None,
                        index=None, known_cols=(), headers: dict | None = None) -> None:
    """Refuse une feuille qui contient des données personnelles.

    Chaque colonne est contrôlée, colonnes de texte libre comprises ; les textes le
    sont une fois par valeur distincte, par les règles puis, pour ceux qui en ont
    besoin, par le modèle de langue.

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
    known_cols : iterable of int
        Colonnes dont la mise en page connaît le rôle (indicateurs, année, format long) :
        les autres colonnes de texte, sous un en-tête qui n'est pas une métadonnée
        (:func:`is_metadata_header`), ne peuvent pas porter de texte libre.
    headers : dict, optional
        Colonne → en-tête lu (pour reconnaître les colonnes de métadonnées).

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
    roles_known = header_row is not None and (skip or known_cols)
    known = set(known_cols) | skip

    def is_commune(text: str) -> bool:
        return names_a_commune(text, index)

    lazy: dict = {}  # lignes de notes, calculées au premier besoin seulement
    model_texts: dict[str, tuple[int, int, object]] = {}  # texte → (ligne, colonne, en-tête)
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
        if (headers or {}).get(j):
            head = headers[j]

        def first_row(k: int, codes=codes) -> int:
            return start + int(np.flatnonzero(codes == k)[0])

        if any(issubclass(t, _DATE_TYPES) for t in types):
            k = next(k for k, v in enumerate(distinct) if isinstance(v, _DATE_TYPES))
            ligne, letter = sheet.ref(first_row(k), j)
            raise _refuse(sheet.name, letter, head,
                          "date complète (possible date de naissance)", ligne, "contenu")
        if not any(issubclass(t, str) for t in types):
            continue
        pool = set(distinct) - safe if j in skip else distinct
        if not types <= {str, type(None)}:
            pool = [t for t in pool if isinstance(t, str)]
        elif type(None) in types:
            pool = [t for t in pool if t is not None]
        # Textes distincts dans l'ordre de leur première apparition : le premier trouvé est
        # celui de la première ligne en cause.
        texts = [t for t in distinct if isinstance(t, str) and not (j in skip and t in safe)]

        def in_notes(text: str, reason: str, j=j, codes=codes, distinct=distinct) -> bool:
            # Une date dans une note de bas de tableau seulement : permise.
            if not reason.startswith("date complète"):
                return False
            if "notes" not in lazy:
                lazy["notes"] = _note_rows(cells, start)
            k = next(k for k, v in enumerate(distinct) if isinstance(v, str) and v == text)
            rows = start + np.flatnonzero(codes == k)
            return all(int(i) in lazy["notes"] for i in rows)

        hit = _first_content_hit(texts, is_commune if j in skip else None, in_notes) \
            if _may_hit(pool) else None
        if hit is not None:
            text, reason = hit
            k = next(k for k, v in enumerate(distinct) if isinstance(v, str) and v == text)
            ligne, letter = sheet.ref(first_row(k), j)
            raise _refuse(sheet.name, letter, head, reason, ligne, "contenu", text)
        if roles_known and j not in known and not is_metadata_header(head):
            # Colonne de texte dont la mise en page ne connaît pas le rôle : pas de texte libre.
            notes_here = None
            for text in texts:
                if free_text_reason(text):
                    if notes_here is None:
                        lazy.setdefault("notes", _note_rows(cells, start))
                        notes_here = lazy["notes"]
                    k = distinct.index(text)
                    rows_k = start + np.flatnonzero(codes == k)
                    if all(int(i) in notes_here for i in rows_k):
                        continue  # note sous le tableau (« Source : … »)
                    ligne, letter = sheet.ref(int(rows_k[0]), j)
                    raise _refuse(sheet.name, letter, head, "texte libre", ligne,
                                  "texte_libre", text)
        for text in texts:
            if text in model_texts:
                continue
            # Dans la colonne des communes, une commune (même mal écrite) n'est personne.
            if j in skip and (is_commune(text) or (
                    index is not None and index.is_near_name(text))):
                continue
            if persons.needs_model(text):
                model_texts[text] = (first_row(distinct.index(text)), j, head)
    if model_texts:
        found = persons.persons(list(model_texts))
        if found:
            text = min(found, key=lambda t: (model_texts[t][1], model_texts[t][0]))
            i, j, head = model_texts[text]
            ligne, letter = sheet.ref(i, j)
            raise _refuse(sheet.name, letter, head,
                          "personne nommée (reconnue par le modèle de langue)", ligne,
                          "contenu", text)


# --------------------------------------------------------------------------- avant lecture


def _screen(texts: list[str], dates_allowed: bool) -> tuple[str, str] | None:
    """Premier texte personnel (règles, puis modèle pour ceux qui en ont besoin)."""
    for text in texts:
        reason = personal_content_reason(text, dates_allowed=dates_allowed)
        if reason is not None:
            return text, reason
    found = persons.persons(texts)
    for text in texts:
        if text in found:
            return text, "personne nommée (reconnue par le modèle de langue)"
    return None


def sheet_name_reason(name: str) -> str | None:
    """Raison pour laquelle un nom de feuille nomme une personne, ou None."""
    hit = _screen([name], dates_allowed=True)
    return hit[1] if hit is not None else personal_header_reason(name)


def filename_text(filename: str) -> str:
    """Nom de fichier en texte : sans extension, « _ », « - » et « . » changés en espaces,
    mots collés séparés (« DupontJean » → « Dupont Jean »).
    """
    stem = PurePath(filename).name
    stem = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", stem)
    stem = re.sub(r"(?<=[a-zà-ÿ])(?=[A-ZÀ-Ý])", " ", stem)
    return re.sub(r"[_\-.+]+", " ", stem).strip()


def filename_reason(filename: str) -> str | None:
    """Raison pour laquelle un nom de fichier a l'air de nommer une personne, ou None."""
    text = filename_text(filename)
    if not text:
        return None
    stem = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", PurePath(filename).name)
    # Le nom tel quel (courriel, « dossier 2023-145 »), en mots, et avec ses initiales
    # (« DUPONT_J » → « DUPONT J. »).
    initials = re.sub(r"(?<![\w.])([A-Za-zÀ-Ý])(?=\s|$)", r"\1.", text)
    hit = _screen(list(dict.fromkeys([stem, text, initials])), dates_allowed=True)
    return hit[1] if hit else None


def neutral_filename(filename: str, contributeur: str, annee: int) -> tuple[str, str | None]:
    """Nom à garder pour un fichier reçu : le sien, ou un nom neutre s'il nomme quelqu'un.

    Returns
    -------
    (str, str or None)
        Le nom à garder et, s'il a été changé, la raison.
    """
    reason = filename_reason(filename)
    if reason is None:
        return PurePath(filename).name, None
    ext = PurePath(filename).suffix.lower()
    return f"contribution_{contributeur}_{annee}{ext}", reason


def _comments_xlsx(content: bytes) -> dict[str, list[tuple[str, str]]]:
    """Notes et commentaires d'un .xlsx : nom de feuille → [(cellule, texte)]."""
    from observatoire.ingest.readers import sheet_xml_paths

    out: dict[str, list[tuple[str, str]]] = {}
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as zf:
            names = set(zf.namelist())
            for sheet, target in sheet_xml_paths(zf).items():
                rels = target.rsplit("/", 1)
                rels_path = f"{rels[0]}/_rels/{rels[1]}.rels"
                if rels_path not in names:
                    continue
                xml = zf.read(rels_path).decode("utf-8", "replace")
                for tgt in re.findall(r'Target="([^"]*(?:comments|threadedComment)[^"]*)"',
                                      xml, flags=re.I):
                    path = tgt.lstrip("/") if tgt.startswith("/") else \
                        _resolve(rels[0], tgt)
                    if path not in names:
                        continue
                    body = zf.read(path).decode("utf-8", "replace")
                    for ref, inner in re.findall(
                            r'<(?:\w+:)?(?:comment|threadedComment)\b[^>]*\bref="([^"]+)"[^>]*>'
                            r'(.*?)</(?:\w+:)?(?:comment|threadedComment)>', body, flags=re.S):
                        text = _xml_text(inner)
                        if text:
                            out.setdefault(sheet, []).append((ref, text))
    except (zipfile.BadZipFile, KeyError, OSError):
        return out
    return out


def _resolve(base: str, target: str) -> str:
    parts = base.split("/")
    for piece in target.split("/"):
        if piece == "..":
            parts = parts[:-1]
        elif piece and piece != ".":
            parts.append(piece)
    return "/".join(parts)


def _xml_text(fragment: str) -> str:
    import html

    pieces = re.findall(r"<(?:\w+:)?(?:t|text:p|text:span)\b[^>]*>([^<]*)<", fragment)
    if not pieces:
        pieces = [re.sub(r"<[^>]+>", " ", fragment)]
    return re.sub(r"\s+", " ", html.unescape(" ".join(pieces))).strip()


def _comments_ods(content: bytes) -> dict[str, list[tuple[str, str]]]:
    """Annotations d'un .ods : nom de feuille → [("", texte)]."""
    out: dict[str, list[tuple[str, str]]] = {}
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as zf:
            xml = zf.read("content.xml").decode("utf-8", "replace")
    except (zipfile.BadZipFile, KeyError, OSError):
        return out
    for name, table in re.findall(r'<table:table\b[^>]*table:name="([^"]*)"[^>]*>(.*?)'
                                  r'</table:table>', xml, flags=re.S):
        for note in re.findall(r"<office:annotation\b[^>]*>(.*?)</office:annotation>", table,
                               flags=re.S):
            note = re.sub(r"<dc:(creator|date)>[^<]*</dc:\1>", " ", note)
            text = _xml_text(note)
            if text:
                out.setdefault(name, []).append(("", text))
    return out


def cell_notes(content: bytes, kind: str) -> dict[str, list[tuple[str, str]]]:
    """Notes et commentaires de cellule d'un classeur : feuille → [(cellule, texte)].

    Lus directement dans l'archive (.xlsx : ``xl/comments*.xml`` et commentaires en fil ;
    .ods : annotations). Le nom de l'auteur d'une note, que le tableur ajoute de
    lui-même, n'est pas lu : c'est l'agent qui a saisi, pas une personne suivie.
    """
    if kind == "xlsx":
        return _comments_xlsx(content)
    if kind == "ods":
        return _comments_ods(content)
    return {}


def check_workbook(wb, content: bytes, kind: str, scan_rows: int = 60) -> None:
    """Contrôle d'avant lecture : noms de feuilles (masquées comprises), notes de cellule et
    en-têtes des premières lignes de chaque feuille.

    Fait avant la recherche de la mise en page, il refuse en quelques secondes un fichier
    porteur de données personnelles à ces endroits.

    Parameters
    ----------
    wb : observatoire.ingest.readers.Workbook
    content : bytes
        Contenu du fichier (notes lues dans l'archive).
    kind : str
        Format (``xlsx``, ``ods``, ``xls``, ``csv``).
    scan_rows : int
        Premières lignes de chaque feuille où chercher un en-tête personnel.

    Raises
    ------
    DonneesPersonnellesError
    """
    for n, sheet in enumerate(wb.sheets, start=1):
        if kind == "csv":
            break
        reason = sheet_name_reason(sheet.name)
        if reason is not None:
            state = " masquée" if sheet.hidden else ""
            raise DonneesPersonnellesError(
                f"Fichier refusé : données personnelles ({reason}) — le nom de la feuille"
                f"{state} n° {n} (extrait masqué : « {masked(sheet.name)} ») ressemble à une "
                f"donnée personnelle. Rien n'a été enregistré. Renommez la feuille "
                f"(« Données », « 2024 »…) ou retirez-la, et renvoyez le tableau agrégé.")
    notes = cell_notes(content, kind)
    for sheet_name, items in notes.items():
        texts = [t for _ref, t in items]
        hit = _screen(texts, dates_allowed=False)
        if hit is not None:
            text, reason = hit
            ref = next(r for r, t in items if t == text)
            where = f", cellule {ref}" if ref else ""
            raise DonneesPersonnellesError(
                f"Fichier refusé : données personnelles ({reason}) — feuille « {sheet_name} »"
                f"{where} : une note (commentaire) de cellule ressemble à une donnée "
                f"personnelle (extrait masqué : « {masked(text)} »). Rien n'a été enregistré. "
                f"Supprimez les notes et commentaires du classeur (Révision > Supprimer) et "
                f"renvoyez le tableau agrégé.")
    safe = _commune_strings()
    for sheet in wb.sheets:
        top = sheet.array[:scan_rows]
        flat = top.ravel().tolist()
        bad = {v for v in set(filter(lambda x: isinstance(x, str), flat)) - safe
               if personal_header_reason(v)}
        if bad:
            k = next(k for k, v in enumerate(flat) if isinstance(v, str) and v in bad)
            i, j = divmod(k, top.shape[1])
            ligne, col = sheet.ref(i, j)
            raise _refuse(sheet.name, col, flat[k], personal_header_reason(flat[k]), ligne,
                          "entete")
