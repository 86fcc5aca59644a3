"""Why the widget's member endpoint refuses a token: 401 with a code the script reads (it
shows the signed-out state for any of them; the codes are for the store's developer)."""

from core.exceptions import DomainError


class TokenRefused(DomainError):
    code = "token_invalid"
    status = 401
    title = "The member token was refused."


class TokenMissing(TokenRefused):
    code = "token_missing"
    title = "No member token was given."


class TokenInvalid(TokenRefused):
    code = "token_invalid"
    title = "The member token is malformed or its signature does not match this store."


class TokenExpired(TokenRefused):
    code = "token_expired"
    title = "The member token has expired."


class TokenExpiryTooFar(TokenRefused):
    code = "token_expiry_too_far"
    title = "The member token expires more than ten minutes ahead."
