"""gan_lab.checkpoint: round trip, atomic writes that survive a crash mid-write, clear errors on bad files."""
import os

import numpy as np
import pytest
import torch
from torch import nn

from gan_lab import checkpoint
from gan_lab.checkpoint import FORMAT, VERSION, CheckpointError, load_checkpoint, save_checkpoint


def a_state(value: float = 1.0) -> dict:
    net = nn.Linear(3, 2)
    with torch.no_grad():
        net.weight.fill_(value)
    opt = torch.optim.Adam(net.parameters(), betas=(0.0, 0.9))
    net(torch.ones(4, 3)).sum().backward()
    opt.step()
    return {"step": 7, "net": net.state_dict(), "opt": opt.state_dict(),
            "rng": torch.Generator().manual_seed(3).get_state(),
            "history": {"loss": [0.5, float("nan"), -1.0], "step": [1, 2, 3]}, "name": "run", "none": None,
            "pairs": [(1, torch.zeros(2, dtype=torch.uint8))], "config": {"betas": (0.0, 0.9), "amp": "auto"}}


def assert_same(a, b):
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b)
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    elif isinstance(a, float) and a != a:
        assert b != b
    else:
        assert a == b and type(a) is type(b)


def test_round_trip_keeps_every_entry(tmp_path):
    state = a_state()
    path = tmp_path / "run.pt"
    save_checkpoint(path, state)
    loaded = load_checkpoint(path)
    assert_same(state, loaded)
    assert os.listdir(tmp_path) == ["run.pt"]


def test_loaded_state_restores_an_optimizer_and_a_generator(tmp_path):
    state = a_state()
    save_checkpoint(str(tmp_path / "c.pt"), state)
    loaded = load_checkpoint(str(tmp_path / "c.pt"))
    g = torch.Generator()
    g.set_state(loaded["rng"])
    assert torch.equal(torch.rand(3, generator=g), torch.rand(3, generator=torch.Generator().manual_seed(3)))
    net = nn.Linear(3, 2)
    net.load_state_dict(loaded["net"])
    torch.optim.Adam(net.parameters()).load_state_dict(loaded["opt"])


def test_file_is_tagged_with_the_format_marker(tmp_path):
    save_checkpoint(tmp_path / "c.pt", {"x": 1})
    raw = torch.load(tmp_path / "c.pt", weights_only=True)
    assert raw == {"format": FORMAT, "version": VERSION, "state": {"x": 1}}


def test_a_crash_mid_write_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    old = a_state(1.0)
    save_checkpoint(path, old)
    before = path.read_bytes()

    def crash(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 half a checkpoint")     # some bytes reach the disk, then the process dies
        raise KeyboardInterrupt("killed mid-write")

    monkeypatch.setattr(checkpoint.torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, a_state(2.0))
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["c.pt"]
    assert_same(old, load_checkpoint(path))


def test_a_failing_fsync_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"step": 1})

    def failing_fsync(fd):
        raise OSError("I/O error")

    monkeypatch.setattr(checkpoint.os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="I/O error"):
        save_checkpoint(path, {"step": 2})
    monkeypatch.undo()
    assert load_checkpoint(path) == {"step": 1}
    assert os.listdir(tmp_path) == ["c.pt"]


def test_a_stale_temp_file_from_a_killed_writer_is_removed(tmp_path):
    (tmp_path / ".c.pt.x1y2z3.tmp").write_bytes(b"garbage left by a SIGKILL")
    save_checkpoint(tmp_path / "c.pt", {"step": 3})
    assert load_checkpoint(tmp_path / "c.pt") == {"step": 3}
    assert os.listdir(tmp_path) == ["c.pt"]


def test_a_planted_link_beside_the_checkpoint_is_never_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    for planted in (".c.pt.tmp", ".c.pt.abc.tmp"):   # the old predictable name, and one like the new ones
        os.symlink(victim, tmp_path / planted)
    save_checkpoint(tmp_path / "c.pt", {"step": 1})
    save_checkpoint(tmp_path / "c.pt", {"step": 2})
    assert victim.read_text() == "precious"
    assert (tmp_path / ".c.pt.tmp").is_symlink() and load_checkpoint(tmp_path / "c.pt") == {"step": 2}


@pytest.mark.parametrize("value, match", [
    (np.float64(1e-4), r"state\['lr'\] is a float64 \(numpy\)"),
    (np.int64(3), r"is a int64 \(numpy\)"),
    (torch.ones(2).as_subclass(type("MyTensor", (torch.Tensor,), {})), r"state\['lr'\] is a MyTensor"),
])
def test_values_that_weights_only_loading_refuses_are_refused_at_save(tmp_path, value, match):
    """np.float64 is a float subclass: accepted by an isinstance check, refused by torch.load(weights_only)."""
    save_checkpoint(tmp_path / "c.pt", {"lr": 1.0})
    before = (tmp_path / "c.pt").read_bytes()
    with pytest.raises(CheckpointError, match=match):
        save_checkpoint(tmp_path / "c.pt", {"lr": value})
    assert (tmp_path / "c.pt").read_bytes() == before and os.listdir(tmp_path) == ["c.pt"]


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_non_finite_tensor_is_never_saved_and_never_loaded(tmp_path, bad):
    good = {"w": torch.ones(3)}
    save_checkpoint(tmp_path / "c.pt", good)
    with pytest.raises(CheckpointError, match=r"state\['w'\] holds NaN or infinite"):
        save_checkpoint(tmp_path / "c.pt", {"w": torch.tensor([1.0, bad])})
    assert torch.equal(load_checkpoint(tmp_path / "c.pt")["w"], good["w"])
    payload = {"format": "gan_lab-checkpoint", "version": 1, "state": {"w": torch.tensor([bad])}}
    torch.save(payload, tmp_path / "poisoned.pt")      # written by something else
    with pytest.raises(CheckpointError, match="poisoned.pt.*NaN or infinite"):
        load_checkpoint(tmp_path / "poisoned.pt")


