"""R11 prohibited content: is a message body about alcohol, firearms, gambling, tobacco or adult
content — also when spelt to slip past a filter (`g@mbling`, `c.a.s.i.n.o`, `fr33 b33r`)?

Pure: plain values in, plain values out (no ORM, no settings, no clock). The terms are data
(`Policy.PROHIBITED_TERMS`); this module only decides what counts as "the body says <term>".

The rule, in order:

1. **Normalise each character** (keeping, for each, where it came from in the body, so the
   match is shown as the user wrote it): Unicode NFKD (fullwidth `ｃａｓｉｎｏ`, ligatures,
   mathematical letters → plain letters), accents and other combining marks dropped (`vódka`),
   invisible format characters dropped (zero-width space, soft hyphen: `cas\u200bino`),
   Cyrillic/Greek look-alikes mapped to the Latin letter they imitate (`cаsino` with a
   Cyrillic а, `αmmo`), then case-folded.
2. **Words** are maximal runs of letters, digits and the leetspeak symbols `@ $ ! |`; anything
   else separates words (spaces, `.`, `-`, `'`, `/`…). So a hyphenated compound is two words:
   `wine-colored`, `alcohol-free` and `gun-show` all contain the word wine/alcohol/gun and
   match — the same as `wine red` or `alcohol free` written with a space would. A word with
   `@` inside is also read as its parts (`bob@beer.com` → `bob`, `beer`).
3. **Whole-word match**: a word matches a term when the *whole word* is the term, or the term
   plus a common English inflection: `s es ing ed er ers`, a doubled final consonant before
   `ing ed er ers` (`gunned`), and for terms ending in a single `e`, `d r rs` or the `e`
   replaced by `ing` (`vaped`, `vaping`). Words that merely *contain* a term do not match
   (the Scunthorpe problem): `Scunthorpe`, `begun`, `Gunther`, `winning`, `Pokémon`,
   `pokerface`, `Essex` (one x), and closed compounds such as `shotgun`, `winery`,
   `wineglass`. Compounds that should count are added to the term list, which is data.
   Multi-word terms in the data match consecutive words.
4. **Leetspeak**: inside a word, `@ 4`→a, `3`→e, `1 ! |`→i or l, `0`→o, `$ 5`→s, `7`→t,
   `8`→b (`V0DKA`, `wh1skey`, `$lots`, `c@$!no`). A word with no letter at all (`5107`,
   `$100`, `24/7`) is a number, not a word, and never matches. `!` or `|` around a word is
   punctuation (`beer!`).
5. **Stretching**: a letter written 3 or more times stands for the letter once or twice
   (`caaasino`, `beeeer`, `vaaape`). A letter written exactly twice is ordinary spelling and
   is read as written, so `Cassino` (the Italian town) is not `casino`, and `Essex` is not
   `xxx`. (`caasino` therefore passes: the price of not flagging real words.)
6. **Spelt-out words**: 3 or more consecutive one-character words (`c.a.s.i.n.o`,
   `g-a-m-b-l-i-n-g`, `c a s i n o`, `B E E R`) are also read joined, and a term anywhere in
   the joined letters matches. Separators are removed only between single characters, so
   `we can sit` is three words, not `wecansit`; `ca.si.no` (two-letter pieces) is not joined.

The first match in the body is returned, with its category, the policy's term, and the text as
it appears in the body.
"""

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from compliance.policy import Policy


@dataclass(frozen=True)
class ContentMatch:
    category: str
    term: str
    matched: str  # the text as it appears in the body


# Look-alikes, applied after NFKD and before case folding (so upper and lower case can differ:
# Greek Ν looks like N, ν like v).
HOMOGLYPHS = str.maketrans(
    {
        # Cyrillic
        "А": "a", "а": "a", "В": "b", "в": "b", "Е": "e", "е": "e", "Ё": "e", "ё": "e", "К": "k", "к": "k",
        "М": "m", "м": "m", "Н": "h", "н": "h", "О": "o", "о": "o", "Р": "p", "р": "p", "С": "c", "с": "c",
        "Т": "t", "т": "t", "У": "y", "у": "y", "Х": "x", "х": "x", "І": "i", "і": "i", "Ї": "i", "ї": "i",
        "Ј": "j", "ј": "j", "Ѕ": "s", "ѕ": "s", "Ԁ": "d", "ԁ": "d", "Ԛ": "q", "ԛ": "q", "Ԝ": "w", "ԝ": "w",
        "Ү": "y", "ү": "y", "Һ": "h", "һ": "h", "З": "3", "Ь": "b",
        # Greek
        "Α": "a", "α": "a", "Β": "b", "β": "b", "Ε": "e", "ε": "e", "Ζ": "z", "Η": "h", "η": "n", "Ι": "i",
        "ι": "i", "Κ": "k", "κ": "k", "Μ": "m", "Ν": "n", "ν": "v", "Ο": "o", "ο": "o", "Ρ": "p", "ρ": "p",
        "Τ": "t", "τ": "t", "Υ": "y", "υ": "u", "Χ": "x", "χ": "x", "ς": "s", "Ϲ": "c", "ϲ": "c",
        # Latin look-alikes NFKD leaves alone
        "ı": "i", "ɑ": "a", "ɡ": "g", "ſ": "s", "ℓ": "l", "ø": "o", "Ø": "o", "đ": "d", "Đ": "d", "ł": "l",
        "Ł": "l", "ħ": "h",
    }
)  # fmt: skip

