"""Where the cluster is and its master password, from AWS: the cluster's names, its writer
endpoint and master secret (RDS DescribeDBClusters), the secret's "password" (Secrets Manager
GetSecretValue). Each failure is a BootstrapError that says what to do.
"""

from __future__ import annotations

import json
from typing import Any

from config.catalogue import PERSONALPOD
from stacks.naming import DATABASE
from tools.db_bootstrap.errors import BootstrapError


def cluster_identifier(env: str) -> str:
    """The Aurora cluster of `env`, as stacks/database.py names it (`{system}-{env}`)."""
    return f"{PERSONALPOD.key}-{env}"


def clients_security_group(env: str) -> str:
    return f"{cluster_identifier(env)}-db-clients"


def aws_client(service: str, region: str) -> Any:
    """A boto3 client; the tests replace this with stubbed clients."""
    import boto3
    from botocore.config import Config

    # Short connect timeouts: inside the isolated VPC there is no RDS API endpoint, and the default
    # (60 s, retried) would hang for minutes before saying so. The standard retry mode's attempts
    # (3, or AWS_MAX_ATTEMPTS as for any AWS tool).
    config = Config(connect_timeout=5, read_timeout=20, retries={"mode": "standard"})
    return boto3.client(service, region_name=region, config=config)


def _aws_problem(error: Exception) -> str:
    from botocore.exceptions import ClientError

    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return f"{details.get('Code', 'error')}: {details.get('Message', '')}".rstrip(": ")
    return str(error) or type(error).__name__


def describe_cluster(env: str, region: str) -> dict[str, Any]:
    from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, EndpointConnectionError

    identifier = cluster_identifier(env)
    try:
        clusters = aws_client("rds", region).describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "DBClusterNotFoundFault":
            raise BootstrapError(
                f"cannot resolve the cluster: no Aurora cluster {identifier} in {region} "
                f"(is {DATABASE}-{env} deployed, and are these credentials for its account?)"
            ) from None
        raise BootstrapError(f"cannot resolve the cluster {identifier} in {region}: {_aws_problem(error)}") from None
    except (EndpointConnectionError, ConnectTimeoutError) as error:
        raise BootstrapError(
            f"cannot resolve the cluster {identifier}: the RDS API in {region} is unreachable ({_aws_problem(error)}); "
            "inside the isolated VPC, pass --host (the writer endpoint) and --secret-arn (the MasterSecretArn output)"
        ) from None
    except BotoCoreError as error:  # no credentials, bad profile
        raise BootstrapError(f"cannot resolve the cluster {identifier} in {region}: {_aws_problem(error)}") from None
    if not clusters:
        raise BootstrapError(f"cannot resolve the cluster: DescribeDBClusters returned nothing for {identifier} in {region}")
    return dict(clusters[0])


def writer_endpoint(cluster: dict[str, Any]) -> str:
    endpoint = cluster.get("Endpoint")
    if not endpoint:
        raise BootstrapError(
            f"cannot resolve the cluster: {cluster.get('DBClusterIdentifier')} has no writer endpoint yet "
            f"(status {cluster.get('Status', 'unknown')}); wait until it is available, or pass --host"
        )
    return str(endpoint)


def master_secret_arn(cluster: dict[str, Any]) -> str:
    arn = (cluster.get("MasterUserSecret") or {}).get("SecretArn")
    if not arn:
        raise BootstrapError(
            f"cluster {cluster.get('DBClusterIdentifier')} has no master secret (MasterUserSecret): its master password is "
            "not managed in Secrets Manager; turn it on again with `aws rds modify-db-cluster --manage-master-user-password` "
            "(docs/database.md, Credentials and rotation)"
        )
    return str(arn)


def master_password(arn: str, region: str) -> str:
    """The "password" of the master secret (RDS keeps {"username": ..., "password": ...} there)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        secret = aws_client("secretsmanager", region).get_secret_value(SecretId=arn)
    except (BotoCoreError, ClientError) as error:
        raise BootstrapError(f"cannot read the master secret {arn}: {_aws_problem(error)}") from None
    try:
        password = json.loads(secret.get("SecretString") or "")["password"]
    except (ValueError, KeyError, TypeError):
        raise BootstrapError(f'the master secret {arn} is not JSON with a "password"') from None
    if not isinstance(password, str) or not password:
        raise BootstrapError(f'the master secret {arn} has an empty "password"')
    return password
