"""L'intrus : il attaque toutes les diffusions ensemble, avec ce qu'elles publient.

Il reconstruit lui-même, à partir du **seul contenu public** de chaque diffusion, les
cellules qu'il voit et les relations qu'il peut écrire :

- une unité agrégée est la somme des communes que la diffusion dit avoir comptées
  (``membres``) ;
- un cumul est la somme de ses années ;
- un indicateur « dont » et son total laissent un complément ≥ 0 ;
- le total publié de chaque source sur son périmètre est reçu par les communes de ce
  périmètre (inégalités de couverture) ;
- une cellule secrète vaut au moins 1 (les zéros sont publiés) ;
- une étiquette publiée sur une cellule secrète borne son effectif (inversion de
  l'étiquette, avec les attendus exacts : l'intrus le plus fort) ;
- toute valeur dérivée publiée sur une cellule secrète (taux, ratio, attendu, intervalle,
  probabilité, taux lissé) ou une évolution publiée sur une cellule secrète la révèle.

Puis il calcule, par programmation linéaire et en nombres entiers, l'intervalle de chaque
effectif protégé (:func:`observatoire.diffusion.protection.auditer`). Les valeurs exactes
ne lui servent qu'à une chose : savoir quelles cellules sont protégées et reconnaître la
même cellule d'une diffusion à l'autre (un intrus qui le devine a raison) — c'est
l'audit du pire cas.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np

from observatoire.diffusion.cellules import CELLULE, COMPLEMENT, SOURCE, Structure, reunir
from observatoire.diffusion.protection import auditer
from observatoire.stats.labels import NON_CONCLUANT

__all__ = ["auditer_ensemble", "structure_publique"]

#: Valeurs dérivées qu'une cellule secrète ne doit jamais porter.
DERIVEES = ("observe", "taux", "taux_ic_bas", "taux_ic_haut", "attendu", "ratio",
            "taux_lisse", "p_exces", "p_defaut")
METHODE = ("programmation linéaire et en nombres entiers (HiGHS) sur toutes les relations "
           "publiées par les diffusions réunies : sommes des communes, cumuls, « dont » et "
           "compléments, totaux des sources sur leur périmètre, cellules secrètes ≥ 1, "
           "bornes tirées des étiquettes ; recherche de toute valeur dérivée ou évolution "
           "publiée sur une cellule secrète")


class _Verite:
    """Valeurs exactes de la partie privée (clé -> valeur, connue, bas)."""

    def __init__(self, prive: dict):
        d = prive["structure"]
        self.val = {tuple(c): v for c, v in zip(d["cles"], d["valeur"], strict=True)}
        self.connue = {tuple(c): k for c, k in zip(d["cles"], d["connue"], strict=True)}

    def __call__(self, cle: tuple) -> tuple[float, bool]:
        if cle not in self.val:
            raise KeyError(f"cellule absente de la partie privée : {cle}")
        return self.val[cle], self.connue[cle]


def _lignes(table: dict) -> list[dict]:
    cols = table["colonnes"]
    return [dict(zip(cols, r, strict=True)) for r in table["lignes"]]


def structure_publique(public: dict, prive: dict, *, seuil: int
                       ) -> tuple[Structure, list[dict]]:
    """Le système qu'un lecteur écrit avec le contenu public d'une diffusion.

    Parameters
    ----------
    public : dict
        Contenu public (tel que le lit l'application).
    prive : dict
        Partie privée (valeurs exactes), pour l'audit seulement.
    seuil : int

    Returns
    -------
    structure : Structure
    fuites : list of dict
        Valeurs dérivées ou évolutions publiées sur une cellule secrète (chacune révèle
        la cellule).
    """
    verite = _Verite(prive)
    s = Structure()
    fuites: list[dict] = []
    secretes: set[tuple] = set()

    def cellule(cle: tuple, visible_val, secret: bool) -> tuple:
        v, connue = (float(visible_val), True) if not secret else verite(cle)
        protegee = cle[3] == "commune" and connue and 1 <= v <= seuil - 1
        s.ajouter(cle, v, publie=not secret, connue=connue, protegee=protegee,
                  bas=min(1.0, v))
        return cle

    def cachee(cle: tuple) -> tuple:
        if cle not in s:
            v, connue = verite(cle)
            s.ajouter(cle, v, publie=False, connue=connue,
                      protegee=cle[3] == "commune" and connue and 1 <= v <= seuil - 1,
                      bas=min(0.0, v))
        return cle

    tables = public.get("tables", [])
    par_cle = {}
    for t in tables:
        ind, per, niv = t["indicateur"], t["periode"], t["niveau"]
        par_cle[(ind, per, niv)] = t
        for r in _lignes(t):
            if r["couverture"] == "hors_perimetre":
                continue
            cle = (CELLULE, ind, per, niv, str(r["code"]))
            secret = bool(r["secret"])
            cellule(cle, r["observe"], secret)
            if secret:
                secretes.add(cle)
                publiees = [c for c in DERIVEES if r.get(c) is not None]
                if publiees:
                    fuites.append({"cle": list(cle), "raison": "valeur dérivée publiée sur "
                                   "une cellule secrète : " + ", ".join(publiees)})
    for t in tables:
        ind, per, niv = t["indicateur"], t["periode"], t["niveau"]
        if niv != "commune" and t.get("membres"):
            for r in _lignes(t):
                if r["couverture"] == "hors_perimetre":
                    continue
                total = (CELLULE, ind, per, niv, str(r["code"]))
                parts = [(CELLULE, ind, per, "commune", str(m))
                         for m in t["membres"].get(str(r["code"]), [])]
                s.somme(total, [p if p in s else cachee(p) for p in parts])
        if niv == "commune" and len(t.get("annees", [])) >= 2:
            for r in _lignes(t):
                if r["couverture"] == "hors_perimetre":
                    continue
                total = (CELLULE, ind, per, "commune", str(r["code"]))
                parts = [(CELLULE, ind, str(a), "commune", str(r["code"])) for a in t["annees"]]
                s.somme(total, [p if p in s else cachee(p) for p in parts])
    for info in public.get("indicateurs", []):
        mere = info.get("inclus_dans")
        if not mere:
            continue
        for (ind, per, niv), t in par_cle.items():
            if ind != info["code"] or (mere, per, niv) not in par_cle:
                continue
            for r in _lignes(t):
                cle_f = (CELLULE, ind, per, niv, str(r["code"]))
                cle_m = (CELLULE, mere, per, niv, str(r["code"]))
                if cle_f not in s or cle_m not in s:
                    continue
                cle_c = (COMPLEMENT, ind, per, niv, str(r["code"]))
                v, connue = verite(cle_c)
                s.ajouter(cle_c, v, publie=False, connue=connue,
                          protegee=niv == "commune" and connue and 1 <= v <= seuil - 1,
                          bas=min(0.0, v))
                s.somme(cle_m, [cle_f, cle_c])
    for ind, par_annee in public.get("sources", {}).items():
        for annee, lots in par_annee.items():
            cles_src = []
            for lot in lots:
                # Le taux de référence publié du lot révèle son total sur son périmètre ;
                # l'intrus le plus fort le connaît exactement (au moins sa borne basse
                # quand des cellules sont masquées à la source).
                ident = f"{lot['contributeur']}@{lot['zone']}"
                cle = (SOURCE, ind, str(annee), SOURCE, ident)
                v, _c = verite(cle)
                s.ajouter(cle, v, publie=True, bas=0.0)
                cles_src.append((cle, set(lot["perimetre"])))
            for k in range(1, len(cles_src) + 1):
                for groupe in combinations(cles_src, k):
                    communes = sorted(set().union(*(g[1] for g in groupe)))
                    cc = [(CELLULE, ind, str(annee), "commune", c) for c in communes]
                    s.couverture([c if c in s else cachee(c) for c in cc],
                                 [g[0] for g in groupe])
    for tend in public.get("tendances", []):
        ind, niv = tend["indicateur"], tend["niveau"]
        for r in tend["lignes"]:
            for a in (tend["annee_1"], tend["annee_2"]):
                cle = (CELLULE, ind, str(a), niv, str(r[0]))
                if cle in secretes:
                    fuites.append({"cle": list(cle), "raison": "évolution publiée sur une "
                                   "cellule secrète"})
    return s, fuites


def _bornes_etiquettes(s: Structure, public: dict, prive: dict) -> None:
    """Resserre les cellules secrètes étiquetées à l'ensemble des effectifs compatibles.

    Pour chaque cellule secrète portant une étiquette, on cherche tous les effectifs
    entiers qui, avec le même attendu (exact), le même φ et le même seuil, donneraient
    cette même étiquette ; l'intrus sait que la cellule est dans cet ensemble.
    """
    from observatoire.diffusion.etiquettes import effectifs_compatibles

    attendus = prive.get("attendus", {})
    for t in public.get("tables", []):
        ind, per, niv = t["indicateur"], t["periode"], t["niveau"]
        cles, labels, e = [], [], []
        for r in _lignes(t):
            # « Non concluant » sur une cellule secrète est, par la règle publiée, ce que
            # reçoit toute cellule dont la conclusion dépendrait de la valeur : il ne dit
            # rien d'elle. Une étiquette conclusive, elle, vaut pour toute valeur de
            # l'intervalle : l'effectif vérifie donc la condition de cette étiquette.
            if not r["secret"] or r.get("label") in (None, NON_CONCLUANT):
                continue
            cle = (CELLULE, ind, per, niv, str(r["code"]))
            att = attendus.get("|".join(cle[1:]))
            if att is None:
                continue
            cles.append(cle)
            labels.append(r["label"])
            e.append(att if isinstance(att, list) else [att, att, att])
        if not cles:
            continue
        e = np.asarray(e, float)
        lo, hi = effectifs_compatibles(labels, e[:, 0], table=t, attendu_min=e[:, 1],
                                       attendu_max=e[:, 2])
        for cle, b, h in zip(cles, lo, hi, strict=True):
            k = s.position(cle)
            if not b - 1e-9 <= s.valeur[k] <= h + 1e-9:
                # L'étiquette publiée ne correspond pas à la règle rejouée : erreur de
                # construction de la diffusion, jamais un cas de données.
                raise ValueError(f"étiquette de {cle} incompatible avec sa valeur exacte")
            s.bas[k] = max(s.bas[k], b)
            s.haut[k] = min(s.haut[k], h)


def auditer_ensemble(diffusions: Sequence[tuple[dict, dict]], *, seuil: int) -> dict:
    """Audit de toutes les diffusions publiées ensemble (la dernière est la candidate).

    Parameters
    ----------
    diffusions : sequence of (public, prive)
        Contenu public et partie privée de chaque diffusion, la candidate en dernier.
    seuil : int

    Returns
    -------
    dict
        ``sur`` (aucune cellule protégée resserrée, aucune fuite), ``protegees``,
        ``secretes``, ``exposees`` (nombre), ``expositions`` (détail, réservé aux agents :
        valeurs exactes), ``fuites``, ``resolutions``, ``methode``.
    """
    structures, fuites = [], []
    for public, prive in diffusions:
        s, f = structure_publique(public, prive, seuil=seuil)
        _bornes_etiquettes(s, public, prive)
        structures.append(s)
        fuites += [{**x, "diffusion": f"{public.get('annee')} v{public.get('version', '?')}"}
                   for x in f]
    systeme, _cols, protegees, _fix = reunir(structures)
    audit = auditer(systeme, protegees, seuil)
    expositions = [{"cle": list(e.cle[:5]), "valeur": e.valeur,
                    "intervalle_intrus": [e.bas, None if np.isinf(e.haut) else e.haut]}
                   for e in audit.expositions]
    return {"sur": audit.sur and not fuites, "protegees": int(audit.n_protegees),
            "secretes": int((~systeme.publie).sum()),
            "exposees": len(expositions) + len(fuites), "expositions": expositions,
            "fuites": fuites, "resolutions": int(audit.resolutions), "methode": METHODE,
            "diffusions_auditees": [f"{p.get('annee')} v{p.get('version', '?')}"
                                    for p, _ in diffusions]}
