"""Marshmallow schemas of the API: inputs (strict: unknown fields refused) and outputs.

Inputs check shape and types only; the content rules (lengths, allowed characters, reason
codes, state transitions) live in the domain, which answers with field-level errors too.
Timestamps are UTC ISO-8601; timestamps given as input must carry an offset ('Z' or
'+00:00'), a naive time is refused rather than guessed.
"""

from __future__ import annotations

from datetime import UTC, datetime

import marshmallow as ma
from marshmallow import fields, validate

from ..domain.article import ARTICLE_ID
from ..domain.events import ADMIN_ACTION_TYPES, EVENT_TYPES, CommentApproved, CommentRejected
from ..domain.guidelines import CATALOGUE
from ..screening import FLAG_CODES
from .text_patterns import EMAIL, NAME, OPTIONAL_EMAIL, OPTIONAL_TEXT, REQUIRED_TEXT, described

MAX_PAGE = 100
MAX_FEED_PAGE = 1000


class ErrorSchema(ma.Schema):
    """The body of every error response."""

    status = ma.fields.Integer(required=True, metadata={"description": "HTTP status code."})
    code = ma.fields.String(required=True, metadata={
        "description": "Stable snake_case error code, e.g. comment_not_found."})
    message = ma.fields.String(required=True,
                               metadata={"description": "A human-readable sentence."})
    errors = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.List(ma.fields.String()), required=True,
        metadata={"description": "Messages per field ('author.name', 'reasons.0', ...); "
                                 "empty when the error is not about a field."})
    request_id = ma.fields.String(required=True, metadata={
        "description": "The X-Request-ID of the request, for support and logs."})


class StrictSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE


MAX_POSITION = 2**63 - 1


class Timestamp(fields.AwareDateTime):
    """An ISO-8601 time with an offset, converted to UTC; naive times are refused."""

    default_error_messages = {  # noqa: RUF012 - marshmallow's own pattern
        "invalid": "Not a valid ISO 8601 time such as 2026-11-25T09:30:00Z; in a URL, "
                   "send a '+' offset as %2B (a bare + reads as a space).",
        "invalid_awareness": "The time needs an offset, such as Z or +03:00.",
    }

    def __init__(self, **kwargs: object):
        super().__init__(format="iso", default_timezone=None, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):  # noqa: ANN001, ANN202
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            raise self.make_error("invalid", input=value, obj_type="datetime") from None


# what _no_controls refuses, as OpenAPI readers (and fuzzers) see it
NO_CONTROLS = r"^[^\u0000-\u001f\u007f]*$"


def FilterText(**kwargs: object) -> fields.String:  # noqa: N802 - a field factory
    """A query filter: 1..200 characters, none of them a control character (PostgreSQL
    cannot store NUL, and no id, code or name holds one)."""
    metadata = {"pattern": NO_CONTROLS, **kwargs.pop("metadata", {})}  # type: ignore[dict-item]
    return fields.String(validate=[validate.Length(min=1, max=200), _no_controls],
                         metadata=metadata, **kwargs)


def GuidelineCode(**kwargs: object) -> fields.String:  # noqa: N802 - a field factory
    """A guideline code: the catalogue's codes are listed in OpenAPI (an enum there); an
    unknown one is refused by the domain as unknown_reason, naming the code."""
    metadata = {"enum": list(CATALOGUE.codes), **kwargs.pop("metadata", {})}  # type: ignore[dict-item]
    return fields.String(metadata=metadata, **kwargs)


def _no_controls(value: str) -> None:
    if any(ch < "\x20" or ch == "\x7f" for ch in value):
        raise ma.ValidationError("Must not contain control characters.")


def StoredText(*, max_len: int, **kwargs: object) -> fields.String:  # noqa: N802
    """Free text an administrator stores (a description): no control characters but the
    line break and tab, at most `max_len` characters."""
    return fields.String(validate=validate.Regexp(
        r"\A[^\x00-\x08\x0b-\x1f\x7f]{0,%s}\Z" % (max_len,),  # noqa: UP031 - braces
        error=f"At most {max_len} characters, without control characters."), **kwargs)


def Position(**kwargs: object) -> fields.Integer:  # noqa: N802 - a field factory
    return fields.Integer(validate=validate.Range(min=0, max=MAX_POSITION), **kwargs)


def to_utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC) if value is not None else None


# -- inputs -------------------------------------------------------------------------------

class AuthorInSchema(StrictSchema):
    name = fields.String(required=True, metadata=described(
        NAME, description="Shown with the comment: one line, up to 80 characters."))
    email = fields.String(load_default=None, allow_none=True, metadata=described(
        OPTIONAL_EMAIL,
        description="Never shown publicly; lets the site recognise a returning author."))


