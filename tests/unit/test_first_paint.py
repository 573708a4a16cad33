"""A slow phone's first paint: the stylesheet before the scripts, the font subset of the page's language,
and only the Radix colour scales the app uses (``lashme.i18n.html.first_paint.prioritize_first_paint``, ``rxconfig``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lashme.i18n.html.first_paint import FONT_PRELOAD, prioritize_first_paint

ROOT = Path(__file__).resolve().parents[2]
HEAD = (
    '<html><head><link rel="modulepreload" href="/assets/root.js"/>'
    '<link as="style" href="/assets/g.css" rel="preload"/>'
    '<link href="/assets/g.css" rel="stylesheet" type="text/css"/></head>'
    '<body><h1>Привет</h1><script type="module" async="">import "/assets/root.js";</script>'
    "<script>window.x = 1;</script></body></html>"
)


@pytest.mark.parametrize(("locale", "subset"), [("ru", "cyrillic"), ("en", "latin")])
def test_the_stylesheet_comes_before_the_scripts_and_the_languages_font_is_preloaded(locale, subset):
    out = prioritize_first_paint(HEAD, locale)
    assert '<link fetchpriority="high" href="/assets/g.css" rel="stylesheet"' in out
    assert '<link fetchpriority="high" as="style" href="/assets/g.css" rel="preload"' in out
    assert '<link fetchpriority="low" rel="modulepreload"' in out
    assert '<script fetchpriority="low" type="module"' in out
    assert "<script>window.x = 1;</script>" in out  # classic inline scripts untouched
    preloads = re.findall(r'<link rel="preload" href="([^"]+)" as="font"', out)
    assert preloads == [f"/fonts/manrope-{subset}-wght-normal.woff2"]
    assert out.index(preloads[0]) < out.index("</head>")
    assert prioritize_first_paint(out, locale).count("fetchpriority") == out.count("fetchpriority")


def test_preloaded_fonts_exist_and_are_declared_with_swap():
    css = (ROOT / "assets" / "theme.css").read_text()
    for path in FONT_PRELOAD.values():
        assert (ROOT / "assets" / path.lstrip("/")).is_file()
        face = css[css.index(path) - 300 : css.index(path)]
        assert "font-display: swap" in face  # text shows in a fallback font while the file loads


def test_every_radix_colour_the_ui_names_is_imported():
    import rxconfig

    names = (
        "tomato|red|ruby|crimson|pink|plum|purple|violet|iris|indigo|blue|cyan|teal|jade|green|grass|"
        "brown|orange|sky|mint|lime|yellow|amber|gold|bronze|gray|mauve|slate|sage|olive|sand"
    )
    used: set[str] = set()
    for path in [*(ROOT / "lashme" / "ui").rglob("*.py"), ROOT / "rxconfig.py"]:
        used |= set(re.findall(rf'"({names})"', path.read_text()))
    used |= set(re.findall(rf"var\(--({names})-", (ROOT / "assets" / "theme.css").read_text()))
    assert used <= set(rxconfig.RADIX_COLORS), (
        f"add to rxconfig.RADIX_COLORS: {used - set(rxconfig.RADIX_COLORS)}"
    )
    sheets = rxconfig.RadixThemesUsedColors().get_stylesheet_paths()
    assert sheets[0].endswith("tokens/base.css") and sheets[-2:] == (
        "@radix-ui/themes/components.css",
        "@radix-ui/themes/utilities.css",
    )


CSS = (
    "@layer base{*,:after{box-sizing:border-box}html{color:red}}"
    ":root,.light{--pink-9:#d6409f}.dark,.dark-theme{--pink-9:#e93d82}"
    ".rt-Button{padding:1px}.rt-Button.rt-r-size-3{height:48px}.rt-Dialog{top:0}"
    ":where(.rt-Button):not(.rt-variant-ghost){margin:0}"
    ":is(.rt-Select,.rt-Menu) .x{color:blue}"
    '[data-accent-color="pink"]{--accent-9:var(--pink-9)}[data-accent-color="red"]{--accent-9:red}'
    "@media (min-width:520px){.rt-Dialog{top:1px}.rt-Button{padding:2px}}"
    '@font-face{font-family:"M";src:url(/f.woff2)}'
    ".a\\:b{color:green}/* a comment */.s[title='}']{color:gray}"
)
DOC = (
    '<html lang="ru"><head></head><body><button class="rt-Button rt-r-size-3 a:b" '
    'data-accent-color="pink">Да</button></body></html>'
)


def test_critical_css_keeps_what_the_page_can_use_in_order_and_drops_the_rest():
    from lashme.i18n.critical_css import page_facts, prune

    out = prune(CSS, page_facts(DOC))
    assert out == (
        "@layer base{*,:after{box-sizing:border-box}html{color:red}}"
        ":root,.light{--pink-9:#d6409f}.dark,.dark-theme{--pink-9:#e93d82}"  # the colour-mode classes
        ".rt-Button{padding:1px}.rt-Button.rt-r-size-3{height:48px}"
        ":where(.rt-Button):not(.rt-variant-ghost){margin:0}"  # :not() never requires; :is(a,b) .x needs .x
        '[data-accent-color="pink"]{--accent-9:var(--pink-9)}'
        "@media (min-width:520px){.rt-Button{padding:2px}}"
        '@font-face{font-family:"M";src:url(/f.woff2)}'
        ".a\\:b{color:green}"
    )


def test_the_page_paints_with_inline_critical_rules_and_swaps_in_the_stylesheet(tmp_path):
    from lashme.i18n.html.first_paint import SWAP_CSS_SCRIPT, inline_critical_css

    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "g.css").write_text(CSS)
    page = (
        '<html><head><link as="style" href="/assets/g.css" rel="preload"/>'
        '<link href="/assets/g.css" rel="stylesheet" type="text/css"/><script>theme()</script></head>'
        + DOC.split("<head></head>")[1]
    )
    out, script = inline_critical_css(page, tmp_path)
    assert script == SWAP_CSS_SCRIPT
    assert '<link media="print" data-lm-css="" href="/assets/g.css" rel="stylesheet"' in out
    head = out[: out.index("</head>")]
    assert head.index("<script>theme()</script>") < head.index(
        '<style id="lm-critical">'
    )  # after React's own
    assert ".rt-r-size-3{height:48px}" in head and "rt-Dialog" not in head
    assert head.endswith(
        f'<script>{SWAP_CSS_SCRIPT}</script><noscript><link rel="stylesheet" href="/assets/g.css"/></noscript>'
    )
    assert inline_critical_css(out, tmp_path) == (out, None)  # once only
    assert inline_critical_css(page, tmp_path / "nowhere") == (page, None)  # no file: unchanged


def test_the_swap_script_is_allowed_by_the_pages_policy():
    from lashme.i18n.html.first_paint import SWAP_CSS_SCRIPT, csp_with_script

    policy = csp_with_script("default-src 'self'; script-src 'self'", SWAP_CSS_SCRIPT)
    assert policy.startswith("default-src 'self'; script-src 'self' 'sha256-")


def test_custom_properties_nothing_on_the_page_reads_are_dropped():
    from lashme.i18n.critical_css import drop_unused_properties

    css = (
        ":root,.light{--pink-9:#d6409f;--red-9:#e5484d;--space-2:8px}"
        '[data-accent-color="pink"]{--accent-9:var(--pink-9)}'
        ".rt-Button{background:var(--accent-9);color:white}.unused{--only:1}"
        "@media (min-width:1px){.x{--red-a1:#f00}}@font-face{font-family:M;src:url(/m.woff2)}"
    )
    doc = '<div style="gap:var(--space-2)"></div>'
    assert drop_unused_properties(css, doc) == (
        ":root,.light{--pink-9:#d6409f;--space-2:8px}"  # --pink-9 through --accent-9; --space-2 from the page
        '[data-accent-color="pink"]{--accent-9:var(--pink-9)}'
        ".rt-Button{background:var(--accent-9);color:white}"
        "@font-face{font-family:M;src:url(/m.woff2)}"
    )
