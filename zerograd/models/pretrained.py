"""Reading and writing Hugging Face model directories: config.json + model.safetensors.

Loading reads JSON and safetensors only (no code runs). Each model gives an explicit key map
(zerograd name -> Hugging Face name, with an optional transform of the array); a missing,
unexpected or mismatched key is one error that lists them all. Everything wrong with a file is a
``FileFormatError`` naming the file; the config is checked against the weights' shapes before the
model is built, so a config that lies about sizes allocates nothing.
"""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

from zerograd import backend
from zerograd.io import FileFormatError

# model_type -> {architecture: the class zerograd.models.from_pretrained builds}; names only, the
# classes load lazily. BERT.from_pretrained itself takes the encoder of any BERT architecture.
ARCHITECTURES = {
    "bert": {
        "BertModel": "BERT",
        "BertForSequenceClassification": "BertForSequenceClassification",
        "BertForMaskedLM": "BERT",  # the encoder; the head is skipped
        "BertForPreTraining": "BERT",
    },
    "gpt2": {"GPT2LMHeadModel": "GPT", "GPT2Model": "GPT"},
    "llama": {"LlamaForCausalLM": "Llama"},
    "qwen2": {"Qwen2ForCausalLM": "Llama"},
    "mistral": {"MistralForCausalLM": "Llama"},
}


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
    if d.get("model_type", model_type) != model_type:
        raise ValueError(
            f"{cls.__name__}: expected model_type {model_type!r}, received {d.get('model_type')!r}"
        )
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in d.items() if k in names})


def _clip(value, n: int = 80) -> str:
    """repr of a value read from a file, cut short: a hostile file may hold megabytes."""
    r = repr(value)
    return r if len(r) <= n else r[: n - 5] + " ..."


def _short(names, n: int = 12) -> str:
    """At most ``n`` names, then how many more: a hostile file may hold millions."""
    names = list(names)
    more = f", ... ({len(names) - n} more)" if len(names) > n else ""
    return ", ".join(str(s) if len(str(s)) <= 80 else _clip(s) for s in names[:n]) + more


def read_config(path, model_type: str | None, loader: str = "from_pretrained") -> dict:
    """config.json of a model directory, checked to be a JSON object of ``model_type``
    (None: any model_type that zerograd knows)."""
    from zerograd.io import load_json

    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{loader}: {str(path)!r} is not a directory")
    cfg_file = path / "config.json"
    if not cfg_file.exists():
        raise FileNotFoundError(f"{loader}: {str(path)!r} has no config.json")
    config = load_json(cfg_file, loader=loader)
    found = config.get("model_type")
    if "model_type" not in config:
        raise FileFormatError(
            cfg_file, f"no 'model_type' key (known model types: {_short(ARCHITECTURES)})", loader
        )
    if model_type is not None and found != model_type:
        raise FileFormatError(
            cfg_file,
            f"expected a config with model_type {model_type!r}, received {_clip(found)}",
            loader,
        )
    if not isinstance(found, str) or found not in ARCHITECTURES:
        raise FileFormatError(
            cfg_file,
            f"unknown model_type {_clip(found)} (known model types: {_short(ARCHITECTURES)})",
            loader,
        )
    arch = config.get("architectures")
    if arch is not None and (
        not isinstance(arch, list) or not all(isinstance(a, str) for a in arch)
    ):
        raise FileFormatError(
            cfg_file, f"'architectures' must be a list of strings, received {_clip(arch)}", loader
        )
    return config


_TYPES = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,), "None": ()}


def config_from_file(cls, config: dict, path, loader: str):
    """``cls.from_dict(config)``, with every known key's type checked first and any error the
    config class raises reported as a FileFormatError naming config.json."""
    cfg_file = Path(path) / "config.json"
    for f in fields(cls):
        if f.name not in config:
            continue
        v = config[f.name]
        allowed = [t.strip() for t in str(f.type).split("|")]
        if not all(t in _TYPES for t in allowed):
            continue  # an annotation this check does not know: the config class checks it
        if v is None and "None" in allowed:
            continue
        ok = any(isinstance(v, _TYPES[t]) for t in allowed)
        if ok and isinstance(v, bool) and "bool" not in allowed:
            ok = False  # true is not an integer width
        if not ok:
            raise FileFormatError(
                cfg_file,
                f"{f.name!r} must be {' or '.join(allowed)}, received {type(v).__name__} {_clip(v)}",
                loader,
            )
    labels = config.get("id2label")
    if labels is not None and not isinstance(labels, dict):
        raise FileFormatError(
            cfg_file, f"'id2label' must be an object, received {type(labels).__name__}", loader
        )
    try:
        return cls.from_dict(config)
    except (TypeError, ValueError) as e:  # the config class's own validation, about this file
        raise FileFormatError(cfg_file, f"invalid config ({e})", loader) from None


