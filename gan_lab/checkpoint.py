"""Checkpoints that survive a kill: atomic writes, safe loads, a format marker.

A long image run on Colab can be cut off at any moment, including in the middle of writing a checkpoint.
``save_checkpoint`` therefore never writes the target file in place:

    write the state to  <dir>/.<name>.tmp   ->  flush, fsync  ->  os.replace onto <dir>/<name>

``os.replace`` is atomic on POSIX and Windows, so the target is always either the previous complete
checkpoint or the new complete one. A kill during the write leaves the old file and a stale ``.tmp``
(overwritten by the next save).

``load_checkpoint`` reads with ``torch.load(..., weights_only=True)``: no arbitrary pickled code runs, so
the state may hold only plain containers (dict, list, tuple), tensors, numbers, strings, booleans and None:
``state_dict()``s of modules and optimizers, RNG states as uint8 tensors, histories as lists of floats.
"""
from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any, Union

import torch

__all__ = ["save_checkpoint", "load_checkpoint", "CheckpointError", "FORMAT", "VERSION"]

FORMAT = "gan_lab-checkpoint"
VERSION = 1

PathLike = Union[str, "os.PathLike[str]"]
_PLAIN = (str, int, float, bool, type(None), torch.Tensor)


class CheckpointError(ValueError):
    """A file that is not a complete gan_lab checkpoint, or a state that cannot be saved as one."""


def _check_plain(value: Any, where: str) -> None:
    """Raise ``CheckpointError`` naming the first entry that ``weights_only`` loading would refuse."""
    if isinstance(value, (dict, OrderedDict)):
        for key, item in value.items():
            if not isinstance(key, (str, int)):
                raise CheckpointError(f"checkpoint state key {where}[{key!r}] must be a string or an integer, "
                                      f"got {type(key).__name__}")
            _check_plain(item, f"{where}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]")
    elif not isinstance(value, _PLAIN):
        raise CheckpointError(f"checkpoint state {where} is a {type(value).__name__}; only dicts, lists, tuples, "
                              "tensors, numbers, strings, booleans and None can be saved (use state_dict())")


def save_checkpoint(path: PathLike, state: dict) -> None:
    """Write ``state`` to ``path`` atomically, tagged ``{"format": FORMAT, "version": VERSION}``.

    The state is checked first (plain containers, tensors, numbers, strings only); nothing is written if
    it fails. Tensors are saved as they are; move them to the CPU first for a device-independent file.
    """
    if not isinstance(state, dict):
        raise CheckpointError(f"a checkpoint state must be a dict, got {type(state).__name__}")
    _check_plain(state, "state")
    path = os.fspath(path)
    directory, name = os.path.split(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot write checkpoint {path!r}: directory {directory!r} does not exist")
    tmp = os.path.join(directory, f".{name}.tmp")
    payload = {"format": FORMAT, "version": VERSION, "state": state}
    try:
        with open(tmp, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable (POSIX); not possible on every platform
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load_checkpoint(path: PathLike) -> dict:
    """The state saved by ``save_checkpoint(path, state)``, with every tensor on the CPU.

    Raises ``FileNotFoundError`` if there is no file, and ``CheckpointError`` (a ``ValueError``) naming the
    path if the file is truncated, is not a torch file, holds anything beyond plain data, or is a torch
    file without the gan_lab marker or from a newer format version.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path!r}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # zip errors, unpickling errors, EOF: all mean "not a complete torch file"
        size = os.path.getsize(path)
        raise CheckpointError(f"cannot read checkpoint {path!r} ({size} bytes): it is truncated, not a torch file, "
                              f"or holds more than plain data ({type(err).__name__}: {err})") from err
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise CheckpointError(f"{path!r} is a torch file but not a gan_lab checkpoint "
                              f"(format marker {found!r}, expected {FORMAT!r})")
    version = payload.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= VERSION:
        raise CheckpointError(f"{path!r} is a gan_lab checkpoint of version {version!r}; "
                              f"this gan_lab reads versions 1 to {VERSION}")
    state = payload.get("state")
    if not isinstance(state, dict):
        raise CheckpointError(f"{path!r} has the gan_lab marker but no state dict (got {type(state).__name__})")
    return state
