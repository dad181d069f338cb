"""archive-redrive against the local moto server: held TTL deletions go back to their buffers.

The queues are the ones the synthesized dev templates declare (read by the tool itself), made
in moto by name.
"""

from __future__ import annotations

import json

import pytest

from tests.local.helpers import aws_session
from tests.support import assembly_dir
from tools import archive_redrive


def pairs(synthesized) -> list[archive_redrive.Redrive]:
    return archive_redrive.redrives(assembly_dir(synthesized), "dev")


@pytest.fixture
def sqs(moto_endpoint, synthesized):
    client = aws_session("us-east-1").client("sqs", endpoint_url=moto_endpoint)
    made = []
    for pair in pairs(synthesized):
        for name in (pair.held, pair.buffer):
            made.append(client.create_queue(QueueName=name)["QueueUrl"])
    yield client
    for url in made:
        client.delete_queue(QueueUrl=url)


def test_the_templates_name_a_held_queue_and_a_buffer_for_every_archived_table(synthesized):
    found = pairs(synthesized)
    assert [(p.held, p.buffer) for p in found] == [
        (f"daylight-dev-{table}-archive-held", f"daylight-dev-{table}-archive-buffer")
        for table in sorted(("audit_logs", "locations", "user_profiles", "users"))
    ]
    assert {p.region for p in found} == {"us-east-1"}


def test_every_held_record_moves_to_its_buffer_once(sqs, synthesized):
    users = next(p for p in pairs(synthesized) if p.buffer == "daylight-dev-users-archive-buffer")
    held = sqs.get_queue_url(QueueName=users.held)["QueueUrl"]
    buffer = sqs.get_queue_url(QueueName=users.buffer)["QueueUrl"]
    records = [json.dumps({"eventName": "REMOVE", "dynamodb": {"Keys": {"userId": {"S": f"u{i}"}}}}) for i in range(23)]
    for body in records:
        sqs.send_message(QueueUrl=held, MessageBody=body, MessageAttributes={"source": {"DataType": "String", "StringValue": "t"}})

    assert archive_redrive.move(sqs, users, dry_run=True) == (23, 0)
    # moto returns what a queue holds at once; the command's own run (below) keeps the long poll.
    assert archive_redrive.move(sqs, users, wait_seconds=0) == (23, 0)

    arrived = []
    while batch := sqs.receive_message(QueueUrl=buffer, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get("Messages"):
        arrived += batch
        sqs.delete_message_batch(QueueUrl=buffer, Entries=[{"Id": m["MessageId"], "ReceiptHandle": m["ReceiptHandle"]} for m in batch])
    assert sorted(m["Body"] for m in arrived) == sorted(records)
    assert all(m["MessageAttributes"]["source"]["StringValue"] == "t" for m in arrived)
    # Nothing is left held, and a second run moves nothing.
    assert archive_redrive.move(sqs, users, wait_seconds=0) == (0, 0)


def test_a_record_the_buffer_refuses_stays_held(sqs, synthesized, monkeypatch):
    users = next(p for p in pairs(synthesized) if p.buffer == "daylight-dev-users-archive-buffer")
    held = sqs.get_queue_url(QueueName=users.held)["QueueUrl"]
    sqs.send_message(QueueUrl=held, MessageBody='{"eventName": "REMOVE"}')
    refuse = lambda **kwargs: {"Successful": [], "Failed": [{"Id": e["Id"], "SenderFault": False, "Code": "x"} for e in kwargs["Entries"]]}  # noqa: E731
    monkeypatch.setattr(sqs, "send_message_batch", refuse)
    assert archive_redrive.move(sqs, users) == (0, 1)
    monkeypatch.undo()
    # Still there once its visibility timeout passes: nothing was deleted.
    attributes = sqs.get_queue_attributes(
        QueueUrl=held, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )
    counts = attributes["Attributes"]
    assert int(counts["ApproximateNumberOfMessages"]) + int(counts["ApproximateNumberOfMessagesNotVisible"]) == 1


def test_the_command_redrives_one_table_and_names_an_unknown_one(sqs, synthesized, moto_endpoint, monkeypatch, capsys):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    users = next(p for p in pairs(synthesized) if p.buffer == "daylight-dev-users-archive-buffer")
    sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName=users.held)["QueueUrl"], MessageBody="{}")
    args = ["--env", "dev", "--assembly", str(assembly_dir(synthesized)), "--endpoint-url", moto_endpoint]
    assert archive_redrive.main([*args, "--table", "daylight-dev-users"]) == 0
    assert capsys.readouterr().out == "daylight-dev-users-archive-held: 1 record moved to daylight-dev-users-archive-buffer\n"
    assert archive_redrive.main([*args, "--table", "daylight-dev-nope"]) == 2
    assert "daylight-dev-nope has no archive buffer in dev's templates" in capsys.readouterr().err


def test_the_held_queue_is_drained_only_after_a_long_poll_finds_nothing(synthesized):
    """A short poll may come back empty from a queue that is not: the last receive waits."""
    import boto3
    from botocore.stub import Stubber

    users = next(p for p in pairs(synthesized) if p.buffer == "daylight-dev-users-archive-buffer")
    client = boto3.client("sqs", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    with Stubber(client) as stub:
        for name in (users.held, users.buffer):
            stub.add_response("get_queue_url", {"QueueUrl": f"https://sqs/{name}"}, {"QueueName": name})
        expected = {
            "QueueUrl": f"https://sqs/{users.held}",
            "MaxNumberOfMessages": 10,
            "WaitTimeSeconds": 1,
            "MessageAttributeNames": ["All"],
            "VisibilityTimeout": 60,
        }
        stub.add_response("receive_message", {"Messages": []}, expected)
        assert archive_redrive.move(client, users) == (0, 0)
        stub.assert_no_pending_responses()
