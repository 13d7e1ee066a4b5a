"""Préparer la diffusion d'une année : tables exactes, secret, valeurs publiques, contenu.

:func:`construire` lit la base (valeurs exactes, périmètres des lots, diffusions déjà
publiées) et rend le contenu public, la partie privée et l'audit d'une diffusion
candidate ; :func:`observatoire.diffusion.preparer` l'enregistre. :func:`diffuser` en est
le cœur, sans entrée-sortie : des tables exactes aux tables publiques.

Ce que publie une diffusion de l'année N (section ``[diffusion]`` de la configuration) :

- pour chaque indicateur, l'année N aux niveaux configurés (communes, EPCI,
  arrondissements, département) ;
- le cumul de N − 2 à N des petites communes (moins de ``cumul_population_max``
  habitants), quand les trois années ont des données ;
- les années antérieures qu'aucune diffusion publiée n'a montrées, aux niveaux
  ``serie_niveaux`` (les autres viennent des diffusions validées de leur année) ;
- l'évolution de N − 1 à N, calculée sur les seules valeurs publiées des deux années.

Toute valeur dérivée (taux, intervalle, attendu, ratio, probabilités, taux lissé) n'est
publiée que pour une cellule visible, et calculée à partir de ce qui est public : la
surdispersion et les moments du lissage sont estimés sur les cellules visibles. Une
cellule tue reçoit une étiquette seulement si elle vaut pour tout son intervalle public
(celui que l'intrus calcule), et le contrôle de Benjamini–Hochberg prend pour elle la
probabilité de cet intervalle : l'étiquette ne dit rien de plus que l'intervalle.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from observatoire.diffusion import intrus
from observatoire.diffusion.cellules import CELLULE, Structure
from observatoire.diffusion.etiquettes import etiqueter_table
from observatoire.diffusion.plan import (
    COMMUNE,
    CleTable,
    SourceLot,
    TableExacte,
    choisir,
    structure_diffusion,
)
from observatoire.diffusion.systeme import INF, intervalles
from observatoire.errors import ObservatoireError
from observatoire.stats.perimetres import COMPLETE, HORS_PERIMETRE, PARTIELLE

__all__ = ["COLONNES", "FORMAT", "Reglages", "construire", "diffuser"]

FORMAT = "observatoire-diffusion"
FORMAT_VERSION = 1

#: Colonnes des lignes d'une table publique, dans l'ordre du contenu.
COLONNES = ("code", "nom", "population", "personnes_annees", "couverture", "secret",
            "observe", "taux", "taux_ic95_bas", "taux_ic95_haut", "attendu", "ratio",
            "taux_lisse", "p_exces", "p_defaut", "label", "motif")
NIVEAUX_GROUPES = ("epci", "arrondissement", "departement")
#: Colonnes exactes d'une table communale (entrée de :func:`diffuser`).
EXACTES = ("code", "nom", "population", "personnes_annees", "observe", "observe_min",
           "attendu", "attendu_min", "attendu_max", "couverture")

MOTIF_SECRET = ("effectif couvert par le secret statistique : la conclusion dépendrait de "
                "sa valeur exacte")


@dataclass(frozen=True)
class Reglages:
    """Paramètres statistiques d'une diffusion.

    Attributes
    ----------
    seuil : int
        Seuil du secret.
    alpha : float
    fdr : bool
        Benjamini–Hochberg sur les communes.
    modele : {"aucune", "multiplicative", "additive"}
        Modèle de surdispersion.
    attendu_min : float
        Attendu minimal des unités qui estiment la surdispersion.
    """

    seuil: int = 5
    alpha: float = 0.05
    fdr: bool = True
    modele: str = "multiplicative"
    attendu_min: float = 10.0


@dataclass
class Resultat:
    """Sortie de :func:`diffuser`."""

    tables: list[dict]
    structure: Structure
    audit_plan: object
    attendus: dict[str, list] = field(default_factory=dict)


def _periode(annees: Sequence[int]) -> str:
    a = sorted(int(x) for x in annees)
    return str(a[0]) if len(a) == 1 else f"{a[0]}-{a[-1]}"


def _num(x) -> float | None:
    if x is None or x is pd.NA:
        return None
    x = float(x)
    return None if np.isnan(x) or np.isinf(x) else round(x, 6)


# --- tables exactes ---------------------------------------------------------------------

def mesure_communale(indicateur: str, annees: list[int], valeurs: pd.DataFrame,
                     engine) -> pd.DataFrame:
    """Effectifs exacts, attendus et couverture des communes pour une période.

    Returns
    -------
    pandas.DataFrame
        Colonnes :data:`EXACTES` et les groupes (``epci``, ``arrondissement``,
        ``departement``) ; ``attrs`` de l'analyse (taux de référence par lot, sources
        manquantes, dénominateurs, avertissements).
    """
    from observatoire.stats import analyser_niveaux

    t = analyser_niveaux(annees, indicateur, niveaux=("commune",), engine=engine,
                         valeurs=valeurs, geometries=None)["commune"]
    return exactes(t)


def exactes(t: pd.DataFrame) -> pd.DataFrame:
    """Colonnes exactes d'une table communale d'analyse (vue agents), pour une diffusion.

    Parameters
    ----------
    t : pandas.DataFrame
        Sortie communale de :func:`observatoire.stats.analyser` (ou ``analyser_table``).

    Returns
    -------
    pandas.DataFrame
        Voir :func:`mesure_communale`.
    """
    groupes = [c for c in NIVEAUX_GROUPES if c in t]
    out = t[["code", "nom", *groupes, "population", "personnes_annees", "observe",
             "observe_min", "attendu", "attendu_min", "attendu_max", "couverture"]].copy()
    out["code"] = out["code"].astype(str)
    out["observe"] = pd.array(out["observe"].tolist(), dtype="Int64")
    out["observe_min"] = out["observe_min"].astype("Float64").to_numpy(
        dtype=float, na_value=np.nan)
    out.attrs = {k: t.attrs[k] for k in ("taux_reference_par_lot", "sources_manquantes",
                                         "denominateurs", "avertissements", "annees")
                 if k in t.attrs}
    return out


def tables_periode(indicateur: str, annees: Sequence[int], m: pd.DataFrame,
                   niveaux: Sequence[str], noms: dict[str, dict[str, str]] | None = None,
                   communes_vues: bool = True) -> list[TableExacte]:
    """Tables exactes d'une période : les communes, et leurs agrégats aux ``niveaux``.

    Parameters
    ----------
    indicateur : str
    annees : sequence of int
    m : pandas.DataFrame
        Table communale exacte (:func:`exactes`).
    niveaux : sequence of str
        Niveaux agrégés publiés (« commune » est ignoré : voir ``communes_vues``).
    noms : dict, optional
        Niveau -> code -> nom des unités agrégées.
    communes_vues : bool, default True
        Publier la table communale (sinon elle est cachée : ses relations restent).

    Returns
    -------
    list of TableExacte
    """
    per = _periode(annees)
    out = [TableExacte(CleTable(indicateur, per, COMMUNE), m[list(EXACTES)],
                       annees=tuple(annees), publiee=communes_vues)]
    for niv in niveaux:
        if niv != COMMUNE and niv in m:
            agg, membres = agreger(m, niv, (noms or {}).get(niv, {}))
            out.append(TableExacte(CleTable(indicateur, per, niv), agg, membres=membres,
                                   annees=tuple(annees)))
    return out


def agreger(m: pd.DataFrame, niveau: str, noms: dict[str, str]
            ) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Unités d'un niveau : sommes des communes couvertes, état de couverture.

    Une unité dont une partie des communes est hors du périmètre des sources est la somme
    de ses communes couvertes, « couverte en partie » ; ses membres sont publiés avec la
    table, pour que chacun sache ce que le total compte.
    """
    lignes, membres = [], {}
    for code, g in m.groupby(niveau, sort=True):
        couv = g[g["couverture"] != HORS_PERIMETRE]
        membres[str(code)] = couv["code"].tolist()
        if couv.empty:
            etat = HORS_PERIMETRE
        elif len(couv) < len(g) or (couv["couverture"] == PARTIELLE).any():
            etat = PARTIELLE
        else:
            etat = COMPLETE
        obs = couv["observe"]
        inconnu = bool(obs.isna().any())
        rep = np.where(obs.isna(), couv["observe_min"], obs.astype("Float64").to_numpy(
            dtype=float, na_value=np.nan))
        lignes.append({
            "code": str(code), "nom": noms.get(str(code), str(code)),
            "population": float(couv["population"].sum()),
            "personnes_annees": float(couv["personnes_annees"].sum()),
            "observe": pd.NA if inconnu or couv.empty else int(obs.sum()),
            "observe_min": float(np.nansum(rep)),
            "attendu": float(couv["attendu"].sum()),
            "attendu_min": float(couv["attendu_min"].sum()),
            "attendu_max": float(couv["attendu_max"].sum()),
            "couverture": etat})
    df = pd.DataFrame(lignes)
    df["observe"] = pd.array(df["observe"].tolist(), dtype="Int64")
    return df, membres


