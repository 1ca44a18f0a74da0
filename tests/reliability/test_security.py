"""Security: no secret in what the job writes or ships, TLS verified on every https endpoint, and an
IAM policy scoped to named resources.

- The real job runs against moto and the local model server with distinctive AWS credentials
  (and, for API Gateway, a distinctive API key); its log, Flink's log folder, every S3 object it
  wrote (windows, dead letters, the delivery stream's objects) must hold none of them.  The
  application zip must hold no AWS key, no secret key value and no credentials file.
- The inference stage refuses a server whose certificate it cannot verify (unknown CA, wrong
  name) and dead-letters the record with the certificate problem as the reason; trusting the CA
  through ``SSL_CERT_FILE`` makes the same call succeed.  No property turns verification off and
  no source of the job does.
- Every IAM statement of the CloudFormation template names its resources; the statements that
  cannot are listed here, so a new wildcard fails.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import gzip
import io
import ipaddress
import json
import os
import re
import secrets
import ssl
import subprocess
import sys
import threading
import uuid
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from botocore.credentials import Credentials
from cfnlint.decode import decode_str
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyflink.common import Row

from config import ConfigError, build_config, load_property_groups, write_property_groups
from deploy.local.job_process import PROJECT_ROOT, running_job
from deploy.local.model_server import Faults, ModelServer, ModelServerHandle, running_model_server
from deploy.local.stack import LOCAL_CREDENTIALS, LocalAws, free_port
from deploy.local.testing import json_record_groups, prepare, read_lines, wait_until
from deploy.package import JAR_NAME, PYTHON_PACKAGES, build, project_version
from tests.reliability.conftest import CaseFigures
from udfs.inference.flink import WindowScoringFunction

# Every secret a test makes starts with this, so a secret cut short is still found.
MARKER = "LeakCanary"

# -- secrets and where they must not appear --------------------------------------------------------------------------


@dataclass(frozen=True)
class Secrets:
    """Distinctive credentials for one run: an access key id of AWS's form, a secret key, a token and an API key."""

    access_key_id: str = field(default_factory=lambda: "AKIA" + secrets.token_hex(8).upper())
    secret_access_key: str = field(default_factory=lambda: f"{MARKER}Secret{secrets.token_hex(12)}")
    session_token: str = field(default_factory=lambda: f"{MARKER}Token{secrets.token_hex(24)}")
    api_key: str = field(default_factory=lambda: f"{MARKER}ApiKey{secrets.token_hex(12)}")

    def named(self) -> dict[str, bytes]:
        return {
            "access key id": self.access_key_id.encode(),
            "secret access key": self.secret_access_key.encode(),
            "session token": self.session_token.encode(),
            "api key": self.api_key.encode(),
            "marker": MARKER.encode(),
        }

    def environment(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
        }

    def credentials(self) -> Credentials:
        return Credentials(self.access_key_id, self.secret_access_key, self.session_token)


@dataclass
class SecretSearch:
    """Looks for secrets in named blobs; remembers what it searched, so a search of nothing fails too."""

    wanted: Mapping[str, bytes]
    searched: Counter[str] = field(default_factory=Counter)  # blobs per kind of place
    bytes_searched: int = 0
    found: list[tuple[str, str]] = field(default_factory=list)  # (where, which secret)

    def search(self, kind: str, where: str, data: bytes) -> None:
        self.searched[kind] += 1
        self.bytes_searched += len(data)
        self.found += [(where, name) for name, secret in self.wanted.items() if secret in data]

    def search_files(self, kind: str, folder: Path) -> None:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            self.search(kind, str(path), path.read_bytes())

    def search_bucket(self, aws: LocalAws, bucket: str) -> list[str]:
        """Every object of ``bucket``; returns their keys."""
        s3 = aws.client("s3")
        keys = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                keys.append(item["Key"])
                self.search(
                    "s3 object",
                    f"s3://{bucket}/{item['Key']}",
                    s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read(),
                )
        return keys


# -- a. the job's logs and outputs -----------------------------------------------------------------------------------

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
WINDOW_S = 10
POISON = -999.0
MODEL_ERROR_STATUS = 400  # the local model server's answer to a poison instance


