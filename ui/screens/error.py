"""Error screens (declined, printer, server): what happened, and what happened to the money."""

from __future__ import annotations

from ui.screens.base import KioskScreen, load_kv

_HELP = {
    "declined": "Можно попробовать другую карту или вернуться на главный экран.",
    "printer": "Сообщите администратору торгового центра или позвоните по телефону на киоске.",
    "server": "Попробуйте позже или обратитесь в офис страховщика.",
    "kiosk": "Если вопрос о деньгах, позвоните страховщику по телефону на киоске.",
}


class ErrorScreen(KioskScreen):
    """Shows ``app.outcome_view``; "Попробовать ещё раз" only where another card may be tried."""

    def refresh(self) -> None:
        view = self.app.outcome_view
        if view is None:
            return
        self.ids.title.text = self.tr(view.title)
        self.ids.message.text = self.tr(view.message)
        self.ids.money.text = self.tr(view.money)
        self.ids.help.text = self.tr(_HELP.get(view.kind.value if view.kind else "kiosk", ""))
        retry = self.ids.retry
        retry.disabled = not view.retry
        retry.opacity = 1 if view.retry else 0


load_kv(__file__)
