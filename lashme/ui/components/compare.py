"""Before/after comparison slider: the "before" image on top, clipped to the slider position.

The position lives in the browser only (a Reflex client-state var), so dragging
never talks to the server.  The range input is the control (keyboard and
touch accessible, 44 px tall).
"""

from __future__ import annotations

import reflex as rx


def compare_slider(
    before_src, after_src, *, before_label, after_label, hint, slider_id: str = "compare"
) -> rx.Component:
    """Two same-sized images stacked; the range input (0-100) sets how much of "before" shows.

    Args:
        before_src: Var or str, URL of the original's preview.
        after_src: Var or str, URL of the variant's preview.
        before_label: text shown on the left corner.
        after_label: text shown on the right corner.
        hint: accessible label of the slider.
        slider_id: DOM id of the range input.
    """
    pos = rx._x.client_state(f"{slider_id.replace('-', '_')}_pos", default="50")
    return rx.box(
        pos,
        rx.box(
            rx.image(
                src=after_src, width="100%", display="block", class_name="compare-after", alt=after_label
            ),
            rx.image(
                src=before_src,
                width="100%",
                height="100%",
                object_fit="cover",
                position="absolute",
                top="0",
                left="0",
                class_name="compare-before",
                alt=before_label,
                style={"clipPath": f"inset(0 calc(100% - {pos.value}%) 0 0)"},
            ),
            rx.box(
                position="absolute",
                top="0",
                bottom="0",
                width="2px",
                background="white",
                box_shadow="0 0 4px rgba(0,0,0,.5)",
                style={"left": f"{pos.value}%"},
                pointer_events="none",
            ),
            rx.badge(
                before_label, position="absolute", top="8px", left="8px", variant="solid", color_scheme="gray"
            ),
            rx.badge(
                after_label, position="absolute", top="8px", right="8px", variant="solid", color_scheme="pink"
            ),
            position="relative",
            width="100%",
            overflow="hidden",
            border_radius="12px",
        ),
        rx.el.input(
            type="range",
            min="0",
            max="100",
            default_value="50",
            on_change=pos.set,
            id=slider_id,
            aria_label=hint,
        ),
        class_name="lm-compare",
        width="100%",
        max_width="480px",
    )
