"""Stop `make diff` / `make deploy` early, with one message, when no AWS credentials are set.

Without this, the CDK CLI tries every stack in turn and prints the same credential error once
per stack. The check is offline: it only asks botocore whether credentials can be resolved
from the usual places (AWS_PROFILE, environment variables, ~/.aws, SSO cache, instance role);
whether they are valid for the right account is `make preflight`'s job.
"""

from __future__ import annotations

import os
import re
import sys

# The account ids shipped in config/environments.py are one digit twelve times (111111111111):
# no real account looks like that, so any such id, in any environment, is a placeholder.
PLACEHOLDER_ACCOUNT = re.compile(r"(?<!\d)(\d)\1{11}(?!\d)")


def message(command: str, env: str) -> str | None:
    import botocore.session

    session = botocore.session.Session()
    try:
        if session.get_credentials() is not None:
            return None
    except Exception as error:  # a broken profile: name it instead of a traceback
        problem = f"the AWS settings could not be read: {error}"
    else:
        problem = "no AWS credentials were found"
    profile = os.environ.get("AWS_PROFILE")
    return (
        f"make {command} ENV={env} stopped: {problem}" + (f" (AWS_PROFILE={profile})" if profile else "") + ".\n"
        f"  Next step: sign in and name the profile, e.g. `aws sso login --profile {env}-admin && "
        f"AWS_PROFILE={env}-admin make {command} ENV={env}`.\n"
        "  Note: the account ids shipped in config/environments.py (one digit twelve times, such as 111111111111) "
        'are placeholders; set the real ones first (README, "Environments and config").'
    )


def main(argv: list[str] | None = None) -> int:
    command, env = sys.argv[1:] if argv is None else argv
    text = message(command, env)
    if text:
        print(text, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
