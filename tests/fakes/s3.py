"""A real S3 HTTP endpoint on loopback: moto's ``ThreadedMotoServer`` (path-style addressing).

Moto does not verify presigned signatures or expiry; those are tested on the
local backend, boto3's signer is trusted for S3.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from lashme.ops.redis_server import free_port

ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-key"
REGION = "us-east-1"


@dataclass
class FakeS3:
    endpoint: str
    bucket: str

    def env(self) -> dict[str, str]:
        """The environment that points LashMe at this bucket."""
        return {
            "S3_ENDPOINT_URL": self.endpoint,
            "S3_BUCKET": self.bucket,
            "S3_REGION": REGION,
            "S3_ACCESS_KEY_ID": ACCESS_KEY,
            "S3_SECRET_ACCESS_KEY": SECRET_KEY,
        }

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def new_bucket(self) -> str:
        name = f"lashme-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name


@contextlib.contextmanager
def moto_server() -> Iterator[FakeS3]:
    """Start moto's S3 server on a free loopback port with one empty bucket."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        s3 = FakeS3(endpoint=f"http://127.0.0.1:{port}", bucket="")
        s3.bucket = s3.new_bucket()
        yield s3
    finally:
        server.stop()
