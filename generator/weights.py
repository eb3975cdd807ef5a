"""The weights format: fp16 safetensors shards (<= 15 MiB each), an index, and a model card.

    model_dir/
      model_card.json                   config + training facts + sha256 of every shard
      model.safetensors.index.json      {"metadata": {...}, "weight_map": {tensor: shard}}
      model-00001-of-00002.safetensors  ...

Every failure names the file and what is wrong: a consumer should never get a half-loaded model.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .card import CARD_FILE, INDEX_FILE, ModelCard, atomic_write_text
from .networks import build_generator

MAX_SHARD_BYTES = 15 * 1024 * 1024
# safetensors adds a JSON header per file; keep room for it under the limit.
_HEADER_ALLOWANCE = 64 * 1024


class ModelLoadError(Exception):
    """A model folder could not be loaded; the message names the file and the problem."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _plan_shards(tensors: dict[str, torch.Tensor], limit: int) -> list[list[str]]:
    """Greedy packing in name order; a tensor larger than one shard is split by the caller."""
    shards, current, size = [], [], 0
    for name in sorted(tensors):
        n = tensors[name].numel() * tensors[name].element_size()
        if current and size + n > limit:
            shards.append(current)
            current, size = [], 0
        current.append(name)
        size += n
    if current:
        shards.append(current)
    return shards


def _split_large(tensors: dict[str, torch.Tensor], limit: int) -> tuple[dict, dict]:
    """Split tensors bigger than a shard into row chunks `name.__part{i}`; returns (tensors, parts)
    where parts maps the original name to its chunk names (recorded in the index)."""
    out, parts = {}, {}
    for name, t in tensors.items():
        nbytes = t.numel() * t.element_size()
        if nbytes <= limit:
            out[name] = t
            continue
        flat = t.reshape(-1)
        per = limit // t.element_size()
        names = []
        for i, start in enumerate(range(0, flat.numel(), per)):
            part = f"{name}.__part{i}"
            out[part] = flat[start:start + per].clone()
            names.append(part)
        parts[name] = {"parts": names, "shape": list(t.shape)}
    return out, parts


def save_model(generator: torch.nn.Module, card: ModelCard, folder: str | Path,
               max_shard_bytes: int = MAX_SHARD_BYTES) -> Path:
    """Write fp16 shards, the index and the card (with the shards' sha256) into `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if generator.cfg != card.config:
        raise ValueError("the card's config does not describe this generator")
    state = {k: v.detach().to("cpu", torch.float16).contiguous()
             for k, v in generator.state_dict().items()}
    limit = max_shard_bytes - _HEADER_ALLOWANCE
    state, parts = _split_large(state, limit)
    plan = _plan_shards(state, limit)
    for old in folder.glob("model-*-of-*.safetensors"):
        old.unlink()  # a re-export with fewer shards must not leave stale ones behind
    weight_map, shas = {}, {}
    for i, names in enumerate(plan, 1):
        fname = f"model-{i:05d}-of-{len(plan):05d}.safetensors"
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".safetensors")
        os.close(fd)
        save_file({n: state[n] for n in names}, tmp, metadata={"format": "pt"})
        os.chmod(tmp, 0o644)
        os.replace(tmp, folder / fname)
        shas[fname] = sha256_file(folder / fname)
        weight_map.update({n: fname for n in names})
    index = {"metadata": {"dtype": "float16", "split_tensors": parts}, "weight_map": weight_map}
    atomic_write_text(folder / INDEX_FILE, json.dumps(index, indent=2, sort_keys=True) + "\n")
    card.shards = shas
    card.save(folder)
    return folder


def load_state(folder: str | Path) -> tuple[ModelCard, dict[str, torch.Tensor]]:
    """Read and verify the card, index and shards; returns (card, fp16 state dict on CPU)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelLoadError(f"{folder}: model folder not found")
    try:
        card = ModelCard.load(folder)
    except (FileNotFoundError, ValueError) as e:
        raise ModelLoadError(str(e)) from e
    index_path = folder / INDEX_FILE
    try:
        index = json.loads(index_path.read_text())
        weight_map: dict[str, str] = index["weight_map"]
        parts: dict = index.get("metadata", {}).get("split_tensors", {})
    except FileNotFoundError:
        raise ModelLoadError(f"{index_path}: index file missing") from None
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise ModelLoadError(f"{index_path}: not a valid index ({e})") from e
    shard_names = sorted(set(weight_map.values()))
    if sorted(card.shards) != shard_names:
        raise ModelLoadError(f"{folder / CARD_FILE}: lists shards {sorted(card.shards)} but the "
                             f"index uses {shard_names}")
    state: dict[str, torch.Tensor] = {}
    for name in shard_names:
        path = folder / name
        if not path.is_file():
            raise ModelLoadError(f"{path}: shard missing")
        digest = sha256_file(path)
        if digest != card.shards[name]:
            raise ModelLoadError(f"{path}: sha256 {digest[:12]}... does not match the card's "
                                 f"{card.shards[name][:12]}... (truncated, corrupted or replaced)")
        try:
            tensors = load_file(path)
        except (SafetensorError, OSError, ValueError) as e:
            raise ModelLoadError(f"{path}: unreadable safetensors file ({e})") from e
        expected = {k for k, v in weight_map.items() if v == name}
        if set(tensors) != expected:
            raise ModelLoadError(f"{path}: holds tensors {sorted(set(tensors) ^ expected)} "
                                 "that the index does not agree with")
        state.update(tensors)
    for name, info in parts.items():
        chunks = [state.pop(p) for p in info["parts"]]
        state[name] = torch.cat(chunks).reshape(info["shape"])
    return card, state


def load_generator(folder: str | Path, device: str | torch.device = "cpu",
                   dtype: torch.dtype = torch.float32) -> tuple[ModelCard, torch.nn.Module]:
    card, state = load_state(folder)
    net = build_generator(card.config)
    expected = net.state_dict()
    problems = []
    for k, v in expected.items():
        if k not in state:
            problems.append(f"missing {k}")
        elif tuple(state[k].shape) != tuple(v.shape):
            problems.append(f"{k} has shape {tuple(state[k].shape)}, expected {tuple(v.shape)}")
    problems += [f"unexpected {k}" for k in state if k not in expected]
    if problems:
        raise ModelLoadError(f"{Path(folder) / INDEX_FILE}: weights do not match the card's "
                             f"config: {'; '.join(problems[:5])}")
    net.load_state_dict({k: v.float() for k, v in state.items()})
    net.to(device=device, dtype=dtype).eval()
    net.requires_grad_(False)
    return card, net
