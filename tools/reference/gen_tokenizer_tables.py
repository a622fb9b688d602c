#!/usr/bin/env python3
"""Generates src/clip/tokenizer_tables.inc: the data tables the C tokenizer needs to
replicate the reference's text cleanup (open_clip's basic_clean = ftfy.fix_text, then
html.unescape twice) that are not Unicode character properties (those come from
utf8proc at run time).

Everything is read from the reference's own installed code, so the C side follows it
exactly, and checked where two sources must agree:

  html5_entities      Python's html.entities.html5 (WHATWG named character references;
                      names with and without the ';'), used by html.unescape
  ftfy_upper_entities ftfy's extra all-caps entities ("&EACUTE;" -> "É"), rebuilt with
                      ftfy's rule and checked equal to ftfy.chardata.HTML_ENTITIES
  html_invalid_ranges code points html.unescape turns into "" (html._invalid_codepoints)
  c1_to_cp1252        U+0080..U+009F as Windows-1252 (html._invalid_charrefs), checked
                      equal to ftfy's fix_c1_controls ("sloppy-windows-1252")
  ftfy_ligatures      ftfy.chardata.LIGATURES (fix_latin_ligatures)
  ftfy_control_ranges ftfy.chardata.CONTROL_CHARS (remove_control_chars) as ranges
  ftfy_single_quotes, ftfy_double_quotes   uncurl_quotes' character sets
  late_assigned       code points Python 3.11's unicodedata (Unicode 14.0, which str.lower,
                      str.isspace, unicodedata.normalize and re's \d use) leaves unassigned
                      but the regex module (newer Unicode data) assigns, with their regex
                      class: 0 letter, 1 number, 2 other. The reference treats them as
                      unassigned everywhere but in the pre-tokenizer; utf8proc 2.8 (Unicode
                      15.0) knows some of them, so the C code needs the list to do the same.
  cased_extra         characters that are Cased (Unicode Other_Lowercase/Other_Uppercase)
                      but neither Lu/Ll/Lt nor case-mapped, which utf8proc cannot tell;
                      found with Python's own Final_Sigma rule

Usage: tools/reference/gen_tokenizer_tables.py [--out src/clip/tokenizer_tables.inc]
"""
import argparse
import html
import html.entities
import os
import re

import unicodedata

import ftfy.chardata as cd
import regex
import ftfy.fixes as ff

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def c_str(s):
    """A C string literal holding the UTF-8 bytes of s."""
    out = []
    for b in s.encode("utf-8"):
        ch = chr(b)
        if ch in '"\\' or not 0x20 <= b < 0x7F or ch == "?":
            out.append(f"\\{b:03o}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def ranges(points):
    points = sorted(points)
    out = []
    for p in points:
        if out and out[-1][1] + 1 == p:
            out[-1][1] = p
        else:
            out.append([p, p])
    return out


def ftfy_upper_entities():
    """ftfy's rule: for each lowercase html5 name with ';' whose all-caps spelling is
    not itself decoded by html.unescape, decode the all-caps spelling too."""
    table = {}
    for name, char in html.entities.html5.items():
        if name.endswith(";") and name == name.lower():
            upper = "&" + name.upper()
            if html.unescape(upper) == upper:
                table[name.upper()] = char.upper()
    with_semicolon = {"&" + k: v for k, v in html.entities.html5.items() if k.endswith(";")}
    rebuilt = dict(with_semicolon, **{"&" + k: v for k, v in table.items()})
    assert rebuilt == cd.HTML_ENTITIES, "ftfy's entity rule changed"
    return table


def c1_table():
    out = []
    for b in range(0x80, 0xA0):
        via_html = html._invalid_charrefs[b]
        via_ftfy = ff._c1_fixer(re.match(".", chr(b), re.S))
        assert via_html == via_ftfy and len(via_html) == 1, hex(b)
        out.append(ord(via_html))
    return out


def quote_set(regex):
    chars = [c for c in range(0x10000) if regex.match(chr(c))]
    return ranges(chars)


def late_assigned():
    unassigned, letter, number = (regex.compile(p) for p in (r"\p{Cn}", r"\p{L}", r"\p{N}"))
    out = []
    for c in range(0x110000):
        ch = chr(c)
        if 0xD800 <= c <= 0xDFFF or unicodedata.category(ch) != "Cn" or unassigned.match(ch):
            continue
        k = 0 if letter.match(ch) else 1 if number.match(ch) else 2
        if out and out[-1][1] + 1 == c and out[-1][2] == k:
            out[-1][1] = c
        else:
            out.append([c, c, k])
    return out


def cased_extra():
    """Cased per CPython's Final_Sigma test ("cased" then Σ at the end lowers to ς; a case-
    ignorable character would be skipped, so 'A' + c + Σ must not), minus what utf8proc's
    categories and case mappings already say."""
    out = []
    for c in range(0x110000):
        ch = chr(c)
        if 0xD800 <= c <= 0xDFFF or unicodedata.category(ch) in ("Lu", "Ll", "Lt", "Cn"):
            continue
        if ch.lower() != ch or ch.upper() != ch:
            continue
        if (ch + "\u03a3").lower()[-1] == "\u03c2":
            out.append(c)
    return ranges(out)


def emit_pairs(lines, name, items):
    lines.append(f"static const clip_str_pair {name}[] = {{")
    for k, v in sorted(items, key=lambda kv: kv[0].encode()):
        lines.append(f"    {{{c_str(k)}, {c_str(v)}}},")
    lines.append("};")


def emit_ranges(lines, name, rs):
    lines.append(f"static const clip_cp_range {name}[] = {{")
    for lo, hi in rs:
        lines.append(f"    {{0x{lo:04X}, 0x{hi:04X}}},")
    lines.append("};")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "src", "clip", "tokenizer_tables.inc"))
    args = ap.parse_args()

    lines = ["/* Generated by tools/reference/gen_tokenizer_tables.py from Python's html",
             " * module and ftfy (the reference's own tables). Do not edit; regenerate. */", ""]
    emit_pairs(lines, "html5_entities", html.entities.html5.items())
    emit_pairs(lines, "ftfy_upper_entities", ftfy_upper_entities().items())
    emit_ranges(lines, "html_invalid_ranges", ranges(html._invalid_codepoints))
    lines.append("static const int32_t c1_to_cp1252[32] = {")
    c1 = c1_table()
    for i in range(0, 32, 8):
        lines.append("    " + " ".join(f"0x{c:04X}," for c in c1[i:i + 8]))
    lines.append("};")
    lines.append("static const clip_cp_str ftfy_ligatures[] = {")
    for k, v in sorted(cd.LIGATURES.items()):
        lines.append(f"    {{0x{k:04X}, {c_str(v)}}},")
    lines.append("};")
    emit_ranges(lines, "ftfy_control_ranges", ranges(cd.CONTROL_CHARS))
    emit_ranges(lines, "ftfy_single_quotes", quote_set(cd.SINGLE_QUOTE_RE))
    emit_ranges(lines, "ftfy_double_quotes", quote_set(cd.DOUBLE_QUOTE_RE))
    lines.append("static const struct late_range { int32_t lo, hi, cls; } late_assigned[] = {")
    for lo, hi, k in late_assigned():
        lines.append(f"    {{0x{lo:04X}, 0x{hi:04X}, {k}}},")
    lines.append("};")
    emit_ranges(lines, "cased_extra", cased_extra())
    with open(args.out, "w", encoding="ascii") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
