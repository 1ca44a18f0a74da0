"""The CloudFormation template: cfn-lint finds nothing; the role is least privilege; the job accepts its properties.

The template is read with cfn-lint's own YAML loader (short intrinsic tags become ``Fn::`` maps)
and, for the checks on values, resolved by a small evaluator of the intrinsic functions it uses,
with fixed parameters, account, region and physical names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint_file
from cfnlint.config import ManualArgs
from cfnlint.decode import decode_str

from config import build_config

TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "cloudformation.yaml"

# cfn-lint's default region and five other large ones, with its informational checks too. Not every
# region: cfn-lint's time grows faster than the region count (minutes for all of them), and its spec
# lacks AWS::KinesisAnalyticsV2::ApplicationCloudWatchLoggingOption in some of the newest regions.
LINT_REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-northeast-1", "ap-southeast-2"]

ACCOUNT = "123456789012"
REGION = "eu-west-1"
BASE = {"InferenceType": "none", "CodeBucketName": "code-bucket", "CodeKey": "stream-scoring/stream-scoring.zip"}
SAGEMAKER = {**BASE, "InferenceType": "sagemaker", "SageMakerEndpointName": "fare-model"}
APIGATEWAY = {**BASE, "InferenceType": "apigateway", "ApiGatewayApiId": "a1b2c3d4e5", "ApiGatewayStage": "prod"}

# Physical names as CloudFormation would report them; the bucket's is generated.
BUCKET = "stream-scoring-outputbucket-1x2y3z4w5v6u"
STREAM_ARN = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/stream-scoring-input"
LOG_GROUP_ARN = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/kinesis-analytics/stream-scoring"
LOG_STREAM_ARN = f"{LOG_GROUP_ARN}:log-stream:kinesis-analytics-log-stream"

RUN_OPTIONS = {"python": "job/main.py", "jarfile": "lib/stream-scoring-connectors.jar", "pyFiles": "python-libs/"}
CSV_COLUMNS = (
    "vendor_id,trip_distance,pickup_longitude,pickup_latitude,rate_code,dropoff_longitude,dropoff_latitude,"
    "extra,mta_tax,tip_amount,tolls_amount,fare_amount,duration_seconds,payment_card,payment_cash,payment_other"
)

NO_VALUE = {"Ref": "AWS::NoValue"}


def _template() -> dict[str, Any]:
    template, errors = decode_str(TEMPLATE.read_text(encoding="utf-8"))
    assert errors == []
    assert isinstance(template, dict)
    return template


class _Absent:
    """What ``AWS::NoValue`` resolves to; dropped from the enclosing map or list."""


_ABSENT = _Absent()
_NAME_PROPERTIES = {
    "AWS::Kinesis::Stream": "Name",
    "AWS::KinesisFirehose::DeliveryStream": "DeliveryStreamName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::Logs::LogStream": "LogStreamName",
    "AWS::KinesisAnalyticsV2::Application": "ApplicationName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::IAM::Role": "RoleName",
}


class Stack:
    """The template's values for one set of parameters: conditions, rules and resolved properties."""

    def __init__(self, template: Mapping[str, Any], parameters: Mapping[str, str]) -> None:
        self.template = template
        unknown = set(parameters) - set(template["Parameters"])
        assert not unknown, f"not parameters of the template: {unknown}"
        self.parameters = {
            name: str(parameters[name] if name in parameters else spec["Default"])
            for name, spec in template["Parameters"].items()
        }
        self.conditions = {name: self.truth(expr) for name, expr in template["Conditions"].items()}

    def truth(self, expr: Any) -> bool:
        (function, args), *rest = expr.items()
        assert not rest, expr
        if function == "Condition":
            return self.truth(self.template["Conditions"][args])
        if function == "Fn::Equals":
            return bool(self.value(args[0]) == self.value(args[1]))
        if function == "Fn::Not":
            return not self.truth(args[0])
        if function == "Fn::And":
            return all(self.truth(arg) for arg in args)
        if function == "Fn::Or":
            return any(self.truth(arg) for arg in args)
        raise AssertionError(f"unexpected condition function {function}")

    def broken_rules(self) -> list[str]:
        broken = []
        for rule in self.template.get("Rules", {}).values():
            if "RuleCondition" in rule and not self.truth(rule["RuleCondition"]):
                continue
            broken += [a["AssertDescription"] for a in rule["Assertions"] if not self.truth(a["Assert"])]
        return broken

    def properties(self, logical_id: str) -> Any:
        return self.value(self.template["Resources"][logical_id]["Properties"])

    def value(self, expr: Any) -> Any:
        if isinstance(expr, list):
            return [v for v in (self.value(item) for item in expr) if v is not _ABSENT]
        if not isinstance(expr, dict):
            return expr
        if len(expr) == 1:
            (function, args), *_ = expr.items()
            if function == "Ref":
                return self.ref(args)
            if function == "Fn::GetAtt":
                return self.attribute(*args)
            if function == "Fn::Sub":
                return self.sub(args)
            if function == "Fn::If":
                return self.value(args[1] if self.conditions[args[0]] else args[2])
            assert not function.startswith("Fn::"), f"unexpected function {function}"
        return {k: v for k, v in ((k, self.value(v)) for k, v in expr.items()) if v is not _ABSENT}

    def ref(self, name: str) -> Any:
        pseudo = {
            "AWS::NoValue": _ABSENT,
            "AWS::AccountId": ACCOUNT,
            "AWS::Region": REGION,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        resource = self.template["Resources"][name]
        name_property = _NAME_PROPERTIES.get(resource["Type"], "")
        if name_property in resource["Properties"]:
            return self.value(resource["Properties"][name_property])
        return BUCKET if name == "OutputBucket" else f"stream-scoring-{name}-generated"

    def attribute(self, logical_id: str, attribute: str) -> str:
        assert attribute == "Arn", attribute
        name = self.ref(logical_id)
        arn = {
            "AWS::Kinesis::Stream": f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}",
            "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
            "AWS::KinesisFirehose::DeliveryStream": f"arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/{name}",
            "AWS::IAM::Role": f"arn:aws:iam::{ACCOUNT}:role/{name}",
        }
        return arn[self.template["Resources"][logical_id]["Type"]]

    def sub(self, args: Any) -> str:
        text, variables = (args, {}) if isinstance(args, str) else args

        def replace(match: re.Match[str]) -> str:
            name = match[1]
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(self.value(variables[name]))
            if "." in name:
                return self.attribute(*name.split(".", 1))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def property_groups(self) -> dict[str, dict[str, str]]:
        app = self.properties("Application")
        groups = app["ApplicationConfiguration"]["EnvironmentProperties"]["PropertyGroups"]
        return {g["PropertyGroupId"]: g["PropertyMap"] for g in groups}

    def role_statements(self) -> list[dict[str, Any]]:
        (policy,) = self.properties("ApplicationRole")["Policies"]
        statements: list[dict[str, Any]] = policy["PolicyDocument"]["Statement"]
        return statements


