"""gan_lab.text_to_image: GAN-CLS's matching-aware discriminator on captioned shapes. Checks before any work,
the caption pool, bit-identical seeds and resumes, and a short run in which the matching-aware D learns to
reject mismatched captions where the plain conditional D does not."""
import numpy as np
import pytest
import torch

from gan_lab import captions, data, loop, losses
from gan_lab import text_to_image as t2i
from gan_lab.checkpoint import CheckpointError
from gan_lab.text_to_image import TextToImageConfig, train_text_to_image

CLASSES = list(data.SHAPES_TEST)[:3]
TRAINER = "gan_lab.text_to_image.train_text_to_image"      # what its checkpoints say wrote them
TINY = TextToImageConfig(size=16, width=8, noise_dim=4, text_dim=4, embed_dim=4, text_hidden=8, captions_per_class=5,
                         steps=4, batch_size=4, log_every=1, checkpoint_every=2, progress=False)


@pytest.fixture(scope="module")
def shapes() -> tuple[torch.Tensor, torch.Tensor]:
    x, y = data.shapes_dataset(CLASSES, 8, size=16, seed=0)
    return data.to_tensor(x), torch.from_numpy(y)


def run(x, y, **kw):
    return train_text_to_image(x, y, CLASSES, TINY, **{"device": "cpu", **kw})


def assert_bit_identical(a: torch.nn.Module, b: torch.nn.Module) -> None:
    wa, wb = a.state_dict(), b.state_dict()
    assert list(wa) == list(wb)
    for name in wa:
        assert torch.equal(wa[name], wb[name]), name


# ---- checks before any work ------------------------------------------------------------------------------

@pytest.mark.parametrize("field, value, match", [
    ("size", 20, "size must be one of"), ("batch_size", 1, "batch_size"), ("lr", 0.0, "lr"),
    ("matching_aware", "yes", "matching_aware"), ("captions_per_class", 0, "captions_per_class"),
    ("kind", "vit", "kind"),
])
def test_a_bad_setting_is_refused_naming_it(field, value, match):
    with pytest.raises(ValueError, match=match):
        TextToImageConfig(**{field: value})


@pytest.mark.parametrize("change, match", [
    ("label out of range", "class indices in \\[0, 3\\), got 3"),
    ("labels too short", "shape \\(24,\\)"),
    ("float labels", "integer tensor"),
    ("one class", "at least 2 ShapeClass"),
    ("images out of range", "must lie in \\[-1, 1\\]"),
    ("unknown word class", "captions have no word for"),
])
def test_bad_data_is_refused_before_any_work_or_file(shapes, tmp_path, monkeypatch, change, match):
    x, y = shapes
    classes = CLASSES
    if change == "label out of range":
        y = y.clone()
        y[5] = 3
    elif change == "labels too short":
        y = y[:-1]
    elif change == "float labels":
        y = y.float()
    elif change == "one class":
        classes = CLASSES[:1]
        y = torch.zeros_like(y)
    elif change == "images out of range":
        x = x * 2
    else:
        classes = [CLASSES[0], CLASSES[1], data.ShapeClass("circle", 0.4, +1, 0.03)]
    monkeypatch.setattr(t2i, "build_networks", lambda cfg: pytest.fail("built networks before checking the data"))
    with pytest.raises(ValueError, match=match):
        train_text_to_image(x, y, classes, TINY, checkpoint_path=tmp_path / "run.pt")
    assert not list(tmp_path.iterdir())


# ---- the caption pool --------------------------------------------------------------------------------------

def test_the_caption_pool_holds_varied_captions_of_each_class_in_its_row():
    pool = t2i.caption_pool(CLASSES, 20, seed=3)
    assert pool.shape == (3, 20, captions.MAX_LEN) and pool.dtype == torch.int64
    for k, cls in enumerate(CLASSES):
        texts = [" ".join(captions.WORDS[i] for i in row if i) for row in pool[k].tolist()]
        assert all(captions.attributes_of(t) == cls for t in texts)
        assert len(set(texts)) > 5                     # the wording varies inside a class
    assert torch.equal(pool, t2i.caption_pool(CLASSES, 20, seed=3))
    assert not torch.equal(pool, t2i.caption_pool(CLASSES, 20, seed=4))


# ---- seeds and resumes ---------------------------------------------------------------------------------------

def test_one_seed_gives_bit_identical_runs_and_another_seed_another(shapes):
    x, y = shapes
    a, b, c = run(x, y), run(x, y), run(x, y, seed=1)
    assert_bit_identical(a.generator, b.generator) and assert_bit_identical(a.critic, b.critic)
    assert a.history["loss_d"] == b.history["loss_d"]
    assert not torch.equal(a.generator.state_dict()["encoder.embed.weight"],
                           c.generator.state_dict()["encoder.embed.weight"])


def test_an_interrupted_run_resumes_to_the_uninterrupted_run(shapes, tmp_path):
    x, y = shapes
    whole = run(x, y, steps=6)
    path = tmp_path / "run.pt"

    def interrupt(result):
        if result.history["step"][-1] == 5:    # after the checkpoint at step 4: step 5's work is lost
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(x, y, steps=6, checkpoint_path=path, on_log=interrupt)
    resumed = run(x, y, steps=6, checkpoint_path=path, resume=True)
    assert resumed.start_step == 4
    assert_bit_identical(whole.generator, resumed.generator)
    assert_bit_identical(whole.critic, resumed.critic)
    for key in ("step", "loss_d", "loss_g", "d_real_right", "d_real_wrong", "d_fake_right"):
        assert whole.history[key] == resumed.history[key], key


