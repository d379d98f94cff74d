"""``dfmgan``: StyleGAN2 layers against hand-computed values, the official parameter
counts at ``paper``, the two stages' division of labour, and learning on a tiny problem.

The tiny problem: defect-free images are dark noisy backgrounds; defect images add a
red 8 x 8 square, with its mask. After stage 1 the generator makes backgrounds; stage 2
must make the residual paint red where its mask says, on a mask about the real size.
"""

from __future__ import annotations

import math

import pytest
import torch

from dg2bench import TrainPlan
from dg2bench.plugins.generators import losses
from dg2bench.plugins.generators.dfmgan import Dfmgan, official_parameter_counts, parameter_counts
from dg2bench.plugins.generators.stylegan2 import (
    FullyConnected,
    ResidualDiscriminator,
    fir_downsample2x,
    fir_filter,
    lrelu,
    modulated_conv2d,
    normalize_2nd_moment,
)
from dg2bench.run.training import set_up

SIZE = 32


def tiny(**overrides) -> Dfmgan:
    return Dfmgan(Dfmgan.Hyperparameters(**{**Dfmgan.presets["tiny"], **overrides}), SIZE)


def plan(total_steps: int, batch_size: int = 4) -> TrainPlan:
    return TrainPlan(image_size=SIZE, total_steps=total_steps, steps_per_epoch=total_steps, epochs=1,
                     batch_size=batch_size, device=torch.device("cpu"))


def test_paper_preset_has_the_official_parameter_counts():
    with torch.device("meta"):
        model = Dfmgan(Dfmgan.Hyperparameters(**Dfmgan.presets["paper"]), 256)
    assert parameter_counts(model) == official_parameter_counts() == {
        "G (stage 1)": 23_191_522, "stage-2 additions": 3_669_703, "D": 24_001_089, "D_match": 1_502_113}


def test_modulation_and_demodulation_by_hand():
    weight = torch.tensor([[[[1.0]], [[2.0]]]])          # one output channel, two inputs, 1x1
    x = torch.tensor([[[[1.0]], [[1.0]]]])               # (1, 2, 1, 1)
    styles = torch.tensor([[3.0, 0.5]])
    # modulated weight (3, 1): output 3*1 + 1*1 = 4; demodulated by sqrt(3^2 + 1^2).
    assert modulated_conv2d(x, weight, styles, demodulate=False).item() == pytest.approx(4.0)
    assert modulated_conv2d(x, weight, styles).item() == pytest.approx(4 / math.sqrt(10), rel=1e-6)


def test_equalised_linear_and_pixel_norm_by_hand():
    fc = FullyConnected(4, 1, bias_init=1.0, lr_multiplier=0.01)
    with torch.no_grad():
        fc.weight.fill_(100.0)                           # stored / 0.01; used * 0.01 / sqrt(4)
        fc.bias.fill_(100.0)                             # used * 0.01
    assert fc(torch.ones(1, 4)).item() == pytest.approx(4 * 0.5 + 1.0)
    assert normalize_2nd_moment(torch.tensor([[3.0, 4.0]])).tolist()[0] == \
        pytest.approx([3 / math.sqrt(12.5), 4 / math.sqrt(12.5)], rel=1e-6)


def test_minibatch_std_by_hand():
    disc = ResidualDiscriminator(8, 16, 4, mbstd_group=2)
    x = torch.tensor([0.0, 2.0, 1.0, 1.0]).view(4, 1, 1, 1).expand(4, 2, 2, 2)
    # groups pair samples (0, 2) and (1, 3): std of {0, 1} = 0.5, of {2, 1} = 0.5 (population).
    std = disc.minibatch_std(x)[:, -1]
    assert std.shape == (4, 2, 2) and torch.allclose(std, torch.full_like(std, 0.5), atol=1e-4)