def _raw_role_statements(template: Mapping[str, Any]) -> list[Any]:
    (policy,) = template["Resources"]["ApplicationRole"]["Properties"]["Policies"]
    statements: list[Any] = policy["PolicyDocument"]["Statement"]
    return statements


# --- cfn-lint -----------------------------------------------------------------------------------


def test_cfn_lint_finds_nothing() -> None:
    matches = lint_file(TEMPLATE, config=ManualArgs(regions=LINT_REGIONS, include_checks=["I"]))
    assert [str(m) for m in matches] == []


def test_no_lint_rule_is_ignored() -> None:
    template = _template()
    assert "cfn-lint" not in template.get("Metadata", {})
    for logical_id, resource in template["Resources"].items():
        assert "cfn-lint" not in resource.get("Metadata", {}), logical_id


# --- the application ----------------------------------------------------------------------------


def test_application_settings() -> None:
    template = _template()
    app = template["Resources"]["Application"]["Properties"]
    assert app["RuntimeEnvironment"] == "FLINK-2_2"
    assert app["ApplicationMode"] == "STREAMING"
    assert app["ServiceExecutionRole"] == {"Fn::GetAtt": ["ApplicationRole", "Arn"]}
    config = Stack(template, BASE).properties("Application")["ApplicationConfiguration"]
    assert config["ApplicationCodeConfiguration"] == {
        "CodeContentType": "ZIPFILE",
        "CodeContent": {"S3ContentLocation": {"BucketARN": "arn:aws:s3:::code-bucket", "FileKey": BASE["CodeKey"]}},
    }
    assert config["ApplicationSnapshotConfiguration"] == {"SnapshotsEnabled": True}
    assert config["FlinkApplicationConfiguration"] == {
        "CheckpointConfiguration": {
            "ConfigurationType": "CUSTOM",
            "CheckpointingEnabled": True,
            "CheckpointInterval": 60000,
            "MinPauseBetweenCheckpoints": 5000,
        },
        "MonitoringConfiguration": {"ConfigurationType": "CUSTOM", "LogLevel": "INFO", "MetricsLevel": "OPERATOR"},
        "ParallelismConfiguration": {
            "ConfigurationType": "CUSTOM",
            "Parallelism": "1",
            "ParallelismPerKPU": "1",
            "AutoScalingEnabled": False,
        },
    }
    logging = Stack(template, BASE).properties("ApplicationLogging")
    assert logging == {
        "ApplicationName": "stream-scoring",
        "CloudWatchLoggingOption": {"LogStreamARN": LOG_STREAM_ARN},
    }


