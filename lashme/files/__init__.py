"""Files: storage back ends, user-bound download links and ZIPs, and the routes that serve them.

Local storage signs expiring URLs; S3 storage presigns GETs. Never imports ``lashme.app`` or a client.
"""
