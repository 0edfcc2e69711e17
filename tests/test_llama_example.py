"""examples/llama_poems.py end to end at its --quick sizes: a tiny Llama from scratch on the Tang
poems, the instruction set built from them, LoRA fine-tuning through the sft app, and replies."""

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

pytest.importorskip("tokenizers")
pytest.importorskip("jinja2")


@pytest.mark.skipif(
    not Path("/usr/share/games/fortunes/tang300.u8").exists(), reason="fortunes-zh not installed"
)
def test_llama_poems_quick(tmp_path, capsys):
    import llama_poems

    r = llama_poems.main(["--quick", "--out", str(tmp_path)])
    assert [c["step"] for c in r["val_curve"]] == [10, 20]
    assert r["val_curve"][-1]["val_loss"] < r["val_curve"][0]["val_loss"]
    assert len(r["sft_losses"]) == 10 and r["sft_requests"] > 500
    assert len(r["before"]) == len(r["after"]) == 3 and all(r["after"])
    printed = capsys.readouterr().out
    assert "instruction tuning" in printed and "--- after:" in printed
    for d in ("base", "sft"):  # Hugging Face directories with the tokenizer and the template
        cfg = json.loads((tmp_path / d / "tokenizer_config.json").read_text())
        assert "<|im_start|>" in cfg["chat_template"] and (tmp_path / d / "tokenizer.json").exists()
    first = json.loads((tmp_path / "instructions.jsonl").read_text().splitlines()[0])
    assert [m["role"] for m in first["messages"]] == ["user", "assistant"]


def test_instruction_set_and_tokenizer():
    import llama_poems

    poems = [
        "《静夜思》\n床前明月光，疑是地上霜。\n举头望明月，低头思故乡。",
        "《长》\n" + "长" * 90,
    ]
    data = llama_poems.instructions(poems, max_chars=80)
    asks = [d["messages"][0]["content"] for d in data]
    assert asks == [
        "写一首题为《静夜思》的诗",
        "续写：床前明月光，疑是地上霜。",
        "写一首关于月的诗",
    ]
    assert data[1]["messages"][1]["content"] == "举头望明月，低头思故乡。"
    tok = llama_poems.char_tokenizer(poems)
    text = "<|im_start|>user\n床前明月光<|im_end|>\n"
    ids = tok.encode(text, add_special_tokens=False).ids
    assert len(ids) == 1 + 5 + 5 + 1 + 1  # one token per character, special tokens whole
    assert tok.decode(ids, skip_special_tokens=False) == text
