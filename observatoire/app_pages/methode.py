"""Page publique « Méthode » : l'essentiel en langage clair, les fiches des indicateurs,
puis le texte de ``docs/methodologie.md``.

Le public ne lit ni clé de configuration ni commande : la version publique du texte
retire les renvois techniques (entre parenthèses, ou phrases qui citent une commande ou
un fichier de configuration) ; les agents connectés lisent le texte complet.
"""

from __future__ import annotations

import re

import streamlit as st

from observatoire.app_pages import common
from observatoire.config import ROOT, settings

METHODOLOGIE = ROOT / "docs" / "methodologie.md"

_CODE = re.compile(r"`([^`]+)`")
# Renvoi technique entre parenthèses : « (`p_exces`) », « (seuil de 5, réglable : `[secret]`) ».
_PARENTHESE_CODE = re.compile(r"\s*\([^()`]*`[^`]+`[^()]*\)")
_TECHNIQUE = re.compile(r"^(observatoire |python |make )|\.toml|\.py\b|\.md\b|^\[|=|/|"
                        r"^[a-z0-9]+(_[a-z0-9…]+)+$|^[a-z]+_…$")
_PHRASE = re.compile(r"(?<=[.!?])\s+(?=[A-ZÀ-ÖØ-Þ«*])")


def _technique(code: str) -> bool:
    return bool(_TECHNIQUE.search(code.strip()))


def _phrases_publiques(texte: str) -> str:
    """Retire d'un paragraphe les phrases qui citent une commande ou une configuration."""
    gardees = [p for p in _PHRASE.split(texte)
               if not any(_technique(c) for c in _CODE.findall(p))]
    return " ".join(gardees)


def _sous_titres(markdown: str) -> str:
    """Sans le titre de premier niveau, les autres titres descendus de deux niveaux : la
    méthode détaillée se range sous les intertitres de la page."""
    lignes = markdown.splitlines()
    if lignes and lignes[0].startswith("# "):
        lignes = lignes[1:]
    return "\n".join("##" + x if re.match(r"#{2,4} ", x) else x for x in lignes)


def texte_public(markdown: str) -> str:
    """Version publique de la méthode : sans clé de configuration ni commande.

    Parameters
    ----------
    markdown : str
        Texte de ``docs/methodologie.md``.

    Returns
    -------
    str
        Le même texte, sans son titre de premier niveau (la page a le sien), sans les
        renvois techniques entre parenthèses, sans les phrases qui citent une commande
        ou un fichier de configuration ; les autres codes restent, entre guillemets.
    """
    lignes = _sous_titres(markdown).splitlines()
    # Un paragraphe (ou élément de liste) s'étend sur plusieurs lignes : on le traite
    # d'un bloc pour que les phrases et les parenthèses ne soient pas coupées.
    blocs: list[list[str]] = []
    for ligne in lignes:
        debut = (not ligne.strip() or ligne.startswith(("#", "|", "- ", "* "))
                 or re.match(r"\d+\. ", ligne))
        if (blocs and not debut and blocs[-1][0].strip()
                and not blocs[-1][0].startswith(("#", "|"))):
            blocs[-1].append(ligne)
        else:
            blocs.append([ligne])
    out = []
    for bloc in blocs:
        if bloc[0].startswith("|"):
            for ligne in bloc:
                ligne = _PARENTHESE_CODE.sub("", ligne)
                ligne = _CODE.sub(lambda m: "" if _technique(m.group(1))
                                  else f"« {m.group(1)} »", ligne)
                out.append(re.sub(r"\|\s*=\s*", "| ", ligne))
            continue
        texte = " ".join(x.strip() if i else x.rstrip() for i, x in enumerate(bloc))
        texte = _PARENTHESE_CODE.sub("", texte)
        texte = _phrases_publiques(texte)
        if bloc[0].strip() and texte.strip() in ("", "-", "*"):
            continue
        out.append(_CODE.sub(lambda m: f"« {m.group(1)} »", texte))
    return "\n".join(out)


_ESSENTIEL = """
**Ce que l'on compte.** Chaque année, les services qui reçoivent ou accompagnent les
victimes (forces de sécurité, intervenantes sociales, associations, CAF, tribunal…)
envoient à l'observatoire le nombre de cas de l'année, par commune de résidence de la
victime. Les chiffres d'un service ne disent que ce qu'il voit : une commune éloignée des
services peut compter peu de cas sans avoir moins de violences.

**Taux.** Le nombre de cas pour 1 000 habitants permet de comparer des communes de tailles
différentes. Dans une petite commune, un ou deux cas de plus font bondir le taux : c'est
pourquoi la carte s'ouvre sur le **taux lissé**, qui rapproche les petites communes de la
moyenne et ne retient que les écarts solides.

**Étiquettes.** Une commune « **révélatrice** » compte plus de cas que ne le laisse
attendre sa population, au-delà du hasard : les violences y sont davantage révélées
(repérage, accès aux services, confiance). Une commune « **blanche présumée** » en compte
moins : c'est le signal d'une possible **sous-révélation**, pas d'une absence de
violences. « **Non concluant** » : trop peu de cas attendus pour conclure.

**Secret statistique.** Aucun chiffre publié ne permet de reconnaître une situation
personnelle : les effectifs de 1 à {seuil_moins_un} par commune ne sont pas publiés
(« secret »), ni ce qui permettrait de les retrouver. Les agents de l'observatoire,
authentifiés, voient les valeurs exactes.
"""


def page() -> None:
    st.title("Méthode")
    seuil = settings().seuil_secret
    st.subheader("L'essentiel")
    st.markdown(_ESSENTIEL.format(seuil_moins_un=seuil - 1))
    st.subheader("Les indicateurs")
    st.caption("Pour chaque indicateur : ce qui est compté, qui le compte, et ce que le "
               "chiffre ne dit pas.")
    libelles = common.indicateurs()
    for code, libelle in libelles.items():
        fiche = common.fiche_indicateur_markdown(code)
        if fiche:
            with st.expander(libelle):
                st.markdown(fiche)
    st.subheader("Les mesures de la carte")
    st.markdown("\n".join(f"- **{common.MESURES[m]}** : {aide}"
                          for m, aide in common.MESURES_AIDE.items()))
    st.subheader("Méthode détaillée")
    if not METHODOLOGIE.exists():
        st.warning("Le texte détaillé de la méthode n'est pas disponible dans cette "
                   "installation.")
        return
    texte = METHODOLOGIE.read_text(encoding="utf-8")
    if common.user() is None:
        st.markdown(texte_public(texte))
    else:
        st.caption("Version complète pour les agents (la version publique omet les "
                   "commandes et les réglages).")
        st.markdown(_sous_titres(texte))
