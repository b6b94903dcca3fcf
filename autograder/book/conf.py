"""Sphinx configuration of the web edition (``make book``; the build code is __init__.py).

Sphinx reads this file; ``autograder.book.build`` passes the build settings through the
environment (``LFS_BOOK_*``), so ``make book JUPYTERHUB_URL=…`` changes where the launch
links point without editing anything. The notebooks it renders were executed beforehand
(answers run, then replaced by the student's stubs), so myst-nb executes nothing.
"""
from __future__ import annotations

import os
from pathlib import Path

project = "Layers from Scratch"
author = "Layers from Scratch contributors"
copyright = "Layers from Scratch contributors; text CC BY 4.0, code MIT"

extensions = ["myst_nb"]
root_doc = "index"
exclude_patterns = ["**.ipynb_checkpoints"]
# The notebooks arrive executed and answer-free: rendering must not run them again.
nb_execution_mode = "off"
# Markdown cells use $…$ / $$…$$ math, as in JupyterLab.
myst_enable_extensions = ["dollarmath", "amsmath"]
# Chapters open with "# NN — Title" and may jump heading levels inside a cell.
suppress_warnings = ["myst.header"]

html_theme = "sphinx_book_theme"
html_title = project
html_show_sphinx = False
html_last_updated_fmt = None
# Without a stored choice the theme's script would log an error and fall back to "auto".
html_context = {"default_mode": "light"}
# Offline reading: MathJax is the copy installed from npm at build time (see build()).
html_static_path = [os.environ["LFS_BOOK_STATIC"]] if os.environ.get("LFS_BOOK_STATIC") else []
mathjax_path = "mathjax/tex-mml-chtml.js"


def _origin() -> str:
    """The repository's own remote, as an https URL ('' when it has none)."""
    import subprocess

    try:
        url = subprocess.run(["git", "remote", "get-url", "origin"], check=False,
                             capture_output=True, text=True, cwd=Path(__file__).parent,
                             timeout=10).stdout.strip()
    except OSError:
        return ""
    if url.startswith("git@") and ":" in url:
        host, path = url[4:].split(":", 1)
        url = f"https://{host}/{path}"
    # A clone of a local folder (as CI makes) has no address a reader's hub could clone.
    return url.removesuffix(".git") if url.startswith("https://") else ""


# Build settings: where the launch links send a reader. Each can be set with make
# (`make book JUPYTERHUB_URL=https://hub.example.edu`) or the LFS_BOOK_* variable.
# The repository: the one given, else this clone's origin, else the project's public one.
repository_url = (os.environ.get("LFS_BOOK_REPOSITORY_URL") or _origin()
                  or "https://github.com/layers-from-scratch/layers-from-scratch")
repository_branch = os.environ.get("LFS_BOOK_BRANCH") or "main"
jupyterhub_url = os.environ.get("LFS_BOOK_JUPYTERHUB_URL", "http://localhost:8000")
binderhub_url = os.environ.get("LFS_BOOK_BINDERHUB_URL", "https://mybinder.org")

html_theme_options = {
    "repository_url": repository_url,
    "repository_branch": repository_branch,
    # Pages sit where the student notebooks sit in the repository (notebooks/NN_topic/…),
    # so a launch link opens the released notebook, never the executed one.
    "path_to_docs": "",
    "use_repository_button": True,
    "use_download_button": True,
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "launch_buttons": {
        # On a JupyterHub, nbgitpuller clones (or updates) the repository, then
        # JupyterLab opens the page's notebook.
        "jupyterhub_url": jupyterhub_url,
        "binderhub_url": binderhub_url,
        "notebook_interface": "jupyterlab",
    },
}
