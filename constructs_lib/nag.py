"""cdk-nag acknowledgements: the one way this project records an accepted finding."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge(construct: IConstruct, reasons: dict[str, str]) -> None:
    """Acknowledge cdk-nag findings on one construct's own resource, each with its reason."""
    target = construct.node.default_child or construct
    Validations.of(target).acknowledge(*(Acknowledgment(id=rule, reason=reason) for rule, reason in reasons.items()))