def trip(key: str, index: int) -> dict[str, Any]:
    distance = round(1.0 + (index % 7) * 0.75, 2)
    duration = round(distance * 200 + index, 1)
    return {
        "k": key,
        "t": T0 + index * 1000,
        "trip_distance": distance,
        "duration_seconds": duration,
        "fare_amount": round(2.5 + 2.5 * distance + 0.35 * duration / 60, 2),
    }


@dataclass(frozen=True)
class Inputs:
    """The records of a run: good trips, trips the endpoint rejects, and records the job cannot use."""

    scored: list[dict[str, Any]]
    rejected: list[dict[str, Any]]
    malformed: list[bytes]

    @classmethod
    def make(cls) -> Inputs:
        scored = [trip("ab"[i % 2], i) for i in range(30)]
        rejected = [{**trip("a", 7), "trip_distance": POISON}, {**trip("b", 22), "trip_distance": POISON}]
        malformed = [b"not json", json.dumps({**trip("a", 12), "k": None}).encode()]
        return cls(scored, rejected, malformed)

    def payloads(self) -> list[bytes]:
        records = [json.dumps(t).encode() for t in self.scored]
        records[5:5] = [json.dumps(self.rejected[0]).encode(), self.malformed[0]]
        records[20:20] = [self.malformed[1], json.dumps(self.rejected[1]).encode()]
        return records

    @property
    def dead_letters(self) -> int:
        return len(self.rejected) + len(self.malformed)


def closing_record() -> bytes:
    """An event time past every window of the run, so the watermark closes them all; its own window stays open."""
    return json.dumps({**trip("a", 0), "t": T0 + 100 * WINDOW_S * 1000}).encode()


def inference_group(auth: str, model_url: str, keys: Secrets) -> dict[str, str]:
    common = {"input": "record", "features": "trip_distance,duration_seconds", "label.field": "fare_amount"}
    if auth == "iam":
        return {**common, "type": "sagemaker", "endpoint.name": "fare-model", "content.type": "text/csv"}
    return {
        **common,
        "type": "apigateway",
        "url": f"{model_url}/predict",
        "content.type": "application/json",
        "auth": "api_key",
        "api.key": keys.api_key,
    }


def model_server_options(auth: str, keys: Secrets) -> dict[str, Any]:
    faults = Faults(poison_value=str(POISON))
    if auth == "iam":  # the SageMaker route always verifies SigV4, here against the run's credentials
        return {"auth": "none", "credentials": keys.credentials(), "faults": faults}
    return {"auth": "api_key", "api_key": keys.api_key, "faults": faults}


def read_json_lines(aws: LocalAws, bucket: str, prefix: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in read_lines(aws, bucket, prefix)[1]]


