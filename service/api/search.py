"""Search comments for moderators: text in any of the site's languages, with filters."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import fields, validate

from . import cursors
from .auth import MODERATORS, requires
from .requests import Blueprint
from .runtime import runtime
from .schemas import AuthorCommentsPageSchema, FilterText, PageArgsSchema, WindowArgsSchema

blp = Blueprint("search", __name__, url_prefix="/v1/comments",
                description="Search comments by text and filters.")


class SearchArgsSchema(WindowArgsSchema, PageArgsSchema):
    q = fields.String(load_default=None, validate=validate.Regexp(
        r"\A[^\x00-\x1f\x7f]{1,200}\Z", error="1 to 200 characters, no control characters."),
        metadata={"description": "Words that must all appear, folded as screening folds "
                                 "text: 'hevi' finds 'Hêvî', Arabic letter variants meet."})
    author_id = FilterText(load_default=None)
    article_id = FilterText(load_default=None)
    status = fields.String(load_default=None,
                           validate=validate.OneOf(["pending", "approved", "rejected"]))
    flag = FilterText(load_default=None)


@blp.route("")
class Search(MethodView):
    @requires(*MODERATORS)
    @blp.arguments(SearchArgsSchema, location="query")
    @blp.response(200, AuthorCommentsPageSchema)
    @blp.alt_response(400, response="BAD_REQUEST")
    def get(self, args):
        """Search comments by words and filters, newest first."""
        limit = args["limit"]
        rows = runtime().services.queries.search(
            q=args["q"], author_id=args["author_id"], article_id=args["article_id"],
            status=args["status"], flag=args["flag"], since=args["since"],
            until=args["until"], before=cursors.decode("search", args["cursor"]),
            limit=limit + 1)
        return {"items": rows[:limit],
                "next_cursor": cursors.next_cursor("search", rows, limit,
                                                   "submitted_position")}
