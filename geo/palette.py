"""Fill colours of municipalities on every map the project draws (the report and the admin page).

Pastel, distinguishable, and dark text stays readable on each; one list so both maps agree.
"""

MUNICIPALITY_COLOURS = (
    "#8dd3c7",
    "#bebada",
    "#fb8072",
    "#80b1d3",
    "#fdb462",
    "#b3de69",
    "#fccde5",
    "#bc80bd",
    "#ccebc5",
    "#ffed6f",
    "#d9d9d9",
    "#a6cee3",
    "#e5c494",
    "#66c2a5",
    "#f4a582",
    "#c2a5cf",
)


def municipality_colour(index: int) -> str:
    """The fill of the ``index``-th municipality drawn (colours repeat past the list's end)."""
    return MUNICIPALITY_COLOURS[index % len(MUNICIPALITY_COLOURS)]
