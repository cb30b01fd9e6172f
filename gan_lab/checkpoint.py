"""Checkpoints that survive a kill: atomic writes, safe loads, a format marker.

A long image run on Colab can be cut off at any moment, including in the middle of writing a checkpoint.
``save_checkpoint`` therefore never writes the target file in place:

    check the state  ->  write it to a fresh <dir>/.<name>.<random>.tmp  ->  flush, fsync
                     ->  read it back as load_checkpoint would  ->  os.replace onto <dir>/<name>

``os.replace`` is atomic on POSIX and Windows, so the target is always either the previous complete
checkpoint or the new complete one. The temporary file is created exclusively under an unpredictable name
(``tempfile.mkstemp``), so a file or link planted beside the checkpoint is never followed or overwritten. A
kill during the write leaves the old file and a stale ``.tmp``. A state that holds a non-finite tensor (a
diverged run) or anything ``weights_only`` loading would refuse is never written: the last good file stays.

``load_checkpoint`` reads with ``torch.load(..., weights_only=True)``: no arbitrary pickled code runs, so
the state may hold only plain containers (dict, list, tuple), tensors, numbers, strings, booleans and None:
``state_dict()``s of modules and optimizers, RNG states as uint8 tensors, histories as lists of floats.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from collections import OrderedDict
from typing import Any, Union

import torch

__all__ = ["save_checkpoint", "load_checkpoint", "check_writable", "CheckpointError", "FORMAT", "VERSION"]

FORMAT = "gan_lab-checkpoint"
VERSION = 1

PathLike = Union[str, "os.PathLike[str]"]
# Exactly these types: subclasses (numpy's float64 is a float, a bool is an int) may pickle as something
# that ``torch.load(weights_only=True)`` refuses, so ``type(value) in _PLAIN``, not isinstance.
_PLAIN = (str, int, float, bool, type(None))
_TENSORS = (torch.Tensor, torch.nn.Parameter)


class CheckpointError(ValueError):
    """A file that is not a complete gan_lab checkpoint, or a state that cannot be saved as one."""


def _check_plain(value: Any, where: str, *, finite: bool = True) -> None:
    """Raise ``CheckpointError`` naming the first entry that ``weights_only`` loading would refuse, or (with
    ``finite``) the first tensor holding a NaN or an infinity."""
    if type(value) in (dict, OrderedDict):
        for key, item in value.items():
            if type(key) not in (str, int):
                raise CheckpointError(f"checkpoint state key {where}[{key!r}] must be a string or an integer, "
                                      f"got {type(key).__name__}")
            _check_plain(item, f"{where}[{key!r}]", finite=finite)
    elif type(value) in (list, tuple):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]", finite=finite)
    elif type(value) in _TENSORS:
        if finite and (value.is_floating_point() or value.is_complex()) and not bool(torch.isfinite(value).all()):
            raise CheckpointError(f"checkpoint state {where} holds NaN or infinite values: a diverged state is "
                                  "never saved (the last good checkpoint is kept)")
    elif type(value) not in _PLAIN:
        kind = type(value).__name__ + ("" if type(value).__module__ == "builtins" else f" ({type(value).__module__})")
        raise CheckpointError(f"checkpoint state {where} is a {kind}; only dicts, lists, tuples, "
                              "tensors and plain Python str/int/float/bool/None can be saved and loaded safely "
                              "(convert it with float()/int(), or use state_dict())")


def check_writable(path: PathLike) -> str:
    """``path`` as a string, after checking a checkpoint can be written there: its directory exists and
    takes a new file, and ``path`` itself is not a directory. Raises ``ValueError`` naming the path; writes
    nothing that stays."""
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"checkpoint_path must be a path, got {path!r}")
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise ValueError(f"checkpoint_path {path!r}: directory {directory!r} does not exist")
    if os.path.isdir(path):
        raise ValueError(f"checkpoint_path {path!r} is a directory; give a file name inside it")
    try:
        fd, probe = tempfile.mkstemp(dir=directory, prefix=".gan_lab-probe.", suffix=".tmp")
    except OSError as err:
        raise ValueError(f"checkpoint_path {path!r}: cannot create files in {directory!r} ({err.strerror})") from None
    os.close(fd)
    os.remove(probe)
    return path


def save_checkpoint(path: PathLike, state: dict) -> str:
    """Write ``state`` to ``path`` atomically, tagged ``{"format": FORMAT, "version": VERSION}``; returns the
    SHA-256 (hex) of the bytes written.

    The state is checked first (plain containers, finite tensors, plain numbers and strings only) and the
    written file is read back before it replaces ``path``; nothing is replaced if either fails. Tensors are saved as they are; move them to the CPU first for a device-independent file.
    The digest is taken from this writer's own temporary file, so it is that of the bytes this call wrote even
    if another process replaces or removes ``path`` right after.
    """
    if not isinstance(state, dict):
        raise CheckpointError(f"a checkpoint state must be a dict, got {type(state).__name__}")
    _check_plain(state, "state")
    path = os.fspath(path)
    directory, name = os.path.split(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot write checkpoint {path!r}: directory {directory!r} does not exist")
    payload = {"format": FORMAT, "version": VERSION, "state": state}
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.{os.getpid()}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        load_checkpoint(tmp)   # what this wrote, load_checkpoint reads, before it replaces a good file
        with open(tmp, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        os.replace(tmp, path)
        _remove_stale_temporaries(directory, name)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable (POSIX); not possible on every platform
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return digest
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
    return digest


def _remove_stale_temporaries(directory: str, name: str) -> None:
    """Delete the regular files ``.<name>.<pid>.*.tmp`` that killed writers left (never a link's target).

    Another writer of the same checkpoint may be half-way through its own temporary (the classroom grader
    trains one cached run in several workers at once), so a temporary whose writer process is alive is kept;
    one without a pid in its name (an older gan_lab's) is taken for a leftover."""
    prefix = f".{name}."
    for entry in os.scandir(directory):
        if not (entry.name.startswith(prefix) and entry.name.endswith(".tmp") and entry.is_file(follow_symlinks=False)):
            continue
        pid = entry.name[len(prefix):].split(".", 1)[0]
        if pid.isdigit() and _alive(int(pid)):
            continue
        try:
            os.remove(entry.path)
        except OSError:
            pass


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this machine (POSIX ``kill(pid, 0)`` sends no signal; on Windows, where
    ``os.kill`` would end the process, every writer counts as alive and its temporary is kept)."""
    if pid == os.getpid() or os.name == "nt":
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except OSError:
        return True   # e.g. another user's process (PermissionError): keep the file
    return True


def load_checkpoint(path: PathLike) -> dict:
    """The state saved by ``save_checkpoint(path, state)``, with every tensor on the CPU.

    Raises ``FileNotFoundError`` if there is no file, and ``CheckpointError`` (a ``ValueError``) naming the
    path if the file is truncated, is not a torch file, holds anything beyond plain data, holds a non-finite
    tensor, or is a torch file without the gan_lab marker or from a newer format version.
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
    try:
        _check_plain(state, "state")
    except CheckpointError as err:
        raise CheckpointError(f"{path!r}: {err}") from None
    return state
