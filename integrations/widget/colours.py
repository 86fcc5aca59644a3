"""The widget's colours from the merchant's brand colour, by the rule the portals use
(``core.colours``): the colour of its heading, link and badge, darkened until white text on
it and it on white read at WCAG AA, and a pale tint for the progress track. Pure."""

from core.colours import DEFAULT, contrast, readable, tint


def contrast_on_white(colour: str) -> float:
    return contrast(colour, "#ffffff")


def widget_colours(brand_colour: str) -> dict[str, str]:
    """``brand``: headings, links, the progress bar and the badge, with ``brand_text`` on
    it; ``brand_soft``: the progress bar's track and the badge's background."""
    base = readable(brand_colour or DEFAULT)
    return {"brand": base, "brand_text": "#ffffff", "brand_soft": tint(base, white_share=0.88)}
