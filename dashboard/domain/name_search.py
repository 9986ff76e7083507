"""A buyer-name search as typed: its words, each the start of some word of the name."""

from __future__ import annotations

import re
import unicodedata

# Letters and digits; anything else (spaces, punctuation, "_") separates words, as it
# does in the names the search indexes hold (O'Brien-Hopper is o, brien, hopper).
_WORD = re.compile(r"[^\W_]+")
# A name has a few words; more typed would only make each search dearer.
MAX_NAME_WORDS = 8


class TooManyWords(ValueError):
    """More words than a name search takes; the message says so, for people."""


def name_words(text: str) -> list[str]:
    """The words of `text`, each once (compared in any case), in the order typed.

    Full-width and other compatibility forms are read as their plain letters (NFKC), as
    the email search reads them; case and accents are left to the index, which ignores
    both."""
    words: dict[str, str] = {}
    for word in _WORD.findall(unicodedata.normalize("NFKC", text)):
        words.setdefault(word.casefold(), word)
    return list(words.values())


def search_words(text: str) -> list[str]:
    """name_words, at most MAX_NAME_WORDS of them; TooManyWords if there are more."""
    words = name_words(text)
    if len(words) > MAX_NAME_WORDS:
        raise TooManyWords(
            f"A search takes at most {MAX_NAME_WORDS} words of a name; this one has {len(words)}."
        )
    return words


def fts5_query(words: list[str]) -> str:
    """SQLite FTS5: every word as the start of some word, in any order (`"ada"* "lov"*`).

    Quoted, so no word is read as an operator (AND, NEAR); a word holds no quote."""
    return " ".join(f'"{word}"*' for word in words)


def tsquery(words: list[str]) -> str:
    """PostgreSQL: the same, as `to_tsquery` text (`'ada':* & 'lov':*`)."""
    return " & ".join(f"'{word}':*" for word in words)
