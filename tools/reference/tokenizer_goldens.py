#!/usr/bin/env python3
"""Writes the tokenizer goldens: inputs with the reference token ids, for tests/unit/test_tokenizer.c.

The reference is open_clip's SimpleTokenizer (OpenAI's CLIP tokenizer) with ftfy installed,
called as open_clip.tokenize(text) with context length 77. Inputs are byte strings; the
reference sees them decoded with bytes.decode("utf-8", "replace"), which is how the C
tokenizer reads invalid UTF-8 (each bad sequence -> U+FFFD).

Cases: a fixed-seed random mix of many kinds of text (English, punctuation, digits, emoji,
accents, CJK, other scripts, HTML entities, curly quotes, ligatures, fullwidth forms, control
characters, invalid UTF-8, very long, empty, whitespace) plus hand-picked edge cases.

Output (tests/fixtures/tokenizer/goldens.tsv), one case per line, tab-separated:
  tag  kind  input  reference_ids  expected_ids  hf_slow_ids  hf_fast_ids
  tag       '=' the C tokenizer must give the reference ids (any other tag: a documented
            difference, and the C tokenizer must give expected_ids)
            'M' ftfy's mojibake repair (fix_encoding, not replicated) changed the text:
                expected = the reference with TextFixerConfig(fix_encoding=False)
            'C' over the C tokenizer's cap on ftfy rounds (TK_FTFY_MAX_ROUNDS):
                expected = the reference with ftfy's fix loop stopped after that many rounds
            'R' a run longer than CLIP_TOKENIZER_MAX_RUN characters without space/newline:
                expected = the reference on the text with a space after each full run
  kind      the generator that made the case (for counting)
  input     comma-separated parts, each HEX or HEX*COUNT (the bytes repeated COUNT times)
  *_ids     space-separated ids ("=" in expected_ids: same as the reference)
  hf_*      transformers' CLIPTokenizer / CLIPTokenizerFast on the same decoded text with
            truncation to 77 (recorded to document where Hugging Face differs; not tested)

Usage: tools/reference/tokenizer_goldens.py [--out FILE] [--all-codepoints FILE]
  --all-codepoints writes instead one case per Unicode code point (1.1M cases, not committed)
  for an exhaustive one-off check: IRIS_TOKENIZER_GOLDENS=FILE build/tests/test_tokenizer
"""
import argparse
import html
import importlib.util
import os
import random
import sys
import types

import ftfy

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OPEN_CLIP_TOKENIZER = os.path.join(ROOT, ".venv", "lib", "python3.11", "site-packages",
                                   "open_clip", "tokenizer.py")
MODEL = os.path.join(ROOT, "models", "tiny-clip")
CONTEXT = 77
FTFY_MAX_ROUNDS = 16   # TK_FTFY_MAX_ROUNDS in src/clip/tokenizer_clean.h
MAX_RUN = 65536        # CLIP_TOKENIZER_MAX_RUN in src/clip/tokenizer.h
SEED = 20240601


def load_reference():
    spec = importlib.util.spec_from_file_location("open_clip_tokenizer", OPEN_CLIP_TOKENIZER)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod, mod.SimpleTokenizer()


REF_MOD, REF = load_reference()


def reference_ids(text, fix_text=None):
    """open_clip.tokenize(text)[0] without the padding, optionally with another fix_text."""
    if fix_text is not None:
        saved = REF_MOD.ftfy
        REF_MOD.ftfy = types.SimpleNamespace(fix_text=fix_text)
    try:
        content = REF.encode(text)
        row = REF(text, context_length=CONTEXT)[0].tolist()
    finally:
        if fix_text is not None:
            REF_MOD.ftfy = saved
    n = min(len(content) + 2, CONTEXT)
    assert row[n:] == [0] * (CONTEXT - n)
    return row[:n]


def fix_text_no_mojibake(text):
    return ftfy.fix_text(text, ftfy.TextFixerConfig(fix_encoding=False))


