"""Where a run's event files go: a local folder, or a URL TensorBoard can read.

A `log_dir` is one of:

- a local path (or `file://` URL): event files are written as they always were;
- `s3://BUCKET/path`: written with boto3, always, even when TensorFlow is
  imported. TensorBoard reads S3 with boto3 too when TensorFlow is not
  installed (its own `tensorflow_stub` gfile, endpoint from `S3_ENDPOINT`);
  TensorFlow's `tf.io.gfile` speaks `s3://` only through tensorflow-io, whose
  last release predates current TensorFlow. The endpoint is the same
  `S3_ENDPOINT` TensorBoard uses (a URL such as `http://localhost:9000`),
  else boto3's own configuration (`AWS_ENDPOINT_URL`, profiles, AWS itself);
- any other `scheme://` URL: through `tf.io.gfile` when TensorFlow is already
  imported and knows the scheme (e.g. `gs://`), otherwise through fsspec, the
  library TensorBoard's own gfile uses for such URLs (e.g. gcsfs for `gs://`).
  TensorFlow is never imported here.

Object stores have no append: a remote run is uploaded in segments, each a
complete event file (see `tb_fitviz.event_file`). This module knows only how
to check a log dir and how to put one whole object into it.
"""

import contextlib
import os
import re
import socket
import sys
import tempfile
import uuid

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")

# Schemes `tb-fitviz runs/export` read through TensorFlow when it is installed
# (what TensorBoard does); every other URL is read through TensorBoard's own
# gfile (boto3 for s3://, fsspec for the rest).
TENSORFLOW_READ_SCHEMES = frozenset({"gs", "hdfs", "viewfs", "ram"})

# The probe at construction must fail fast (no hang); uploads may take longer.
PROBE_CONNECT_SECONDS = 3
PROBE_READ_SECONDS = 5
UPLOAD_CONNECT_SECONDS = 5
UPLOAD_READ_SECONDS = 60
UPLOAD_ATTEMPTS = 3


class UploadWarning(UserWarning):
    """A remote log dir could not be written; FitViz keeps the records and retries."""


def scheme(path):
    """The URL scheme of `path` in lower case ("s3", "gs", ...), or None for a plain path."""
    match = _SCHEME.match(os.fspath(path)) if isinstance(path, (str, os.PathLike)) else None
    return match.group(1).lower() if match else None


def is_remote(path):
    """Whether `path` is a URL other than `file://` (written object by object)."""
    return scheme(path) not in (None, "file")


def local_path(path):
    """`path` as a local path: `file://` stripped, anything else unchanged."""
    path = os.fspath(path)
    if scheme(path) == "file":
        return path[len("file://"):]
    return path


def reads_with_tensorflow(logdir):
    """Whether TensorBoard's readers should use TensorFlow (if installed) for `logdir`."""
    return scheme(logdir) in TENSORFLOW_READ_SCHEMES


def prepare_log_dir(log_dir):
    """Checks that a run can be written to `log_dir`, creating a local folder if needed.

    Raises:
        ValueError: the folder cannot be created or written, the URL is
            malformed, its bucket does not exist, its endpoint cannot be
            reached, or no library here speaks its scheme.
        PermissionError: the store refuses the credentials, or there are none.
        Every message starts with "log_dir:" and says what to do.
    """
    if not log_dir:
        raise ValueError("log_dir: expected a directory path, got an empty string")
    if is_remote(log_dir):
        open_store(log_dir).probe()
        return
    _prepare_local(local_path(log_dir))


def _prepare_local(log_dir):
    if os.path.exists(log_dir) and not os.path.isdir(log_dir):
        raise ValueError(f"log_dir: {log_dir!r} exists and is not a directory")
    try:
        os.makedirs(log_dir, exist_ok=True)
    except OSError as error:
        raise ValueError(f"log_dir: cannot create {log_dir!r}: {error.strerror}") from None
    try:  # os.access says yes to root even on read-only mounts: try it.
        with tempfile.TemporaryFile(dir=log_dir):
            pass
    except OSError as error:
        raise ValueError(f"log_dir: {log_dir!r} is not writable: {error.strerror}") from None


def check_readable(logdir, label="LOGDIR"):
    """For a reader: raises ValueError/PermissionError ("LOGDIR: ...") if an s3:// `logdir`
    cannot be listed (missing bucket, unreachable endpoint, credentials); fast.

    Other URLs are left to TensorBoard's readers.
    """
    if scheme(logdir) == "s3":
        open_store(logdir).probe(write=False, label=label)


