"""Quote: the premium and a plain-Russian line per coefficient, the КБМ of every driver."""

from __future__ import annotations

from kivy.factory import Factory

from ui.screens.base import KioskScreen, load_kv


class QuoteScreen(KioskScreen):
    """What the policy costs and why."""

    def refresh(self) -> None:
        if self.flow.quote is None:
            return
        view = self.flow.quote_lines()
        self.ids.premium.text = view.premium
        self.ids.note.text = self.tr(view.note)
        grid = self.ids.lines
        grid.clear_widgets()
        for line in (*view.lines, *view.drivers):
            grid.add_widget(Factory.Para(text="•  " + line, font_size=21))


load_kv(__file__)
