"""Colours and sizes of the touchscreen (one place; the .kv files import it as ``S``).

Sizes are in Kivy pixels at density 1 on a 1280×800 panel: targets at least 64 px high (about 17 mm
on a 15.6" panel), body text 24–28 px, nothing a gloved finger has to hit smaller than a key.
"""

BG = (0.96, 0.97, 0.98, 1)
PANEL = (1, 1, 1, 1)
PRIMARY = (0.05, 0.36, 0.72, 1)
PRIMARY_DOWN = (0.03, 0.25, 0.52, 1)
SECONDARY = (0.86, 0.89, 0.93, 1)
SECONDARY_DOWN = (0.74, 0.78, 0.84, 1)
TEXT = (0.10, 0.12, 0.15, 1)
MUTED = (0.40, 0.43, 0.48, 1)
HINT = (0.62, 0.65, 0.70, 1)
ERROR = (0.76, 0.09, 0.09, 1)
ERROR_BG = (0.99, 0.93, 0.93, 1)
OK = (0.08, 0.52, 0.25, 1)
OK_BG = (0.91, 0.97, 0.93, 1)
FIELD = (1, 1, 1, 1)
FIELD_ACTIVE = (0.05, 0.36, 0.72, 1)
FIELD_BORDER = (0.72, 0.75, 0.80, 1)
CHOICE = (0.93, 0.95, 0.99, 1)

FONT_TITLE = 40
FONT_BIG = 30
FONT = 24
FONT_SMALL = 19
BUTTON_HEIGHT = 80
FIELD_HEIGHT = 100
TOP_BAR = 64

# Technician mode: traffic lights (each also says its word: never colour alone)
LIGHT_GREEN = (0.11, 0.55, 0.27, 1)
LIGHT_YELLOW = (0.98, 0.76, 0.18, 1)
LIGHT_RED = (0.78, 0.13, 0.13, 1)
LIGHTS = {"green": LIGHT_GREEN, "yellow": LIGHT_YELLOW, "red": LIGHT_RED}
#: text on each light (dark on yellow, white on green and red)
LIGHT_TEXT = {"green": (1, 1, 1, 1), "yellow": (0.12, 0.10, 0.02, 1), "red": (1, 1, 1, 1)}
TECH_BAR = (0.16, 0.19, 0.24, 1)