def prepare_reading(logdir):
    """Lets TensorBoard's readers in this process reach a remote `logdir`, or says why not.

    For s3:// and the other URLs TensorFlow does not speak itself, TensorBoard
    must read through its own gfile (boto3, fsspec), not `tf.io.gfile`: this
    switches TensorBoard to it (its "no TensorFlow" mode, the module
    `tensorboard.compat.notf`) unless it has already chosen. Local paths and
    gs:// are left alone.

    Raises:
        ValueError: TensorBoard already reads through TensorFlow here, and
            TensorFlow cannot read `logdir` (s3:// needs tensorflow-io).
    """
    if not is_remote(logdir) or reads_with_tensorflow(logdir):
        return
    import types

    from tensorboard import compat

    chosen = vars(compat.tf).get("__name__")  # set once TensorBoard's lazy `tf` is loaded
    if chosen == "tensorboard.compat.tf":  # not chosen yet
        name = "tensorboard.compat.notf"
        sys.modules.setdefault(name, types.ModuleType(name))
    elif chosen == "tensorflow" and _tensorflow_gfile(logdir) is None:
        raise ValueError(
            f"LOGDIR: TensorBoard's readers in this process already use TensorFlow, which "
            f"cannot read {scheme(logdir)}:// URLs (s3:// needs tensorflow-io): read "
            f"{logdir} from a new process (e.g. tb-fitviz export), where TensorBoard's own "
            "file layer is used")


def open_store(url):
    """The store behind a remote `url`: `S3Store` for s3://, `FileSystemStore` otherwise."""
    url = os.fspath(url).rstrip("/")
    if scheme(url) == "s3":
        return S3Store(url)
    return FileSystemStore(url)


def _probe_name():
    return f".fitviz-write-probe.{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex[:8]}"


class S3Store:
    """A run directory in an S3 bucket (AWS, MinIO, Ceph, moto, ...), through boto3.

    Attributes:
        url: "s3://bucket/prefix".
        bytes_sent, puts: payload bytes and PUT requests sent so far (failed
            attempts included), for benchmarks.
    """

    def __init__(self, url):
        self.url = url
        bucket, _, prefix = url[len("s3://"):].partition("/")
        if not bucket:
            raise ValueError(f"log_dir: {url!r} names no bucket; expected s3://BUCKET/path/to/run")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint = os.environ.get("S3_ENDPOINT") or None
        self.bytes_sent = 0
        self.puts = 0
        self._session = None
        self._upload_client = None

    def _where(self):
        return (f"the S3 endpoint {self.endpoint} (S3_ENDPOINT)" if self.endpoint
                else "S3 (boto3's default endpoint; set S3_ENDPOINT for another store)")

    def _client(self, connect, read, attempts):
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise ValueError(
                f"log_dir: {self.url} needs boto3, which is not installed: "
                "pip install boto3 (or tb_fitviz[s3])") from None
        if self._session is None:
            self._session = boto3.session.Session()
        config = Config(connect_timeout=connect, read_timeout=read,
                        retries={"total_max_attempts": attempts, "mode": "standard"})
        try:
            return self._session.client("s3", endpoint_url=self.endpoint, config=config)
        except ValueError as error:  # botocore: "Invalid endpoint: localhost:9000"
            raise ValueError(
                f"log_dir: S3_ENDPOINT={self.endpoint!r} is not usable ({error}): "
                "give a URL such as http://localhost:9000") from None

    def key(self, name):
        return f"{self.prefix}/{name}" if self.prefix else name

    def join(self, name):
        return f"{self.url}/{name}"

    def probe(self, write=True, label="log_dir"):
        """Lists the run's prefix and writes (then deletes) a tiny object, failing fast.

        Raises ValueError or PermissionError whose message starts with `label`.
        """
        try:
            self._probe(write)
        except (ValueError, PermissionError) as error:
            if label == "log_dir":
                raise
            message = str(error)
            if message.startswith("log_dir:"):
                message = label + message[len("log_dir"):]
            raise type(error)(message) from None

    def _probe(self, write):
        import botocore.exceptions as bex

        client = self._client(PROBE_CONNECT_SECONDS, PROBE_READ_SECONDS, 1)
        no_credentials = PermissionError(
            f"log_dir: no AWS credentials found for {self.url}: set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE, or ~/.aws/credentials)")
        if self._session.get_credentials() is None:
            raise no_credentials
        probe_key = self.key(_probe_name())
        try:
            client.list_objects_v2(Bucket=self.bucket, Prefix=self.key(""), MaxKeys=1)
            if write:
                client.put_object(Bucket=self.bucket, Key=probe_key, Body=b"")
        except bex.NoCredentialsError:
            raise no_credentials from None
        except (bex.EndpointConnectionError, bex.ConnectTimeoutError, bex.ReadTimeoutError,
                bex.ConnectionClosedError) as error:
            raise ValueError(
                f"log_dir: cannot reach {self._where()} for {self.url}: {error}. Check the "
                "address and that the store is running") from None
        except bex.ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            message = error.response.get("Error", {}).get("Message", "")
            if code == "NoSuchBucket":
                raise ValueError(
                    f"log_dir: bucket {self.bucket!r} does not exist at {self._where()}: create "
                    f"it first (e.g. aws s3 mb s3://{self.bucket}) or fix the URL") from None
            if code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch",
                        "ExpiredToken", "InvalidToken", "AllAccessDisabled"):
                raise PermissionError(
                    f"log_dir: {self.url} refused by {self._where()} ({code}: {message}): check "
                    f"the AWS credentials and that they may list{' and write' if write else ''} s3://{self.bucket}/"
                    f"{self.key('')}") from None
            raise ValueError(
                f"log_dir: {self._where()} answered {code or 'an error'} for {self.url}"
                f"{': ' + message if message else ''}") from None
        except bex.BotoCoreError as error:
            raise ValueError(f"log_dir: cannot use {self.url}: {error}") from None
        if not write:
            return
        # Credentials may write but not delete: the probe object is then left (TensorBoard
        # ignores it).
        with contextlib.suppress(Exception):
            client.delete_object(Bucket=self.bucket, Key=probe_key)

    def put(self, name, data):
        """Writes one whole object (raises botocore's errors)."""
        if self._upload_client is None:
            self._upload_client = self._client(
                UPLOAD_CONNECT_SECONDS, UPLOAD_READ_SECONDS, UPLOAD_ATTEMPTS)
        self.puts += 1
        self.bytes_sent += len(data)
        self._upload_client.put_object(Bucket=self.bucket, Key=self.key(name), Body=data)


