"""Screen state without Kivy: forms, the sale flow, the idle watch, texts for every screen.

Nothing here imports Kivy (an import-linter contract checks it), so every rule of the touchscreen
runs in plain unit tests. Texts are Russian msgids; the view passes them through gettext.
"""
