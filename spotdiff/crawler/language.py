"""A page's language: its `<html lang>`, else detected from its visible text (offline)."""

from __future__ import annotations

import threading

from langdetect import DetectorFactory, LangDetectException, detect

UNKNOWN = "und"
_lock = threading.Lock()


def primary_subtag(lang: str) -> str:
    """'en-US' → 'en', 'zh_Hant' → 'zh'; '' when not a language tag."""
    head = lang.strip().replace("_", "-").split("-", 1)[0].lower()
    return head if head.isalpha() and 2 <= len(head) <= 3 else ""


def detect_language(text: str, min_chars: int = 20) -> str:
    text = " ".join(text.split())[:3000]
    if len(text) < min_chars:
        return UNKNOWN
    with _lock:
        DetectorFactory.seed = 0  # langdetect samples at random; a fixed seed makes it repeatable
        try:
            return primary_subtag(detect(text)) or UNKNOWN
        except LangDetectException:
            return UNKNOWN


def page_language(html_lang: str, text: str) -> tuple[str, str]:
    """(language, how it was found: 'html' | 'detected')."""
    declared = primary_subtag(html_lang)
    if declared:
        return declared, "html"
    return detect_language(text), "detected"
