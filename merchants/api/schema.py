"""The OpenAPI contract of the store API (``/api/schema/``), which stores generate their
clients from, and which the schemathesis run holds the API to.

What every operation shares is added here, once, by ``StoreAPISchema`` (drf-spectacular's
``DEFAULT_SCHEMA_CLASS``), so a view only states what is its own:

- every error is a ``Problem`` document (``application/problem+json``); each error
  response lists, as an enum, the ``code`` values that operation can answer with that
  status, and what each means. A view names the domain errors it can raise with
  ``problems(...)`` in its ``responses``; their codes, statuses and titles come from the
  error classes themselves. Authentication (401), scope and merchant status (403),
  throttling (429, with ``Retry-After``), and for a POST the body's form (400, 413, 415)
  and its ``Idempotency-Key`` (400, 409) are added to every operation they concern;
- every POST takes an ``Idempotency-Key`` header and its success responses may carry
  ``Idempotent-Replayed: true``;
- no operation falls back to a view class's docstring (they are written for developers):
  each has its own summary and description.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_media_type_object
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import exceptions, serializers

from core.api.errors import PROBLEM_CONTENT_TYPE, VALIDATION_CODE, PayloadTooLarge
from core.api.fields import NOT_BLANK_PATTERN, NOT_EMPTY_PATTERN
from core.exceptions import DomainError
from merchants.exceptions import (
    IdempotencyKeyInProgress,
    IdempotencyKeyReused,
    InvalidIdempotencyKey,
    MerchantNotActive,
)

# The ids the schema's examples use. The schemathesis run gives its store these very
# rows, so that the examples reach real data.
EXAMPLE: dict[str, Any] = {
    "member": "cust-1001",
    "order": "order-5001",
    "reward": 42,
    "redemption": "0b6a3c9e-5a43-4c1e-9f1e-2d5c8a7b6e10",
    "ticket": "T-7K2M9QX4D1HB",
    "attachment": 12,
}

IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"


# -- the problem document -------------------------------------------------------------------


class ProblemErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="What is wrong with this part, e.g. `required`.")
    detail = serializers.CharField(help_text="The same, for a person.")
    attr = serializers.CharField(
        allow_null=True,
        help_text="The field at fault, dotted for nested fields (`member.email`, "
        "`lines.0.quantity`); null when the problem is not one field's.",
    )


class ProblemSerializer(serializers.Serializer):
    """An RFC 9457 problem document: every error of the API has this form."""

    type = serializers.CharField(help_text="`urn:loyalty:problem:` and the code.")
    title = serializers.CharField(help_text="A short summary of the kind of problem.")
    status = serializers.IntegerField(help_text="The HTTP status, repeated.")
    detail = serializers.CharField(help_text="What went wrong this time, for a person.")
    code = serializers.CharField(help_text="Stable and machine-readable: branch on it.")
    errors = ProblemErrorSerializer(
        many=True, help_text="One entry per problem; for invalid input, one per field at fault."
    )

    class Meta:
        ref_name = "Problem"


@dataclass(frozen=True)
class Problem:
    """One answer an operation can give: its status, code, and what it means."""

    status: int
    code: str
    meaning: str


def problem_of(error: Any) -> Problem:
    """The ``Problem`` a domain error class, a DRF exception class or a ``Problem`` stands
    for: codes and statuses are read from the classes, never retyped."""
    if isinstance(error, Problem):
        return error
    if isinstance(error, type) and issubclass(error, DomainError):
        return Problem(error.status, error.code, error.title)
    if isinstance(error, type) and issubclass(error, exceptions.ValidationError):
        return INVALID_INPUT
    if isinstance(error, type) and issubclass(error, exceptions.APIException):
        return Problem(error.status_code, str(error.default_code), str(error.default_detail))
    raise TypeError(f"not an error the API answers with: {error!r}")


INVALID_INPUT = Problem(
    400,
    VALIDATION_CODE,
    "Some fields are missing or not valid: `errors` names each one (`attr`).",
)
# Codes given where the error is raised (DRF's authentication and permission classes).
NOT_AUTHENTICATED = problem_of(exceptions.NotAuthenticated)
INVALID_API_KEY = Problem(401, "invalid_api_key", "The key is unknown, revoked or expired.")
INVALID_AUTHORIZATION = Problem(
    401, "invalid_authorization", "The Authorization header is not `Bearer <key>`."
)
INSUFFICIENT_SCOPE = Problem(403, "insufficient_scope", "The key lacks the scope this needs.")
THROTTLED = Problem(
    429,
    "throttled",
    "Too many requests for this key, or too many failed authentications from this "
    "address: retry after `Retry-After`.",
)
PARSE_ERROR = Problem(400, "parse_error", "The body is not valid JSON (or form data).")

AUTHENTICATION = (NOT_AUTHENTICATED, INVALID_API_KEY, INVALID_AUTHORIZATION)
# Every POST: the body's form and the Idempotency-Key header.
POST_PROBLEMS = (
    INVALID_INPUT,
    PARSE_ERROR,
    InvalidIdempotencyKey,
    IdempotencyKeyReused,
    IdempotencyKeyInProgress,
    PayloadTooLarge,
    exceptions.UnsupportedMediaType,
)
# A paged list: a bad page_size is invalid input; an unknown cursor or page, a 404.
PAGE_PROBLEMS = (
    INVALID_INPUT,
    Problem(404, "not_found", "No such page (an unknown cursor, or a page past the last)."),
)

STATUS_MEANINGS = {
    400: "The request is not valid: nothing was changed.",
    401: "No valid API key.",
    403: "The key may not do this.",
    404: "Not found (another merchant's object is never found either).",
    409: "Refused by the current state of things: nothing was changed.",
    413: "The body is too large.",
    415: "The body is not in a media type this operation takes.",
    422: "Well formed, but cannot be carried out: nothing was changed.",
    429: "Too many requests.",
}


class ProblemResponse(OpenApiResponse):
    """An error response of one status, with the problems that give it."""

    def __init__(self, status: int, problems: Iterable[Problem]):
        self.status = status
        self.problems = tuple(dict.fromkeys(problems))
        super().__init__(response=ProblemSerializer, description=self._description())

    def _description(self) -> str:
        meanings: dict[str, list[str]] = {}
        for problem in self.problems:
            said = meanings.setdefault(problem.code, [])
            if problem.meaning not in said:
                said.append(problem.meaning)
        lines = "\n".join(
            f"- `{code}`: {' / '.join(said)}" for code, said in sorted(meanings.items())
        )
        return f"{STATUS_MEANINGS.get(self.status, '')}\n\n{lines}".strip()

    def merged(self, problems: Iterable[Problem]) -> "ProblemResponse":
        return ProblemResponse(self.status, (*self.problems, *problems))

    @property
    def codes(self) -> list[str]:
        return sorted({problem.code for problem in self.problems})


def problems(*errors: Any) -> dict[int, ProblemResponse]:
    """The error responses an operation adds to those every operation has: pass the
    domain error classes it can raise (``InsufficientPoints``, ``NotFound``),
    ``INVALID_INPUT`` for a serializer of its own, or a ``Problem``."""
    by_status: dict[int, list[Problem]] = {}
    for error in errors:
        problem = problem_of(error)
        by_status.setdefault(problem.status, []).append(problem)
    return {status: ProblemResponse(status, found) for status, found in sorted(by_status.items())}


# -- headers --------------------------------------------------------------------------------

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN, "maxLength": 255},
    OpenApiParameter.HEADER,
    required=False,
    description="Makes a retry safe: the same key with the same body answers the stored "
    "response of the first request again (`Idempotent-Replayed: true`); with another body, "
    "409 `idempotency_key_reused`; while the first is still running, 409 "
    "`idempotency_key_in_progress`. 1 to 255 printable ASCII characters without spaces; "
    "kept for `IDEMPOTENCY_KEY_TTL_HOURS` (24 by default).",
)
IDEMPOTENT_REPLAYED = {
    "schema": {"type": "string", "enum": ["true"]},
    "description": "Present when this is the stored response of an earlier request (the "
    "same `Idempotency-Key`, or the same `external_id`, with the same body): nothing was "
    "done again.",
}
RETRY_AFTER = {
    "schema": {"type": "integer", "minimum": 0},
    "description": "Seconds to wait before the key's next request is accepted.",
    "required": True,
}


# -- the schema class -----------------------------------------------------------------------


def _status_of(key: Any) -> int:
    return int(key[0] if isinstance(key, tuple) else key)


class StoreAPISchema(AutoSchema):
    def get_description(self) -> str:
        # The views' own docstrings are for developers: an operation without its own
        # description in ``extend_schema`` gets none (a test holds every one to having it).
        return ""

    def _keyed(self) -> bool:
        """Whether the operation takes an API key (a platform's webhook is signed instead,
        and has no Idempotency-Key: the platform's delivery id de-duplicates it)."""
        return bool(getattr(self.view, "authentication_classes", ()))

    def _idempotent(self) -> bool:
        return self.method in getattr(self.view, "idempotent_methods", ())

    def get_override_parameters(self) -> list[Any]:
        parameters = list(super().get_override_parameters())
        if self._idempotent():
            parameters.append(IDEMPOTENCY_KEY)
        return parameters

    def _shared_problems(self) -> list[Problem]:
        shared: list[Problem] = [THROTTLED]
        if not self._keyed():
            return shared
        shared += [*AUTHENTICATION, INSUFFICIENT_SCOPE]
        if not getattr(self.view, "allow_inactive_merchant", False):
            shared.append(problem_of(MerchantNotActive))
        if self._idempotent():
            shared += [problem_of(error) for error in POST_PROBLEMS]
        if self.method == "GET" and getattr(self.view, "pagination_class", None) is not None:
            shared += PAGE_PROBLEMS
        return shared

    def _get_response_for_code(
        self, serializer, status_code, media_types=None, direction="response"
    ):
        if not isinstance(serializer, ProblemResponse):
            return super()._get_response_for_code(serializer, status_code, media_types, direction)
        problem = self.resolve_serializer(ProblemSerializer(), "response").ref
        schema = {
            "allOf": [
                problem,
                {
                    "type": "object",
                    "properties": {
                        "status": {"type": "integer", "enum": [serializer.status]},
                        "code": {"type": "string", "enum": serializer.codes},
                    },
                },
            ]
        }
        response: dict[str, Any] = {
            "description": serializer.description,
            "content": {PROBLEM_CONTENT_TYPE: build_media_type_object(schema)},
        }
        if serializer.status == 429:
            response["headers"] = {"Retry-After": RETRY_AFTER}
        return response

    def get_operation(self, *args, **kwargs) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        responses = operation["responses"]
        declared = self.get_response_serializers()
        declared = declared if isinstance(declared, dict) else {}
        shared: dict[int, list[Problem]] = {}
        for problem in self._shared_problems():
            shared.setdefault(problem.status, []).append(problem)
        for status, found in shared.items():
            own = next((r for k, r in declared.items() if _status_of(k) == status), None)
            if own is not None and not isinstance(own, ProblemResponse):
                continue  # the view answers this status with something else: its own word
            merged = own.merged(found) if own is not None else ProblemResponse(status, found)
            responses[str(status)] = self._get_response_for_code(merged, str(status))
        operation["responses"] = dict(sorted(responses.items()))
        if self._idempotent():
            for status, response in operation["responses"].items():
                if status.startswith("2"):
                    headers = response.setdefault("headers", {})
                    headers["Idempotent-Replayed"] = IDEMPOTENT_REPLAYED
        return operation


# -- strict fields --------------------------------------------------------------------------


class StrictCharFieldSchema(OpenApiSerializerFieldExtension):
    """A strict string states what it refuses: a NUL character always, and a value of
    nothing but whitespace where blank is not allowed (it is trimmed to nothing)."""

    target_class = "core.api.fields.StrictCharField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if direction != "request":
            return schema
        if self.target.example is not None:
            schema["example"] = self.target.example
        # Where blank is allowed, drf-spectacular offers the empty string as a branch of
        # its own (``oneOf``): the pattern must then not match it too.
        if self.target.pattern is not None:
            schema["pattern"] = self.target.pattern
        elif "pattern" not in schema:
            schema["pattern"] = NOT_EMPTY_PATTERN if self.target.allow_blank else NOT_BLANK_PATTERN
        return schema


class StrictIntegerFieldSchema(OpenApiSerializerFieldExtension):
    target_class = "core.api.fields.StrictIntegerField"

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if direction == "request" and self.target.refused:
            schema["not"] = {"enum": list(self.target.refused)}
        return schema


class AmountFieldSchema(OpenApiSerializerFieldExtension):
    target_class = "core.api.fields.AmountField"

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if direction == "request":
            schema["pattern"] = self.target.pattern
            schema.pop("minimum", None)
            schema.pop("maximum", None)
        return schema