def test_fir_downsampling_by_hand():
    """[1, 3, 3, 1] / 8 per axis, padded by 1, every 2nd pixel: a 1 at (1, 1) of a 4x4
    image lands on the outputs with weights (3, 1) x (3, 1) / 64."""
    x = torch.zeros(1, 1, 4, 4)
    x[0, 0, 1, 1] = 1.0
    assert fir_downsample2x(x)[0, 0].tolist() == [[9 / 64, 3 / 64], [3 / 64, 1 / 64]]
    # Without decimation, padded by 2 (conv1's blur): 4 + 4 - 3 = 5 px; the 1, at (3, 3) once
    # padded, spreads over outputs 0..3 of each axis with weights (1, 3, 3, 1) / 8.
    blurred = fir_filter(x, pad=2)[0, 0]
    row = torch.tensor([1.0, 3.0, 3.0, 1.0, 0.0]) / 8
    assert blurred.shape == (5, 5) and torch.allclose(blurred, row.outer(row))


def test_discriminator_blocks_activate_after_downsampling():
    """The official order: skip = 1x1 conv of the filtered, halved input; conv1 = filter,
    stride-2 3x3 conv, bias, then the leaky ReLU; both paths times sqrt(1/2)."""
    torch.manual_seed(0)
    disc = ResidualDiscriminator(8, 32, 4)
    block = disc.blocks[0]
    with torch.no_grad():
        block["conv1"].bias.fill_(0.3)
    x = torch.randn(2, 4, 8, 8)

    def conv(layer, inp, stride=1, padding=1):
        return torch.nn.functional.conv2d(inp, layer.weight / math.sqrt(layer.weight[0].numel()), layer.bias,
                                          stride=stride, padding=padding)

    skip = conv(block["skip"], fir_downsample2x(x), padding=0)
    main = lrelu(conv(block["conv1"], fir_filter(lrelu(conv(block["conv0"], x)), pad=2), stride=2, padding=0))
    assert torch.allclose(disc.block(block, x), (skip + main) * math.sqrt(0.5), atol=1e-5)


def test_the_discriminator_runs_its_blocks(monkeypatch):
    """``forward`` goes through :meth:`ResidualDiscriminator.block` once per block: 8 px -> 4 px."""
    disc = ResidualDiscriminator(16, 64, 4)
    calls, original = [], disc.block
    monkeypatch.setattr(disc, "block", lambda block, x: (calls.append(x.shape[-1]), original(block, x))[1])
    disc(torch.randn(2, 3, 16, 16))
    assert calls == [16, 8]


def test_mode_seeking_loss_by_hand():
    w1, w2 = torch.zeros(2, 3), torch.full((2, 3), 0.6)
    m1, m2 = torch.zeros(2, 1, 2, 2), torch.full((2, 1, 2, 2), 0.3)
    assert losses.mode_seeking_loss(w1, w2, m1, m2, eps=0.0).item() == pytest.approx(0.6 / 0.3)


def test_r1_is_the_squared_input_gradient():
    real = torch.randn(3, 1, 2, 2)
    penalty = losses.r1_penalty(lambda x: (2 * x).sum(dim=(1, 2, 3)), real)
    assert torch.allclose(penalty, torch.full((3,), 4.0 * 4))           # gradient 2 at 4 pixels


