"""Where the data-model docs get their stacks: an in-process synthesis, or a cloud assembly."""

from __future__ import annotations

import tempfile
from pathlib import Path

from tools.assembly import AssemblyError, Stack, load_stacks
from tools.docs.facts import DataModelError


def synthesize() -> dict[str, Stack]:
    """Every stack from one in-process synthesis, as `cdk synth` would write it, read back
    through tools.assembly like any other cloud assembly."""
    import app as cdk_app
    from config import ConfigError
    from tools.synth import new_app

    with tempfile.TemporaryDirectory() as outdir:
        app = new_app(outdir=outdir)
        try:
            cdk_app.build(app)
        except ConfigError as error:
            raise DataModelError(f"cannot synthesize: {error}") from error
        app.synth()
        return read(Path(outdir))


def from_assembly(path: Path) -> dict[str, Stack]:
    if not (path / "manifest.json").is_file():
        raise DataModelError(f"--assembly {path}: no manifest.json there; pass a cloud assembly directory such as cdk.out (make synth)")
    return read(path)


def read(path: Path) -> dict[str, Stack]:
    try:
        return load_stacks(path)
    except AssemblyError as error:
        raise DataModelError(str(error)) from error