class SubmissionInSchema(StrictSchema):
    author = fields.Nested(AuthorInSchema, required=True)
    body = fields.String(required=True, metadata=described(
        REQUIRED_TEXT,
        description="The comment text (Unicode; stored exactly, NFC-normalised)."))
    parent_id = fields.String(load_default=None, allow_none=True, metadata={
        "description": "Id of the comment this one replies to."})


class ApproveInSchema(StrictSchema):
    note = fields.String(load_default=None, allow_none=True, metadata=described(
        OPTIONAL_TEXT, description="Required when this changes an earlier decision."))


class RejectInSchema(ApproveInSchema):
    reasons = fields.List(GuidelineCode(validate=validate.Length(min=1)), required=True,
                          validate=validate.Length(min=1), metadata={
        "description": "Guideline codes from GET /v1/guidelines; at least one."})


class ArticleInSchema(StrictSchema):
    id = fields.String(required=True, validate=validate.Length(min=1, max=100), metadata={
        "pattern": ARTICLE_ID.pattern,
        "description": "The site's article id: letters, digits, '.', '_', '-'."})
    title = fields.String(required=True, validate=validate.Length(min=1, max=300),
                          metadata=described(NAME))
    url = fields.String(load_default=None, allow_none=True, metadata=described(OPTIONAL_TEXT))
    language = fields.String(load_default=None, allow_none=True,
                             metadata=described(OPTIONAL_TEXT))
    published_at = Timestamp(load_default=None, allow_none=True)
    summary = fields.String(load_default=None, allow_none=True,
                            metadata=described(OPTIONAL_TEXT))


class CloseArticleInSchema(StrictSchema):
    message = fields.String(load_default=None, allow_none=True, metadata=described(
        OPTIONAL_TEXT, description="Shown to readers on the article and to anyone whose "
                                   "submission is refused (up to 500 characters)."))


class ReopenArticleInSchema(StrictSchema):
    pass


class AuthorChangeInSchema(StrictSchema):
    pass


class WarningInSchema(AuthorChangeInSchema):
    reason = GuidelineCode(required=True, metadata={
        "description": "A guideline code from GET /v1/guidelines."})
    note = fields.String(load_default=None, allow_none=True, metadata=described(
        OPTIONAL_TEXT, description="For moderators only (sealed with the author's personal "
                                   "data); required for the reason 'other'."))


class SuspensionInSchema(WarningInSchema):
    until = Timestamp(required=True, metadata={
        "description": "When the suspension ends by itself (in the future)."})


class BanInSchema(WarningInSchema):
    reject_pending = fields.Boolean(load_default=False, metadata={
        "description": "Also reject each of the author's pending comments, as its own "
                       "decision citing the ban."})


class LiftInSchema(AuthorChangeInSchema):
    note = fields.String(load_default=None, allow_none=True,
                         metadata=described(OPTIONAL_TEXT))


class AuthorNoteInSchema(AuthorChangeInSchema):
    text = fields.String(required=True, metadata=described(
        REQUIRED_TEXT, description="A moderator's note about the author (up to 2000 "
                                   "characters)."))


class ReportInSchema(StrictSchema):
    reason = GuidelineCode(required=True, metadata={
        "description": "A guideline code from GET /v1/guidelines."})
    note = fields.String(load_default=None, allow_none=True, metadata=described(
        OPTIONAL_TEXT,
        description="Optional words for the moderators (sealed, up to 2000 characters)."))


class DismissInSchema(ApproveInSchema):
    pass


class ReportSchema(ma.Schema):
    comment_id = fields.String(required=True)
    counted = fields.Boolean(required=True, metadata={
        "description": "False when this reader had already reported the comment."})
    withheld = fields.Boolean(required=True, metadata={
        "description": "The comment is withheld from readers until a moderator resolves "
                       "its reports (MODERATION_REPORTS_WITHHOLD_AT)."})
    reported_at = fields.DateTime(required=True)


class BulkItemInSchema(StrictSchema):
    comment_id = fields.String(required=True, validate=_no_controls, metadata={
        "pattern": NO_CONTROLS,
        "description": "The comment's id; one that is no comment's is that item's 404."})
    expected_version = fields.Integer(strict=True, required=True,
                                      validate=validate.Range(min=0, max=MAX_POSITION))
    action = fields.String(required=True, validate=validate.OneOf(["approve", "reject"]))
    reasons = fields.List(fields.String(), load_default=None, metadata={
        "description": "For reject: guideline codes, at least one (an unknown one is "
                       "that item's 422)."})
    note = fields.String(load_default=None, allow_none=True)


class BulkInSchema(StrictSchema):
    decisions = fields.List(fields.Nested(BulkItemInSchema), required=True,
                            validate=validate.Length(min=1, max=100))


