"""Rapport d'import : ce qui a été lu, chargé, et tout problème avec sa position.

Le rapport rassemble tous les problèmes d'un fichier en une fois (comme un
``validate(lazy=True)``), chacun avec sa feuille, sa ligne et sa colonne, pour que le
contributeur corrige tout en un seul aller-retour.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from observatoire.errors import FichierRefuseError


@dataclass
class Issue:
    """Un problème repéré dans un fichier.

    Attributes
    ----------
    niveau : str
        ``"erreur"`` (le fichier est refusé) ou ``"avertissement"`` (chargé quand même).
    code : str
        Nature du problème, stable pour les programmes (``valeur_negative``,
        ``commune_ambigue``, ``total_incoherent``…).
    message : str
        Phrase française : ce qui ne va pas et quoi faire.
    feuille, ligne, colonne : optional
        Position dans le fichier (ligne numérotée comme dans le tableur, colonne en
        lettres A, B…).
    """

    niveau: str
    code: str
    message: str
    feuille: str | None = None
    ligne: int | None = None
    colonne: str | None = None

    def where(self) -> str:
        """Position lisible : « feuille « X », ligne 12, colonne C »."""
        parts = []
        if self.feuille:
            parts.append(f"feuille « {self.feuille} »")
        if self.ligne is not None:
            parts.append(f"ligne {self.ligne}")
        if self.colonne:
            parts.append(f"colonne {self.colonne}")
        return ", ".join(parts)

    def to_text(self) -> str:
        """Ligne de rapport : position puis message."""
        where = self.where()
        return f"{where} : {self.message}" if where else self.message


@dataclass
class Report:
    """Rapport d'import d'un fichier (imprimable en français, sérialisable en JSON).

    Attributes
    ----------
    fichier, contributeur, annee
        Ce qui est importé.
    format : str
        ``xlsx``, ``xls``, ``ods``, ``csv`` ou ``modele`` (modèle standard reconnu).
    statut : str
        ``lu`` (lecture seule), ``simulation``, ``nouveau``, ``remplace``, ``inchange``
        ou ``refuse``.
    lignes_lues : int
        Lignes de données parcourues (hors titres, en-têtes et totaux).
    valeurs_par_indicateur : dict
        Par code : ``valeurs`` (nombre de cellules chargées), ``total`` (somme des
        valeurs non masquées), ``masquees``.
    communes_reconnues : int
        Communes distinctes localisées.
    total_non_localise : int
        Somme des valeurs non localisées (non masquées).
    cellules_masquees : int
        Cellules masquées par le contributeur (« <5 », « s »…), stockées comme masquées.
    correspondances : list of dict
        En-tête, indicateur retenu, méthode (``catalogue``, ``memorisee``, ``confirmee``,
        ``approchee``), score.
    entetes_non_resolus : list of dict
        En-têtes de colonnes chiffrées sans indicateur, avec leurs candidats.
    communes_non_reconnues : list of dict
        Texte, position, statut (``ambigu`` ou ``inconnue``) et candidates.
    lignes_ecartees : list of dict
        Lignes laissées de côté par ``--ecarter-lignes-invalides`` : feuille, ligne,
        colonnes, commune (texte lu), raisons (codes) et message ; enregistrées avec le lot.
    fichier_renomme : str or None
        Raison pour laquelle le nom du fichier reçu n'est pas gardé (il a l'air de nommer
        une personne) : ``fichier`` est alors un nom neutre.
    erreurs, avertissements : list of Issue
    valeurs : list of dict
        Valeurs chargées (commune, nom, indicateur, valeur, masque).
    """

    fichier: str
    contributeur: str
    annee: int
    format: str = ""
    encodage: str | None = None
    statut: str = "lu"
    lot_id: int | None = None
    remplace_lot_id: int | None = None
    feuilles: list[dict] = field(default_factory=list)
    lignes_lues: int = 0
    valeurs_par_indicateur: dict[str, dict] = field(default_factory=dict)
    communes_reconnues: int = 0
    total_non_localise: int = 0
    cellules_masquees: int = 0
    correspondances: list[dict] = field(default_factory=list)
    entetes_non_resolus: list[dict] = field(default_factory=list)
    communes_non_reconnues: list[dict] = field(default_factory=list)
    lignes_ecartees: list[dict] = field(default_factory=list)
    fichier_renomme: str | None = None
    erreurs: list[Issue] = field(default_factory=list)
    avertissements: list[Issue] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Liste des valeurs construite à la demande (JSON, aperçu) : un import de 200 000
        # valeurs n'a pas à fabriquer 200 000 dictionnaires que personne ne lit.
        self._valeurs: list[dict] | None = []
        self._valeurs_source: tuple[pd.DataFrame, dict] | None = None

    @property
    def valeurs(self) -> list[dict]:
        """Valeurs chargées (commune, nom, indicateur, valeur, masque), une par ligne."""
        if self._valeurs is None:
            self._valeurs = _value_records(*self._valeurs_source)
            self._valeurs_source = None
        return self._valeurs

    @valeurs.setter
    def valeurs(self, records: list[dict]) -> None:
        self._valeurs, self._valeurs_source = records, None

    @property
    def ok(self) -> bool:
        """Vrai quand aucune erreur n'empêche le chargement."""
        return not self.erreurs

    def add(self, niveau: str, code: str, message: str, feuille=None, ligne=None,
            colonne=None) -> None:
        """Ajoute une erreur ou un avertissement."""
        issue = Issue(niveau, code, message, feuille,
                      None if ligne is None else int(ligne), colonne)
        (self.erreurs if niveau == "erreur" else self.avertissements).append(issue)

    def fill_values(self, values: pd.DataFrame, noms: dict[str, str],
                    communes_reconnues: int | None = None, indicateurs=None,
                    localisees: np.ndarray | None = None) -> None:
        """Remplit les compteurs et la liste des valeurs à partir du tableau final.

        Parameters
        ----------
        values : pandas.DataFrame
            Colonnes :data:`observatoire.batches.VALUE_COLUMNS`.
        noms : dict
            Code INSEE → nom de la commune.
        communes_reconnues : int, optional
            Nombre de communes distinctes, quand l'appelant le connaît déjà (sinon compté).
        indicateurs : (numpy.ndarray, list), optional
            Rang de l'indicateur de chaque ligne et indicateurs dans l'ordre de leur
            première apparition, quand l'appelant les connaît déjà (sinon calculés).
        localisees : numpy.ndarray, optional
            Lignes localisées (code INSEE présent), si déjà connues.
        """
        if indicateurs is not None:
            ind_codes, ind_uniq = indicateurs
        else:
            ind_codes, ind_uniq = pd.factorize(values["indicateur"])
            ind_uniq = ind_uniq.tolist()
        vals = values["valeur"].to_numpy(dtype="float64", na_value=np.nan)
        masque = values["masque"].to_numpy(dtype=bool)
        known = np.nan_to_num(vals)
        n_ind = len(ind_uniq)
        counts = np.bincount(ind_codes, minlength=n_ind)
        totals = np.bincount(ind_codes, weights=known, minlength=n_ind)
        masked = np.bincount(ind_codes, weights=masque, minlength=n_ind)
        self.valeurs_par_indicateur = {
            str(code): {"valeurs": int(counts[k]), "total": int(totals[k]),
                        "masquees": int(masked[k])}
            for k, code in enumerate(ind_uniq)}
        if localisees is not None:
            localised = localisees
        else:
            codes = values["code_insee"].to_numpy(dtype=object)
            # None ou NaN : « codes == codes » est faux pour NaN seulement.
            localised = (codes != None) & (codes == codes)  # noqa: E711
        if communes_reconnues is None:
            codes = values["code_insee"].to_numpy(dtype=object)
            communes_reconnues = len(pd.unique(codes[localised]))
        self.communes_reconnues = int(communes_reconnues)
        self.total_non_localise = int(known[~localised].sum())
        self.cellules_masquees = int(masque.sum())
        self._valeurs, self._valeurs_source = None, (values, noms)

    def to_dict(self, with_values: bool = True) -> dict:
        """Rapport sérialisable en JSON (``json.dumps`` direct).

        Parameters
        ----------
        with_values : bool, default True
            Inclut la liste des valeurs chargées par commune et indicateur.
        """
        out = asdict(self)
        if with_values:
            out["valeurs"] = self.valeurs
        out["ok"] = self.ok
        return out

    def to_text(self, max_items: int = 50) -> str:
        """Rapport lisible en français, pour la ligne de commande."""
        lines = [f"Fichier : {self.fichier}",
                 f"Contributeur : {self.contributeur} — année {self.annee}",
                 f"Format : {self.format}" + (f" (encodage {self.encodage})"
                                              if self.encodage else "")]
        statut = {"lu": "lu (rien n'est enregistré)",
                  "simulation": "simulation : lu en entier, rien n'est enregistré",
                  "nouveau": f"chargé (lot {self.lot_id})",
                  "remplace": f"chargé (lot {self.lot_id}, remplace le lot "
                              f"{self.remplace_lot_id}, conservé dans l'historique)",
                  "inchange": f"fichier identique au lot courant {self.lot_id} : rien n'a changé",
                  "refuse": "REFUSÉ : rien n'est enregistré"}.get(self.statut, self.statut)
        lines.append(f"Résultat : {statut}")
        for f in self.feuilles:
            lines.append(f"Feuille « {f['nom']} » : {f['role']}")
        lines.append(f"Lignes lues : {self.lignes_lues}")
        lines.append(f"Communes reconnues : {self.communes_reconnues}")
        lines.append(f"Total non localisé : {self.total_non_localise}")
        lines.append(f"Cellules masquées par le contributeur : {self.cellules_masquees}")
        if self.valeurs_par_indicateur:
            lines.append("Valeurs chargées par indicateur :")
            for code, d in self.valeurs_par_indicateur.items():
                lines.append(f"  - {code} : {d['valeurs']} valeurs, total {d['total']}, "
                             f"{d['masquees']} masquées")
        for c in self.correspondances:
            if c["methode"] == "approchee":
                lines.append(f"Correspondance à confirmer : « {c['entete']} » → "
                             f"{c['indicateur']} (score {c['score']:.2f})")
            elif c["methode"] == "proposition_acceptee":
                lines.append(f"Proposition acceptée (--accepter-propositions) : "
                             f"« {c['entete']} » → {c['indicateur']} (score {c['score']:.2f})")
        for e in self.entetes_non_resolus:
            cands = ", ".join(f"{c['indicateur']} ({c.get('score', 0):.2f})"
                              for c in e.get("candidats", [])[:5]) or "aucun"
            lines.append(f"À confirmer : colonne {e.get('colonne')} « {e['entete']} » "
                         f"(feuille « {e.get('feuille')} ») — candidats : {cands}")
        if self.lignes_ecartees:
            lines.append(f"Lignes écartées (--ecarter-lignes-invalides) : "
                         f"{len(self.lignes_ecartees)}")
        lines += issue_lines(self.erreurs, self.avertissements, max_items)
        return "\n".join(lines)