def test_check_writable_refuses_a_directory_and_a_read_only_place_and_leaves_nothing(tmp_path, monkeypatch):
    assert checkpoint.check_writable(tmp_path / "c.pt") == str(tmp_path / "c.pt")
    with pytest.raises(ValueError, match="is a directory"):
        checkpoint.check_writable(tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        checkpoint.check_writable(tmp_path / "no" / "c.pt")
    with pytest.raises(ValueError, match="must be a path"):
        checkpoint.check_writable(3)
    assert os.listdir(tmp_path) == []

    def refuse(*args, **kwargs):   # a read-only mount (chmod does not stop root, who runs CI)
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(checkpoint.tempfile, "mkstemp", refuse)
    with pytest.raises(ValueError, match="cannot create files in .*Permission denied"):
        checkpoint.check_writable(tmp_path / "c.pt")


def test_truncated_file_gives_a_clear_error(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint(path, a_state())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"c\.pt.*truncated"):
        load_checkpoint(path)


def test_empty_and_non_torch_files_give_a_clear_error(tmp_path):
    for name, content in (("empty.pt", b""), ("notes.pt", b"just some text\n"), ("pickle.pt", b"\x80\x02K\x01.")):
        (tmp_path / name).write_bytes(content)
        with pytest.raises(CheckpointError, match=name.replace(".", r"\.")):
            load_checkpoint(tmp_path / name)


@pytest.mark.parametrize("payload, match", [
    ({"weight": torch.zeros(2)}, "not a gan_lab checkpoint.*None"),
    (torch.zeros(3), "not a gan_lab checkpoint.*Tensor"),
    ({"format": "other-tool", "state": {}}, "not a gan_lab checkpoint.*'other-tool'"),
    ({"format": FORMAT, "version": VERSION + 1, "state": {}}, f"version {VERSION + 1}"),
    ({"format": FORMAT, "version": VERSION, "state": [1, 2]}, "no state dict"),
])
def test_foreign_torch_files_give_a_clear_error(tmp_path, payload, match):
    path = tmp_path / "foreign.pt"
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match=match) as info:
        load_checkpoint(path)
    assert "foreign.pt" in str(info.value)


class Custom:
    pass


def test_a_file_with_arbitrary_pickled_objects_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": FORMAT, "version": VERSION, "state": {"x": Custom()}}, path)
    with pytest.raises(CheckpointError, match=r"evil\.pt"):
        load_checkpoint(path)


@pytest.mark.parametrize("state, match", [
    ({"net": nn.Linear(2, 2)}, r"state\['net'\] is a Linear \(torch"),
    ({"h": [1, {"x": object()}]}, r"state\['h'\]\[1\]\['x'\] is a object"),
    ({(1, 2): 3}, "key"),
    ([1, 2], "must be a dict"),
])
def test_unsafe_states_are_refused_before_anything_is_written(tmp_path, state, match):
    with pytest.raises(CheckpointError, match=match):
        save_checkpoint(tmp_path / "c.pt", state)
    assert os.listdir(tmp_path) == []


def test_missing_file_and_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        load_checkpoint(tmp_path / "nope.pt")
    with pytest.raises(FileNotFoundError, match="no_dir"):
        save_checkpoint(tmp_path / "no_dir" / "c.pt", {"x": 1})


def test_checkpoint_error_is_a_value_error():
    assert issubclass(CheckpointError, ValueError)


def test_writers_of_the_same_checkpoint_never_remove_each_others_temporaries(tmp_path):
    # The classroom grader trains the same cached run in parallel (threads; in CI also processes): a writer that
    # finished must not take a live writer's temporary for a killed writer's leftover (a CI run failed with
    # "no checkpoint at '.train-<key>.partial.pt.<random>.tmp'" when it did).
    import threading
    path, errors, state = tmp_path / "c.pt", [], {"w": torch.ones(64, 64)}

    def write(n: int) -> None:
        try:
            for step in range(n):
                save_checkpoint(path, {**state, "step": step})
        except BaseException as err:  # noqa: BLE001 - recorded and asserted below
            errors.append(err)

    threads = [threading.Thread(target=write, args=(40,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert load_checkpoint(path)["step"] == 39 and os.listdir(tmp_path) == ["c.pt"]


def test_a_temporary_of_a_live_writer_is_kept_and_one_of_a_dead_writer_removed(tmp_path):
    import subprocess
    import sys
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    live = tmp_path / f".c.pt.{os.getpid()}.abc123.tmp"
    gone = tmp_path / f".c.pt.{int(dead.stdout)}.def456.tmp"
    live.write_bytes(b"being written by a live process")
    gone.write_bytes(b"left by a killed writer")
    save_checkpoint(tmp_path / "c.pt", {"step": 1})
    assert sorted(os.listdir(tmp_path)) == sorted(["c.pt", live.name])


def test_save_returns_the_digest_of_the_bytes_it_wrote(tmp_path):
    import hashlib
    digest = save_checkpoint(tmp_path / "c.pt", {"w": torch.arange(5.0)})
    assert digest == hashlib.sha256((tmp_path / "c.pt").read_bytes()).hexdigest()
