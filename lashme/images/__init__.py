"""Pixels: hostile-upload decoding, previews, watermarks and crops, versioned presets.

``imaging`` decodes and strips uploads, ``previews`` makes the derived files, ``presets`` holds the
preset versions. Never imports ``lashme.app`` or a client.
"""