def fix_text_capped(text):
    """ftfy.fix_text with its per-segment fix loop stopped after FTFY_MAX_ROUNDS rounds."""
    saved = ftfy.fix_and_explain

    def capped(segment, config=None, **kw):
        for _ in range(FTFY_MAX_ROUNDS):
            cfg = (config or ftfy.TextFixerConfig())._replace(explain=False)
            if cfg.unescape_html == "auto" and "<" in segment:
                cfg = cfg._replace(unescape_html=False)
            fixed = one_round(segment, cfg)
            if fixed == segment:
                break
            segment = fixed
        return ftfy.ExplainedText(segment, None)

    ftfy.fix_and_explain = capped
    try:
        return ftfy.fix_text(text, ftfy.TextFixerConfig(fix_encoding=False))
    finally:
        ftfy.fix_and_explain = saved


def one_round(text, cfg):
    """One pass of ftfy's fix_and_explain loop (without fix_encoding)."""
    import unicodedata
    text = ftfy._try_fix("unescape_html", text, cfg, None)
    for fixer in ["fix_c1_controls", "fix_latin_ligatures", "fix_character_width", "uncurl_quotes",
                  "fix_line_breaks", "fix_surrogates", "remove_terminal_escapes",
                  "remove_control_chars"]:
        text = ftfy._try_fix(fixer, text, cfg, None)
    return unicodedata.normalize(cfg.normalization, text)


def with_run_cuts(text):
    """The text with a space inserted after every MAX_RUN characters of a run."""
    out, run = [], 0
    for ch in text:
        out.append(ch)
        run = 0 if ch in " \n" else run + 1
        if run == MAX_RUN:
            out.append(" ")
            run = 0
    return "".join(out)


def longest_run(text):
    best = run = 0
    for ch in text:
        run = 0 if ch in " \n" else run + 1
        best = max(best, run)
    return best


# ---------------------------------------------------------------- case generators

WORDS = ("a photo of the cat dog sitting on red blue green car street night city "
         "beautiful sunset over mountains lake people walking park bicycle diagram chart "
         "screenshot error message login page table with two cups coffee morning light "
         "portrait woman man child smiling holding umbrella rain snowy forest path bridge "
         "river boat harbour airplane sky clouds tree flower garden kitchen window door "
         "book reading laptop keyboard mouse phone screen menu button settings invoice "
         "receipt total amount date address manual figure section chapter page index "
         "it's don't can't won't they're we've i'm you'll she'd O'Neil rock'n'roll").split()
PUNCT = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") + ["...", "--", "?!", ":)", "<3", "->"]


def gen_english(r):
    words = [r.choice(WORDS) for _ in range(r.randint(1, 14))]
    if r.random() < 0.5:
        words[0] = words[0].capitalize()
    if r.random() < 0.2:
        words = [w.upper() for w in words]
    s = " ".join(words)
    return s + r.choice(["", ".", "!", "?", " ...", ","])


def gen_punct(r):
    parts = []
    for _ in range(r.randint(1, 10)):
        parts.append(r.choice(PUNCT + [r.choice(WORDS)]))
    return r.choice(["", " "]).join(parts)


def gen_digits(r):
    forms = [lambda: str(r.randint(0, 10 ** r.randint(1, 12))),
             lambda: f"{r.uniform(-1000, 1000):.{r.randint(0, 4)}f}",
             lambda: f"{r.randint(1, 31)}/{r.randint(1, 12)}/{r.randint(1900, 2099)}",
             lambda: f"+{r.randint(1, 99)} {r.randint(100, 999)}-{r.randint(1000, 9999)}",
             lambda: f"{r.randint(1, 100)}{r.choice(['st', 'nd', 'rd', 'th', '%', 'km', 'px'])}",
             lambda: f"{r.randint(1, 999):,}{r.choice(['', ',000', '.5'])}",
             lambda: "".join(chr(r.choice([0x660, 0x6F0, 0x966, 0xFF10, 0x2460, 0x2160, 0xBC, 0xB2])
                                 + r.randint(0, 9)) for _ in range(r.randint(1, 5)))]
    return " ".join(r.choice(forms)() for _ in range(r.randint(1, 5)))


