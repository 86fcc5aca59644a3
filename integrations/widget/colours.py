"""The widget's colours from the merchant's brand colour: the colour of its heading, link and
badge, darkened until white text on it and it on white read at WCAG AA (4.5:1), and a pale
tint for the progress track. Pure: no ORM.

The same rule as the portals' ``portals/brand.py``, which this app may not import (the
portals sit above it); the design system's default blue is the fallback in both."""

DEFAULT = "#1d4ed8"
AA = 4.5


def _rgb(colour: str) -> tuple[float, float, float]:
    return (int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16))


def _hex(rgb: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{round(channel):02x}" for channel in rgb)


def _luminance(rgb: tuple[float, float, float]) -> float:
    # WCAG 2.1 relative luminance (a colour computation, not an amount: floats are right).
    def linear(channel: float) -> float:
        value = channel / 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (linear(channel) for channel in rgb)
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast_on_white(colour: str) -> float:
    return 1.05 / (_luminance(_rgb(colour)) + 0.05)


def readable(colour: str) -> str:
    """``colour``, or the lightest shade of it toward black that reads on white at AA."""
    rgb = _rgb(colour)
    for step in range(0, 101):
        candidate = _hex(tuple(channel * (1 - step / 100) for channel in rgb))  # type: ignore[arg-type]
        if contrast_on_white(candidate) >= AA:
            return candidate
    return "#000000"


def tint(colour: str, *, white_share: float = 0.88) -> str:
    return _hex(tuple(c * (1 - white_share) + 255 * white_share for c in _rgb(colour)))  # type: ignore[arg-type]


def widget_colours(brand_colour: str) -> dict[str, str]:
    """``brand``: headings, links, the progress bar and the badge, with ``brand_text`` on
    it; ``brand_soft``: the progress bar's track and the badge's background."""
    base = readable(brand_colour or DEFAULT)
    return {"brand": base, "brand_text": "#ffffff", "brand_soft": tint(base)}