def test_stage_one_trains_only_the_backbone_and_stage_two_only_the_defect_networks():
    model = tiny(batch_size=2)
    set_up(model, plan(6, 2))
    assert [model.stage(s) for s in range(6)] == [1, 1, 1, 2, 2, 2]
    batch = {"defect_free": torch.rand(2, 3, SIZE, SIZE) * 2 - 1, "defect": torch.rand(2, 3, SIZE, SIZE) * 2 - 1,
             "defect_mask": (torch.rand(2, 1, SIZE, SIZE) > 0.8).float()}

    def snapshot(modules):
        return [p.detach().clone() for m in modules for p in m.parameters()]

    def same(before, modules):
        return all(torch.equal(a, b) for a, b in zip(before, [p for m in modules for p in m.parameters()]))

    backbone, defect = snapshot(model.G.backbone()), snapshot(model.G.defect_networks())
    match = snapshot([model.D_match])
    for step in range(3):
        losses_ = model.train_step(batch, step)
        assert losses_["stage"].item() == 1 and losses_["mode_seeking"].item() == 0
    assert not same(backbone, model.G.backbone()) and same(defect, model.G.defect_networks())
    assert same(match, [model.D_match])
    backbone = snapshot(model.G.backbone())
    for step in range(3, 6):
        losses_ = model.train_step(batch, step)
        assert losses_["stage"].item() == 2 and losses_["mode_seeking"].item() > 0
    assert same(backbone, model.G.backbone()) and not same(defect, model.G.defect_networks())
    assert not same(match, [model.D_match])


def test_the_hard_gate_passes_the_residual_only_where_the_mask_is_on():
    """All-off masks give the backbone's image exactly (DFMGAN's fix_residual_to_zero);
    all-on masks change it."""
    torch.manual_seed(0)
    model = tiny()
    with torch.no_grad():
        w = model.G.mapping(torch.randn(6, 16))
        defect_w = model.G.defect_mapping(torch.randn(6, 16))
        clean, none = model.G.synthesize(w, None, noise_mode="const")
        model.G.to_mask.weight.zero_()
        model.G.to_mask.bias.fill_(-1.0)
        off, mask_off = model.G.synthesize(w, defect_w, noise_mode="const")
        model.G.to_mask.bias.fill_(1.0)
        on, mask_on = model.G.synthesize(w, defect_w, noise_mode="const")
    assert none is None and (mask_off < 0).all() and (mask_on >= 0).all()
    assert torch.equal(off, clean) and not torch.allclose(on, clean)


def test_generation_is_seeded_and_gives_masks():
    model = tiny()
    torch.manual_seed(7)
    first, masks = model.generate_with_masks(5, None)
    torch.manual_seed(7)
    assert torch.equal(model.generate(5, None), first)
    assert first.shape == (5, 3, SIZE, SIZE) and masks.shape == (5, 1, SIZE, SIZE) and masks.dtype == torch.bool


def test_an_odd_batch_is_refused_in_one_line():
    with pytest.raises(ValueError, match="batch_size must be even"):
        Dfmgan.Hyperparameters(**{**Dfmgan.presets["tiny"], "batch_size": 3}).validate()


RED = torch.tensor([0.9, -0.9, -0.9]).view(1, 3, 1, 1)
SIDE = 12   # the red squares' side: 14 % of a 32 px patch