# Every run has the distinctive AWS credentials in the job's environment; the api_key run, also quick,
# adds the API key, and the iam run has the endpoint verify the credentials' signatures.
@pytest.mark.parametrize("auth", ["api_key", pytest.param("iam", marks=pytest.mark.full)])
def test_no_secret_in_the_jobs_logs_or_outputs(
    auth: str, local_aws: LocalAws, tmp_path: Path, case: CaseFigures
) -> None:
    keys = Secrets()
    inputs = Inputs.make()
    name = f"sec-{uuid.uuid4().hex[:10]}"
    groups = json_record_groups(name, WINDOW_S, "fare_amount")
    groups["sink.delivery"] = {"type": "firehose", "stream.name": f"{name}-delivery"}
    properties, job_log, flink_logs = tmp_path / "application_properties.json", tmp_path / "job.log", tmp_path / "log"
    flink_logs.mkdir()
    records_in = len(inputs.scored) + len(inputs.rejected) + len(inputs.malformed)

    with running_model_server(**model_server_options(auth, keys)) as model:
        groups["inference"] = inference_group(auth, model.url, keys)
        config = prepare(local_aws, groups, properties, {"AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": model.url})
        kinesis = local_aws.client("kinesis")
        for payload in [*inputs.payloads(), closing_record()]:
            kinesis.put_record(StreamName=config.source.stream_name, Data=payload, PartitionKey="p")
        windows_at, dead_at = config.sink_s3.location, config.dead_letter.location

        def accounted() -> int:
            windows = read_json_lines(local_aws, windows_at.bucket, windows_at.key_prefix)
            dead = read_json_lines(local_aws, dead_at.bucket, dead_at.key_prefix)
            delivered = read_json_lines(local_aws, name, f"delivery/{name}-delivery/")
            complete = {w["window_id"] for w in delivered} >= {w["window_id"] for w in windows}
            return sum(int(w["count"]) for w in windows) + len(dead) if complete else 0

        # Flink's log folder in the run's own folder, so that the search covers exactly this run's.
        env = {**keys.environment(), "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": model.url, "FLINK_LOG_DIR": str(flink_logs)}
        with running_job(local_aws, properties, job_log, free_port(), env=env):
            wait_until(lambda: accounted() >= records_in, 180, "every record in a window or a dead letter")
        stats = model.stats()

    windows = read_json_lines(local_aws, windows_at.bucket, windows_at.key_prefix)
    dead = read_json_lines(local_aws, dead_at.bucket, dead_at.key_prefix)
    search = SecretSearch(keys.named())
    search.search("job log", str(job_log), job_log.read_bytes())
    search.search_files("flink log", flink_logs)
    objects = search.search_bucket(local_aws, name)

    windowed = sum(int(w["count"]) for w in windows)
    by_stage = Counter(str(d["stage"]) for d in dead)
    case.records_in = records_in
    case.faults_injected = inputs.dead_letters
    case.lost = max(0, records_in - windowed - len(dead))
    case.duplicated_s3 = len(windows) - len({w["window_id"] for w in windows})
    case.details = {
        "auth": auth,
        "searched": dict(search.searched),
        "bytes_searched": search.bytes_searched,
        "found": search.found,
        "endpoint_statuses": stats.by_status,
        "dead_letters": dict(by_stage),
        "closing_records": 1,
    }

    assert search.found == []
    # The search covered the job's log, Flink's own log and every kind of output.
    assert job_log.stat().st_size > 0
    assert search.searched["flink log"] >= 1 and any(p.stat().st_size > 0 for p in flink_logs.rglob("*.log"))
    assert {key.split("/", 1)[0] for key in objects} == {"windows", "dead-letters", "delivery"}
    # The endpoint took the run's credentials (it accepts no others) and rejected the poison trips.
    assert stats.by_status.get(200, 0) >= 1
    assert stats.by_status.get(MODEL_ERROR_STATUS, 0) >= len(inputs.rejected)
    assert set(stats.by_status) <= {200, MODEL_ERROR_STATUS}
    # Every record is accounted for exactly once.
    assert (case.lost, case.duplicated_s3, windowed + len(dead)) == (0, 0, records_in)
    letters = {(d["stage"], d["payload"]): d["reason"] for d in dead if d["stage"] != "window"}
    assert letters == {
        ("parse", "not json"): "not a JSON object",
        ("validate", inputs.malformed[1].decode()): "missing key field k",
        **{("inference", json.dumps(t)): REJECTED for t in inputs.rejected},
    }
    # A scored trip that reaches the windows after the closing record's watermark is set aside as late
    # (stage "window"); the job may hold the last records before a pause until the next one arrives.
    late = [d for d in dead if d["stage"] == "window"]
    assert all(d["reason"].startswith("late: window ") and json.loads(d["payload"]) in inputs.scored for d in late)
    assert windowed + len(late) == len(inputs.scored)


REJECTED = (
    'rejected 400 ModelError: {"message": "instance 0 holds the value -999.0, which the model cannot score"} '
    "(status 400, 1 attempt)"
)


# -- a. the application zip ------------------------------------------------------------------------------------------

# AWS documents its example keys with EXAMPLE in them (AKIAIOSFODNN7EXAMPLE); botocore's docs carry some.
_ACCESS_KEY_ID = re.compile(rb"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])")
# A secret key *value*: botocore's own code names the setting aws_secret_access_key without a value.
_SECRET_KEY_VALUE = re.compile(rb"(?i)aws_secret_access_key[\"']?\s*[=:]\s*[\"']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])")
_CREDENTIAL_FILE = re.compile(r"(^|/)(\.aws/|\.env($|\.)|[^/]*\.env$|credentials$|\.netrc$|\.pgpass$)")


