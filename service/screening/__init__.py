"""Advisory screening: flags that tell a moderator why a comment may need care.

Screening never approves or rejects. It reads the text (and the author's own earlier
comments) and records a `comment.screened` event with its flags and a risk score.
"""