class PageArgsSchema(StrictSchema):
    cursor = fields.String(load_default=None, validate=validate.Length(min=1), metadata={
        "pattern": "^[A-Za-z0-9_-]{1,400}$",
        "description": "next_cursor from the previous page, as given: an opaque token only "
                       "this list issues (anything else is 400 invalid_cursor)."})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PAGE))


class QueueArgsSchema(PageArgsSchema):
    sort = fields.String(load_default="oldest",
                         validate=validate.OneOf(["oldest", "newest", "risk"]), metadata={
        "description": "risk: highest screening risk first (advisory flags, never a decision)."})
    article_id = FilterText(load_default=None)
    flag = fields.String(load_default=None, validate=validate.OneOf(FLAG_CODES), metadata={
        "description": "Only comments the screening flagged with this code: a rule's "
                       "(link, shouting...) or a guideline's (profanity...)."})
    state = fields.String(load_default="pending",
                          validate=validate.OneOf(["pending", "reported"]), metadata={
        "description": "reported: published comments with open reader reports, most "
                       "reports first (then riskiest, then oldest); sort, flag and "
                       "unclaimed apply to the pending queue only."})
    unclaimed = fields.Boolean(load_default=False, metadata={
        "description": "Leave out comments another moderator has claimed (live claims); "
                       "the caller's own claims stay."})


class CommentArgsSchema(StrictSchema):
    as_of = Timestamp(load_default=None, metadata={
        "description": "Show the comment as it was at this moment."})
    at_position = Position(load_default=None, metadata={
        "description": "Show the comment as it was at this event log position."})

    @ma.validates_schema
    def _one_of(self, data: dict, **_: object) -> None:
        if data.get("as_of") is not None and data.get("at_position") is not None:
            raise ma.ValidationError("Give as_of or at_position, not both.", "at_position")


class FeedArgsSchema(StrictSchema):
    after = Position(load_default=0, metadata={
        "description": "Return events after this log position (next_after of the last page)."})
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=MAX_FEED_PAGE))
    type = fields.List(fields.String(validate=validate.OneOf(sorted(EVENT_TYPES))),
                       load_default=None, metadata={"description": "Only these event types."})
    # no `claims`: they are not in the log, and a page cannot carry them (the stream does)


class StreamArgsSchema(StrictSchema):
    after = Position(load_default=0, metadata={
        "description": "Stream events after this log position (Last-Event-ID wins)."})
    type = fields.List(fields.String(validate=validate.OneOf(sorted(EVENT_TYPES))),
                       load_default=None, metadata={"description": "Only these event types."})
    claims = fields.Boolean(load_default=False, metadata={"description": (
        "Moderators and admins (anyone else asking is refused, 403): also send claims as "
        "they change, as `event: claim` messages "
        "without an id (claims are not in the log): first every live claim, then each one "
        "taken or extended (`state` claimed), released or expired, with `comment_id`, "
        "`moderator_id`, `claimed_at` and `expires_at`.")})


class WindowArgsSchema(StrictSchema):
    since = Timestamp(load_default=None, metadata={"description": "Inclusive start."})
    until = Timestamp(load_default=None, metadata={
        "description": "Exclusive end; must be later than since (equal is refused: 422)."})

    @ma.validates_schema
    def _ordered(self, data: dict, **_: object) -> None:
        if data.get("since") and data.get("until") and data["since"] >= data["until"]:
            raise ma.ValidationError("Must be later than since.", "until")


class DecisionArgsSchema(WindowArgsSchema, PageArgsSchema):
    moderator = FilterText(load_default=None, metadata={
        "description": "Only decisions by this moderator (the token name)."})
    reason = FilterText(load_default=None, metadata={
        "description": "Only rejections citing this guideline code."})
    article_id = FilterText(load_default=None)
    comment_id = FilterText(load_default=None)
    decision = fields.String(load_default=None, validate=validate.OneOf(
        ["approved", "rejected", "reports_dismissed"]), metadata={
        "description": "Only decisions of this type (reports_dismissed: a moderator kept a "
                       "reported comment published)."})


class ActionArgsSchema(WindowArgsSchema, PageArgsSchema):
    actor = FilterText(load_default=None, metadata={
        "description": "Only actions by this actor (a token name, `cli`, or a dispatcher)."})
    type = fields.String(load_default=None, validate=validate.OneOf(ADMIN_ACTION_TYPES),
                         metadata={"description": "Only actions of this event type."})


class ProofArgsSchema(StrictSchema):
    position = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_POSITION),
                              metadata={"description": "The event to prove."})
    checkpoint = fields.Integer(load_default=None,
                                validate=validate.Range(min=1, max=MAX_POSITION), metadata={
        "description": "Log position of the audit.checkpoint to prove it under "
                       "(default: the latest)."})


