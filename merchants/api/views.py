import hashlib

from django.http import HttpResponse, HttpResponseBase
from django.template.response import SimpleTemplateResponse
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.actors import Actor
from merchants.api.serializers import MerchantSerializer
from merchants.api.throttling import auth_failure_record, client_address
from merchants.idempotency import idempotency_claim, idempotency_finish, request_fingerprint
from merchants.models import IdempotencyRecord, Merchant, MerchantAPIKey


def _fingerprinted_body(request: Request) -> bytes:
    """What identifies the request's body: the raw bytes, except for a multipart form,
    whose boundary differs on every retry and whose files may be larger than the body
    Django keeps in memory: its fields and each file's name, size and SHA-256."""
    if not (request.content_type or "").startswith("multipart/"):
        return request._request.body
    files = request.FILES
    parts = [
        f"{name}={value}"
        for name in sorted(request.data.keys())
        if name not in files
        for value in request.data.getlist(name)
    ]
    for name in sorted(files.keys()):
        for upload in files.getlist(name):
            digest = hashlib.sha256()
            for chunk in upload.chunks():
                digest.update(chunk)
            upload.seek(0)
            parts.append(f"{name}:{upload.name}:{upload.size}:{digest.hexdigest()}")
    return "\n".join(parts).encode()


class _Replay(Exception):
    def __init__(self, record: IdempotencyRecord):
        self.record = record


class MerchantAPIView(APIView):
    """Base for every store API view: ``self.merchant`` is the key's merchant, and every
    query a view makes starts from it. Every POST honours an ``Idempotency-Key`` header
    (see ``merchants.idempotency``)."""

    idempotent_methods = ("POST",)

    def check_permissions(self, request: Request) -> None:
        try:
            super().check_permissions(request)
        except exceptions.NotAuthenticated:
            # No key at all: a failed authentication like a wrong key (a bad key was
            # counted when it was refused, and never gets this far).
            auth_failure_record(address=client_address(request))
            raise

    def initial(self, request: Request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        self._idempotency_record = None
        key = request.headers.get("Idempotency-Key")
        if key is None or request.method not in self.idempotent_methods:
            return
        record, replay = idempotency_claim(
            merchant=self.merchant,
            key=key.strip(),
            method=request.method,
            path=request.path,
            fingerprint=request_fingerprint(
                method=request.method, path=request.path, body=_fingerprinted_body(request)
            ),
        )
        if replay:
            raise _Replay(record)
        self._idempotency_record = record

    def handle_exception(self, exc: Exception) -> HttpResponseBase:
        if isinstance(exc, _Replay):
            record = exc.record
            # The stored bytes as they are: rendering them again could change them.
            replay = HttpResponse(
                bytes(record.response_bytes),
                status=record.status_code,
                content_type=record.content_type,
            )
            replay["Idempotent-Replayed"] = "true"
            return replay
        return super().handle_exception(exc)

    def finalize_response(
        self, request: Request, response: HttpResponseBase, *args, **kwargs
    ) -> HttpResponseBase:
        response = super().finalize_response(request, response, *args, **kwargs)
        record = getattr(self, "_idempotency_record", None)
        if record is not None:
            self._idempotency_record = None
            if response.streaming:
                content = None
            else:
                # Rendered now, so what is stored is exactly what is sent (a rendered
                # response is not rendered again).
                if isinstance(response, SimpleTemplateResponse):
                    response.render()
                content = response.content
            idempotency_finish(
                record=record,
                status_code=response.status_code,
                content=content,
                content_type=response.get("Content-Type", ""),
            )
        return response

    @property
    def api_key(self) -> MerchantAPIKey:
        return self.request.auth

    @property
    def merchant(self) -> Merchant:
        return self.request.auth.merchant

    @property
    def actor(self) -> Actor:
        """Who acts in this request: the key, for every service the view calls."""
        return Actor.api_key(self.request.auth)


class MerchantView(MerchantAPIView):
    allow_inactive_merchant = True

    @extend_schema(
        summary="The merchant this key belongs to",
        description="Lets an integrator check their key: the merchant, its status, its "
        "currency, and the key's own prefix and scopes. Answers for every onboarding status.",
        responses=MerchantSerializer,
        examples=[
            OpenApiExample(
                "A live merchant",
                value={
                    "name": "Northwind Outfitters",
                    "slug": "northwind",
                    "status": "live",
                    "country": "US",
                    "default_currency": "USD",
                    "timezone": "America/New_York",
                    "api_key": {"prefix": "Ab12Cd34", "scopes": ["read", "write"], "store": None},
                },
                response_only=True,
            )
        ],
        tags=["merchant"],
    )
    def get(self, request: Request) -> Response:
        return Response(MerchantSerializer(self.merchant, context={"api_key": self.api_key}).data)
