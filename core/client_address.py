"""Who sent a request: the one rule for the client's address, used by the admin sign-in
lockout and by the API's budget of failed authentications.

It is ``REMOTE_ADDR``; behind ``TRUSTED_PROXY_COUNT`` proxies that each append the address
they received the request from to ``X-Forwarded-For``, it is the entry as many places from
the right. Whatever a client wrote into the header itself sits further left and is never
read, so a client cannot pick its own address by sending the header.
"""

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    remote = request.META.get("REMOTE_ADDR", "")
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    hops = [hop for hop in hops if hop]
    return hops[-count] if len(hops) >= count else remote