def read_weights(path, loader: str = "from_pretrained") -> dict:
    """model.safetensors of a model directory as {Hugging Face name: NumPy array}."""
    from zerograd.io import load_safetensors

    f = Path(path) / "model.safetensors"
    if not f.exists():
        found = sorted(p.name for p in Path(path).iterdir())
        raise FileNotFoundError(
            f"{loader}: no model.safetensors in {str(path)!r} (found {found}); only safetensors weights are read"
        )
    try:
        return load_safetensors(f, arrays=True)
    except FileFormatError as e:
        raise FileFormatError(e.path, e.problem, loader) from None


def _find(weights: dict, name: str, prefixes):
    return next((p + name for p in prefixes if p + name in weights), None)


def check_sizes(path, weights: dict, config, expect: dict, layers: tuple, prefixes, loader: str):
    """Compare the sizes that config.json gives with the weights' shapes, before any allocation.

    Args:
        expect: {Hugging Face name: ((config key, ...), expected shape)}.
        layers: (config key, regex of a layer's names with the index as group 1).
    """
    cfg_file, w_file = Path(path) / "config.json", Path(path) / "model.safetensors"

    def given(keys):
        return ", ".join(f"{k}={getattr(config, k)!r}" for k in keys)

    key, pattern = layers
    rx = re.compile(pattern)
    found = {int(m.group(1)) for k in weights if (m := rx.match(k))}
    n = getattr(config, key)
    # more layers in the file than in the config are unexpected keys (load_mapped lists them);
    # fewer would build layers that nothing fills, as many as the config claims: refused here
    if n < 0 or len({i for i in found if i < n}) != n:
        held = f"{len(found)} layers ({_short(sorted(found), 6)})" if found else "no layers"
        raise FileFormatError(
            cfg_file, f"config.json gives {key}={n!r}, but {str(w_file)!r} holds {held}", loader
        )
    for name, (keys, shape) in expect.items():
        k = _find(weights, name, prefixes)
        if k is None:
            raise FileFormatError(
                w_file, f"missing tensor {name!r} (its shape checks {', '.join(keys)})", loader
            )
        if tuple(weights[k].shape) != tuple(shape):
            raise FileFormatError(
                w_file,
                f"tensor {k!r}: expected shape {tuple(shape)} from config.json's {given(keys)}, "
                f"received {tuple(weights[k].shape)}",
                loader,
            )


def bert_sizes(c) -> dict:
    """{tensor: (config keys, shape they give)}: the BERT tensors whose shapes size the model."""
    h = c.hidden_size
    out = {
        "embeddings.word_embeddings.weight": (("vocab_size", "hidden_size"), (c.vocab_size, h)),
        "embeddings.position_embeddings.weight": (
            ("max_position_embeddings", "hidden_size"),
            (c.max_position_embeddings, h),
        ),
        "embeddings.token_type_embeddings.weight": (
            ("type_vocab_size", "hidden_size"),
            (c.type_vocab_size, h),
        ),
    }
    if c.num_hidden_layers > 0:
        out["encoder.layer.0.intermediate.dense.weight"] = (
            ("intermediate_size", "hidden_size"),
            (c.intermediate_size, h),
        )
    return out


def read_head(path, weights: dict, name: str, in_features: int, rows, loader: str):
    """(weight, bias) of a Linear head ``name`` in the weights, checked; None when absent.

    ``rows``: the output size config.json gives (None: any, a new head replaces a mismatch).
    """
    W, b = weights.get(name + ".weight"), weights.get(name + ".bias")
    w_file = Path(path) / "model.safetensors"
    if W is None and b is None:
        return None
    if W is None or b is None:
        have, lack = ("weight", "bias") if b is None else ("bias", "weight")
        raise FileFormatError(w_file, f"has {name}.{have} but no {name}.{lack}", loader)
    if W.dtype.kind != "f" or b.dtype.kind != "f":
        raise FileFormatError(
            w_file, f"{name} weights must be floating point, received {W.dtype}, {b.dtype}", loader
        )
    if W.ndim != 2 or b.shape != W.shape[:1] or W.shape[1] != in_features:
        raise FileFormatError(
            w_file,
            f"{name}.weight/bias: expected shapes (num_labels, {in_features}) and (num_labels,), "
            f"received {W.shape} and {b.shape}",
            loader,
        )
    if rows is not None and W.shape[0] != rows:
        raise FileFormatError(
            w_file,
            f"{name}.weight has {W.shape[0]} rows, but config.json gives num_labels={rows}",
            loader,
        )
    return W, b


