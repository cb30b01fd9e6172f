"""gan_lab.runs: the run folder, and a cache of finished runs that is never stale and never loads garbage."""
import importlib

import pytest
import torch

from gan_lab import data, images, runs

train = importlib.import_module("gan_lab.train")   # the module (gan_lab.train is also the function)

TOY = dict(steps=3, width=8, depth=1, batch_size=16, log_every=1, eval_samples=50, progress=False)


@pytest.fixture(autouse=True)
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_LAB_RUN_DIR", str(tmp_path / "runs"))
    monkeypatch.delenv("GAN_LAB_REUSE", raising=False)
    monkeypatch.delenv("GAN_LAB_SEED_OFFSET", raising=False)
    monkeypatch.setenv("GAN_LAB_BUDGET", "quick")
    return tmp_path / "runs"


def no_training(*args, **kwargs):
    pytest.fail("trained although a finished run was cached")


def learned(history):
    """The history without wall times (a retrained run learns the same, in other seconds)."""
    return {k: v for k, v in history.items() if k != "seconds"}


def entries(folder):
    return sorted(p.name.rsplit(".", 1)[1] for p in folder.iterdir())


def test_a_finished_run_is_loaded_instead_of_trained(folder, monkeypatch):
    first = runs.cached(train.train, "8gaussians", seed=1, **TOY)
    assert entries(folder) == ["pt", "sha256"]
    monkeypatch.setattr(train, "_train_stack", no_training)
    again = runs.cached(train.train, "8gaussians", seed=1, **TOY)
    assert again.history == first.history and again.config == first.config
    for p, q in zip(first.generator.state_dict().values(), again.generator.state_dict().values()):
        assert torch.equal(p.cpu(), q.cpu())
    assert torch.equal(first.sample(5, seed=0), again.sample(5, seed=0))


@pytest.mark.parametrize("change", ["setting", "budget", "offset", "code", "data", "numerics"])
def test_any_change_trains_again(folder, monkeypatch, change):
    runs.cached(train.train, "8gaussians", seed=1, **TOY)
    kwargs, dataset = dict(TOY), "8gaussians"
    if change == "setting":
        kwargs["steps"] = 4
    elif change == "budget":
        monkeypatch.setenv("GAN_LAB_BUDGET", "book")
    elif change == "offset":
        monkeypatch.setenv("GAN_LAB_SEED_OFFSET", "3")
    elif change == "code":   # an edit to any gan_lab source file changes the code version
        monkeypatch.setattr(runs, "code_version", lambda: "0123456789abcdef")
    elif change == "numerics":   # make book's pinned kernels (a CPU-capability or device change does the same)
        from gan_lab import settings
        for name, value in settings.REFERENCE_NUMERICS.items():   # pinned if unpinned, and the other way round
            if __import__("os").environ.get(name) == value:
                monkeypatch.delenv(name)
            else:
                monkeypatch.setenv(name, value)
    else:
        dataset = data.sample("8gaussians", 100, seed=0)
    calls = []
    real = train._train_stack
    monkeypatch.setattr(train, "_train_stack", lambda *a, **k: calls.append(1) or real(*a, **k))
    runs.cached(train.train, dataset, seed=1, **kwargs)
    assert calls == [1] and len(list(folder.glob("*.pt"))) == 2


def test_the_code_version_follows_the_source(tmp_path, monkeypatch):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "a.py").write_text("x = 1\n")
    monkeypatch.setattr(runs, "_PACKAGE", pkg)
    before = runs.code_version()
    (pkg / "a.py").write_text("x = 2\n")
    assert runs.code_version() != before


