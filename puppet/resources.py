"""Where the files that ship with Puppet live: ``onnx_models/`` and ``assets/``.

In a source checkout they sit beside the package; an installed copy (pip, or the
PyInstaller bundle) carries them inside it as ``puppet/onnx_models`` and
``puppet/assets``.
"""
from __future__ import annotations

from pathlib import Path

from puppet.errors import PuppetError

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise PuppetError(f"Puppet's '{name}' folder is missing from this installation",
                      "install Puppet again: pip install .")


def model_file(filename: str) -> Path:
    path = resource_dir("onnx_models") / filename
    if not path.is_file():
        raise PuppetError(f"the model {filename} is missing from this installation",
                          "re-create it with 'puppet export-model' or install Puppet again")
    return path


def asset_file(relative: str) -> Path:
    path = resource_dir("assets") / relative
    if not path.is_file():
        raise PuppetError(f"the built-in asset {relative} is missing from this installation",
                          "install Puppet again: pip install .")
    return path