def squares(count: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Backgrounds, the same with a red square, and the squares' masks."""
    background = -0.4 + 0.1 * torch.randn(count, 3, SIZE, SIZE, generator=gen)
    masks = torch.zeros(count, 1, SIZE, SIZE)
    for i in range(count):
        r, c = torch.randint(2, SIZE - SIDE - 2, (2,), generator=gen).tolist()
        masks[i, :, r:r + SIDE, c:c + SIDE] = 1
    return background, torch.where(masks.bool(), RED.expand(count, 3, SIZE, SIZE), background), masks


def redness(images: torch.Tensor, masks: torch.Tensor) -> tuple[float, float]:
    """Mean red minus green inside and outside ``masks`` (real squares: 1.8 inside, 0 outside)."""
    red = (images[:, 0] - images[:, 1]).unsqueeze(1)
    return float(red[masks].mean()), float(red[~masks].mean())


@pytest.mark.slow
def test_dfmgan_learns_to_paint_red_squares_inside_its_masks():
    """Stage 1 learns the backgrounds (no red); stage 2 paints red inside its own masks,
    leaves the rest alone, and draws masks of about the real squares' size."""
    stage1, steps = 100, 600
    torch.manual_seed(0)
    model = tiny(batch_size=8, stage1_fraction=stage1 / steps, lr=0.002, r1_gamma=0.1, ema_kimg=0.2)
    set_up(model, plan(steps, 8))
    gen = torch.Generator().manual_seed(1)
    free, defect, masks = squares(256, gen)
    for step in range(steps):
        pick = torch.randint(0, 256, (8,), generator=gen)
        model.train_step({"defect_free": free[pick], "defect": defect[pick], "defect_mask": masks[pick]}, step)
        if step + 1 == stage1:
            torch.manual_seed(3)
            after_stage1 = redness(*model.generate_with_masks(64, None))
    torch.manual_seed(3)
    images, made = model.generate_with_masks(64, None)
    inside, outside = redness(images, made)
    area = float(made.float().mean())
    assert after_stage1[0] < 0.35, after_stage1                                   # backgrounds only
    # Red where its mask is (real squares: 1.8), far more than after stage 1, and not outside. The
    # margins hold on one torch thread and on two (the GAN's path differs in the last bits).
    assert inside > after_stage1[0] + 0.2 and inside > outside + 0.4 and outside < 0.15, \
        (after_stage1, (inside, outside))
    assert float(masks.mean()) / 2 < area < 4 * float(masks.mean()), area


def test_both_stages_run_under_bf16_autocast_with_finite_losses():
    model = tiny(batch_size=2)
    set_up(model, TrainPlan(image_size=SIZE, total_steps=4, steps_per_epoch=4, epochs=1, batch_size=2,
                            device=torch.device("cpu"), amp_dtype=torch.bfloat16))
    batch = {"defect_free": torch.rand(2, 3, SIZE, SIZE) * 2 - 1, "defect": torch.rand(2, 3, SIZE, SIZE) * 2 - 1,
             "defect_mask": (torch.rand(2, 1, SIZE, SIZE) > 0.8).float()}
    for step in range(4):   # steps 0 and 2 add the lazy R1 (tiny: every 2 steps)
        out = model.train_step(batch, step)
        assert all(torch.isfinite(v) and v.dtype == torch.float32 for v in out.values()), out
    assert out["stage"].item() == 2 and out["r1"].item() == 0 and out["mode_seeking"].item() > 0


def _batch(n: int = 4) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(11)
    return {"defect_free": torch.rand(n, 3, SIZE, SIZE, generator=gen) * 2 - 1,
            "defect": torch.rand(n, 3, SIZE, SIZE, generator=gen) * 2 - 1,
            "defect_mask": (torch.rand(n, 1, SIZE, SIZE, generator=gen) > 0.8).float()}


def test_lazy_r1_every_other_step_and_d_trains_in_both_stages():
    model = tiny()   # r1_every 2; 2 + 2 steps
    set_up(model, plan(4))
    r1, d_moved = [], []
    for step in range(4):
        before = [p.detach().clone() for p in model.D.parameters()]
        out = model.train_step(_batch(), step)
        r1.append(out["r1"].item())
        d_moved.append(any(not torch.equal(a, b) for a, b in zip(before, model.D.parameters())))
    assert r1[0] > 0 and r1[1] == 0 and r1[2] > 0 and r1[3] == 0, r1
    assert all(d_moved)


def test_the_generator_adam_takes_the_official_lazy_ratio():
    """G_reg_interval 4 in the official loop: G's (and stage 2's defect networks') Adam runs at
    lr 0.0025 * 4/5 = 0.002 and beta2 0.99^(4/5); D's and D_match's at 16/17."""
    assert Dfmgan.Hyperparameters().lr == 0.0025 and Dfmgan.Hyperparameters().g_reg_every == 4
    model = tiny(r1_every=16)     # lr, beta2 and g_reg_every at their defaults
    set_up(model, plan(4))
    for opt in (model.opt_g, model.opt_defect):
        group = opt.param_groups[0]
        assert group["lr"] == pytest.approx(0.002) and group["betas"] == (0.0, pytest.approx(0.99 ** 0.8))
    for opt in (model.opt_d, model.opt_d_stage2, model.opt_match):
        group = opt.param_groups[0]
        assert group["lr"] == pytest.approx(0.0025 * 16 / 17) and group["betas"][1] == pytest.approx(0.99 ** (16 / 17))


def test_g_reg_every_0_leaves_the_generator_adam_as_given():
    model = tiny(g_reg_every=0, lr=0.003, beta2=0.98)
    set_up(model, plan(4))
    for opt in (model.opt_g, model.opt_defect):
        assert opt.param_groups[0]["lr"] == 0.003 and opt.param_groups[0]["betas"] == (0.0, 0.98)


def test_each_step_runs_g_then_d_and_r1_as_its_own_optimizer_step(monkeypatch):
    """The official phases: Gmain, Dmain, Dreg (every r1_every steps), and in stage 2
    D_match's main and reg phases; R1 is a separate Adam step, not a term of D's main one."""
    model = tiny()   # r1_every 2; steps 0, 1 in stage 1, 2, 3 in stage 2
    set_up(model, plan(4))
    order: list[str] = []

    def logged(opt, name):
        original = opt.step

        def step(*args, **kwargs):
            order.append(name)
            return original(*args, **kwargs)
        monkeypatch.setattr(opt, "step", step)

    for name in ("g", "d", "defect", "d_stage2", "match"):
        logged(getattr(model, f"opt_{name}"), name)
    forward = model.G.forward

    def generator(*args, **kwargs):     # D's fakes come from the no-grad call: after G's step
        order.append("G" if torch.is_grad_enabled() else "fakes")
        return forward(*args, **kwargs)
    monkeypatch.setattr(model.G, "forward", generator)
    steps = []
    for step in range(4):
        order.clear()
        model.train_step(_batch(), step)
        steps.append(list(order))
    assert steps == [["G", "g", "fakes", "d", "d"], ["G", "g", "fakes", "d"],
                     ["defect", "fakes", "d_stage2", "d_stage2", "match", "match"],
                     ["defect", "fakes", "d_stage2", "match"]]


def test_the_r1_step_takes_gamma_over_2_times_r1_every(monkeypatch):
    """The R1 phase's gradient is that of ``r1_gamma / 2 * mean ||grad_x D(x)||^2 * r1_every``
    at D's parameters after its main step (the official Dreg phase, gain = interval)."""
    model = tiny(r1_every=2, r1_gamma=0.3)
    set_up(model, plan(4))
    batch, seen = _batch(), []
    original = model.opt_d.step

    def step(*args, **kwargs):
        seen.append([torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in model.D.parameters()])
        if len(seen) == 2:               # the R1 step: recompute its gradient on the same D
            params = list(model.D.parameters())
            penalty = 0.3 / 2 * losses.r1_penalty(model.D, batch["defect_free"]).mean() * 2
            grads = torch.autograd.grad(penalty, params, allow_unused=True)
            seen.append([torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)])
        return original(*args, **kwargs)
    monkeypatch.setattr(model.opt_d, "step", step)
    model.train_step(batch, 0)
    assert len(seen) == 3
    assert all(torch.allclose(got, want, rtol=1e-4, atol=1e-7) for got, want in zip(seen[1], seen[2]))


