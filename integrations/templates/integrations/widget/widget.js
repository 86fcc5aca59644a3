{% autoescape off %}/* Loyalty storefront widget v1. Configured for one store; see the README's "Storefront widget". */
(function (config) {
"use strict";
{{ code }}
})({{ config }});
{% endautoescape %}
