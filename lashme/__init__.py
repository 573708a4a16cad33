"""LashMe: studio-quality variants of beauty masters' work photos.

The package root holds the domain core (plain Python, no Reflex import);
``lashme.ui`` and ``lashme.lashme`` are the thin Reflex layer on top.
"""