def issue_lines(erreurs: list[Issue], avertissements: list[Issue], max_items: int
                ) -> list[str]:
    """Erreurs puis avertissements d'un rapport, en lignes de texte (au plus ``max_items``
    de chaque, le reste compté).
    """
    lines = []
    for title, issues in (("Erreurs", erreurs), ("Avertissements", avertissements)):
        if issues:
            lines.append(f"{title} ({len(issues)}) :")
            lines += [f"  - {issue.to_text()}" for issue in issues[:max_items]]
            if len(issues) > max_items:
                lines.append(f"  … et {len(issues) - max_items} autres (voir --json).")
    return lines


def _value_records(values: pd.DataFrame, noms: dict[str, str]) -> list[dict]:
    """Une entrée par valeur chargée : commune, nom, libellé, indicateur, valeur, masque."""
    # Tableaux numpy d'objets : itérer une colonne pandas (Arrow) coûte 10 fois plus.
    def col(name):
        s = values[name]
        return s.astype(object).where(s.notna(), None).to_numpy(dtype=object)

    vals = values["valeur"].astype("float64").to_numpy()
    return [
        {"code_insee": c, "commune": noms.get(c) if c else None,
         "libelle_non_localise": lib, "indicateur": ind,
         "valeur": None if v != v else int(v), "masque": bool(m)}
        for c, lib, ind, v, m in zip(
            col("code_insee"), col("libelle_non_localise"), col("indicateur"),
            vals, values["masque"].to_numpy(dtype=bool), strict=True)
    ]