EMOJI = [0x1F600, 0x1F602, 0x1F60D, 0x1F622, 0x1F44D, 0x1F389, 0x2764, 0x1F525, 0x1F4F7,
         0x1F431, 0x1F436, 0x1F30D, 0x2600, 0x26A1, 0x1F680, 0x1F9D1, 0x1F3FB, 0x1F3FD]


def gen_emoji(r):
    out = []
    for _ in range(r.randint(1, 8)):
        k = r.random()
        if k < 0.4:
            out.append(chr(r.choice(EMOJI)))
        elif k < 0.55:
            out.append(chr(r.randint(0x1F300, 0x1FAFF)))
        elif k < 0.65:
            out.append(chr(0x1F1E6 + r.randint(0, 25)) + chr(0x1F1E6 + r.randint(0, 25)))
        elif k < 0.75:
            out.append("\U0001F468\u200D\U0001F469\u200D\U0001F467")
        elif k < 0.85:
            out.append(chr(r.choice(EMOJI)) + "\uFE0F")
        else:
            out.append(r.choice(WORDS))
    return r.choice(["", " "]).join(out)


def gen_accents(r):
    import unicodedata
    letters = [chr(c) for c in list(range(0xC0, 0x250)) if chr(c).isalpha()]
    word = "".join(r.choice(letters + list("aeiouncs")) for _ in range(r.randint(1, 10)))
    k = r.random()
    if k < 0.3:
        word = unicodedata.normalize("NFD", word)
    elif k < 0.5:  # stacked combining marks in arbitrary order
        word = "".join(ch + "".join(chr(r.choice([0x300, 0x301, 0x308, 0x323, 0x327, 0x31B, 0x345,
                                                   0x334, 0x35C, 0x302]))
                                    for _ in range(r.randint(0, 3))) for ch in word)
    return " ".join([word] + [r.choice(WORDS) for _ in range(r.randint(0, 3))])


def gen_cjk(r):
    k = r.random()
    n = r.randint(1, 20)
    if k < 0.35:
        s = "".join(chr(r.randint(0x4E00, 0x9FFF)) for _ in range(n))
    elif k < 0.55:
        s = "".join(chr(r.choice([r.randint(0x3041, 0x3096), r.randint(0x30A1, 0x30FA)])) for _ in range(n))
    elif k < 0.65:
        s = "".join(chr(r.randint(0xFF66, 0xFF9F)) for _ in range(n))  # halfwidth katakana
    elif k < 0.85:
        s = "".join(chr(r.randint(0xAC00, 0xD7A3)) for _ in range(n))
    else:  # conjoining jamo, composed by NFC
        s = "".join(chr(0x1100 + r.randint(0, 18)) + chr(0x1161 + r.randint(0, 20))
                    + (chr(0x11A8 + r.randint(0, 26)) if r.random() < 0.5 else "") for _ in range(n))
    if r.random() < 0.3:
        s += r.choice(["。", "、", "！", "？", "「引用」", " 2024年", " photo"])
    return s


SCRIPTS = [(0x0400, 0x04FF), (0x0370, 0x03FF), (0x0600, 0x06FF), (0x05D0, 0x05EA), (0x0900, 0x097F),
           (0x0E01, 0x0E5B), (0x10A0, 0x10FF), (0x0530, 0x058F), (0x1E00, 0x1EFF), (0x0980, 0x09FF)]


def gen_scripts(r):
    out = []
    for _ in range(r.randint(1, 6)):
        if r.random() < 0.3:
            out.append(r.choice(WORDS))
            continue
        lo, hi = r.choice(SCRIPTS)
        out.append("".join(chr(r.randint(lo, hi)) for _ in range(r.randint(1, 9))))
    s = r.choice([" ", "", "-"]).join(out)
    if r.random() < 0.3:  # Greek capital sigma in various contexts (final sigma)
        s = r.choice(["ΟΔΟΣ", "ΣΑΣ", "Σ", "ΑΣ.", "ΑΣ'Β", "aΣ\u0301", "ΑΣ\u00ad", "ΌΣΟΣ ΣΙ", "ªΣ"]) + " " + s
    return s


