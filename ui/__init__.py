"""The touchscreen: a Kivy app over the kiosk's services.

``ui.presenters`` hold every screen's state and rules in plain Python (no Kivy, unit-tested);
``ui.screens`` are one ``.kv`` + one ``.py`` per screen and only draw presenters and forward touches;
``ui.app`` puts them together. Kivy is imported only by ``ui.app``, ``ui.screens`` and ``ui.widgets``,
and only after ``ui.boot.configure_kivy`` has set the environment and the kiosk-mode config.
"""
