"""Dynamic segments: a definition (``definition``, pure), its compilation to one query
over the members (``query``), and the refresh that stores who joined and left
(``refresh``)."""
