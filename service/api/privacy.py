"""A data subject's rights, for admins: find an author by e-mail, export, erase.

Every call is recorded on the author's stream with the admin who made it. Erasure destroys
the author's key and purges the read models in one transaction; erasing again answers with
the original erasure and changes nothing.
"""

from __future__ import annotations

from flask.views import MethodView

from .auth import ADMINS, context, requires
from .requests import Blueprint
from .runtime import runtime
from .schemas import ErasureInSchema, ErasureSchema, ExportSchema, LookupInSchema, LookupSchema

blp = Blueprint("privacy", __name__, url_prefix="/v1/authors",
                description="Personal data: look an author up by e-mail, export everything "
                            "held about them, erase it. Admins only.")


@blp.route("/lookup")
class Lookup(MethodView):
    @requires(*ADMINS)
    @blp.arguments(LookupInSchema)
    @blp.response(200, LookupSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, body):
        """Find the author id of whoever wrote with an e-mail address."""
        return runtime().services.privacy.lookup(body["email"], context())


@blp.route("/<author_id:author_id>/export")
class Export(MethodView):
    @requires(*ADMINS)
    @blp.response(200, ExportSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def get(self, author_id: str):
        """Export everything held about an author as one JSON document."""
        return runtime().services.privacy.export(author_id, context())


@blp.route("/<author_id:author_id>/erasure")
class Erasure(MethodView):
    @requires(*ADMINS)
    @blp.arguments(ErasureInSchema)
    @blp.response(200, ErasureSchema)
    @blp.alt_response(404, response="NOT_FOUND")
    def post(self, body, author_id: str):
        """Erase an author's personal data everywhere (a note saying why is required)."""
        return runtime().services.privacy.erase(author_id, body["note"], context())