def test_the_ema_ramp_up_counts_the_images_before_the_step():
    """At step 0 no image has been seen: half-life 0, so G_ema becomes G exactly."""
    model = tiny(ema_kimg=10.0, ema_rampup=0.05)
    set_up(model, plan(4))
    model.train_step(_batch(), 0)
    assert model.ema_beta(0) == 0.0
    assert all(torch.equal(ema, live) for ema, live in zip(model.G_ema.parameters(), model.G.parameters()))


def test_stage_two_ema_keeps_next_to_nothing_of_the_defect_networks_initial_weights():
    """At ``small`` (2,000 steps, 500 in stage 2) the fakes' generator must be trained
    defect networks: the initial weights' share in G_ema, the product of the stage-2 betas,
    is below 1e-6 (the official 400 kimg at 10 kimg: 2^-40). At ``paper``, stage 2's
    half-life is the official 10 kimg."""
    model = Dfmgan(Dfmgan.Hyperparameters(**Dfmgan.presets["small"]), 64)
    set_up(model, TrainPlan(image_size=64, total_steps=2000, steps_per_epoch=125, epochs=16, batch_size=8,
                            device=torch.device("cpu")))
    assert model.stage1_steps == 1500
    assert math.prod(model.ema_beta(step) for step in range(1500, 2000)) < 1e-6
    assert Dfmgan.Hyperparameters(**Dfmgan.presets["paper"]).stage2_ema_kimg == 10.0