ENTITIES = ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&nbsp;", "&eacute;", "&EACUTE;", "&Eacute;",
            "&copy;", "&copy", "&amp", "&ampx", "&notin;", "&notit;", "&hellip;", "&mdash;", "&#233;",
            "&#xE9;", "&#X1F600;", "&#128512;", "&#0;", "&#128;", "&#x92;", "&#59;", "&#13;", "&#x1F;",
            "&#xD800;", "&#1114112;", "&#99999999999;", "&amp;amp;", "&amp;lt;", "&amp;#233;",
            "&SZLIG;", "&NTILDE;", "&nTILDE;", "&Jscr;", "&HilbertSpace;", "&bogus;", "&;", "&#;",
            "&#x;", "&#12a;", "&lt", "&LT", "&LTx", "&ltx;", "&frac12;", "&fjlig;", "&nbsp", "＆ａｍｐ；",
            "&#65279;", "&#x2019;", "&#xFB01;", "&#768;", "&zwj;", "&ThinSpace;", "&#x3000;"]


def gen_entities(r):
    parts = []
    for _ in range(r.randint(1, 6)):
        parts.append(r.choice(ENTITIES) if r.random() < 0.6 else r.choice(WORDS))
    s = r.choice(["", " "]).join(parts)
    if r.random() < 0.2:
        s = r.choice(["<b>", "a<b ", "x\n<p>", "<"]) + s  # '<' turns ftfy's own unescaping off
    if r.random() < 0.1:
        s = s + "\n<br>"
    return s


def gen_quotes(r):
    q = ["\u2018", "\u2019", "\u201a", "\u201b", "\u201c", "\u201d", "\u201e", "\u201f", "\u02bc",
         "\u00ab", "\u00bb", "'", '"']
    return " ".join(r.choice(["it\u2019s", "don\u2019t", "\u201chello\u201d", "I\u02bcLL", "rock\u2019n\u2019roll",
                              r.choice(q) + r.choice(WORDS) + r.choice(q), "we\u2019re", "they\u2019VE"])
                    for _ in range(r.randint(1, 6)))


def gen_ligatures(r):
    ligs = ["\ufb00", "\ufb01", "\ufb02", "\ufb03", "\ufb04", "\ufb05", "\ufb06", "\u0132", "\u0133", "\u0149",
            "\u01c4", "\u01c5", "\u01c6", "\u01c7", "\u01c8", "\u01c9", "\u01ca", "\u01cb", "\u01cc", "\u01f1",
            "\u01f2", "\u01f3", "\u00e6", "\u0153", "\ufb13"]
    return " ".join(r.choice(WORDS)[:3] + r.choice(ligs) + r.choice(WORDS)[:3] for _ in range(r.randint(1, 5)))


def gen_fullwidth(r):
    s = "".join(chr(r.randint(0xFF01, 0xFFEF)) if r.random() < 0.7 else r.choice(" \u3000a1")
                for _ in range(r.randint(1, 16)))
    return s


CONTROLS = ["\x00", "\x01", "\x07", "\x08", "\t", "\n", "\x0b", "\x0c", "\r", "\r\n", "\x1b", "\x1b[31m",
            "\x1b[0;1;32mX", "\x1b[\u0663m", "\x1c", "\x1f", "\x7f", "\x80", "\x81", "\x85", "\x92", "\x9d",
            "\x9f", "\xa0", "\xad", "\u200b", "\u200c", "\u200d", "\u200e", "\u2028", "\u2029", "\u202e",
            "\u2060", "\u206a", "\ufeff", "\ufff9", "\ufffc", "\ufffd", "\U000E0001", "\u180e", "\u3000",
            "\u2003", "\u1680", "\u0085"]


def gen_controls(r):
    return "".join(r.choice(CONTROLS) if r.random() < 0.5 else r.choice(WORDS) + r.choice(["", " "])
                   for _ in range(r.randint(1, 10)))