def sources_lots(indicateur: str, annee: int, valeurs: pd.DataFrame,
                 communes: pd.DataFrame, *, zone_reference: str, engine=None
                 ) -> list[SourceLot]:
    """Ce que le taux de référence publié de chaque lot révèle : son total sur son périmètre.

    Un total par lot et par zone de référence (le département par défaut) : les communes
    du lot dans la zone, et le plus petit total compatible (une cellule masquée à la
    source y compte pour 1, une cellule non diffusée d'une source publique pour 0).
    """
    from observatoire.stats.analyse import contexte_lots

    v = valeurs[(valeurs["indicateur"] == indicateur) & (valeurs["annee"] == int(annee))]
    if v.empty:
        return []
    ctx = contexte_lots(v, communes, engine=engine)
    libres = set(ctx["sources_non_bornees"])
    from observatoire.communes import current_code_map

    code_map = current_code_map()
    zone = communes["departement"] if zone_reference != "arrondissement" \
        else communes["arrondissement"]
    zone = pd.Series(zone.astype(str).to_numpy(), index=communes["code_insee"].astype(str))
    out = []
    for (contrib, an), codes in sorted(ctx["couvertures"].items()):
        g = v[v["contributeur"] == contrib]
        code = g["code_insee"].map(lambda c: code_map.get(c, c) if isinstance(c, str)
                                   else None)
        dedans = code.isin(codes).to_numpy()
        val = g["valeur"].astype("Float64").fillna(0).to_numpy(float)
        masq = g["masque"].to_numpy(bool)
        z_val = code.map(zone).to_numpy(object)
        cov = sorted(c for c in codes if c in zone.index)
        for z in sorted({zone[c] for c in cov}):
            sel = dedans & (z_val == z)
            total = float(val[sel].sum() + (0 if contrib in libres else masq[sel].sum()))
            out.append(SourceLot(indicateur, f"{contrib}@{z}", int(an),
                                 [c for c in cov if zone[c] == z], total))
    return out


