"""One error format for the whole API: RFC 9457 problem details.

    {"type": "urn:loyalty:problem:invalid_input", "title": "Invalid input.", "status": 400,
     "detail": "...", "code": "invalid_input",
     "errors": [{"code": "required", "detail": "This field is required.", "attr": "total"}]}

``code`` is stable and machine-readable; ``errors`` lists every problem with the field
(``attr``, dotted for nested fields) it concerns. Domain errors (``DomainError``) carry
their own code and status; Django validation errors become ``invalid_input``.
"""

from http import HTTPStatus
from typing import Any

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from drf_standardized_errors.formatter import ExceptionFormatter
from drf_standardized_errors.handler import ExceptionHandler
from drf_standardized_errors.handler import exception_handler as standardized_exception_handler
from drf_standardized_errors.types import ErrorResponse
from rest_framework import exceptions, serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from core.exceptions import DomainError

PROBLEM_CONTENT_TYPE = "application/problem+json"
VALIDATION_CODE = "invalid_input"


def problem_type(code: str) -> str:
    return f"urn:loyalty:problem:{code}"


def problem_document(
    *,
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "type": problem_type(code),
        "title": title,
        "status": status,
        "detail": detail or title,
        "code": code,
        "errors": errors
        if errors is not None
        else [{"code": code, "detail": detail or title, "attr": None}],
        **extra,
    }


def problem_response(
    *, status: int, code: str, title: str, detail: str | None = None
) -> JsonResponse:
    """A problem document outside DRF (Django's own 404 and 500 handlers)."""
    return JsonResponse(
        problem_document(status=status, code=code, title=title, detail=detail),
        status=status,
        content_type=PROBLEM_CONTENT_TYPE,
        # Compact, as DRF renders every other problem document.
        json_dumps_params={"separators": (",", ":")},
    )


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "The request body is too large."
    default_code = "request_too_large"


class BadRequest(exceptions.APIException):
    """A request Django refuses before it is parsed (too many fields, an unknown host)."""

    status_code = 400
    default_detail = "The request could not be read."
    default_code = "bad_request"


class ProblemResponse(Response):
    """A problem document, rendered as JSON whatever renderer the view negotiated: the
    schema view's is YAML and the docs view's HTML, and content negotiation may have
    failed altogether (406)."""

    @property
    def rendered_content(self):
        self.accepted_renderer = JSONRenderer()
        self.accepted_media_type = PROBLEM_CONTENT_TYPE
        return super().rendered_content


class DomainAPIException(exceptions.APIException):
    def __init__(self, error: DomainError):
        self.status_code = error.status
        self.domain_error = error
        # The handler sends ``wait`` as Retry-After, as for a throttled request.
        self.wait = error.retry_after
        super().__init__(detail=error.detail, code=error.code)


class ProblemHandler(ExceptionHandler):
    def convert_known_exceptions(self, exc: Exception) -> Exception:
        if isinstance(exc, DomainError):
            return DomainAPIException(exc)
        if isinstance(exc, RequestDataTooBig):
            return PayloadTooLarge()
        if isinstance(exc, SuspiciousOperation):
            return BadRequest()
        if isinstance(exc, DjangoValidationError):
            return exceptions.ValidationError(detail=serializers.as_serializer_error(exc))
        return super().convert_known_exceptions(exc)

    def get_response(self, exc: exceptions.APIException, data: dict) -> Response:
        return ProblemResponse(
            data,
            status=exc.status_code,
            headers=self.get_headers(exc),
            content_type=PROBLEM_CONTENT_TYPE,
        )


# The problem document's own members: a domain error's extra data never overrides them.
RESERVED_KEYS = {"type", "title", "status", "detail", "code", "errors"}


class ProblemFormatter(ExceptionFormatter):
    def format_error_response(self, error_response: ErrorResponse) -> dict[str, Any]:
        errors = [
            {"code": error.code, "detail": error.detail, "attr": error.attr}
            for error in error_response.errors
        ]
        status = self.exc.status_code
        extra: dict[str, Any] = {}
        if isinstance(self.exc, exceptions.ValidationError):
            code, title = VALIDATION_CODE, "Invalid input."
            detail = "; ".join(
                f"{e['attr']}: {e['detail']}" if e["attr"] else e["detail"] for e in errors
            )
        else:
            code = errors[0]["code"] if errors else "error"
            detail = errors[0]["detail"] if errors else None
            title = _title(self.exc, detail)
            domain_error = getattr(self.exc, "domain_error", None)
            if domain_error is not None:
                title = domain_error.title
                if domain_error.field:
                    errors[0]["attr"] = domain_error.field
                extra = dict(domain_error.extra)
                # Several fields at fault: one entry each, the first one first.
                field_errors = extra.pop("field_errors", None) or {}
                errors += [
                    {"code": code, "detail": message, "attr": attr}
                    for attr, message in field_errors.items()
                    if attr != domain_error.field
                ]
                extra = {k: v for k, v in extra.items() if k not in RESERVED_KEYS}
            if status >= 500:
                code, title, detail = "error", "Server error.", "Server error."
                errors = [{"code": code, "detail": detail, "attr": None}]
        return problem_document(
            status=status, code=code, title=title, detail=detail, errors=errors, **extra
        )


def _title(exc: exceptions.APIException, detail: str | None) -> str:
    try:
        return HTTPStatus(exc.status_code).phrase
    except ValueError:
        return detail or "Error."


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    return standardized_exception_handler(exc, context)
