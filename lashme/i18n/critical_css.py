"""Critical CSS: the rules of the app's one stylesheet that can match a prerendered page as sent.

The built pages carry all their words in the HTML, but a browser paints nothing until the one
render-blocking stylesheet (Radix Themes + ``assets/theme.css``, ~65 kB gzip) has arrived and been
parsed: on a phone on 3G that is most of the wait.  :func:`critical_css` keeps only the rules a
page can use at first paint, so :mod:`lashme.i18n.html.first_paint` can inline them and let the full
stylesheet load without blocking (it replaces the inline copy once loaded).

Pure text processing, no CSS library: a rule is kept unless one of its selectors *cannot* match
the document, judged by the class names and attributes the selector requires (an
over-approximation: functional pseudo-classes such as ``:not()``/``:has()``, and ``:is()``/
``:where()`` with alternatives, are treated as always true).  At-rules that group rules
(``@media``, ``@supports``, ``@layer``, ``@container``) are pruned inside and dropped when empty;
other at-rules (``@font-face``, ``@keyframes``, ``@property``, statements) are kept as they are,
in the original order, so the cascade among kept rules is unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

#: Classes the page gains before its first paint without being in the HTML (the colour-mode
#: script puts one of these on ``<html>``).
RUNTIME_CLASSES = frozenset({"light", "dark", "light-theme", "dark-theme"})
_GROUPS = {"media", "supports", "layer", "container"}
_TAG = re.compile(r"<[a-zA-Z][^>]*>")
_ATTR = re.compile(r"""\s([^\s=/>"']+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>]+))?""")
_CLASS_SEL = re.compile(r"\.((?:\\.|[\w-])+)")
_ATTR_SEL = re.compile(r"""\[\s*([\w-]+)\s*(?:([~|^$*]?=)\s*("[^"]*"|'[^']*'|[^\]\s]*))?\s*[is]?\s*\]""")
_ALTERNATIVES = {"where", "is", "matches", "-webkit-any", "-moz-any"}
_FUNCTIONAL = re.compile(r":(not|has|where|is|matches|-webkit-any|-moz-any)\(", re.IGNORECASE)


@dataclass(frozen=True)
class PageFacts:
    """What a document offers to selectors: its class names, attribute names and ``(name, value)`` pairs."""

    classes: frozenset[str]
    attr_names: frozenset[str]
    attr_pairs: frozenset[tuple[str, str]]


def page_facts(document: str) -> PageFacts:
    """The classes and attributes of every tag in ``document`` (plus :data:`RUNTIME_CLASSES`)."""
    classes, names, pairs = set(RUNTIME_CLASSES), set(), set()
    for tag in _TAG.findall(document):
        for name, raw in _ATTR.findall(tag[1:]):
            name = name.lower()
            value = raw[1:-1] if raw[:1] in "\"'" and len(raw) > 1 else raw
            names.add(name)
            pairs.add((name, value))
            if name == "class":
                classes.update(value.split())
    return PageFacts(frozenset(classes), frozenset(names), frozenset(pairs))


def _skip_string(css: str, i: int) -> int:
    quote, i = css[i], i + 1
    while i < len(css) and css[i] != quote:
        i += 2 if css[i] == "\\" else 1
    return i + 1


def _skip_comment(css: str, i: int) -> int:
    end = css.find("*/", i + 2)
    return len(css) if end < 0 else end + 2


_SPECIAL = re.compile(r"""["'{};}]|/\*""")
_IN_BLOCK = re.compile(r"""["'{}]|/\*""")


def _block_end(css: str, i: int) -> int:
    """The index just past the ``}`` closing the block whose ``{`` is at ``i``."""
    depth = 0
    while True:
        m = _IN_BLOCK.search(css, i)
        if m is None:
            return len(css)
        c, i = m.group(0), m.start()
        if c in "\"'":
            i = _skip_string(css, i)
        elif c == "/*":
            i = _skip_comment(css, i)
        else:
            depth += 1 if c == "{" else -1
            i += 1
            if depth == 0:
                return i


def split_rules(css: str) -> list[tuple[str, str | None]]:
    """The top-level items of ``css``: ``(prelude, body)`` for each block, ``(statement, None)`` otherwise.

    Strings and comments are skipped when looking for braces; comments between items are dropped.
    """
    out: list[tuple[str, str | None]] = []
    i = start = 0
    while True:
        m = _SPECIAL.search(css, i)
        if m is None:
            break
        c, i = m.group(0), m.start()
        if c in "\"'":
            i = _skip_string(css, i)
        elif c == "/*":
            if not css[start:i].strip():
                start = _skip_comment(css, i)
            i = _skip_comment(css, i)
        elif c == ";":
            if css[start:i].strip():
                out.append((css[start:i].strip(), None))
            i = start = i + 1
        elif c == "{":
            end = _block_end(css, i)
            out.append((css[start:i].strip(), css[i + 1 : end - 1]))
            i = start = end
        else:  # a stray "}"
            i = start = i + 1
    if css[start:].strip():
        out.append((css[start:].strip(), None))
    return out


def _code_chars(text: str, i: int = 0):  # noqa: ANN202 - a generator of (index, character)
    """``(index, character)`` of ``text`` from ``i`` on, skipping strings and backslash escapes."""
    while i < len(text):
        c = text[i]
        if c in "\"'":
            i = _skip_string(text, i)
            continue
        if c == "\\":
            i += 2
            continue
        yield i, c
        i += 1


def _split_top(text: str, sep: str = ",") -> list[str]:
    """``text`` split at ``sep`` outside parentheses, brackets and strings."""
    parts, depth, start = [], 0, 0
    for i, c in _code_chars(text):
        depth += c in "(["
        depth -= c in ")]"
        if c == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _close_paren(text: str, open_at: int) -> int:
    depth = 0
    for i, c in _code_chars(text, open_at):
        depth += c == "("
        depth -= c == ")"
        if depth == 0:
            return i
    return len(text) - 1


def _requirements(selector: str) -> str:
    """``selector`` with the parts that never *require* anything removed (see the module docstring)."""
    out, pos = [], 0
    for m in _FUNCTIONAL.finditer(selector):
        if m.start() < pos:
            continue
        close = _close_paren(selector, m.end() - 1)
        inner = selector[m.end() : close]
        out.append(selector[pos : m.start()])
        if m.group(1).lower() in _ALTERNATIVES and len(_split_top(inner)) == 1:
            out.append(" " + _requirements(inner) + " ")
        pos = close + 1
    out.append(selector[pos:])
    return "".join(out)


def may_match(selector: str, facts: PageFacts) -> bool:
    """False only when ``selector`` needs a class or an attribute the page does not have."""
    needed = _requirements(selector)
    for raw in _CLASS_SEL.findall(needed):
        if re.sub(r"\\(.)", r"\1", raw) not in facts.classes:
            return False
    for name, op, value in _ATTR_SEL.findall(needed):
        name = name.lower()
        if name not in facts.attr_names:
            return False
        if op == "=" and (name, value.strip("\"'")) not in facts.attr_pairs:
            return False
    return True


@dataclass(frozen=True)
class _Node:
    """One parsed item: a statement (``body`` None), a grouping at-rule (``children``), or a rule."""

    prelude: str
    body: str | None = None
    children: tuple[_Node, ...] | None = None
    selectors: tuple[str, ...] = ()


def parse(css: str) -> tuple[_Node, ...]:
    """``css`` as a tree of :class:`_Node` (grouping at-rules hold their rules as children)."""
    nodes = []
    for prelude, body in split_rules(css):
        if body is None or (prelude.startswith("@") and _at_name(prelude) not in _GROUPS):
            nodes.append(_Node(prelude, body))
        elif prelude.startswith("@"):
            nodes.append(_Node(prelude, body, children=parse(body)))
        else:
            nodes.append(_Node(prelude, body, selectors=tuple(_split_top(prelude))))
    return tuple(nodes)


def _at_name(prelude: str) -> str:
    return re.split(r"[\s({]", prelude[1:], maxsplit=1)[0].lower()


def prune(css: str | tuple[_Node, ...], facts: PageFacts) -> str:
    """The rules of ``css`` (text or :func:`parse`'s tree) that may match a page with ``facts``."""
    parts: list[str] = []
    for node in parse(css) if isinstance(css, str) else css:
        if node.body is None:
            parts.append(node.prelude + ";")
        elif node.children is not None:
            inner = prune(node.children, facts)
            if inner:
                parts.append(f"{node.prelude}{{{inner}}}")
        elif not node.selectors:
            parts.append(f"{node.prelude}{{{node.body}}}")
        else:
            kept = [s for s in node.selectors if may_match(s, facts)]
            if kept:
                parts.append(",".join(kept) + "{" + node.body + "}")
    return "".join(parts)


_VAR = re.compile(r"var\(\s*(--[\w-]+)")


def _declarations(body: str) -> list[tuple[str, str]] | None:
    """``body``'s ``(property, value)`` pairs, or None when it holds nested blocks (kept as it is)."""
    if "{" in body:
        return None
    pairs = []
    for decl in _split_top(body, ";"):
        name, _, value = decl.partition(":")
        pairs.append((name.strip(), value))
    return pairs


def _walk_rules(nodes: tuple[_Node, ...]):
    for node in nodes:
        if node.children is not None:
            yield from _walk_rules(node.children)
        elif node.body is not None:
            yield node


def drop_unused_properties(css: str, document: str) -> str:
    """``css`` without the custom properties (``--x: …``) that nothing on the page can read.

    A property is kept when ``var(--x)`` appears in the document (inline and emotion styles), in a
    kept declaration of another kind, or in the value of a kept custom property (transitively).
    About half of the rules matching a page are Radix colour tokens of scales it does not show.
    """
    tree = parse(css)
    wanted = set(_VAR.findall(document))
    values: dict[str, list[str]] = {}
    for node in _walk_rules(tree):
        decls = _declarations(node.body or "") if node.selectors else None
        if decls is None:
            wanted.update(_VAR.findall(node.body or ""))
            continue
        for name, value in decls:
            if name.startswith("--"):
                values.setdefault(name, []).append(value)
            else:
                wanted.update(_VAR.findall(value))
    todo = list(wanted)
    while todo:
        for value in values.get(todo.pop(), ()):
            for ref in _VAR.findall(value):
                if ref not in wanted:
                    wanted.add(ref)
                    todo.append(ref)
    return _without(tree, wanted)


def _without(nodes: tuple[_Node, ...], wanted: set[str]) -> str:
    parts: list[str] = []
    for node in nodes:
        if node.body is None:
            parts.append(node.prelude + ";")
        elif node.children is not None:
            inner = _without(node.children, wanted)
            if inner:
                parts.append(f"{node.prelude}{{{inner}}}")
        else:
            decls = _declarations(node.body) if node.selectors else None
            if decls is None:
                parts.append(f"{node.prelude}{{{node.body}}}")
                continue
            kept = [f"{n}:{v}" for n, v in decls if not n.startswith("--") or n in wanted]
            if kept:
                parts.append(node.prelude + "{" + ";".join(kept) + "}")
    return "".join(parts)


@lru_cache(maxsize=4)
def _stylesheet(path: str, mtime_ns: int) -> tuple[_Node, ...]:
    return parse(Path(path).read_text(encoding="utf-8"))


@lru_cache(maxsize=128)
def _cached(path: str, mtime_ns: int, facts: PageFacts, variables: frozenset[str]) -> str:
    rules = prune(_stylesheet(path, mtime_ns), facts)
    return drop_unused_properties(rules, " ".join(f"var({v})" for v in sorted(variables)))


def critical_css(stylesheet: Path, document: str) -> str | None:
    """The rules of the file ``stylesheet`` that ``document`` may use at first paint, or None when unreadable.

    Cached per stylesheet version and per set of classes/attributes (a page differs from another
    page, not from one request to the next).
    """
    try:
        mtime = stylesheet.stat().st_mtime_ns
    except OSError:
        return None
    return _cached(str(stylesheet), mtime, page_facts(document), frozenset(_VAR.findall(document)))