LEET_SYMBOLS = "@$!|"
# letter → what may stand for it inside a word
LEET = {"a": "@4", "e": "3", "i": "1!|", "l": "1!|", "o": "0", "s": "$5", "t": "7", "b": "8"}
EDGE = "[!|]*"  # `beer!`, `|gun|`: punctuation around a word
SUFFIXES = ("s", "es", "ing", "ed", "er", "ers")
MIN_SPELT_OUT = 3


def _normalise(body: str) -> tuple[str, list[int]]:
    """The body per rule 1, and for each character of the result its index in the body."""
    out, origin = [], []
    for i, ch in enumerate(body):
        for part in unicodedata.normalize("NFKD", ch):
            if unicodedata.category(part) in ("Mn", "Me", "Cf"):
                continue
            for folded in part.translate(HOMOGLYPHS).casefold():
                out.append(folded)
                origin.append(i)
    return "".join(out), origin


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch in LEET_SYMBOLS


def _words(text: str) -> list[tuple[int, int]]:
    """Spans of the words of normalised text (rule 2)."""
    spans, start = [], None
    for j, ch in enumerate(text):
        if _is_word_char(ch):
            if start is None:
                start = j
        elif start is not None:
            spans.append((start, j))
            start = None
    if start is not None:
        spans.append((start, len(text)))
    return spans


def _has_letter(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


def _cls(letter: str) -> str:
    return "[" + re.escape(letter + LEET.get(letter, "")) + "]"


def _letters(word: str) -> str:
    """A word's letters, each also as its leetspeak, with stretching (rule 5)."""
    pattern = ""
    for run in re.finditer(r"(.)\1*", word):
        c, k = _cls(run.group(1)), len(run.group(0))
        pattern += f"(?:{c}{{{k}}}|{c}{{3,}})" if k < 3 else f"{c}{{{k},}}"
    return pattern


def _plain(text: str) -> str:
    return "".join(_cls(ch) for ch in text)


def _inflected(word: str) -> str:
    """The last word of a term with its inflections (rule 3)."""
    forms = [_letters(word) + "(?:" + "|".join(_plain(s) for s in SUFFIXES) + ")?"]
    last = word[-1]
    if last.isalpha() and last not in "aeiouy":
        forms.append(
            _letters(word) + _cls(last) + "(?:" + "|".join(_plain(s) for s in ("ing", "ed", "er", "ers")) + ")"
        )
    if word.endswith("e") and not word.endswith("ee") and len(word) > 2:
        forms.append(_letters(word[:-1]) + "(?:" + _plain("ing") + "|" + _plain("e") + "(?:[dr]|rs))")
    return "(?:" + "|".join(forms) + ")"


def _term_pattern(term: str) -> str:
    text = _normalise(term)[0]
    words = [text[s:e] for s, e in _words(text)]
    return " ".join([_letters(w) for w in words[:-1]] + [_inflected(words[-1])])


@lru_cache(maxsize=16)
def _compiled(terms: tuple[tuple[str, tuple[str, ...]], ...]):
    """(whole-word regex over space-joined words, unanchored regex for spelt-out letters, and
    group name → (category, term)). Longer terms first, so `guns` is reported over `gun`."""
    listed = [(cat, term) for cat, ts in terms for term in ts if term.strip()]
    listed.sort(key=lambda ct: -len(ct[1]))
    names = {f"t{i}": ct for i, ct in enumerate(listed)}
    alternatives = "|".join(f"(?P<{name}>{_term_pattern(term)})" for name, (_, term) in names.items())
    whole_word = re.compile(rf"(?<![^ ]){EDGE}(?:{alternatives}){EDGE}(?![^ ])")
    spelt_out = re.compile(f"(?:{alternatives})")
    return whole_word, spelt_out, names


def _found(match, names, origin_of, body):
    name = match.lastgroup
    start, end = match.span(name)
    category, term = names[name]
    return origin_of[start], ContentMatch(category, term, body[origin_of[start] : origin_of[end - 1] + 1])


def screen(body: str, policy: Policy) -> ContentMatch | None:
    """R11: the first prohibited term in `body`, or None (see the module docstring for the rule)."""
    if not body:
        return None
    terms = tuple((cat, tuple(ts)) for cat, ts in policy.PROHIBITED_TERMS.items())
    if not any(ts for _, ts in terms):
        return None
    whole_word, spelt_out, names = _compiled(terms)
    text, origin = _normalise(body)
    spans = _words(text)
    found = []

    # Rules 2-5: the words, joined by single spaces; origin_of maps each character to the body.
    joined, origin_of = [], []
    for start, end in spans:
        word = text[start:end]
        parts = [(start, end)]
        if "@" in word[1:-1]:
            parts += [(start + m.start(), start + m.end()) for m in re.finditer(r"[^@]+", word)]
        for s, e in parts:
            if _has_letter(text[s:e]):
                joined.append(text[s:e] + " ")
                origin_of += [origin[j] for j in range(s, e)] + [-1]
    match = whole_word.search("".join(joined))
    if match:
        found.append(_found(match, names, origin_of, body))

    # Rule 6: runs of one-character words, read joined.
    run = []
    for span in [*spans, None]:
        if span is not None and span[1] - span[0] == 1:
            run.append(span[0])
            continue
        letters = "".join(text[j] for j in run)
        if len(run) >= MIN_SPELT_OUT and _has_letter(letters):
            match = spelt_out.search(letters)
            if match:
                found.append(_found(match, names, [origin[j] for j in run], body))
        run = []

    return min(found, key=lambda f: f[0])[1] if found else None
