"""Acknowledged findings: the one way this project records a finding it accepts, for every scanner.

- cdk-nag rules ("AwsSolutions-S1", "HIPAA.Security-...") and the Control Tower controls of
  cdklabs-cdk-validator-cfnguard ("cdk-validator-cfnguard::<rule>") are CDK acknowledgements
  (Validations.acknowledge), written to the assembly's metadata;
- checkov checks ("CKV_AWS_18") are skips in the resource's own Metadata, where checkov reads
  them (`{"checkov": {"skip": [{"id": ..., "comment": ...}]}}`).

tests/test_guardrails.py pins every acknowledgement, and each must carry a reason a reviewer
would accept, on one resource.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnResource, Validations
from constructs import IConstruct

CONTROL_TOWER = "cdk-validator-cfnguard"


def acknowledge(construct: IConstruct, reasons: dict[str, str]) -> None:
    """Acknowledge findings on one construct's own resource, each with its reason."""
    target = construct.node.default_child or construct
    checkov = {rule: reason for rule, reason in reasons.items() if rule.startswith("CKV")}
    others = {rule: reason for rule, reason in reasons.items() if rule not in checkov}
    if others:
        Validations.of(target).acknowledge(*(Acknowledgment(id=rule, reason=reason) for rule, reason in others.items()))
    if checkov:
        if not isinstance(target, CfnResource):
            raise TypeError(f"{construct.node.path}: checkov skips go on a CloudFormation resource")
        existing = (target.get_metadata("checkov") or {}).get("skip", [])
        skips = [*existing, *({"id": rule, "comment": reason} for rule, reason in checkov.items())]
        target.add_metadata("checkov", {"skip": sorted(skips, key=lambda s: s["id"])})


# The compliance packs cdk-nag runs here besides AwsSolutions; they name their shared rules alike.
COMPLIANCE_PACKS = ("HIPAA.Security", "NIST.800.53.R5")


def in_packs(reasons: dict[str, str]) -> dict[str, str]:
    """`reasons` ("S3BucketReplicationEnabled": why) as the rule ids of every compliance pack."""
    return {f"{pack}-{rule}": reason for pack in COMPLIANCE_PACKS for rule, reason in reasons.items()}


def control_tower(rule: str) -> str:
    """The acknowledgement id of a Control Tower control, by its guard rule name."""
    return f"{CONTROL_TOWER}::{rule}"
