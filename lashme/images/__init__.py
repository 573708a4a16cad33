"""Pixels: hostile-upload decoding, previews, watermarks and crops, versioned presets, the studio engine.

``validation`` judges uploads and ``decoding`` holds the guards and the clean RGB every decoder
returns; ``originals`` makes the stored metadata-free original; ``codec`` writes JPEGs without
metadata and decodes stored files at full size; ``working_copy`` makes the downscaled copies the
pipelines work on; ``full_size`` carries an edit over to the full-size image; ``previews`` makes the
derived images (resizing, crops, watermarks) and ``variant_files`` a variant's files from them;
``measures`` holds sharpness and colour measures; ``presets`` holds the preset versions; the studio
engine's ``correction``, ``skin`` and ``retouch``, ``corrected_base`` (the corrected base every look
of a photo shares), ``looks`` (the styles and their per-pixel steps) and ``rendering`` (each look's
strength calibrated per photo, ``render`` and the preset versions' settings; the provider adapter
is ``lashme.providers.studio``); landing ``examples``.  Never imports ``lashme.app`` or a client.
"""
