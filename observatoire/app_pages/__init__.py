"""Pages de l'application Streamlit (une par module) et navigation selon le rôle."""
