"""The thin Reflex layer: states call the core, pages render states."""
