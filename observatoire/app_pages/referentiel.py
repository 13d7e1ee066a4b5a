"""Page agents « Référentiel » : état des contours et import d'un fichier officiel.

Sans import, la carte utilise les contours simplifiés livrés avec l'application ; la page
le dit et propose d'importer les contours officiels, qui les remplacent.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from observatoire.app_pages import common
from observatoire.errors import ObservatoireError


def page() -> None:
    common.require_staff()
    st.title("Référentiel géographique")
    from observatoire import referentiel, registres

    info = referentiel.summary()
    if info.get("charge") and info.get("simplifie"):
        st.info(f"**Contours simplifiés livrés avec l'application** ({info.get('communes')} "
                f"communes ; {info.get('source')} ; {info.get('licence') or 'Licence Ouverte'})"
                " : ils suffisent pour voir la carte, mais leurs limites sont approximatives. "
                "Importez les contours officiels (IGN ADMIN EXPRESS) ci-dessous : ils les "
                "remplacent partout (carte, fiches, publication).")
    elif info.get("charge"):
        st.success(f"Contours importés : {info.get('communes', '?')} communes (source : "
                   f"{info.get('source', '?')}, millésime {info.get('millesime') or 'inconnu'}, "
                   f"importés le {common.date_heure_fr(info.get('date_import'))}).")
    else:
        common.show_referentiel_absent()
    st.subheader("Importer des contours")
    up = st.file_uploader("Fichier de contours (GeoJSON, GeoPackage, shapefile zippé)",
                          type=["geojson", "json", "gpkg", "zip"], key="ref_fichier")
    if up is not None and st.button("Importer ces contours", key="ref_importer"):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / Path(up.name).name
            path.write_bytes(up.getvalue())
            try:
                with st.spinner("Import, rapprochement et simplification…"):
                    rep = referentiel.import_boundaries(path)
            except ObservatoireError as exc:
                common.show_error(exc)
                return
        layer = registres.commune_layer_or_none()
        if layer is not None:
            # Les dispositifs sans adresse prennent le point de leur commune sur les
            # nouveaux contours.
            registres.place_at_communes(communes_layer=layer)
        st.cache_resource.clear()
        st.cache_data.clear()
        st.success(f"{rep.get('communes')} communes importées : les contours officiels "
                   "remplacent les contours simplifiés.")
        for w in rep.get("avertissements", []) or []:
            st.warning(str(w))
