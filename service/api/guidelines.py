"""The community guidelines: the reason codes a rejection may cite."""

from __future__ import annotations

from flask.views import MethodView

from .requests import Blueprint
from .runtime import runtime
from .schemas import GuidelinesSchema

blp = Blueprint("guidelines", __name__, url_prefix="/v1/guidelines",
                description="The guideline catalogue and its version (public).")


@blp.route("")
class Guidelines(MethodView):
    @blp.response(200, GuidelinesSchema)
    def get(self):
        """List the guideline catalogue with its version."""
        catalogue = runtime().services.moderation.catalogue
        return {"version": catalogue.version, "guidelines": list(catalogue.guidelines)}