def gen_invalid_bytes(r):
    pieces = [b"\x80", b"\xbf", b"\xc0\xaf", b"\xc1\x81", b"\xc2", b"\xe2\x82", b"\xe0\x80\xaf",
              b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xf0\x9f\x98", b"\xf0\x80\x80\x80", b"\xf4\x90\x80\x80",
              b"\xf5\x80", b"\xfe", b"\xff", b"\xf8\x88\x80\x80\x80", b"\xc3\xa9", b"\xe2\x80\x99",
              "😀".encode(), b"\xe2\x28\xa1", b"\xf0\x28\x8c\xbc"]
    out = b""
    for _ in range(r.randint(1, 8)):
        k = r.random()
        if k < 0.4:
            out += r.choice(pieces)
        elif k < 0.6:
            out += bytes(r.randint(0, 255) for _ in range(r.randint(1, 6)))
        else:
            out += r.choice(WORDS).encode() + r.choice([b"", b" "])
    return out


def gen_random_unicode(r):
    def cp():
        k = r.random()
        if k < 0.5:
            c = r.randint(0x80, 0x2FFF)
        elif k < 0.8:
            c = r.randint(0x3000, 0xFFFF)
        else:
            c = r.randint(0x10000, 0x10FFFF)
        return chr(c) if not 0xD800 <= c <= 0xDFFF else "?"
    return "".join(cp() if r.random() < 0.6 else r.choice(" a1.") for _ in range(r.randint(1, 12)))


def gen_mojibake(r):
    word = r.choice(["café", "naïve", "Zürich", "don’t", "“quoted”", "résumé", "€100", "日本",
                     "piñata", "façade", "Ελλάδα", "😀 ok"])
    return word.encode("utf-8").decode(r.choice(["latin-1", "windows-1252"]), errors="replace") + \
        r.choice(["", " text", " " + r.choice(WORDS)])


def gen_long(r):
    k = r.random()
    if k < 0.4:
        return " ".join(r.choice(WORDS) for _ in range(r.randint(60, 200)))
    if k < 0.6:
        return "".join(r.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(r.randint(100, 600)))
    if k < 0.75:
        return "https://example.com/" + "/".join(r.choice(WORDS) for _ in range(r.randint(20, 60))) + "?q=1&x=2"
    if k < 0.9:
        return "".join(chr(r.choice(EMOJI)) for _ in range(r.randint(30, 120)))
    return "".join(chr(r.randint(0x4E00, 0x9FFF)) for _ in range(r.randint(80, 200)))


def gen_whitespace(r):
    spaces = [" ", "\t", "\n", "\r", "\x0b", "\x0c", "\xa0", "\u2000", "\u2009", "\u200a", "\u202f",
              "\u205f", "\u3000", "\x1c", "\x1d", "\x1e", "\x1f", "\x85", "\u2028"]
    s = "".join(r.choice(spaces) for _ in range(r.randint(0, 8)))
    return s if r.random() < 0.6 else s + r.choice(WORDS) + "".join(r.choice(spaces) for _ in range(3))


def gen_special(r):
    return r.choice(["<start_of_text>", "<end_of_text>", "<|startoftext|>", "<|endoftext|>",
                     "<START_OF_TEXT>", "<\u017ftart_of_text>", "!<end_of_text>", "a<end_of_text>b",
                     "<start_of_text><end_of_text>", "<start_of_tex", "x '\u017f '\u017fS 'S"]) + \
        r.choice(["", " " + r.choice(WORDS)])


GENERATORS = [("english", gen_english, 400), ("punct", gen_punct, 150), ("digits", gen_digits, 150),
              ("emoji", gen_emoji, 150), ("accents", gen_accents, 200), ("cjk", gen_cjk, 200),
              ("scripts", gen_scripts, 200), ("entities", gen_entities, 250), ("quotes", gen_quotes, 80),
              ("ligatures", gen_ligatures, 80), ("fullwidth", gen_fullwidth, 100),
              ("controls", gen_controls, 150), ("invalid_utf8", gen_invalid_bytes, 200),
              ("random_unicode", gen_random_unicode, 250), ("mojibake", gen_mojibake, 60),
              ("long", gen_long, 60), ("whitespace", gen_whitespace, 60), ("special", gen_special, 40)]


