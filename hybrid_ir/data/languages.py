"""Facts about the evaluation languages used in tables and plots (names, family, script)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    code: str
    name: str
    family: str  # language family (branch for Indo-European)
    script: str


LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in (
        Language("ar", "Arabic", "Afro-Asiatic", "Arabic"),
        Language("de", "German", "Indo-European (Germanic)", "Latin"),
        Language("el", "Greek", "Indo-European (Hellenic)", "Greek"),
        Language("en", "English", "Indo-European (Germanic)", "Latin"),
        Language("es", "Spanish", "Indo-European (Romance)", "Latin"),
        Language("hi", "Hindi", "Indo-European (Indo-Aryan)", "Devanagari"),
        Language("ru", "Russian", "Indo-European (Slavic)", "Cyrillic"),
        Language("th", "Thai", "Kra-Dai", "Thai"),
        Language("tr", "Turkish", "Turkic", "Latin"),
        Language("vi", "Vietnamese", "Austroasiatic", "Latin"),
        Language("zh", "Chinese", "Sino-Tibetan", "Han"),
    )
}


#: Names of the other languages the book mentions (MIRACL's), kept apart from :data:`LANGUAGES`,
#: whose order fixes the colours of the evaluation languages in every figure.
OTHER_LANGUAGE_NAMES: dict[str, str] = {
    "bn": "Bengali", "fa": "Persian", "fi": "Finnish", "fr": "French", "id": "Indonesian",
    "ja": "Japanese", "ko": "Korean", "sw": "Swahili", "te": "Telugu", "yo": "Yoruba",
}


def language_name(code: str) -> str:
    """English name of a language code (the code itself when unknown).

    >>> language_name("de"), language_name("ko"), language_name("xx")
    ('German', 'Korean', 'xx')
    """
    lang = LANGUAGES.get(code)
    return lang.name if lang else OTHER_LANGUAGE_NAMES.get(code, code)