def credentials_in_archive(archive: zipfile.ZipFile, search: SecretSearch, prefix: str = "") -> list[str]:
    """Problems in every member of ``archive``, including the members of nested jars and gzipped files."""
    problems = []
    for info in archive.infolist():
        if info.is_dir():
            continue
        name = prefix + info.filename
        if _CREDENTIAL_FILE.search(info.filename):
            problems.append(f"{name}: a credentials file")
        data = archive.read(info)
        if info.filename.endswith(".jar"):
            problems += credentials_in_archive(zipfile.ZipFile(io.BytesIO(data)), search, f"{name}!")
            continue
        if info.filename.endswith(".gz"):
            data = gzip.decompress(data)
        search.search("zip member", name, data)
        problems += [
            f"{name}: access key id {m[0].decode()}" for m in _ACCESS_KEY_ID.finditer(data) if b"EXAMPLE" not in m[0]
        ]
        problems += [f"{name}: secret key value" for m in _SECRET_KEY_VALUE.finditer(data) if b"EXAMPLE" not in m[1]]
    return problems


def application_zip() -> Path:
    """``dist/<name>-<version>.zip`` as ``make package`` builds it; built again only if a source is newer."""
    name, version = project_version()
    archive = PROJECT_ROOT / "dist" / f"{name}-{version}.zip"
    jar = PROJECT_ROOT / "build" / "lib" / JAR_NAME
    sources = [jar, PROJECT_ROOT / "requirements.txt", PROJECT_ROOT / "deploy" / "package.py"]
    sources += [path for package in PYTHON_PACKAGES for path in (PROJECT_ROOT / package).rglob("*.py")]
    if not archive.is_file() or archive.stat().st_mtime < max(path.stat().st_mtime for path in sources):
        archive = build(jar, archive.parent)
    return archive


def test_the_zip_scan_finds_planted_credentials(tmp_path: Path, case: CaseFigures) -> None:
    """The scan below can fail: planted keys, a secret value and credentials files are all reported."""
    planted = tmp_path / "planted.zip"
    access_key, secret_key = "AKIA" + "Q" * 16, "s3cr3t/" + "K" * 33
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as jar:
        jar.writestr("conf/app.properties", f"aws.accessKeyId={access_key}\n")
    with zipfile.ZipFile(planted, "w") as archive:
        archive.writestr("python-libs/.aws/credentials", f"[default]\naws_secret_access_key = {secret_key}\n")
        archive.writestr("job/.env", "X=1\n")
        archive.writestr("job/settings.py", f"KEY = '{MARKER}-left-behind'\n")
        archive.writestr(
            "python-libs/docs/example.txt", "AKIAIOSFODNN7EXAMPLE wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
        )
        archive.writestr("lib/connectors.jar", inner.getvalue())
        archive.writestr(
            "python-libs/data/model.json.gz", gzip.compress(f'{{"aws_secret_access_key": "{secret_key}"}}'.encode())
        )
    search = SecretSearch({"marker": MARKER.encode()})
    problems = credentials_in_archive(zipfile.ZipFile(planted), search)
    case.details = {"problems": problems}
    assert problems == [
        "python-libs/.aws/credentials: a credentials file",
        "python-libs/.aws/credentials: secret key value",
        "job/.env: a credentials file",
        f"lib/connectors.jar!conf/app.properties: access key id {access_key}",
        "python-libs/data/model.json.gz: secret key value",
    ]
    assert search.found == [("job/settings.py", "marker")]


def test_no_credentials_in_the_application_zip(case: CaseFigures) -> None:
    archive = application_zip()
    search = SecretSearch({"marker": MARKER.encode()})
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
        problems = credentials_in_archive(zf, search)
    case.details = {
        "zip": archive.name,
        "members_searched": search.searched["zip member"],
        "bytes_searched": search.bytes_searched,
    }
    assert problems == []
    assert search.found == []
    # The scan read the job itself, its vendored libraries and the jar's classes.
    assert "job/main.py" in names and any(n.startswith("python-libs/botocore/") for n in names)
    assert search.searched["zip member"] > len(names)


# -- b. TLS verification ---------------------------------------------------------------------------------------------

# The window the stage scores in the TLS cases, and the properties around it.
WINDOW = Row(
    k="a",
    window_start="2026-01-01T00:00:00Z",
    window_end="2026-01-01T00:00:10Z",
    count=3,
    trip_distance_mean=2.5,
    duration_seconds_mean=600.0,
)
TLS_GROUPS: dict[str, dict[str, str]] = {
    "kinesis.source": {"stream.arn": "arn:aws:kinesis:us-east-1:123456789012:stream/taxi-trips"},
    "records": {"format": "json", "key.fields": "k"},
    "window": {"size.seconds": "10", "aggregate.fields": "trip_distance,duration_seconds"},
    "sink.s3": {"path": "s3://scoring-out/windows"},
    "sink.dlq": {"path": "s3://scoring-out/dead-letters"},
}