@pytest.mark.parametrize("damage", ["flip a byte", "truncate", "wrong digest"])
def test_a_corrupted_entry_is_retrained_never_loaded(folder, monkeypatch, damage):
    first = runs.cached(train.train, "8gaussians", seed=1, **TOY)
    pt = next(folder.glob("*.pt"))
    raw = bytearray(pt.read_bytes())
    if damage == "flip a byte":
        raw[len(raw) // 2] ^= 0xFF
        pt.write_bytes(bytes(raw))
    elif damage == "truncate":
        pt.write_bytes(bytes(raw[: len(raw) // 3]))
    else:
        next(folder.glob("*.sha256")).write_text("0" * 64 + "\n")
    with pytest.warns(RuntimeWarning, match="corrupted"):
        again = runs.cached(train.train, "8gaussians", seed=1, **TOY)
    assert learned(again.history) == learned(first.history)
    monkeypatch.setattr(train, "_train_stack", no_training)
    assert runs.cached(train.train, "8gaussians", seed=1, **TOY).history == again.history   # healed: loads


def test_reuse_0_always_trains_and_a_bad_value_is_refused(folder, monkeypatch):
    runs.cached(train.train, "8gaussians", seed=1, **TOY)
    monkeypatch.setenv("GAN_LAB_REUSE", "0")
    calls = []
    real = train._train_stack
    monkeypatch.setattr(train, "_train_stack", lambda *a, **k: calls.append(1) or real(*a, **k))
    runs.cached(train.train, "8gaussians", seed=1, **TOY)
    assert calls == [1]
    monkeypatch.setenv("GAN_LAB_REUSE", "yes")
    with pytest.raises(ValueError, match="GAN_LAB_REUSE='yes'"):
        runs.cached(train.train, "8gaussians", seed=1, **TOY)


def test_batched_seeds_and_image_runs_round_trip(folder, monkeypatch):
    seeds = runs.cached(train.train_seeds, "8gaussians", seeds=[0, 1], **TOY)
    pictures = data.to_tensor(data.shapes_dataset(data.SHAPES_TRAIN, 2, size=16, seed=0)[0])
    cfg = images.ImageTrainConfig(size=16, width=8, batch_size=4, n_critic=1, steps=2, log_every=1, snapshots=2,
                                  sample_every=1, progress=False)
    pic = runs.cached(images.train_images, pictures, cfg, device="cpu")
    monkeypatch.setattr(train, "_train_stack", no_training)
    monkeypatch.setattr(images.losses, "gradient_penalty", no_training)
    again = runs.cached(train.train_seeds, "8gaussians", seeds=[0, 1], **TOY)
    assert [r.history for r in again] == [r.history for r in seeds]
    pic2 = runs.cached(images.train_images, pictures, cfg, device="cpu")
    assert pic2.history == pic.history and all(torch.equal(a[1], b[1]) for a, b in zip(pic.samples, pic2.samples))
    assert torch.equal(pic.sample(3, seed=1), pic2.sample(3, seed=1))


@pytest.mark.parametrize("kwargs, match", [
    (dict(on_log=lambda r: None), "on_log"), (dict(generator=torch.nn.Linear(2, 2)), "generator"),
])
def test_calls_whose_effect_is_not_in_the_key_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        runs.cached(train.train, "8gaussians", **TOY, **kwargs)
    with pytest.raises(ValueError, match="can cache"):
        runs.cached(print, "x")
    with pytest.raises(ValueError, match="callable|function"):
        runs.cached(train.train, lambda n, g: torch.randn(n, 2, generator=g), **TOY)


def test_the_run_folder_is_drive_on_colab_and_a_cache_folder_elsewhere(tmp_path, monkeypatch):
    monkeypatch.delenv("GAN_LAB_RUN_DIR")
    monkeypatch.setattr(runs, "DRIVE", tmp_path / "nodrive")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert runs.run_dir() == tmp_path / "cache" / "gan_lab" / "runs" and runs.run_dir().is_dir()
    drive = tmp_path / "drive" / "MyDrive"
    drive.mkdir(parents=True)
    monkeypatch.setattr(runs, "DRIVE", drive)
    assert runs.run_dir() == drive / "gan-lab-runs"
    monkeypatch.setenv("GAN_LAB_RUN_DIR", str(tmp_path / "mine"))
    assert runs.run_dir() == tmp_path / "mine"
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("GAN_LAB_RUN_DIR", str(tmp_path / "file" / "sub"))
    with pytest.raises(ValueError, match="cannot be created"):
        runs.run_dir()


def test_an_image_runs_checkpoint_lives_in_the_run_folder_and_a_rerun_resumes_it(folder, monkeypatch):
    pictures = data.to_tensor(data.shapes_dataset(data.SHAPES_TRAIN, 2, size=16, seed=0)[0])
    cfg = images.ImageTrainConfig(size=16, width=8, batch_size=4, n_critic=1, steps=2, log_every=1, snapshots=0,
                                  progress=False)
    path = runs.checkpoint_path("ch06", pictures, cfg)
    assert path.parent == folder and path.name.startswith("ch06-")
    first = images.train_images(pictures, cfg, checkpoint_path=path, resume="auto", device="cpu")
    from dataclasses import replace
    longer = replace(cfg, steps=4)
    assert runs.checkpoint_path("ch06", pictures, longer) == path      # more steps continue the same run
    again = images.train_images(pictures, longer, checkpoint_path=path, resume="auto", device="cpu")
    assert again.start_step == 2 and again.history["step"][:2] == first.history["step"]
    assert runs.checkpoint_path("ch06", pictures, replace(cfg, lr=2e-4)) != path   # another run
    monkeypatch.setenv("GAN_LAB_REUSE", "0")                           # the published build starts afresh
    assert runs.checkpoint_path("ch06", pictures, cfg) == path and not path.exists()


LONG = dict(steps=12, width=8, depth=1, batch_size=16, log_every=2, eval_samples=50, progress=False)


class _Cut(BaseException):
    """A cell cut off mid-run (what a KeyboardInterrupt does)."""


def _cut_run(partial, at_log: int) -> int:
    """Leave behind the partial checkpoint that a run interrupted at its ``at_log``-th log writes."""
    calls = [0]

    def on_log(result):
        calls[0] += 1
        if calls[0] == at_log:
            raise _Cut
    with pytest.raises(_Cut):
        train.train("8gaussians", seed=1, **LONG, checkpoint_path=partial, checkpoint_seconds=0, on_log=on_log)
    from gan_lab import checkpoint
    return checkpoint.load_checkpoint(partial)["step"]


@pytest.mark.parametrize("reuse, damage, resumed", [("", False, True), ("", True, False), ("0", False, False)],
                         ids=["resumed", "damaged-retrained", "make-book-starts-afresh"])
def test_a_cut_off_run_is_resumed_from_its_partial_checkpoint(folder, monkeypatch, reuse, damage, resumed):
    partial = runs.run_dir() / f"train-{runs.run_key(train.train, '8gaussians', seed=1, **LONG)}.partial.pt"
    saved = _cut_run(partial, 3)
    assert saved == 4
    if damage:
        partial.write_bytes(partial.read_bytes()[:100])
    if reuse:
        monkeypatch.setenv("GAN_LAB_REUSE", reuse)
    with __import__("warnings").catch_warnings(record=True) as caught:
        __import__("warnings").simplefilter("always")
        result = runs.cached(train.train, "8gaussians", seed=1, **LONG)
    assert result.start_step == (saved if resumed else 0)
    assert any("cannot be resumed" in str(w.message) for w in caught) == damage
    whole = train.train("8gaussians", seed=1, **LONG)
    assert learned(result.history) == learned(whole.history)
    assert torch.equal(result.sample(5, seed=0), whole.sample(5, seed=0))
    assert entries(folder) == ["pt", "sha256"]     # the partial file is gone once the run is stored


def test_the_checkpoint_interval_comes_from_the_environment(monkeypatch):
    assert runs.checkpoint_seconds() == 60.0
    monkeypatch.setenv("GAN_LAB_CHECKPOINT_SECONDS", "0.5")
    assert runs.checkpoint_seconds() == 0.5
    for bad in ("-1", "soon", "inf", "nan"):
        monkeypatch.setenv("GAN_LAB_CHECKPOINT_SECONDS", bad)
        with pytest.raises(ValueError, match=f"GAN_LAB_CHECKPOINT_SECONDS='{bad}'"):
            runs.cached(train.train, "8gaussians", seed=1, **TOY)


def test_a_conditional_image_runs_checkpoint_is_keyed_by_its_labels():
    pictures = torch.zeros(4, 3, 16, 16)
    config = images.ImageTrainConfig(size=16, condition=(2,))
    one = runs.checkpoint_path("cgan", pictures, config, labels=torch.tensor([0, 1, 0, 1]))
    assert one == runs.checkpoint_path("cgan", pictures, config, labels=torch.tensor([0, 1, 0, 1]))
    assert one != runs.checkpoint_path("cgan", pictures, config, labels=torch.tensor([1, 1, 0, 1]))
    assert one.parent == runs.run_dir() and one.name.startswith("cgan-")


# ---- a run scored by a gan_lab callback (chapter 7: scoring.ScoreLog) is cached with what the callback kept ----

def _scored_setup():
    from gan_lab import scoring
    pictures = data.to_tensor(data.shapes_dataset(data.SHAPES_TRAIN, 4, size=16, seed=0)[0])
    cfg = images.ImageTrainConfig(size=16, width=8, batch_size=4, n_critic=1, steps=4, log_every=1, snapshots=2,
                                  sample_every=2, checkpoint_every=2, progress=False)
    return scoring, pictures, cfg, lambda **kw: scoring.ScoreLog(pictures[:3], **{"every": 2, "samples_at": [3], **kw})


def test_a_scored_image_run_is_cached_with_its_scores_and_keyed_by_what_the_callback_computes(folder, monkeypatch):
    scoring, pictures, cfg, score_log = _scored_setup()
    log = score_log()
    first = runs.cached(images.train_images, pictures, cfg, device="cpu", on_log=log)
    assert sorted(log.scores) == [2, 4] and sorted(log.samples) == [3]
    assert torch.equal(log.scores[4], scoring.score(first.critic, pictures[:3]))
    monkeypatch.setattr(images.losses, "gradient_penalty", no_training)
    loaded = score_log()
    again = runs.cached(images.train_images, pictures, cfg, device="cpu", on_log=loaded)
    assert again.history == first.history
    assert loaded.scores.keys() == log.scores.keys() and all(torch.equal(loaded.scores[t], log.scores[t])
                                                               for t in log.scores)
    assert torch.equal(loaded.samples[3], log.samples[3])
    key = runs.run_key(images.train_images, pictures, cfg, device="cpu", on_log=log)
    assert key != runs.run_key(images.train_images, pictures, cfg, device="cpu", on_log=score_log(every=1))
    other_x = scoring.ScoreLog(pictures[1:4], every=2, samples_at=[3])
    assert key != runs.run_key(images.train_images, pictures, cfg, device="cpu", on_log=other_x)
    assert key != runs.run_key(images.train_images, pictures, cfg, device="cpu")


def test_a_scored_run_cut_off_resumes_with_the_scores_from_before_the_cut(folder):
    """The partial checkpoint keeps the callback's state: the resumed run's ScoreLog also holds the step-2
    scores, taken before the cut, exactly as an uninterrupted run's does."""
    scoring, pictures, cfg, score_log = _scored_setup()
    whole = score_log()
    images.train_images(pictures, cfg, device="cpu", on_log=whole)
    partial = runs.run_dir() / "scored.pt"

    class CutAfter3(scoring.ScoreLog):
        def __call__(self, result):
            super().__call__(result)
            if result.history["step"][-1] == 3:
                raise KeyboardInterrupt      # the kernel interrupted after the step-2 checkpoint

    with pytest.raises(KeyboardInterrupt):
        images.train_images(pictures, cfg, device="cpu", checkpoint_path=partial, resume="auto",
                            on_log=CutAfter3(pictures[:3], every=2, samples_at=[3]))
    resumed = score_log()
    result = images.train_images(pictures, cfg, device="cpu", checkpoint_path=partial, resume="auto", on_log=resumed)
    assert result.start_step == 2
    assert sorted(resumed.scores) == [2, 4] and all(torch.equal(resumed.scores[t], whole.scores[t]) for t in (2, 4))
    assert torch.equal(resumed.samples[3], whole.samples[3])


def test_a_stateful_callback_is_not_resumed_from_a_checkpoint_that_lacks_its_state(folder):
    scoring, pictures, cfg, score_log = _scored_setup()
    partial = runs.run_dir() / "plain.pt"
    images.train_images(pictures, cfg, steps=2, device="cpu", checkpoint_path=partial)
    with pytest.raises(ValueError, match="no state of on_log \\(ScoreLog\\)"):
        images.train_images(pictures, cfg, device="cpu", checkpoint_path=partial, resume=True, on_log=score_log())


def test_a_callback_from_outside_gan_lab_is_refused_even_with_the_methods():
    class Mine:
        def __call__(self, result): return None
        def describe(self): return {}
        def state_dict(self): return {}
        def load_state_dict(self, state): pass

    assert not runs.cacheable_callback(Mine())    # its code is not in code_version(): a cached run could be stale
    with pytest.raises(ValueError, match="on_log"):
        runs.cached(train.train, "8gaussians", **TOY, on_log=Mine())


# ---- a run of networks the caller built (chapter 3: nets.ParallelLines, a critic, GeneratorGradientLog) ----

def _lines_call(theta0=1.0, critic_seed=0, **over):
    from gan_lab import estimate, nets
    torch.manual_seed(critic_seed)
    kwargs = dict(generator=nets.ParallelLines(theta0), critic=nets.critic(2, width=8, depth=1), noise_dim=1,
                  n_critic=2, steps=4, log_every=2, batch_size=16, eval_samples=0, seed=0, progress=False,
                  on_log=estimate.GeneratorGradientLog(n=32, noise_dim=1))
    return data.ParallelLinesData(0.0), {**kwargs, **over}


def test_a_run_of_the_callers_networks_is_loaded_into_them_with_its_logged_values(folder, monkeypatch):
    dataset, kwargs = _lines_call()
    first = runs.cached(train.train, dataset, **kwargs)
    assert len(first.history["theta"]) == 2 and first.history["theta"][-1] != 1.0
    assert first.history["theta"][-1] == pytest.approx(first.generator.theta.item())
    assert all(g > 0 for g in first.history["grad"])
    monkeypatch.setattr(train, "_train_stack", no_training)
    dataset, again_kwargs = _lines_call()
    template = again_kwargs["generator"]
    again = runs.cached(train.train, dataset, **again_kwargs)
    assert again.generator is template and again.critic is again_kwargs["critic"]   # loaded into the templates
    assert learned(again.history) == learned(first.history)
    assert again.generator.theta.item() == first.generator.theta.item()
    for p, q in zip(first.critic.state_dict().values(), again.critic.state_dict().values()):
        assert torch.equal(p, q)


@pytest.mark.parametrize("change", ["start", "critic weights", "critic layout", "data", "callback"])
def test_a_run_of_the_callers_networks_is_keyed_by_their_class_layout_and_initial_weights(change):
    from gan_lab import estimate, nets
    dataset, kwargs = _lines_call()
    key = runs.run_key(train.train, dataset, **kwargs)
    assert key == runs.run_key(train.train, *_lines_call()[:1], **_lines_call()[1])   # same call, same key
    if change == "start":
        dataset, kwargs = _lines_call(theta0=0.5)
    elif change == "critic weights":
        dataset, kwargs = _lines_call(critic_seed=1)
    elif change == "critic layout":
        torch.manual_seed(0)
        kwargs["critic"] = nets.critic(2, width=8, depth=1, activation="leaky_relu")
    elif change == "data":
        dataset = data.ParallelLinesData(0.25)
    else:
        kwargs["on_log"] = estimate.GeneratorGradientLog(n=64, noise_dim=1)
    assert runs.run_key(train.train, dataset, **kwargs) != key


def test_networks_and_described_values_from_outside_gan_lab_stay_refused():
    class Lines(data.ParallelLinesData):      # a subclass of the caller's: its code is not in code_version()
        pass

    dataset, kwargs = _lines_call()
    with pytest.raises(ValueError, match="critic"):
        runs.run_key(train.train, dataset, **{**kwargs, "critic": torch.nn.Sequential(torch.nn.Linear(2, 1))})
    with pytest.raises(ValueError, match="Lines"):
        runs.run_key(train.train, Lines(0.0), **kwargs)


def test_a_saved_run_of_the_callers_networks_needs_them_to_be_loaded(tmp_path):
    from gan_lab import checkpoint
    dataset, kwargs = _lines_call()
    result = train.train(dataset, **kwargs)
    runs.save_result(tmp_path / "lines.pt", result)
    with pytest.raises(checkpoint.CheckpointError, match="generator=, critic="):
        runs.load_result(tmp_path / "lines.pt")
    _, fresh = _lines_call(theta0=3.0)
    loaded, _ = runs.load_result(tmp_path / "lines.pt", generator=fresh["generator"], critic=fresh["critic"])
    assert loaded.generator.theta.item() == result.generator.theta.item()


def test_the_gradient_log_checks_its_settings_and_knows_each_objectives_generator_loss():
    from gan_lab import estimate
    with pytest.raises(ValueError, match="n"):
        estimate.GeneratorGradientLog(n=0)
    dataset, kwargs = _lines_call(objective="lsgan")
    with pytest.raises(ValueError, match="'lsgan'"):
        train.train(dataset, **kwargs)
    norms = {}
    for objective, extra in [("gan", dict(generator_loss="saturating")), ("gan", dict(generator_loss="non_saturating")),
                             ("wgan-gp", {})]:
        dataset, kwargs = _lines_call(objective=objective, **extra)
        norms[objective, extra.get("generator_loss")] = train.train(dataset, **kwargs).history["grad"][0]
    assert len(set(norms.values())) == 3     # three losses, three different gradients


# ---- chapter 9's text-to-image runs ----------------------------------------------------------------------------

def _text_setup(**over):
    from gan_lab import text_to_image
    classes = list(data.SHAPES_TEST)[:2]
    x, y = data.shapes_dataset(classes, 4, size=16, seed=0)
    cfg = text_to_image.TextToImageConfig(width=8, noise_dim=4, text_dim=4, embed_dim=4, text_hidden=8, steps=4,
                                          batch_size=4, log_every=1, checkpoint_every=2, captions_per_class=3,
                                          progress=False, **over)
    return text_to_image, data.to_tensor(x), torch.from_numpy(y), classes, cfg


def test_a_text_to_image_run_is_cached_keyed_by_its_labels_and_resumed_when_cut_off(folder, monkeypatch):
    text_to_image, x, y, classes, cfg = _text_setup()
    first = runs.cached(text_to_image.train_text_to_image, x, y, classes, cfg, device="cpu")
    assert entries(folder) == ["pt", "sha256"]
    with monkeypatch.context() as patched:
        patched.setattr(text_to_image.losses, "matching_aware_discriminator_loss", no_training)
        again = runs.cached(text_to_image.train_text_to_image, x, y, classes, cfg, device="cpu")
    assert learned(again.history) == learned(first.history) and again.classes == tuple(classes)
    assert torch.equal(text_to_image.generate(first, ["a dark blue clean square"], seed=0),
                       text_to_image.generate(again, ["a dark blue clean square"], seed=0))
    key = runs.run_key(text_to_image.train_text_to_image, x, y, classes, cfg, device="cpu")
    assert key != runs.run_key(text_to_image.train_text_to_image, x, y.flip(0), classes, cfg, device="cpu")

    # a cell cut off after the step-2 checkpoint resumes from it, to the uninterrupted run's weights
    _, x, y, classes, cfg6 = _text_setup(matching_aware=False)
    whole = text_to_image.train_text_to_image(x, y, classes, cfg6, device="cpu")
    name = f"train_text_to_image-{runs.run_key(text_to_image.train_text_to_image, x, y, classes, cfg6, device='cpu')}"
    partial = folder / f"{name}.partial.pt"

    def interrupt(result):
        if result.history["step"][-1] == 3:
            raise _Cut
    with pytest.raises(_Cut):
        text_to_image.train_text_to_image(x, y, classes, cfg6, device="cpu", checkpoint_path=partial, on_log=interrupt)
    resumed = runs.cached(text_to_image.train_text_to_image, x, y, classes, cfg6, device="cpu")
    assert resumed.start_step == 2 and learned(resumed.history) == learned(whole.history)
    for p, q in zip(whole.generator.state_dict().values(), resumed.generator.state_dict().values()):
        assert torch.equal(p, q)
    assert not partial.exists()


def _infogan_call():
    from gan_lab import infogan
    x, _ = data.shapes_dataset([data.ShapeClass(s, 0.25, +1, 0.03) for s in ("square", "circle")], 4, size=16, seed=0)
    cfg = infogan.InfoGANConfig(width=8, noise_dim=4, n_categories=2, q_width=8, batch_size=4, steps=3, log_every=1,
                                checkpoint_every=2, progress=False)
    return infogan.train_infogan, (data.to_tensor(x), cfg), ("generator", "critic", "q"), "categorical_code_loss"


def _translation_call():
    from gan_lab import translation
    a, _ = data.shapes_dataset([data.ShapeClass("square", 0.25, 1, 0.03)], 4, size=16, seed=1)
    b, _ = data.shapes_dataset([data.ShapeClass("circle", 0.25, 1, 0.03)], 3, size=16, seed=2)
    cfg = translation.TranslationConfig(width=4, blocks=1, batch_size=3, steps=3, log_every=1, checkpoint_every=2,
                                        progress=False)
    return translation.train_translation, (data.to_tensor(a), data.to_tensor(b), cfg), ("g_ab", "g_ba", "d_a", "d_b"), \
        "cycle_consistency_loss"


@pytest.mark.parametrize("call", [_infogan_call, _translation_call], ids=["infogan", "translation"])
def test_the_other_chapter_9_loops_are_cached_with_every_network(folder, monkeypatch, call):
    from gan_lab import losses
    fn, args, nets_, used_loss = call()
    first = runs.cached(fn, *args, device="cpu")
    assert entries(folder) == ["pt", "sha256"]
    monkeypatch.setattr(losses, used_loss, no_training)     # a loaded run computes no loss
    again = runs.cached(fn, *args, device="cpu")
    assert type(again) is type(first) and again.config == first.config
    import numpy as np
    h1, h2 = learned(first.history), learned(again.history)
    assert h1.keys() == h2.keys() and all(np.array_equal(h1[k], h2[k], equal_nan=True) for k in h1)   # NaN: no penalty
    for name in nets_:
        a, b = getattr(first, name).state_dict(), getattr(again, name).state_dict()
        assert list(a) == list(b) and all(torch.equal(a[k].cpu(), b[k].cpu()) for k in a), name


_SAME_RUN = """
import sys
from gan_lab import runs, train
for _ in range(int(sys.argv[1])):
    runs.cached(train, "8gaussians", seed=1, steps=40, width=8, depth=1, batch_size=16, log_every=1,
                eval_samples=50, progress=False)
"""


@pytest.mark.parametrize("reuse", ["0", "1"], ids=["make-test", "reader"])
def test_processes_training_the_same_cached_run_at_once_all_finish(folder, tmp_path, reuse):
    # The classroom grader executes several submissions of one chapter at once with one run folder (in CI with
    # GAN_LAB_REUSE=0), so the same cached run trains, checkpoints and is stored by several processes together:
    # none may fail on the others' files (a CI run did, on another writer's temporary), and what is stored loads.
    import os
    import subprocess
    import sys
    env = dict(os.environ, GAN_LAB_RUN_DIR=str(folder), GAN_LAB_REUSE=reuse, GAN_LAB_CHECKPOINT_SECONDS="0",
               GAN_LAB_BUDGET="quick")
    workers = [subprocess.Popen([sys.executable, "-c", _SAME_RUN, "3"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(3)]
    failed = [err for w in workers for out, err in [w.communicate(timeout=300)] if w.returncode != 0]
    assert failed == []
    assert entries(folder) == ["pt", "sha256"]
    path = next(folder.glob("train-*.pt"))
    assert runs.load_result(path)[0].history["step"][-1] == 40


def test_a_reader_waits_out_a_writer_between_the_entry_and_its_digest(folder, monkeypatch):
    # another process has replaced the entry and not yet its digest: for a moment they disagree, which is not a
    # corruption (the old reader deleted both and retrained, under the writer's feet)
    import threading
    import warnings
    first = runs.cached(train.train, "8gaussians", seed=1, **TOY)
    (digest,) = folder.glob("*.sha256")
    good = digest.read_text()
    digest.write_text("0" * 64 + "\n")
    threading.Timer(0.1, digest.write_text, args=(good,)).start()
    monkeypatch.setattr(train, "_train_stack", no_training)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = runs.cached(train.train, "8gaussians", seed=1, **TOY)
    assert again.history == first.history and entries(folder) == ["pt", "sha256"]
