"""Advisory screening: flags that tell a moderator why a comment may need care.

Screening never approves or rejects. It reads the text (and the author's own earlier
comments) and records a `comment.screened` event with its flags and a risk score.
"""

from ..domain.guidelines import CATALOGUE

# Every code a flag can carry: the rules' own, and the guideline a listed word belongs to.
RULE_FLAGS = ("threat_phrase", "email_address", "link", "phone_number", "shouting",
              "repeated_text", "first_comment")
FLAG_CODES: tuple[str, ...] = RULE_FLAGS + tuple(c for c in CATALOGUE.codes
                                                 if c not in RULE_FLAGS)
