"""Corpus des personnes : 0 faux négatif, 0 faux positif, partout où un fichier en porte.

Les cas sont fabriqués par classes (formes d'écriture d'une personne × endroits du
fichier) à partir de réserves de prénoms et de noms qu'aucune liste du code ne contient :
prénom et nom dans toute casse, nom et initiale, civilité, date de naissance en chiffres
ou en lettres, adresse, numéro de dossier, courriel, téléphone, récit sur une personne.
Endroits : cellule d'une colonne de texte, cellule de la colonne des communes, note
(commentaire) de cellule, nom de feuille visible ou masquée, nom du fichier.

En face, des en-têtes, contenus, notes et noms de feuilles administratifs (unités de la
police, de la gendarmerie, de la justice, des services sociaux, géographie statistique)
qui ne doivent jamais être pris pour des personnes.
"""

import io
import random

import openpyxl
import pytest
from openpyxl.comments import Comment

from observatoire.errors import DonneesPersonnellesError
from observatoire.ingest import read_contribution
from observatoire.ingest.personal import _FIRST_NAME_SET
from observatoire.matching import normalize_name

# Prénoms et noms absents de toute liste du code (vérifié ci-dessous).
FIRST = ["Gwendoline", "Maëlys", "Soizic", "Nolwenn", "Ysaline", "Bérénice", "Ghislaine",
         "Aymeric", "Ludivine", "Priscillia", "Wassim", "Anaëlle", "Perrine", "Lilou",
         "Rayan", "Ibrahima", "Loïc", "Ambre", "Kylie", "Mathéo", "Albane", "Clémence",
         "Eloïse", "Marius", "Tiphaine", "Sixtine", "Yanis", "Aurélien", "Mélodie", "Ethan"]
LAST = ["Pruvost", "Delattre", "Vandamme", "Kowalczyk", "Benali", "Lheureux", "Dhainaut",
        "Caron", "Wattez", "Leleu", "Nguyen", "Diallo", "Bocquet", "Hennebelle", "Dufossé",
        "Szymanski", "Ramdani", "Carpentier", "Delobel", "Vasseur", "Lefebvre", "Deprez",
        "Lecocq", "Duquesnoy", "Wiart", "Podvin", "Trannin", "Boulanger", "Legrand", "Flament"]
MONTHS = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
          "septembre", "octobre", "novembre", "décembre"]
STREETS = ["des Lilas", "Jean Jaurès", "de la Gare", "du Moulin", "Pasteur", "des Écoles",
           "Victor Hugo", "de l'Église", "des Tilleuls", "du 8 Mai 1945"]
VOIES = ["rue", "avenue", "impasse", "allée", "chemin", "boulevard", "place", "résidence"]


def test_name_pools_are_beyond_the_lists_of_the_code():
    assert not {normalize_name(f) for f in FIRST} & _FIRST_NAME_SET


def person_texts(n: int = 48, seed: int = 13) -> list[tuple[str, str]]:
    """(classe, texte) : ``n`` textes qui portent une personne, toutes classes mêlées."""
    rng = random.Random(seed)
    classes = [
        ("prenom_nom", lambda f, n: f"{f} {n}"),
        ("NOM_prenom", lambda f, n: f"{n.upper()} {f}"),
        ("minuscules", lambda f, n: f"{f.lower()} {n.lower()}"),
        ("minuscules_inverse", lambda f, n: f"{n.lower()} {f.lower()}"),
        ("capitales", lambda f, n: f"{n.upper()} {f.upper()}"),
        ("nom_initiale", lambda f, n: f"{n.upper()} {f[0]}."),
        ("initiale_nom", lambda f, n: f"{f[0]}. {n}"),
        ("civilite", lambda f, n: rng.choice(["Mme", "M.", "Madame", "monsieur", "Mlle"])
         + f" {n}"),
        ("phrase_nom", lambda f, n: f"vue avec {f} {n} ce jour"),
        ("naissance_lettres", lambda f, n: f"née le {rng.randint(1, 28)} "
         f"{rng.choice(MONTHS)} {rng.randint(1950, 2010)}"),
        ("naissance_chiffres", lambda f, n: f"né le {rng.randint(1, 28):02d}/"
         f"{rng.randint(1, 12):02d}/{rng.randint(1950, 2010)}"),
        ("date_lettres", lambda f, n: f"{rng.randint(1, 28)} {rng.choice(MONTHS)} "
         f"{rng.randint(1950, 2005)}"),
        ("age", lambda f, n: f"âgée de {rng.randint(18, 80)} ans"),
        ("adresse", lambda f, n: f"{rng.randint(1, 120)} {rng.choice(VOIES)} "
         f"{rng.choice(STREETS)}"),
        ("domicile", lambda f, n: f"domicile : {rng.randint(1, 99)} rue {rng.choice(STREETS)}"),
        ("dossier", lambda f, n: f"{n.upper()} {f[0]}. (dossier 20{rng.randint(18, 24)}-"
         f"{rng.randint(10, 999)})"),
        ("procedure", lambda f, n: f"PV n° 20{rng.randint(18, 24)}/{rng.randint(100, 99999)}"),
        ("courriel", lambda f, n: f"{f.lower()}.{n.lower()}@exemple.fr"),
        ("telephone", lambda f, n: f"06 {rng.randint(10, 99)} {rng.randint(10, 99)} "
         f"{rng.randint(10, 99)} {rng.randint(10, 99)}"),
        ("recit", lambda f, n: rng.choice([
            "victime relogée chez sa sœur, conjoint violent incarcéré, 3 enfants placés",
            "elle vit chez sa mère depuis le départ du conjoint",
            "son ex-mari a été interpellé au domicile",
            "victime hébergée en urgence avec ses deux enfants",
            "conjointe enceinte, hospitalisée après les coups",
            "auteur incarcéré, victime orientée vers le CIDFF",
            "3 enfants placés, la mère refuse de porter plainte",
            "madame souhaite quitter son compagnon"])),
    ]
    out = []
    for k in range(n):
        name, make = classes[k % len(classes)]
        out.append((name, make(rng.choice(FIRST), rng.choice(LAST))))
    return out


