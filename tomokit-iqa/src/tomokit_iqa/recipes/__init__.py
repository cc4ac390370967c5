"""Reproducible training recipes for tomokit-iqa's shipped models (one command each).

``python -m tomokit_iqa.recipes.brisque_tomo`` retrains the shipped ``brisque_tomo`` SVR.
The references every recipe draws from are in :mod:`tomokit_iqa.recipes.references`.
"""
