"""Secret statistique : le seul endroit où l'on masque.

Toute sortie publique (application sans connexion, atlas, tableurs, CSV, HTML) passe par
:func:`apply_public`. Les agents authentifiés voient les valeurs exactes en le disant
explicitement (``staff=True``) ; la vue publique est celle par défaut.

Règles (voir ``docs/methodologie.md``) :

1. **secret primaire** : un effectif communal de 1 à ``seuil − 1`` (seuil du fichier de
   configuration, 5 par défaut) est « secret » ; 0 reste visible (c'est le signal d'une
   zone blanche) ;
2. tout ce qui dérive d'un effectif masqué (taux, ratio, taux lissés, probabilités,
   écarts entre années, indice de priorité) est masqué avec lui ; l'étiquette reste ;
3. **secret secondaire** : aucune cellule masquée ne doit pouvoir être recalculée à
   partir d'un total publié (EPCI, arrondissement, département, territoire) et des autres
   cellules publiées, ni par une soustraction, ni par une combinaison de totaux
   (vérification par algèbre linéaire), ni parce que les cellules masquées d'un groupe
   seraient forcément toutes égales à 1 (ou toutes au seuil − 1). On masque alors la
   plus petite cellule non nulle publiée du groupe, ou, à défaut, le total ;
4. une cellule **masquée à la source** par le contributeur reste inconnue de tous : elle
   est affichée « secret » et les totaux qui la contiennent sont inconnus.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import linalg
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from observatoire.errors import ObservatoireError

__all__ = [
    "COLONNES_DERIVEES",
    "GROUPES",
    "SECRET",
    "PlanSecret",
    "apply_public",
    "cellules_deductibles",
    "planifier",
    "totaux_proteges",
]

#: Ce que l'on affiche à la place d'une valeur masquée.
SECRET = "secret"

#: Regroupements dont les totaux sont réputés publiés (dans l'ordre de traitement).
GROUPES = ("epci", "arrondissement", "departement")

#: Colonnes dérivées de l'effectif : masquées avec lui.
COLONNES_DERIVEES = (
    "observe", "observe_min", "observe_max", "observe_connu", "ratio", "taux", "taux_lisse",
    "taux_lisse_spatial", "p_exces", "p_defaut", "p_bilaterale", "q_bh", "nb_sources",
    "sources", "motif", "moran_local_i", "moran_local_p", "moran_local_groupe",
    "composante_sous_revelation", "indice_priorite", "rang_priorite",
    "ratio_ic95_bas", "ratio_ic95_haut", "taux_ic95_bas", "taux_ic95_haut", "ratio_lisse",
    "ratio_lisse_min", "ratio_lisse_max", "composante_sous_revelation_min",
    "composante_sous_revelation_max", "indice_priorite_min", "indice_priorite_max",
    "rang_priorite_min", "rang_priorite_max", "priorite_statut",
)

#: Colonnes des tendances : par année, et dérivées des deux années.
_COLS_ANNEE = ("observe", "taux")
_COLS_TENDANCE = ("difference", "ratio_taux", "p_tendance", "motif_tendance")

MOTIF_PRIMAIRE = "effectif inférieur au seuil"
MOTIF_SECONDAIRE = "secret secondaire (protège une autre cellule)"
MOTIF_SOURCE = "masqué à la source"


@dataclass
class PlanSecret:
    """Cellules et totaux à masquer pour une table communale.

    Attributes
    ----------
    communes : pandas.DataFrame
        ``code``, ``secret`` (bool), ``motif_secret`` (str ou None), dans l'ordre reçu.
    totaux : dict
        Niveau (``epci``, ``arrondissement``, ``departement``, ``territoire``) → codes
        des totaux à masquer.
    """

    communes: pd.DataFrame
    totaux: dict[str, set[str]] = field(default_factory=dict)


def _seuil(seuil: int | None) -> int:
    if seuil is None:
        from observatoire.config import settings

        seuil = settings().seuil_secret
    seuil = int(seuil)
    if seuil < 1:
        raise ObservatoireError(f"Seuil du secret invalide ({seuil}) : il doit valoir au moins 1.")
    return seuil


class _Systeme:
    """Variables (cellules communales puis totaux) et relations « total = Σ parties »."""

    def __init__(self, codes, valeurs, groupes: dict[str, np.ndarray]):
        self.noms: list[tuple[str, str]] = [("commune", str(c)) for c in codes]
        self.val: list[float] = list(valeurs)
        self.relations: list[tuple[int, list[int]]] = []
        index: dict[tuple[str, str], int] = {}
        n = len(self.noms)
        tot_idx = self._ajouter("territoire", "*", index)
        for niv, cles in groupes.items():
            enfants_totaux = []
            for g in pd.unique(cles):
                membres = np.flatnonzero(cles == g).tolist()
                p = self._ajouter(niv, str(g), index)
                self.relations.append((p, membres))
                enfants_totaux.append(p)
            # Les totaux d'un niveau se somment au total du territoire.
            self.relations.append((tot_idx, enfants_totaux))
        self.relations.append((tot_idx, list(range(n))))
        vals = np.asarray(self.val[:n], dtype=float)
        for k, (niv, g) in enumerate(self.noms):
            if niv == "territoire":
                self.val[k] = vals.sum()
            elif niv != "commune":
                self.val[k] = vals[groupes[niv] == g].sum()
        self.val = np.asarray(self.val, dtype=float)
        # Relations dont le parent est le total d'un regroupement : nested (arr ⊂ dép).
        self.n_communes = n

    def _ajouter(self, niv: str, code: str, index) -> int:
        key = (niv, code)
        if key not in index:
            index[key] = len(self.noms)
            self.noms.append(key)
            self.val.append(np.nan)
        return index[key]


def cellules_deductibles(systeme: _Systeme, inconnu: np.ndarray) -> np.ndarray:
    """Variables inconnues du public que les relations publiées déterminent exactement.

    Une variable est déterminée si elle prend la même valeur dans toutes les solutions
    du système ``total = Σ parties`` (les variables publiées passent au second membre) :
    sa composante est nulle sur tout le noyau de la matrice des inconnues.
    """
    cols = np.flatnonzero(inconnu)
    if cols.size == 0:
        return np.zeros(len(inconnu), dtype=bool)
    pos = {c: k for k, c in enumerate(cols)}
    rows, cs, data = [], [], []
    r = 0
    for parent, enfants in systeme.relations:
        termes = [(parent, -1.0)] + [(e, 1.0) for e in enfants]
        termes = [(pos[v], coef) for v, coef in termes if v in pos]
        if not termes:
            continue
        for c, coef in termes:
            rows.append(r)
            cs.append(c)
            data.append(coef)
        r += 1
    out = np.zeros(len(inconnu), dtype=bool)
    if r == 0:
        return out  # aucune relation : rien n'est déductible
    a = coo_matrix((data, (rows, cs)), shape=(r, cols.size)).tocsr()
    # Composantes connexes du graphe inconnues–relations : petits systèmes indépendants.
    n_r = r
    bip = coo_matrix((np.ones(len(rows)), (np.asarray(rows), np.asarray(cs) + n_r)),
                     shape=(n_r + cols.size, n_r + cols.size))
    _, lab = connected_components(bip, directed=False)
    lab_cols = lab[n_r:]
    lab_rows = lab[:n_r]
    for comp in np.unique(lab_cols):
        cc = np.flatnonzero(lab_cols == comp)
        rr = np.flatnonzero(lab_rows == comp)
        if rr.size == 0:
            continue
        sub = a[rr][:, cc].toarray()
        out[cols[cc[_dans_espace_lignes(sub)]]] = True
    return out


def _dans_espace_lignes(a: np.ndarray) -> np.ndarray:
    """Colonnes ``j`` telles que le vecteur unité ``e_j`` est dans l'espace des lignes de ``a``.

    C'est dire que la variable ``j`` est nulle sur tout le noyau de ``a`` (elle est
    déterminée par le système), sans calculer le noyau : la projection orthogonale sur
    l'espace des lignes (SVD réduite, ``rang`` ≤ nombre de relations) garde ``e_j``
    entier. Avec 400 inconnues et 30 relations, c'est cent fois moins de calcul que
    ``scipy.linalg.null_space`` (SVD complète 400 × 400). Même tolérance de rang que
    ``null_space`` ; le seuil de 1e-9 sur ``1 − P_jj`` classe un cas douteux comme
    déterminé, donc protégé : l'erreur éventuelle va du côté du secret.
    """
    if a.size == 0:
        return np.zeros(a.shape[1], dtype=bool)
    _u, s, vt = linalg.svd(a, full_matrices=False)
    tol = (s.max() if s.size else 0.0) * max(a.shape) * np.finfo(float).eps
    base = vt[: int((s > tol).sum())]
    reste = 1.0 - (base * base).sum(axis=0)
    return reste < 1e-9


def planifier(table: pd.DataFrame, seuil: int | None = None, *, colonne: str = "observe",
              groupes: Iterable[str] = GROUPES) -> PlanSecret:
    """Plan du secret (primaire et secondaire) d'une table communale.

    Parameters
    ----------
    table : pandas.DataFrame
        Une ligne par commune : ``code``, la colonne d'effectifs (Int64, ``<NA>`` =
        inconnu) et les colonnes de regroupement présentes parmi :data:`GROUPES`.
        ``masque`` (bool, masqué à la source) est utilisé s'il est présent.
    seuil : int, optional
        Seuil du secret (``settings().seuil_secret`` par défaut) : 1 à seuil − 1 masqués.
    colonne : str, default "observe"
    groupes : iterable of str
        Regroupements dont les totaux sont publiés.

    Returns
    -------
    PlanSecret
    """
    s = _seuil(seuil)
    codes = table["code"].astype(str).to_numpy()
    val = table[colonne].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    # Hors du périmètre des sources : aucune valeur à cacher (ce n'est ni 0 ni secret), et
    # les totaux publiés ne portent que sur les communes couvertes : elle y compte pour 0.
    if "couvert" in table:
        hors = ~table["couvert"].fillna(True).to_numpy(bool)
    elif "couverture" in table:
        hors = (table["couverture"].astype(object) == "hors_perimetre").to_numpy(bool)
    else:
        hors = None
    if hors is not None:
        val = np.where(hors, 0.0, val)
    groupes = {g: table[g].astype(str).to_numpy() for g in groupes if g in table}
    src = table["masque"].to_numpy(bool) if "masque" in table else None
    cle = _cle_plan(s, codes, val, groupes, src)
    with _VERROU_PLANS:
        plan = _PLANS.get(cle)
    if plan is None:
        plan = _planifier(s, codes, val, groupes, src)
        with _VERROU_PLANS:
            _PLANS[cle] = plan
            while len(_PLANS) > _PLANS_MAX:
                _PLANS.pop(next(iter(_PLANS)))
    plan = _copie_plan(plan)
    if hors is not None and hors.any():
        plan.communes.loc[hors, "secret"] = False
        plan.communes.loc[hors, "motif_secret"] = None
    return plan


#: Plans déjà calculés dans ce processus (contenu des entrées -> plan). Une publication
#: demande le même plan communal pour chaque niveau agrégé, la couverture et les séries :
#: il ne dépend que des codes, effectifs, regroupements et masques, pas de l'appelant.
_PLANS: dict[str, PlanSecret] = {}
_PLANS_MAX = 32
_VERROU_PLANS = threading.Lock()  # l'application sert plusieurs sessions à la fois


def _cle_plan(s: int, codes, val, groupes: dict, src) -> str:
    h = hashlib.sha256(f"{s}|{len(codes)}".encode())
    h.update("\x1f".join(codes).encode())
    h.update(np.ascontiguousarray(val, dtype=float).tobytes())
    for g in sorted(groupes):
        h.update(f"|{g}|".encode())
        h.update("\x1f".join(groupes[g]).encode())
    h.update(b"-" if src is None else np.ascontiguousarray(src, dtype=bool).tobytes())
    return h.hexdigest()


def _copie_plan(plan: PlanSecret) -> PlanSecret:
    return PlanSecret(communes=plan.communes.copy(),
                      totaux={k: set(v) for k, v in plan.totaux.items()})


def _planifier(s: int, codes, val, groupes: dict, src) -> PlanSecret:
    sys_ = _Systeme(codes, val, groupes)
    n_c = sys_.n_communes
    v = sys_.val
    inconnu_source = np.isnan(v)
    primaire = np.zeros(len(v), dtype=bool)
    primaire[:n_c] = (v[:n_c] >= 1) & (v[:n_c] <= s - 1)
    secret = primaire | inconnu_source
    secondaire = np.zeros(len(v), dtype=bool)

    def _masquer_dans(rel: tuple[int, list[int]], exclure: int) -> bool:
        parent, enfants = rel
        cand = [e for e in enfants if e != exclure and not secret[e] and v[e] > 0]
        if cand:
            choix = min(cand, key=lambda e: (v[e], e))
        elif not secret[parent] and parent != exclure:
            choix = parent
        else:
            return False
        secret[choix] = True
        secondaire[choix] = True
        return True

    # Les plus petits groupes d'abord : la cellule ajoutée y protège le mieux.
    relations_par_taille = sorted(sys_.relations, key=lambda r: len(r[1]))
    for _ in range(10 * len(v) + 10):
        modifie = False
        # 1. Cellules déterminées par les totaux publiés (soustraction ou combinaison).
        det = cellules_deductibles(sys_, secret) & secret & ~inconnu_source
        for i in np.flatnonzero(det):
            for rel in relations_par_taille:
                if i == rel[0] or i in rel[1]:
                    if _masquer_dans(rel, i):
                        modifie = True
                        break
            if modifie:
                break
        if modifie:
            continue
        # 2. Cellules masquées d'un groupe forcément toutes à 1, ou toutes à seuil − 1.
        for rel in sys_.relations:
            parent, enfants = rel
            if secret[parent] or any(e >= n_c for e in enfants):
                continue
            masq = [e for e in enfants if secret[e]]
            if len(masq) < 2 or any(inconnu_source[e] for e in masq):
                continue
            somme = v[parent] - sum(v[e] for e in enfants if not secret[e])
            tous_primaires = all(primaire[e] for e in masq)
            if somme == len(masq) or (tous_primaires and somme == len(masq) * (s - 1)):
                if _masquer_dans(rel, -1):
                    modifie = True
                    break
        if not modifie:
            break
    motif = np.where(inconnu_source[:n_c], MOTIF_SOURCE,
                     np.where(primaire[:n_c], MOTIF_PRIMAIRE,
                              np.where(secondaire[:n_c], MOTIF_SECONDAIRE, None)))
    if src is not None:
        # Masquée à la source mais effectif connu par ailleurs : on le dit quand même.
        motif = np.where(src & secret[:n_c], MOTIF_SOURCE, motif)
    communes = pd.DataFrame({"code": codes, "secret": secret[:n_c], "motif_secret": motif})
    totaux: dict[str, set[str]] = {}
    for k in range(n_c, len(v)):
        niv, code = sys_.noms[k]
        if secret[k]:
            totaux.setdefault(niv, set()).add(code)
    return PlanSecret(communes=communes, totaux=totaux)


def totaux_proteges(communes: pd.DataFrame, niveau: str, seuil: int | None = None,
                    colonne: str = "observe") -> pd.Series:
    """Totaux d'un niveau agrégé que le secret secondaire masque.

    Parameters
    ----------
    communes : pandas.DataFrame
        Table communale (``code``, effectifs, regroupements).
    niveau : {"epci", "arrondissement", "departement", "territoire"}
    seuil : int, optional
    colonne : str, default "observe"

    Returns
    -------
    pandas.Series
        Booléens indexés par code d'unité (vrai = total masqué en public). Un total
        inconnu (cellule masquée à la source) n'y figure pas : il est inconnu de tous.
    """
    plan = planifier(communes, seuil, colonne=colonne)
    if niveau not in communes:
        return pd.Series(dtype=bool)
    codes = pd.unique(communes[niveau].astype(str))
    masques = plan.totaux.get(niveau, set())
    val = communes[colonne].astype("Float64")
    inconnus = set(communes.loc[val.isna().to_numpy(), niveau].astype(str))
    return pd.Series([c in masques and c not in inconnus for c in codes], index=codes)


def _masquer_lignes(out: pd.DataFrame, lignes: np.ndarray, colonnes: Iterable[str]) -> None:
    for col in colonnes:
        if col not in out:
            continue
        if pd.api.types.is_bool_dtype(out[col]) or out[col].dtype == object:
            out[col] = out[col].astype(object)
            out.loc[lignes, col] = None
        elif pd.api.types.is_integer_dtype(out[col]):
            out[col] = out[col].astype("Int64")
            out.loc[lignes, col] = pd.NA
        else:
            out.loc[lignes, col] = np.nan


def _plan_lignes(t: pd.DataFrame, s: int, commune: bool, *, colonne: str, masque: str,
                 protege: str) -> tuple[np.ndarray, np.ndarray]:
    """Lignes à masquer (et motifs) d'une table d'une seule année."""
    src = t[masque].to_numpy(bool) if masque in t else np.zeros(len(t), bool)
    if commune:
        plan = planifier(t.assign(_obs=t[colonne], masque=src), s, colonne="_obs")
        return (plan.communes["secret"].to_numpy(bool),
                plan.communes["motif_secret"].to_numpy(object))
    if protege not in t:
        raise ObservatoireError(
            "Vue publique d'un niveau agrégé : le tableau ne dit pas quels totaux protéger "
            f"(colonne {protege} absente). Produisez-le avec les fonctions de stats."
        )
    sec = t[protege].to_numpy(bool)
    motif = np.where(sec, MOTIF_SECONDAIRE, np.where(src, MOTIF_SOURCE, None))
    return sec | src, motif


def _etiquettes_publiques(out: pd.DataFrame, secret: np.ndarray, motif: np.ndarray,
                          s: int, commune: bool) -> None:
    """Étiquettes des lignes secrètes recalculées sur ce que le public sait de l'effectif.

    Une cellule secrète sous le seuil vaut, pour le public, de 1 à ``s − 1`` ; toute autre
    ligne secrète (masquée à la source, secret secondaire, total protégé) au moins 1
    (commune) ou 0 (total), sans maximum. L'étiquette n'est donnée que si elle est la même
    pour toutes ces valeurs (:func:`observatoire.stats.labels.etiqueter_intervalles`, au
    seuil de la carte entière) : elle ne resserre jamais un effectif secret.
    """
    a = out.attrs
    if not secret.any() or "label" not in out or "attendu" not in out or "seuil_p" not in a:
        return
    from observatoire.stats.labels import etiqueter_intervalles

    primaire = secret & (motif == MOTIF_PRIMAIRE) if commune else np.zeros(len(out), bool)
    lo = np.where(primaire, 1.0, 1.0 if commune else 0.0)
    hi = np.where(primaire, float(s - 1), np.inf)
    idx = np.flatnonzero(secret)
    e = out["attendu"].to_numpy(float)
    e_lo = out["attendu_min"].to_numpy(float) if "attendu_min" in out else e
    e_hi = out["attendu_max"].to_numpy(float) if "attendu_max" in out else e
    couvert = out["couvert"].fillna(False).to_numpy(bool) if "couvert" in out else \
        np.ones(len(out), bool)
    lab = etiqueter_intervalles(
        lo[idx], hi[idx], e[idx], phi=float(a.get("phi", 1.0)) if a.get("surdispersion")
        == "multiplicative" else 1.0, tau2=float(a.get("tau2", 0.0)) if a.get(
            "surdispersion") == "additive" else 0.0, alpha=float(a.get("alpha", 0.05)),
        attendu_min=e_lo[idx], attendu_max=e_hi[idx], connu=couvert[idx],
        seuil_p=float(a["seuil_p"]))
    lab_col = np.array(out["label"].astype(object), dtype=object)
    lab_col[idx] = np.where(couvert[idx], lab["label"].to_numpy(object), None)
    out["label"] = lab_col


def _type_table(table: pd.DataFrame) -> str:
    t = table.attrs.get("type")
    if t:
        return t
    if "observe_1" in table and "observe_2" in table:
        return "tendance"
    if "annee" in table and "observe" in table:
        return "serie"
    return "analyse"


def apply_public(table: pd.DataFrame, seuil: int | None = None, *, staff: bool = False,
                 communes: pd.DataFrame | None = None) -> pd.DataFrame:
    """Vue publique d'un tableau d'analyse, de tendance ou de série.

    Parameters
    ----------
    table : pandas.DataFrame
        Sortie de :func:`observatoire.stats.analyser`, :func:`~observatoire.stats.tendance`,
        :func:`~observatoire.stats.serie` ou :func:`~observatoire.stats.couverture`.
    seuil : int, optional
        Seuil du secret (``settings().seuil_secret`` par défaut).
    staff : bool, default False
        Vrai seulement pour un agent authentifié : valeurs exactes, rien n'est masqué.
        La vue publique est la valeur par défaut.
    communes : pandas.DataFrame, optional
        Table communale de la même sélection, pour un niveau agrégé dont la colonne
        ``total_protege`` manque.

    Returns
    -------
    pandas.DataFrame
        Copie de ``table`` avec les colonnes ``secret`` (bool) et ``motif_secret`` ;
        les valeurs masquées sont ``<NA>``/NaN/None (à afficher « secret ») ; les colonnes
        internes (``observe_min``, ``observe_max``) sont retirées. ``attrs["vue"]`` vaut
        ``"publique"`` ou ``"agents"``.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"code": ["1", "2", "3"], "observe": pd.array([0, 3, 12], "Int64"),
    ...                   "epci": ["A", "A", "A"]})
    >>> apply_public(t, 5)["observe"].tolist()
    [0, <NA>, <NA>]
    """
    out = table.copy()
    out.attrs = dict(table.attrs)
    if staff:
        out.attrs["vue"] = "agents"
        if "secret" not in out:
            out["secret"] = False
            out["motif_secret"] = None
        return out
    s = _seuil(seuil)
    kind = _type_table(table)
    out = out.reset_index(drop=True)
    secret = np.zeros(len(out), dtype=bool)
    motif = np.full(len(out), None, dtype=object)
    commune = "niveau" not in out or (out["niveau"] == "commune").all()
    if kind == "tendance":
        derivees = []
        for k in ("1", "2"):
            sk, mk = _plan_lignes(out, s, commune, colonne=f"observe_{k}",
                                  masque=f"masque_{k}", protege=f"total_protege_{k}")
            _masquer_lignes(out, sk, [f"{c}_{k}" for c in _COLS_ANNEE])
            motif = np.where(sk & (motif == None), mk, motif)  # noqa: E711
            secret |= sk
            derivees.append(sk)
        _masquer_lignes(out, derivees[0] | derivees[1], _COLS_TENDANCE)
    elif kind == "serie":
        for _annee, idx in out.groupby("annee").groups.items():
            idx = np.asarray(idx)
            sous = out.loc[idx].reset_index(drop=True)
            sk, mk = _plan_lignes(sous, s, commune, colonne="observe", masque="masque",
                                  protege="total_protege")
            secret[idx] = sk
            motif[idx] = mk
        _masquer_lignes(out, secret, COLONNES_DERIVEES)
    else:
        niveau = out["niveau"].iat[0] if "niveau" in out and len(out) else "commune"
        if niveau == "commune":
            plan = planifier(out, s)
            secret = plan.communes["secret"].to_numpy(bool)
            motif = plan.communes["motif_secret"].to_numpy(object)
        else:
            if "total_protege" in out:
                secret = out["total_protege"].to_numpy(bool)
            elif communes is not None:
                secret = totaux_proteges(communes, niveau, s).reindex(
                    out["code"].astype(str)).fillna(False).to_numpy(bool)
            else:
                raise ObservatoireError(
                    "Vue publique d'un niveau agrégé : le tableau ne dit pas quels totaux "
                    "protéger (colonne total_protege absente). Produisez-le avec "
                    "stats.analyser ou passez la table communale (communes=…)."
                )
            motif = np.where(secret, MOTIF_SECONDAIRE, None)
            if "masque" in out:
                src = out["masque"].to_numpy(bool)
                motif = np.where(src & ~secret, MOTIF_SOURCE, motif)
                secret = secret | src
        _etiquettes_publiques(out, secret, np.asarray(motif, dtype=object), s,
                              niveau == "commune")
        _masquer_lignes(out, secret, COLONNES_DERIVEES)
    out["secret"] = secret
    out["motif_secret"] = motif
    internes = ("observe_min", "observe_max", "observe_connu", "n_masques_libres",
                "total_protege",
                "total_protege_1", "total_protege_2")
    out = out.drop(columns=[c for c in internes if c in out])
    out.attrs["vue"] = "publique"
    out.attrs["seuil_secret"] = s
    return out