def build(cls, config, path, loader: str, *args):
    """``cls(config, *args)``; a config value the model refuses names config.json."""
    try:
        return cls(config, *args)
    except ValueError as e:
        raise FileFormatError(Path(path) / "config.json", f"invalid config ({e})", loader) from None


def load_mapped(
    model, weights: dict, key_map: dict, prefixes=("",), ignore=(), source=None
) -> None:
    """Copy ``weights`` into ``model`` through ``key_map`` {our name: (hf name, transform or None)}.

    A Hugging Face name may carry any of ``prefixes`` ('bert.', 'transformer.'); names matching
    ``ignore`` (buffers such as position_ids) are skipped. Problems are one error listing them
    all: a FileFormatError naming ``source`` (the weights file) when given, else a ValueError.
    """
    own = model.state_dict()
    missing, mismatched, dtypes, used = [], [], [], set()
    values = {}
    for ours, (hf, transform) in key_map.items():
        key = _find(weights, hf, prefixes)
        if key is None:
            missing.append(hf)
            continue
        used.add(key)
        a = weights[key]
        if a.dtype.kind != "f":
            dtypes.append(f"{key}: expected floating point, received {a.dtype}")
            continue
        stored = tuple(a.shape)
        a = transform(a) if transform is not None else a
        if tuple(a.shape) != tuple(own[ours].shape):
            how = f" (stored as {stored}, transformed on loading)" if stored != a.shape else ""
            mismatched.append(
                f"{key}: expected shape {tuple(own[ours].shape)}, received {tuple(a.shape)}{how}"
            )
        values[ours] = a
    unexpected = [k for k in weights if k not in used and not any(s in k for s in ignore)]
    problems = []
    if missing:
        problems.append("missing keys: " + _short(missing))
    if unexpected:
        problems.append("unexpected keys: " + _short(unexpected))
    if mismatched:
        problems.append("shape mismatches: " + "; ".join(mismatched[:12]))
    if dtypes:
        problems.append("dtype mismatches: " + "; ".join(dtypes[:12]))
    if problems:
        loader = f"{type(model).__name__}.from_pretrained"
        text = "the weights do not fit the model:\n  " + "\n  ".join(problems)
        if source is not None:
            raise FileFormatError(source, text, loader)
        raise ValueError(f"{loader}: {text}")
    model.load_state_dict(values)


def check_device(device, loader: str):
    """The canonical device for ``from_pretrained(..., device=)``, checked before any file is read."""
    if device is None:
        return None
    try:
        return backend.normalize_device(device)
    except (ValueError, RuntimeError) as e:
        raise type(e)(f"{loader}: {e}") from None


def place(model, device):
    """``model`` moved to ``device`` (a canonical device or None: left on the CPU)."""
    return model if device is None or device == "cpu" else model.to(device)


def from_pretrained(path, device=None):
    """The model that a Hugging Face directory's config.json names (model_type, architectures).

    Raises:
        FileFormatError: an unknown model_type or architecture (the known ones are listed), or a
            broken config.json or model.safetensors.

    ``device='cuda'`` puts the model on the GPU (checked before any file is read).

    Example:
        >>> model = zerograd.models.from_pretrained('gpt2/')   # a GPT
    """
    check_device(device, "from_pretrained")
    import zerograd.models as models

    config = read_config(path, None, "from_pretrained")
    found = config["model_type"]
    names = ARCHITECTURES[found]
    arch = (config.get("architectures") or [next(iter(names))])[0]
    if arch not in names:  # a class-specific loader (BERT.from_pretrained) takes the encoder
        raise FileFormatError(
            Path(path) / "config.json",
            f"unknown architecture {_clip(arch)} for model_type {found!r} (known: {', '.join(names)})",
            "from_pretrained",
        )
    return getattr(models, names[arch]).from_pretrained(path, device=device)


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