def test_a_checkpoint_of_another_run_is_refused(shapes, tmp_path, monkeypatch):
    x, y = shapes
    path = tmp_path / "run.pt"
    run(x, y, checkpoint_path=path)
    with pytest.raises(ValueError, match="matching_aware: checkpoint True, given False"):
        run(x, y, matching_aware=False, checkpoint_path=path, resume=True)
    with pytest.raises(ValueError, match="trained on other images"):
        run(x, y.flip(0), checkpoint_path=path, resume=True)
    with pytest.raises(ValueError, match="at step 4, beyond steps=3"):
        run(x, y, steps=3, checkpoint_path=path, resume=True)
    monkeypatch.setenv("GAN_LAB_SEED_OFFSET", "7")
    with pytest.raises(ValueError, match="GAN_LAB_SEED_OFFSET=0"):
        run(x, y, checkpoint_path=path, resume=True)
    monkeypatch.delenv("GAN_LAB_SEED_OFFSET")
    from gan_lab import infogan
    other = tmp_path / "infogan.pt"
    infogan.train_infogan(x, steps=1, log_every=1, width=8, batch_size=4, progress=False, device="cpu",
                          checkpoint_path=other)
    with pytest.raises(CheckpointError, match="not one of train_text_to_image"):
        run(x, y, checkpoint_path=other, resume=True)


# ---- the objective ---------------------------------------------------------------------------------------------

def test_the_plain_conditional_gan_never_scores_wrong_pairs_in_its_loss(shapes, monkeypatch):
    x, y = shapes
    monkeypatch.setattr(losses, "matching_aware_discriminator_loss",
                        lambda *a: pytest.fail("the plain conditional GAN used the matching-aware loss"))
    result = run(x, y, matching_aware=False)
    assert len(result.history["d_real_wrong"]) == 4      # still measured, as the baseline's number


def test_matching_aware_d_rejects_mismatched_captions_and_the_plain_one_does_not():
    """150 steps on three classes: GAN-CLS's D ranks every (image, right caption) above (image, wrong
    caption) on held-out images and wordings (AUROC 1.0 on seeds 0-3); the plain conditional D, which never
    saw a wrong pair, is at 0.69-0.75: it mostly answers "real or fake?"."""
    x, y = data.shapes_dataset(CLASSES, 32, size=16, seed=0)
    xt, yt = data.shapes_dataset(CLASSES, 32, size=16, seed=1)
    x, xt = data.to_tensor(x), data.to_tensor(xt)
    cfg = dict(steps=150, log_every=150, width=8, batch_size=16, lr=1e-3, progress=False, device="cpu")
    cls = train_text_to_image(x, torch.from_numpy(y), CLASSES, **cfg)
    plain = train_text_to_image(x, torch.from_numpy(y), CLASSES, matching_aware=False, **cfg)
    a_cls = t2i.mismatch_auroc(cls, xt, yt, CLASSES, seed=5)
    a_plain = t2i.mismatch_auroc(plain, xt, yt, CLASSES, seed=5)
    assert a_cls > 0.95 and a_plain < a_cls - 0.15
    assert cls.history["d_real_wrong"][-1] < 0.3 < plain.history["d_real_wrong"][-1]


# ---- using a trained run -------------------------------------------------------------------------------------

def test_generate_draws_one_image_per_caption_from_its_seed(shapes):
    x, y = shapes
    result = run(x, y)
    texts = ["a dark blue clean square", "circle, pale, brown, smooth", "a light bluish grainy triangle"]
    images = t2i.generate(result, texts, seed=2)
    assert images.shape == (3, 3, 16, 16) and images.min() >= -1 and images.max() <= 1
    assert torch.equal(images, t2i.generate(result, texts, seed=2))
    assert not torch.equal(images, t2i.generate(result, texts, seed=3))
    with pytest.raises(ValueError, match="unknown word 'purple'"):
        t2i.generate(result, ["a purple square"], seed=0)
    with pytest.raises(ValueError, match="TextToImageResult"):
        t2i.generate(result.generator, texts, seed=0)


def test_match_logits_are_the_critics_scores_of_the_pairs(shapes):
    x, y = shapes
    result = run(x, y)
    texts = captions.captions_for(CLASSES, y.tolist(), seed=0)
    logits = t2i.match_logits(result, x, texts, batch_size=5)
    tokens, _ = captions.tokenize(texts, max_len=captions.MAX_LEN)
    with torch.no_grad():
        expected = result.critic(x, tokens)
    assert logits.shape == (len(x),) and torch.allclose(logits, expected, atol=1e-6)
    with pytest.raises(ValueError, match="24 images but 23 captions"):
        t2i.match_logits(result, x, texts[:-1])


def test_resume_state_is_shared_and_checks_the_trainer(tmp_path):
    """loop.resume_state reads any loop's checkpoint; one written by another trainer is refused by name."""
    from gan_lab import checkpoint
    path = tmp_path / "x.pt"
    checkpoint.save_checkpoint(path, {"trainer": "gan_lab.other.train", "step": 1, "config": {}, "seed_offset": 0,
                                      "history": {}, "seconds": 0.0})
    with pytest.raises(CheckpointError, match="not one of train_text_to_image"):
        loop.resume_state(str(path), TINY, trainer=TRAINER, keys=(), resumable=t2i.RESUMABLE_FIELDS)
    checkpoint.save_checkpoint(path, {"trainer": TRAINER, "step": 1, "config": {"size": 5}, "seed_offset": 0})
    with pytest.raises(CheckpointError, match="configuration this gan_lab cannot read"):
        loop.resume_state(str(path), TINY, trainer=TRAINER, keys=(), resumable=t2i.RESUMABLE_FIELDS)
