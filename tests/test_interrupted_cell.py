"""A training cell cut off half-way continues when it is run again, as a student meets it: a notebook kernel
runs a cell that trains through ``gl.runs.cached``; the cell is interrupted (the stop button: a
KeyboardInterrupt), or the kernel dies (a Colab disconnect); running the cell again resumes from the partial
checkpoint in the run folder and ends on the same weights as a run that was never interrupted."""
import json
import os
import time
from pathlib import Path

import pytest
from jupyter_client.manager import start_new_kernel

ROOT = Path(__file__).resolve().parents[1]
RUN = ('"8gaussians", seed=4, steps=1500, width=16, depth=2, batch_size=32, log_every=5, eval_samples=0, '
       'progress=False')
CELL = f"import gan_lab as gl\nresult = gl.runs.cached(gl.train, {RUN})"
REPORT = f"""
import json, torch
uninterrupted = gl.train({RUN})
same = all(torch.equal(a, b) for x, y in ((result.generator, uninterrupted.generator),
                                          (result.critic, uninterrupted.critic))
           for a, b in zip(x.state_dict().values(), y.state_dict().values()))
print(json.dumps({{"start_step": result.start_step, "same": same,
                  "history": result.history["loss_d"] == uninterrupted.history["loss_d"]}}))
"""


@pytest.fixture
def kernel(tmp_path):
    env = {**os.environ, "GAN_LAB_RUN_DIR": str(tmp_path / "runs"), "GAN_LAB_CHECKPOINT_SECONDS": "0",
           "OMP_NUM_THREADS": "1", "GAN_LAB_BUDGET": "quick", "PYTHONPATH": str(ROOT)}
    env.pop("GAN_LAB_REUSE", None)     # a student's kernel: finished and partial runs are reused
    km, kc = start_new_kernel(kernel_name="python3", env=env, cwd=str(ROOT))
    yield km, kc, tmp_path / "runs"
    kc.stop_channels()
    km.shutdown_kernel(now=True)


def run_cell(kc, code: str, timeout: float = 300) -> tuple[dict, str]:
    """Execute ``code``; return the reply's content and what it printed."""
    msg_id = kc.execute(code)
    return wait_reply(kc, msg_id, timeout)


def wait_reply(kc, msg_id: str, timeout: float) -> tuple[dict, str]:
    out = []
    deadline = time.monotonic() + timeout
    while True:
        msg = kc.get_iopub_msg(timeout=max(1.0, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    while True:   # the reply to this request: wait_for_ready may leave extra kernel_info replies queued
        reply = kc.get_shell_msg(timeout=max(1.0, deadline - time.monotonic()))
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply["content"], "".join(out)


def start_and_cut(kc, folder: Path) -> str:
    """Start the training cell and return once its partial checkpoint is on disk (its msg_id)."""
    msg_id = kc.execute(CELL)
    # no W1 at the logs (eval_samples=0): POT's solver runs in C++, where an interrupt could wait
    deadline = time.monotonic() + 120
    while not list(folder.glob("train-*.partial.pt")):
        assert time.monotonic() < deadline, "no partial checkpoint within 120 s"
        time.sleep(0.01)
    time.sleep(0.3)   # a few more checkpoints: the cut lands anywhere, mid-step or mid-write
    return msg_id


def finish_and_compare(kc, folder: Path) -> dict:
    reply, _ = run_cell(kc, CELL)                  # the student runs the cell again
    assert reply["status"] == "ok", reply
    assert not list(folder.glob("*.partial.pt")), "the partial checkpoint outlived the finished run"
    assert sorted(p.suffix for p in folder.iterdir()) == [".pt", ".sha256"]
    reply, printed = run_cell(kc, REPORT)
    assert reply["status"] == "ok", reply
    return json.loads(printed.strip().splitlines()[-1])


def test_an_interrupted_training_cell_resumes_when_run_again(kernel):
    km, kc, folder = kernel
    msg_id = start_and_cut(kc, folder)
    km.interrupt_kernel()                          # the stop button
    reply, _ = wait_reply(kc, msg_id, 120)
    assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt", reply
    report = finish_and_compare(kc, folder)
    assert report["start_step"] > 0               # it continued, not restarted
    assert report["same"] and report["history"]


def test_a_training_cell_whose_kernel_died_resumes_in_a_new_kernel(kernel):
    km, kc, folder = kernel
    start_and_cut(kc, folder)
    km.restart_kernel(now=True)                    # the kernel is killed (a disconnect), a fresh one starts
    kc.wait_for_ready(timeout=60)
    report = finish_and_compare(kc, folder)
    assert report["start_step"] > 0
    assert report["same"] and report["history"]
