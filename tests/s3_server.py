"""A real S3-compatible server on localhost for tests and benchmarks: moto's, behind a proxy.

`S3Server()` starts moto's standalone server (`ThreadedMotoServer`, in a thread
of this process) and a TCP proxy in front of it; clients use `server.endpoint`
(the proxy). The proxy counts the bytes clients send (`bytes_up`: HTTP
requests, headers included, as the store receives them) and can be taken
down and brought back on the same port (`down()`, `up()`) to play a store
that goes away mid-run.

Example:

```python
with S3Server() as server:
    env = server.environment()           # S3_ENDPOINT, dummy credentials, region
    server.client().create_bucket(Bucket="bucket")
```
"""

import contextlib
import logging
import os
import socket
import threading


class _Proxy:
    """Forwards localhost:port to a target; counts the bytes sent upstream; can go down."""

    def __init__(self, target):
        self.target = target
        self.bytes_up = 0
        self.requests = 0
        self._lock = threading.Lock()
        self._connections = set()
        self._listener = None
        self.port = 0
        self.up()

    def up(self):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self):
        """Stops listening and cuts every open connection: connections are refused."""
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._connections.update((client, upstream))
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, source, sink, counted):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if counted:
                    with self._lock:
                        self.bytes_up += len(data)
                        if data[:4] in (b"PUT ", b"GET ", b"POST", b"HEAD", b"DELE"):
                            self.requests += 1
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)


class S3Server:
    """moto's S3 server in this process, with a proxy in front (see the module's docstring)."""

    def __init__(self):
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._moto.start()
        self._proxy = _Proxy(self._moto.get_host_and_port())
        self.endpoint = f"http://127.0.0.1:{self._proxy.port}"

    @property
    def bytes_up(self):
        return self._proxy.bytes_up

    @property
    def requests(self):
        return self._proxy.requests

    def down(self):
        self._proxy.down()

    def up(self):
        self._proxy.up()

    def environment(self):
        """Variables for boto3 and TensorBoard: endpoint, dummy credentials, region, no IMDS."""
        return {
            "S3_ENDPOINT": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }

    def client(self):
        import boto3

        env = self.environment()
        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name=env["AWS_DEFAULT_REGION"],
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])

    def _direct(self):
        """A boto3 client talking to moto itself, past the proxy (neither counted nor cut)."""
        import boto3

        host, port = self._moto.get_host_and_port()
        return boto3.client("s3", endpoint_url=f"http://{host}:{port}", region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def objects(self, bucket, prefix=""):
        """{key: size} under `prefix`, read straight from moto (not through the proxy)."""
        client = self._direct()
        found = {}
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                                      Prefix=prefix):
            found.update((item["Key"], item["Size"]) for item in page.get("Contents", []))
        return found

    def get(self, bucket, key):
        """The bytes of one object, straight from moto."""
        return self._direct().get_object(Bucket=bucket, Key=key)["Body"].read()

    def stop(self):
        self._proxy.down()
        self._moto.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()
        return False
