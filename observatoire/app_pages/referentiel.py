"""Page agents « Référentiel » : état des contours et import d'un fichier."""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from observatoire.app_pages import common
from observatoire.errors import ObservatoireError


def page() -> None:
    common.require_staff()
    st.title("Référentiel géographique")
    from observatoire import referentiel

    info = referentiel.summary()
    if info.get("charge"):
        st.success(f"Contours importés : {info.get('communes', '?')} communes "
                   f"(source : {info.get('source', '?')}, millésime "
                   f"{info.get('millesime') or 'inconnu'}).")
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
        st.cache_resource.clear()
        st.success(f"{rep.get('communes')} communes importées.")
        for w in rep.get("avertissements", []) or []:
            st.warning(str(w))
