"""Reading and writing Hugging Face model directories: config.json + model.safetensors.

Loading reads JSON and safetensors only (no code runs). Each model gives an explicit key map
(zerograd name -> Hugging Face name, with an optional transform of the array); a missing,
unexpected or mismatched key is one error that lists them all.
"""

from __future__ import annotations

from pathlib import Path


def init_weights(m) -> None:
    """The transformers' initialisation, for ``model.apply``: N(0, 0.02) for Linear and Embedding
    weights, zero biases, and a zero padding row."""
    from zerograd import nn

    if isinstance(m, nn.Linear):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.Embedding):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.padding_idx is not None:
            m.weight.data[m.padding_idx] = 0


def config_from_dict(cls, d: dict, model_type: str):
    """A config dataclass from a Hugging Face config dict: checks model_type, ignores unknown keys."""
    from dataclasses import fields

    if d.get("model_type", model_type) != model_type:
        raise ValueError(
            f"{cls.__name__}: expected model_type {model_type!r}, received {d.get('model_type')!r}"
        )
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in d.items() if k in names})


def read_config(path, model_type: str) -> dict:
    """config.json of a model directory, checked to be of ``model_type``."""
    from zerograd.io import load_json

    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"from_pretrained: {str(path)!r} is not a directory")
    cfg_file = path / "config.json"
    if not cfg_file.exists():
        raise FileNotFoundError(f"from_pretrained: {str(path)!r} has no config.json")
    config = load_json(cfg_file)
    if config.get("model_type") != model_type:
        raise ValueError(
            f"from_pretrained: expected a config with model_type {model_type!r}, received {config.get('model_type')!r} in {cfg_file}"
        )
    return config


def read_weights(path) -> dict:
    """model.safetensors of a model directory as {Hugging Face name: NumPy array}."""
    from zerograd.io import load_safetensors

    f = Path(path) / "model.safetensors"
    if not f.exists():
        found = sorted(p.name for p in Path(path).iterdir())
        raise FileNotFoundError(
            f"from_pretrained: no model.safetensors in {str(path)!r} (found {found}); only safetensors weights are read"
        )
    return load_safetensors(f, arrays=True)


def load_mapped(model, weights: dict, key_map: dict, prefixes=("",), ignore=()) -> None:
    """Copy ``weights`` into ``model`` through ``key_map`` {our name: (hf name, transform or None)}.

    A Hugging Face name may carry any of ``prefixes`` ('bert.', 'transformer.'); names matching
    ``ignore`` (buffers such as position_ids) are skipped.
    """

    def find(hf_name):
        for p in prefixes:
            if p + hf_name in weights:
                return p + hf_name
        return None

    own = model.state_dict()
    missing, mismatched, used = [], [], set()
    values = {}
    for ours, (hf, transform) in key_map.items():
        key = find(hf)
        if key is None:
            missing.append(hf)
            continue
        used.add(key)
        a = weights[key]
        a = transform(a) if transform is not None else a
        if tuple(a.shape) != tuple(own[ours].shape):
            mismatched.append(
                f"{key}: expected shape {tuple(own[ours].shape)}, received {tuple(a.shape)}"
            )
        values[ours] = a
    unexpected = [k for k in weights if k not in used and not any(s in k for s in ignore)]
    problems = []
    if missing:
        problems.append("missing keys: " + ", ".join(missing))
    if unexpected:
        problems.append("unexpected keys: " + ", ".join(unexpected))
    if mismatched:
        problems.append("shape mismatches: " + "; ".join(mismatched))
    if problems:
        raise ValueError(
            f"{type(model).__name__}.from_pretrained: the weights do not fit the model:\n  "
            + "\n  ".join(problems)
        )
    model.load_state_dict(values)


def _merged_state(model) -> dict:
    """The state dict as arrays, with LoRA-wrapped linears written as plain ones: the adapter's
    update folded into the weight (unless already merged) under the layer's own name, as a
    fine-tuned model is shared; the model itself is left as it is."""
    own = {k: v.numpy() for k, v in model.state_dict().items()}
    for name, m in model.named_modules():
        if not all(hasattr(m, a) for a in ("base", "lora_A", "lora_B", "scaling", "merged")):
            continue
        p = name + "." if name else ""
        w = own.pop(p + "base.weight")
        if not m.merged:
            w = w + m.scaling * (m.lora_B.numpy() @ m.lora_A.numpy())
        own[p + "weight"] = w
        if p + "base.bias" in own:
            own[p + "bias"] = own.pop(p + "base.bias")
        for k in [k for k in own if k.startswith(p + "lora_")]:
            del own[k]
    return own


def save_mapped(model, path, config: dict, key_map: dict, inverse: dict | None = None) -> None:
    """Write config.json and model.safetensors with Hugging Face names (atomically, file by file)."""
    from zerograd.io import save_json, save_safetensors

    path = Path(path)
    own = _merged_state(model)
    out = {}
    for ours, (hf, _) in key_map.items():
        a = own[ours]
        fn = (inverse or {}).get(ours)
        out[hf] = fn(a) if fn else a
    save_safetensors(out, path / "model.safetensors", metadata={"format": "pt"})
    save_json(config, path / "config.json")
