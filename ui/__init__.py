"""Streamlit helpers shared by the pages: session, i18n, filters, formatting, rendering."""