class FileSystemStore:
    """A run directory behind another URL: `tf.io.gfile` if TensorFlow is imported, else fsspec."""

    def __init__(self, url):
        self.url = url
        self.bytes_sent = 0
        self.puts = 0
        self._gfile = _tensorflow_gfile(url)
        self._fs = None
        if self._gfile is None:
            try:
                import fsspec

                self._fs, self._path = fsspec.core.url_to_fs(url)
            except (ImportError, ValueError) as error:
                name = scheme(url)
                raise ValueError(
                    f"log_dir: nothing here writes {name}:// URLs ({error}): install fsspec's "
                    f"implementation for {name}:// (e.g. gcsfs for gs://), or import tensorflow "
                    "before creating the writer if tf.io.gfile supports it") from None

    @property
    def uses_tensorflow(self):
        return self._gfile is not None

    def join(self, name):
        return f"{self.url}/{name}"

    def probe(self):
        name = _probe_name()
        try:
            if self._gfile is not None:
                self._gfile.makedirs(self.url)
                self.put(name, b"", count=False)
                self._gfile.remove(self.join(name))
            else:
                self._fs.makedirs(self._path, exist_ok=True)
                self.put(name, b"", count=False)
                self._fs.rm(f"{self._path}/{name}")
        except PermissionError as error:
            raise PermissionError(f"log_dir: {self.url} refused the write: {error}") from None
        except Exception as error:  # noqa: BLE001  (each file system raises its own types)
            raise ValueError(f"log_dir: cannot write {self.url}: {error}") from None

    def put(self, name, data, count=True):
        if count:
            self.puts += 1
            self.bytes_sent += len(data)
        if self._gfile is not None:
            with self._gfile.GFile(self.join(name), "wb") as file:
                file.write(data)
        else:
            self._fs.pipe_file(f"{self._path}/{name}", data)


def _tensorflow_gfile(url):
    """`tf.io.gfile` if TensorFlow is already imported and knows the URL's scheme."""
    tf = sys.modules.get("tensorflow")
    gfile = getattr(getattr(tf, "io", None), "gfile", None)
    if gfile is None:
        return None
    try:
        gfile.exists(url)
    except tf.errors.UnimplementedError:  # "File system scheme 'x' not implemented"
        return None
    except Exception:  # noqa: BLE001  (it knows the scheme; the probe reports the rest)
        pass
    return gfile