def hand_picked():
    """(kind, input parts) with parts a list of (bytes, count)."""
    one = lambda s: [(s.encode() if isinstance(s, str) else s, 1)]
    cases = [one(s) for s in [
        "Hello World!", "", " ", "a", "A", "I", "İstanbul", "İ", "ΣΑΣ ΟΔΟΣ", "a photo of a cat",
        "it's", "IT'S", "it'", "'s", "''s", "x!'s", "don't stop", "O'Neil's", "&", "&&", "&amp;amp;amp;",
        "&lt;script&gt;alert(1)&lt;/script&gt;", "a < b &amp; c", "x &amp; y\nz < w &amp; v", "\u0345",
        "a\u0345b", "\u1fb3", "ß", "ẞ", "ǅ", "ﬁne", "Ⅻ", "ⓐⒶ", "Kelvin \u212a", "Å", "\u212b",
        "e\u0301", "\u1e9b\u0323", "\u0958", "\ufb2c", "가", "\u1100\u1161\u11a8", "\u0f73", "\U0001d15e",
        "👩‍👩‍👧‍👦", "🇫🇷🇩🇪", "1234567890", "3.14159", "½ ² ³", "\x00", "\x00abc\x00",
        "\x1b[1;31mred\x1b[0m", "\r\n\r\n", "\ufeffbom", "ab\u00adcd", "\U000E0067\U000E0062",
        "&#x1F600;", "&#128512;&#128512;", "&EACUTE;COLE", "P&EACUTE;REZ", "&#59;", "&#x3B;",
        "&#9999999999999999999999;", "&notin", "&notit;", "&ampamp;", "&lt=", "&gt\u00e9",
        "\u3000\u3000\u3000", "　ｆｕｌｌ　ｗｉｄｔｈ　", "ｶﾞｷﾞ", "\u2028line\u2029para\u0085nel",
        "Ã©", "â€™", "Ã¼ber", "\x80\x81\x82", "\x9d", "<start_of_text>", "< start_of_text >",
        "a" * 300, "ab" * 200, "😀" * 100, "!" * 300, "1" * 200, "x " * 200, "word " * 100,
        "\U0002EBF0\U0002EBF1a", "\U00011F50", "\U0001E4F0a", "\u0d81", "\U00031350",
        "Ǆemal", "ǅemal", "ǆemal"]]
    cases += [[(b"\xff\xfe\xfd", 1)], [(b"\xc3", 1)], [(b"a\xe2\x82\xacb\xe2\x82", 1)],
              [(b"\xf0\x9f\x98\x80\xf0\x9f\x98", 1)], [(b"\xed\xa0\x80\xed\xb0\x80", 1)],
              [(b"\xe0\x9f\xbf", 1)], [(b"\xf4\x8f\xbf\xbf", 1)], [(b"\xc0\x80", 1)]]
    # Long and hostile inputs the reference still handles in seconds.
    cases += [[(b"e", 5000)],
              [("&amp;".encode(), 1), (b"amp;", 10)],                       # 11 levels: exact
              [("&amp;".encode(), 1), (b"amp;", 40)],                       # over the round cap
              [(b"x ", 5000), (b"tail", 1)],
              [(b"\x01", 65534), (b"hello", 1)],                            # run cut inside "hello"
              [(b" ", 999999), ("e\u0301x".encode(), 1)],                   # ftfy segment boundary
              [(b"\x01 ", 600000), ("ﬁne &amp;amp; day".encode(), 1)],      # > 1M characters
              [(b"a", 70000)],                                              # one 70000-letter word
              [("é".encode(), 1), ("\u0301".encode(), 70000)],              # 70000 combining marks
              [("\u0301".encode(), 20000), (b"b", 1)]]
    return [("hand", c) for c in cases]


def expand(parts):
    return b"".join(b * n for b, n in parts)


def encode_parts(parts):
    return ",".join(b.hex() + (f"*{n}" if n != 1 else "") for b, n in parts)


def ids_str(ids):
    return " ".join(map(str, ids))


def hf_tokenizers():
    from transformers import CLIPTokenizer, CLIPTokenizerFast
    vj, mt = os.path.join(MODEL, "vocab.json"), os.path.join(MODEL, "merges.txt")
    return CLIPTokenizer(vocab_file=vj, merges_file=mt), CLIPTokenizerFast(vocab_file=vj, merges_file=mt)