# --- valeurs publiques ------------------------------------------------------------------

def _dispersion(obs: np.ndarray, e: np.ndarray, visibles: np.ndarray, r: Reglages):
    """Surdispersion estimée sur les seules cellules visibles (information publique)."""
    from observatoire.stats import poisson

    return poisson.estimer_dispersion(np.where(visibles, obs, np.nan),
                                      np.where(visibles, e, np.nan), r.modele,
                                      attendu_min=r.attendu_min)


def _bornes_utiles(e: np.ndarray, e_lo: np.ndarray, e_hi: np.ndarray, disp, alpha: float,
                   n: int, bas_public: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Plancher et plafond au-delà desquels les bornes exactes n'importent plus.

    Avec la règle des étiquettes (:func:`~observatoire.stats.labels.etiqueter_intervalles`),
    le bas de l'intervalle ne compte que s'il atteint le seuil d'excès, ou le seuil de
    déficit ; le haut, que s'il reste sous le seuil d'excès au plus petit seuil possible
    (celui de Benjamini–Hochberg est nul ou au moins ``alpha / n``). Entre les deux,
    toute valeur donne la même étiquette : un point réalisable qui y arrive suffit.

    Returns
    -------
    plancher, plafond : numpy.ndarray
    """
    from observatoire.stats import poisson

    phi, tau2 = disp.phi_applique, disp.tau2_applique
    k_plus, k_moins = poisson.seuils_comptage(e, alpha, phi, tau2, attendu_exces=e_hi,
                                              attendu_defaut=e_hi)
    plancher = np.where(np.nan_to_num(k_moins, nan=-1.0) < bas_public,
                        np.nan_to_num(k_plus, nan=1.0) - 1.0, -INF)
    k_plafond, _ = poisson.seuils_comptage(e, alpha / max(n, 1), phi, tau2,
                                           attendu_exces=e_lo, attendu_defaut=e_lo)
    return plancher, np.nan_to_num(k_plafond, nan=1.0) + 1.0


class _Vue:
    """Valeurs et statut des cellules d'une table dans la structure planifiée."""

    def __init__(self, t: TableExacte, structure: Structure):
        self.lignes = t.lignes.reset_index(drop=True)
        self.cles = [(CELLULE, t.cle.indicateur, t.cle.periode, t.cle.niveau, str(c))
                     for c in self.lignes["code"]]
        self.dedans = (self.lignes["couverture"] != HORS_PERIMETRE).to_numpy()
        pos = [structure.position(c) if d else -1 for c, d in zip(self.cles, self.dedans,
                                                                  strict=True)]
        self.publie = np.array([d and structure.publie[p] for d, p in zip(self.dedans, pos,
                                                                          strict=True)])
        self.secret = self.dedans & ~self.publie
        self.obs = np.array([structure.valeur[p] if p >= 0 else np.nan for p in pos])


def _table_publique(t: TableExacte, vue: _Vue, iv: dict, disp, r: Reglages) -> dict:
    """Lignes publiques d'une table : valeurs visibles, étiquettes par intervalle."""
    from observatoire.stats import poisson, smoothing

    lignes = vue.lignes
    publie, secret, obs, dedans = vue.publie, vue.secret, vue.obs, vue.dedans
    e = lignes["attendu"].to_numpy(float)
    pa = lignes["personnes_annees"].to_numpy(float)
    omin = np.where(publie, obs, np.nan)
    omax = omin.copy()
    for k in np.flatnonzero(secret):
        omin[k], omax[k] = iv[vue.cles[k]]
    fdr = r.fdr and t.cle.niveau == COMMUNE
    lab = etiqueter_table(omin, omax, e, phi=disp.phi_applique, alpha=r.alpha, fdr=fdr,
                          connu=dedans & (pa > 0),
                          attendu_min=lignes["attendu_min"].to_numpy(float),
                          attendu_max=lignes["attendu_max"].to_numpy(float),
                          tau2=disp.tau2_applique,
                          motif_inconnu=np.where(dedans, "population inconnue", None))
    label = lab["label"].to_numpy(object)
    motif = lab["motif"].to_numpy(object)
    # Une cellule tue : le motif ne dit que ce que son intervalle public permet.
    sans = secret & (label == "non concluant")
    motif[sans] = MOTIF_SECRET
    with np.errstate(invalid="ignore", divide="ignore"):
        taux = np.where(publie & (pa > 0), obs / pa * 1000.0, np.nan)
        ratio = np.where(publie & (e > 0), obs / e, np.nan)
    g_lo, g_hi = poisson.garwood(np.where(publie, obs, np.nan))
    with np.errstate(invalid="ignore", divide="ignore"):
        ic_lo = np.where(pa > 0, g_lo / pa * 1000.0, np.nan)
        ic_hi = np.where(pa > 0, g_hi / pa * 1000.0, np.nan)
    lisse = np.full(len(lignes), np.nan)
    ok = publie & (pa > 0)
    if ok.sum() >= 2:
        # Moments des seules cellules visibles : le taux lissé d'une commune visible ne
        # dépend d'aucune valeur secrète.
        lisse[ok] = smoothing.bayes_empirique(obs[ok], pa[ok]) * 1000.0
    pe, pdf = lab["p_exces"].to_numpy(float), lab["p_defaut"].to_numpy(float)
    def num(x, vis: bool):
        return _num(x) if vis else None

    rows = []
    for k in range(len(lignes)):
        rr = lignes.iloc[k]
        vis = bool(publie[k])
        rows.append([
            str(rr["code"]), str(rr.get("nom", rr["code"])), _num(rr["population"]),
            _num(pa[k]), str(rr["couverture"]), bool(secret[k]),
            int(obs[k]) if vis else None, num(taux[k], vis), num(ic_lo[k], vis),
            num(ic_hi[k], vis), num(e[k], vis), num(ratio[k], vis), num(lisse[k], vis),
            num(pe[k], vis), num(pdf[k], vis),
            str(label[k]) if dedans[k] else None, str(motif[k]) if dedans[k] else None])
    return {"indicateur": t.cle.indicateur, "periode": t.cle.periode,
            "annees": list(t.annees), "niveau": t.cle.niveau, "colonnes": list(COLONNES),
            "lignes": rows, "phi": _num(disp.phi_applique), "tau2": _num(disp.tau2_applique),
            "modele_dispersion": disp.modele, "seuil_p": _num(lab.attrs["seuil_p"]),
            "alpha": r.alpha, "fdr": fdr,
            "membres": {k: list(v) for k, v in t.membres.items()} if t.membres else None}


def diffuser(tables: Sequence[TableExacte], *, reglages: Reglages,
             dont: dict[str, str] | None = None, sources: Sequence[SourceLot] = (),
             anterieures: Sequence[Structure] = ()) -> Resultat:
    """Des tables exactes aux tables publiques d'une diffusion (sans entrée-sortie).

    Parameters
    ----------
    tables : sequence of TableExacte
        Tables de la diffusion (et tables cachées dont ses relations ont besoin).
    reglages : Reglages
    dont : mapping, optional
        « dont » -> indicateur qui l'inclut.
    sources : sequence of SourceLot
        Totaux des lots sur leur périmètre (révélés par leur taux de référence).
    anterieures : sequence of Structure
        Diffusions déjà publiées (contraintes fixes).

    Returns
    -------
    Resultat
        Tables publiques (format du contenu public), structure planifiée, audit de la
        planification, attendus exacts (partie privée, pour l'audit).
    """
    r = reglages
    structure = structure_diffusion(tables, seuil=r.seuil, dont=dont, sources=sources)
    publie, audit_plan, ctx = choisir(structure, list(anterieures), r.seuil)
    structure.marquer(publie)
    publiees = [t for t in tables if t.publiee]
    vues = {t.cle: _Vue(t, structure) for t in publiees}
    # Surdispersion de chaque période, estimée sur ses communes visibles.
    disp = {}
    for t in publiees:
        if t.cle.niveau == COMMUNE:
            v = vues[t.cle]
            disp[(t.cle.indicateur, t.cle.periode)] = _dispersion(
                v.obs, t.lignes["attendu"].to_numpy(float), v.publie, r)
    from observatoire.stats.poisson import Dispersion

    attendus: dict[str, list] = {}
    plafonds: dict[tuple, tuple[float, float]] = {}
    tues: list[tuple] = []
    for t in publiees:
        v = vues[t.cle]
        d = disp.get((t.cle.indicateur, t.cle.periode), Dispersion(r.modele))
        n_t = int(v.dedans.sum())
        e = t.lignes["attendu"].to_numpy(float)
        e_lo = t.lignes["attendu_min"].to_numpy(float)
        e_hi = t.lignes["attendu_max"].to_numpy(float)
        plancher, plafond = _bornes_utiles(e, e_lo, e_hi, d, r.alpha, n_t)
        for k, cle in enumerate(v.cles):
            if not v.dedans[k]:
                continue
            attendus["|".join(cle[1:])] = [_num(e[k]), _num(e_lo[k]), _num(e_hi[k])]
            if v.secret[k]:
                tues.append(cle)
                plafonds[cle] = (float(plancher[k]), float(plafond[k]))
    iv = intervalles_publics(ctx, structure, tues, plafonds)
    out = []
    for t in publiees:
        d = disp.get((t.cle.indicateur, t.cle.periode), Dispersion(r.modele))
        out.append(_table_publique(t, vues[t.cle], iv, d, r))
    return Resultat(out, structure, audit_plan, attendus)


def intervalles_publics(ctx: dict, structure: Structure, cles: list[tuple],
                        bornes: dict[tuple, tuple[float, float]]) -> dict:
    """Intervalle que l'intrus calcule pour chaque cellule tue (bornes du PL).

    Chaque borne n'est calculée exactement que là où l'étiquette en dépend
    (:func:`_bornes_utiles`) : un maximum au moins égal au plafond est rendu comme
    ``inf``, un minimum sous le plancher comme la borne publique (1). Dans les deux cas
    l'étiquette est celle de la borne exacte : elle ne dépend que du public.
    """
    systeme = ctx["systeme"]
    cols = ctx["colonnes"]
    cibles = np.zeros(systeme.n, bool)
    seuil = np.full(systeme.n, INF)
    plancher = np.full(systeme.n, -INF)
    var = {c: int(cols[structure.position(c)]) for c in cles}
    if var:
        cibles[list(var.values())] = True
    for c, j in var.items():
        plancher[j], seuil[j] = bornes.get(c, (-INF, INF))
    iv = intervalles(systeme, cibles=cibles, seuil_haut=seuil, plancher_bas=plancher,
                     certificats=ctx.get("certificats"))
    return {c: (float(iv.bas[j]),
                float(iv.haut[j]) if iv.haut_exact[j] and iv.haut[j] < seuil[j] else INF)
            for c, j in var.items()}


# --- tendances, sources -----------------------------------------------------------------

def tendances(tables_pub: list[dict], precedente: dict | None, annee: int,
              alpha: float) -> list[dict]:
    """N − 1 → N par unité, sur les valeurs publiées des deux années seulement."""
    from observatoire.stats.trends import rapport_taux_exact

    if precedente is None:
        return []
    avant = {(t["indicateur"], t["niveau"]): t for t in precedente.get("tables", [])
             if t["periode"] == str(annee - 1)}
    out = []
    i_obs, i_pa = COLONNES.index("observe"), COLONNES.index("personnes_annees")
    for t in tables_pub:
        if t["periode"] != str(annee):
            continue
        t0 = avant.get((t["indicateur"], t["niveau"]))
        if t0 is None:
            continue
        j_obs, j_pa = t0["colonnes"].index("observe"), t0["colonnes"].index("personnes_annees")
        a0 = {r[0]: r for r in t0["lignes"]}
        lignes = [(r[0], a0[r[0]][j_obs], r[i_obs], a0[r[0]][j_pa] or 0.0, r[i_pa] or 0.0)
                  for r in t["lignes"] if r[0] in a0 and r[i_obs] is not None
                  and a0[r[0]][j_obs] is not None]
        if not lignes:
            continue
        codes = [x[0] for x in lignes]
        o1, o2, p1, p2 = (np.asarray([x[k] for x in lignes], float) for k in (1, 2, 3, 4))
        p = rapport_taux_exact(o1, o2, p1, p2)
        with np.errstate(invalid="ignore", divide="ignore"):
            t1 = np.where(p1 > 0, o1 / p1 * 1000, np.nan)
            t2 = np.where(p2 > 0, o2 / p2 * 1000, np.nan)
            rt = np.where(t1 > 0, t2 / t1, np.nan)
        sig = ~np.isnan(p) & (p < alpha)
        sens = np.where(sig & (rt > 1), "hausse", np.where(sig & (rt < 1), "baisse",
                                                           "pas d'évolution significative"))
        out.append({"indicateur": t["indicateur"], "niveau": t["niveau"],
                    "annee_1": annee - 1, "annee_2": annee,
                    "colonnes": ["code", "observe_1", "observe_2", "difference", "taux_1",
                                 "taux_2", "ratio_taux", "p_tendance", "sens"],
                    "lignes": [[c, int(a), int(b), int(b - a), _num(x), _num(y), _num(q),
                                _num(pp), str(s)]
                               for c, a, b, x, y, q, pp, s in zip(codes, o1, o2, t1, t2, rt,
                                                                   p, sens, strict=True)]})
    return out


def lots_publics(valeurs: pd.DataFrame, indicateurs: list[str], annees: set[int],
                 engine, noms: dict[str, str]) -> list[dict]:
    """Sources imprimables : contributeur, année, date de réception, numéro de lot.

    Jamais le nom du fichier reçu (il peut nommer une personne).
    """
    import sqlalchemy as sa

    from observatoire import storage

    v = valeurs[valeurs["indicateur"].isin(indicateurs) & valeurs["annee"].isin(annees)]
    ids = sorted({int(i) for i in v["lot_id"].unique()})
    if not ids:
        return []
    lt = storage.lots
    with engine.connect() as conn:
        rows = conn.execute(sa.select(lt.c.id, lt.c.contributeur, lt.c.annee, lt.c.importe_le,
                                      lt.c.perimetre)
                            .where(lt.c.id.in_(ids)).order_by(lt.c.id)).mappings().all()
    par_lot = v.groupby("lot_id")["indicateur"].agg(lambda s: sorted(set(s)))
    return [{"lot": int(x["id"]), "contributeur": x["contributeur"],
             "nom": noms.get(x["contributeur"], x["contributeur"]), "annee": int(x["annee"]),
             "recu_le": x["importe_le"].date().isoformat(),
             "perimetre_restreint": x["perimetre"],
             "indicateurs": par_lot.get(int(x["id"]), [])} for x in rows]


def _meta_publique(attrs: dict) -> dict:
    """Ce que la diffusion dit de la mesure : sources manquantes, dénominateurs, taux de
    référence des lots (révélés par les attendus, donc dans le système de l'intrus).

    Les avertissements de contrôle (cas déclarés hors du périmètre d'un lot…) restent dans
    la partie privée : ils parlent aux agents du registre, pas au public.
    """
    garder = ("taux_reference_par_lot", "sources_manquantes", "denominateurs", "annees")
    return _json({k: v for k, v in attrs.items() if k in garder})


def _json(v):
    if isinstance(v, dict):
        return {str(k): _json(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json(x) for x in v]
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return _num(v)
    if isinstance(v, (str, int, bool)) or v is None:
        return v
    return str(v)


# --- lecture de la base -----------------------------------------------------------------

def construire(annee: int, *, engine=None,
               progress: Callable[[float, str], None] | None = None
               ) -> tuple[dict, dict, dict]:
    """Contenu public, partie privée et audit de la diffusion candidate de l'année.

    Parameters
    ----------
    annee : int
    engine : sqlalchemy.engine.Engine, optional
    progress : callable, optional
        ``progress(fraction, message)``.

    Returns
    -------
    public, prive, audit : dict

    Raises
    ------
    DonneesAbsentesError
        Aucun indicateur configuré n'a de données pour l'année.
    """
    from observatoire import catalogues, communes, storage
    from observatoire.config import settings
    from observatoire.demo import is_demo
    from observatoire.diffusion import stockage
    from observatoire.stats import DonneesAbsentesError

    annee = int(annee)
    s = settings()
    cfg = s.diffusion
    engine = engine or storage.get_engine()
    reglages = Reglages(seuil=s.seuil_secret, alpha=cfg.alpha, fdr=cfg.fdr,
                        modele=s.surdispersion, attendu_min=s.attendu_min_surdispersion)

    def avancer(f: float, m: str) -> None:
        if progress:
            progress(f, m)

    catalogue = {i.code: i for i in catalogues.load_indicateurs()}
    voulus = list(cfg.indicateurs or s.indicateurs_publies)
    inconnus = [i for i in voulus if i not in catalogue]
    if inconnus:
        raise ObservatoireError(
            f"Indicateur(s) inconnu(s) dans la section [diffusion] de {s.config_path} : "
            f"{', '.join(inconnus)}. Corrigez la liste « indicateurs » (codes du catalogue "
            f"data/catalogues/indicateurs.csv).")
    valeurs = storage.current_values(engine, None, voulus, departement=s.departement)
    annees_par_ind = valeurs.groupby("indicateur")["annee"].agg(lambda a: sorted(set(a)))
    indicateurs = [i for i in voulus if annee in annees_par_ind.get(i, [])]
    absents = [i for i in voulus if i not in indicateurs]
    if not indicateurs:
        raise DonneesAbsentesError(
            f"Aucune valeur pour {annee} dans les indicateurs à diffuser "
            f"({', '.join(voulus)}) : importez les tableaux des contributeurs de {annee}, "
            f"ou lancez « observatoire demo » pour un jeu fictif.")
    territoire = communes.load_territoire()
    univers = communes.load_communes(s.departement)
    d_noms = communes.load_departements()
    noms = {"epci": dict(zip(territoire["epci"], territoire["epci_nom"], strict=True)),
            "arrondissement": dict(zip(territoire["arrondissement"],
                                       territoire["arrondissement_nom"], strict=True)),
            "departement": dict(zip(d_noms["departement"].astype(str), d_noms["nom"],
                                    strict=True))}
    anterieures = stockage.publiees(engine, prive=True)
    deja = {(t["indicateur"], t["periode"], t["niveau"])
            for d in anterieures for t in d.public.get("tables", [])}
    courantes_pub = {d.annee: d.public for d in anterieures if d.statut == stockage.VALIDEE}

    tables: list[TableExacte] = []
    sources: list[SourceLot] = []
    mesures: dict[tuple[str, int], pd.DataFrame] = {}
    meta: dict[str, dict] = {}
    avertissements: dict[str, list[str]] = {}
    cles_tables: set[CleTable] = set()

    def ajouter(t: TableExacte) -> None:
        if t.cle not in cles_tables:
            cles_tables.add(t.cle)
            tables.append(t)

    def mesure(ind: str, a: int) -> pd.DataFrame:
        if (ind, a) not in mesures:
            mesures[(ind, a)] = mesure_communale(ind, [a], valeurs, engine)
            sources.extend(sources_lots(ind, a, valeurs, univers,
                                        zone_reference=s.zone_reference, engine=engine))
        return mesures[(ind, a)]

    def periode(ind: str, annees: list[int], m: pd.DataFrame, niveaux, communes_vues: bool):
        for t in tables_periode(ind, annees, m, niveaux, noms, communes_vues):
            ajouter(t)

    for k, ind in enumerate(indicateurs):
        avancer(0.05 + 0.35 * k / len(indicateurs),
                f"valeurs exactes : {catalogue[ind].libelle}")
        m = mesure(ind, annee)
        meta[f"{ind}/{annee}"] = _meta_publique(m.attrs)
        avertissements[f"{ind}/{annee}"] = list(m.attrs.get("avertissements", []))
        periode(ind, [annee], m, cfg.niveaux, COMMUNE in cfg.niveaux)
        annees_ind = annees_par_ind.get(ind, [])
        for a in annees_ind:
            niveaux = [n for n in cfg.serie_niveaux if n != COMMUNE
                       and (ind, str(a), n) not in deja]
            if a < annee and niveaux:
                periode(ind, [a], mesure(ind, a), niveaux, False)
        if cfg.cumul_annees >= 2:
            fen = list(range(annee - cfg.cumul_annees + 1, annee + 1))
            if all(a in annees_ind for a in fen):
                for a in fen:
                    ma = mesure(ind, a)
                    ajouter(TableExacte(CleTable(ind, str(a), COMMUNE), ma[list(EXACTES)],
                                        annees=(a,), publiee=False))
                mc = mesure_communale(ind, fen, valeurs, engine)
                petites = set(territoire.loc[territoire["population"]
                                             < cfg.cumul_population_max, "code_insee"])
                mc = mc[mc["code"].isin(petites).to_numpy()].reset_index(drop=True)
                meta[f"{ind}/{_periode(fen)}"] = _meta_publique(mc.attrs)
                ajouter(TableExacte(CleTable(ind, _periode(fen), COMMUNE), mc[list(EXACTES)],
                                    annees=tuple(fen)))

    dont = {i: catalogue[i].inclus_dans for i in indicateurs
            if catalogue[i].inclus_dans in indicateurs}
    avancer(0.45, "secret statistique : relations entre toutes les publications")
    res = diffuser(tables, reglages=reglages, dont=dont, sources=sources,
                   anterieures=[Structure.from_dict(d.prive["structure"]) for d in anterieures])
    ordre = {n: i for i, n in enumerate((COMMUNE, *NIVEAUX_GROUPES))}
    tables_pub = sorted(res.tables, key=lambda t: (
        indicateurs.index(t["indicateur"]), t["periode"] != str(annee), len(t["annees"]),
        t["periode"], ordre[t["niveau"]]))

    noms_contrib = {c.identifiant: c.nom for c in catalogues.load_contributeurs()}
    pops = univers.set_index("code_insee")["population"].astype(float)
    sources_pub: dict[str, dict[str, list]] = {}
    for src in sources:
        contrib, _, zone = src.contributeur.partition("@")
        sources_pub.setdefault(src.indicateur, {}).setdefault(str(src.annee), []).append({
            "contributeur": contrib, "nom": noms_contrib.get(contrib, contrib), "zone": zone,
            "perimetre": list(src.communes),
            "population_perimetre": float(pops.reindex(src.communes).fillna(0).sum())})
    geo = territoire.sort_values("code_insee")
    public = {
        "format": FORMAT, "version_format": FORMAT_VERSION, "annee": annee,
        "departement": s.departement, "territoire_nom": s.territoire_nom,
        "demo": bool(is_demo(engine)), "seuil_secret": int(reglages.seuil),
        "parametres": {"alpha": cfg.alpha, "fdr": cfg.fdr, "niveaux": list(cfg.niveaux),
                       "serie_niveaux": list(cfg.serie_niveaux),
                       "cumul_annees": cfg.cumul_annees,
                       "cumul_population_max": cfg.cumul_population_max,
                       "zone_reference": s.zone_reference,
                       "surdispersion": reglages.modele},
        "indicateurs": [{"code": i, "libelle": catalogue[i].libelle,
                         "definition": catalogue[i].definition,
                         "inclus_dans": dont.get(i)} for i in indicateurs],
        "indicateurs_sans_donnees": absents,
        "geographie": {
            "communes": {"code": geo["code_insee"].tolist(), "nom": geo["nom"].tolist(),
                         "epci": geo["epci"].tolist(),
                         "arrondissement": geo["arrondissement"].tolist(),
                         "departement": geo["departement"].tolist()},
            "noms": noms},
        "tables": tables_pub,
        "sources": sources_pub,
        "lots": lots_publics(valeurs, indicateurs, {a for t in tables for a in t.annees},
                             engine, noms_contrib),
        "meta": meta,
        "tendances": tendances(tables_pub, courantes_pub.get(annee - 1), annee, cfg.alpha)
        if cfg.evolution else [],
    }
    avancer(0.8, "audit : l'intrus attaque toutes les publications ensemble")
    prive = {"structure": res.structure.to_dict(), "attendus": res.attendus,
             "avertissements": avertissements}
    version = 1 + max([d.version for d in stockage.historique(engine, annee)
                       if d.statut != stockage.PREPAREE] or [0])
    audit = intrus.auditer_ensemble(
        [*[(d.public, d.prive) for d in anterieures],
         ({**public, "version": version}, prive)], seuil=reglages.seuil)
    audit["planification"] = {"protegees": res.audit_plan.n_protegees,
                              "resolutions": res.audit_plan.resolutions}
    audit["prepare_le"] = dt.datetime.now().isoformat(timespec="seconds")
    return public, prive, audit