def test_fakes_do_not_depend_on_the_inference_batch_size():
    fakes = []
    for chunk in (2, 5):
        torch.manual_seed(0)
        model = tiny()
        set_up(model, TrainPlan(image_size=SIZE, total_steps=4, steps_per_epoch=4, epochs=1, batch_size=4,
                                device=torch.device("cpu"), inference_batch_size=chunk))
        torch.manual_seed(5)
        fakes.append(model.generate_with_masks(5, None))
    # The same latents; a batch of 2 and one of 5 round the grouped convolutions differently.
    assert torch.allclose(fakes[0][0], fakes[1][0], atol=1e-4) and torch.equal(fakes[0][1], fakes[1][1])


def test_the_ema_generator_follows_g_by_its_half_life():
    model = tiny(ema_kimg=0.004, ema_rampup=0.0)   # half-life 4 images = one batch of 4: beta 0.5
    set_up(model, plan(4))
    ema_before = [p.detach().clone() for p in model.G_ema.parameters()]
    model.train_step(_batch(), 0)
    for old, ema, live in zip(ema_before, model.G_ema.parameters(), model.G.parameters()):
        assert torch.allclose(ema, (old + live) / 2, atol=1e-6)


def test_generation_uses_the_ema_generator_and_constant_noise():
    model = tiny()
    with torch.no_grad():
        for p in model.G.parameters():
            p.add_(1.0)                              # G and G_ema now differ
        for name, p in model.G_ema.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(1.0)                         # noise matters (it starts at 0)
    torch.manual_seed(2)
    images, masks = model.generate_with_masks(3, None)
    torch.manual_seed(2)
    z, defect_z = torch.randn(3, 16), torch.randn(3, 16)
    with torch.no_grad():
        ema = model.G_ema
        expected, mask = ema.synthesize(ema.mapping(z), ema.defect_mapping(defect_z), noise_mode="const")
    assert torch.equal(images, expected.clamp(-1, 1)) and torch.equal(masks, mask >= 0)


def test_mode_seeking_pairs_the_first_half_backgrounds_with_the_second_half_defect_styles(monkeypatch):
    model = tiny()
    set_up(model, plan(2))
    seen, original = {}, losses.mode_seeking_loss

    def spy(w1, w2, m1, m2, eps=1e-5):
        seen.update(w1=w1.detach(), w2=w2.detach(), m1=m1.detach(), m2=m2.detach())
        return original(w1, w2, m1, m2, eps)

    monkeypatch.setattr(losses, "mode_seeking_loss", spy)
    torch.manual_seed(4)
    out = model.train_step(_batch(), 1)                # stage 2 (tiny: half of 2 steps)
    assert out["stage"].item() == 2
    assert seen["w1"].shape == seen["w2"].shape == (2, 16) and not torch.equal(seen["w1"], seen["w2"])
    assert seen["m1"].shape == (2, 1, SIZE, SIZE) and seen["m1"].abs().max() <= 1   # tanh(10 m)
    assert out["mode_seeking"].item() == pytest.approx(
        ((seen["w1"] - seen["w2"]).abs().mean() / ((seen["m1"] - seen["m2"]).abs().mean() + 1e-5)).item(), rel=1e-5)
