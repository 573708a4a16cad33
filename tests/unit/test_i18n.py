"""Catalogs, negotiation and per-locale formatting (lashme.i18n)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from lashme import i18n
from lashme.credits import pricing
from lashme.errors import DomainError

PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _po(locale):
    return {m.id: m.string for m in i18n.read_catalog(locale) if m.id}


def test_each_area_catalog_exists_in_both_languages():
    names = {loc: [p.name for p in i18n.po_paths(loc)] for loc in i18n.LOCALES}
    assert names["en"] == names["ru"]
    assert names["en"][0] == "messages.po"


def test_every_key_is_translated_in_both_languages_with_the_same_placeholders():
    en, ru = _po("en"), _po("ru")
    assert set(en) == set(ru)
    for key in en:
        assert ru[key] and en[key], key
        assert set(PLACEHOLDER.findall(en[key])) == set(PLACEHOLDER.findall(ru[key])), key


def test_every_ui_key_used_in_the_pages_exists():
    root = Path(i18n.__file__).resolve().parents[1] / "ui"
    used = set()
    for path in root.rglob("*.py"):
        used |= set(re.findall(r"""\btr\(\s*["']([\w.]+)["']""", path.read_text()))
        used |= set(re.findall(r"""_tr\(\s*["']([\w.]+)["']""", path.read_text()))
    assert len(used) > 60
    assert used <= set(_po("en")), used - set(_po("en"))


def test_negotiation_follows_accept_language_weights():
    assert i18n.negotiate("ru-RU,ru;q=0.9,en-US;q=0.8") == "ru"
    assert i18n.negotiate("en-GB,en;q=0.9,ru;q=0.8") == "en"
    assert i18n.negotiate("de-DE,ru;q=0.5,en;q=0.3") == "ru"
    assert i18n.negotiate("en;q=0.2,ru;q=0.9") == "ru"
    assert i18n.negotiate("ru;q=0,fr") == "en"
    assert i18n.negotiate("") == "ru" and i18n.negotiate(None) == "ru"  # Russian first
    assert i18n.negotiate("de-DE,fr;q=0.5") == "ru"


def test_errors_dates_and_prices_per_locale():
    err = DomainError("upload.too_large", max_mb=10)
    assert i18n.error_text(err, "en") == err.message
    assert i18n.error_text(err, "ru") == "Фото больше 10 МБ. Выберите файл поменьше."
    assert i18n.translate("no.such.key", "ru") == "no.such.key"
    dt = datetime(2026, 3, 8, 14, 5, tzinfo=UTC)
    assert "марта" in i18n.format_dt(dt, "ru", fmt="long") and "March" in i18n.format_dt(dt, "en", fmt="long")
    assert pricing.format_money(1800, "usd", i18n.money_locale("en")) == "$18.00"
    assert pricing.format_money(1800, "usd", i18n.money_locale("ru")).replace("\xa0", " ") == "18,00 $"


def test_credit_counts_follow_each_languages_plural_rules():
    from lashme import i18n

    assert [i18n.translate_plural("plural.credits", n, "en") for n in (1, 3, 21)] == [
        "1 credit",
        "3 credits",
        "21 credits",
    ]
    assert [i18n.translate_plural("plural.credits", n, "ru") for n in (1, 3, 5, 21, 22, 11, 100)] == [
        "1 кредит",
        "3 кредита",
        "5 кредитов",
        "21 кредит",
        "22 кредита",
        "11 кредитов",
        "100 кредитов",
    ]
    assert i18n.translate_plural("plural.credits_unit", 2, "ru") == "кредита"
