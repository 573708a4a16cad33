"""Image-generation providers: turn one uploaded photo into enhanced variants."""