class ExportArgsSchema(WindowArgsSchema):
    format = fields.String(load_default="jsonl", validate=validate.OneOf(["jsonl", "csv"]),
                           metadata={"description": "jsonl (one JSON object a line) or csv."})


class ConsistencyArgsSchema(StrictSchema):
    from_ = fields.Integer(required=True, data_key="from",
                           validate=validate.Range(min=1, max=MAX_POSITION), metadata={
        "description": "Log position of the earlier audit.checkpoint."})
    to = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_POSITION),
                        metadata={"description": "Log position of the later one."})

    @ma.validates_schema
    def _ordered(self, data: dict, **_: object) -> None:
        if data.get("from_") is not None and data.get("to") is not None \
                and data["from_"] >= data["to"]:
            raise ma.ValidationError("Must be after from.", "to")


# -- outputs ------------------------------------------------------------------------------

class FlagSchema(ma.Schema):
    code = fields.String(required=True)
    guideline = fields.String(allow_none=True, required=True)
    evidence = fields.String(allow_none=True, required=True, metadata={
        "description": "What matched; null once the author was erased."})


class CommentSchema(ma.Schema):
    """A comment's full state, for moderators."""

    id = fields.String(attribute="comment_id", required=True)
    article_id = fields.String(required=True)
    parent_id = fields.String(allow_none=True, required=True)
    author_id = fields.String(required=True, metadata={
        "description": "Stable pseudonymous author id."})
    author_name = fields.String(allow_none=True, required=True, metadata={
        "description": "null once the author's personal data has been erased."})
    author_email = fields.String(allow_none=True, required=True)
    body = fields.String(allow_none=True, required=True)
    status = fields.String(required=True, validate=validate.OneOf(
        ["pending", "approved", "rejected"]))
    reasons = fields.List(fields.String(), required=True)
    guideline_version = fields.String(allow_none=True, required=True)
    note = fields.String(allow_none=True, required=True)
    decided_by = fields.String(allow_none=True, required=True)
    decided_at = fields.DateTime(allow_none=True, required=True)
    submitted_at = fields.DateTime(required=True)
    flags = fields.List(fields.Nested(FlagSchema), required=True)
    risk = fields.Float(allow_none=True, required=True)
    erased = fields.Boolean(required=True, metadata={
        "description": "The author was erased: name, e-mail, text and evidence are null."})
    version = fields.Integer(required=True, metadata={
        "description": "Increases with every event; the ETag and the If-Match value."})


class HistoricalCommentSchema(CommentSchema):
    as_of_position = fields.Integer(metadata={
        "description": "Only for as_of/at_position: the log position of the last event "
                       "folded into this state."})


class ClaimSchema(ma.Schema):
    """A moderator's advisory claim: "I am handling this comment" until expires_at."""

    comment_id = fields.String(required=True)
    moderator_id = fields.String(required=True)
    claimed_at = fields.DateTime(required=True)
    expires_at = fields.DateTime(required=True, metadata={
        "description": "After this the claim counts as absent (MODERATION_CLAIM_SECONDS)."})


class QueueClaimSchema(ma.Schema):
    moderator_id = fields.String(required=True)
    claimed_at = fields.DateTime(required=True)
    expires_at = fields.DateTime(required=True)


class AuthorSanctionSchema(ma.Schema):
    type = fields.String(required=True, validate=validate.OneOf(["suspended", "banned"]))
    until = fields.DateTime(allow_none=True, required=True, metadata={
        "description": "When a suspension ends; null for a ban."})
    reason = fields.String(allow_none=True, required=True)
    since = fields.DateTime(allow_none=True, required=True)
    by = fields.String(allow_none=True, required=True)


class AuthorCountsSchema(ma.Schema):
    pending = fields.Integer(required=True)
    approved = fields.Integer(required=True)
    rejected = fields.Integer(required=True)
    total = fields.Integer(required=True)


class AuthorSummarySchema(ma.Schema):
    """An author's record at a glance: no personal data."""

    author_id = fields.String(required=True)
    counts = fields.Nested(AuthorCountsSchema, required=True)
    rejection_rate = fields.Float(allow_none=True, required=True, metadata={
        "description": "rejected / (approved + rejected); null before any decision."})
    rejected_last_7_days = fields.Integer(required=True)
    warnings = fields.Integer(required=True)
    sanction = fields.Nested(AuthorSanctionSchema, allow_none=True, required=True, metadata={
        "description": "The live suspension or ban, or null."})