def hf_ids(tok, text):
    if len(text) > 200000:
        return "skip"
    try:
        return ids_str(tok(text, truncation=True, max_length=CONTEXT)["input_ids"])
    except Exception as e:  # record, do not fail: HF is documented, not tested
        return "error:" + type(e).__name__


def case_line(kind, parts, hf):
    text = expand(parts).decode("utf-8", "replace")
    ref = reference_ids(text)
    plain = reference_ids(text, fix_text_no_mojibake)
    capped = reference_ids(text, fix_text_capped)
    tag, exp = "=", ref
    if longest_run(text) > MAX_RUN:
        tag, exp = "R", reference_ids(with_run_cuts(text), fix_text_capped)
    elif capped != plain:
        tag, exp = "C", capped
    elif plain != ref:
        tag, exp = "M", plain
    if exp == ref:
        tag = "="
    exp_s = "=" if exp == ref else ids_str(exp)
    slow, fast = (hf_ids(hf[0], text), hf_ids(hf[1], text)) if hf else ("skip", "skip")
    return "\t".join([tag, kind, encode_parts(parts), ids_str(ref), exp_s, slow, fast])


def all_codepoints(path):
    with open(path, "w") as f:
        f.write("# one case per code point: x{c}y {c}1 aΣ{c} a{c}Σ {c}{c}\n")
        for c in range(0x110000):
            if 0xD800 <= c <= 0xDFFF:
                continue
            ch = chr(c)
            parts = [(f"x{ch}y {ch}1 a\u03a3{ch} a{ch}\u03a3 {ch}{ch}".encode(), 1)]
            f.write(case_line("codepoint", parts, None) + "\n")
            if c % 65536 == 0:
                print(f"U+{c:04X}", file=sys.stderr)


def summary(path):
    """Per kind: cases, documented C differences, HF slow / fast differences from the reference."""
    rows = {}
    for line in open(path, encoding="utf-8"):
        if line.startswith("#"):
            continue
        tag, kind, _, ref, _, slow, fast = line.rstrip("\n").split("\t")
        r = rows.setdefault(kind, [0, 0, 0, 0, 0])
        r[0] += 1
        r[1] += tag != "="
        r[2] += slow != "skip" and slow != ref
        r[3] += fast != "skip" and fast != ref
        r[4] += slow == "skip"
    print(f"{'kind':15} {'cases':>5} {'C != ref':>8} {'HF slow':>7} {'HF fast':>7} {'HF skipped':>10}")
    for kind, r in rows.items():
        print(f"{kind:15} {r[0]:5} {r[1]:8} {r[2]:7} {r[3]:7} {r[4]:10}")
    t = [sum(r[i] for r in rows.values()) for i in range(5)]
    print(f"{'total':15} {t[0]:5} {t[1]:8} {t[2]:7} {t[3]:7} {t[4]:10}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures", "tokenizer", "goldens.tsv"))
    ap.add_argument("--all-codepoints", metavar="FILE")
    ap.add_argument("--summary", action="store_true",
                    help="count, per kind, where Hugging Face differs from the reference in --out")
    args = ap.parse_args()
    if args.summary:
        summary(args.out)
        return
    if args.all_codepoints:
        all_codepoints(args.all_codepoints)
        return
    r = random.Random(SEED)
    cases = hand_picked()
    for kind, gen, count in GENERATORS:
        for _ in range(count):
            s = gen(r)
            cases.append((kind, [(s if isinstance(s, bytes) else s.encode("utf-8"), 1)]))
    hf = hf_tokenizers()
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    tags = {}
    with open(args.out, "w") as f:
        f.write("# CLIP tokenizer goldens: written by tools/reference/tokenizer_goldens.py; "
                "columns in its docstring\n")
        for kind, parts in cases:
            line = case_line(kind, parts, hf)
            tags[line[0]] = tags.get(line[0], 0) + 1
            f.write(line + "\n")
    print(f"wrote {args.out}: {len(cases)} cases, tags {tags}")


if __name__ == "__main__":
    main()
