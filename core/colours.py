"""A merchant's brand colour made fit for text on white: darkened until it reads at WCAG
AA (4.5:1), and a pale tint of it for backgrounds. Shared by the portals' design system
and the storefront widget. Pure."""

DEFAULT = "#1d4ed8"  # the design system's blue, for a merchant without a colour
AA = 4.5


def _rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def _hex(rgb: tuple[float, ...]) -> str:
    return "#" + "".join(f"{round(channel):02x}" for channel in rgb)


def _luminance(rgb: tuple[int, int, int]) -> float:
    # WCAG 2.1 relative luminance (a colour computation, not an amount: floats are right).
    def linear(channel: float) -> float:
        value = channel / 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (linear(channel) for channel in rgb)
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(first: str, second: str) -> float:
    lighter, darker = sorted((_luminance(_rgb(first)), _luminance(_rgb(second))), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def readable(colour: str) -> str:
    """``colour``, or the lightest shade of it toward black that reads on white at AA."""
    rgb = _rgb(colour)
    for step in range(0, 101):
        candidate = _hex(tuple(channel * (1 - step / 100) for channel in rgb))
        if contrast(candidate, "#ffffff") >= AA:
            return candidate
    return "#000000"


def tint(colour: str, *, white_share: float) -> str:
    """``colour`` mixed with white, ``white_share`` of it white."""
    return _hex(tuple(c * (1 - white_share) + 255 * white_share for c in _rgb(colour)))
