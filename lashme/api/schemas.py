"""Response shapes of the REST API v1: the use-cases' own view dataclasses, as OpenAPI documents them.

Keeping the API's JSON the use-cases' views (rather than copies of them) means a field added to a
view reaches both clients.  Only shapes with no use-case view of their own are defined here.
"""

from __future__ import annotations

from pydantic import BaseModel

from lashme.app import credits as credits_uc
from lashme.app import downloads as downloads_uc
from lashme.app import gallery as gallery_uc
from lashme.app import job as job_uc
from lashme.app import upload as upload_uc
from lashme.app import variant as variant_uc

Submitted = upload_uc.Submitted
Job = job_uc.JobView
Variant = variant_uc.VariantPage
Unlocked = variant_uc.Unlocked
DownloadLink = downloads_uc.DownloadLink
GalleryPage = gallery_uc.GalleryPage
LedgerPage = credits_uc.LedgerPage
Balance = credits_uc.BalanceView


class Problem(BaseModel):
    """RFC 9457 problem details, as every error is answered (``application/problem+json``)."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    code: str


#: documented on every route: errors are problem+json
PROBLEM_RESPONSES: dict = {
    code: {"model": Problem, "content": {"application/problem+json": {}}, "description": text}
    for code, text in (
        ("4XX", "Refused: the problem's ``code`` says why (in the caller's language)"),
        ("5XX", "Server error"),
    )
}


class Favorite(BaseModel):
    """A variant's favorite mark after the call."""

    variant_id: str
    favorite: bool
