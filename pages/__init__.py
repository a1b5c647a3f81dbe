"""The dashboard's pages (a package so the layer contracts in pyproject.toml can check their imports).

app.py lists each page with st.Page; the modules starting with _ are helpers the pages share.
"""
