"""One tile of technician mode: what was checked, and the actions (test page, end of day, sync, backup…)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kivy.properties import StringProperty

from ui.presenters.form import Choice
from ui.presenters.out_of_service import INIT_CONFIRMATION, OutOfServiceDesk
from ui.presenters.technician import LIGHT_WORD, ActionResult, TechnicianDesk, detail_lines
from ui.screens.base import KioskScreen, load_kv
from ui.screens.diagnostics_resolve import ConfirmDecision
from ui.widgets.common import KButton, PickList


class DiagnosticsDetailScreen(KioskScreen):
    """The details of the tile ``key`` and its action buttons; an action's result below them."""

    key = StringProperty("")

    def on_kv_post(self, _base: Any) -> None:
        self.result: ActionResult | None = None
        self._shown_for = ""

    def on_pre_enter(self, *_args: Any) -> None:
        if self._shown_for != self.key:
            self.result = None  # another tile: the last action's result is not about it
            self._shown_for = self.key
        super().on_pre_enter()

    def refresh(self) -> None:
        desk = self.app.technician
        if desk is None or not self.key:
            return
        try:
            tile = desk.tile(self.key)
        except KeyError:
            return
        self.ids.title.text = tile.title
        self.ids.badge.light = tile.light.value
        self.ids.badge.text = LIGHT_WORD[tile.light]
        self.ids.summary.text = tile.summary
        self.ids.details.text = "\n".join(detail_lines(tile)) or "Подробностей нет"
        box = self.ids.actions
        box.clear_widgets()
        for action in desk.actions(self.key):
            button = KButton(text=action.label, font_size=26)
            button.action = action
            button.bind(on_release=self.act)
            box.add_widget(button)
        if not box.children:
            box.add_widget(KButton(text="Проверить ещё раз", kind="secondary", on_release=lambda *_: self.recheck()))
        self.show_result()

    def show_result(self) -> None:
        result = self.result
        self.ids.result_title.text = result.title if result else ""
        self.ids.result_title.ok = result.ok if result else True
        self.ids.result.text = "\n".join(result.lines) if result else ""
        self.ids.result_scroll.scroll_y = 1

    def recheck(self) -> None:
        self.app.refresh_diagnostics()

    def act(self, button: Any) -> None:
        action = button.action
        desk = self.app.technician
        if desk is None:
            return
        if action.key == "resolve":
            self.app.go("diagnostics_resolve")
        elif isinstance(desk, OutOfServiceDesk):
            self._out_of_service_action(desk, action.key)
        elif action.key == "backup" and isinstance(desk, TechnicianDesk):
            targets = desk.backup_targets()
            PickList(
                "Куда сохранить копию журнала?",
                [Choice(str(t.path), t.label) for t in targets],
                lambda path: self.app.technician_work(
                    lambda: desk.backup(Path(path)), self.finished, "Копируем журнал и проверяем копию…"
                ),
            ).open()
        else:
            self.app.technician_action(action.key, self.finished)

    def _out_of_service_action(self, desk: OutOfServiceDesk, key: str) -> None:
        """Restore a backup (pick it first) or start a new journal (confirm first)."""
        if key == "restore":
            files = desk.backups()
            if not files:
                self.finished(
                    ActionResult(
                        "Резервных копий не найдено",
                        ("Вставьте USB-носитель с копией journal-<киоск>-<время>.db или положите её в папку копий",),
                        False,
                    )
                )
                return
            PickList(
                "Из какой копии восстановить журнал?",
                [Choice(str(f.path), f.label) for f in files],
                lambda path: self.app.technician_work(
                    lambda: desk.restore(Path(path)), self.finished, "Восстанавливаем журнал из копии…"
                ),
            ).open()
        elif key == "init":
            confirm = ConfirmDecision(text=INIT_CONFIRMATION)
            confirm.bind(
                on_confirm=lambda *_: self.app.technician_work(desk.start_new, self.finished, "Начинаем новый журнал…")
            )
            confirm.open()

    def finished(self, result: ActionResult) -> None:
        """An action's result (from the worker, on the UI thread)."""
        self.result = result
        self._shown_for = self.key
        self.refresh_soon()


load_kv(__file__)
