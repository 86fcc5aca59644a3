"""A merchant's brand colour made fit for its portal: the colour of links, buttons and
headings on white (``core.colours``: darkened until it reads at WCAG AA), the text colour
on it, and a pale tint for backgrounds. Pure: no ORM."""

from core.colours import DEFAULT, contrast, readable, tint

__all__ = ["brand_css", "contrast", "readable"]


def brand_css(colour: str) -> str:
    """The design system's brand properties for ``colour`` (``#RRGGBB``, or empty for the
    default)."""
    base = readable(colour or DEFAULT)
    return (
        ":root {\n"
        f"  --brand: {base};\n"
        "  --brand-text: #ffffff;\n"
        f"  --brand-soft: {tint(base, white_share=0.9)};\n"
        "}\n"
    )
