"""The project's tools, one package: `python -m tools <command>` (see tools/__main__.py).

    tools.assembly   the one reader of synthesized output: cloud assemblies, template and
                     snapshot directories -> Stack; normalisation; JSON helpers (stdlib only)
    tools.tables     table definitions read from those stacks (stdlib only)
    tools.guard      the deploy guard (stdlib only: it runs against old git refs)
    tools.summary    the pull-request change summary: two inputs -> what changed, the guard's
                     verdict, the cost delta, as Markdown (stdlib and config only)
    tools.review     the review summary: one input -> what each stack holds, as lines whose
                     snapshot diff a reviewer reads (stdlib only)
    tools.validate   cfn-lint over an assembly, the template gate on the path to deploy
    tools.local      the local stand-in, the Fusion health import, verify-deployment
    tools.docs       the generated data-model documents
    tools.bench      performance figures
    tools.synth      an in-process cdk.App like `cdk synth`'s, for docs, bench and tests

Nothing here imports tests/, and nothing edits sys.path: run from the repository root
(`python -m tools ...`, which the Makefile and the wrapper scripts do).
"""
