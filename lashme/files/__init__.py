"""Files: storage back ends, user-bound download links and ZIPs, and the routes that serve them.

Local storage URLs and download links are signed by the one link signer (``signing``, itsdangerous);
S3 storage presigns GETs. Never imports ``lashme.app`` or a client.
"""
