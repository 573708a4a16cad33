"""Gallery, variant page, ZIP download, deletion and the Russian UI in a real browser, on desktop and phone."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest

from lashme.accounts import auth
from lashme.jobs import uploads
from lashme.jobs.generation import run as run_job
from lashme.models import Job
from lashme.ops.db import session_scope
from tests.photos import astronaut_jpeg, chelsea_jpeg, coffee_jpeg

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


def _account(email: str, jobs: int) -> tuple[str, list[str]]:
    with session_scope() as s:
        user = auth.sign_up(s, email=email, password="Lashes2026", signup_bonus=3)
        user_id = user.id
        token = auth.start_session(s, user_id=user_id)
    ids = []
    for photo in (chelsea_jpeg, coffee_jpeg, astronaut_jpeg)[:jobs]:
        job = uploads.submit_photo(photo(), user_id=user_id, anon_token=None, enqueue=False)
        run_job(job.id)
        ids.append(job.id)
    if ids:
        with session_scope() as s:
            s.get(Job, ids[0]).note = "Anna volume set"
    return token, ids


def _context(browser, app_url, token, viewport):
    ctx = browser.new_context(viewport=viewport, accept_downloads=True, locale="en-US")
    if token:
        ctx.add_cookies([{"name": "lashme_session", "value": token, "url": app_url}])
    return ctx


def _tiles(page, n):
    page.wait_for_function(f"document.querySelectorAll('.gallery-tile').length === {n}", timeout=30_000)


_TOAST_OVER_JS = """(sel) => {
  const el = document.querySelector(sel);
  if (!el) return false;
  const a = el.getBoundingClientRect();
  return ![...document.querySelectorAll('[data-sonner-toast]')].some((t) => {
    const b = t.getBoundingClientRect();
    return b.width > 0 && b.height > 0 &&
      a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  });
}"""


def _click(page, selector):
    """Click once no toast covers the control (toasts sit at the bottom, over phone buttons).

    Waits only while a toast overlaps the control's box, not until every toast on the page has
    gone (about 4 s each, 12 s per run of the gallery test); Playwright's click then checks
    that the control itself receives the click, so a toast arriving later still cannot take it.
    """
    page.locator(selector).scroll_into_view_if_needed()
    page.wait_for_function(_TOAST_OVER_JS, arg=selector, timeout=20_000)
    page.locator(selector).click()


def _shot(page, name: str) -> None:
    """A screenshot under benchmarks/out/ (git-ignored) to look at."""
    out = Path(__file__).resolve().parents[2] / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out / f"{name}.png"), full_page=True)


def _no_sideways_scroll(page):
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("device", list(VIEWPORTS))
def test_gallery_favorites_filters_search_compare_zip_delete_and_russian(app_url, browser, device):
    token, jobs = _account(f"gallery-{device}@example.com", 3)
    bob_token, _ = _account(f"bob-{device}@example.com", 0)
    ctx = _context(browser, app_url, token, VIEWPORTS[device])
    page = ctx.new_page()
    page.goto(app_url + "/gallery")
    _tiles(page, 12)
    assert _no_sideways_scroll(page), f"/gallery scrolls sideways on {device}"
    srcs = page.eval_on_selector_all("img.gallery-thumb", "els => els.map(e => e.getAttribute('src'))")
    # nothing is unlocked yet: every tile shows its run's watermarked thumbnail (variants/{n}/thumb.r{run}.jpg)
    assert len(srcs) == 12 and all(re.search(r"/variants/\d+/thumb\.r\d+\.jpg", s) for s in srcs), srcs
    assert page.locator("img.gallery-thumb.is-clean").count() == 0
    assert jobs[2] in srcs[0]  # newest first
    sizes = page.eval_on_selector_all(  # the tap targets on screen (on a phone sign-out is in the menu)
        ".fav-button, #lang-switch, #sign-out, #account-menu",
        "els => els.filter(e => e.getClientRects().length).map(e => [e.id, e.getBoundingClientRect().height])",
    )
    assert {"lang-switch", "account-menu"} <= {i for i, _ in sizes} and min(h for _, h in sizes) >= 44, sizes

    # favorite one, filter to favorites, back
    page.locator(".fav-button").nth(5).click()
    page.wait_for_function(
        "document.querySelectorAll('.fav-button.is-favorite').length === 1", timeout=20_000
    )
    _click(page, "#filter-favorites")
    _tiles(page, 1)
    _click(page, "#filter-favorites")
    _tiles(page, 12)

    # search by the job note, then by a preset name
    page.fill("#gallery-search", "anna")
    page.locator("#gallery-search").press("Enter")
    _tiles(page, 4)
    assert all(jobs[0] in s for s in page.eval_on_selector_all("img.gallery-thumb", "e => e.map(i => i.src)"))
    page.fill("#gallery-search", "warm glow")
    page.locator("#gallery-search").press("Enter")
    _tiles(page, 3)
    page.fill("#gallery-search", "")
    page.locator("#gallery-search").press("Enter")
    _tiles(page, 12)

    # variant page: before/after slider
    page.locator(".tile-link").first.click()
    page.wait_for_url(re.compile(r".*/variant/[0-9a-f]{32}$"), timeout=30_000)
    variant_url = page.url
    page.locator("img.compare-before").wait_for(timeout=30_000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.lm-compare img')].every(i => i.complete && i.naturalWidth > 0)",
        timeout=30_000,
    )
    assert "original_preview.jpg" in page.locator("img.compare-before").get_attribute("src")
    page.locator("#compare").fill("20")
    page.wait_for_function(
        "/(^|[^0-9])(80|20)%/.test(getComputedStyle(document.querySelector('img.compare-before')).clipPath)",
        timeout=10_000,
    )
    assert _no_sideways_scroll(page), f"/variant scrolls sideways on {device}"

    # unlock, then download all unlocked as a ZIP
    page.locator("#variant-unlock").click()
    page.locator("#unlock-dialog-ok").click()  # the confirmation before spending
    page.wait_for_function("document.querySelector('#balance')?.textContent === '2'", timeout=20_000)
    page.locator("#download-full").wait_for(timeout=60_000)  # once the worker has rendered the full size
    with page.expect_download(timeout=30_000) as dl_info:
        _click(page, "#download-zip")
    zip_url = dl_info.value.url
    with zipfile.ZipFile(io.BytesIO(open(dl_info.value.path(), "rb").read())) as zf:
        names = zf.namelist()
    assert len(names) == 1 and re.fullmatch(rf"lashme-{jobs[2][:8]}-1-\w+\.jpg", names[0]), names

    # another user (and a visitor) can neither open the variant page nor use the ZIP link
    bob = _context(browser, app_url, bob_token, VIEWPORTS[device])
    bp = bob.new_page()
    bp.goto(variant_url)
    bp.locator("#variant-not-found").wait_for(timeout=20_000)
    assert bp.request.get(zip_url).status == 404
    bob.close()
    stranger = browser.new_context()
    assert stranger.request.get(zip_url).status == 404
    stranger.close()
    assert page.request.get(zip_url).status == 200

    # delete the variant: back to the gallery, one tile fewer
    _click(page, "#variant-delete")
    page.locator("#confirm-delete").click()
    page.wait_for_url(re.compile(r".*/gallery$"), timeout=30_000)
    _tiles(page, 11)

    # switch to Russian: labels change and stay changed for this account
    assert page.locator("#nav-gallery").text_content() == "Gallery"
    _click(page, "#lang-switch")
    page.wait_for_function(
        "document.querySelector('#nav-gallery')?.textContent === 'Галерея'", timeout=30_000
    )
    page.get_by_text("Ваша галерея").wait_for(timeout=20_000)
    page.goto(app_url + "/dashboard")
    page.get_by_text("Последние обработки").wait_for(timeout=20_000)
    page.wait_for_function(  # the balance arrives with the session, after the page's own words
        "document.querySelector('#dash-available')?.textContent === '2'", timeout=20_000
    )
    assert _no_sideways_scroll(page), f"/dashboard scrolls sideways on {device}"
    ctx.close()


def test_visitor_with_a_russian_browser_gets_russian_and_unknown_pages_get_a_404(app_url, browser):
    ctx = browser.new_context(locale="ru-RU", extra_http_headers={"Accept-Language": "ru-RU,ru;q=0.9"})
    page = ctx.new_page()
    page.goto(app_url + "/")
    page.get_by_text("Продающее фото за 30 секунд").wait_for(timeout=30_000)
    page.goto(app_url + "/no-such-page")
    page.locator("#not-found-title").wait_for(timeout=30_000)
    ctx.close()


def test_zip_of_a_selection_and_restart_of_a_canceled_job_on_a_phone(app_url, browser):
    from lashme.app import gallery
    from lashme.app import job as app_job
    from lashme.app.caller import from_verified_user
    from lashme.credits import unlocks
    from lashme.jobs import fullres
    from lashme.jobs.lifecycle import variants_of

    token, jobs = _account("zip-phone@example.com", 1)
    with session_scope() as s:
        user_id = s.get(Job, jobs[0]).user_id
        vids = [v.id for v in variants_of(s, jobs[0])]
        unlocks.unlock_variant(s, user_id=user_id, variant_id=vids[0], cost=1)
    fullres.render(vids[0])
    caller = from_verified_user(user_id)
    gallery.set_favorite(caller, vids[0], True)
    canceled = uploads.submit_photo(coffee_jpeg(), user_id=user_id, anon_token=None, enqueue=False).id
    app_job.cancel(caller, canceled)

    ctx = _context(browser, app_url, token, VIEWPORTS["phone"])
    page = ctx.new_page()
    page.goto(app_url + "/gallery")
    _tiles(page, 5)  # 4 variants and the canceled job
    _click(page, "#gallery-select")
    page.locator(".select-tile").nth(0).click()  # the variants in order: 0 is unlocked, 1 locked
    page.locator(".select-tile").nth(1).click()
    page.wait_for_function("document.querySelector('#selected-count')?.textContent === 'Selected: 2'")
    assert _no_sideways_scroll(page), "/gallery with the selection bar scrolls sideways"
    with page.expect_download(timeout=30_000) as dl_info:
        page.locator("#zip-selected").click()
    page.get_by_text("Locked photos left out: 1.", exact=False).wait_for(timeout=20_000)
    with zipfile.ZipFile(io.BytesIO(open(dl_info.value.path(), "rb").read())) as zf:
        assert len(zf.namelist()) == 1
    stranger = browser.new_context()
    assert stranger.request.get(dl_info.value.url).status == 404
    stranger.close()

    _shot(page, "gallery-selection-en-390")

    page.goto(app_url + "/dashboard")
    row = page.locator(".dash-job", has_text="You canceled it")
    row.locator(".job-retry", has_text="Start again").click()
    page.get_by_text("as a new job", exact=False).wait_for(timeout=20_000)
    page.wait_for_function("document.querySelectorAll('.dash-job').length === 3", timeout=20_000)
    _shot(page, "dashboard-restarted-en-390")
    ctx.close()

    # in Russian the selection bar's longer words still fit their buttons
    ru = browser.new_context(viewport=VIEWPORTS["phone"], accept_downloads=True, locale="ru-RU")
    ru.add_cookies([{"name": "lashme_session", "value": token, "url": app_url}])
    page = ru.new_page()
    page.goto(app_url + "/gallery")
    page.wait_for_function("document.querySelectorAll('.gallery-tile').length >= 6", timeout=30_000)
    _click(page, "#gallery-select")
    page.locator(".select-tile").nth(0).click()
    page.wait_for_function("document.querySelector('#selected-count')?.textContent === 'Выбрано: 1'")
    overflow = page.eval_on_selector_all(
        "#selection-bar button, #gallery-select",
        "els => els.filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent)",
    )
    assert overflow == [] and _no_sideways_scroll(page), overflow
    _shot(page, "gallery-selection-ru-390")
    ru.close()
