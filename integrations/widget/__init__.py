"""The storefront widget: one script tag on the store's pages shows the signed-in
customer's points, tier, progress and affordable rewards (``views.py`` says how)."""
