"""Schemathesis over the REST API's own OpenAPI document: no 5xx, responses match the schema."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance

from lashme.accounts import auth
from lashme.api.main import PREFIX, build
from lashme.app import api_tokens
from lashme.app.caller import from_verified_user
from lashme.files.files_api import build_api
from lashme.ops.db import session_scope


def _app():
    backend = build_api()
    backend.mount(PREFIX, build())
    return backend


schema = schemathesis.openapi.from_asgi(f"{PREFIX}/openapi.json", _app())


@pytest.fixture(scope="module")
def token():
    with session_scope() as s:
        uid = auth.sign_up(s, email="fuzz@example.com", password="Secret123", signup_bonus=3).id
    return api_tokens.create(from_verified_user(uid), name="fuzz", write=True).secret


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case, token):
    if case.path.endswith("/events"):
        pytest.skip(
            "a stream: tests/integration/app/test_api.py::test_job_events_stream_sends_the_job_until_it_is_final"
        )
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
    response = case.call()
    case.validate_response(
        response, checks=[not_a_server_error, response_schema_conformance, content_type_conformance]
    )