def name_texts(n: int = 44, seed: int = 7) -> list[tuple[str, str]]:
    """Les classes qui peuvent nommer une feuille ou un fichier (noms, civilités, dossiers)."""
    keep = {"prenom_nom", "NOM_prenom", "minuscules", "minuscules_inverse", "capitales",
            "nom_initiale", "initiale_nom", "civilite", "dossier", "naissance_chiffres",
            "courriel"}
    pool = [c for c in person_texts(300, seed) if c[0] in keep]
    return pool[:n]


BENIGN_HEADERS = [
    "Nom de la région", "Nom du canton", "Nom de la circonscription", "Commissariat",
    "Unité", "Nom de l'unité", "Service", "Structure", "QPV", "Code IRIS", "Libellé IRIS",
    "Dispositif", "Nom du dispositif", "Brigade", "Compagnie", "Groupement", "Nom de l'EPCI",
    "Nom du département", "Arrondissement", "Juridiction", "Tribunal", "Parquet", "Antenne",
    "Permanence", "Secteur", "Zone", "Nom de la structure", "Nom du quartier",
    "Circonscription de sécurité publique", "Code région", "Libellé de l'arrondissement",
    "Pôle", "Bureau", "Site", "Source", "Note", "Précisions", "Nom du commissariat",
    "Nom de la brigade", "Nom du service", "Type de structure", "Catégorie",
]
BENIGN_TEXTS = [
    "Commissariat de Béthune", "Brigade territoriale autonome de Lillers", "COB d'Auchel",
    "QPV Mont-Liébaut", "Quartier du Mont-Liébaut", "Maison Jean Moulin",
    "Centre social Jean Jaurès", "CIDFF de l'Artois", "France Victimes 62",
    "Unité médico-judiciaire de Lens", "Tribunal judiciaire de Béthune",
    "Cour d'appel de Douai", "Parquet de Béthune", "SPIP du Pas-de-Calais",
    "Maison départementale des solidarités de Béthune",
    "CA de Béthune-Bruay, Artois Lys Romane", "Communauté d'agglomération de Lens-Liévin",
    "Arrondissement de Béthune", "Canton de Nœux-les-Mines",
    "Circonscription de sécurité publique de Lens",
    "Compagnie de gendarmerie départementale de Béthune", "Point d'accès au droit",
    "Accueil de jour La Vie Active", "IRIS Centre-ville", "Zone police", "Zone gendarmerie",
    "Secteur Nord", "Bassin minier", "Données provisoires", "RAS",
    "Hors zone gendarmerie", "Maison de justice et du droit", "Juge aux affaires familiales",
    "Service de police judiciaire", "Groupement de gendarmerie du Pas-de-Calais",
    "Direction départementale de la sécurité publique", "CCAS de Bruay-la-Buissière",
    "Antenne de Lillers", "Permanence de Beuvry", "Collège Jean Jaurès",
]
BENIGN_NOTES = [
    "Source : DDSP 62, extraction du 15/01/2024", "Données provisoires",
    "Chiffres validés par la DDSP", "Les victimes sont comptées une fois par an",
    "Une victime reçue plusieurs fois n'est comptée qu'une fois",
    "Secret statistique : valeurs inférieures à 5 masquées", "Mise à jour au 31/12/2023",
    "Données transmises le 12 février 2024", "Période du 01/01/2023 au 31/12/2023",
    "Les auteurs sont comptés dans la commune de résidence de la victime",
    "Faits constatés par la police et la gendarmerie", "Hors zone gendarmerie",
    "Commune de résidence de la victime", "Total calculé par le tableur",
    "Les enfants exposés sont ceux des ménages concernés",
    "Chiffres de la brigade de Lillers et de la COB d'Auchel",
    "Extraction Pulsar du 3 janvier 2024", "Valeurs 2022 corrigées",
    "Inclut les mains courantes", "Hors violences sexuelles",
    "Compté à la date d'enregistrement de la plainte", "Données du logiciel métier",
    "Voir la note méthodologique jointe", "Sans les communes hors arrondissement",
    "Saisie par le secrétariat du CIDFF", "Le total inclut les non localisés",
    "Cellule fusionnée", "Colonne calculée", "Chiffre estimé",
    "Victimes orientées par le commissariat de Béthune",
    "Accompagnements physiques vers le dépôt de plainte",
    "Personnes reçues au moins une fois dans l'année",
    "Source : tribunal judiciaire de Béthune", "Ordonnances délivrées par le JAF",
    "Demandes AUVVC instruites par la CAF", "Familles rencontrées par les travailleurs sociaux",
    "Nombre de TGD attribués", "Valeurs masquées à la demande du partenaire",
    "Chiffres arrêtés au 15 janvier 2024", "Données consolidées au niveau de la compagnie",
]
BENIGN_SHEETS = ["Données", "2023", "T1", "Synthèse", "Commissariat de Béthune",
                 "BTA Lillers", "COB Auchel", "Compagnie Béthune", "Arrondissement Béthune",
                 "Notes", "Source", "Récapitulatif", "QPV", "Secteur Nord", "Feuil1",
                 "Données 2023", "CIDFF Artois", "Zone police", "Zone gendarmerie", "Total",
                 "Lens-Liévin", "Hénin-Carvin", "IRIS", "Consignes", "Brigades", "Annexe",
                 "Méthode", "Détail par commune", "Tableau 1", "Bilan annuel",
                 "Semestre 1", "Janvier", "Victimes", "Faits constatés", "Interventions",
                 "Accueil de jour", "Permanences", "Tribunal", "Parquet", "Données brutes"]
