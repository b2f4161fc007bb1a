"""The screens: one ``.kv`` (layout) and one ``.py`` (drawing a presenter, forwarding touches) each."""

#: Screen modules in the order they are built (each defines one Screen subclass and loads its .kv).
SCREENS = (
    "attract",
    "vehicle",
    "owner",
    "drivers",
    "period",
    "quote",
    "consent",
    "payment",
    "issuing",
    "done",
    "application",
    "error",
    "out_of_service",
    "technician_pin",
    "diagnostics",
    "diagnostics_detail",
    "diagnostics_resolve",
)