def test_run_options_group_starts_the_pyflink_job() -> None:
    groups = Stack(_template(), BASE).property_groups()
    assert groups["kinesis.analytics.flink.run.options"] == RUN_OPTIONS


def test_property_groups_without_inference() -> None:
    groups = Stack(_template(), {**BASE, "WindowSizeSeconds": "30"}).property_groups()
    assert groups == {
        "kinesis.analytics.flink.run.options": RUN_OPTIONS,
        "kinesis.source": {"stream.arn": STREAM_ARN, "init.position": "LATEST"},
        "records": {"format": "csv", "csv.columns": CSV_COLUMNS, "key.fields": "vendor_id"},
        "window": {"size.seconds": "30", "aggregate.fields": "fare_amount,trip_distance,duration_seconds"},
        "sink.s3": {"path": f"s3://{BUCKET}/windows", "format": "json"},
        "sink.delivery": {"type": "firehose", "stream.name": "stream-scoring-delivery"},
        "sink.dlq": {"path": f"s3://{BUCKET}/dead-letters"},
    }


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        (SAGEMAKER, {"type": "sagemaker", "endpoint.name": "fare-model"}),
        (
            APIGATEWAY,
            {"type": "apigateway", "url": "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod/predict"},
        ),
    ],
    ids=["sagemaker", "apigateway"],
)
def test_inference_group(parameters: dict[str, str], expected: dict[str, str]) -> None:
    groups = Stack(_template(), parameters).property_groups()
    assert groups["inference"] == {**expected, "features": "trip_distance_mean,duration_seconds_mean"}


@pytest.mark.parametrize("parameters", [BASE, SAGEMAKER, APIGATEWAY], ids=["none", "sagemaker", "apigateway"])
def test_the_job_accepts_the_properties(parameters: dict[str, str]) -> None:
    config = build_config(Stack(_template(), parameters).property_groups(), {})
    assert config.source.stream_name == "stream-scoring-input"
    assert config.source.region == REGION
    assert (config.sink_s3.location.bucket, config.sink_s3.location.prefix) == (BUCKET, "windows")
    assert (config.dead_letter.location.bucket, config.dead_letter.location.prefix) == (BUCKET, "dead-letters")
    assert config.delivery is not None
    assert (config.delivery.type, config.delivery.stream_name) == ("firehose", "stream-scoring-delivery")
    assert config.window.size_seconds == 60
    if parameters["InferenceType"] != "none":
        assert config.inference is not None
        assert config.inference.endpoint.type == parameters["InferenceType"]
        assert config.inference.features == ("trip_distance_mean", "duration_seconds_mean")
    else:
        assert config.inference is None


@pytest.mark.parametrize(
    ("parameters", "broken"),
    [
        (BASE, []),
        (SAGEMAKER, []),
        (APIGATEWAY, []),
        (
            {**BASE, "InferenceType": "sagemaker"},
            ["SageMakerEndpointName is required when InferenceType is sagemaker."],
        ),
        (
            {**BASE, "InferenceType": "apigateway", "ApiGatewayApiId": "a1b2c3d4e5"},
            ["ApiGatewayStage is required when InferenceType is apigateway."],
        ),
    ],
)
def test_rules_refuse_an_endpoint_type_without_its_endpoint(parameters: dict[str, str], broken: list[str]) -> None:
    assert Stack(_template(), parameters).broken_rules() == broken