#: Codes des erreurs de valeurs, que ``--ecarter-lignes-invalides`` sait écarter.
VALUE_ERRORS = frozenset({"valeur_negative", "valeur_decimale", "valeur_non_numerique",
                          "formule_refusee", "valeur_hors_bornes", "formule_sans_valeur"})


def refusal(report, fichier: str) -> FichierRefuseError:
    """Refus d'un fichier dont le rapport a des erreurs : rien ne sera enregistré.

    Passe le rapport au statut ``refuse`` et le joint à l'exception (attribut
    ``rapport``), dont le message cite les cinq premières erreurs.

    Parameters
    ----------
    report : Report or SsmsiReport
        Rapport avec ``erreurs`` (:class:`Issue`) et ``statut``.
    fichier : str
        Nom du fichier, pour le message.

    Returns
    -------
    FichierRefuseError
        À lever par l'appelant.
    """
    report.statut = "refuse"
    first = "; ".join(i.to_text().rstrip(".") for i in report.erreurs[:5])
    more = f" (et {len(report.erreurs) - 5} autres)" if len(report.erreurs) > 5 else ""
    codes = {i.code for i in report.erreurs}
    hint = (" Corrigez ces cellules, ou chargez seulement les lignes valides (option "
            "--ecarter-lignes-invalides, case « écarter les lignes invalides » de la page "
            "Importer) : les lignes écartées restent au rapport du lot."
            if codes & VALUE_ERRORS and not codes - VALUE_ERRORS - {"trop_d_erreurs"} else "")
    exc = FichierRefuseError(
        f"Fichier « {fichier} » refusé, rien n'a été enregistré : {first}{more}.{hint}")
    exc.rapport = report
    return exc
