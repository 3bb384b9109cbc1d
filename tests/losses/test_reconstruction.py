"""L2, LPIPS (against the lpips package itself) and the ArcFace identity terms."""

from __future__ import annotations

import hashlib
import math

import lpips
import lpips.pretrained_networks
import pytest
import torch
import torchvision

from dualinv.encoders import BackboneConfig
from dualinv.errors import CheckpointError
from dualinv.losses import IdentityEmbedder, LPIPSLoss, face_crop, identity_loss, identity_similarity, l2_loss
from dualinv.standin import build_seeded

TINY = BackboneConfig(units_per_stage=(1, 1, 1, 1), width=0.125)


def images(seed, size=64, batch=2):
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, size, size, generator=generator) * 2 - 1


def test_l2_is_the_mean_squared_error():
    assert l2_loss(torch.zeros(2, 3, 4, 4), torch.full((2, 3, 4, 4), 0.5)).item() == pytest.approx(0.25)
    output = torch.zeros(1, 1, 1, 2)
    target = torch.tensor([[[[1.0, 3.0]]]])
    assert l2_loss(output, target).item() == pytest.approx((1 + 9) / 2)


TORCHVISION_TRUNKS = {"alex": "alexnet", "vgg": "vgg16"}


def trunk_file(tmp_path, net, seed=11):
    """A torchvision AlexNet/VGG16 state dict with seeded weights, standing in for the published file."""
    model = build_seeded(getattr(torchvision.models, TORCHVISION_TRUNKS[net]), seed=seed)
    path = tmp_path / f"{net}.pth"
    torch.save(model.state_dict(), path)
    return model, path, "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_lpips_equals_the_lpips_package_with_the_same_trunk(tmp_path, monkeypatch, net):
    model, path, checksum = trunk_file(tmp_path, net)
    ours = LPIPSLoss(net, path, checksum=checksum)
    # reference: lpips builds its trunk from torchvision.models.<name>(); hand it the same weights.
    monkeypatch.setattr(lpips.pretrained_networks.tv, TORCHVISION_TRUNKS[net], lambda *args, **kwargs: model)
    reference = lpips.LPIPS(net=net, verbose=False).eval()
    a, b = images(1), images(2)
    expected = reference(a, b)
    assert torch.allclose(ours.metric(a, b), expected, rtol=1e-5, atol=1e-7)
    assert ours(a, b).item() == pytest.approx(expected.mean().item(), rel=1e-5)
    assert expected.min().item() > 0


def test_lpips_trunk_of_the_wrong_network_is_refused(tmp_path):
    _, path, checksum = trunk_file(tmp_path, "vgg")
    with pytest.raises(CheckpointError, match="names or shapes differ"):
        LPIPSLoss("alex", path, checksum=checksum)


def test_lpips_of_identical_images_is_zero_and_gradients_reach_the_image():
    loss = LPIPSLoss("alex")
    a = images(3).requires_grad_()
    assert loss(a, a.detach()).item() == pytest.approx(0.0, abs=1e-7)
    loss(a, images(4)).backward()
    assert a.grad is not None and a.grad.abs().sum() > 0
    assert not any(p.requires_grad for p in loss.parameters())


def test_lpips_file_without_features_is_refused(tmp_path):
    path = tmp_path / "not_alexnet.pth"
    torch.save({"classifier.1.weight": torch.zeros(2, 2)}, path)
    checksum = "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(CheckpointError, match="features"):
        LPIPSLoss("alex", path, checksum=checksum)


def test_face_crop_is_psp_rows_35_223_cols_32_220_at_256():
    image = torch.zeros(1, 3, 256, 256)
    image[:, :, 35:223, 32:220] = 1.0
    crop = face_crop(image)
    assert crop.shape == (1, 3, 112, 112) and crop.eq(1.0).all()
    image[:, :, 34, :] = 7.0  # one row above the crop changes nothing
    image[:, :, :, 220] = 7.0  # nor the first column after it
    assert face_crop(image).eq(1.0).all()
    big = torch.zeros(1, 3, 512, 512)
    big[:, :, 70:446, 64:440] = 1.0  # same region at 512: resized to 256 first
    assert face_crop(big).eq(1.0).all()


def test_identity_similarity_is_cosine_of_embeddings():
    def embedder(x):
        return torch.nn.functional.normalize(x.flatten(1), dim=1)

    output = torch.tensor([[1.0, 0.0], [1.0, 1.0]]).reshape(2, 2, 1, 1)
    target = torch.tensor([[0.0, 1.0], [1.0, 0.0]]).reshape(2, 2, 1, 1)
    similarity = identity_similarity(embedder, output, target)
    assert similarity.tolist() == pytest.approx([0.0, 1 / math.sqrt(2)])
    assert identity_loss(embedder, output, target).item() == pytest.approx(1 - 0.5 / math.sqrt(2))


def test_identical_faces_give_id_one_and_loss_zero():
    embedder = IdentityEmbedder(TINY, seed=5)
    face = images(6, size=256)
    assert identity_similarity(embedder, face, face).tolist() == pytest.approx([1.0, 1.0], abs=1e-5)
    assert identity_loss(embedder, face, face).item() == pytest.approx(0.0, abs=1e-5)
    embedder.train()
    assert not embedder.arcface.training  # frozen statistics even inside a training loop


def test_identity_embedder_loads_the_configured_file(tmp_path):
    from dualinv.encoders import ArcFace

    source = build_seeded(lambda: ArcFace(TINY), seed=9).eval()
    path = tmp_path / "model_ir_se50.pth"
    torch.save(source.state_dict(), path)
    checksum = "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    embedder = IdentityEmbedder(TINY, path, checksum=checksum)
    face = images(7, size=256, batch=1)
    assert torch.allclose(embedder(face), source(face_crop(face)), atol=1e-6)
