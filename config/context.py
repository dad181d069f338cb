"""Which CDK context keys the app accepts: a mistyped `-c enviroment=prod` must stop synth,
not silently synthesize every environment."""

from __future__ import annotations

from collections.abc import Iterable

# The app's own keys, with what each is for.
APP_KEYS = {"env": "the environment to synthesize: dev, staging or prod (every one when unset)"}
# What CDK and its CLI put into the context: feature flags (cdk.json), the CLI's own settings,
# and cached lookups from cdk.context.json ("availability-zones:account=...:region=...").
CDK_PREFIXES = ("aws:cdk:", "@aws-cdk/", "@aws-cdk-containers/", "cdk:")


def unknown_context(keys: Iterable[str], known: Iterable[str]) -> list[str]:
    """One line per context key that is neither the app's nor CDK's, with what is allowed."""
    known = set(known)
    problems = []
    for key in sorted(keys):
        if key in APP_KEYS or key in known or key.startswith(CDK_PREFIXES) or "=" in key:
            continue
        # `enviroment`, `environment`, `ENV`: the one key people mean; no guesses beyond it.
        close = [name for name in APP_KEYS if key.lower().startswith(name)]
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        allowed = "; ".join(f"{name}: {what}" for name, what in APP_KEYS.items())
        problems.append(
            f"context key {key!r}{hint} is not allowed: the app reads only {allowed}; CDK's own keys are cdk.json's feature flags and aws:cdk:*"
        )
    return problems