class SanctionRecordSchema(ma.Schema):
    type = fields.String(required=True, validate=validate.OneOf(
        ["warned", "suspended", "banned", "sanction_lifted"]))
    position = fields.Integer(required=True)
    moderator_id = fields.String(required=True)
    at = fields.DateTime(required=True)
    reason = fields.String(allow_none=True, required=True)
    until = fields.DateTime(allow_none=True, required=True)
    note = fields.String(allow_none=True, required=True)
    reject_pending = fields.Boolean(allow_none=True, required=True)
    lifted = fields.String(allow_none=True, required=True, metadata={
        "description": "For sanction_lifted: what was lifted."})


class AuthorNoteSchema(ma.Schema):
    position = fields.Integer(required=True)
    moderator_id = fields.String(required=True)
    text = fields.String(allow_none=True, required=True, metadata={
        "description": "null once the author's personal data has been erased."})
    noted_at = fields.DateTime(required=True)


class AuthorSchema(AuthorSummarySchema):
    names = fields.List(fields.String(), required=True, metadata={
        "description": "Display names the author signed with, most recent first."})
    first_seen_at = fields.DateTime(allow_none=True, required=True)
    last_seen_at = fields.DateTime(allow_none=True, required=True)
    sanction_history = fields.List(fields.Nested(SanctionRecordSchema), required=True)
    notes = fields.List(fields.Nested(AuthorNoteSchema), required=True)
    version = fields.Integer(required=True, metadata={
        "description": "The author stream's version: the ETag, and If-Match of changes."})


class AuthorChangeSchema(ma.Schema):
    author_id = fields.String(required=True)
    type = fields.String(required=True, metadata={"description": "The event recorded."})
    version = fields.Integer(required=True)
    position = fields.Integer(required=True)
    at = fields.DateTime(required=True)
    rejected = fields.List(fields.String(), required=True, metadata={
        "description": "For a ban with reject_pending: the comments it rejected."})


class QueueItemSchema(CommentSchema):
    claim = fields.Nested(QueueClaimSchema, allow_none=True, required=True, metadata={
        "description": "Who is handling the comment now, or null. Advisory only."})
    author = fields.Nested(AuthorSummarySchema, allow_none=True, required=True, metadata={
        "description": "The author's counts and live sanction."})
    open_reports = fields.Integer(metadata={
        "description": "state=reported only: reports since the last resolution."})
    total_reports = fields.Integer(metadata={"description": "state=reported only."})
    reports = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "description": "state=reported only: open reports per guideline code."})
    withheld = fields.Boolean(metadata={
        "description": "state=reported only: out of the public thread until resolved."})