def tls_inference_group(kind: str, url: str) -> dict[str, str]:
    # One attempt: a certificate that fails once fails every time.
    common = {"features": "trip_distance_mean,duration_seconds_mean", "max.attempts": "1", "timeout.ms": "10000"}
    if kind == "sagemaker":  # its URL comes from AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME
        return {**common, "type": "sagemaker", "endpoint.name": "fare-model", "content.type": "text/csv"}
    return {**common, "type": "apigateway", "url": f"{url}/predict", "content.type": "application/json"}


@dataclass(frozen=True)
class Pki:
    """A CA made for the test, and server contexts for certificates it issued."""

    ca_file: Path
    right_name: ssl.SSLContext  # a certificate for 127.0.0.1
    wrong_name: ssl.SSLContext  # a certificate for another host


def make_pki(folder: Path) -> Pki:
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stream-scoring test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(certificate_signing=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = folder / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))

    def server_context(name: str, alternative_name: x509.GeneralName) -> ssl.SSLContext:
        key = ec.generate_private_key(ec.SECP256R1())
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(certificate_signing=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName([alternative_name]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        certificate_file, key_file = folder / f"{name}.pem", folder / f"{name}.key"
        certificate_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(certificate_file, key_file)
        return context

    return Pki(
        ca_file,
        server_context("loopback", x509.IPAddress(ipaddress.ip_address("127.0.0.1"))),
        server_context("model.invalid", x509.DNSName("model.invalid")),
    )


def _key_usage(*, certificate_signing: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not certificate_signing,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=certificate_signing,
        crl_sign=certificate_signing,
        encipher_only=False,
        decipher_only=False,
    )


@contextmanager
def https_model_server(*contexts: ssl.SSLContext) -> Iterator[tuple[ModelServerHandle, list[str]]]:
    """The local model server (no auth on its API Gateway routes) over TLS, one 127.0.0.1 port per context."""
    server = ModelServer(auth="none")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="https-model-server", daemon=True)
    thread.start()
    handle = ModelServerHandle(server, loop)
    runner = web.AppRunner(server.app, access_log=None)
    try:
        handle.run(runner.setup())
        urls = []
        for context in contexts:
            port = free_port()
            handle.run(web.TCPSite(runner, "127.0.0.1", port, ssl_context=context).start())
            urls.append(f"https://127.0.0.1:{port}")
        yield handle, urls
    finally:
        handle.run(runner.cleanup())
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


def score_one_window(properties: str) -> dict[str, Any]:
    """``WINDOW`` through the job's async function, as the operator calls it; its output row.

    Run in a fresh process: the default trust store (``SSL_CERT_FILE``) is read when aiohttp is imported.
    """
    config = build_config(load_property_groups(Path(properties)), os.environ)
    assert config.inference is not None
    function = WindowScoringFunction(config.inference)
    (row,) = asyncio.run(function.async_invoke(WINDOW))
    return {"ok": row[0], "line": row[1]}


def score_in_fresh_process(folder: Path, kind: str, url: str, ca_file: Path | None) -> dict[str, Any]:
    """:func:`score_one_window` in a new Python process that trusts ``ca_file`` through ``SSL_CERT_FILE``, if given."""
    properties = folder / f"{kind}-{secrets.token_hex(4)}.json"
    write_property_groups(properties, {**TLS_GROUPS, "inference": tls_inference_group(kind, url)})
    # Nothing from this process's own trust or AWS settings.
    unwanted = ("SSL_CERT_", "AWS_", "PYFLINK_", "_PYFLINK", "FLINK_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(unwanted)}
    env.update({**LOCAL_CREDENTIALS, "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": url})
    if ca_file is not None:
        env["SSL_CERT_FILE"] = str(ca_file)
    driver = (
        "import json, sys; from tests.reliability.test_security import score_one_window; "
        "print(json.dumps(score_one_window(sys.argv[1])))"
    )
    result = subprocess.run(
        [sys.executable, "-c", driver, str(properties)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    output: dict[str, Any] = json.loads(result.stdout)
    return output


def certificate_reason(port: int, problem: str) -> re.Pattern[str]:
    return re.compile(
        r"attempts exhausted, last: connection error: ConnectionError: "
        rf"Cannot connect to host 127\.0\.0\.1:{port} ssl:True \[SSLCertVerificationError: \(1, "
        # The error's repr quotes its text with " when the text holds a '.
        rf"(['\"])\[SSL: CERTIFICATE_VERIFY_FAILED\] certificate verify failed: {re.escape(problem)} "
        r"\(_ssl\.c:\d+\)\1\)\] "
        r"\(1 attempt\)"
    )


@pytest.mark.parametrize("kind", ["apigateway", "sagemaker"])
def test_inference_verifies_the_endpoints_certificate(kind: str, tmp_path: Path, case: CaseFigures) -> None:
    pki = make_pki(tmp_path)
    with https_model_server(pki.right_name, pki.wrong_name) as (model, (url, wrong_name_url)):
        untrusted = score_in_fresh_process(tmp_path, kind, url, None)
        wrong_name = score_in_fresh_process(tmp_path, kind, wrong_name_url, pki.ca_file)
        trusted = score_in_fresh_process(tmp_path, kind, url, pki.ca_file)
        stats = model.stats()
        expected = model.model.predict([[WINDOW["trip_distance_mean"], WINDOW["duration_seconds_mean"]]])[0]

    window = WINDOW.as_dict()
    letters = [json.loads(outcome["line"]) for outcome in (untrusted, wrong_name)]
    case.records_in = 3
    case.faults_injected = 2
    case.details = {
        "kind": kind,
        "reasons": [letter["reason"] for letter in letters],
        "server_requests": stats.requests,
    }

    assert (untrusted["ok"], wrong_name["ok"], trusted["ok"]) == (False, False, True)
    for letter in letters:
        assert (letter["stage"], json.loads(letter["payload"])) == ("inference", window)
    port, wrong_name_port = (int(u.rsplit(":", 1)[1]) for u in (url, wrong_name_url))
    assert certificate_reason(port, "unable to get local issuer certificate").fullmatch(letters[0]["reason"])
    ip_mismatch = "IP address mismatch, certificate is not valid for '127.0.0.1'."
    assert certificate_reason(wrong_name_port, ip_mismatch).fullmatch(letters[1]["reason"])
    # SageMaker names the variant that answered (the model server's single one).
    variant = {"prediction_variant": "AllTraffic"} if kind == "sagemaker" else {}
    assert json.loads(trusted["line"]) == {**window, "prediction": expected, **variant}
    # Only the verified connection carried a request.
    assert (stats.requests, stats.by_status) == (1, {200: 1})


_VERIFICATION_WORDS = re.compile(r"(?i)ssl|tls|verif|insecure|cert|trust")


def test_no_property_turns_certificate_verification_off(case: CaseFigures) -> None:
    """Every group refuses a key that would turn verification off, and no key it knows is about TLS."""
    with pytest.raises(ConfigError) as unknown_group:
        build_config({**TLS_GROUPS, "tls": {}}, {})
    groups = unknown_group.value.problem.removeprefix("unknown group; known groups are ").split(", ")
    known: dict[str, list[str]] = {}
    for group in groups:
        for key in ("ssl.verify", "insecure"):
            with pytest.raises(ConfigError) as refused:
                build_config({**TLS_GROUPS, group: {**TLS_GROUPS.get(group, {}), key: "false"}}, {})
            assert (refused.value.group, refused.value.key) == (group, key)
            known[group] = refused.value.problem.removeprefix("unknown key; known keys are ").split(", ")
    case.details = {"groups": groups}

    assert set(groups) == {
        "kinesis.source",
        "records",
        "window",
        "sink.s3",
        "sink.delivery",
        "sink.dlq",
        "inference",
        "inference.shadow",
    }
    assert "api.key" in known["inference"] and "url" in known["inference"]  # the list is the real one
    assert {group: [k for k in keys if _VERIFICATION_WORDS.search(k)] for group, keys in known.items()} == {
        group: [] for group in groups
    }


# What turns certificate or host name verification off, in Python and in Java (AWS SDK, Apache HTTP, JDK).
_VERIFICATION_OFF = {
    "ssl=False": re.compile(r"\bssl\s*=\s*False\b"),
    "verify=False": re.compile(r"\bverify(_ssl)?\s*=\s*False\b"),
    "CERT_NONE": re.compile(r"\bCERT_NONE\b"),
    "check_hostname=False": re.compile(r"\bcheck_hostname\s*=\s*False\b"),
    "unverified context": re.compile(r"_create_unverified_context|PYTHONHTTPSVERIFY"),
    "trust all certificates": re.compile(
        r"(?i)trust_?all_?certificates|TrustAll(Strategy|Manager)|InsecureTrustManagerFactory"
    ),
    "no host name verification": re.compile(r"NoopHostnameVerifier|ALLOW_ALL_HOSTNAME_VERIFIER|HostnameVerifier\("),
    "TLS off by setting": re.compile(r"(?i)ssl[._-]?enabled[\"']?\s*[,=:]\s*[\"']?false"),
}
_VERIFICATION_OFF_SAMPLES = {
    "ssl=False": "aiohttp.TCPConnector(limit=10, ssl=False)",
    "verify=False": "requests.post(url, verify=False)",
    "CERT_NONE": "context.verify_mode = ssl.CERT_NONE",
    "check_hostname=False": "context.check_hostname = False",
    "unverified context": "ssl._create_unverified_context()",
    "trust all certificates": "attributes.put(SdkHttpConfigurationOption.TRUST_ALL_CERTIFICATES, Boolean.TRUE);",
    "no host name verification": "HttpsURLConnection.setDefaultHostnameVerifier((host, session) -> true);",
    "TLS off by setting": 'flink.set_string("s3.ssl.enabled", "false")',
}


def test_no_source_turns_certificate_verification_off(case: CaseFigures) -> None:
    sources = sorted(
        path
        for folder in ("job", "udfs", "connectors")
        for path in (PROJECT_ROOT / folder).rglob("*")
        if path.suffix in (".py", ".java")
    )
    found = [
        f"{path.relative_to(PROJECT_ROOT)}:{number}: {what}"
        for path in sources
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        for what, pattern in _VERIFICATION_OFF.items()
        if pattern.search(line)
    ]
    suffixes = Counter(path.suffix for path in sources)
    case.details = {"files": dict(suffixes), "found": found}

    assert found == []
    assert suffixes[".py"] >= 10 and suffixes[".java"] >= 10
    # Each pattern does catch its kind of line.
    assert {what: bool(_VERIFICATION_OFF[what].search(line)) for what, line in _VERIFICATION_OFF_SAMPLES.items()} == {
        what: True for what in _VERIFICATION_OFF
    }


# -- c. the IAM policies of the CloudFormation template --------------------------------------------------------------

TEMPLATE = PROJECT_ROOT / "deploy" / "cloudformation.yaml"
# Statements whose service allows no narrower resource, as (Sid, action, resource as written).
UNSCOPED_BY_DESIGN = {
    # PutMetricData has no resource-level permissions; a namespace condition narrows it instead.
    ("PublishMetrics", "cloudwatch:PutMetricData", "*"),
    # DescribeLogGroups is authorized against the account's log-group:* only, never one group's ARN.
    (
        "ListLogGroups",
        "logs:DescribeLogGroups",
        "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*",
    ),
}


def policy_statements(template: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(resource's logical id, statement) of every policy document in the template, both branches of each Fn::If."""
    found: list[tuple[str, dict[str, Any]]] = []

    def statements(value: Any) -> Iterable[dict[str, Any]]:
        if isinstance(value, list):
            for item in value:
                yield from statements(item)
        elif isinstance(value, dict) and set(value) == {"Fn::If"}:
            yield from statements(value["Fn::If"][1:])
        elif isinstance(value, dict) and value != {"Ref": "AWS::NoValue"}:
            yield value

    def walk(logical_id: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "PolicyDocument":
                    found.extend((logical_id, s) for s in statements(item["Statement"]))
                else:
                    walk(logical_id, item)
        elif isinstance(value, list):
            for item in value:
                walk(logical_id, item)

    for logical_id, resource in template["Resources"].items():
        walk(logical_id, resource.get("Properties", {}))
    return found


def resource_text(resource: Any) -> str:
    """A Resource as written: the string, or the template of its Fn::Sub, ``${X.Arn}`` for Fn::GetAtt."""
    if isinstance(resource, str):
        return resource
    (function, args), *rest = resource.items()
    assert not rest, resource
    if function == "Fn::Sub":
        return str(args if isinstance(args, str) else args[0])
    if function == "Fn::GetAtt":
        return "${" + ".".join(args) + "}"
    if function == "Ref":
        return "${" + args + "}"
    raise AssertionError(f"a Resource built with {function}: extend resource_text to check it")


def names_its_resource(text: str) -> bool:
    """True when the resource names one resource (a path below it may be a wildcard), False for wildcards over many."""
    if text.startswith("${") and not text.startswith("${AWS::"):
        return True  # an ARN of this template's resource, or below one
    if not text.startswith("arn:"):
        return False  # "*", or something that is no ARN
    # Pseudo parameters are fixed per stack; other references name a resource or a parameter's value.
    concrete = re.sub(r"\$\{AWS::[A-Za-z]+\}", "x", text)
    concrete = re.sub(r"\$\{[^}]+\}", "named", concrete)
    parts = concrete.split(":", 5)
    if len(parts) < 6 or any("*" in part for part in parts[:5]):
        return False
    resource = parts[5]
    if parts[2] == "s3":
        return "*" not in resource.split("/", 1)[0]  # the bucket
    # A type and then a wildcard ("log-group:*", "stream/*") covers every resource of the type.
    return not re.match(r"^([A-Za-z-]+[:/])?\*", resource)


def unscoped_statements(template: Mapping[str, Any]) -> set[tuple[str, str, str]]:
    """(Sid, action, resource) for every action granted on a resource that names nothing in particular."""
    result = set()
    for _, statement in policy_statements(template):
        assert "NotResource" not in statement and "NotAction" not in statement, statement
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for resource in map(resource_text, resources):
            if not names_its_resource(resource):
                result |= {(str(statement.get("Sid")), str(action), resource) for action in actions}
    return result


def _template() -> dict[str, Any]:
    template, errors = decode_str(TEMPLATE.read_text(encoding="utf-8"))
    assert errors == []
    assert isinstance(template, dict)
    return template


def test_iam_statements_name_their_resources(case: CaseFigures) -> None:
    template = _template()
    statements = policy_statements(template)
    unscoped = unscoped_statements(template)
    case.details = {"statements": len(statements), "unscoped": sorted(unscoped)}

    assert unscoped == UNSCOPED_BY_DESIGN
    # Every role's policy was read, the conditional endpoint statements included.
    assert {logical_id for logical_id, _ in statements} == {"ApplicationRole", "DeliveryRole"}
    assert {"InvokeSageMakerEndpoint", "InvokeApiGateway"} <= {s.get("Sid") for _, s in statements}
    for _, statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert statement["Effect"] == "Allow" and all("*" not in action for action in actions), statement
    (metrics,) = [s for _, s in statements if s.get("Sid") == "PublishMetrics"]
    assert metrics["Condition"] == {"StringEquals": {"cloudwatch:namespace": "AWS/KinesisAnalytics"}}


@pytest.mark.parametrize(
    "resource",
    [
        "*",
        "arn:aws:s3:::*",
        {"Fn::Sub": "arn:${AWS::Partition}:s3:::*/windows/*"},
        {"Fn::Sub": "arn:${AWS::Partition}:kinesis:${AWS::Region}:${AWS::AccountId}:stream/*"},
        {"Fn::Sub": "arn:${AWS::Partition}:sagemaker:*:${AWS::AccountId}:endpoint/${SageMakerEndpointName}"},
        {"Fn::Sub": "arn:${AWS::Partition}:firehose:${AWS::Region}:*:deliverystream/${DeliveryStream}"},
    ],
    ids=["star", "every-bucket", "every-bucket-sub", "every-stream", "every-region", "every-account"],
)
def test_a_new_wildcard_statement_fails_the_policy_check(resource: Any, case: CaseFigures) -> None:
    template = copy.deepcopy(_template())
    (policy,) = template["Resources"]["ApplicationRole"]["Properties"]["Policies"]
    policy["PolicyDocument"]["Statement"].append(
        {"Sid": "Added", "Effect": "Allow", "Action": "s3:GetObject", "Resource": resource}
    )
    unscoped = unscoped_statements(template)
    case.details = {"resource": resource_text(resource)}
    assert unscoped - UNSCOPED_BY_DESIGN == {("Added", "s3:GetObject", resource_text(resource))}
