"""gl.costs: the measured cost of each notebook, printed by its first cell."""
import json

import pytest
import torch

import gan_lab as gl
from classroom.build import book_notebooks

TABLE = {"machines": {"cpu": "a test box"},
         "notebooks": {"nb": {"cpu": {"quick": 12.0, "book": 300.0}, "cuda:Tesla T4": {"full": 7200.0}}}}


def test_every_notebook_of_the_book_has_measured_cpu_costs_at_quick_and_book():
    table = gl.costs.load()
    for path in book_notebooks():
        entry = table["notebooks"].get(path.stem, {}).get("cpu", {})
        assert {"quick", "book"} <= set(entry), f"{path.stem}: no CPU measurement at quick and book: {entry}"
        # quick is never dearer than book beyond timing noise (the Dirac-GAN page costs the same at both)
        assert 0 < entry["quick"] <= 1.5 * entry["book"], f"{path.stem}: quick dearer than book: {entry}"


def test_every_notebook_prints_its_own_costs_in_its_first_code_cell():
    for path in book_notebooks():
        first = next(c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
        assert f'gl.costs.report("{path.stem}");' in "".join(first["source"]), path


def test_the_report_gives_measured_figures_and_says_what_was_not_measured(monkeypatch, capsys):
    monkeypatch.setenv("GAN_LAB_BUDGET", "book")
    text = gl.costs.report("nb", device=torch.device("cpu"), costs=TABLE)
    assert "measured on a test box" in text
    assert "quick: 12 s (measured)" in text and "book : 5 min (measured)  <- this run" in text
    assert "full : not measured on cpu (measured: 2.0 h on cuda:Tesla T4)" in text
    assert capsys.readouterr().out.strip() == text


def test_an_unknown_notebook_is_reported_unmeasured_and_a_bad_argument_refused():
    assert "nope has not been measured yet" in gl.costs.report("nope", costs=TABLE)
    with pytest.raises(ValueError, match="notebook must be a notebook's name, got 3"):
        gl.costs.report(3, costs=TABLE)
    with pytest.raises(ValueError, match="budget must be one of"):
        gl.costs.seconds("nb", "huge", "cpu", TABLE)
    assert gl.costs.seconds("nb", "full", "cpu", TABLE) is None


# ---- the work of a notebook, and the estimate from it -------------------------------------------------------

import math  # noqa: E402

import benchmarks.notebook_work as nw  # noqa: E402
from gan_lab import estimate, losses, nets, quality, work  # noqa: E402
from gan_lab.costs import DeviceRates  # noqa: E402

RATES = DeviceRates("cuda:Fake GPU", 1e12, 1e-5, "given")
WORK = {"quick": {"flops": 10 ** 12, "dispatches": 10 ** 6, "host_seconds": 5.0, "counted": "exactly"},
        "book": {"flops": 4 * 10 ** 13, "dispatches": 2 * 10 ** 7, "host_seconds": 60.0, "counted": "per step"},
        "full": {"flops": 10 ** 15, "dispatches": 10 ** 8, "host_seconds": 600.0, "counted": "per step",
                 "partial": True}}


def _exact_and_extrapolated(counter_fn, original, args, kwargs):
    """(the work counter_fn extrapolates from short runs, the work of the call counted as it runs)."""
    session = nw.Session(work.Counter())
    session.counter.start()
    _, call = counter_fn(session, original, args, kwargs)
    session.counter.stop()
    with work.count() as c:
        original(*args, **kwargs)
    return call, c.total


def test_schedules_count_what_the_loops_do():
    for start, stop, every in [(0, 37, 10), (0, 40, 10), (5, 37, 4), (0, 3, 10), (12, 12, 5), (0, 1, 1)]:
        for last in (stop, stop + 3):
            brute = [s for s in range(start + 1, stop + 1) if s % every == 0 or s == last]
            assert nw.schedule(start, stop, every, last) == brute
            assert nw.events(start, stop, every, last) == len(brute)
    for start, stop in [(0, 10), (0, 1200), (30, 1001), (25, 26), (600, 400)]:
        assert nw.early_steps(start, stop) == sum(s <= 25 or s % 500 == 0 for s in range(start + 1, stop + 1))


def test_the_extrapolation_of_train_equals_the_full_count():
    # logs every 4 steps and at the last, snapshots, a log at step 0, and early critic steps at steps 1..25
    call, exact = _exact_and_extrapolated(nw.count_train, gl.train, ("8gaussians",), dict(
        objective="wgan-clip", steps=27, log_every=4, width=4, batch_size=8, n_critic=1, n_critic_early=2,
        eval_samples=0, snapshots=4, log_start=True, progress=False))
    assert call.work.rounded() == exact.rounded() and exact.flops > 0
    assert call.work.flops != call.parts["setup"].flops + 27 * call.parts["per_step"].flops   # logs matter


def test_the_extrapolation_of_train_seeds_and_a_stopping_on_log_equal_the_full_counts():
    call, exact = _exact_and_extrapolated(nw.count_train, gl.train_seeds, ("8gaussians",), dict(
        seeds=[0, 1], steps=17, log_every=5, width=4, batch_size=8, eval_samples=0, progress=False))
    assert call.work.rounded() == exact.rounded()

    def stop_at_12(result):              # work of its own (a forward pass), then StopTraining at step 12
        result.generator(torch.zeros(3, 2)).sum()
        if result.history["step"][-1] == 12:
            raise gl.StopTraining

    call, exact = _exact_and_extrapolated(nw.count_train, gl.train, ("8gaussians",), dict(
        steps=40, log_every=3, width=4, batch_size=8, eval_samples=0, progress=False, on_log=stop_at_12))
    assert call.stopped_at == 12 and call.work.rounded() == exact.rounded()


def test_the_extrapolation_of_train_images_equals_the_full_count_and_pads_the_result(tmp_path):
    x = gl.data.to_tensor(gl.data.shapes_dataset(gl.data.SHAPES_TRAIN, 8, size=16, seed=0)[0])
    # batch 6: the short runs count at a batch of 2, and scale a step's FLOPs by 3
    kwargs = dict(size=16, width=4, batch_size=6, n_critic=2, steps=11, log_every=4, snapshots=2, sample_every=3,
                  checkpoint_every=5, progress=False, resume="auto")
    session = nw.Session(work.Counter())
    session.counter.start()
    short, call = nw.count_train_images(session, gl.images.train_images, (x,),
                                        dict(kwargs, checkpoint_path=tmp_path / "counted.pt"))
    # the same call again resumes the finished run: set-up and restore only, as the real call does
    again, resumed = nw.count_train_images(session, gl.images.train_images, (x,),
                                           dict(kwargs, checkpoint_path=tmp_path / "counted.pt"))
    session.counter.stop()
    with work.count() as c:
        full = gl.images.train_images(x, **kwargs, checkpoint_path=tmp_path / "real.pt")
    with work.count() as c_again:
        gl.images.train_images(x, **kwargs, checkpoint_path=tmp_path / "real.pt")
    assert call.work.rounded() == c.total.rounded()           # with saves at steps 5, 10 and 11
    assert resumed.work.rounded() == c_again.total.rounded() and resumed.start == 11
    assert not (tmp_path / "counted.pt").exists()              # the counted calls write no checkpoint
    # the short run's result has the full run's schedule, so the notebook's next cells find what they index
    assert short.history["step"] == full.history["step"] == again.history["step"] == [4, 8, 11]
    assert [s for s, _ in short.samples] == [s for s, _ in full.samples] == [0, 3, 6, 9, 11]
    assert short.config == full.config


def _text_to_image_call():
    from gan_lab import text_to_image
    classes = gl.data.SHAPES_TRAIN
    u8, y = gl.data.shapes_dataset(classes, 6, size=16, seed=0)
    kwargs = dict(width=4, noise_dim=4, text_dim=4, embed_dim=4, text_hidden=8, captions_per_class=4, batch_size=6,
                  steps=11, log_every=4, progress=False)
    return nw.count_train_text_to_image, text_to_image.train_text_to_image, (gl.data.to_tensor(u8),
                                                                              torch.from_numpy(y), classes), kwargs


def _infogan_call():
    from gan_lab import infogan
    u8, _ = gl.data.shapes_dataset(gl.data.SHAPES_TRAIN, 6, size=16, seed=0)
    kwargs = dict(width=4, noise_dim=4, n_categories=2, q_width=8, batch_size=6, steps=11, log_every=4,
                  progress=False)
    return nw.count_train_infogan, infogan.train_infogan, (gl.data.to_tensor(u8),), kwargs


def _translation_call():
    from gan_lab import translation
    x = gl.data.to_tensor(gl.data.shapes_dataset(gl.data.SHAPES_TRAIN, 6, size=16, seed=0)[0])
    config = translation.TranslationConfig(size=16, width=4, blocks=1, batch_size=6, steps=11, log_every=4,
                                           progress=False)
    return nw.count_train_translation, translation.train_translation, (x[:6], x[6:]), dict(config=config)


@pytest.mark.parametrize("make_call", [_text_to_image_call, _infogan_call, _translation_call],
                         ids=["text_to_image", "infogan", "translation"])
def test_the_extrapolation_of_a_loop_counted_by_short_runs_equals_the_full_count_and_pads_the_result(make_call):
    """Batch 6: the short runs count at a batch of 2 and scale a step's FLOPs by 3; the result's history is
    padded to the full schedule."""
    counter, original, args, kwargs = make_call()
    call, exact = _exact_and_extrapolated(counter, original, args, kwargs)
    assert call.work.rounded() == exact.rounded() and exact.flops > 0
    session = nw.Session(work.Counter())
    session.counter.start()
    short, _ = counter(session, original, args, kwargs)
    session.counter.stop()
    full = original(*args, **kwargs)
    assert short.history["step"] == full.history["step"] == [4, 8, 11] and short.config == full.config


def test_the_extrapolation_of_fit_two_sample_and_train_classifier_equal_the_full_counts():
    D = nets.discriminator(2, width=8, depth=2)
    call, exact = _exact_and_extrapolated(nw.count_fit_two_sample, estimate.fit_two_sample,
                                          (D, "8gaussians", "25gaussians"), dict(
        loss=lambda net, x, y, rng: losses.discriminator_loss(net(x), net(y)),
        score=lambda net, x, y: -losses.discriminator_loss(net(x), net(y)), steps=130, batch_size=16, lr=1e-3,
        betas=(0.9, 0.999), eval_samples=50, seed=0, device=torch.device("cpu")))
    assert call.work.rounded() == exact.rounded()                # 130 steps, logs every 2 and at the last
    images, labels = gl.data.shapes_dataset(gl.data.SHAPES_TRAIN, 15, size=8, seed=0)
    call, exact = _exact_and_extrapolated(nw.count_train_classifier, quality.train_classifier,
                                          (gl.data.to_tensor(images), labels),
                                          dict(epochs=5, batch_size=7, width=2, num_features=4))
    assert call.work.rounded() == exact.rounded()                # 30 images: 4 batches of 7 and one of 2


def test_host_seconds_extrapolate_by_host_calls_not_by_differences_of_timings(monkeypatch):
    session = nw.Session(work.Counter())
    w1 = gl.metrics.wasserstein1

    def timed(*args, **kwargs):
        with session.counter.host():
            return w1(*args, **kwargs)

    monkeypatch.setattr(gl.metrics, "wasserstein1", timed)
    session.counter.start()
    _, call = nw.count_train(session, gl.train, ("8gaussians",), dict(
        steps=300, log_every=50, width=4, batch_size=8, eval_samples=50, progress=False))
    session.counter.stop()
    assert call.work.host_calls == 6                             # W1 at each of the 6 logs, none per step
    assert call.parts["per_step"].host_calls == 0 and call.parts["per_step"].host_seconds == 0
    assert call.work.host_seconds == pytest.approx(6 * call.parts["per_log"].host_seconds)


def test_install_counts_direct_and_cached_calls_of_the_training_entry_points(tmp_path, monkeypatch):
    from gan_lab.exercises import fix_dead_critic
    monkeypatch.setenv("GAN_LAB_RUN_DIR", str(tmp_path))
    monkeypatch.setenv("GAN_LAB_REUSE", "0")
    originals = (gl.train, gl.runs.cached, gl.runs.CACHEABLE["train"], fix_dead_critic.train_seeds)
    opts = dict(steps=30, width=4, batch_size=8, eval_samples=0, progress=False)
    session = nw.install()
    try:
        # everywhere gan_lab holds a training entry point, it holds the counting one
        assert gl.runs.CACHEABLE["train"] is gl.train is not originals[0]
        assert fix_dead_critic.train_seeds is gl.train_seeds
        cached = gl.runs.cached(gl.train, "8gaussians", **opts)
        gl.train_seeds("8gaussians", seeds=[0, 1], **opts)
        gl.train("8gaussians", **dict(opts, steps=3))            # this short: run as it is
        with pytest.raises(ValueError, match="runs.cached cannot cache a call with on_log"):
            gl.runs.cached(gl.train, "8gaussians", on_log=print, **opts)
        # exact W1 is host work, timed: two calls of one size, then a third of that size takes their time
        x = torch.zeros(5, 2)
        w1 = [gl.metrics.wasserstein1(x, x + torch.tensor([float(i), 0.0])) for i in (1, 2, 3)]
        out = nw.finish(session, str(tmp_path / "w.json"))
    finally:
        nw.uninstall(session)
    assert (gl.train, gl.runs.cached, gl.runs.CACHEABLE["train"], fix_dead_critic.train_seeds) == originals
    assert [(c["fn"], c["steps"], c["exact"]) for c in out["calls"]] == [
        ("train", 30, False), ("train_seeds", 30, False), ("train", -1, True)]
    assert cached.history["step"] == [30] and not list(tmp_path.glob("*.pt"))    # nothing cached
    assert w1[:2] == pytest.approx([1.0, 2.0]) and w1[2] == w1[1]          # not run: its answer is not counted
    assert out["calls_reused_by_size"] == 1 and out["outside"]["host_calls"] == 3
    saved = json.loads((tmp_path / "w.json").read_text())
    assert saved["total"]["flops"] > saved["outside"]["flops"] >= 0


def test_estimate_seconds_is_flops_over_rate_plus_launches_times_cost_plus_host():
    w = work.Work(2e12, 3e6, 7.0)
    assert gl.costs.estimate_seconds(w, RATES) == pytest.approx(2.0 + 30.0 + 7.0)
    with pytest.raises(ValueError, match="work must be a gan_lab.work.Work"):
        gl.costs.estimate_seconds({"flops": 1}, RATES)
    with pytest.raises(ValueError, match="rates must be a DeviceRates"):
        gl.costs.estimate_seconds(w, (1e12, 1e-5))
    with pytest.raises(ValueError, match="flops_per_second must be a positive finite number, got 0"):
        DeviceRates("cpu", 0, 1e-6)
    with pytest.raises(ValueError, match="seconds_per_dispatch must be a positive finite number"):
        DeviceRates("cpu", 1e9, math.inf)


def test_calibrate_measures_positive_rates_of_this_device_and_refuses_bad_settings():
    rates = gl.costs.calibrate(torch.device("cpu"), matmul_seconds=0.02, dispatch_seconds=0.02, n=64)
    assert rates.device == "cpu" and rates.source == "calibrated"
    assert rates.flops_per_second > 0 and 0 < rates.seconds_per_dispatch < 0.01
    for bad in (dict(matmul_seconds=0), dict(dispatch_seconds=-1), dict(matmul_seconds=True)):
        with pytest.raises(ValueError, match="must be a number of seconds in"):
            gl.costs.calibrate(torch.device("cpu"), **bad)
    with pytest.raises(ValueError, match="n must be an integer >= 16, got 8"):
        gl.costs.calibrate(torch.device("cpu"), n=8)
    with pytest.raises(ValueError, match="calibrate supports cpu, cuda and mps devices, got 'meta'"):
        gl.costs.calibrate("meta")


def test_the_report_labels_estimates_as_estimates_and_measurements_as_measurements(monkeypatch, capsys):
    monkeypatch.setenv("GAN_LAB_BUDGET", "full")
    monkeypatch.setattr(gl.costs, "kind_of_device", lambda device=None: "cuda:Fake GPU")
    table = {"machines": {"cpu": "a test box"}, "work": {"nb": WORK},
             "notebooks": {"nb": {"cpu": {"quick": 12.0, "book": 300.0}, "cuda:Fake GPU": {"quick": 20.0}}}}
    text = gl.costs.report("nb", costs=table, rates=RATES)
    lines = text.splitlines()
    assert lines[1] == "  quick: 20 s (measured)"
    # book: 40 TFLOP / 1 TFLOP/s + 2e7 launches x 10 us + 60 s = 40 + 200 + 60 s = 5 min
    assert lines[2] == f"  book : about 5 min: {gl.costs.ESTIMATE_LABEL}"
    assert lines[3] == ("         = 40 TFLOP / 1 TFLOP/s + 20M launches x 10 us + 60 s host (work counted per step; "
                        "rates given on cuda:Fake GPU)")
    assert "(measured elsewhere: 5 min on cpu)" in lines[4]
    # full: 1000 + 1000 + 600 s, and the entry says its counting run was cut off
    assert lines[5] == f"  full : about 43 min: {gl.costs.ESTIMATE_LABEL}  <- this run"
    assert "PARTIAL" in lines[6] and "lower bound" in lines[6]
    assert text.count("(measured)") == 1 and text.count("not a measurement") == 2
    assert capsys.readouterr().out.strip() == text
    with pytest.raises(ValueError, match="rates must be a DeviceRates or None"):
        gl.costs.report("nb", costs=table, rates=1e12)


def test_every_notebook_of_the_book_has_its_work_counted_at_every_budget(monkeypatch):
    table = gl.costs.load()
    monkeypatch.setattr(gl.costs, "kind_of_device", lambda device=None: "cuda:Fake GPU")
    for path in book_notebooks():
        entries = table["work"][path.stem]
        for budget in gl.costs.BUDGETS:
            entry = entries[budget]
            w = work.Work.from_dict(entry)       # finite, non-negative numbers
            assert w.dispatches > 0 and entry["counted"] in (nw.EXACT, nw.EXTRAPOLATED), (path.stem, budget)
            assert isinstance(entry["partial"], bool) and entry["calls"] >= entry["calls_run_as_they_are"] >= 0
        text = gl.costs.report(path.stem, costs=table, rates=RATES)
        assert text.count(gl.costs.ESTIMATE_LABEL) == 3, text


def test_save_writes_the_table_that_load_reads_and_leaves_no_temporary_file(tmp_path):
    table = {"machines": {"cpu": "a test"}, "notebooks": {"01_minimax": {"cpu": {"quick": 12.5}}}}
    target = tmp_path / "costs.json"
    gl.costs.save(table, target)
    assert gl.costs.load(target) == table
    assert sorted(p.name for p in tmp_path.iterdir()) == ["costs.json"]
