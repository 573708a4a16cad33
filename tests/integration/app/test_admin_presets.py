"""Admin presets: refusals, versions with job counts, publish/activate/deactivate, pinning, studio strength."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from lashme.accounts import auth
from lashme.app.admin import jobs as admin_jobs
from lashme.app.admin import presets as admin_presets
from lashme.app.admin.guard import AdminRequired
from lashme.errors import DomainError, NotFound
from lashme.files.storage import get_storage
from lashme.images import presets, rendering, working_copy
from lashme.images.presets import NoActivePresets
from lashme.jobs import generation, uploads
from lashme.jobs.lifecycle import variants_of
from lashme.jobs.provider_runs import DbJobContext
from lashme.models import AdminAction, Job, JobStatus, PresetVersion
from lashme.ops.db import session_scope
from lashme.ops.settings import get_settings
from lashme.providers import studio
from lashme.providers.base import STUDIO_PRESETS, ProviderError
from tests.dbutil import count
from tests.photos import coffee_jpeg, grace_hopper_jpeg


def _call(fn, actor, *args, **kwargs):
    with session_scope() as s:
        return fn(s, actor, *args, **kwargs)


def _preset(infos, provider, name):
    return next(p for p in infos if (p.provider, p.name) == (provider, name))


def _audits(action):
    with session_scope() as s:
        return list(
            s.execute(
                select(AdminAction).where(AdminAction.action == action).order_by(AdminAction.id)
            ).scalars()
        )


def _submit(user_id=None) -> str:
    return uploads.submit_photo(coffee_jpeg(), user_id=user_id, anon_token="t", enqueue=False).id


def _variant_arrays(job_id) -> dict[str, np.ndarray]:
    """The delivered image of each variant: unlocked, then rendered at full size as the worker does."""
    from lashme.jobs import fullres
    from lashme.models import Unlock, User

    storage = get_storage()
    with session_scope() as s:
        uid = s.execute(select(User.id).limit(1)).scalar_one()
        vids = [v.id for v in variants_of(s, job_id)]
        s.add_all(Unlock(user_id=uid, variant_id=vid) for vid in vids)
    for vid in vids:
        fullres.render(vid, storage=storage)
    with session_scope() as s:
        return {
            v.preset: np.asarray(
                Image.open(io.BytesIO(storage.get(v.full_key))).convert("RGB"), dtype=np.int16
            )
            for v in variants_of(s, job_id)
        }


def _original_array(job_id) -> np.ndarray:
    with session_scope() as s:
        key = s.get(Job, job_id).original_key
    return np.asarray(working_copy.load_for_processing(get_storage().get(key)), dtype=np.int16)


def test_every_service_function_refuses_visitors_and_normal_users(staff):
    with session_scope() as s:
        bob = auth.user_for_token(s, staff["bob_token"]).id
        vid = s.execute(select(PresetVersion.id).limit(1)).scalar_one()
    calls = [
        (admin_presets.list_presets, (), {}),
        (admin_presets.publish, ("studio", "natural"), {"prompt": "", "strength": 0.5, "params": {}}),
        (admin_presets.activate, (vid,), {}),
        (admin_presets.deactivate, ("studio", "natural"), {}),
    ]
    for actor in (None, staff["alice"], bob):
        for fn, args, kwargs in calls:
            with pytest.raises(AdminRequired):
                _call(fn, actor, *args, **kwargs)
    with session_scope() as s:
        assert count(s, AdminAction) == 0
        assert count(s, PresetVersion) == 8 and count(s, PresetVersion, PresetVersion.active) == 8


def test_list_shows_both_providers_presets_with_versions_and_job_counts(staff):
    infos = _call(admin_presets.list_presets, staff["admin"])
    assert [(p.provider, p.name) for p in infos] == [("studio", n) for n in STUDIO_PRESETS] + [
        ("fal", n) for n in STUDIO_PRESETS
    ]
    natural = _preset(infos, "studio", "natural")
    (v1,) = natural.versions
    assert natural.active and natural.active_version_id == v1.id
    assert (v1.version, v1.model, v1.strength, v1.params, v1.active) == (1, "studio", 1.0, {}, True)
    assert v1.jobs == 2  # the world's two jobs pinned it
    fal = _preset(infos, "fal", "natural").versions[0]
    assert fal.jobs == 0 and fal.model == presets.FAL_MODEL and fal.prompt.startswith(presets.BASE_PROMPT)


def test_publish_activate_and_deactivate_with_audit(staff):
    admin = staff["admin"]
    new = _call(
        admin_presets.publish,
        admin,
        "studio",
        "warm_glow",
        prompt=" Softer glow ",
        strength="0.6",
        params={"saturation": 1.2},
    )
    assert (new.version, new.strength, new.params, new.prompt, new.model) == (
        2,
        0.6,
        {"saturation": 1.2},
        "Softer glow",
        "studio",
    )
    warm = _preset(_call(admin_presets.list_presets, admin), "studio", "warm_glow")
    assert [(v.version, v.active, v.jobs) for v in warm.versions] == [(2, True, 0), (1, False, 2)]
    (pub,) = _audits("preset_publish")
    assert pub.target_type == "preset" and pub.target_id == "studio:warm_glow" and pub.actor_id == admin
    assert pub.before["version"] == 1 and pub.after == {
        "id": new.id,
        "version": 2,
        "model": "studio",
        "prompt": "Softer glow",
        "strength": 0.6,
        "params": {"saturation": 1.2},
    }
    old = warm.versions[1].id
    assert _call(admin_presets.activate, admin, old) == old
    warm = _preset(_call(admin_presets.list_presets, admin), "studio", "warm_glow")
    assert [(v.version, v.active) for v in warm.versions] == [(2, False), (1, True)]
    (act,) = _audits("preset_activate")
    assert act.before == {"active_version_id": new.id, "active_version": 2}
    assert act.after == {"active_version_id": old, "active_version": 1}
    _call(admin_presets.activate, admin, old)  # already active: no change, no audit row
    assert len(_audits("preset_activate")) == 1
    with pytest.raises(NotFound):
        _call(admin_presets.activate, admin, 10**9)
    _call(admin_presets.deactivate, admin, "studio", "warm_glow")
    warm = _preset(_call(admin_presets.list_presets, admin), "studio", "warm_glow")
    assert not warm.active and warm.active_version_id is None
    (off,) = _audits("preset_deactivate")
    assert (
        off.before == {"active_version_id": old, "active_version": 1}
        and off.after["active_version_id"] is None
    )
    with pytest.raises(DomainError) as err:
        _call(admin_presets.deactivate, admin, "studio", "warm_glow")
    assert err.value.key == "admin.presets.already_off"
    fal = _call(
        admin_presets.publish,
        admin,
        "fal",
        "natural",
        prompt="A new prompt",
        strength=0.3,
        params={"num_inference_steps": 28, "image_size": "square_hd"},
    )
    assert fal.model == presets.FAL_MODEL and fal.version == 2


@pytest.mark.parametrize(
    ("provider", "name", "kwargs", "key"),
    [
        ("midjourney", "natural", {}, "admin.presets.unknown"),
        ("studio", "cartoonify", {}, "admin.presets.unknown"),
        ("studio", "natural", {"strength": 1.5}, "admin.presets.bad_strength"),
        ("studio", "natural", {"strength": -0.1}, "admin.presets.bad_strength"),
        ("studio", "natural", {"strength": "nan"}, "admin.presets.bad_strength"),
        ("studio", "natural", {"strength": True}, "admin.presets.bad_strength"),
        ("studio", "natural", {"prompt": "x" * 2001}, "admin.presets.prompt_too_long"),
        ("fal", "natural", {"prompt": "   "}, "admin.presets.prompt_required"),
        ("studio", "natural", {"params": ["saturation", 1]}, "admin.presets.params_not_object"),
        ("studio", "natural", {"params": {"num_images": 1}}, "admin.presets.bad_param"),
        ("studio", "natural", {"params": {"saturation": 3}}, "admin.presets.bad_param"),
        ("studio", "natural", {"params": {"saturation": "1"}}, "admin.presets.bad_param"),
        ("fal", "natural", {"params": {"num_images": 4}}, "admin.presets.bad_param"),
        ("fal", "natural", {"params": {"enable_safety_checker": False}}, "admin.presets.bad_param"),
        ("fal", "natural", {"params": {"image_size": "huge"}}, "admin.presets.bad_param"),
        ("studio", "natural", {"model": "fal-ai/flux"}, "admin.presets.bad_model"),
        ("fal", "natural", {"model": "fal-ai/../x"}, "admin.presets.bad_model"),
        ("fal", "natural", {"model": "a b"}, "admin.presets.bad_model"),
    ],
)
def test_publish_validates_every_argument(staff, provider, name, kwargs, key):
    args = {"prompt": "A prompt", "strength": 0.5, "params": {}, **kwargs}
    with pytest.raises(DomainError) as err:
        _call(admin_presets.publish, staff["admin"], provider, name, **args)
    assert err.value.key == key
    with session_scope() as s:
        assert count(s, PresetVersion) == 8 and count(s, AdminAction) == 0


def test_deactivated_presets_are_skipped_and_all_off_refuses_new_jobs(staff):
    admin = staff["admin"]
    _call(admin_presets.deactivate, admin, "studio", "soft_focus")
    jid = _submit()
    with session_scope() as s:
        job = s.get(Job, jid)
        assert job.presets == ["natural", "warm_glow", "crisp_detail"] and len(job.preset_version_ids) == 3
    assert generation.run(jid) == JobStatus.DONE
    with session_scope() as s:
        assert [v.preset for v in variants_of(s, jid)] == ["natural", "warm_glow", "crisp_detail"]
    for name in ("natural", "warm_glow", "crisp_detail"):
        _call(admin_presets.deactivate, admin, "studio", name)
    with session_scope() as s:
        jobs_before = count(s, Job)
    with pytest.raises(NoActivePresets) as err:
        _submit()
    assert err.value.key == "generation.no_active_presets" and isinstance(err.value, DomainError)
    with session_scope() as s:
        assert count(s, Job) == jobs_before
    with session_scope() as s:  # the fal presets are still on, but this app runs studio
        assert count(s, PresetVersion, PresetVersion.active, PresetVersion.provider == "fal") == 4
    infos = _call(admin_presets.list_presets, admin)
    _call(admin_presets.activate, admin, _preset(infos, "studio", "crisp_detail").versions[0].id)
    with session_scope() as s:
        assert s.get(Job, _submit()).presets == ["crisp_detail"]


def test_a_job_keeps_its_pinned_versions_after_a_new_version_is_published(staff):
    admin = staff["admin"]
    before = _submit()
    with session_scope() as s:
        pinned = s.get(Job, before).preset_version_ids
    # warm_glow: natural leaves a well-balanced photo nearly alone, so it would not show the change
    _call(admin_presets.publish, admin, "studio", "warm_glow", prompt="", strength=0.0, params={})
    after = _submit()
    with session_scope() as s:
        assert s.get(Job, before).preset_version_ids == pinned
        now = s.get(Job, after).preset_version_ids
    assert now[1] != pinned[1] and now[0] == pinned[0] and now[2:] == pinned[2:]
    assert generation.run(before) == JobStatus.DONE and generation.run(after) == JobStatus.DONE
    # the new job ran the new version (strength 0.0: the original, up to JPEG re-encoding); the
    # pinned job still ran version 1, which visibly enhances
    old_warm = np.abs(_variant_arrays(before)["warm_glow"].astype(float) - _original_array(before)).mean()
    new_warm = np.abs(_variant_arrays(after)["warm_glow"].astype(float) - _original_array(after)).mean()
    assert new_warm < 1.5 and old_warm > 3.0, (old_warm, new_warm)
    d = _call(admin_jobs.job_detail, admin, before)
    assert [p.id for p in d.preset_versions] == pinned


def test_fal_jobs_pin_the_active_fal_versions_at_creation(staff, monkeypatch):
    monkeypatch.setenv("FAL_KEY", "k:s")
    get_settings.cache_clear()
    try:
        jid = uploads.submit_photo(coffee_jpeg(), user_id=None, anon_token="f", enqueue=False).id
    finally:
        monkeypatch.delenv("FAL_KEY")
        get_settings.cache_clear()
    with session_scope() as s:
        job = s.get(Job, jid)
        fal_ids = [v.id for v in presets.active_for_provider(s, "fal")]
    assert job.provider == "fal" and job.preset_version_ids == fal_ids
    _call(admin_presets.publish, staff["admin"], "fal", "natural", prompt="Changed", strength=0.2, params={})
    versions = DbJobContext(job).preset_versions("fal", job.presets)
    assert [v.id for v in versions] == fal_ids and versions[0].prompt != "Changed"


def test_studio_strength_one_is_the_pipeline_exactly_and_zero_the_original():
    data = grace_hopper_jpeg()
    provider = studio.StudioProvider()
    base = np.asarray(working_copy.load_for_processing(data))
    plain = provider.generate(data, STUDIO_PRESETS)
    full = provider.generate(data, STUDIO_PRESETS, settings=[rendering.StudioSettings(strength=1.0)] * 4)
    none = provider.generate(data, STUDIO_PRESETS, settings=[rendering.StudioSettings(strength=0.0)] * 4)
    half = provider.generate(data, ["warm_glow"], settings=[rendering.StudioSettings(strength=0.5)])[0]
    for a, b, c in zip(plain, full, none, strict=True):
        assert np.array_equal(np.asarray(a.image), np.asarray(b.image))
        assert np.array_equal(
            np.asarray(a.image), np.asarray(rendering.PIPELINES[a.preset](Image.fromarray(base)))
        )
        assert np.array_equal(np.asarray(c.image), base)
    warm = np.asarray(plain[1].image, dtype=np.float64)
    assert np.abs(np.asarray(half.image) - (base + warm) / 2).max() <= 1.0
    grey = provider.generate(
        data, ["natural"], settings=[rendering.StudioSettings.from_version(1.0, {"saturation": 0})]
    )
    arr = np.asarray(grey[0].image, dtype=np.int16)
    assert np.abs(arr[..., 0] - arr[..., 2]).max() <= 1
    with pytest.raises(ProviderError):
        provider.generate(data, STUDIO_PRESETS, settings=[rendering.DEFAULT_SETTINGS])


def test_migration_seeds_the_studio_presets_like_the_code(clean_db):
    with session_scope() as s:
        rows = list(
            s.execute(
                select(PresetVersion).where(PresetVersion.provider == "studio").order_by(PresetVersion.id)
            ).scalars()
        )
        assert [r.name for r in rows] == list(STUDIO_PRESETS) == list(presets.STUDIO_DESCRIPTIONS)
        for r in rows:
            assert (r.version, r.model, r.prompt, r.strength, r.params, r.active) == (
                1,
                "studio",
                presets.STUDIO_DESCRIPTIONS[r.name],
                1.0,
                {},
                True,
            )
        assert presets.ensure_studio_defaults(s) == 0


def test_presets_page_handlers_refuse_non_admins_and_publish_for_admins(staff):
    from lashme.ui.admin.presets import AdminPresetsState
    from tests.integration.app.test_handlers import _spec_text, _state

    with session_scope() as s:
        v1 = s.execute(
            select(PresetVersion.id).where(
                PresetVersion.provider == "studio", PresetVersion.name == "natural"
            )
        ).scalar_one()
    for token in (staff["bob_token"], staff["alice_token"]):
        st = _state(AdminPresetsState, token=token)
        AdminPresetsState.on_load.fn(st)
        assert st.presets == []
        AdminPresetsState.start_edit.fn(st, "studio:natural")
        assert not st.editing and st.e_prompt == ""
        st.e_provider, st.e_name = "studio", "natural"
        form = {"prompt": "", "strength": "0.1", "params": "{}"}
        assert "staff only" in _spec_text(AdminPresetsState.publish.fn(st, form))
        assert "staff only" in _spec_text(AdminPresetsState.deactivate.fn(st, "studio:natural"))
        assert "staff only" in _spec_text(AdminPresetsState.activate.fn(st, v1))
        assert st.presets == []
    with session_scope() as s:
        assert count(s, PresetVersion) == 8 and count(s, PresetVersion, PresetVersion.active) == 8

    st = _state(AdminPresetsState, token=staff["admin_token"])
    AdminPresetsState.on_load.fn(st)
    assert [p["key"] for p in st.presets][:4] == [f"studio:{n}" for n in STUDIO_PRESETS]
    assert st.presets[0]["versions"][0]["jobs"] == 2
    AdminPresetsState.start_edit.fn(st, "studio:natural")
    assert st.editing and st.e_strength == "1" and st.e_params == "{}" and st.e_allowed == "detail, saturation, smoothing"
    form = {"prompt": st.e_prompt, "strength": "0.7", "params": "{saturation: 1}"}
    assert "JSON object" in _spec_text(AdminPresetsState.publish.fn(st, form)) and st.editing
    form["params"] = '{"saturation": 0.8}'
    assert "from 0 to 1" in _spec_text(AdminPresetsState.publish.fn(st, {**form, "strength": ["1"]}))
    assert "Version 2" in _spec_text(AdminPresetsState.publish.fn(st, form)) and not st.editing
    natural = st.presets[0]
    assert [(v["version"], v["active"], v["strength"], v["params"]) for v in natural["versions"]] == [
        (2, True, "0.7", '{"saturation": 0.8}'),
        (1, False, "1", "{}"),
    ]
    AdminPresetsState.activate.fn(st, v1)
    assert [v["active"] for v in st.presets[0]["versions"]] == [False, True]
    AdminPresetsState.deactivate.fn(st, "studio:natural")
    assert st.presets[0]["active"] is False
    assert "no such preset" in _spec_text(AdminPresetsState.deactivate.fn(st, "studio:'; drop")).lower()
