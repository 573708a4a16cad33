"""One module per page; each holds its small state beside the page function.

A larger state has a module of its own next to its page: ``gallery_state``, ``variant_state``.
"""