BENIGN_FILES = ["iscg_arrondissement_bethune_2023.xlsx", "gendarmerie_faits_vif_2023.xlsx",
                "bilan_2024.xlsx", "Tableau VIF commissariat Béthune 2023.xlsx",
                "CIDFF_Artois_2023.csv", "export_pulsar_20240115.xlsx",
                "France Victimes 62 - bilan annuel.xlsx", "accueil_de_jour_T1-T4.xlsx",
                "DDSP62_VIF_2023_v2.xlsx", "Planning familial 62.xlsx",
                "BTA_Lillers_COB_Auchel.xlsx", "CAF62_AUVVC_2023.xlsx",
                "tribunal_judiciaire_bethune_2023.xlsx", "Données 2023 (provisoires).xlsx",
                "Copie de modele_iscg_bethune_2024.xlsx", "Lens-Lievin_VIF.xlsx",
                "Compagnie de Béthune - faits 2023.xlsx", "Synthese_arrondissement_622.xlsx",
                "MDS_Bethune_2023.xlsx", "Hénin-Carvin 2023.xlsx"]


def test_corpus_sizes():
    assert len(person_texts()) >= 40 and len(name_texts()) >= 40
    assert len(BENIGN_HEADERS) >= 40 and len(BENIGN_TEXTS) >= 40 and len(BENIGN_NOTES) >= 40
    assert len(BENIGN_SHEETS) >= 40


def workbook(rows, sheet="Données", comments=None, extra_sheets=None, hidden=()) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    for row in rows:
        ws.append(row)
    for ref, text in (comments or {}).items():
        ws[ref].comment = Comment(text, "agent")
    for name, extra in (extra_sheets or {}).items():
        other = wb.create_sheet(name)
        for row in extra:
            other.append(row)
        if name in hidden:
            other.sheet_state = "hidden"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def read(content, name="bilan.xlsx", contributeur="gendarmerie_62"):
    return read_contribution(content, name, contributeur, 2023)


TABLE = [["Commune", "Faits constatés"], ["Béthune", 4], ["Beuvry", 2], ["Lillers", 1]]


def _with_text_column(header, text):
    return [["Commune", "Faits constatés", header], ["Béthune", 4, text], ["Beuvry", 2, None],
            ["Lillers", 1, None]]


# --- personnes : faux négatifs -------------------------------------------------------

