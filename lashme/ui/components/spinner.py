"""A light busy indicator: one ring turned by the compositor.

Radix's ``rx.spinner`` fades 8 leaves with their own animations; while a job page waits it kept
Chromium's main thread busy 190–460 ms per second on a 2-core machine (measured with Chromium's
timers in ``benchmarks/bench_e2e.py`` runs), competing with the worker for the same cores.  This ring
animates ``transform`` only (``.lm-spin`` in ``assets/theme.css``), which the compositor runs off the
main thread; with ``prefers-reduced-motion`` it stands still.
"""

from __future__ import annotations

import reflex as rx


def spinner() -> rx.Component:
    """A 1.25 rem ring in the current text colour, hidden from assistive technology (the text beside it speaks)."""
    return rx.el.span(class_name="lm-spin", aria_hidden="true")
