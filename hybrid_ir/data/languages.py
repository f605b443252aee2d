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


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: Every ISO 639-1 (two-letter) language code: the codes accepted in your own training data.
ISO_639_1_CODES: frozenset[str] = _codes("""
aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de dv dz
ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig ii ik
io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml
mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd
se sg si sk sl sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi
vo wa wo xh yi yo za zh zu
""")

#: Three-letter ISO 639-2/3 codes of languages without a two-letter code that multilingual
#: retrieval data uses (Wikipedia editions, MIRACL/Mr. TyDi relatives, FLORES).
ISO_639_3_CODES: frozenset[str] = _codes("""
ace ast ban bug ceb ckb fil gsw haw hsb ilo jbo kab lmo min mni nap nds nqo pam pap scn sco shn szl war
yue
""")

#: The language codes accepted as the first part of a language tag in your own data.
LANGUAGE_CODES: frozenset[str] = ISO_639_1_CODES | ISO_639_3_CODES


def normalise_language_code(code: str) -> str | None:
    """``code`` in the form the package uses (lower case, ``-`` between parts), or None when it is not
    a language tag whose first part is in :data:`LANGUAGE_CODES` (a region or script may follow).

    >>> normalise_language_code("EN"), normalise_language_code("pt_BR"), normalise_language_code("english")
    ('en', 'pt-br', None)
    """
    parts = code.strip().lower().replace("_", "-").split("-")
    if parts[0] not in LANGUAGE_CODES:
        return None
    if any(not part.isascii() or not part.isalnum() or len(part) > 8 for part in parts[1:]):
        return None
    return "-".join(parts)
