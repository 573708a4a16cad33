"""The spine in a real browser: anonymous upload → 4 previews → sign up → unlock → download."""

from __future__ import annotations

import io
import re

import piexif
import pytest
from PIL import Image

from tests.fakes.smtp_mailbox import link_in
from tests.photos import grace_hopper_jpeg, with_gps_exif

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _at(url: str) -> re.Pattern:
    """``url`` itself; a full page load (after sign-in/up) serves a static page with a trailing slash."""
    return re.compile(rf"^{re.escape(url.rstrip('/'))}/?$")


def _upload(page, app_url, path):
    page.goto(app_url + "/")
    page.locator("#photo input[type=file]").set_input_files(str(path))
    page.wait_for_url(re.compile(r".*/job/[0-9a-f]{32}$"), timeout=30_000)
    job_id = page.url.rsplit("/", 1)[1]
    page.wait_for_function(
        "(jobId) => { const imgs = [...document.querySelectorAll('img.variant-preview')];"
        " return imgs.length === 4 && imgs.every(i => i.src.includes(jobId) && i.complete && i.naturalWidth > 0); }",
        arg=job_id,
        timeout=60_000,
    )


def test_anonymous_try_signup_unlock_download(app_url, browser, tmp_path, mailbox):
    photo = tmp_path / "work-photo.jpg"
    original = with_gps_exif(grace_hopper_jpeg())
    photo.write_bytes(original)
    src = Image.open(io.BytesIO(original))

    ctx = browser.new_context(viewport={"width": 390, "height": 844}, accept_downloads=True)
    page = ctx.new_page()
    _upload(page, app_url, photo)
    job_url = page.url

    # visitors get server-made previews only: no full-resolution URL anywhere in the page
    srcs = page.eval_on_selector_all("img.variant-preview", "els => els.map(e => e.src)")
    assert all(re.search(r"/preview(\.r\d+)?\.jpg", s) for s in srcs)
    html = page.content()
    assert "full.jpg" not in html and "insta.jpg" not in html
    preview = page.request.get(srcs[0])
    assert preview.ok and max(Image.open(io.BytesIO(preview.body())).size) <= 480
    assert page.locator(".unlock-button").count() == 4

    # another visitor cannot open this job
    other = browser.new_context()
    op = other.new_page()
    op.goto(job_url)
    op.get_by_text("Job not found").wait_for(timeout=20_000)
    other.close()

    # sign up from the call to action; the job is claimed and we come back to it
    page.locator("#cta-signup").click()
    page.wait_for_url(re.compile(r".*/signup.*"))
    page.fill("#email", "master@example.com")
    page.fill("#password", "Lashes2026")
    page.locator("#auth-submit").click()
    page.wait_for_url(_at(job_url), timeout=30_000)
    # the sign-up bonus comes with the emailed confirmation link
    page.wait_for_function("document.querySelector('#balance')?.textContent === '0'", timeout=20_000)
    page.goto(link_in(mailbox.wait_for("master@example.com"), "/verify-email"))
    page.locator("#verify-ok").wait_for(timeout=20_000)
    page.goto(job_url)
    page.wait_for_function("document.querySelector('#balance')?.textContent === '3'", timeout=20_000)

    page.locator(".unlock-button").first.click()
    page.locator("#unlock-dialog-ok").click()  # the confirmation before spending
    page.wait_for_function("document.querySelector('#balance')?.textContent === '2'", timeout=20_000)
    page.locator(".download-full").first.wait_for(timeout=20_000)

    with page.expect_download(timeout=30_000) as dl_info:
        page.locator(".download-full").first.click()
    path = dl_info.value.path()
    blob = open(path, "rb").read()
    full = Image.open(io.BytesIO(blob))
    assert full.format == "JPEG"
    assert full.size == src.size  # full size is the upload's own resolution
    assert piexif.load(blob)["GPS"] == {} and "exif" not in full.info

    # re-download is free
    with page.expect_download(timeout=30_000):
        page.locator(".download-full").first.click()
    assert page.locator("#balance").text_content() == "2"

    # sign out: the job now belongs to the account, not to the browser
    page.locator("#account-menu").click()  # on a phone, sign-out lives in the account menu
    page.locator("#menu-sign-out").click()
    # the route clears the cookie, then home loads afresh (a goto before that load would be aborted)
    page.wait_for_url(_at(app_url + "/"), timeout=30_000)
    page.locator("#nav-signup").wait_for(timeout=20_000)
    page.goto(job_url)
    page.get_by_text("Job not found").wait_for(timeout=20_000)

    # sign in again: the unlock is remembered, nothing is charged twice
    page.goto(app_url + "/login?next=/job/" + job_url.rsplit("/", 1)[1])
    page.fill("#email", "MASTER@example.com ")
    page.fill("#password", "Lashes2026")
    page.locator("#auth-submit").click()
    page.wait_for_url(_at(job_url), timeout=30_000)
    page.wait_for_function("document.querySelector('#balance')?.textContent === '2'", timeout=20_000)
    page.locator(".download-full").wait_for(timeout=20_000)
    assert page.locator(".download-full").count() == 1
    assert page.locator(".unlock-button").count() == 3
    ctx.close()


def test_wrong_password_is_refused(app_url, browser):
    ctx = browser.new_context()
    page = ctx.new_page()
    page.goto(app_url + "/login")
    page.fill("#email", "nobody@example.com")
    page.fill("#password", "Whatever123")
    page.locator("#auth-submit").click()
    page.locator("#auth-error").wait_for(timeout=20_000)
    assert "Wrong email or password" in page.locator("#auth-error").text_content()
    assert page.locator("#balance").count() == 0
    ctx.close()


def test_rejected_upload_shows_a_message_and_stores_nothing(app_url, browser, tmp_path):
    bad = tmp_path / "not-a-photo.jpg"
    bad.write_bytes(b"<html>definitely not a jpeg</html>")
    ctx = browser.new_context()
    page = ctx.new_page()
    page.goto(app_url + "/")
    page.locator("#photo input[type=file]").set_input_files(str(bad))
    err = page.locator("#upload-error")
    err.wait_for(timeout=20_000)
    assert "not a photo" in err.text_content()
    assert "/job/" not in page.url
    ctx.close()
