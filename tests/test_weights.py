"""The weights format: fp16 shards <= 15 MiB with an index and a card; every corruption is named."""
import json

import numpy as np
import pytest
import torch

from beatgan.generator import ModelCard, named_config
from beatgan.generator.engine import BeatGenerator
from beatgan.generator.wavegan import Generator
from beatgan.generator.weights import (MAX_SHARD_BYTES, ModelLoadError, load_generator,
                                       save_model)

from conftest import make_tiny_model


@pytest.fixture()
def model_dir(tmp_path):
    return make_tiny_model(tmp_path / "m")


def test_round_trip_keeps_weights_to_fp16_precision(tmp_path):
    torch.manual_seed(1)
    cfg = named_config("beatgan-bar", model_size=4)
    net = Generator(cfg)
    save_model(net, ModelCard(config=cfg), tmp_path)
    card, loaded = load_generator(tmp_path)
    assert card.config == cfg
    for k, v in net.state_dict().items():
        assert torch.allclose(loaded.state_dict()[k], v.half().float())
    z = torch.rand(2, 100) * 2 - 1
    assert torch.allclose(loaded(z), net(z), atol=2e-3)


def test_card_holds_what_a_consumer_needs(model_dir):
    card = json.loads((model_dir / "model_card.json").read_text())
    for key in ("sample_rate", "slice_samples", "tempo_bpm", "beats_per_bar", "bar_samples",
                "channels", "model_size", "training", "shards", "config"):
        assert key in card, key
    assert card["sample_rate"] == 14700 and card["bar_samples"] == 28224
    assert all(len(h) == 64 for h in card["shards"].values())


def test_big_model_is_sharded_under_the_limit(tmp_path):
    # The paper generator at 32768 is 73 M parameters = 146 MB in fp16: many shards, one tensor split.
    cfg = named_config("wavegan")
    save_model(Generator(cfg), ModelCard(config=cfg), tmp_path)
    shards = sorted(tmp_path.glob("model-*.safetensors"))
    assert len(shards) >= 10
    assert all(s.stat().st_size <= MAX_SHARD_BYTES for s in shards)
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    assert index["metadata"]["split_tensors"]  # the 105 MB first upconv was split
    card, net = load_generator(tmp_path)
    assert sum(p.numel() for p in net.parameters()) == 73_151_554


def test_load_into_half_precisions(model_dir):
    for dtype in ("fp16", "bf16"):
        gen = BeatGenerator.load(model_dir, device="cpu", dtype=dtype)
        assert next(gen.net.parameters()).dtype == {"fp16": torch.float16, "bf16": torch.bfloat16}[dtype]


def _shard(model_dir):
    return next(model_dir.glob("model-*.safetensors"))


def test_missing_folder_card_index_and_shard(tmp_path, model_dir):
    with pytest.raises(ModelLoadError, match="not found"):
        load_generator(tmp_path / "nowhere")
    (model_dir / "model.safetensors.index.json").unlink()
    with pytest.raises(ModelLoadError, match="index file missing"):
        load_generator(model_dir)
    other = make_tiny_model(tmp_path / "o")
    _shard(other).unlink()
    with pytest.raises(ModelLoadError, match="shard missing"):
        load_generator(other)
    third = make_tiny_model(tmp_path / "t")
    (third / "model_card.json").unlink()
    with pytest.raises(ModelLoadError, match="model card missing"):
        load_generator(third)


def test_truncated_shard_is_named(model_dir):
    shard = _shard(model_dir)
    shard.write_bytes(shard.read_bytes()[:1000])
    with pytest.raises(ModelLoadError, match=shard.name):
        load_generator(model_dir)


def test_tampered_shard_fails_its_checksum(model_dir):
    shard = _shard(model_dir)
    data = bytearray(shard.read_bytes())
    data[-10] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match="sha256"):
        load_generator(model_dir)


def test_garbage_shard_with_matching_checksum_is_unreadable(model_dir):
    # Someone replaced the shard and updated the card: the checksum passes, parsing must not.
    from beatgan.generator.weights import sha256_file
    shard = _shard(model_dir)
    shard.write_bytes(b"\x00" * 64)
    card = json.loads((model_dir / "model_card.json").read_text())
    card["shards"][shard.name] = sha256_file(shard)
    (model_dir / "model_card.json").write_text(json.dumps(card))
    with pytest.raises(ModelLoadError, match="unreadable safetensors"):
        load_generator(model_dir)


def test_weights_that_do_not_match_the_card(tmp_path, model_dir):
    # Weights of a d=4 model under a card that says d=8.
    card = json.loads((model_dir / "model_card.json").read_text())
    card["config"]["model_size"] = 8
    (model_dir / "model_card.json").write_text(json.dumps(card))
    with pytest.raises(ModelLoadError, match="do not match the card's config"):
        load_generator(model_dir)


def test_corrupt_card_json(model_dir):
    (model_dir / "model_card.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="not a valid model card"):
        load_generator(model_dir)


def test_default_weights_missing_says_so(tmp_path, monkeypatch):
    import beatgan.generator.engine as engine
    monkeypatch.setattr(engine, "DEFAULT_MODEL_DIR", tmp_path)
    monkeypatch.delenv("BEATGAN_MODEL", raising=False)
    with pytest.raises(ModelLoadError, match="no trained default weights"):
        BeatGenerator.load(None)


def test_resave_removes_stale_shards(tmp_path):
    cfg = named_config("beatgan-bar", model_size=4)
    save_model(Generator(cfg), ModelCard(config=cfg), tmp_path, max_shard_bytes=200_000)
    assert len(list(tmp_path.glob("model-*.safetensors"))) > 1
    save_model(Generator(cfg), ModelCard(config=cfg), tmp_path)
    assert len(list(tmp_path.glob("model-*.safetensors"))) == 1
    load_generator(tmp_path)
    assert np.isfinite(BeatGenerator.load(tmp_path, device="cpu").generate([1])).all()