# --- the application's role ---------------------------------------------------------------------

_ALWAYS = [
    {
        "Sid": "ReadApplicationCode",
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::code-bucket/stream-scoring/stream-scoring.zip",
    },
    {
        "Sid": "ReadInputStream",
        "Effect": "Allow",
        "Action": [
            "kinesis:DescribeStream",
            "kinesis:DescribeStreamSummary",
            "kinesis:GetRecords",
            "kinesis:GetShardIterator",
            "kinesis:ListShards",
            "kinesis:SubscribeToShard",
            "kinesis:DescribeStreamConsumer",
            "kinesis:RegisterStreamConsumer",
        ],
        "Resource": [STREAM_ARN, f"{STREAM_ARN}/consumer/*"],
    },
    {
        "Sid": "OutputBucket",
        "Effect": "Allow",
        "Action": ["s3:ListBucket", "s3:ListBucketMultipartUploads"],
        "Resource": f"arn:aws:s3:::{BUCKET}",
    },
    {
        "Sid": "OutputObjects",
        "Effect": "Allow",
        "Action": ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
        "Resource": f"arn:aws:s3:::{BUCKET}/*",
    },
    {
        "Sid": "WriteDeliveryStream",
        "Effect": "Allow",
        "Action": ["firehose:PutRecord", "firehose:PutRecordBatch"],
        "Resource": f"arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/stream-scoring-delivery",
    },
    {"Sid": "WriteApplicationLog", "Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": LOG_STREAM_ARN},
    {
        "Sid": "ListApplicationLogStreams",
        "Effect": "Allow",
        "Action": "logs:DescribeLogStreams",
        "Resource": f"{LOG_GROUP_ARN}:log-stream:*",
    },
    {
        "Sid": "ListLogGroups",
        "Effect": "Allow",
        "Action": "logs:DescribeLogGroups",
        "Resource": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:*",
    },
    {
        "Sid": "PublishMetrics",
        "Effect": "Allow",
        "Action": "cloudwatch:PutMetricData",
        "Resource": "*",
        "Condition": {"StringEquals": {"cloudwatch:namespace": "AWS/KinesisAnalytics"}},
    },
]
_SAGEMAKER_STATEMENT = {
    "Sid": "InvokeSageMakerEndpoint",
    "Effect": "Allow",
    "Action": "sagemaker:InvokeEndpoint",
    "Resource": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/fare-model",
}
_APIGATEWAY_STATEMENT = {
    "Sid": "InvokeApiGateway",
    "Effect": "Allow",
    "Action": "execute-api:Invoke",
    "Resource": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:a1b2c3d4e5/prod/*",
}


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [(BASE, _ALWAYS), (SAGEMAKER, [*_ALWAYS, _SAGEMAKER_STATEMENT]), (APIGATEWAY, [*_ALWAYS, _APIGATEWAY_STATEMENT])],
    ids=["none", "sagemaker", "apigateway"],
)
def test_role_policy_per_inference_type(parameters: dict[str, str], expected: list[dict[str, Any]]) -> None:
    assert Stack(_template(), parameters).role_statements() == expected


def test_only_put_metric_data_has_no_resource_scope() -> None:
    for statement in [*Stack(_template(), SAGEMAKER).role_statements(), _APIGATEWAY_STATEMENT]:
        assert statement["Effect"] == "Allow"
        assert "NotResource" not in statement and "NotAction" not in statement
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all("*" not in action for action in actions), statement["Sid"]
        if "*" in resources:
            assert (actions, resources) == (["cloudwatch:PutMetricData"], ["*"])
            assert statement["Condition"] == {"StringEquals": {"cloudwatch:namespace": "AWS/KinesisAnalytics"}}
    raw = _raw_role_statements(_template())
    assert [s["Sid"] for s in raw if s.get("Resource") == "*"] == ["PublishMetrics"]


def test_code_object_grant_is_exactly_the_zip() -> None:
    (statement,) = [s for s in _raw_role_statements(_template()) if s.get("Sid") == "ReadApplicationCode"]
    assert statement["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:s3:::${CodeBucketName}/${CodeKey}"}


def test_endpoint_statements_are_conditional() -> None:
    template = _template()
    raw = _raw_role_statements(template)
    conditional = [s["Fn::If"] for s in raw if "Fn::If" in s]
    assert [(condition, statement["Sid"], otherwise) for condition, statement, otherwise in conditional] == [
        ("InferenceSageMaker", "InvokeSageMakerEndpoint", NO_VALUE),
        ("InferenceApiGateway", "InvokeApiGateway", NO_VALUE),
    ]
    assert conditional[0][1]["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:endpoint/${SageMakerEndpointName}"
    }
    assert conditional[1][1]["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}"
        ":${ApiGatewayApiId}/${ApiGatewayStage}/*"
    }
    unconditional = [s for s in raw if "Fn::If" not in s]
    assert all(not str(s["Action"]).startswith(("sagemaker:", "execute-api:")) for s in unconditional)
    for parameters in (BASE, SAGEMAKER, APIGATEWAY):
        conditions = Stack(template, parameters).conditions
        assert conditions["InferenceSageMaker"] is (parameters["InferenceType"] == "sagemaker")
        assert conditions["InferenceApiGateway"] is (parameters["InferenceType"] == "apigateway")


# --- the other resources ------------------------------------------------------------------------


def test_input_stream_is_encrypted_with_the_aws_managed_key() -> None:
    stream = Stack(_template(), {**BASE, "InputShardCount": "4"}).properties("InputStream")
    assert stream["StreamEncryption"] == {"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"}
    assert (stream["Name"], stream["ShardCount"]) == ("stream-scoring-input", "4")


@pytest.mark.parametrize(("versioning", "expected"), [("Disabled", None), ("Enabled", {"Status": "Enabled"})])
def test_output_bucket_is_private_and_encrypted(versioning: str, expected: dict[str, str] | None) -> None:
    bucket = Stack(_template(), {**BASE, "OutputBucketVersioning": versioning}).properties("OutputBucket")
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
    }
    assert bucket.get("VersioningConfiguration") == expected
    assert bucket["LifecycleConfiguration"] == {
        "Rules": [
            {
                "Id": "abort-incomplete-multipart-uploads",
                "Status": "Enabled",
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": "7"},
            }
        ]
    }


def test_delivery_stream_writes_under_delivery_with_its_own_scoped_role() -> None:
    stack = Stack(_template(), BASE)
    delivery = stack.properties("DeliveryStream")
    assert delivery["DeliveryStreamType"] == "DirectPut"
    destination = delivery["ExtendedS3DestinationConfiguration"]
    assert (destination["BucketARN"], destination["Prefix"]) == (f"arn:aws:s3:::{BUCKET}", "delivery/")
    assert destination["RoleARN"] == stack.attribute("DeliveryRole", "Arn")
    (policy,) = stack.properties("DeliveryRole")["Policies"]
    resources = [s["Resource"] for s in policy["PolicyDocument"]["Statement"]]
    assert resources == [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/delivery/*"]


def test_outputs() -> None:
    outputs = _template()["Outputs"]
    assert {name: output["Value"] for name, output in outputs.items()} == {
        "ApplicationName": {"Ref": "Application"},
        "InputStreamName": {"Ref": "InputStream"},
        "InputStreamArn": {"Fn::GetAtt": ["InputStream", "Arn"]},
        "OutputBucketName": {"Ref": "OutputBucket"},
        "DeliveryStreamName": {"Ref": "DeliveryStream"},
        "LogGroupName": {"Ref": "ApplicationLogGroup"},
        "ApplicationRoleArn": {"Fn::GetAtt": ["ApplicationRole", "Arn"]},
        "DashboardName": {"Ref": "Dashboard"},
    }


# --- monitoring: dashboard, alarms, metric names ------------------------------------------------

SERVICE_METRICS = Path(__file__).resolve().parents[2] / "deploy" / "managed-flink-metrics.txt"
# What the job publishes under the metric group KinesisAnalytics: the SQL stages' counters, the
# inference stage's and the shadow endpoint's (names agreed across the project for issue 12).
JOB_METRICS = frozenset(
    {
        "recordsParsed",
        "windowsEmitted",
        "deadLettersParse",
        "deadLettersValidate",
        "deadLettersWindow",
        "deadLettersInference",
        "inferenceRequests",
        "instancesScored",
        "inferenceRetries",
        "inferenceFailures",
        "inferenceInFlight",
        "inferenceLatencyP50Ms",
        "inferenceLatencyP95Ms",
        "inferenceLatencyP99Ms",
        "inferenceBatchSize",
        "shadowRequests",
        "shadowFailures",
        "shadowMisses",
        "shadowLatencyP50Ms",
        "shadowLatencyP95Ms",
        "shadowLatencyP99Ms",
    }
)
_INSIGHTS_QUERY = re.compile(
    r"^SELECT (?:SUM|AVG|MAX|MIN|COUNT)\((?P<metric>\w+)\) FROM \"AWS/KinesisAnalytics\" "
    r"WHERE Application = '(?P<application>[^']+)'$"
)


def service_metrics() -> dict[str, set[str]]:
    """The committed list of the service's metric names, by section."""
    sections: dict[str, set[str]] = {}
    current = None
    for raw in SERVICE_METRICS.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), set())
        else:
            assert current is not None, line
            current.add(line)
    return sections


def _insights_metric(expression: str) -> str:
    match = _INSIGHTS_QUERY.match(expression)
    assert match, f"not a Metrics Insights query of the job's application: {expression}"
    assert match["application"] == "stream-scoring", expression
    return match["metric"]


def dashboard_metrics(stack: Stack) -> list[str]:
    body = json.loads(stack.properties("Dashboard")["DashboardBody"])
    names = []
    for widget in body["widgets"]:
        for entry in widget["properties"].get("metrics", []):
            if isinstance(entry[0], dict):
                names.append(_insights_metric(entry[0]["expression"]))
            else:
                namespace, name, *dimensions = entry
                assert namespace == "AWS/KinesisAnalytics", entry
                assert dimensions[:2] == ["Application", "stream-scoring"], entry
                names.append(name)
    return names


def alarms(stack: Stack) -> dict[str, dict[str, Any]]:
    resources = stack.template["Resources"]
    return {
        logical: stack.properties(logical)
        for logical, resource in resources.items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }


def alarm_metrics(alarm: Mapping[str, Any]) -> list[str]:
    if "MetricName" in alarm:
        assert alarm["Namespace"] == "AWS/KinesisAnalytics"
        assert alarm["Dimensions"] == [{"Name": "Application", "Value": "stream-scoring"}]
        return [alarm["MetricName"]]
    names = []
    for query in alarm["Metrics"]:
        if "MetricStat" in query:
            metric = query["MetricStat"]["Metric"]
            assert metric["Namespace"] == "AWS/KinesisAnalytics"
            assert metric["Dimensions"] == [{"Name": "Application", "Value": "stream-scoring"}]
            names.append(metric["MetricName"])
        elif query["Expression"].startswith("SELECT"):
            names.append(_insights_metric(query["Expression"]))
    return names


def named_metrics(template: Mapping[str, Any]) -> set[str]:
    stack = Stack(template, BASE)
    named = set(dashboard_metrics(stack))
    for alarm in alarms(stack).values():
        named |= set(alarm_metrics(alarm))
    return named


def test_the_metric_list_has_sources_and_the_2_2_removals() -> None:
    text = SERVICE_METRICS.read_text(encoding="utf-8")
    assert "https://docs.aws.amazon.com/managed-flink/latest/java/metrics-dimensions.html" in text
    sections = service_metrics()
    assert sections["removed"] == {"fullRestarts", "bytesRequestedPerFetch"}
    assert sections["deprecated"] == {"uptime", "downtime"}
    assert {"numRestarts", "runningTime", "restartingTime"} <= sections["application"]
    assert not (sections["removed"] | sections["deprecated"]) & (sections["application"] | sections["kinesis-source"])


def test_every_metric_named_is_published_by_the_job_or_documented_by_the_service() -> None:
    sections = service_metrics()
    documented = sections["application"] | sections["kinesis-source"]
    named = named_metrics(_template())
    assert named - JOB_METRICS - documented == set()
    assert named & (sections["removed"] | sections["deprecated"]) == set()


def test_the_metric_name_check_catches_a_removed_metric() -> None:
    template = _template()
    restarts = template["Resources"]["RestartsAlarm"]["Properties"]["Metrics"][0]["MetricStat"]["Metric"]
    restarts["MetricName"] = "fullRestarts"
    template["Resources"]["DeadLettersParseAlarm"]["Properties"]["Metrics"][0]["Expression"] = {
        "Fn::Sub": "SELECT SUM(deadLetters) FROM \"AWS/KinesisAnalytics\" WHERE Application = '${ApplicationName}'"
    }
    sections = service_metrics()
    documented = sections["application"] | sections["kinesis-source"]
    assert named_metrics(template) - JOB_METRICS - documented == {"fullRestarts", "deadLetters"}


def test_dashboard_reads_as_the_pipeline() -> None:
    names = dashboard_metrics(Stack(_template(), BASE))
    assert names == [
        "numRecordsInPerSecond",
        "numRecordsOutPerSecond",
        "millisBehindLatest",
        "recordsParsed",
        "windowsEmitted",
        "deadLettersParse",
        "deadLettersValidate",
        "deadLettersWindow",
        "deadLettersInference",
        "inferenceLatencyP50Ms",
        "inferenceLatencyP95Ms",
        "inferenceLatencyP99Ms",
        "inferenceRequests",
        "instancesScored",
        "inferenceRetries",
        "inferenceFailures",
        "inferenceInFlight",
        "inferenceBatchSize",
        "lastCheckpointDuration",
        "numberOfFailedCheckpoints",
        "numRestarts",
        "runningTime",
        "cpuUtilization",
        "heapMemoryUtilization",
        "containerMemoryUtilization",
    ]
    body = json.loads(Stack(_template(), BASE).properties("Dashboard")["DashboardBody"])
    assert {widget["properties"].get("region") for widget in body["widgets"] if widget["type"] == "metric"} == {REGION}


def test_alarms_and_what_they_watch() -> None:
    found = {logical: alarm_metrics(alarm) for logical, alarm in alarms(Stack(_template(), BASE)).items()}
    assert found == {
        "NoInputAlarm": ["numRecordsInPerSecond"],
        "DeadLettersParseAlarm": ["deadLettersParse"],
        "DeadLettersValidateAlarm": ["deadLettersValidate"],
        "DeadLettersWindowAlarm": ["deadLettersWindow"],
        "DeadLettersInferenceAlarm": ["deadLettersInference"],
        "InferenceFailuresAlarm": ["inferenceFailures"],
        "CheckpointFailuresAlarm": ["numberOfFailedCheckpoints"],
        "RestartsAlarm": ["numRestarts"],
    }


def test_no_input_alarm_counts_missing_data_as_no_input() -> None:
    alarm = alarms(Stack(_template(), {**BASE, "NoInputMinutes": "10"}))["NoInputAlarm"]
    assert (alarm["Statistic"], alarm["Period"], alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (
        "Maximum",
        60,
        "10",
        "10",
    )
    assert (alarm["Threshold"], alarm["ComparisonOperator"], alarm["TreatMissingData"]) == (
        0,
        "LessThanOrEqualToThreshold",
        "breaching",
    )


def test_counting_alarms_watch_the_increase_of_the_service_counters() -> None:
    for logical in ("CheckpointFailuresAlarm", "RestartsAlarm"):
        alarm = alarms(Stack(_template(), BASE))[logical]
        total, increase = alarm["Metrics"]
        assert (total["MetricStat"]["Stat"], total["ReturnData"]) == ("Maximum", False)
        assert (increase["Expression"], increase["ReturnData"]) == ("RATE(total)", True)
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")


@pytest.mark.parametrize("topic", ["", f"arn:aws:sns:{REGION}:{ACCOUNT}:on-call"], ids=["no-topic", "topic"])
def test_alarms_notify_the_topic_when_one_is_given(topic: str) -> None:
    for logical, alarm in alarms(Stack(_template(), {**BASE, "AlarmTopicArn": topic})).items():
        expected = [topic] if topic else None
        assert (alarm.get("AlarmActions"), alarm.get("OKActions")) == (expected, expected), logical
        assert alarm["AlarmName"].startswith("stream-scoring-"), logical


def test_the_application_lets_operator_metrics_through() -> None:
    config = Stack(_template(), BASE).properties("Application")["ApplicationConfiguration"]
    assert config["FlinkApplicationConfiguration"]["MonitoringConfiguration"]["MetricsLevel"] == "OPERATOR"