@pytest.mark.parametrize(("classe", "text"), person_texts())
def test_person_in_a_cell_is_refused(classe, text):
    with pytest.raises(DonneesPersonnellesError, match="colonne C.*ligne 2"):
        read(workbook(_with_text_column("Source", text)))


@pytest.mark.parametrize(("classe", "text"), person_texts(seed=21))
def test_person_in_the_commune_column_is_refused(classe, text):
    rows = [["Commune", "Faits constatés"], ["Béthune", 4], [text, 2], ["Lillers", 1]]
    with pytest.raises(DonneesPersonnellesError, match="colonne A.*ligne 3"):
        read(workbook(rows))


@pytest.mark.parametrize(("classe", "text"), person_texts(seed=5))
def test_person_in_a_cell_note_is_refused(classe, text):
    with pytest.raises(DonneesPersonnellesError, match="cellule B3 : une note"):
        read(workbook(TABLE, comments={"B3": text}))


@pytest.mark.parametrize(("classe", "text"), name_texts())
def test_person_as_a_sheet_name_is_refused(classe, text):
    name = text.replace("/", "-")[:31]
    with pytest.raises(DonneesPersonnellesError, match="nom de la feuille n° 2"):
        read(workbook(TABLE, extra_sheets={name: [["suivi"]]}))


@pytest.mark.parametrize(("classe", "text"), name_texts(seed=9))
def test_person_as_a_hidden_sheet_name_is_refused(classe, text):
    name = text.replace("/", "-")[:31]
    with pytest.raises(DonneesPersonnellesError, match="feuille masquée n° 2"):
        read(workbook(TABLE, extra_sheets={name: [["x"]]}, hidden=(name,)))


@pytest.mark.parametrize(("classe", "text"), person_texts(seed=33))
def test_person_inside_a_hidden_sheet_is_refused(classe, text):
    with pytest.raises(DonneesPersonnellesError, match="feuille « suivi »"):
        read(workbook(TABLE, extra_sheets={"suivi": [["Observations"], [text]]},
                      hidden=("suivi",)))


@pytest.mark.parametrize(("classe", "text"), name_texts(seed=11))
def test_file_named_after_a_person_is_not_kept(classe, text):
    filename = text.replace("/", "-").replace(" ", "_") + ".xlsx"
    p = read(workbook(TABLE), name=filename)
    assert p.report.ok
    assert p.filename == p.report.fichier == "contribution_gendarmerie_62_2023.xlsx"
    assert p.report.fichier_renomme
    warn = [w for w in p.report.avertissements if w.code == "nom_fichier_personnel"]
    assert warn and filename not in warn[0].message


# --- administration : faux positifs ----------------------------------------------------

@pytest.mark.parametrize("header", BENIGN_HEADERS)
def test_administrative_header_is_not_a_person(header):
    rows = [["Commune", "Faits constatés", header], ["Béthune", 4, "Secteur Nord"],
            ["Beuvry", 2, "Zone police"], ["Lillers", 1, "Brigade de Lillers"]]
    p = read(workbook(rows))
    assert p.report.ok, [i.to_text() for i in p.report.erreurs]
    assert len(p.values) == 3


@pytest.mark.parametrize("text", BENIGN_TEXTS)
def test_administrative_name_in_a_cell_is_not_a_person(text):
    p = read(workbook(_with_text_column("Structure", text)))
    assert p.report.ok and len(p.values) == 3


@pytest.mark.parametrize("text", BENIGN_NOTES)
def test_administrative_note_is_not_a_person(text):
    rows = [*TABLE, [], [text]]
    p = read(workbook(rows, comments={"B2": text}))
    assert p.report.ok and len(p.values) == 3


@pytest.mark.parametrize("name", BENIGN_SHEETS)
def test_administrative_sheet_name_is_not_a_person(name):
    p = read(workbook(TABLE, sheet=name))
    assert p.report.ok, [i.to_text() for i in p.report.erreurs]


@pytest.mark.parametrize("filename", BENIGN_FILES)
def test_administrative_file_name_is_kept(filename):
    p = read(workbook(TABLE), name=filename)
    assert p.report.fichier == filename and not p.report.fichier_renomme


def test_real_insee_header_row_is_not_personal_data():
    # En-tête de la feuille « Communes » des populations légales de l'INSEE.
    rows = [["Populations légales 2021"], [],
            ["Code région", "Nom de la région", "Code département", "Code arrondissement",
             "Code canton", "Code commune", "Nom de la commune", "Faits constatés"],
            ["32", "Hauts-de-France", "62", "2", "12", "119", "Béthune", 5]]
    p = read(workbook(rows))
    assert p.report.ok, [i.to_text() for i in p.report.erreurs]
    assert p.values["code_insee"].tolist() == ["62119"]