class QueuePageSchema(ma.Schema):
    items = fields.List(fields.Nested(QueueItemSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)
    total = fields.Integer(required=True, metadata={
        "description": "Pending comments matching the filter, on all pages."})
    position = fields.Integer(metadata={"description": (
        "The pending queue: the log position this page shows, read in the same snapshot. "
        "Follow `GET /v1/events/stream?after=<position>` to miss no change to it.")})


class SubmissionSchema(ma.Schema):
    id = fields.String(required=True)
    article_id = fields.String(required=True)
    status = fields.String(required=True)
    submitted_at = fields.DateTime(required=True)
    version = fields.Integer(required=True)


class DecisionSchema(ma.Schema):
    id = fields.String(required=True)
    status = fields.String(required=True)
    version = fields.Integer(required=True)
    position = fields.Integer(required=True)
    decided_at = fields.DateTime(required=True)


class DismissalSchema(DecisionSchema):
    dismissed = fields.Integer(required=True, metadata={
        "description": "How many open reports were dismissed."})


class BulkResultSchema(ma.Schema):
    comment_id = fields.String(required=True)
    ok = fields.Boolean(required=True)
    status = fields.Integer(required=True, metadata={
        "description": "The status the single decision would have answered."})
    decision = fields.Nested(DecisionSchema, metadata={"description": "When ok."})
    error = fields.Dict(metadata={
        "description": "When not ok: the error body the single decision would have "
                       "answered (a 409 with current and winning_decision, 422, 404)."})


class BulkResultsSchema(ma.Schema):
    results = fields.List(fields.Nested(BulkResultSchema), required=True, metadata={
        "description": "One per item, in the order given."})


class DecisionSummarySchema(ma.Schema):
    """The decision that won a race: who decided what, and when."""

    decision = fields.String(required=True, validate=validate.OneOf(["approved", "rejected"]))
    moderator_id = fields.String(required=True)
    decided_at = fields.DateTime(required=True)
    previous_status = fields.String(required=True)
    reasons = fields.List(fields.String(), required=True)
    guideline_version = fields.String(allow_none=True, required=True)
    note = fields.String(allow_none=True, required=True)


def decision_summary(event: CommentApproved | CommentRejected) -> dict[str, object]:
    rejected = isinstance(event, CommentRejected)
    return {
        "decision": "rejected" if rejected else "approved",
        "moderator_id": event.moderator_id,
        "decided_at": event.decided_at,
        "previous_status": event.previous_status,
        "reasons": list(event.reasons) if rejected else [],
        "guideline_version": event.guideline_version if rejected else None,
        "note": event.note,
    }


class VersionConflictSchema(ErrorSchema):
    """A 409 for a stale version: the error plus what the caller needs to decide again."""

    current = fields.Nested(CommentSchema, allow_none=True, required=True)
    winning_decision = fields.Nested(DecisionSummarySchema, allow_none=True, required=True)


class StreamConflictSchema(ErrorSchema):
    """A 409 for an article, an author or a webhook endpoint: refused from its current
    state (decision_refused) or a stale version (version_conflict, with current_version)."""

    current_version = fields.Integer(metadata={
        "description": "Only for version_conflict: the version to base a retry on."})


class ArticleClosedSchema(ErrorSchema):
    """A 409 article_closed: the article takes no more comments."""

    closed_message = fields.String(allow_none=True, required=True, metadata={
        "description": "What the moderators say about the closing, or null."})


class AuthorCommentsPageSchema(ma.Schema):
    items = fields.List(fields.Nested(CommentSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class PublicCommentSchema(ma.Schema):
    """An approved comment as readers see it: no e-mail, notes or moderator identities."""

    id = fields.String(attribute="comment_id", required=True)
    article_id = fields.String(required=True)
    parent_id = fields.String(allow_none=True, required=True)
    author_name = fields.String(allow_none=True, required=True)
    body = fields.String(allow_none=True, required=True)
    submitted_at = fields.DateTime(required=True)
    published_at = fields.DateTime(attribute="approved_at", required=True)
    erased = fields.Boolean(required=True, metadata={
        "description": "The author was erased: a placeholder keeping the thread's shape, "
                       "with no name and no text."})


class PublicPageSchema(ma.Schema):
    items = fields.List(fields.Nested(PublicCommentSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class ArticleSchema(ma.Schema):
    id = fields.String(attribute="article_id", required=True)
    title = fields.String(required=True)
    url = fields.String(allow_none=True, required=True)
    language = fields.String(allow_none=True, required=True)
    published_at = fields.DateTime(allow_none=True, required=True)
    summary = fields.String(allow_none=True, required=True)
    registered_at = fields.DateTime(required=True)
    approved_comments = fields.Integer(attribute="approved", required=True)
    status = fields.Function(lambda a: "closed" if a["closed"] else "open", required=True,
                             metadata={"type": "string", "enum": ["open", "closed"],
                                       "description": "closed: no new comments accepted."})
    closed_message = fields.String(allow_none=True, required=True, metadata={
        "description": "What readers are told about the closing; null when open."})
    closed_at = fields.DateTime(allow_none=True, required=True)
    version = fields.Integer(required=True, metadata={
        "description": "The article stream's version (the ETag); close and reopen accept "
                       "it as If-Match."})


class GuidelineSchema(ma.Schema):
    code = fields.String(required=True)
    title = fields.String(required=True)
    description = fields.String(required=True)
    group = fields.String(required=True)
    note_required = fields.Boolean(required=True)


class GuidelinesSchema(ma.Schema):
    version = fields.String(required=True)
    guidelines = fields.List(fields.Nested(GuidelineSchema), required=True)


class EventSchema(ma.Schema):
    position = fields.Integer(required=True)
    event_id = fields.String(required=True)
    stream_id = fields.String(required=True)
    version = fields.Integer(required=True)
    type = fields.String(required=True)
    schema_version = fields.Integer(required=True)
    recorded_at = fields.String(required=True, metadata={"format": "date-time"})
    metadata = fields.Dict(required=True, metadata={
        "description": "Who acted (actor id and role) and the request's correlation_id."})
    data = fields.Dict(required=True)


class HistorySchema(ma.Schema):
    items = fields.List(fields.Nested(EventSchema), required=True)


class FeedSchema(ma.Schema):
    items = fields.List(fields.Nested(EventSchema), required=True)
    next_after = fields.Integer(required=True, metadata={
        "description": "Pass as `after` to continue; equal to `after` when nothing is new."})


class AuditDecisionSchema(ma.Schema):
    position = fields.Integer(required=True)
    comment_id = fields.String(required=True)
    article_id = fields.String(required=True)
    moderator_id = fields.String(required=True)
    decision = fields.String(required=True, validate=validate.OneOf(
        ["approved", "rejected", "reports_dismissed"]), metadata={
        "description": "reports_dismissed: the comment's reports were dismissed and it "
                       "stays published (no reasons; not counted in /v1/stats decisions)."})
    previous_status = fields.String(required=True)
    reversal = fields.Boolean(required=True, metadata={
        "description": "True when this decision changed an earlier one."})
    reasons = fields.List(fields.String(), required=True)
    guideline_version = fields.String(allow_none=True, required=True)
    note = fields.String(allow_none=True, required=True)
    decided_at = fields.DateTime(required=True)
    submitted_at = fields.DateTime(required=True)
    seconds_to_decision = fields.Float(required=True)
    erased = fields.Boolean(required=True, metadata={
        "description": "The author was erased: the comment's personal data is gone."})


class ActorSchema(ma.Schema):
    id = fields.String(required=True)
    role = fields.String(required=True)


class AuditActionSchema(ma.Schema):
    position = fields.Integer(required=True)
    type = fields.String(required=True, validate=validate.OneOf(ADMIN_ACTION_TYPES))
    stream_id = fields.String(required=True, metadata={
        "description": "What was acted on: token-<id>, webhook-endpoint-<id>, article-<id>."})
    actor = fields.Method("_actor", required=True, metadata={
        "description": "Who acted: the token name (or cli, or a dispatcher) and its role."})
    recorded_at = fields.DateTime(required=True)
    data = fields.Dict(required=True, metadata={
        "description": "The event as stored: never a token, token hash or signing secret; "
                       "an endpoint URL only as its origin and SHA-256."})

    def _actor(self, row: dict) -> dict:
        return {"id": row["actor_id"], "role": row["actor_role"]}


class ActionPageSchema(ma.Schema):
    items = fields.List(fields.Nested(AuditActionSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class CheckpointSchema(ma.Schema):
    position = fields.Integer(required=True, metadata={
        "description": "Where the checkpoint itself is in the log (an audit.checkpoint)."})
    head_position = fields.Integer(required=True, metadata={
        "description": "The position signed: the last event before the checkpoint."})
    head_hash = fields.String(required=True, metadata={
        "description": "That event's chain hash (hex)."})
    signed_at = fields.String(required=True, metadata={"format": "date-time"})
    key_id = fields.String(required=True)
    public_key = fields.String(required=True, metadata={
        "description": "Base64 Ed25519 public key that signed it; pin yours out of band."})
    signature = fields.String(required=True, metadata={"description": "Base64 Ed25519."})
    format = fields.String(required=True, metadata={
        "description": "The signed statement's format (see the README)."})


class CheckpointPageSchema(ma.Schema):
    public_key = fields.String(allow_none=True, required=True, metadata={
        "description": "The key this service signs with now (null: none configured)."})
    key_id = fields.String(allow_none=True, required=True)
    items = fields.List(fields.Nested(CheckpointSchema), required=True, metadata={
        "description": "Newest first."})
    next_cursor = fields.String(allow_none=True, required=True)


class ProofEventSchema(ma.Schema):
    position = fields.Integer(required=True)
    event_id = fields.String(required=True)
    stream_id = fields.String(required=True)
    version = fields.Integer(required=True)
    type = fields.String(required=True)
    schema_version = fields.Integer(required=True)
    data = fields.Dict(required=True, metadata={
        "description": "As stored (sealed personal data as its ciphertext)."})
    metadata = fields.Dict(required=True)
    recorded_at = fields.String(required=True, metadata={
        "description": "ISO-8601 UTC with microseconds, as hashed."})
    hash = fields.String(required=True, metadata={"description": "The stored chain hash."})


class ProofSchema(ma.Schema):
    format = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(["inclusion", "consistency"]))
    events = fields.List(fields.Nested(ProofEventSchema), required=True)


class InclusionProofSchema(ProofSchema):
    position = fields.Integer(required=True)
    previous_hash = fields.String(required=True, metadata={
        "description": "The chain hash of the event before `position`."})
    checkpoint = fields.Nested(CheckpointSchema, required=True)


class ConsistencyProofSchema(ProofSchema):
    from_ = fields.Nested(CheckpointSchema, required=True, data_key="from", attribute="from")
    to = fields.Nested(CheckpointSchema, required=True)


class AuditPageSchema(ma.Schema):
    items = fields.List(fields.Nested(AuditDecisionSchema), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class QueueStatsSchema(ma.Schema):
    depth = fields.Integer(required=True)
    oldest_submitted_at = fields.DateTime(allow_none=True, required=True)
    oldest_age_seconds = fields.Float(allow_none=True, required=True)


class DecisionCountsSchema(ma.Schema):
    approved = fields.Integer(required=True)
    rejected = fields.Integer(required=True)
    reversals = fields.Integer(required=True)
    total = fields.Integer(required=True)


class TimeToDecisionSchema(ma.Schema):
    count = fields.Integer(required=True, metadata={
        "description": "First decisions in the window (reversals are not counted)."})
    median_seconds = fields.Float(allow_none=True, required=True)
    p95_seconds = fields.Float(allow_none=True, required=True)


class ReportStatsSchema(ma.Schema):
    received = fields.Integer(required=True, metadata={
        "description": "Reader reports recorded in the window (repeats included)."})
    resolved = fields.Integer(required=True, metadata={
        "description": "Comments whose open reports were resolved in the window."})
    dismissed = fields.Integer(required=True)
    rejected = fields.Integer(required=True)
    median_seconds_to_resolution = fields.Float(allow_none=True, required=True, metadata={
        "description": "From a comment's first open report to its resolution."})


class StatsSchema(ma.Schema):
    generated_at = fields.DateTime(required=True)
    since = fields.DateTime(allow_none=True, required=True)
    until = fields.DateTime(allow_none=True, required=True)
    queue = fields.Nested(QueueStatsSchema, required=True)
    decisions = fields.Nested(DecisionCountsSchema, required=True)
    decisions_per_reason = fields.Dict(keys=fields.String(), values=fields.Integer(),
                                       required=True)
    decisions_per_moderator = fields.Dict(keys=fields.String(),
                                          values=fields.Nested(DecisionCountsSchema),
                                          required=True)
    time_to_decision = fields.Nested(TimeToDecisionSchema, required=True)
    reports = fields.Nested(ReportStatsSchema, required=True)
    sanctions = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True,
                            metadata={"description": "Author sanctions recorded in the "
                                                     "window, by type (warned, suspended, "
                                                     "banned, sanction_lifted)."})


class HealthSchema(ma.Schema):
    status = fields.String(required=True)


class ReadinessSchema(ma.Schema):
    status = fields.String(required=True)
    schema_revision = fields.String(allow_none=True, required=True)
    expected_revision = fields.String(allow_none=True, required=True)
    log_head = fields.Integer(required=True)


# -- personal data ---------------------------------------------------------------------

class LookupInSchema(StrictSchema):
    email = fields.String(required=True, metadata=described(
        EMAIL, description="The e-mail address the person wrote with."))


class LookupSchema(ma.Schema):
    author_id = fields.String(required=True)
    erased = fields.Boolean(required=True, metadata={
        "description": "The author has been erased already."})
    comments = fields.Integer(required=True)


class ErasureInSchema(StrictSchema):
    note = fields.String(load_default=None, allow_none=True, metadata=described(
        REQUIRED_TEXT, description="Why (the request's ticket, say). Required."))


class ErasureSchema(ma.Schema):
    author_id = fields.String(required=True)
    event_id = fields.String(required=True)
    position = fields.Integer(required=True)
    erased_at = fields.DateTime(required=True)
    erased_by = fields.String(allow_none=True, required=True)
    note = fields.String(required=True)
    comment_ids = fields.List(fields.String(), required=True)
    replayed = fields.Boolean(required=True, metadata={
        "description": "True when the author had been erased before: the original erasure."})


class ExportDecisionSchema(ma.Schema):
    position = fields.Integer(required=True)
    decision = fields.String(required=True)
    previous_status = fields.String(required=True)
    moderator_id = fields.String(required=True)
    reasons = fields.List(fields.String(), required=True)
    guideline_version = fields.String(allow_none=True, required=True)
    note = fields.String(allow_none=True, required=True)
    decided_at = fields.DateTime(required=True)


class ExportCommentSchema(ma.Schema):
    comment_id = fields.String(required=True)
    article_id = fields.String(required=True)
    parent_id = fields.String(allow_none=True, required=True)
    submitted_at = fields.DateTime(required=True)
    status = fields.String(required=True)
    erased = fields.Boolean(required=True)
    author_name = fields.String(allow_none=True, required=True)
    author_email = fields.String(allow_none=True, required=True)
    network_address = fields.String(allow_none=True, required=True)
    body = fields.String(allow_none=True, required=True)
    flags = fields.List(fields.Nested(FlagSchema), required=True)
    decisions = fields.List(fields.Nested(ExportDecisionSchema), required=True)


class ExportActivitySchema(ma.Schema):
    type = fields.String(required=True)
    position = fields.Integer(required=True)
    recorded_at = fields.DateTime(required=True)
    actor = fields.String(allow_none=True, required=True)


class ExportSchema(ma.Schema):
    author_id = fields.String(required=True)
    exported_at = fields.DateTime(required=True)
    erased = fields.Boolean(required=True)
    names = fields.List(fields.String(), required=True)
    emails = fields.List(fields.String(), required=True)
    network_addresses = fields.List(fields.String(), required=True, metadata={
        "description": "Addresses still held (older ones are no longer readable)."})
    comments = fields.List(fields.Nested(ExportCommentSchema), required=True)
    activity = fields.List(fields.Nested(ExportActivitySchema), required=True, metadata={
        "description": "What admins did about this author: look-ups, exports, erasures."})
