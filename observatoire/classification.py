"""Classes de carte, palettes et styles partagés par les cartes imprimées et Folium.

Une seule source pour les bornes de classes (quantiles, seuils naturels de Jenks,
intervalles égaux, bornes fixes conservées d'une année à l'autre), pour les palettes
lisibles par les personnes daltoniennes et pour les styles des états qui ne sont pas
une valeur (« secret statistique », « hors du périmètre des sources », « pas de
donnée ») et des quatre étiquettes de
l'analyse. Chaque état non numérique a un motif de hachures en plus de sa couleur :
aucune information n'est portée par la couleur seule.

Les bornes sont arrondies à la précision affichée *avant* de classer : une commune
dont le taux affiché est « 1,2 » tombe toujours dans la classe dont la légende dit
« … à 1,2 », jamais dans la suivante.

Examples
--------
>>> c = classer([0.5, 1.0, 2.0, 4.0, 8.0, 9.5], methode="quantiles", k=3)
>>> c.etiquettes()
['de 0,5 à 1,7', 'plus de 1,7 à 5,3', 'plus de 5,3 à 9,5']
>>> c.classes([0.5, 5.0, float("nan")]).tolist()
[0, 1, -1]
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

#: Méthodes de classification : code -> libellé français.
METHODES: dict[str, str] = {
    "quantiles": "quantiles (effectifs égaux par classe)",
    "jenks": "seuils naturels (Jenks, Fisher)",
    "intervalles_egaux": "intervalles égaux",
    "bornes_fixes": "bornes fixes conservées d'une année à l'autre",
}

#: Palettes séquentielles ColorBrewer (Brewer, Harrower, Penn State) jugées sûres pour
#: les daltoniens sur colorbrewer2.org, de 3 à 9 classes ; viridis est uniforme en
#: luminance (lisible aussi en niveaux de gris).
_BREWER: dict[str, dict[int, tuple[str, ...]]] = {
    "YlOrRd": {
        3: ("#ffeda0", "#feb24c", "#f03b20"),
        4: ("#ffffb2", "#fecc5c", "#fd8d3c", "#e31a1c"),
        5: ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"),
        6: ("#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026"),
        7: ("#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#b10026"),
        8: ("#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c",
            "#b10026"),
        9: ("#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c",
            "#bd0026", "#800026"),
    },
    "PuBu": {
        3: ("#ece7f2", "#a6bddb", "#2b8cbe"),
        4: ("#f1eef6", "#bdc9e1", "#74a9cf", "#0570b0"),
        5: ("#f1eef6", "#bdc9e1", "#74a9cf", "#2b8cbe", "#045a8d"),
        6: ("#f1eef6", "#d0d1e6", "#a6bddb", "#74a9cf", "#2b8cbe", "#045a8d"),
        7: ("#f1eef6", "#d0d1e6", "#a6bddb", "#74a9cf", "#3690c0", "#0570b0", "#034e7b"),
        8: ("#fff7fb", "#ece7f2", "#d0d1e6", "#a6bddb", "#74a9cf", "#3690c0", "#0570b0",
            "#034e7b"),
        9: ("#fff7fb", "#ece7f2", "#d0d1e6", "#a6bddb", "#74a9cf", "#3690c0", "#0570b0",
            "#045a8d", "#023858"),
    },
}

#: Palettes proposées : code -> libellé.
PALETTES: dict[str, str] = {
    "YlOrRd": "jaune – orange – rouge (ColorBrewer)",
    "PuBu": "violet clair – bleu (ColorBrewer)",
    "viridis": "viridis (lisible en niveaux de gris)",
}

K_MIN, K_MAX = 3, 9

UNITE_TAUX = "pour 1 000 habitants"


def palette(nom: str, k: int) -> tuple[str, ...]:
    """Couleurs d'une palette séquentielle pour ``k`` classes, de la plus claire à la plus foncée.

    Parameters
    ----------
    nom : {"YlOrRd", "PuBu", "viridis"}
        Palette.
    k : int
        Nombre de classes, de 3 à 9 (1 ou 2 classes reprennent les extrémités de la
        palette à 3 classes).

    Returns
    -------
    tuple of str
        Couleurs hexadécimales ``#rrggbb``.

    Raises
    ------
    ValueError
        Palette inconnue ou ``k`` hors de 1..9.
    """
    if nom not in PALETTES:
        raise ValueError(
            f"Palette « {nom} » inconnue : choisissez parmi {', '.join(PALETTES)}.")
    if not 1 <= k <= K_MAX:
        raise ValueError(f"Nombre de classes {k} impossible : de 1 à {K_MAX}.")
    if nom == "viridis":
        from matplotlib import colormaps
        from matplotlib.colors import to_hex

        # Inversée (clair = peu, foncé = beaucoup) comme les palettes ColorBrewer ; on
        # évite le violet le plus sombre, illisible sous le texte et les hachures.
        cmap = colormaps["viridis"]
        pos = np.linspace(0.95, 0.15, max(k, 2))[:k] if k > 1 else [0.55]
        return tuple(to_hex(cmap(p)) for p in pos)
    if k < K_MIN:
        full = _BREWER[nom][K_MIN]
        return (full[-1],) if k == 1 else (full[0], full[-1])
    return _BREWER[nom][k]


def format_nombre(x: float | int | None, decimales: int = 1) -> str:
    """Nombre au format français : espace fine insécable des milliers, virgule décimale.

    Parameters
    ----------
    x : float, int or None
        Valeur ; None ou NaN donnent une chaîne vide.
    decimales : int, default 1
        Chiffres après la virgule.

    Returns
    -------
    str

    Examples
    --------
    >>> format_nombre(1234.5)
    '1\u202f234,5'
    >>> format_nombre(-0.04, 1)
    '0,0'
    """
    from observatoire.formats import nombre

    # Babel (CLDR fr_FR) : U+202F (espace fine insécable), recommandation de l'Imprimerie
    # nationale ; « -0,0 » devient « 0,0 ».
    return nombre(x, decimales)


def decimales_utiles(valeurs: Iterable[float]) -> int:
    """Plus petit nombre de décimales (0 à 3) qui garde distinctes des bornes distinctes.

    Parameters
    ----------
    valeurs : iterable of float
        Bornes (ou valeurs) à afficher.

    Returns
    -------
    int
    """
    v = np.asarray([x for x in valeurs if x is not None and np.isfinite(x)], dtype=float)
    if v.size == 0:
        return 1
    etendue = float(v.max() - v.min())
    if np.allclose(v, np.round(v)) and etendue >= 1:
        d = 0  # bornes entières (effectifs, bornes fixes saisies) : pas de « ,0 »
    elif etendue >= 100:
        d = 0
    elif etendue >= 10:
        d = 1 if not np.allclose(v, np.round(v)) else 0
    else:
        d = 1 if etendue >= 1 or etendue == 0 else 2
    distinct = np.unique(v)
    while d < 3 and np.unique(np.round(distinct, d)).size < distinct.size:
        d += 1
    return d


@dataclass(frozen=True)
class Style:
    """Apparence d'une classe ou d'un état, commune à matplotlib et à Leaflet.

    Attributes
    ----------
    libelle : str
        Texte de légende, en français.
    remplissage : str
        Couleur de fond ``#rrggbb`` (``"none"`` : pas de fond).
    contour : str
        Couleur du trait.
    epaisseur : float
        Épaisseur du trait, en points (matplotlib) ; Leaflet la reprend en pixels.
    hachures : str
        Motif matplotlib (``"///"``, ``"xxx"``, ``"..."``…) ; vide = aucun.
    motif : str
        Nom du motif pour le web (``"diagonales"``, ``"croisillons"``, ``"points"``,
        ``"horizontales"``, ``"verticales"``, ``"contre-diagonales"``) ; vide = aucun.
    couleur_hachures : str
        Couleur des hachures.
    tirets : str
        Pointillé du contour pour Leaflet (``dashArray``), vide = trait plein.
    description : str
        Phrase d'explication pour la légende longue et l'accessibilité.
    """

    libelle: str
    remplissage: str
    contour: str = "#636363"
    epaisseur: float = 0.2
    hachures: str = ""
    motif: str = ""
    couleur_hachures: str = "#404040"
    tirets: str = ""
    description: str = ""

    def matplotlib(self) -> dict:
        """Arguments de ``GeoDataFrame.plot`` / ``PathPatch`` pour ce style."""
        kw = {"facecolor": self.remplissage, "edgecolor": self.contour,
              "linewidth": self.epaisseur}
        if self.hachures:
            kw["hatch"] = self.hachures
        return kw

    def leaflet(self) -> dict:
        """Dictionnaire de style Leaflet (``style_function`` de ``folium.GeoJson``).

        Le motif de hachures se dessine avec :func:`motif_svg` ; ``motif`` est repris
        dans la clé ``pattern`` pour que la carte web l'applique.
        """
        d = {"fillColor": self.remplissage if self.remplissage != "none" else "#ffffff",
             "fillOpacity": 0.0 if self.remplissage == "none" else 0.85,
             "color": self.contour, "weight": max(self.epaisseur * 2, 0.5),
             "opacity": 1.0}
        if self.tirets:
            d["dashArray"] = self.tirets
        if self.motif:
            d["pattern"] = self.motif
        return d


#: États qui ne sont pas une valeur : ils ont leur propre classe de légende.
STYLE_SECRET = Style(
    "secret statistique", "#bdbdbd", hachures="xxx", motif="croisillons",
    couleur_hachures="#525252",
    description="effectif de 1 à 4 (ou sous le seuil configuré), ou non diffusé par la "
                "source : valeur non publiée")
STYLE_NON_CONCLUANT = Style(
    "non concluant", "#f0f0f0", hachures="..", motif="points", couleur_hachures="#737373",
    description="trop peu de cas attendus, ou effectif connu seulement par un intervalle trop "
                "large : pas de conclusion possible, dans un sens ou dans l'autre")
STYLE_HORS_PERIMETRE = Style(
    "hors du périmètre des sources", "#ffffff", hachures="--", motif="horizontales",
    couleur_hachures="#969696",
    description="aucune source reçue ne couvre cette unité pour cet indicateur et cette "
                "année : effectif inconnu, ni nul ni secret, sans étiquette")
STYLE_PAS_DE_DONNEE = Style(
    "pas de donnée", "#ffffff", hachures="||", motif="verticales", couleur_hachures="#bdbdbd",
    description="population inconnue : ni taux ni étiquette")

#: Les quatre étiquettes de l'analyse. Révélatrice et blanche présumée sont opposées en
#: teinte (orange / violet, la paire la plus sûre pour les daltoniens, ColorBrewer PuOr)
#: et en sens de hachures.
STYLES_ETIQUETTES: dict[str, Style] = {
    "révélatrice": Style(
        "révélatrice", "#e66101", hachures="///", motif="diagonales",
        couleur_hachures="#7f2704",
        description="plus de cas que ne le laisse attendre la population, au-delà du hasard"),
    "pas d'écart détecté": Style(
        "pas d'écart détecté", "#f7f7f7",
        description="écart à l'attendu compatible avec le hasard (un écart plus petit que "
                    "ce que l'attendu permet de voir passe inaperçu : ce n'est pas « tout "
                    "va bien »)"),
    "blanche présumée": Style(
        "blanche présumée", "#5e3c99", hachures="\\\\\\", motif="contre-diagonales",
        couleur_hachures="#ffffff",
        description="moins de cas qu'attendu au-delà du hasard : signal d'une possible "
                    "sous-révélation, pas d'une absence de violences"),
    "non concluant": STYLE_NON_CONCLUANT,
}

#: Contour des zones blanches présumées superposé à la carte des taux.
STYLE_CONTOUR_BLANCHE = Style(
    "zone blanche présumée (contour)", "none", contour="#3f007d", epaisseur=1.4,
    tirets="4 2",
    description="moins de cas qu'attendu au-delà du hasard (possible sous-révélation)")

#: Limites administratives superposées (arrondissements puis EPCI).
STYLE_LIMITE_ARRONDISSEMENT = Style("limite d'arrondissement", "none", contour="#252525",
                                    epaisseur=1.1)
STYLE_LIMITE_EPCI = Style("limite d'EPCI", "none", contour="#525252", epaisseur=0.6,
                          tirets="3 2")


def style_etiquette(label: str | None) -> Style:
    """Style d'une étiquette d'analyse (« hors du périmètre des sources » si absente)."""
    if label is None or (isinstance(label, float) and math.isnan(label)):
        return STYLE_HORS_PERIMETRE
    return STYLES_ETIQUETTES.get(str(label), STYLE_HORS_PERIMETRE)


_MOTIFS_SVG = {
    "diagonales": '<path d="M0,8 L8,0" stroke="{c}" stroke-width="1.2"/>',
    "contre-diagonales": '<path d="M0,0 L8,8" stroke="{c}" stroke-width="1.2"/>',
    "croisillons": '<path d="M0,8 L8,0 M0,0 L8,8" stroke="{c}" stroke-width="1"/>',
    "points": '<circle cx="4" cy="4" r="1.1" fill="{c}"/>',
    "horizontales": '<path d="M0,4 L8,4" stroke="{c}" stroke-width="1"/>',
    "verticales": '<path d="M4,0 L4,8" stroke="{c}" stroke-width="1"/>',
}


def motif_svg(style: Style, ident: str | None = None) -> str:
    """Élément SVG ``<pattern>`` reproduisant les hachures d'un style pour le web.

    Parameters
    ----------
    style : Style
        Style avec un ``motif``.
    ident : str, optional
        Identifiant du motif ; par défaut ``"motif-" + style.motif``.

    Returns
    -------
    str
        ``<pattern>`` à placer dans un ``<defs>`` ; ``fill="url(#ident)"`` l'applique.
        Chaîne vide si le style n'a pas de motif.
    """
    if not style.motif:
        return ""
    ident = ident or f"motif-{style.motif}"
    dessin = _MOTIFS_SVG[style.motif].format(c=style.couleur_hachures)
    return (f'<pattern id="{ident}" patternUnits="userSpaceOnUse" width="8" height="8">'
            f'<rect width="8" height="8" fill="{style.remplissage}"/>{dessin}</pattern>')


@dataclass(frozen=True)
class Classification:
    """Classes d'une carte choroplèthe : bornes, couleurs, légende.

    Une valeur ``v`` est dans la classe ``i`` si ``bornes[i-1] < v <= bornes[i]``
    (``minimum <= v`` pour la première) ; au-delà de la dernière borne, elle va dans
    la dernière classe (bornes fixes d'une année antérieure dépassées), en-deçà du
    minimum dans la première.

    Attributes
    ----------
    bornes : tuple of float
        Bornes supérieures des classes, croissantes.
    minimum : float
        Borne inférieure de la première classe.
    couleurs : tuple of str
        Une couleur par classe.
    methode : str
        Code de :data:`METHODES`.
    palette : str
        Code de :data:`PALETTES`.
    decimales : int
        Précision d'affichage (les bornes y sont déjà arrondies).
    unite : str
        Unité affichée sous le titre de la légende.
    effectifs : tuple of int
        Nombre d'unités par classe dans les valeurs qui ont servi à la calculer.
    k_demande : int
        Nombre de classes demandé (0 : sans objet, bornes fixes) ; plus grand que
        :attr:`k` quand les valeurs ne permettaient pas d'en former autant
        (:meth:`note_classes` le dit dans la légende).
    """

    bornes: tuple[float, ...]
    minimum: float
    couleurs: tuple[str, ...]
    methode: str = "quantiles"
    palette: str = "YlOrRd"
    decimales: int = 1
    unite: str = UNITE_TAUX
    effectifs: tuple[int, ...] = field(default_factory=tuple)
    k_demande: int = 0

    @property
    def k(self) -> int:
        """Nombre de classes."""
        return len(self.bornes)

    def classes(self, valeurs: Iterable[float]) -> np.ndarray:
        """Indice de classe de chaque valeur (``-1`` pour une valeur absente ou NaN).

        Parameters
        ----------
        valeurs : iterable of float

        Returns
        -------
        numpy.ndarray of int
        """
        v = np.asarray(_as_float(valeurs), dtype=float)
        idx = np.searchsorted(np.asarray(self.bornes), v, side="left")
        idx = np.minimum(idx, self.k - 1)
        idx[~np.isfinite(v)] = -1
        return idx.astype(int)

    def couleur(self, valeur: float | None) -> str | None:
        """Couleur de la classe d'une valeur, None si elle est absente."""
        i = int(self.classes([valeur])[0])
        return None if i < 0 else self.couleurs[i]

    def etiquettes(self) -> list[str]:
        """Libellés des classes au format français (« de 0,5 à 1,7 », « plus de 1,7 à 4,7 »).

        Une première classe réduite à zéro (voir ``zero_a_part`` de :func:`classer`) se
        lit « 0 (aucun cas) ».
        """
        d = self.decimales
        out = []
        bas = self.minimum
        for i, haut in enumerate(self.bornes):
            if i == 0 and bas == haut == 0 and self.k > 1:
                out.append("0 (aucun cas)")
            elif i == 0:
                out.append(f"de {format_nombre(bas, d)} à {format_nombre(haut, d)}")
            else:
                de = "0" if bas == 0 else format_nombre(bas, d)
                out.append(f"plus de {de} à {format_nombre(haut, d)}")
            bas = haut
        return out

    def styles(self) -> list[Style]:
        """Un :class:`Style` par classe (sans hachures : la valeur est dans le libellé)."""
        return [Style(lib, c) for lib, c in zip(self.etiquettes(), self.couleurs, strict=True)]

    @property
    def zero_a_part(self) -> bool:
        """Vrai quand la première classe est « 0 (aucun cas) »."""
        return self.k > 1 and self.bornes[0] == 0 == self.minimum

    def description_methode(self) -> str:
        """Méthode en clair, « zéro à part » compris (titre de légende)."""
        texte = METHODES[self.methode]
        return texte + (", zéro à part" if self.zero_a_part else "")

    def note_classes(self) -> str | None:
        """Phrase de légende quand moins de classes que demandé ont pu être formées.

        Returns
        -------
        str or None
            « 3 classes au lieu des 5 demandées : … », ou None si le compte y est.
        """
        if not self.k_demande or self.k >= self.k_demande:
            return None
        if sum(self.effectifs) == 0:
            return (f"aucune valeur publiée à classer (au lieu des {self.k_demande} classes "
                    "demandées)")
        return (f"{self.k} classe{'s' if self.k > 1 else ''} au lieu des {self.k_demande} "
                "demandées : trop peu de valeurs publiées différentes (beaucoup de valeurs "
                "égales)")

    def to_dict(self) -> dict:
        """Dictionnaire sérialisable (JSON) ; :meth:`from_dict` le relit."""
        d = asdict(self)
        d["bornes"] = list(self.bornes)
        d["couleurs"] = list(self.couleurs)
        d["effectifs"] = list(self.effectifs)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Classification:
        """Relit le résultat de :meth:`to_dict`."""
        return cls(bornes=tuple(float(b) for b in d["bornes"]), minimum=float(d["minimum"]),
                   couleurs=tuple(d["couleurs"]), methode=d.get("methode", "bornes_fixes"),
                   palette=d.get("palette", "YlOrRd"), decimales=int(d.get("decimales", 1)),
                   unite=d.get("unite", UNITE_TAUX),
                   effectifs=tuple(int(x) for x in d.get("effectifs", ())),
                   k_demande=int(d.get("k_demande", 0)))


def _as_float(valeurs: Iterable) -> list[float]:
    out = []
    for x in valeurs:
        try:
            out.append(float(x) if x is not None else math.nan)
        except (TypeError, ValueError):
            out.append(math.nan)  # pd.NA, "secret"…
    return out


def classer(
    valeurs: Iterable[float],
    methode: str = "quantiles",
    k: int = 5,
    palette_nom: str = "YlOrRd",
    *,
    bornes: Sequence[float] | None = None,
    unite: str = UNITE_TAUX,
    decimales: int | None = None,
    zero_a_part: bool = False,
) -> Classification:
    """Calcule les classes d'une carte à partir des valeurs *publiques*.

    Les valeurs masquées par le secret statistique doivent être absentes (NaN) : des
    bornes calculées sur elles (un quantile, un seuil de Jenks) pourraient les révéler.

    Parameters
    ----------
    valeurs : iterable of float
        Valeurs à classer ; NaN et None sont ignorés.
    methode : {"quantiles", "jenks", "intervalles_egaux", "bornes_fixes"}
        Méthode (mapclassify ``Quantiles``, ``FisherJenks``, ``EqualInterval``,
        ``UserDefined``).
    k : int, default 5
        Nombre de classes voulu (3 à 9) ; moins s'il y a moins de valeurs distinctes.
    palette_nom : str, default "YlOrRd"
        Code de :data:`PALETTES`.
    bornes : sequence of float, optional
        Bornes supérieures imposées, obligatoires pour ``"bornes_fixes"``.
    unite : str
        Unité affichée dans la légende.
    decimales : int, optional
        Précision d'affichage ; par défaut la plus petite qui distingue les bornes.
    zero_a_part : bool, default False
        Les zéros forment leur propre classe, « 0 (aucun cas) », et les ``k − 1``
        autres classes se calculent sur les seules valeurs positives. Pour les taux
        communaux, où la plupart des petites communes n'ont aucun cas : sans cela, les
        quantiles s'effondrent sur zéro et la carte n'a plus que deux ou trois classes.

    Returns
    -------
    Classification

    Raises
    ------
    ValueError
        Méthode ou palette inconnue, ``k`` hors de 3..9, bornes manquantes ou non
        croissantes.
    """
    if methode not in METHODES:
        raise ValueError(
            f"Méthode de classification « {methode} » inconnue : choisissez parmi "
            f"{', '.join(METHODES)}.")
    if not K_MIN <= k <= K_MAX:
        raise ValueError(f"Nombre de classes {k} impossible : de {K_MIN} à {K_MAX}.")
    if palette_nom not in PALETTES:
        raise ValueError(
            f"Palette « {palette_nom} » inconnue : choisissez parmi {', '.join(PALETTES)}.")
    v = np.asarray(_as_float(valeurs), dtype=float)
    v = v[np.isfinite(v)]
    if methode == "bornes_fixes" or bornes is not None:
        return _classer(v, methode, k, palette_nom, bornes, unite, decimales, zero_a_part)
    # Le nombre demandé est gardé : la légende dit quand il n'a pas pu être atteint.
    return replace(_classer(v, methode, k, palette_nom, bornes, unite, decimales, zero_a_part),
                   k_demande=k)


def _classer(v, methode, k, palette_nom, bornes, unite, decimales, zero_a_part):
    import mapclassify

    if methode == "bornes_fixes" or bornes is not None:
        if not bornes:
            raise ValueError("La méthode « bornes_fixes » demande les bornes (paramètre bornes).")
        b = np.asarray([float(x) for x in bornes], dtype=float)
        if np.any(np.diff(b) <= 0):
            raise ValueError(f"Les bornes {list(b)} doivent être strictement croissantes.")
        if b.size > K_MAX:
            raise ValueError(f"{b.size} bornes : au plus {K_MAX} classes.")
        d = decimales if decimales is not None else decimales_utiles(b)
        minimum = float(min(0.0, v.min())) if v.size else 0.0
        return _build(tuple(float(x) for x in b), minimum, "bornes_fixes", palette_nom, d,
                      unite, v)

    if v.size == 0:
        # Rien à classer (tout est secret ou absent) : une seule classe vide, pour que la
        # légende montre au moins les états non numériques.
        return Classification((0.0,), 0.0, palette(palette_nom, 1), methode, palette_nom,
                              decimales if decimales is not None else 1, unite, (0,))
    if zero_a_part and (v == 0).any() and (v > 0).any():
        pos = classer(v[v > 0], methode, max(k - 1, K_MIN), palette_nom, unite=unite,
                      decimales=decimales) if k - 1 >= K_MIN else None
        if pos is None:
            # k = 3 : deux classes positives, que classer() refuse ; on coupe à la médiane.
            med = float(np.median(v[v > 0]))
            pos_bornes = np.unique([med, float(v.max())])
            d = decimales if decimales is not None else decimales_utiles(
                np.append(pos_bornes, v[v > 0].min()))
            bornes_pos = _arrondir_bornes(pos_bornes, d, v.max())
        else:
            d, bornes_pos = pos.decimales, pos.bornes
        bornes_pos = tuple(b for b in bornes_pos if b > 0)
        return _build((0.0,) + bornes_pos, 0.0, methode, palette_nom, d, unite, v)
    n_distinct = np.unique(v).size
    kk = max(1, min(k, n_distinct))
    if kk == 1:
        raw = np.array([v.max()])
    elif methode == "quantiles":
        raw = mapclassify.Quantiles(v, k=kk).bins
    elif methode == "jenks":
        raw = fisher_jenks(v, kk)
    else:
        raw = mapclassify.EqualInterval(v, k=kk).bins
    raw = np.unique(np.asarray(raw, dtype=float))
    d = decimales if decimales is not None else decimales_utiles(np.append(raw, v.min()))
    arrondies = _arrondir_bornes(raw, d, v.max())
    minimum = math.floor(float(v.min()) * 10**d) / 10**d
    return _build(arrondies, minimum, methode, palette_nom, d, unite, v)


def classer_table(
    table,
    colonne: str = "taux",
    methode: str = "quantiles",
    k: int = 5,
    palette_nom: str = "YlOrRd",
    *,
    bornes: Sequence[float] | None = None,
    unite: str | None = None,
    exclure=None,
) -> Classification:
    """Les classes d'une carte de valeurs : une seule règle pour la carte de l'application,
    la carte HTML autonome et les cartes de l'atlas.

    Seules les unités au statut « valeur » (:func:`observatoire.exports.donnees.statut` :
    ni secrètes, ni sans donnée, ni hors du périmètre des sources) entrent dans le calcul ;
    les zéros ont leur classe, « 0 (aucun cas) », et les autres classes se calculent sur
    les valeurs positives (``zero_a_part``).

    Parameters
    ----------
    table : pandas.DataFrame
        Table **publique** (``secret``, ``observe`` et ``colonne``).
    colonne : str, default "taux"
        Valeur cartographiée (``taux``, ``taux_lisse``, ``observe``, ``ratio``).
    methode, k, palette_nom, bornes
        Voir :func:`classer` (``bornes`` impose des bornes fixes).
    unite : str, optional
        Unité de la légende ; par défaut celle des taux.
    exclure : array-like of bool, optional
        Unités à laisser hors des classes en plus (par exemple les rapports « non
        concluant », montrés à part).

    Returns
    -------
    Classification
    """
    import pandas as pd

    from observatoire.exports.donnees import VALEUR, statut

    valeurs = pd.to_numeric(table[colonne], errors="coerce").astype(float)
    garder = statut(table, colonne).eq(VALEUR).to_numpy()
    if exclure is not None:
        garder = garder & ~np.asarray(exclure, dtype=bool)
    valeurs = valeurs[garder]
    unite = unite or UNITE_TAUX
    if bornes is not None or methode == "bornes_fixes":
        return classer(valeurs, "bornes_fixes", k, palette_nom, bornes=bornes, unite=unite)
    return classer(valeurs, methode, k, palette_nom, unite=unite, zero_a_part=True)


#: Au-delà, Jenks travaille sur autant de statistiques d'ordre régulièrement espacées
#: (mémoire en n², 32 Mo à 2 000 valeurs) : approximation déterministe, contrairement à
#: l'échantillonnage aléatoire de ``mapclassify.FisherJenksSampled``.
JENKS_N_MAX = 2000


def fisher_jenks(valeurs: Iterable[float], k: int) -> np.ndarray:
    """Seuils naturels de Jenks : partition optimale de Fisher (1958), vectorisée.

    Même résultat que ``mapclassify.FisherJenks`` (dont la version sans numba prend
    une seconde pour 900 communes), à l'optimum exact près : la partition rendue a une
    somme des carrés intra-classes inférieure ou égale.

    Parameters
    ----------
    valeurs : iterable of float
        Valeurs finies.
    k : int
        Nombre de classes (au plus le nombre de valeurs distinctes).

    Returns
    -------
    numpy.ndarray
        Borne supérieure (valeur maximale) de chaque classe, croissantes.
    """
    x = np.sort(np.asarray(list(valeurs), dtype=float))
    if x.size > JENKS_N_MAX:
        x = x[np.round(np.linspace(0, x.size - 1, JENKS_N_MAX)).astype(int)]
    n = x.size
    k = min(k, n)
    s1 = np.concatenate([[0.0], np.cumsum(x)])
    s2 = np.concatenate([[0.0], np.cumsum(x * x)])
    debut = np.arange(n)[:, None]
    fin = np.arange(n)[None, :]
    nb = (fin + 1 - debut).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        # Somme des carrés des écarts de x[debut..fin] : sommes cumulées, pas de boucle.
        ssd = (s2[fin + 1] - s2[debut]) - (s1[fin + 1] - s1[debut]) ** 2 / nb
    ssd[nb <= 0] = np.inf
    cout = ssd[0].copy()
    retours = []
    for _ in range(1, k):
        prec = np.concatenate([[np.inf], cout[:-1]])
        total = prec[:, None] + ssd
        arg = np.argmin(total, axis=0)
        cout = total[arg, np.arange(n)]
        retours.append(arg)
    fins = [n - 1]
    for arg in reversed(retours):
        fins.append(int(arg[fins[-1]]) - 1)
    return x[np.asarray(fins[::-1])]


def _arrondir_bornes(raw: np.ndarray, d: int, vmax: float) -> tuple[float, ...]:
    b = np.round(raw, d)
    # La dernière borne couvre le maximum, arrondi vers le haut.
    b[-1] = math.ceil(round(vmax * 10**d, 9)) / 10**d
    b = np.unique(b)
    return tuple(float(x) for x in b)


def _build(bornes, minimum, methode, pal, d, unite, v) -> Classification:
    couleurs = palette(pal, len(bornes))
    c = Classification(bornes, minimum, couleurs, methode, pal, d, unite)
    eff = np.bincount(c.classes(v), minlength=len(bornes)) if v.size else np.zeros(len(bornes))
    return Classification(bornes, minimum, couleurs, methode, pal, d, unite,
                          tuple(int(x) for x in eff[: len(bornes)]))


def charger_bornes_fixes(chemin: str | Path, cle: str) -> Classification | None:
    """Relit des bornes fixes enregistrées pour une carte (``cle`` : indicateur et mesure).

    Parameters
    ----------
    chemin : path-like
        Fichier JSON des bornes fixes (voir :func:`enregistrer_bornes_fixes`).
    cle : str
        Clé de la carte, par exemple ``"faits_constates/taux/commune"``.

    Returns
    -------
    Classification or None
        None si aucune borne n'est enregistrée pour cette clé.
    """
    chemin = Path(chemin)
    if not chemin.exists():
        return None
    data = json.loads(chemin.read_text(encoding="utf-8"))
    d = data.get(cle)
    return Classification.from_dict(d) if d else None


def enregistrer_bornes_fixes(chemin: str | Path, cle: str, classification: Classification,
                             *, annee_origine: int | None = None) -> None:
    """Enregistre des bornes pour qu'elles servent telles quelles les années suivantes.

    Parameters
    ----------
    chemin : path-like
        Fichier JSON (créé au besoin) ; les autres clés sont conservées.
    cle : str
        Clé de la carte.
    classification : Classification
        Classes à conserver (elles deviennent des « bornes fixes »).
    annee_origine : int, optional
        Année dont les données ont fixé les bornes (tracée dans le fichier).
    """
    chemin = Path(chemin)
    data = json.loads(chemin.read_text(encoding="utf-8")) if chemin.exists() else {}
    d = classification.to_dict()
    d["methode_origine"] = classification.methode
    d["methode"] = "bornes_fixes"
    d["effectifs"] = []
    if annee_origine is not None:
        d["annee_origine"] = int(annee_origine)
    data[cle] = d
    chemin.parent.mkdir(parents=True, exist_ok=True)
    tmp = chemin.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True),
                   encoding="utf-8")
    tmp.replace(chemin)
